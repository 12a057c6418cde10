"""Dashboard numbers (PRODUCT.md §3 "Opportunities" and "Dashboard"): one example per rule,
then every number of every viewer against the naive reference, and incremental folding
against a full recompute."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.access import Viewer
from domain.metrics import (
    UNIT,
    Aggregate,
    Contribution,
    DashboardData,
    DashboardScope,
    DashboardState,
    Metrics,
    compute_dashboard,
    compute_state,
    contribution_of,
    dashboard_scope,
    round_money,
    to_units,
    viewer_deltas,
)
from domain.model import EmployeeRecord, LeadRecord, OpportunityStatus, StageRecord, UserRecord
from domain.org import OrgChart, changed_access, resolve_org
from tests.unit.domain import reference as ref
from tests.unit.domain.reference import lead_record, lead_records, org_records, stage_records

NEW = StageRecord(odoo_id=1, name="New", sequence=1)
PROPOSAL = StageRecord(odoo_id=2, name="proposal", sequence=2)
OFFER = StageRecord(odoo_id=4, name="Offer", sequence=2)
WON = StageRecord(odoo_id=3, name="Won", sequence=9, is_won=True)
STAGES = {s.odoo_id: s for s in (NEW, PROPOSAL, OFFER, WON)}
ADMIN = Viewer(None, "root@corp.com", is_admin=True)

_ids = iter(range(1, 10_000))


def lead(**kw: Any) -> LeadRecord:
    kw.setdefault("odoo_id", next(_ids))
    kw.setdefault("name", f"Deal {kw['odoo_id']}")
    kw.setdefault("stage_id", NEW.odoo_id)
    kw.setdefault("user_id", 1)
    return LeadRecord(**kw)


def won(**kw: Any) -> LeadRecord:
    return lead(stage_id=WON.odoo_id, probability=100.0, **kw)


def lost(**kw: Any) -> LeadRecord:
    return lead(active=False, probability=0.0, **kw)


def archived(**kw: Any) -> LeadRecord:
    return lead(active=False, probability=40.0, **kw)


def _team_org() -> OrgChart:
    """Manager 1 (Mia) heads 2 (al) and 3 (Bo); 4 (Cy) reports to 2 through nobody; 5 alone."""
    names = {1: "Mia", 2: "al", 3: "Bo", 4: "Cy", 5: "Eve"}
    users = [UserRecord(odoo_id=i, login=f"u{i}@corp.com", name=n) for i, n in names.items()]
    employees = [
        EmployeeRecord(odoo_id=10, name="Mia", user_id=1),
        EmployeeRecord(odoo_id=20, name="Al", user_id=2, parent_id=10),
        EmployeeRecord(odoo_id=30, name="Bo", user_id=3, parent_id=10),
        EmployeeRecord(odoo_id=40, name="Cy", user_id=4, parent_id=20),
        EmployeeRecord(odoo_id=50, name="Eve", user_id=5),
    ]
    return resolve_org(users, employees)


def dash(
    leads: list[LeadRecord], viewer: Viewer = ADMIN, org: OrgChart | None = None
) -> DashboardData:
    return compute_dashboard(viewer, org or _team_org(), leads, STAGES)


def _m(m: Metrics) -> ref.MetricsTuple:
    return (
        m.total_count,
        m.open_count,
        m.won_count,
        m.lost_count,
        m.pipeline_value,
        m.weighted_pipeline_value,
        m.won_value,
        m.win_rate,
        m.average_deal_size,
    )


def as_tuple(d: DashboardData) -> ref.DashboardTuple:
    return (
        d.scope.value,
        _m(d.metrics),
        [(r.stage.odoo_id, r.count, r.value) for r in d.by_stage],
        [(r.salesperson.id, _m(r.metrics)) for r in d.team],
    )


# -- opportunities ------------------------------------------------------------------------------


def test_records_of_type_lead_are_never_counted() -> None:
    assert contribution_of(lead(type="lead", expected_revenue=5.0), NEW) is None
    assert dash([lead(type="lead", expected_revenue=5.0)]).metrics.total_count == 0


def test_status_won_when_active_in_a_won_stage() -> None:
    c = contribution_of(won(), WON)
    assert c is not None and c.status is OpportunityStatus.WON


def test_status_lost_when_archived_at_probability_zero() -> None:
    c = contribution_of(lost(), NEW)
    assert c is not None and c.status is OpportunityStatus.LOST
    c = contribution_of(lost(stage_id=WON.odoo_id), WON)  # archived in a won stage: lost
    assert c is not None and c.status is OpportunityStatus.LOST


def test_status_open_otherwise_even_without_a_known_stage() -> None:
    for record, stage in [(lead(), NEW), (lead(stage_id=None), None), (lead(stage_id=77), None)]:
        c = contribution_of(record, stage)
        assert c is not None and c.status is OpportunityStatus.OPEN


def test_archived_is_excluded_everywhere() -> None:
    assert contribution_of(archived(), NEW) is None
    d = dash([archived(expected_revenue=10.0), archived(stage_id=WON.odoo_id)])
    assert (d.metrics.total_count, d.by_stage, d.team) == (0, (), ())


def test_value_is_expected_revenue_and_weighted_value_scales_by_probability() -> None:
    c = contribution_of(lead(expected_revenue=1000.0, probability=25.0), NEW)
    assert c is not None
    assert c.value == 1000 * UNIT
    assert round_money(c.weighted, UNIT * UNIT * 100) == 250.0
    # Probability is read as the decimal it prints as: 1.0000005 is a tie at 1e-6, kept even
    # (the float 1.0000005 * 1e6 is 1000000.5000000001, which would round up).
    c = contribution_of(lead(expected_revenue=1.0, probability=1.0000005), NEW)
    assert c is not None and c.weighted == UNIT * 1_000_000


def test_contribution_rejects_the_wrong_stage() -> None:
    with pytest.raises(ValueError, match="not the stage"):
        contribution_of(lead(stage_id=NEW.odoo_id), WON)


# -- dashboard metrics --------------------------------------------------------------------------

MIX = [
    lead(expected_revenue=100.0, probability=10.0),
    lead(expected_revenue=300.0, probability=50.0, stage_id=PROPOSAL.odoo_id),
    won(expected_revenue=1000.0),
    won(expected_revenue=500.0),
    lost(expected_revenue=70.0),
    archived(expected_revenue=9999.0),
    lead(type="lead", expected_revenue=9999.0),
]


def test_total_count_is_open_plus_won_plus_lost() -> None:
    m = dash(MIX).metrics
    assert (m.total_count, m.open_count, m.won_count, m.lost_count) == (5, 2, 2, 1)


def test_pipeline_value_sums_value_over_open() -> None:
    assert dash(MIX).metrics.pipeline_value == 400.0


def test_weighted_pipeline_value_sums_weighted_value_over_open() -> None:
    assert dash(MIX).metrics.weighted_pipeline_value == 160.0


def test_won_value_sums_value_over_won() -> None:
    assert dash(MIX).metrics.won_value == 1500.0


def test_win_rate_is_won_over_won_plus_lost_and_null_without_closed_deals() -> None:
    assert dash(MIX).metrics.win_rate == 2 / 3
    assert dash([lead()]).metrics.win_rate is None
    assert dash([lost()]).metrics.win_rate == 0.0


def test_average_deal_size_is_won_value_over_won_count_and_null_without_wins() -> None:
    assert dash(MIX).metrics.average_deal_size == 750.0
    assert (
        dash(
            [won(expected_revenue=10.0)] * 2 + [won(expected_revenue=0.01)]
        ).metrics.average_deal_size
        == 6.67
    )
    assert dash([lead(), lost()]).metrics.average_deal_size is None


def test_money_is_the_exact_sum_rounded_to_two_decimals() -> None:
    # Rounding each deal first would give 0.03 (or 0.00); floats summed would drift.
    assert dash([lead(expected_revenue=0.005)] * 3).metrics.pipeline_value == 0.02
    assert (
        dash([lead(expected_revenue=0.1), lead(expected_revenue=0.2)]).metrics.pipeline_value == 0.3
    )
    assert dash([lead(expected_revenue=2.675)]).metrics.pipeline_value == 2.68  # not 2.67
    weighted = dash([lead(expected_revenue=33.33, probability=33.33)] * 3).metrics
    assert weighted.weighted_pipeline_value == 33.33  # 33.326667 exactly, once


def test_by_stage_has_one_row_per_stage_with_open_or_won_deals() -> None:
    rows = dash([*MIX, lost(stage_id=OFFER.odoo_id)]).by_stage
    assert [(r.stage.odoo_id, r.count, r.value) for r in rows] == [
        (NEW.odoo_id, 1, 100.0),
        (PROPOSAL.odoo_id, 1, 300.0),
        (WON.odoo_id, 2, 1500.0),
    ]  # OFFER holds only a lost deal: no row; the lost deal in NEW is not counted there


def test_by_stage_is_ordered_by_sequence_then_name() -> None:
    rows = dash(
        [
            lead(stage_id=WON.odoo_id, active=True),
            lead(stage_id=PROPOSAL.odoo_id),
            lead(stage_id=OFFER.odoo_id),
        ]
    ).by_stage
    assert [r.stage.name for r in rows] == ["Offer", "proposal", "Won"]


def test_by_stage_skips_deals_without_a_known_stage() -> None:
    d = dash([lead(stage_id=None), lead(stage_id=77)])
    assert (d.metrics.open_count, d.by_stage) == (2, ())


def test_team_rows_per_salesperson_ordered_by_pipeline_value_desc_then_name() -> None:
    leads = [
        lead(user_id=1, expected_revenue=50.0),
        lead(user_id=2, expected_revenue=100.0),
        lead(user_id=3, expected_revenue=100.0),
        lost(user_id=4),  # a lost deal alone still makes a row
        archived(user_id=5),  # an archived one does not
    ]
    d = dash(leads, Viewer("1", "u1@corp.com"))
    assert d.scope is DashboardScope.TEAM
    assert [(r.salesperson.name, r.metrics.pipeline_value) for r in d.team] == [
        ("al", 100.0),  # names compare case-insensitively
        ("Bo", 100.0),
        ("Mia", 50.0),
        ("Cy", 0.0),
    ]
    assert d.team[3].metrics.lost_count == 1


def test_team_rows_only_in_team_or_all_scope() -> None:
    d = dash([lead(user_id=3)], Viewer("3", "u3@corp.com"))
    assert (d.scope, d.team) == (DashboardScope.OWN, ())


def test_team_rows_skip_salespeople_without_a_profile() -> None:
    d = dash([lead(user_id=None), lead(user_id=404), lead(user_id=5)])
    assert d.metrics.open_count == 3
    assert [r.salesperson.id for r in d.team] == ["5"]


def test_scope_is_all_for_admins_team_with_a_direct_report_else_own() -> None:
    org = _team_org()
    assert dashboard_scope(ADMIN, org) is DashboardScope.ALL
    assert dashboard_scope(Viewer("1", "u1@corp.com", is_admin=True), org) is DashboardScope.ALL
    assert dashboard_scope(Viewer("2", "u2@corp.com"), org) is DashboardScope.TEAM
    assert dashboard_scope(Viewer("4", "u4@corp.com"), org) is DashboardScope.OWN


def test_scope_is_own_when_the_only_report_is_archived_but_their_deals_still_count() -> None:
    users = [
        UserRecord(odoo_id=1, login="a@x.com", name="A"),
        UserRecord(odoo_id=2, login="b@x.com", name="B", active=False),
    ]
    employees = [
        EmployeeRecord(odoo_id=1, name="A", user_id=1),
        EmployeeRecord(odoo_id=2, name="B", user_id=2, parent_id=1, active=False),
    ]
    d = dash(
        [lead(user_id=2, expected_revenue=5.0)],
        Viewer("1", "a@x.com"),
        resolve_org(users, employees),
    )
    assert (d.scope, d.metrics.pipeline_value, d.team) == (DashboardScope.OWN, 5.0, ())


def test_dashboard_counts_only_the_viewers_visible_deals() -> None:
    leads = [
        lead(user_id=1, expected_revenue=1.0),
        lead(user_id=4, expected_revenue=2.0),
        lead(user_id=5, expected_revenue=4.0),
        lead(user_id=None, expected_revenue=8.0),
    ]
    assert dash(leads, Viewer("1", "u1@corp.com")).metrics.pipeline_value == 3.0
    assert dash(leads, Viewer("2", "u2@corp.com")).metrics.pipeline_value == 2.0
    assert dash(leads, Viewer("5", "u5@corp.com")).metrics.pipeline_value == 4.0
    assert dash(leads).metrics.pipeline_value == 15.0


def test_archived_users_deals_roll_up_to_their_managers() -> None:
    users = [
        UserRecord(odoo_id=1, login="m@x.com", name="M"),
        UserRecord(odoo_id=2, login="r@x.com", name="R", active=False),
    ]
    employees = [
        EmployeeRecord(odoo_id=1, name="M", user_id=1),
        EmployeeRecord(odoo_id=2, name="R", user_id=2, parent_id=1),
        EmployeeRecord(odoo_id=3, name="X", parent_id=1),
    ]
    d = dash(
        [won(user_id=2, expected_revenue=7.0)],
        Viewer("1", "m@x.com"),
        resolve_org(users, employees),
    )
    assert d.metrics.won_value == 7.0
    assert [r.salesperson.id for r in d.team] == ["2"]


def test_dashboard_carries_viewer_and_position() -> None:
    org = _team_org()
    d = compute_dashboard(Viewer("2", "u2@corp.com"), org, [], STAGES, as_of=42)
    assert d.viewer is not None and d.viewer.id == "2"
    assert d.as_of == 42
    assert dash([]).viewer is None


# -- additivity ---------------------------------------------------------------------------------


def test_add_then_remove_restores_the_aggregate_exactly() -> None:
    c = contribution_of(lead(expected_revenue=0.1, probability=33.33), NEW)
    assert c is not None
    base = Aggregate().add(Contribution(OpportunityStatus.WON, "1", 3, 7, 0))
    assert base.add(c).remove(c) == base
    with pytest.raises(ValueError, match="not added"):
        Aggregate().remove(c)


def test_state_round_trips_through_dict() -> None:
    state = compute_state(
        ADMIN,
        _team_org(),
        [*MIX, lead(user_id=None, stage_id=None, expected_revenue=1e12, probability=99.5)],
        STAGES,
    )
    assert DashboardState.from_dict(state.to_dict()) == state
    assert state.to_dict()["totals"]["open_weighted"] == str(state.totals.open_weighted)


def test_to_units_reads_the_decimal_the_float_prints_as() -> None:
    assert to_units(0.1 + 0.2) == 300_000  # 0.30000000000000004
    assert to_units(1.0000005) == 1_000_000  # half-even at the 7th decimal
    assert to_units(-2.5) == -2_500_000


def test_round_money_rounds_half_away_from_zero() -> None:
    assert (round_money(5_000), round_money(-5_000), round_money(4_999)) == (0.01, -0.01, 0.0)


# -- properties ---------------------------------------------------------------------------------

PROPERTY = settings(max_examples=100, deadline=None)


@PROPERTY
@given(st.data())
def test_every_dashboard_matches_reference(data: st.DataObject) -> None:
    users, employees = data.draw(org_records())
    stages = {s.odoo_id: s for s in data.draw(stage_records())}
    leads = data.draw(lead_records([u.odoo_id for u in users], list(stages)))
    org, r = resolve_org(users, employees), ref.ref_org(users, employees)
    for uid in sorted(r.users):
        got = as_tuple(compute_dashboard(Viewer(uid, "v@x.com"), org, leads, stages))
        assert got == ref.dashboard(r, uid, False, leads, stages)
        admin = as_tuple(
            compute_dashboard(Viewer(uid, "v@x.com", is_admin=True), org, leads, stages)
        )
        assert admin == ref.dashboard(r, uid, True, leads, stages)
    got = as_tuple(compute_dashboard(ADMIN, org, leads, stages))
    assert got == ref.dashboard(r, None, True, leads, stages)


def _contribution(record: LeadRecord | None, stages: dict[int, StageRecord]) -> Contribution | None:
    if record is None:
        return None
    stage = stages.get(record.stage_id) if record.stage_id is not None else None
    return contribution_of(record, stage)


@PROPERTY
@given(st.data())
def test_incremental_updates_equal_a_full_recompute(data: st.DataObject) -> None:
    """Random upserts and deletes of opportunities, interleaved with org changes, folded the
    way a projection folds them: the admin state takes every change, each user's state the
    changes ``viewer_deltas`` routes to them, and after an org change only the users named
    by ``changed_access`` are recomputed. Every state must equal a full recompute."""
    users, employees = data.draw(org_records())
    stages = {s.odoo_id: s for s in data.draw(stage_records())}
    user_ids = [u.odoo_id for u in users]
    org = resolve_org(users, employees)
    leads: dict[int, LeadRecord] = {}
    admin = DashboardState()
    states = {uid: DashboardState() for uid in org.user_ids}
    steps = data.draw(
        st.lists(st.sampled_from(["upsert", "upsert", "upsert", "delete", "org"]), max_size=25)
    )
    for step in steps:
        if step == "org":
            more_users, more_employees = data.draw(org_records())
            users = list({u.odoo_id: u for u in users[::2] + more_users}.values())
            employees = list({e.odoo_id: e for e in employees[::2] + more_employees}.values())
            user_ids = [u.odoo_id for u in users]
            new_org = resolve_org(users, employees)
            for uid in changed_access(org, new_org):
                states.pop(uid, None)
                if uid in new_org.user_ids:
                    states[uid] = compute_state(
                        Viewer(uid, "v@x.com"), new_org, leads.values(), stages
                    )
            org = new_org
            continue
        odoo_id = data.draw(st.integers(1, 12))
        before = leads.get(odoo_id)
        after = (
            data.draw(lead_record(odoo_id, [*user_ids, 88], list(stages)))
            if step == "upsert"
            else None
        )
        if after is None:
            leads.pop(odoo_id, None)
        else:
            leads[odoo_id] = after
        old_c, new_c = _contribution(before, stages), _contribution(after, stages)
        admin.apply(old_c, new_c)
        for uid, (o, n) in viewer_deltas(old_c, new_c, org).items():
            states[uid].apply(o, n)

    assert admin == compute_state(ADMIN, org, leads.values(), stages)
    assert set(states) == set(org.user_ids)
    for uid, state in states.items():
        viewer = Viewer(uid, "v@x.com")
        assert state == compute_state(viewer, org, leads.values(), stages)
        rendered = state.render(
            stages, org.profiles, scope=dashboard_scope(viewer, org), viewer=org.profile(uid)
        )
        assert rendered == compute_dashboard(viewer, org, leads.values(), stages)
    for uid in org.user_ids:  # emptied states hold no leftovers
        assert all(not a.is_empty for a in states[uid].by_stage.values())


@PROPERTY
@given(st.data())
def test_adding_then_removing_any_contributions_restores_the_state(data: st.DataObject) -> None:
    stages = {s.odoo_id: s for s in data.draw(stage_records())}
    base_leads = data.draw(lead_records([1, 2, 3], list(stages)))
    extra = data.draw(lead_records([1, 2, 3], list(stages)))
    state = DashboardState()
    for x in base_leads:
        state.apply(None, _contribution(x, stages))
    snapshot = state.copy()
    added = [c for c in (_contribution(x, stages) for x in extra) if c is not None]
    for c in added:
        state.add(c)
    for c in data.draw(st.permutations(added)):
        state.remove(c)
    assert state == snapshot
    assert DashboardState.from_dict(state.to_dict()) == state
