"""No record reaches a caller who may not see it, by any path (PRODUCT.md §3 "Visibility")."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from domain.events import NewEvent, StreamRef
from projections.read_models import (
    ADMIN_DASHBOARD_ID,
    DASHBOARDS,
    USER_PROFILES,
    team_rows,
    team_table,
    team_table_hash,
)
from schema.loaders import MAX_IDS_PER_FIND
from tests.integration.graphql.conftest import Live
from tests.integration.graphql.world import ADMIN_BY_ROLE, profile_doc

ORDERS = ["UPDATED_DESC", "REVENUE_DESC", "DEADLINE_ASC", "NAME_ASC"]
NON_ADMINS = ["ana", "ben", "maya", "max", "cleo"]
SEES = {  # whose deals each viewer sees (Dora left; her deals still roll up to Maya)
    "ana": ["ana"],
    "ben": ["ben"],
    "maya": ["maya", "ana", "ben", "dora"],
    "max": ["max", "cleo"],
    "cleo": ["cleo"],
}
READS = {  # whose profiles each viewer reads: self, below, managers above
    "ana": ["ana", "maya"],
    "ben": ["ben", "maya"],
    "maya": ["maya", "ana", "ben", "dora"],
    "max": ["max", "cleo"],
    "cleo": ["cleo", "max"],
}

LIST = """
query List($filter: OpportunityFilter, $order: OpportunityOrder, $first: Int, $after: String) {
  opportunities(filter: $filter, orderBy: $order, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { cursor node { id name salesperson { id } } }
  }
}
"""


def token_for(live: Live, who: str) -> str:
    return live.token(ADMIN_BY_ROLE, admin=True) if who == "admin" else live.token_of(who)


def visible_ids(live: Live, who: str) -> set[str]:
    if who == "admin":
        return set(live.world.opportunities)
    return live.world.owned_by(*SEES[who])


async def all_pages(live: Live, token: str, variables: dict[str, Any]) -> tuple[list[str], int]:
    ids: list[str] = []
    after = None
    while True:
        page = await live.data(LIST, {**variables, "first": 3, "after": after}, token=token)
        connection = page["opportunities"]
        ids += [edge["node"]["id"] for edge in connection["edges"]]
        if not connection["pageInfo"]["hasNextPage"]:
            return ids, connection["totalCount"]
        after = connection["pageInfo"]["endCursor"]


@pytest.mark.parametrize("who", [*NON_ADMINS, "admin"])
async def test_single_lookups_find_exactly_the_visible_opportunities(live: Live, who: str) -> None:
    expected = visible_ids(live, who)
    ids = [*live.world.opportunities, "no-such-thing"]
    lookups = " ".join(f'o{n}: opportunity(id: "{i}") {{ id }}' for n, i in enumerate(ids))
    data = await live.data(f"{{ {lookups} }}", token=token_for(live, who))
    found = {data[f"o{n}"]["id"] for n in range(len(ids)) if data[f"o{n}"] is not None}
    assert found == expected


@pytest.mark.parametrize(("who", "order"), list(itertools.product([*NON_ADMINS, "admin"], ORDERS)))
async def test_lists_hold_exactly_the_visible_opportunities_in_every_order(
    live: Live, who: str, order: str
) -> None:
    token = token_for(live, who)
    expected = visible_ids(live, who)
    ids, total = await all_pages(live, token, {"order": order})
    assert sorted(ids) == sorted(live.world.listed(expected))
    assert total == len(ids)  # the count does not reveal hidden records either
    archived = {"status": ["OPEN", "WON", "LOST", "ARCHIVED"]}
    ids, total = await all_pages(live, token, {"order": order, "filter": archived})
    assert sorted(ids) == sorted(expected)
    assert total == len(expected)


@pytest.mark.parametrize(
    "flt",
    [
        {"search": "secret"},
        {"salespersonIds": ["{cleo}", "{max}"]},
        {"salespersonIds": []},
        {"stageIds": ["{new}"]},
        {"minRevenue": 500},
        {"deadlineAfter": "2026-01-01"},
        {"deadlineBefore": "2027-01-01"},
        {"status": ["ARCHIVED"]},
    ],
    ids=lambda f: next(iter(f)),
)
@pytest.mark.parametrize("who", ["ana", "maya", "cleo"])
async def test_no_filter_reaches_past_visibility(live: Live, who: str, flt: dict[str, Any]) -> None:
    world = live.world
    names = {"cleo": world["cleo"].id, "max": world["max"].id, "new": world.stages["new"].id}
    flt = {
        k: [v.format(**names) for v in value] if isinstance(value, list) else value
        for k, value in flt.items()
    }
    ids, total = await all_pages(live, token_for(live, who), {"filter": flt})
    assert set(ids) <= visible_ids(live, who)
    assert total == len(ids)


@pytest.mark.parametrize("who", NON_ADMINS)
async def test_profiles_are_readable_exactly_per_the_access_entry(live: Live, who: str) -> None:
    readable = {live.world[k].id for k in READS[who]}
    ids = [*(p.id for p in live.world.people.values()), "424242"]
    lookups = " ".join(f'u{n}: user(id: "{i}") {{ id }}' for n, i in enumerate(ids))
    data = await live.data(f"{{ {lookups} }}", token=live.token_of(who))
    assert {data[f"u{n}"]["id"] for n in range(len(ids)) if data[f"u{n}"]} == readable


async def test_reading_a_manager_does_not_reveal_their_other_reports(live: Live) -> None:
    query = "query($id: ID!) { user(id: $id) { hierarchy { subordinates { userId name } } } }"
    maya = live.world["maya"].id
    seen_by_ana = await live.data(query, {"id": maya}, token=live.token_of("ana"))
    names = [p["name"] for p in seen_by_ana["user"]["hierarchy"]["subordinates"]]
    assert names == ["Ana Rep"]  # not Ben, her peer
    seen_by_maya = await live.data(query, {"id": maya}, token=live.token_of("maya"))
    assert [p["name"] for p in seen_by_maya["user"]["hierarchy"]["subordinates"]] == [
        "Ana Rep",
        "ben rep",
    ]


async def test_history_is_reachable_only_through_a_visible_opportunity(live: Live) -> None:
    world = live.world
    by_name = {row["name"]: row for row in world.opportunities.values()}
    mine, theirs = by_name["Alpha deal"], by_name["Cleo secret"]
    for row in (mine, theirs):
        stream = StreamRef("opportunity", str(row["odoo_id"]))
        for n in range(3):
            await live.container.event_store.append(
                stream, [NewEvent("OpportunityUpdated", {"n": n, "name": row["name"]})]
            )
    query = """query($id: ID!) { opportunity(id: $id) {
        history(first: 2) { type position occurredAt data } } }"""
    data = await live.data(query, {"id": mine["_id"]}, token=live.token_of("ana"))
    history = data["opportunity"]["history"]
    assert [h["data"]["n"] for h in history] == [2, 1]  # newest first, `first` respected
    assert history[0]["position"] > history[1]["position"]
    assert history[0]["occurredAt"].endswith("Z")
    hidden = await live.data(query, {"id": theirs["_id"]}, token=live.token_of("ana"))
    assert hidden["opportunity"] is None
    listed = await live.data(
        "{ opportunities(first: 200) { edges { node { history { data } } } } }",
        token=live.token_of("ana"),
    )
    names = {
        h["data"]["name"] for e in listed["opportunities"]["edges"] for h in e["node"]["history"]
    }
    assert names == {mine["name"]}


async def test_org_charts_are_the_callers_subtree_or_the_whole_org(live: Live) -> None:
    query = "{ orgChart { depth managerEmployeeId person { name userId employeeId } } }"
    ana = await live.data(query, token=live.token_of("ana"))
    assert [n["person"]["name"] for n in ana["orgChart"]] == ["Ana Rep"]
    maya = await live.data(query, token=live.token_of("maya"))
    assert [(n["person"]["name"], n["depth"]) for n in maya["orgChart"]] == [
        ("Maya Manager", 0),
        ("Ana Rep", 1),
        ("ben rep", 1),
    ]
    admin = await live.data(query, token=live.token(ADMIN_BY_ROLE, admin=True))
    # Roots, then depth-first; siblings by name, case-insensitively.
    assert [(n["person"]["name"], n["depth"]) for n in admin["orgChart"]] == [
        ("Max Other", 0),
        ("Cleo Peer", 1),
        ("Maya Manager", 0),
        ("Ana Rep", 1),
        ("ben rep", 1),
        ("Dora Gone", 1),
    ]


DASHBOARD = """{ dashboard { scope asOf viewer { id } metrics { pipelineValue openCount }
    byStage { stage { name } count value }
    team { salesperson { id name } metrics { openCount } } } }"""


@pytest.mark.parametrize(
    ("who", "pipeline", "team"),
    [
        ("ana", 6000.0, []),
        ("maya", 7000.0, ["maya", "ana", "ben"]),
        ("cleo", 123456.0, []),
        ("admin", 999999.0, ["maya", "ana", "ben", "max", "cleo"]),
    ],
)
async def test_each_viewer_gets_their_own_dashboard(
    live: Live, who: str, pipeline: float, team: list[str]
) -> None:
    data = (await live.data(DASHBOARD, token=token_for(live, who)))["dashboard"]
    assert data["metrics"]["pipelineValue"] == pipeline
    assert [row["salesperson"]["id"] for row in data["team"]] == [live.world[k].id for k in team]
    assert data["viewer"] == (None if who == "admin" else {"id": live.world[who].id})


async def test_a_viewer_without_a_dashboard_yet_gets_an_empty_one(live: Live) -> None:
    data = (await live.data(DASHBOARD, token=live.token_of("ben")))["dashboard"]
    assert data["asOf"] == 0
    assert data["scope"] == "OWN"
    assert data["metrics"] == {"pipelineValue": 0.0, "openCount": 0}
    assert data["byStage"] == [] and data["team"] == []
    max_data = (await live.data(DASHBOARD, token=live.token_of("max")))["dashboard"]
    assert (max_data["scope"], max_data["asOf"]) == ("TEAM", 0)


async def test_team_rows_of_the_earlier_form_are_named_from_profiles_past_one_read(
    live: Live,
) -> None:
    """Rows stored before they carried the salesperson (a list of row documents) are named
    from the profiles, read in bounded batches (``MAX_IDS_PER_FIND`` ids a query); a row
    whose profile document is missing (the profile projection lags) still shows its id,
    with empty fields, instead of failing the dashboard."""
    dashboards = await live.collection(DASHBOARDS)
    profiles = await live.collection(USER_PROFILES)
    original = await dashboards.find_one({"_id": ADMIN_DASHBOARD_ID})
    assert original is not None
    extra = [f"bulk-{i:04d}" for i in range(MAX_IDS_PER_FIND + 20)]
    rows = team_rows(original["team"])
    row = rows[0]
    await profiles.insert_many(
        [
            {
                **profile_doc(live.world, "ana"),
                "_id": key,
                "name": f"Bulk {key}",
                "email": f"{key}@x",
            }
            for key in extra[:-1]
        ]
    )
    try:
        team = [{"salesperson_id": r["salesperson_id"], "metrics": r["metrics"]} for r in rows]
        team += [{"salesperson_id": key, "metrics": row["metrics"]} for key in extra]
        await dashboards.replace_one({"_id": ADMIN_DASHBOARD_ID}, {**original, "team": team})
        admin = live.token(ADMIN_BY_ROLE, admin=True)
        data = (await live.data(DASHBOARD, token=admin))["dashboard"]
        shown = [(r["salesperson"]["id"], r["salesperson"]["name"]) for r in data["team"]]
        named = [
            (live.world[k].id, live.world[k].name) for k in ["maya", "ana", "ben", "max", "cleo"]
        ]
        assert shown == [*named, *((k, f"Bulk {k}") for k in extra[:-1]), (extra[-1], "")]
    finally:
        await dashboards.replace_one({"_id": ADMIN_DASHBOARD_ID}, original)
        await profiles.delete_many({"_id": {"$in": extra}})


async def test_team_rows_show_their_salesperson_without_reading_profiles(live: Live) -> None:
    """Rows carry the salesperson as shown: a profile document that is gone (or lags) does
    not blank a row."""
    dashboards = await live.collection(DASHBOARDS)
    profiles = await live.collection(USER_PROFILES)
    original = await dashboards.find_one({"_id": ADMIN_DASHBOARD_ID})
    assert original is not None
    rows = team_rows(original["team"])
    ana = live.world["ana"]
    saved = await profiles.find_one({"_id": ana.id})
    assert saved is not None and any(r["salesperson_id"] == ana.id for r in rows)
    renamed = team_table(
        [
            ((r["salesperson_id"], f"Row {r['name']}", r["email"], r["active"]), r["metrics"])
            for r in rows
        ]
    )
    try:
        await profiles.delete_one({"_id": ana.id})
        await dashboards.replace_one({"_id": ADMIN_DASHBOARD_ID}, {**original, "team": renamed})
        admin = live.token(ADMIN_BY_ROLE, admin=True)
        data = (await live.data(DASHBOARD, token=admin))["dashboard"]
        shown = {r["salesperson"]["id"]: r["salesperson"]["name"] for r in data["team"]}
        assert shown == {r["salesperson_id"]: f"Row {r['name']}" for r in rows}
    finally:
        await dashboards.replace_one({"_id": ADMIN_DASHBOARD_ID}, original)
        await profiles.replace_one({"_id": ana.id}, saved, upsert=True)


async def test_a_team_row_outside_the_viewers_tree_is_not_shown(live: Live) -> None:
    """A manager's document is their own, but a stale row naming someone outside their
    tree (written before an org change, say) shows neither the numbers nor the name."""
    dashboards = await live.collection(DASHBOARDS)
    maya = live.world["maya"]
    original = await dashboards.find_one({"_id": maya.id})
    assert original is not None
    rows = team_rows(original["team"])
    cleo = live.world["cleo"]  # in Max's tree, not Maya's
    stale = [*rows, {**rows[0], "salesperson_id": cleo.id, "name": cleo.name}]
    table = team_table(
        [((r["salesperson_id"], r["name"], r["email"], r["active"]), r["metrics"]) for r in stale]
    )
    try:
        await dashboards.replace_one({"_id": maya.id}, {**original, "team": table})
        data = (await live.data(DASHBOARD, token=live.token_of("maya")))["dashboard"]
        shown = [r["salesperson"]["id"] for r in data["team"]]
        assert shown == [r["salesperson_id"] for r in rows] and cleo.id not in shown
        assert cleo.name not in str(data)
    finally:
        await dashboards.replace_one({"_id": maya.id}, original)


SHARED = """{ dashboard { asOf metrics { pipelineValue }
    team { salesperson { id } metrics { pipelineValue totalCount winRate } } } }"""


async def test_a_dashboard_that_shares_the_admins_table_shows_it_within_its_tree(
    live: Live, caplog: pytest.LogCaptureFixture
) -> None:
    """A document whose team table is the admin's (``team_of``: a CEO who sees everyone) is
    shown with the admin's rows once both name the same table (``team_hash``): the rows'
    numbers are the admin document's, and rows outside the viewer's tree are dropped as for
    any stale row. When the two never agree (the projection stopped between the two writes)
    the newest table is shown after a few reads, and the disagreement is logged."""
    dashboards = await live.collection(DASHBOARDS)
    maya = live.world["maya"]
    own = await dashboards.find_one({"_id": maya.id})
    admin = await dashboards.find_one({"_id": ADMIN_DASHBOARD_ID})
    assert own is not None and admin is not None
    table = admin["team"]
    shared = {k: v for k, v in own.items() if k != "team"}
    shared |= {"team_of": ADMIN_DASHBOARD_ID, "team_hash": team_table_hash(table)}
    expected = [
        {"salesperson": {"id": live.world[k].id},
         "metrics": {"pipelineValue": 333333.0, "totalCount": 1, "winRate": None}}
        for k in ["maya", "ana", "ben"]  # the admin's rows (999,999 / 3), Maya's tree only
    ]  # fmt: skip
    try:
        await dashboards.update_one(
            {"_id": ADMIN_DASHBOARD_ID}, {"$set": {"team_hash": team_table_hash(table)}}
        )
        await dashboards.replace_one({"_id": maya.id}, shared)
        data = (await live.data(SHARED, token=live.token_of("maya")))["dashboard"]
        assert data["team"] == expected
        assert data["metrics"] == {"pipelineValue": 7000.0}  # Maya's own document's
        assert "shared team table" not in caplog.text

        await dashboards.replace_one({"_id": maya.id}, {**shared, "team_hash": "an older one"})
        data = (await live.data(SHARED, token=live.token_of("maya")))["dashboard"]
        assert data["team"] == expected
        assert f"dashboard {maya.id}: shared team table at another position" in caplog.text
    finally:
        await dashboards.replace_one({"_id": maya.id}, own)
        await dashboards.replace_one({"_id": ADMIN_DASHBOARD_ID}, admin)
