"""The API over read models that the real projections built from a sync of the built-in Odoo:
``syncOdoo(wait: true)`` then queries see the data, visibility holds on real org data, and
the projections' notifications drive both subscriptions."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from domain.normalize import LEAD
from infrastructure.odoo_fake import FakeOdoo, OdooClock
from projections.read_models import dashboard_channel, opportunity_channel
from schema.readers.opportunities import COUNTS
from tests.integration.graphql.clients import subscription
from tests.integration.graphql.conftest import SYNC, Live, synced_server
from tests.integration.graphql.world import ADMIN_BY_EMAIL

pytestmark = pytest.mark.integration

IDS = "{ opportunities(first: 200) { totalCount edges { node { id salesperson { id } } } } }"


@pytest.fixture(scope="module")
def northwind() -> Iterator[FakeOdoo]:
    with FakeOdoo(version="19.0", clock=OdooClock("2026-03-02 09:00:00")) as fake:
        yield fake


@pytest.fixture(scope="module")
async def live(
    northwind: FakeOdoo, mongo_url: str, mongo_client: AsyncMongoClient[Any]
) -> AsyncIterator[Live]:
    async with synced_server(northwind, mongo_url, mongo_client) as server:
        yield server


def user(northwind: FakeOdoo, key: str) -> tuple[str, str]:
    """(profile id, sign-in email) of a demo user."""
    assert northwind.demo is not None
    odoo_id = northwind.demo.users[key]
    [row] = northwind.records("res.users", [["id", "=", odoo_id]])
    return str(odoo_id), row["email"] or row["login"]


async def test_queries_see_the_synced_data_within_visibility(
    live: Live, northwind: FakeOdoo
) -> None:
    maria_id, maria = user(northwind, "maria")
    _, ethan = user(northwind, "ethan")
    seen = {}
    for who in (maria, ethan, ADMIN_BY_EMAIL):
        data = await live.data(IDS, token=live.token(who))
        seen[who] = {e["node"]["id"] for e in data["opportunities"]["edges"]}
        assert data["opportunities"]["totalCount"] == len(seen[who]) > 0
    assert seen[ethan] < seen[maria] < seen[ADMIN_BY_EMAIL]
    hidden = next(iter(seen[ADMIN_BY_EMAIL] - seen[maria]))
    probe = await live.data(f'{{ opportunity(id: "{hidden}") {{ id }} }}', token=live.token(maria))
    assert probe["opportunity"] is None
    me = await live.data("{ viewer { id hierarchy { isManager } } dashboard { scope } "
                         "orgChart { depth } }", token=live.token(maria))  # fmt: skip
    assert me["viewer"]["id"] == maria_id and me["viewer"]["hierarchy"]["isManager"]
    assert me["dashboard"]["scope"] == "TEAM"
    assert me["orgChart"][0]["depth"] == 0 and len(me["orgChart"]) > 3
    rep = await live.data("{ dashboard { scope metrics { openCount } } }", token=live.token(ethan))
    assert rep["dashboard"]["scope"] == "OWN" and rep["dashboard"]["metrics"]["openCount"] > 0


async def test_a_won_deal_is_pushed_to_the_owner(live: Live, northwind: FakeOdoo) -> None:
    ethan_id, ethan = user(northwind, "ethan")
    assert northwind.demo is not None
    open_deals = [
        r["id"]
        for r in northwind.records(LEAD, [["user_id", "=", int(ethan_id)],
                                          ["type", "=", "opportunity"]])
        if r["active"] and r["stage_id"] and r["stage_id"] != northwind.demo.won_stage_id
    ]  # fmt: skip
    dashboard = "subscription { dashboardUpdated { asOf metrics { wonCount } } }"
    changes = "subscription { opportunityChanged { kind opportunityId opportunity { status } } }"
    async with (
        subscription(live.ws_url, live.token(ethan), dashboard) as board,
        subscription(live.ws_url, live.token(ethan), changes) as feed,
    ):
        before = (await board.next())["dashboardUpdated"]
        await live.wait_for_subscribers(dashboard_channel(ethan_id))
        await live.wait_for_subscribers(opportunity_channel(ethan_id))
        northwind.clock.advance(60)
        northwind.mark_won([open_deals[0]])
        await live.data(SYNC, token=live.token(ADMIN_BY_EMAIL))
        after = (await board.next(within=15))["dashboardUpdated"]
        assert after["metrics"]["wonCount"] == before["metrics"]["wonCount"] + 1
        assert after["asOf"] > before["asOf"]
        change = (await feed.next(within=15))["opportunityChanged"]
        assert change == {"kind": "UPDATED", "opportunityId": str(open_deals[0]),
                          "opportunity": {"status": "WON"}}  # fmt: skip


COUNTED = """query($filter: OpportunityFilter) { opportunities(filter: $filter, first: 200) {
  totalCount edges { node { id status } } } }"""


async def test_total_count_matches_the_list_after_won_lost_archived_and_deleted_deals(
    live: Live, northwind: FakeOdoo
) -> None:
    """The default list's count comes from the viewer's dashboard document (the projections
    are caught up after a waited sync): it must count exactly the listed deals, for every
    role, whatever happened to them. Status filters (by the dashboard within OPEN/WON/LOST,
    by a query with ARCHIVED) must agree with their lists too."""
    ethan_id, ethan = user(northwind, "ethan")
    _, maria = user(northwind, "maria")
    assert northwind.demo is not None
    open_deals = [
        r["id"]
        for r in northwind.records(LEAD, [["user_id", "=", int(ethan_id)],
                                          ["type", "=", "opportunity"]])
        if r["active"] and r["stage_id"] and r["stage_id"] != northwind.demo.won_stage_id
    ]  # fmt: skip
    assert len(open_deals) >= 4
    won, lost, archived, deleted = open_deals[:4]
    northwind.clock.advance(60)
    northwind.mark_won([won])
    northwind.mark_lost([lost])
    northwind.archive(LEAD, [archived])
    northwind.unlink(LEAD, [deleted])
    data = await live.data(SYNC, {"mode": "FULL"}, token=live.token(ADMIN_BY_EMAIL))
    assert data["syncOdoo"] == {"status": "SUCCEEDED", "error": None}
    for who in (ethan, maria, ADMIN_BY_EMAIL):
        token = live.token(who)
        before = COUNTS.from_dashboard
        page = (await live.data(COUNTED, token=token))["opportunities"]
        listed = {e["node"]["id"]: e["node"]["status"] for e in page["edges"]}
        assert page["totalCount"] == len(listed) > 0
        assert COUNTS.from_dashboard == before + 1, "served by the dashboard document"
        assert str(deleted) not in listed and str(archived) not in listed
        # maria is ethan's manager: she sees his deals too, as the admin does.
        assert (listed[str(won)], listed[str(lost)]) == ("WON", "LOST")
        board = await live.data("{ dashboard { metrics { totalCount } } }", token=token)
        assert board["dashboard"]["metrics"]["totalCount"] == len(listed)
        for statuses in (["OPEN"], ["WON", "LOST"], ["ARCHIVED"], ["OPEN", "ARCHIVED"]):
            flt = {"status": statuses}
            page = (await live.data(COUNTED, {"filter": flt}, token=token))["opportunities"]
            assert page["totalCount"] == len(page["edges"])
            assert {e["node"]["status"] for e in page["edges"]} <= set(statuses)
        archive = await live.data(COUNTED, {"filter": {"status": ["ARCHIVED"]}}, token=token)
        assert str(archived) in {e["node"]["id"] for e in archive["opportunities"]["edges"]}
