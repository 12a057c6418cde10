"""Every operation of ``frontend-contract/operations`` runs against the real server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from graphql import OperationDefinitionNode, OperationType, parse

from projections.read_models import opportunity_channel
from tests.integration.graphql.clients import subscription
from tests.integration.graphql.conftest import Live, projection_status
from tests.integration.graphql.world import ADMIN_BY_EMAIL

OPERATIONS = Path(__file__).resolve().parents[3] / "frontend-contract" / "operations"


def operation(name: str) -> str:
    return (OPERATIONS / f"{name}.graphql").read_text()


def variables_for(live: Live, name: str) -> dict[str, Any]:
    alpha = next(r for r in live.world.opportunities.values() if r["name"] == "Alpha deal")
    return {
        "opportunities": {"filter": {"status": ["OPEN", "WON"], "search": "deal"},
                          "orderBy": "REVENUE_DESC", "first": 2},
        "opportunity_detail": {"id": alpha["_id"], "historyFirst": 5},
        "user_profile": {"id": live.world["ana"].id},
        "admin_sync_odoo": {"mode": "FULL", "wait": True},
        "admin_rebuild_projections": {"names": ["dashboards"]},
        "admin_events": {"filter": {"aggregateType": "opportunity"}, "first": 10},
    }.get(name, {})  # fmt: skip


def _kind(path: Path) -> OperationType:
    document = parse(path.read_text())
    return next(d for d in document.definitions if isinstance(d, OperationDefinitionNode)).operation


QUERIES = sorted(
    p.stem for p in OPERATIONS.glob("*.graphql") if _kind(p) is not OperationType.SUBSCRIPTION
)


@pytest.mark.parametrize("name", QUERIES)
async def test_each_query_and_mutation_runs(live: Live, name: str) -> None:
    live.commands.statuses = [projection_status("dashboards", 3, 3)]
    token = live.token(ADMIN_BY_EMAIL) if name.startswith("admin_") else live.token_of("maya")
    data = await live.data(operation(name), variables_for(live, name), token=token)
    assert all(value is not None for value in data.values()), data


async def test_the_dashboard_subscription_runs(live: Live) -> None:
    async with subscription(
        live.ws_url, live.token_of("maya"), operation("dashboard_updated")
    ) as feed:
        assert (await feed.next())["dashboardUpdated"]["scope"] == "TEAM"


async def test_the_opportunity_subscription_runs(live: Live) -> None:
    channel = opportunity_channel(live.world["maya"].id)
    alpha = next(r for r in live.world.opportunities.values() if r["name"] == "Alpha deal")
    query = operation("opportunity_changed")
    async with subscription(live.ws_url, live.token_of("maya"), query) as feed:
        await live.wait_for_subscribers(channel)
        await live.hub.publish(
            channel, {"kind": "UPDATED", "opportunityId": alpha["_id"], "position": 9}
        )
        change = (await feed.next())["opportunityChanged"]
        assert (change["kind"], change["opportunity"]["name"]) == ("UPDATED", "Alpha deal")
