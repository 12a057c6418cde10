"""Read models built by the projections from a real sync of the demo company, then kept
right through deal changes and org changes; ``pulse check`` finds no difference."""

from __future__ import annotations

import pytest

from domain.normalize import EMPLOYEE, LEAD, USER
from domain.sync import SyncMode
from projections.check import check
from projections.framework import active_collection
from projections.read_models import team_rows
from tests.integration.projections.conftest import Pipeline

pytestmark = pytest.mark.integration


async def assert_clean(p: Pipeline) -> None:
    report = await check(p.db, p.events)
    assert report.clean, report.differences[:20]
    assert report.compared > 50


async def test_demo_company_profiles_scopes_and_visibility(pipeline: Pipeline) -> None:
    p, demo = pipeline, pipeline.odoo.demo
    await p.sync(SyncMode.FULL)
    await assert_clean(p)
    uid = {key: str(value) for key, value in demo.users.items()}
    maria = await p.doc("dashboard_metrics", "dashboard_metrics", uid["maria"])
    ethan = await p.doc("dashboard_metrics", "dashboard_metrics", uid["ethan"])
    admin = await p.doc("dashboard_metrics", "dashboard_metrics", "__all__")
    assert maria and ethan and admin
    assert (maria["scope"], ethan["scope"], admin["scope"]) == ("TEAM", "OWN", "ALL")
    assert team_rows(ethan["team"]) == [] and team_rows(maria["team"])
    assert admin["metrics"]["total_count"] > maria["metrics"]["total_count"] > 0
    # Sofia is linked to her employee by email only, in another letter case.
    sofia = await p.doc("user_profiles", "user_profiles", uid["sofia"])
    assert sofia is not None and sofia["odoo"]["linked_by"] == "EMAIL"
    # Chris Taylor's email matches two active employees: not linked.
    chris = await p.doc("user_profiles", "user_profiles", uid["chris"])
    assert chris is not None and chris["odoo"]["linked_by"] == "NONE"
    # Liam reports to an archived manager: Victor (above Bruno) still sees Liam's deals.
    access = await p.doc("user_access_matrix", "user_access_matrix", uid["victor"])
    assert access is not None and uid["liam"] in access["visible_user_ids"]
    ethan_access = await p.doc("user_access_matrix", "user_access_matrix", uid["ethan"])
    assert ethan_access is not None and ethan_access["visible_user_ids"] == [uid["ethan"]]


async def test_a_won_deal_moves_exactly_the_dashboards_that_see_it(pipeline: Pipeline) -> None:
    p, demo = pipeline, pipeline.odoo.demo
    await p.sync()
    uid = {key: str(value) for key, value in demo.users.items()}
    before = {
        k: await p.doc("dashboard_metrics", "dashboard_metrics", uid[k])
        for k in ("ethan", "tom", "maria", "noah")
    }
    ethan_open = [
        r["id"]
        for r in p.odoo.records(
            LEAD, [["user_id", "=", demo.users["ethan"]], ["type", "=", "opportunity"]]
        )
        if r["active"] and r["stage_id"] and r["stage_id"] != demo.won_stage_id
    ]
    p.published.clear()
    p.odoo.clock.advance(60)
    p.odoo.mark_won([ethan_open[0]])
    await p.sync()
    after = {
        k: await p.doc("dashboard_metrics", "dashboard_metrics", uid[k])
        for k in ("ethan", "tom", "maria", "noah")
    }
    for k in ("ethan", "tom", "maria"):
        assert after[k]["metrics"]["won_count"] == before[k]["metrics"]["won_count"] + 1, k
        assert after[k]["as_of"] > before[k]["as_of"]
    assert after["noah"] == before["noah"], "an unrelated rep's dashboard must not change"
    channels = p.channels()
    assert {f"dashboard:{uid[k]}" for k in ("ethan", "tom", "maria")} <= channels
    assert "dashboard:__all__" in channels and f"dashboard:{uid['noah']}" not in channels
    assert f"opportunities:{uid['ethan']}" in channels
    assert f"opportunities:{uid['noah']}" not in channels
    await assert_clean(p)


