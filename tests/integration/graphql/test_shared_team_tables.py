"""A CEO who sees every salesperson, over read models the real projections built from a sync:
their dashboard document refers to the admin's team table instead of holding a copy, and the
API shows them exactly the admin's rows, before and after a deal changes; ``pulse check``
agrees with what was stored."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from infrastructure.odoo_fake import FakeOdoo
from infrastructure.odoo_fake.populate import BENCH_DOMAIN, Populated, populate
from projections.check import check
from projections.dashboards import DashboardProjection
from projections.framework import active_collection
from projections.read_models import ADMIN_DASHBOARD_ID, DASHBOARDS
from tests.integration.graphql.conftest import SYNC, Live, synced_server
from tests.integration.graphql.world import ADMIN_BY_EMAIL

pytestmark = pytest.mark.integration

TEAM = """{ dashboard { scope metrics { totalCount pipelineValue }
    team { salesperson { id name email active }
           metrics { totalCount openCount wonCount lostCount pipelineValue
                     weightedPipelineValue wonValue winRate averageDealSize } } } }"""
CEO = f"user00000@{BENCH_DOMAIN}"  # the top of populate's tree


@pytest.fixture(scope="module")
def company() -> Iterator[tuple[FakeOdoo, Populated]]:
    with FakeOdoo(version="19.0", demo=False) as fake:
        # 150 users: a team table of ~150 rows, past DashboardProjection.share_tables_from.
        made = populate(fake, users=150, leads=1500, partners=100, teams=4)
        yield fake, made


@pytest.fixture(scope="module")
async def live(
    company: tuple[FakeOdoo, Populated], mongo_url: str, mongo_client: AsyncMongoClient[Any]
) -> AsyncIterator[Live]:
    async with synced_server(company[0], mongo_url, mongo_client) as server:
        yield server


async def sync(live: Live, mode: str) -> None:
    data = await live.data(SYNC, {"mode": mode}, token=live.token(ADMIN_BY_EMAIL))
    assert data["syncOdoo"] == {"status": "SUCCEEDED", "error": None}


async def dashboards(live: Live) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the CEO's dashboard, the admin's), as the API shows them."""
    ceo = (await live.data(TEAM, token=live.token(CEO)))["dashboard"]
    admin = (await live.data(TEAM, token=live.token(ADMIN_BY_EMAIL)))["dashboard"]
    return ceo, admin


async def test_the_ceo_is_shown_the_admins_rows_from_one_stored_table(
    live: Live, company: tuple[FakeOdoo, Populated]
) -> None:
    odoo, made = company
    stored = await active_collection(live.db, "dashboard_metrics", DASHBOARDS)
    ceo_id = str(made.user_ids[0])
    raw = await stored.find_one({"_id": ceo_id})
    admin_raw = await stored.find_one({"_id": ADMIN_DASHBOARD_ID})
    assert raw is not None and admin_raw is not None
    assert "team" not in raw and raw["team_of"] == ADMIN_DASHBOARD_ID
    assert raw["team_hash"] == admin_raw["team_hash"]
    assert len(admin_raw["team"]) >= DashboardProjection.share_tables_from

    ceo, admin = await dashboards(live)
    assert (ceo["scope"], admin["scope"]) == ("TEAM", "ALL")
    assert len(ceo["team"]) > 100 and ceo["team"] == admin["team"]
    for row in ceo["team"]:  # the derived values, from the stored counts
        m = row["metrics"]
        assert m["totalCount"] == m["openCount"] + m["wonCount"] + m["lostCount"]
        closed = m["wonCount"] + m["lostCount"]
        assert m["winRate"] == (m["wonCount"] / closed if closed else None)

    # A deal changes hands and value: both documents are rewritten, the CEO's still shared.
    lead = odoo.records("crm.lead", [["id", "=", made.lead_ids[0]]])[0]
    new_owner = next(u for u in made.user_ids[1:] if u != lead["user_id"])
    odoo.write("crm.lead", [lead["id"]], {"user_id": new_owner, "expected_revenue": 123456.0,
                                          "probability": 40.0, "active": True})  # fmt: skip
    await sync(live, "INCREMENTAL")
    after_ceo, after_admin = await dashboards(live)
    assert after_ceo["team"] == after_admin["team"] != admin["team"]
    raw_after = await stored.find_one({"_id": ceo_id})
    assert raw_after is not None and raw_after["team_of"] == ADMIN_DASHBOARD_ID
    assert raw_after["team_hash"] != raw["team_hash"]

    report = await check(live.db, live.container.event_store)
    assert report.clean, report.differences[:10]
