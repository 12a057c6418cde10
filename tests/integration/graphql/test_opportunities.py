"""``opportunities``: orders, filters, validation and keyset pagination under change."""

from __future__ import annotations

from typing import Any

import pytest

from projections.read_models import OPPORTUNITIES, USER_ACCESS
from schema.loaders import Loaders
from tests.integration.graphql.conftest import Live, error_codes
from tests.integration.graphql.world import ADMIN_BY_ROLE, opportunity_doc

ALL = ["OPEN", "WON", "LOST", "ARCHIVED"]
LIST = """
query List($filter: OpportunityFilter, $order: OpportunityOrder, $first: Int, $after: String) {
  opportunities(filter: $filter, orderBy: $order, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { cursor node { id name } }
  }
}
"""


def admin(live: Live) -> str:
    return live.token(ADMIN_BY_ROLE, admin=True)


async def listed(live: Live, variables: dict[str, Any], page: int = 4) -> list[str]:
    ids: list[str] = []
    after = None
    while True:
        data = await live.data(
            LIST, {**variables, "first": page, "after": after}, token=admin(live)
        )
        connection = data["opportunities"]
        ids += [e["node"]["id"] for e in connection["edges"]]
        if not connection["pageInfo"]["hasNextPage"]:
            return ids
        after = connection["pageInfo"]["endCursor"]


def expected_order(rows: list[dict[str, Any]], order: str) -> list[str]:
    if order == "UPDATED_DESC":
        return [
            r["_id"] for r in sorted(rows, key=lambda r: (-r["updated_at"].timestamp(), r["_id"]))
        ]
    if order == "REVENUE_DESC":
        return [r["_id"] for r in sorted(rows, key=lambda r: (-r["expected_revenue"], r["_id"]))]
    if order == "NAME_ASC":
        return [r["_id"] for r in sorted(rows, key=lambda r: (r["name_key"], r["_id"]))]
    dated = sorted((r for r in rows if r["deadline"]), key=lambda r: (r["deadline"], r["_id"]))
    undated = sorted((r for r in rows if not r["deadline"]), key=lambda r: r["_id"])
    return [r["_id"] for r in dated + undated]  # no deadline: last


@pytest.mark.parametrize("order", ["UPDATED_DESC", "REVENUE_DESC", "DEADLINE_ASC", "NAME_ASC"])
async def test_orders(live: Live, order: str) -> None:
    rows = list(live.world.opportunities.values())
    assert await listed(live, {"order": order, "filter": {"status": ALL}}) == expected_order(
        rows, order
    )


def names(live: Live, ids: list[str]) -> set[str]:
    return {live.world.opportunities[i]["name"] for i in ids}


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        ({}, {"Alpha deal", "beta Deal", "Gamma", "Ben big", "Ben lost", "Maya own",
              "Cleo secret", "Max secret", "Unassigned secret", "Dora leftover"}),
        ({"status": ["WON"]}, {"Gamma"}),
        ({"status": ["ARCHIVED"]}, {"Old archived"}),
        ({"status": []}, set()),
        ({"stageIds": ["{prop}"]}, {"beta Deal"}),
        ({"salespersonIds": ["{ben}"]}, {"Ben big", "Ben lost"}),
        ({"search": "DEAL"}, {"Alpha deal", "beta Deal"}),
        ({"search": "  acme "}, {"Alpha deal"}),  # the account is searched too
        ({"search": "(.*"}, set()),  # a literal, never a pattern
        ({"minRevenue": 1000}, {"Alpha deal", "beta Deal", "Ben big", "Cleo secret",
                                "Unassigned secret"}),
        ({"deadlineBefore": "2026-04-01"}, {"beta Deal", "Cleo secret"}),  # exclusive
        ({"deadlineAfter": "2026-03-20"}, {"Alpha deal", "Ben big"}),
        ({"deadlineAfter": "2026-03-01", "deadlineBefore": "2026-04-02", "minRevenue": 2000},
         {"beta Deal", "Cleo secret"}),
    ],
    ids=lambda v: str(v) if isinstance(v, dict) else "",
)  # fmt: skip
async def test_filters(live: Live, flt: dict[str, Any], expected: set[str]) -> None:
    refs = {"prop": live.world.stages["prop"].id, "ben": live.world["ben"].id}
    flt = {k: [x.format(**refs) for x in v] if isinstance(v, list) else v for k, v in flt.items()}
    ids = await listed(live, {"filter": flt})
    assert names(live, ids) == expected
    data = await live.data(LIST, {"filter": flt, "first": 1}, token=admin(live))
    assert data["opportunities"]["totalCount"] == len(expected)