async def test_an_org_change_moves_visibility_and_dashboards(pipeline: Pipeline) -> None:
    p, demo = pipeline, pipeline.odoo.demo
    await p.sync()
    uid = {key: str(value) for key, value in demo.users.items()}
    ethan_deal = next(
        r["id"]
        for r in p.odoo.records(
            LEAD, [["user_id", "=", demo.users["ethan"]], ["type", "=", "opportunity"]]
        )
    )
    doc = await p.doc("opportunity_view", "opportunity_view", str(ethan_deal))
    assert doc is not None and uid["maria"] in doc["visible_to"]
    # Ethan moves from Tom's team (under Maria) to Nina's (under Grace, a manager without user).
    p.published.clear()
    p.odoo.clock.advance(60)
    p.odoo.write(EMPLOYEE, [demo.employees["ethan"]], {"parent_id": demo.employees["nina"]})
    await p.sync()
    doc = await p.doc("opportunity_view", "opportunity_view", str(ethan_deal))
    assert doc is not None
    assert uid["nina"] in doc["visible_to"] and uid["victor"] in doc["visible_to"]
    assert uid["maria"] not in doc["visible_to"] and uid["tom"] not in doc["visible_to"]
    removed = [
        n
        for n in p.published
        if n.channel == f"opportunities:{uid['maria']}" and n.payload.get("kind") == "REMOVED"
    ]
    assert removed, "Maria must be told the deal left her view"
    nina_access = await p.doc("user_access_matrix", "user_access_matrix", uid["nina"])
    assert nina_access is not None and uid["ethan"] in nina_access["visible_user_ids"]
    await assert_clean(p)


async def test_a_deleted_deal_and_a_renamed_stage_propagate(pipeline: Pipeline) -> None:
    p, demo = pipeline, pipeline.odoo.demo
    await p.sync()
    victim = sorted(demo.leads.values())[3]
    p.odoo.unlink(LEAD, [victim])
    p.odoo.clock.advance(60)
    view = await active_collection(p.db, "opportunity_view", "opportunity_view")
    sample = await view.find_one({"status": "OPEN", "stage": {"$ne": None}})
    assert sample is not None
    stage_id = sample["stage"]["odoo_id"]
    p.odoo.write("crm.stage", [stage_id], {"name": "Proposal (renamed)"})
    await p.sync(SyncMode.FULL)
    assert await p.doc("opportunity_view", "opportunity_view", str(victim)) is None
    in_stage = await view.find_one({"_id": sample["_id"]})
    assert in_stage is not None and in_stage["stage"]["name"] == "Proposal (renamed)"
    stages = await active_collection(p.db, "opportunity_view", "stage_view")
    assert (await stages.find_one({"_id": str(stage_id)}))["name"] == "Proposal (renamed)"
    await assert_clean(p)


async def test_the_access_entry_carries_the_users_card_and_follows_a_rename(
    pipeline: Pipeline,
) -> None:
    # The access entry answers a request's `viewer` without reading user_profiles, so it
    # must show what the profile shows, and move with it.
    p, demo = pipeline, pipeline.odoo.demo
    await p.sync()
    uid = str(demo.users["ethan"])
    profile = await p.doc("user_profiles", "user_profiles", uid)
    access = await p.doc("user_access_matrix", "user_access_matrix", uid)
    assert profile is not None and access is not None
    assert (access["name"], access["email"]) == (profile["name"], profile["email"])
    # Servers share access entries while the matrix's content position stands: a deal
    # change leaves it, an org change (the rename) moves it.
    state = p.db["projection_state"]

    async def content() -> int:
        doc = await state.find_one({"_id": "user_access_matrix"})
        return int(doc["content_position"])

    first = await content()
    assert first > 0
    deal = p.odoo.records(LEAD, [["user_id", "=", demo.users["ethan"]]])[0]["id"]
    p.odoo.clock.advance(60)
    p.odoo.write(LEAD, [deal], {"expected_revenue": 4321.0})
    await p.sync()
    assert (await content()) == first
    p.odoo.clock.advance(60)
    p.odoo.write(USER, [demo.users["ethan"]], {"name": "Ethan Renamed"})
    await p.sync()
    access = await p.doc("user_access_matrix", "user_access_matrix", uid)
    assert access is not None and access["name"] == "Ethan Renamed"
    assert (await content()) > first
    await assert_clean(p)


async def test_opportunities_carry_their_salespersons_card_through_a_rename_and_archive(
    pipeline: Pipeline,
) -> None:
    # A page shows each row's salesperson from the card copied into the row (no profile
    # read), so the card must show what the profile shows, and move with it.
    p, demo = pipeline, pipeline.odoo.demo
    await p.sync()
    user = demo.users["ethan"]
    view = await active_collection(p.db, "opportunity_view", "opportunity_view")

    async def cards() -> list[dict[str, object]]:
        rows = [row async for row in view.find({"salesperson_id": str(user)})]
        assert rows
        return [row["salesperson"] for row in rows]

    async def profile_card() -> dict[str, object]:
        profile = await p.doc("user_profiles", "user_profiles", str(user))
        assert profile is not None
        return {k: profile[k] for k in ("name", "email", "active")} | {"id": str(user)}

    assert {tuple(sorted(c.items())) for c in await cards()} == {
        tuple(sorted((await profile_card()).items()))
    }
    assert (await profile_card())["active"] is True
    for change in ({"name": "Ethan Renamed"}, {"active": False}):
        p.odoo.clock.advance(60)
        p.odoo.write(USER, [user], change)
        await p.sync(SyncMode.FULL)
        expected = await profile_card()
        assert expected.items() >= change.items()
        assert all(card == expected for card in await cards())
    await assert_clean(p)
