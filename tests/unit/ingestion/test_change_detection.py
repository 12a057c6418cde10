"""Change detection and the event catalog: which events a record's diff produces."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.catalog import (
    DELETION_TYPES,
    EVENT_TYPES,
    MODEL_BY_EVENT_TYPE,
    MODEL_BY_STREAM_TYPE,
    STREAM_TYPE_BY_MODEL,
    canonical_model,
    record_from_event,
)
from domain.change_detection import detect_changes, stream_for
from domain.events import NewEvent, StreamRef
from domain.model import (
    EmployeeRecord,
    LeadRecord,
    PartnerRecord,
    Record,
    StageRecord,
    TeamRecord,
    UserRecord,
)
from domain.normalize import RECORD_TYPE_BY_MODEL, record_content

NOW = datetime(2026, 2, 10, 12, 0, tzinfo=UTC)
WON_STAGES = frozenset({9})

OPEN = LeadRecord(
    odoo_id=17,
    name="Big deal",
    user_id=7,
    team_id=1,
    stage_id=4,
    partner_id=30,
    expected_revenue=12000.0,
    probability=40.0,
    date_deadline="2026-03-31",
    create_date="2026-01-02T09:15:00Z",
    write_date="2026-02-03T10:20:30Z",
    company_id=1,
)
USER = UserRecord(7, "alice", "Alice", "alice@example.com", True, False, 1)
EMPLOYEE = EmployeeRecord(70, "Alice", 7, 71, "alice@example.com", True, 3, 1)
STAGE = StageRecord(4, "Proposition", 30, False, False)
TEAM = TeamRecord(1, "Europe", 7, (7, 8))
PARTNER = PartnerRecord(30, "Azure Interior", True, None, True)

SAMPLES: dict[str, Record] = {
    "crm.lead": OPEN,
    "res.users": USER,
    "hr.employee": EMPLOYEE,
    "hr.employee.public": EMPLOYEE,
    "crm.stage": STAGE,
    "crm.team": TEAM,
    "res.partner": PARTNER,
}


def detect(
    previous: Record | None,
    current: Record | None,
    model: str = "crm.lead",
    **kwargs: Any,
) -> list[NewEvent]:
    kwargs.setdefault("won_stage_ids", WON_STAGES)
    return detect_changes(model, previous, current, source="test", occurred_at=NOW, **kwargs)


def types(events: list[NewEvent]) -> list[str]:
    return [event.type for event in events]


def only(events: list[NewEvent]) -> dict[str, Any]:
    assert len(events) == 1, types(events)
    return dict(events[0].data)


def touched(lead: LeadRecord, **changes: Any) -> LeadRecord:
    """A new snapshot as Odoo would send it: the changes plus a later write_date."""
    return replace(lead, write_date="2026-02-04T08:00:00Z", **changes)


# --- appeared / deleted / unchanged -------------------------------------------------------

APPEARED = {
    "crm.lead": "OpportunityAppeared",
    "res.users": "UserAppeared",
    "hr.employee": "EmployeeAppeared",
    "hr.employee.public": "EmployeeAppeared",
    "crm.stage": "StageAppeared",
    "crm.team": "TeamAppeared",
    "res.partner": "PartnerAppeared",
}
DELETED = {
    "crm.lead": "OpportunityDeleted",
    "res.users": "UserDeleted",
    "hr.employee": "EmployeeDeleted",
    "hr.employee.public": "EmployeeDeleted",
    "crm.stage": "StageDeleted",
    "crm.team": "TeamDeleted",
    "res.partner": "PartnerDeleted",
}


@pytest.mark.parametrize("model", sorted(SAMPLES))
def test_first_sighting_is_appeared_with_the_full_record(model: str) -> None:
    record = SAMPLES[model]
    events = detect(None, record, model)
    assert types(events) == [APPEARED[model]]
    odoo_id = record.to_dict()["odoo_id"]
    assert events[0].data == {"odoo_id": odoo_id, "record": record.to_dict()}


@pytest.mark.parametrize("model", sorted(SAMPLES))
def test_disappearance_is_deleted_with_the_last_record(model: str) -> None:
    record = SAMPLES[model]
    events = detect(record, None, model)
    assert types(events) == [DELETED[model]]
    odoo_id = record.to_dict()["odoo_id"]
    assert events[0].data == {"odoo_id": odoo_id, "record": None, "last_record": record.to_dict()}
    assert events[0].occurred_at == NOW  # a deletion has no write_date: noticed now


@pytest.mark.parametrize("model", sorted(SAMPLES))
def test_unchanged_record_yields_nothing(model: str) -> None:
    record = SAMPLES[model]
    assert detect(record, record, model) == []
    assert detect(record, type(record).from_dict(record.to_dict()), model) == []


def test_never_seen_and_still_absent_yields_nothing() -> None:
    assert detect(None, None) == []


def test_touch_without_change_is_not_an_event() -> None:
    assert detect(OPEN, touched(OPEN)) == []


def test_first_sighting_of_a_lost_opportunity_is_only_appeared() -> None:
    lost = replace(OPEN, active=False, probability=0.0, lost_reason_id=2)
    assert types(detect(None, lost)) == ["OpportunityAppeared"]


# --- opportunities ------------------------------------------------------------------------


def test_stage_change() -> None:
    data = only(detect(OPEN, touched(OPEN, stage_id=5)))
    assert data["from_stage_id"] == 4
    assert data["to_stage_id"] == 5
    assert data["record"]["stage_id"] == 5
    assert types(detect(OPEN, touched(OPEN, stage_id=5))) == ["OpportunityStageChanged"]


def test_won_replaces_stage_changed_and_absorbs_odoo_bookkeeping() -> None:
    won = touched(OPEN, stage_id=9, probability=100.0, date_closed="2026-02-04T08:00:00Z")
    events = detect(OPEN, won)
    assert types(events) == ["OpportunityWon"]
    data = dict(events[0].data)
    assert (data["from_stage_id"], data["to_stage_id"]) == (4, 9)
    assert (data["from_probability"], data["to_probability"]) == (40.0, 100.0)
    assert data["record"] == won.to_dict()


def test_win_with_a_revenue_change_reports_both() -> None:
    won = touched(OPEN, stage_id=9, probability=100.0, expected_revenue=15000.0)
    assert types(detect(OPEN, won)) == ["OpportunityWon", "OpportunityRevenueChanged"]


def test_win_is_not_claimed_without_stage_knowledge() -> None:
    won = touched(OPEN, stage_id=9, probability=100.0)
    events = detect(OPEN, won, won_stage_ids=None)
    assert types(events) == ["OpportunityStageChanged", "OpportunityRevenueChanged"]


def test_moves_that_are_not_wins() -> None:
    in_won = replace(OPEN, stage_id=9, probability=100.0)
    two_won_stages = frozenset({9, 10})
    between_won = detect(in_won, touched(in_won, stage_id=10), won_stage_ids=two_won_stages)
    assert types(between_won) == ["OpportunityStageChanged"]
    reopened = detect(in_won, touched(in_won, stage_id=4, probability=40.0))
    assert types(reopened) == ["OpportunityStageChanged", "OpportunityRevenueChanged"]
    archived = replace(OPEN, active=False)
    moved_while_archived = detect(archived, touched(archived, stage_id=9))
    assert types(moved_while_archived) == ["OpportunityStageChanged"]


def test_lost_not_archived() -> None:
    lost = touched(
        OPEN,
        active=False,
        probability=0.0,
        lost_reason_id=2,
        date_closed="2026-02-04T08:00:00Z",
    )
    data = only(detect(OPEN, lost))
    assert types(detect(OPEN, lost)) == ["OpportunityLost"]
    assert data["lost_reason_id"] == 2
    assert (data["from_probability"], data["to_probability"]) == (40.0, 0.0)


def test_archived_is_not_lost() -> None:
    events = detect(OPEN, touched(OPEN, active=False))
    assert types(events) == ["OpportunityArchived"]
    assert events[0].data["to_probability"] == 40.0


def test_archived_with_a_new_probability_reports_the_probability() -> None:
    events = detect(OPEN, touched(OPEN, active=False, probability=10.0))
    assert types(events) == ["OpportunityRevenueChanged", "OpportunityArchived"]


def test_archived_then_lost_and_back_while_inactive() -> None:
    archived = replace(OPEN, active=False)
    lost = touched(archived, probability=0.0, lost_reason_id=2)
    assert types(detect(archived, lost)) == ["OpportunityLost"]
    back = touched(lost, probability=25.0)
    assert types(detect(lost, back)) == ["OpportunityRevenueChanged", "OpportunityArchived"]


def test_restored_absorbs_odoo_recomputation() -> None:
    lost = replace(OPEN, active=False, probability=0.0, lost_reason_id=2, date_closed="x")
    restored = touched(lost, active=True, probability=30.0, lost_reason_id=None, date_closed=None)
    events = detect(lost, restored)
    assert types(events) == ["OpportunityRestored"]
    assert (events[0].data["from_probability"], events[0].data["to_probability"]) == (0.0, 30.0)


def test_reassignment() -> None:
    data = only(detect(OPEN, touched(OPEN, user_id=8)))
    assert (data["from_user_id"], data["to_user_id"]) == (7, 8)
    unassigned = only(detect(OPEN, touched(OPEN, user_id=None)))
    assert (unassigned["from_user_id"], unassigned["to_user_id"]) == (7, None)


@pytest.mark.parametrize(
    "change",
    [{"expected_revenue": 15000.0}, {"probability": 60.0}, {"probability": 100.0}],
)
def test_revenue_or_probability_change(change: dict[str, float]) -> None:
    new = touched(OPEN, **change)
    events = detect(OPEN, new)
    assert types(events) == ["OpportunityRevenueChanged"]
    assert events[0].data == {
        "odoo_id": 17,
        "record": new.to_dict(),
        "from_expected_revenue": 12000.0,
        "to_expected_revenue": new.expected_revenue,
        "from_probability": 40.0,
        "to_probability": new.probability,
    }


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", "Bigger deal"),
        ("type", "lead"),
        ("team_id", None),
        ("partner_id", 31),
        ("date_deadline", "2026-04-30"),
        ("date_closed", "2026-02-04T08:00:00Z"),
        ("lost_reason_id", 3),
        ("create_date", "2026-01-01T00:00:00Z"),
        ("company_id", 2),
    ],
)
def test_details_change(field: str, value: Any) -> None:
    data = only(detect(OPEN, touched(OPEN, **{field: value})))
    assert data["changes"] == {field: {"from": OPEN.to_dict()[field], "to": value}}


def test_details_of_a_conversion_from_lead() -> None:
    lead = replace(OPEN, type="lead")
    events = detect(lead, touched(lead, type="opportunity", name="Qualified"))
    assert types(events) == ["OpportunityDetailsChanged"]
    assert events[0].data["changes"] == {
        "name": {"from": "Big deal", "to": "Qualified"},
        "type": {"from": "lead", "to": "opportunity"},
    }


def test_several_changes_in_one_diff_in_a_fixed_order() -> None:
    assert types(detect(OPEN, touched(OPEN, stage_id=5, expected_revenue=1.0))) == [
        "OpportunityStageChanged",
        "OpportunityRevenueChanged",
    ]
    archived = replace(OPEN, active=False, probability=20.0)
    everything = touched(
        archived,
        active=True,
        stage_id=9,
        probability=100.0,
        user_id=8,
        expected_revenue=1.0,
        name="Renamed",
    )
    assert types(detect(archived, everything)) == [
        "OpportunityRestored",
        "OpportunityWon",
        "OpportunityReassigned",
        "OpportunityRevenueChanged",
        "OpportunityDetailsChanged",
    ]
    closing = touched(OPEN, active=False, probability=0.0, user_id=None, name="Gone")
    assert types(detect(OPEN, closing)) == [
        "OpportunityReassigned",
        "OpportunityDetailsChanged",
        "OpportunityLost",
    ]


def test_every_event_of_a_diff_carries_the_same_full_record() -> None:
    new = touched(OPEN, stage_id=5, user_id=8, expected_revenue=1.0, name="x")
    events = detect(OPEN, new)
    assert len(events) == 4
    assert all(event.data["record"] == new.to_dict() for event in events)


# --- users, employees, stages, teams, partners ---------------------------------------------


def test_user_deactivated_and_reactivated() -> None:
    inactive = replace(USER, active=False)
    assert types(detect(USER, inactive, "res.users")) == ["UserDeactivated"]
    assert types(detect(inactive, USER, "res.users")) == ["UserReactivated"]


def test_user_changed() -> None:
    data = only(detect(USER, replace(USER, email="alice@new.example", share=True), "res.users"))
    assert data["changes"] == {
        "email": {"from": "alice@example.com", "to": "alice@new.example"},
        "share": {"from": False, "to": True},
    }


def test_user_change_and_deactivation_in_one_diff() -> None:
    events = detect(USER, replace(USER, active=False, name="Alice (left)"), "res.users")
    assert types(events) == ["UserChanged", "UserDeactivated"]
    events = detect(replace(USER, active=False), replace(USER, name="Al"), "res.users")
    assert types(events) == ["UserReactivated", "UserChanged"]


def test_employee_manager_changed() -> None:
    data = only(detect(EMPLOYEE, replace(EMPLOYEE, parent_id=None), "hr.employee"))
    assert (data["from_parent_id"], data["to_parent_id"]) == (71, None)


def test_employee_user_link_changed() -> None:
    data = only(detect(EMPLOYEE, replace(EMPLOYEE, user_id=8), "hr.employee.public"))
    assert (data["from_user_id"], data["to_user_id"]) == (7, 8)


def test_employee_archived_restored_changed() -> None:
    archived = replace(EMPLOYEE, active=False)
    assert types(detect(EMPLOYEE, archived, "hr.employee")) == ["EmployeeArchived"]
    assert types(detect(archived, EMPLOYEE, "hr.employee")) == ["EmployeeRestored"]
    data = only(detect(EMPLOYEE, replace(EMPLOYEE, department_id=4), "hr.employee"))
    assert data["changes"] == {"department_id": {"from": 3, "to": 4}}


def test_employee_changes_in_order() -> None:
    archived = replace(EMPLOYEE, active=False)
    back = replace(EMPLOYEE, parent_id=72, user_id=None, work_email=None)
    assert types(detect(archived, back, "hr.employee")) == [
        "EmployeeRestored",
        "EmployeeManagerChanged",
        "EmployeeUserLinkChanged",
        "EmployeeChanged",
    ]
    leaving = replace(EMPLOYEE, active=False, parent_id=None, name="A.")
    assert types(detect(EMPLOYEE, leaving, "hr.employee")) == [
        "EmployeeManagerChanged",
        "EmployeeChanged",
        "EmployeeArchived",
    ]


def test_stage_team_partner_changed() -> None:
    data = only(detect(STAGE, replace(STAGE, is_won=True, sequence=90), "crm.stage"))
    assert data["changes"] == {
        "sequence": {"from": 30, "to": 90},
        "is_won": {"from": False, "to": True},
    }
    data = only(detect(TEAM, replace(TEAM, member_user_ids=(7,), active=False), "crm.team"))
    assert data["changes"] == {
        "member_user_ids": {"from": [7, 8], "to": [7]},
        "active": {"from": True, "to": False},
    }
    data = only(detect(PARTNER, replace(PARTNER, email="info@azure.example"), "res.partner"))
    assert data["changes"] == {"email": {"from": None, "to": "info@azure.example"}}
    assert types(detect(TEAM, replace(TEAM, name="EU"), "crm.team")) == ["TeamChanged"]
    assert types(detect(PARTNER, replace(PARTNER, name="Az"), "res.partner")) == ["PartnerChanged"]
    assert types(detect(STAGE, replace(STAGE, fold=True), "crm.stage")) == ["StageChanged"]


# --- envelope -----------------------------------------------------------------------------


def test_envelope_is_dated_by_write_date_and_carries_source_and_correlation() -> None:
    events = detect_changes(
        "crm.lead",
        OPEN,
        touched(OPEN, stage_id=5, user_id=8),
        source="odoo.webhook",
        correlation_id="corr-1",
        occurred_at=NOW,
    )
    for event in events:
        assert event.occurred_at == datetime(2026, 2, 4, 8, 0, tzinfo=UTC)
        assert event.source == "odoo.webhook"
        assert event.correlation_id == "corr-1"
        assert event.causation_id is None
        assert event.schema_version == EVENT_TYPES[event.type]
    assert len({event.id for event in events}) == len(events)


def test_records_without_write_date_are_dated_by_the_caller_or_now() -> None:
    assert detect(None, USER, "res.users")[0].occurred_at == NOW
    no_write_date = replace(OPEN, write_date=None)
    assert detect(None, no_write_date)[0].occurred_at == NOW
    before = datetime.now(UTC)
    event = detect_changes("res.users", None, USER, source="test")[0]
    assert before <= event.occurred_at <= datetime.now(UTC)


def test_event_data_is_plain_json() -> None:
    new = touched(OPEN, stage_id=9, probability=100.0, user_id=8, name="x")
    for event in [*detect(OPEN, new), *detect(OPEN, None), *detect(TEAM, None, "crm.team")]:
        assert json.loads(json.dumps(event.data)) == event.data


@pytest.mark.parametrize(
    ("model", "previous", "current", "error"),
    [
        ("sale.order", None, OPEN, ValueError),
        ("res.users", None, OPEN, TypeError),
        ("crm.lead", USER, None, TypeError),
        ("crm.lead", OPEN, replace(OPEN, odoo_id=18), ValueError),
    ],
)
def test_programming_errors(
    model: str, previous: Record | None, current: Record | None, error: type[Exception]
) -> None:
    with pytest.raises(error):
        detect(previous, current, model)


# --- catalog ------------------------------------------------------------------------------


def test_streams() -> None:
    assert stream_for("crm.lead", 42) == StreamRef("opportunity", "42")
    assert stream_for("hr.employee.public", 7).key == "employee/7"
    assert stream_for("hr.employee", 7) == stream_for("hr.employee.public", 7)
    assert STREAM_TYPE_BY_MODEL == {
        "crm.lead": "opportunity",
        "res.users": "user",
        "hr.employee": "employee",
        "hr.employee.public": "employee",
        "crm.stage": "stage",
        "crm.team": "team",
        "res.partner": "partner",
    }
    assert MODEL_BY_STREAM_TYPE["employee"] == "hr.employee"
    assert canonical_model("hr.employee.public") == "hr.employee"
    with pytest.raises(ValueError, match="unknown model"):
        stream_for("sale.order", 1)
    with pytest.raises(ValueError, match="unknown model"):
        canonical_model("sale.order")


def test_catalog_names_and_versions() -> None:
    assert (
        dict.fromkeys(
            [
                "OpportunityAppeared",
                "OpportunityDetailsChanged",
                "OpportunityDeleted",
                "OpportunityStageChanged",
                "OpportunityWon",
                "OpportunityLost",
                "OpportunityArchived",
                "OpportunityRestored",
                "OpportunityReassigned",
                "OpportunityRevenueChanged",
                "UserAppeared",
                "UserChanged",
                "UserDeleted",
                "UserDeactivated",
                "UserReactivated",
                "EmployeeAppeared",
                "EmployeeChanged",
                "EmployeeDeleted",
                "EmployeeManagerChanged",
                "EmployeeUserLinkChanged",
                "EmployeeArchived",
                "EmployeeRestored",
                "StageAppeared",
                "StageChanged",
                "StageDeleted",
                "TeamAppeared",
                "TeamChanged",
                "TeamDeleted",
                "PartnerAppeared",
                "PartnerChanged",
                "PartnerDeleted",
            ],
            1,
        )
        == EVENT_TYPES
    )
    assert set(MODEL_BY_EVENT_TYPE) == set(EVENT_TYPES)
    assert {t for t in EVENT_TYPES if t.endswith("Deleted")} == DELETION_TYPES


def test_record_from_event() -> None:
    new = touched(OPEN, stage_id=5)
    (event,) = detect(OPEN, new)
    assert record_from_event(event.type, event.data) == ("crm.lead", new)
    (gone,) = detect(EMPLOYEE, None, "hr.employee.public")
    assert record_from_event(gone.type, gone.data) == ("hr.employee", None)
    (team,) = detect(None, TEAM, "crm.team")
    # Through JSON, as the store hands it back: lists become tuples again.
    assert record_from_event(team.type, json.loads(json.dumps(team.data))) == ("crm.team", TEAM)
    with pytest.raises(ValueError, match="not a record event"):
        record_from_event("SyncRunStarted", {})
    with pytest.raises(ValueError, match="carries no record"):
        record_from_event("OpportunityAppeared", {"odoo_id": 1})


# --- properties ---------------------------------------------------------------------------

small_ids = st.sampled_from([None, 1, 2, 9])
leads = st.builds(
    LeadRecord,
    odoo_id=st.just(17),
    name=st.sampled_from(["a", "b"]),
    type=st.sampled_from(["lead", "opportunity"]),
    user_id=small_ids,
    team_id=small_ids,
    stage_id=small_ids,
    partner_id=small_ids,
    expected_revenue=st.sampled_from([0.0, 100.0, 2500.5]),
    probability=st.sampled_from([0.0, 10.0, 50.0, 100.0]),
    date_deadline=st.sampled_from([None, "2026-03-31"]),
    date_closed=st.sampled_from([None, "2026-02-01T00:00:00Z"]),
    create_date=st.sampled_from([None, "2026-01-01T00:00:00Z"]),
    write_date=st.sampled_from([None, "2026-02-01T00:00:00Z", "2026-02-02T00:00:00Z"]),
    active=st.booleans(),
    lost_reason_id=small_ids,
    company_id=small_ids,
)
users = st.builds(
    UserRecord,
    odoo_id=st.just(7),
    login=st.sampled_from(["alice", "alice@example.com"]),
    name=st.sampled_from(["Alice", "A"]),
    email=st.sampled_from([None, "Alice@Example.com"]),
    active=st.booleans(),
    share=st.booleans(),
    company_id=small_ids,
)
employees = st.builds(
    EmployeeRecord,
    odoo_id=st.just(70),
    name=st.sampled_from(["Alice", "A"]),
    user_id=small_ids,
    parent_id=small_ids,
    work_email=st.sampled_from([None, "alice@example.com"]),
    active=st.booleans(),
    department_id=small_ids,
    company_id=small_ids,
)
stages = st.builds(
    StageRecord,
    odoo_id=st.just(4),
    name=st.sampled_from(["New", "Won"]),
    sequence=st.sampled_from([1, 10]),
    is_won=st.booleans(),
    fold=st.booleans(),
)
teams = st.builds(
    TeamRecord,
    odoo_id=st.just(1),
    name=st.sampled_from(["EU", "US"]),
    leader_user_id=small_ids,
    member_user_ids=st.sampled_from([(), (1,), (1, 2)]),
    active=st.booleans(),
)
partners = st.builds(
    PartnerRecord,
    odoo_id=st.just(30),
    name=st.sampled_from(["", "Azure"]),
    is_company=st.booleans(),
    email=st.sampled_from([None, "info@azure.example"]),
    active=st.booleans(),
)
RECORDS: dict[str, st.SearchStrategy[Any]] = {
    "crm.lead": leads,
    "res.users": users,
    "hr.employee": employees,
    "hr.employee.public": employees,
    "crm.stage": stages,
    "crm.team": teams,
    "res.partner": partners,
}
models = st.sampled_from(sorted(RECORDS))
won_stage_sets = st.sampled_from([None, frozenset(), frozenset({9}), frozenset({1, 9})])

# The order a diff's events come in (module docstring of domain/change_detection.py).
ORDER = [
    "OpportunityRestored",
    "OpportunityWon",
    "OpportunityStageChanged",
    "OpportunityReassigned",
    "OpportunityRevenueChanged",
    "OpportunityDetailsChanged",
    "OpportunityLost",
    "OpportunityArchived",
    "UserReactivated",
    "UserChanged",
    "UserDeactivated",
    "EmployeeRestored",
    "EmployeeManagerChanged",
    "EmployeeUserLinkChanged",
    "EmployeeChanged",
    "EmployeeArchived",
    "StageChanged",
    "TeamChanged",
    "PartnerChanged",
]


@given(models.flatmap(lambda m: st.tuples(st.just(m), RECORDS[m])), won_stage_sets)
def test_appear_then_repeat_yields_nothing(
    model_record: tuple[str, Record], won: frozenset[int] | None
) -> None:
    model, record = model_record
    assert types(detect(None, record, model, won_stage_ids=won)) == [APPEARED[model]]
    assert detect(record, record, model, won_stage_ids=won) == []


@given(models.flatmap(lambda m: st.tuples(st.just(m), RECORDS[m], RECORDS[m])), won_stage_sets)
def test_every_diff_is_explained_and_reproduces_current(
    model_previous_current: tuple[str, Record, Record], won: frozenset[int] | None
) -> None:
    model, previous, current = model_previous_current
    events = detect(previous, current, model, won_stage_ids=won)
    changed = record_content(previous) != record_content(current)
    assert bool(events) == changed
    for event in events:
        assert record_from_event(event.type, event.data) == (canonical_model(model), current)
        assert event.schema_version == EVENT_TYPES[event.type]
    emitted = types(events)
    assert len(set(emitted)) == len(emitted)
    assert emitted == sorted(emitted, key=ORDER.index)
    assert types(detect(previous, current, model, won_stage_ids=won)) == emitted
    if "OpportunityWon" in emitted:
        assert "OpportunityStageChanged" not in emitted
    assert not {"OpportunityLost", "OpportunityArchived"} <= set(emitted)


@given(
    models.flatmap(lambda m: st.tuples(st.just(m), st.lists(st.none() | RECORDS[m], max_size=8))),
    won_stage_sets,
)
def test_folding_events_reproduces_every_snapshot(
    model_snapshots: tuple[str, list[Record | None]], won: frozenset[int] | None
) -> None:
    model, snapshots = model_snapshots
    folded: Record | None = None  # what a projection holds, from events alone
    for snapshot in snapshots:
        for event in detect(folded, snapshot, model, won_stage_ids=won):
            _, folded = record_from_event(event.type, event.data)
        if snapshot is None:
            assert folded is None
        else:
            assert folded is not None
            assert record_content(folded) == record_content(snapshot)


@given(leads, leads)
def test_opportunity_status_events_match_the_status_change(
    previous: LeadRecord, current: LeadRecord
) -> None:
    emitted = set(types(detect(previous, current)))
    became_lost = not current.active and current.probability == 0
    was_lost = not previous.active and previous.probability == 0
    if became_lost and not was_lost:
        assert "OpportunityLost" in emitted
    if "OpportunityLost" in emitted:
        assert became_lost
    if "OpportunityArchived" in emitted:
        assert not current.active
        assert current.probability > 0
    assert ("OpportunityRestored" in emitted) == (not previous.active and current.active)


def test_record_types_cover_the_catalog() -> None:
    kinds = {canonical_model(model) for model in RECORD_TYPE_BY_MODEL}
    assert kinds == set(MODEL_BY_EVENT_TYPE.values())