@pytest.mark.parametrize("first", [-1, 201])
async def test_first_must_be_within_bounds(live: Live, first: int) -> None:
    body = await live.post(LIST, {"first": first}, token=admin(live))
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert "between 0 and 200" in body["errors"][0]["message"]


async def test_first_zero_counts_without_listing(live: Live) -> None:
    data = await live.data(LIST, {"first": 0}, token=admin(live))
    assert data["opportunities"]["edges"] == []
    assert data["opportunities"]["totalCount"] == 10
    assert data["opportunities"]["pageInfo"]["hasNextPage"] is True


async def test_cursors_are_checked(live: Live) -> None:
    page = await live.data(LIST, {"first": 2, "order": "NAME_ASC"}, token=admin(live))
    cursor = page["opportunities"]["pageInfo"]["endCursor"]
    for bad, order in [("garbage!", "NAME_ASC"), (cursor, "REVENUE_DESC"), ("e30", "NAME_ASC")]:
        body = await live.post(LIST, {"after": bad, "order": order}, token=admin(live))
        assert error_codes(body) == ["BAD_USER_INPUT"], (bad, order)


async def test_wrong_types_of_input_are_bad_user_input(live: Live) -> None:
    for flt in [{"deadlineBefore": "01/02/2026"}, {"deadlineBefore": "2026-02-30"},
                {"status": ["NOPE"]}, {"minRevenue": "lots"}]:  # fmt: skip
        body = await live.post(LIST, {"filter": flt}, token=admin(live))
        assert error_codes(body) == ["BAD_USER_INPUT"], flt


@pytest.mark.parametrize("order", ["UPDATED_DESC", "REVENUE_DESC", "DEADLINE_ASC", "NAME_ASC"])
async def test_pages_stay_correct_while_rows_come_and_go(live: Live, order: str) -> None:
    collection = await live.collection(OPPORTUNITIES)
    before = expected_order(list(live.world.opportunities.values()), order)
    variables = {"order": order, "filter": {"status": ALL}, "first": 4}
    first_page = await live.data(LIST, variables, token=admin(live))
    seen = [e["node"]["id"] for e in first_page["opportunities"]["edges"]]
    assert seen == before[:4]
    # Between pages: one row of the first page and one not yet seen disappear; two rows
    # appear, one sorting before the cursor (never shown) and one after it (shown).
    gone = [before[1], before[6]]
    early = opportunity_doc(live.world, 900, "ana", name="Aaa early", revenue=10**9,
                            deadline="2000-01-01", minutes_ago=-60)  # fmt: skip
    late = opportunity_doc(live.world, 901, "ana", name="Zzz late", revenue=0.5,
                           deadline=None, minutes_ago=10**6)  # fmt: skip
    removed = [await collection.find_one({"_id": i}) for i in gone]
    try:
        await collection.delete_many({"_id": {"$in": gone}})
        await collection.insert_many([early, late])
        after = first_page["opportunities"]["pageInfo"]["endCursor"]
        while after is not None:
            page = await live.data(LIST, {**variables, "after": after}, token=admin(live))
            seen += [e["node"]["id"] for e in page["opportunities"]["edges"]]
            info = page["opportunities"]["pageInfo"]
            after = info["endCursor"] if info["hasNextPage"] else None
        assert len(seen) == len(set(seen)), "a row was listed twice"
        unchanged = [i for i in before if i not in gone]
        assert [i for i in seen if i in unchanged] == unchanged  # none skipped, order kept
        assert late["_id"] in seen and early["_id"] not in seen
    finally:
        await collection.delete_many({"_id": {"$in": [early["_id"], late["_id"]]}})
        await collection.insert_many([r for r in removed if r is not None])


async def test_values_are_rendered_per_the_contract(live: Live) -> None:
    gamma = next(r for r in live.world.opportunities.values() if r["name"] == "Gamma")
    alpha = next(r for r in live.world.opportunities.values() if r["name"] == "Alpha deal")
    query = """query($a: ID!, $g: ID!) {
      a: opportunity(id: $a) { odooId status deadline createdAt updatedAt closedAt
                               account { name } team { name } stage { name isWon } }
      g: opportunity(id: $g) { expectedRevenue weightedRevenue probability status deadline } }"""
    data = await live.data(query, {"a": alpha["_id"], "g": gamma["_id"]}, token=admin(live))
    assert data["g"] == {"expectedRevenue": 250.56, "weightedRevenue": 125.28,
                         "probability": 50.0, "status": "WON", "deadline": None}  # fmt: skip
    a = data["a"]
    assert a["deadline"] == "2026-04-01"
    assert a["createdAt"] == "2026-01-30T12:00:00Z"
    assert a["updatedAt"] == "2026-03-01T11:59:00Z"
    assert (a["closedAt"], a["team"], a["account"]) == (None, None, {"name": "Acme"})
    assert a["stage"] == {"name": "New", "isWon": False}


