"""``opportunities.totalCount``: made only when selected, served by the viewer's dashboard
document when that counts exactly the listed set and the projections agree, otherwise
counted; always equal to the number of rows the list holds.

Read models are written directly (``world.py``), with dashboard documents whose counts are
the world's true ones, so either path must give the same answer; which path answered is
read from ``schema.readers.opportunities.COUNTS`` (the server runs in this process).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from projections.read_models import ADMIN_DASHBOARD_ID, DASHBOARDS
from schema.readers import opportunities
from schema.readers.opportunities import COUNT_SOURCES, COUNTS
from tests.integration.graphql.conftest import Live, live_server
from tests.integration.graphql.test_visibility import SEES, all_pages, token_for

pytestmark = pytest.mark.integration

WHO = ["admin", "maya", "ana", "max", "cleo"]
LIST = """query($filter: OpportunityFilter) {
  opportunities(filter: $filter, first: 200) { totalCount edges { node { id status } } } }"""


@pytest.fixture(scope="module")
async def live(mongo_url: str, mongo_client: AsyncMongoClient[Any]) -> AsyncIterator[Live]:
    async with live_server(mongo_url, mongo_client) as server:
        await write_true_dashboards(server)
        yield server


@pytest.fixture(autouse=True)
def projections_agree(live: Live) -> Iterator[None]:
    """The list's and the dashboard's projections at the same position (as when caught up);
    a test may move one of them."""
    live.commands.positions = dict.fromkeys(COUNT_SOURCES, 42)
    yield
    live.commands.positions = {}


def owned(live: Live, who: str) -> list[dict[str, Any]]:
    if who == "admin":
        return list(live.world.opportunities.values())
    ids = live.world.owned_by(*SEES[who])
    return [live.world.opportunities[i] for i in ids]


async def write_true_dashboards(live: Live) -> None:
    """Each viewer's dashboard metrics counted from the world's opportunities."""
    collection = await live.collection(DASHBOARDS)
    for who in WHO:
        statuses = [o["status"] for o in owned(live, who)]
        counts = {s: statuses.count(s) for s in ("OPEN", "WON", "LOST")}
        doc_id = ADMIN_DASHBOARD_ID if who == "admin" else live.world[who].id
        metrics = {"total_count": sum(counts.values()), "open_count": counts["OPEN"],
                   "won_count": counts["WON"], "lost_count": counts["LOST"]}  # fmt: skip
        scope = "ALL" if who == "admin" else "TEAM"
        await collection.update_one(
            {"_id": doc_id},
            {"$set": {"metrics": metrics, "scope": scope, "as_of": 1}},
            upsert=True,
        )


def counted() -> tuple[int, int]:
    return COUNTS.from_dashboard, COUNTS.queried


@pytest.mark.parametrize("who", WHO)
async def test_the_default_list_is_counted_by_the_dashboard(live: Live, who: str) -> None:
    before = counted()
    data = await live.data(LIST, token=token_for(live, who))
    connection = data["opportunities"]
    listed = [o for o in owned(live, who) if o["status"] != "ARCHIVED"]
    assert connection["totalCount"] == len(connection["edges"]) == len(listed)
    assert counted() == (before[0] + 1, before[1])


@pytest.mark.parametrize("who", WHO)
@pytest.mark.parametrize(
    "statuses", [["OPEN"], ["WON", "LOST"], ["LOST", "OPEN", "WON", "OPEN"], []]
)
async def test_status_subsets_are_counted_by_the_dashboard(
    live: Live, who: str, statuses: list[str]
) -> None:
    before = counted()
    data = await live.data(LIST, {"filter": {"status": statuses}}, token=token_for(live, who))
    connection = data["opportunities"]
    expected = [o for o in owned(live, who) if o["status"] in statuses]
    assert connection["totalCount"] == len(connection["edges"]) == len(expected)
    assert counted() == (before[0] + 1, before[1])


@pytest.mark.parametrize("who", WHO)
@pytest.mark.parametrize(
    "flt",
    [
        {"status": ["OPEN", "WON", "LOST", "ARCHIVED"]},  # ARCHIVED: not on the dashboard
        {"status": ["ARCHIVED"]},
        {"search": "deal"},
        {"minRevenue": 500},
        {"salespersonIds": []},
        {"deadlineAfter": "2026-03-01", "deadlineBefore": "2026-04-02"},
    ],
    ids=lambda f: "+".join(f),
)
async def test_other_filters_are_counted_by_a_query(
    live: Live, who: str, flt: dict[str, Any]
) -> None:
    before = counted()
    data = await live.data(LIST, {"filter": flt}, token=token_for(live, who))
    connection = data["opportunities"]
    assert connection["totalCount"] == len(connection["edges"])
    assert counted() == (before[0], before[1] + 1)


@pytest.mark.parametrize("lagging", COUNT_SOURCES)
async def test_a_lagging_projection_sends_the_count_to_a_query(live: Live, lagging: str) -> None:
    """The world's dashboard documents are true here; a lagging dashboard would not be."""
    live.commands.positions[lagging] = 41
    before = counted()
    data = await live.data(LIST, token=token_for(live, "maya"))
    connection = data["opportunities"]
    assert connection["totalCount"] == len(connection["edges"]) > 0
    assert counted() == (before[0], before[1] + 1)


async def test_no_dashboard_document_sends_the_count_to_a_query(live: Live) -> None:
    before = counted()
    data = await live.data(LIST, token=token_for(live, "ben"))  # ben has no dashboard doc
    connection = data["opportunities"]
    assert connection["totalCount"] == len(connection["edges"]) == 2
    assert counted() == (before[0], before[1] + 1)