async def test_the_viewer_comes_from_a_carded_access_entry_without_a_read(
    live: Live, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Access entries written by the current projection carry the user's card (name, email):
    # `viewer` is answered from it. Older entries (the world's) fall back to the profile.
    reads: list[list[str]] = []
    original = Loaders.card_map

    async def counting(self: Loaders, ids: list[str]) -> Any:
        reads.append(ids)
        return await original(self, ids)

    monkeypatch.setattr(Loaders, "card_map", counting)
    ben = live.world["ben"]
    query = "{ viewer { id name email active } }"
    before = (await live.data(query, token=live.token_of("ben")))["viewer"]
    assert reads == [[ben.id]] and before["name"] != "Ben (from the entry)"
    access = await live.collection(USER_ACCESS)
    await access.update_one(
        {"_id": ben.id}, {"$set": {"name": "Ben (from the entry)", "email": before["email"]}}
    )
    await live.access_changed()
    try:
        reads.clear()
        viewer = (await live.data(query, token=live.token_of("ben")))["viewer"]
        assert reads == []
        assert viewer == {**before, "name": "Ben (from the entry)"}
    finally:
        await access.update_one({"_id": ben.id}, {"$unset": {"name": "", "email": ""}})
        await live.access_changed()


async def test_stages_are_ordered_by_sequence_then_name(live: Live) -> None:
    data = await live.data("{ stages { name sequence isWon } }", token=live.token_of("ana"))
    assert [s["name"] for s in data["stages"]] == ["New", "Proposal", "qualified", "Won"]


async def test_salespeople_are_loaded_in_one_batch(
    live: Live, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Cards are read by ``card_map`` (a page's salespeople, a dashboard's team) or through
    # the ``cards`` DataLoader, which calls it; whole profiles through the ``profiles`` one.
    batches: dict[str, list[list[str]]] = {"cards": [], "profiles": []}
    for kind, method in (("cards", "card_map"), ("profiles", "_load_profiles")):
        original = getattr(Loaders, method)

        async def counting(self: Loaders, ids: list[str], kind: str = kind,
                           original: Any = original) -> Any:  # fmt: skip
            batches[kind].append(ids)
            return await original(self, ids)

        monkeypatch.setattr(Loaders, method, counting)
    query = "{ opportunities(first: 50) { edges { node { salesperson { name } } } } }"
    data = await live.data(query, token=live.token_of("maya"))
    assert len(data["opportunities"]["edges"]) == 7
    # The rows carry their salesperson's card (opportunity_view version 2): no read.
    assert batches == {"cards": [], "profiles": []}
    # Rows written before the card was complete: the salespeople of the whole page at once.
    rows = await live.collection(OPPORTUNITIES)
    await rows.update_many({}, {"$unset": {"salesperson.active": ""}})
    try:
        again = await live.data(query, token=live.token_of("maya"))
    finally:
        for opportunity in live.world.opportunities.values():
            await rows.replace_one({"_id": opportunity["_id"]}, opportunity)
    assert again == data
    assert len(batches["cards"]) == 1
    people = sorted(live.world[k].id for k in ("maya", "ana", "ben", "dora"))
    assert sorted(batches["cards"][0]) == people
    assert batches["profiles"] == []  # no whole documents for a name
    batches["cards"].clear()
    query = "{ dashboard { viewer { name } team { salesperson { name email active } } } }"
    await live.data(query, token=live.token_of("maya"))
    # The viewer's card; the team's rows carry their names (nothing to read for them).
    assert ([b for b in batches["cards"] if b], batches["profiles"]) == (
        [[live.world["maya"].id]],
        [],
    )
    batches["cards"].clear()
    # The hierarchy needs whole documents: loaded only then, in one batch too.
    query = "{ opportunities { edges { node { salesperson { hierarchy { isManager } } } } } }"
    await live.data(query, token=live.token_of("maya"))
    assert batches["cards"] == []
    assert [sorted(b) for b in batches["profiles"]] == [people]