@pytest.mark.parametrize("who", WHO)
async def test_paging_counts_the_whole_list_on_every_page(live: Live, who: str) -> None:
    ids, total = await all_pages(live, token_for(live, who), {"order": "NAME_ASC"})
    assert total == len(ids) == len(set(ids))


async def test_without_total_count_nothing_is_counted(live: Live) -> None:
    before = counted()
    query = """{ opportunities(first: 2) { pageInfo { hasNextPage } edges { node { id } } }
                 archived: opportunities(filter: {status: [ARCHIVED]}) { edges { cursor } } }"""
    data = await live.data(query, token=token_for(live, "admin"))
    assert len(data["opportunities"]["edges"]) == 2
    assert counted() == before


async def test_a_count_selected_twice_is_made_once(live: Live) -> None:
    before = counted()
    query = """query { opportunities(filter: {minRevenue: 1}) { a: totalCount b: totalCount
                 ...Count } } fragment Count on OpportunityConnection { totalCount }"""
    data = await live.data(query, token=token_for(live, "admin"))
    connection = data["opportunities"]
    assert connection["a"] == connection["b"] == connection["totalCount"] == 10
    assert counted() == (before[0], before[1] + 1)


async def test_the_count_is_read_beside_the_page_not_after_it(
    live: Live, monkeypatch: pytest.MonkeyPatch
) -> None:
    steps: list[str] = []
    rows, compute = opportunities._rows, opportunities.TotalCount._compute

    async def tracked_rows(*args: Any) -> Any:
        steps.append("rows")
        found = await rows(*args)
        steps.append("rows read")
        return found

    async def tracked_compute(self: opportunities.TotalCount) -> int:
        steps.append("count")
        return await compute(self)

    monkeypatch.setattr(opportunities, "_rows", tracked_rows)
    monkeypatch.setattr(opportunities.TotalCount, "_compute", tracked_compute)
    data = await live.data(LIST, token=token_for(live, "maya"))
    assert steps == ["rows", "count", "rows read"]
    assert data["opportunities"]["totalCount"] == len(data["opportunities"]["edges"])
    steps.clear()
    await live.data("{ opportunities { edges { cursor } } }", token=token_for(live, "maya"))
    assert steps == ["rows", "rows read"]  # not selected: not counted at all


async def test_an_early_count_that_fails_is_made_again_by_its_field(
    live: Live, monkeypatch: pytest.MonkeyPatch
) -> None:
    compute = opportunities.TotalCount._compute
    failures: list[int] = []

    async def failing_once(self: opportunities.TotalCount) -> int:
        if not failures:
            failures.append(1)
            raise ConnectionError("the store went away for a moment")
        return await compute(self)

    monkeypatch.setattr(opportunities.TotalCount, "_compute", failing_once)
    data = await live.data(LIST, token=token_for(live, "maya"))
    assert failures == [1]
    assert data["opportunities"]["totalCount"] == len(data["opportunities"]["edges"]) > 0


def matching(live: Live, who: str, flt: dict[str, Any]) -> set[str]:
    """The world's answer to ``flt`` for ``who`` (PRODUCT.md §4 filter semantics)."""
    ids = {w: live.world[w].id for w in live.world.people}
    stages = {k: s.id for k, s in live.world.stages.items()}
    out = set()
    for o in owned(live, who):
        deadline = o["deadline"]
        if (
            o["status"] in flt.get("status", ["OPEN", "WON", "LOST"])
            and ("stageIds" not in flt or o["stage"]["id"] in {stages[s] for s in flt["stageIds"]})
            and ("salespersonIds" not in flt
                 or o["salesperson_id"] in {ids[p] for p in flt["salespersonIds"]})
            and flt.get("search", "").lower() in o["name_key"]
            and o["expected_revenue"] >= flt.get("minRevenue", 0)
            and ("deadlineBefore" not in flt or (deadline and deadline < flt["deadlineBefore"]))
            and ("deadlineAfter" not in flt or (deadline and deadline > flt["deadlineAfter"]))
        ):  # fmt: skip
            out.add(o["_id"])
    return out


@pytest.mark.parametrize("order", ["UPDATED_DESC", "REVENUE_DESC", "DEADLINE_ASC", "NAME_ASC"])
@pytest.mark.parametrize("who", ["admin", "maya"])
@pytest.mark.parametrize(
    "flt",
    [
        {"salespersonIds": ["ana", "cleo", "dora"]},  # with a manager's own salesperson set
        {"deadlineAfter": "2026-03-10", "deadlineBefore": "2026-04-15"},
        {"status": ["OPEN", "ARCHIVED"], "minRevenue": 90, "stageIds": ["new"]},
        {"search": "DEAL", "salespersonIds": ["ana"], "status": ["OPEN", "WON"]},
    ],
    ids=lambda f: "+".join(f),
)
async def test_every_order_pages_through_exactly_the_filtered_rows(
    live: Live, who: str, order: str, flt: dict[str, Any]
) -> None:
    """The page and count queries merge the caller's scope, the filter and the cursor into
    one flat filter document: same rows as the filter means, in every order."""
    refs = {**{w: live.world[w].id for w in live.world.people},
            **{k: s.id for k, s in live.world.stages.items()}}  # fmt: skip
    sent = {k: [refs.get(v, v) for v in val] if isinstance(val, list) else val
            for k, val in flt.items()}  # fmt: skip
    ids, total = await all_pages(live, token_for(live, who), {"order": order, "filter": sent})
    expected = matching(live, who, flt)
    assert sorted(ids) == sorted(expected) and total == len(expected)
