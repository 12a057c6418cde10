"""Normalization of raw Odoo records (ODOO.md "Values in search_read results")."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.model import (
    EmployeeRecord,
    LeadRecord,
    PartnerRecord,
    StageRecord,
    TeamRecord,
    UserRecord,
)
from domain.normalize import (
    MODEL_FIELDS,
    RECORD_TYPE_BY_MODEL,
    RecordRejected,
    content_hash,
    normalize,
    record_hash,
)

# --- examples as Odoo sends them ----------------------------------------------------------


def search_read_lead(**overrides: Any) -> dict[str, Any]:
    """A crm.lead row as ``search_read`` returns it (many2one as ``[id, name]``)."""
    row: dict[str, Any] = {
        "id": 17,
        "name": "Big deal",
        "type": "opportunity",
        "user_id": [7, "Alice"],
        "team_id": [1, "Europe"],
        "stage_id": [4, "Proposition"],
        "partner_id": [30, "Azure Interior"],
        "expected_revenue": 12000.0,
        "probability": 40.0,
        "date_deadline": "2026-03-31",
        "date_closed": False,
        "create_date": "2026-01-02 09:15:00",
        "write_date": "2026-02-03 10:20:30",
        "active": True,
        "lost_reason_id": False,
        "company_id": [1, "My Company"],
    }
    row.update(overrides)
    return row


def webhook_lead(**overrides: Any) -> dict[str, Any]:
    """The same lead as a webhook body / ``load=None`` read: bare ids and the ``_`` keys."""
    body: dict[str, Any] = {
        **search_read_lead(),
        "_action": "Notify(#42)",
        "_id": 17,
        "_model": "crm.lead",
        "user_id": 7,
        "team_id": 1,
        "stage_id": 4,
        "partner_id": 30,
        "company_id": 1,
    }
    body.update(overrides)
    return body


EXPECTED_LEAD = LeadRecord(
    odoo_id=17,
    name="Big deal",
    type="opportunity",
    user_id=7,
    team_id=1,
    stage_id=4,
    partner_id=30,
    expected_revenue=12000.0,
    probability=40.0,
    date_deadline="2026-03-31",
    date_closed=None,
    create_date="2026-01-02T09:15:00Z",
    write_date="2026-02-03T10:20:30Z",
    active=True,
    lost_reason_id=None,
    company_id=1,
)


def raw_stage(**overrides: Any) -> dict[str, Any]:
    return {"id": 4, "name": "Won", "sequence": 70, "is_won": True, "fold": False, **overrides}


def raw_team(**overrides: Any) -> dict[str, Any]:
    row = {"id": 1, "name": "Europe", "user_id": [7, "Alice"], "member_ids": [9, 7, 9, 8]}
    return {**row, "active": True, **overrides}


def raw_user(**overrides: Any) -> dict[str, Any]:
    row = {"id": 7, "login": "alice", "email": "Alice@Example.com", "name": "Alice"}
    return {**row, "share": False, "active": True, "company_id": [1, "My Company"], **overrides}


def raw_employee(**overrides: Any) -> dict[str, Any]:
    row = {"id": 70, "name": "Alice", "user_id": [7, "Alice"], "parent_id": [71, "Bob"]}
    return {
        **row,
        "work_email": "alice@example.com",
        "active": True,
        "department_id": [3, "Sales"],
        "company_id": [1, "My Company"],
        **overrides,
    }


def raw_partner(**overrides: Any) -> dict[str, Any]:
    row = {"id": 30, "name": "Azure Interior", "is_company": True, "email": False}
    return {**row, "active": True, **overrides}


RAW_BY_MODEL = {
    "crm.lead": search_read_lead,
    "crm.stage": raw_stage,
    "crm.team": raw_team,
    "res.users": raw_user,
    "hr.employee": raw_employee,
    "hr.employee.public": raw_employee,
    "res.partner": raw_partner,
}


def test_lead_from_search_read() -> None:
    assert normalize("crm.lead", search_read_lead()) == EXPECTED_LEAD


def test_lead_from_webhook_body_is_the_same_record() -> None:
    assert normalize("crm.lead", webhook_lead()) == EXPECTED_LEAD
    assert content_hash("crm.lead", webhook_lead()) == content_hash("crm.lead", search_read_lead())


def test_lead_empty_values_become_none_or_zero() -> None:
    lead = normalize(
        "crm.lead",
        search_read_lead(
            user_id=False,
            team_id=False,
            stage_id=False,
            partner_id=False,
            date_deadline=False,
            create_date=False,
            write_date=False,
            company_id=False,
            expected_revenue=False,
            probability=0,
            name=False,
            type="lead",
        ),
    )
    assert lead == LeadRecord(odoo_id=17, name="", type="lead", date_closed=None)
    assert isinstance(lead, LeadRecord)
    assert isinstance(lead.probability, float)


def test_null_is_read_as_odoo_empty() -> None:
    # Hand-made dumps write null where Odoo writes false.
    lead = normalize("crm.lead", search_read_lead(user_id=None, date_deadline=None))
    assert isinstance(lead, LeadRecord)
    assert (lead.user_id, lead.date_deadline) == (None, None)


def test_lost_lead_keeps_closing_data() -> None:
    lead = normalize(
        "crm.lead",
        search_read_lead(
            active=False,
            probability=0,
            lost_reason_id=[2, "Too expensive"],
            date_closed="2026-02-03 10:20:30",
        ),
    )
    assert isinstance(lead, LeadRecord)
    assert (lead.active, lead.lost_reason_id, lead.date_closed) == (
        False,
        2,
        "2026-02-03T10:20:30Z",
    )


def test_integer_revenue_becomes_float_and_negative_zero_is_zero() -> None:
    lead = normalize("crm.lead", search_read_lead(expected_revenue=12000, probability=-0.0))
    assert isinstance(lead, LeadRecord)
    assert lead == replace(EXPECTED_LEAD, probability=0.0)
    assert math.copysign(1.0, lead.probability) == 1.0
    assert isinstance(lead.expected_revenue, float)


def test_stage() -> None:
    assert normalize("crm.stage", raw_stage()) == StageRecord(4, "Won", 70, True, False)


def test_team_members_sorted_and_deduplicated_leader_mapped() -> None:
    team = normalize("crm.team", raw_team())
    assert team == TeamRecord(1, "Europe", leader_user_id=7, member_user_ids=(7, 8, 9))
    empty = normalize("crm.team", raw_team(user_id=False, member_ids=[]))
    assert empty == TeamRecord(1, "Europe", leader_user_id=None, member_user_ids=())


def test_user_email_kept_as_given() -> None:
    user = normalize("res.users", raw_user())
    assert user == UserRecord(7, "alice", "Alice", "Alice@Example.com", True, False, 1)


@pytest.mark.parametrize("blank", ["", "   ", False, None])
def test_blank_emails_become_none(blank: object) -> None:
    user = normalize("res.users", raw_user(email=blank))
    employee = normalize("hr.employee", raw_employee(work_email=blank))
    partner = normalize("res.partner", raw_partner(email=blank))
    assert isinstance(user, UserRecord)
    assert isinstance(employee, EmployeeRecord)
    assert isinstance(partner, PartnerRecord)
    assert (user.email, employee.work_email, partner.email) == (None, None, None)


@pytest.mark.parametrize("model", ["hr.employee", "hr.employee.public"])
def test_employee_from_either_model(model: str) -> None:
    employee = normalize(model, raw_employee())
    assert employee == EmployeeRecord(70, "Alice", 7, 71, "alice@example.com", True, 3, 1)


def test_employee_without_user_or_manager() -> None:
    employee = normalize("hr.employee", raw_employee(user_id=False, parent_id=False))
    assert isinstance(employee, EmployeeRecord)
    assert (employee.user_id, employee.parent_id) == (None, None)


def test_partner_without_a_name() -> None:
    assert normalize("res.partner", raw_partner(name=False)) == PartnerRecord(
        30, "", True, None, True
    )


def test_model_fields_are_what_odoo_md_lists() -> None:
    assert MODEL_FIELDS["crm.lead"] == [
        "name",
        "type",
        "user_id",
        "team_id",
        "stage_id",
        "partner_id",
        "expected_revenue",
        "probability",
        "date_deadline",
        "date_closed",
        "create_date",
        "write_date",
        "active",
        "lost_reason_id",
        "company_id",
    ]
    assert MODEL_FIELDS["crm.stage"] == ["name", "sequence", "is_won", "fold"]
    assert MODEL_FIELDS["crm.team"] == ["name", "user_id", "member_ids", "active"]
    assert MODEL_FIELDS["res.users"] == ["login", "email", "name", "share", "active", "company_id"]
    employee = ["name", "user_id", "parent_id", "work_email", "active", "department_id"]
    assert MODEL_FIELDS["hr.employee"] == [*employee, "company_id"]
    assert MODEL_FIELDS["hr.employee.public"] == MODEL_FIELDS["hr.employee"]
    assert MODEL_FIELDS["res.partner"] == ["name", "is_company", "email", "active"]
    assert set(MODEL_FIELDS) == set(RECORD_TYPE_BY_MODEL)


@pytest.mark.parametrize("model", sorted(RAW_BY_MODEL))
def test_examples_carry_exactly_the_requested_fields(model: str) -> None:
    # Guards the examples above: they are what a search_read with MODEL_FIELDS returns.
    raw = RAW_BY_MODEL[model]()
    assert set(raw) - {"id"} == set(MODEL_FIELDS[model])


# --- rejections ---------------------------------------------------------------------------


def m2o(field: str) -> str:
    return f"field {field!r} is not a many2one ([id, name], id or false)"


def not_date(field: str) -> str:
    return f"field {field!r} is not a date (YYYY-MM-DD)"


def not_datetime(field: str) -> str:
    return f"field {field!r} is not a datetime (YYYY-MM-DD HH:MM:SS)"


REVENUE_NAN = "field 'expected_revenue' is not a finite number"
PROBABILITY_RANGE = "field 'probability' is not between 0 and 100"
BAD_TYPE = "field 'type' is not 'lead' or 'opportunity'"
LEAD_WITHOUT_ID = {k: v for k, v in search_read_lead().items() if k != "id"}


@pytest.mark.parametrize(
    ("model", "raw", "reason"),
    [
        ("crm.lead", LEAD_WITHOUT_ID, "missing id"),
        ("crm.lead", search_read_lead(id="17"), "id is not an integer"),
        ("crm.lead", search_read_lead(id=17.0), "id is not an integer"),
        ("crm.lead", search_read_lead(id=True), "id is not an integer"),
        ("crm.lead", search_read_lead(id=[17, "x"]), "id is not an integer"),
        ("crm.lead", search_read_lead(id=0), "id is out of range"),
        ("crm.lead", search_read_lead(id=-3), "id is out of range"),
        ("crm.lead", search_read_lead(id=2**31), "id is out of range"),
        (
            "crm.lead",
            search_read_lead(expected_revenue="12000"),
            "field 'expected_revenue' is not a number",
        ),
        (
            "crm.lead",
            search_read_lead(expected_revenue=True),
            "field 'expected_revenue' is not a number",
        ),
        ("crm.lead", search_read_lead(expected_revenue=math.nan), REVENUE_NAN),
        ("crm.lead", search_read_lead(expected_revenue=math.inf), REVENUE_NAN),
        ("crm.lead", search_read_lead(expected_revenue=10**400), REVENUE_NAN),
        ("crm.lead", search_read_lead(probability=101), PROBABILITY_RANGE),
        ("crm.lead", search_read_lead(probability=-1), PROBABILITY_RANGE),
        ("crm.lead", search_read_lead(active=1), "field 'active' is not a boolean"),
        ("crm.lead", search_read_lead(active="true"), "field 'active' is not a boolean"),
        ("crm.lead", search_read_lead(active=None), "field 'active' is not a boolean"),
        ("crm.lead", search_read_lead(type="deal"), BAD_TYPE),
        ("crm.lead", search_read_lead(type=["lead"]), BAD_TYPE),
        ("crm.lead", search_read_lead(type=False), BAD_TYPE),
        ("crm.lead", search_read_lead(name=42), "field 'name' is not a string"),
        ("crm.lead", search_read_lead(name="\ud800"), "field 'name' is not valid text"),
        ("crm.lead", search_read_lead(user_id="7"), m2o("user_id")),
        ("crm.lead", search_read_lead(user_id=[7]), m2o("user_id")),
        ("crm.lead", search_read_lead(user_id=[7, 8]), m2o("user_id")),
        ("crm.lead", search_read_lead(user_id=["7", "Alice"]), m2o("user_id")),
        ("crm.lead", search_read_lead(user_id=True), m2o("user_id")),
        ("crm.lead", search_read_lead(user_id=0), m2o("user_id")),
        ("crm.lead", search_read_lead(date_deadline="31/03/2026"), not_date("date_deadline")),
        ("crm.lead", search_read_lead(date_deadline="2026-02-30"), not_date("date_deadline")),
        (
            "crm.lead",
            search_read_lead(date_deadline="2026-03-31 00:00:00"),
            not_date("date_deadline"),
        ),
        # Arabic-Indic digits match \d but are not a date Odoo writes.
        (
            "crm.lead",
            search_read_lead(date_deadline="\u0662\u0660\u0662\u0666-\u0660\u0663-\u0663\u0661"),
            not_date("date_deadline"),
        ),
        (
            "crm.lead",
            search_read_lead(write_date="2026-02-03T10:20:30Z"),
            not_datetime("write_date"),
        ),
        (
            "crm.lead",
            search_read_lead(write_date="2026-02-03 25:00:00"),
            not_datetime("write_date"),
        ),
        (  # strptime refused it; fromisoformat takes it for the next midnight on 3.14+
            "crm.lead",
            search_read_lead(write_date="2026-02-03 24:00:00"),
            not_datetime("write_date"),
        ),
        (
            "crm.lead",
            search_read_lead(write_date="2026-02-30 10:00:00"),
            not_datetime("write_date"),
        ),
        ("crm.lead", search_read_lead(write_date="2026-02-03"), not_datetime("write_date")),
        ("crm.lead", search_read_lead(create_date=1700000000), not_datetime("create_date")),
        ("crm.lead", search_read_lead(date_closed="2026-02-03"), not_datetime("date_closed")),
        ("crm.stage", raw_stage(sequence="1"), "field 'sequence' is not an integer"),
        ("crm.stage", raw_stage(sequence=1.5), "field 'sequence' is not an integer"),
        ("crm.stage", raw_stage(sequence=2**40), "field 'sequence' is not an integer"),
        ("crm.stage", raw_stage(is_won=0), "field 'is_won' is not a boolean"),
        ("crm.team", raw_team(member_ids=[1, "2"]), "field 'member_ids' is not a list of ids"),
        ("crm.team", raw_team(member_ids=5), "field 'member_ids' is not a list of ids"),
        ("crm.team", raw_team(member_ids=[[1, "x"]]), "field 'member_ids' is not a list of ids"),
        ("crm.team", raw_team(user_id=[7, "A", "B"]), m2o("user_id")),
        ("res.users", raw_user(login=False), "field 'login' is empty"),
        ("res.users", raw_user(login=""), "field 'login' is empty"),
        ("res.users", raw_user(email=["a@b.c"]), "field 'email' is not a string"),
        ("res.users", raw_user(share="no"), "field 'share' is not a boolean"),
        ("hr.employee", raw_employee(parent_id=[71, None]), m2o("parent_id")),
        ("hr.employee.public", raw_employee(id="70"), "id is not an integer"),
        ("res.partner", raw_partner(is_company=None), "field 'is_company' is not a boolean"),
        ("res.partner", {"id": 30}, "missing field 'name'"),
        ("crm.lead", [17, "Big deal"], "record is not a JSON object"),
        ("crm.lead", None, "record is not a JSON object"),
        ("crm.lead", '{"id": 17}', "record is not a JSON object"),
        ("sale.order", {"id": 1}, "unknown model 'sale.order'"),
        ("", {"id": 1}, "unknown model ''"),
        (["crm.lead"], {"id": 1}, "unknown model ['crm.lead']"),
    ],
)
def test_rejections(model: Any, raw: Any, reason: str) -> None:
    with pytest.raises(RecordRejected) as caught:
        normalize(model, raw)
    assert caught.value.reason == reason
    assert str(caught.value) == reason


@pytest.mark.parametrize(
    ("model", "field"),
    [(model, field) for model, names in sorted(MODEL_FIELDS.items()) for field in names],
)
def test_every_requested_field_is_required(model: str, field: str) -> None:
    # A missing key is not an empty value: defaulting it would invent changes.
    raw = {k: v for k, v in RAW_BY_MODEL[model]().items() if k != field}
    with pytest.raises(RecordRejected, match=f"missing field '{field}'"):
        normalize(model, raw)


def test_record_rejected_is_a_value_error() -> None:
    assert issubclass(RecordRejected, ValueError)


# --- content hash -------------------------------------------------------------------------


def test_content_hash_ignores_write_date() -> None:
    touched = search_read_lead(write_date="2026-02-04 08:00:00")
    assert content_hash("crm.lead", touched) == content_hash("crm.lead", search_read_lead())


def test_content_hash_sees_every_other_change() -> None:
    base = content_hash("crm.lead", search_read_lead())
    changes: list[dict[str, Any]] = [
        {"probability": 41.0},
        {"stage_id": [5, "Won"]},
        {"user_id": False},
        {"active": False},
        {"name": "Big deal!"},
        {"create_date": "2026-01-02 09:15:01"},
    ]
    for change in changes:
        assert content_hash("crm.lead", search_read_lead(**change)) != base, change


def test_content_hash_ignores_display_names_and_x2many_order() -> None:
    renamed = search_read_lead(user_id=[7, "Alice Smith"])
    assert content_hash("crm.lead", renamed) == content_hash("crm.lead", search_read_lead())
    shuffled = raw_team(member_ids=[8, 9, 7])
    assert content_hash("crm.team", shuffled) == content_hash("crm.team", raw_team())


def test_content_hash_is_the_same_for_both_employee_models() -> None:
    assert content_hash("hr.employee", raw_employee()) == content_hash(
        "hr.employee.public", raw_employee()
    )


def test_content_hash_differs_between_kinds_with_equal_fields() -> None:
    # A stage and a partner could serialize alike; the kind keeps their hashes apart.
    assert record_hash(StageRecord(1, "A")) != record_hash(TeamRecord(1, "A"))


def test_content_hash_is_hex_sha256_and_stable() -> None:
    digest = content_hash("crm.stage", raw_stage())
    assert len(digest) == 64
    assert int(digest, 16) >= 0
    # Pinned: a change here means every stored hash changes (one full re-compare).
    assert digest == record_hash(StageRecord(4, "Won", 70, True, False))


def test_content_hash_rejects_malformed_records() -> None:
    with pytest.raises(RecordRejected):
        content_hash("crm.lead", search_read_lead(id="x"))


# --- properties ---------------------------------------------------------------------------

ids = st.integers(min_value=1, max_value=2**31 - 1)
names = st.text(st.characters(codec="utf-8"), max_size=20)  # no lone surrogates
many2one = st.one_of(
    st.just(False),
    ids,
    st.tuples(ids, st.one_of(names, st.just(False))).map(list),
)
local_parts = st.text("abcXYZ019._-+", min_size=1, max_size=8)
emails = st.one_of(
    st.just(False),
    st.just(""),
    st.builds("{}@{}.com".format, local_parts, local_parts),
    names,
)
# isoformat zero-pads years below 1000 (strftime does not on every platform).
dates = st.one_of(st.just(False), st.dates().map(lambda d: d.isoformat()))
datetimes = st.one_of(
    st.just(False),
    st.datetimes().map(lambda d: d.isoformat(sep=" ", timespec="seconds")),
)
numbers = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(min_value=-(10**12), max_value=10**12),
)
probabilities = st.one_of(st.floats(0, 100), st.integers(0, 100))


raw_records: dict[str, st.SearchStrategy[dict[str, Any]]] = {
    "crm.lead": st.fixed_dictionaries(
        {
            "id": ids,
            "name": st.one_of(names, st.just(False)),
            "type": st.sampled_from(["lead", "opportunity"]),
            "user_id": many2one,
            "team_id": many2one,
            "stage_id": many2one,
            "partner_id": many2one,
            "expected_revenue": numbers,
            "probability": probabilities,
            "date_deadline": dates,
            "date_closed": datetimes,
            "create_date": datetimes,
            "write_date": datetimes,
            "active": st.booleans(),
            "lost_reason_id": many2one,
            "company_id": many2one,
        }
    ),
    "crm.stage": st.fixed_dictionaries(
        {
            "id": ids,
            "name": names,
            "sequence": st.integers(0, 1000),
            "is_won": st.booleans(),
            "fold": st.booleans(),
        }
    ),
    "crm.team": st.fixed_dictionaries(
        {
            "id": ids,
            "name": names,
            "user_id": many2one,
            "member_ids": st.lists(ids, max_size=5),
            "active": st.booleans(),
        }
    ),
    "res.users": st.fixed_dictionaries(
        {
            "id": ids,
            "login": names.filter(bool),
            "email": emails,
            "name": names,
            "share": st.booleans(),
            "active": st.booleans(),
            "company_id": many2one,
        }
    ),
    "hr.employee": st.fixed_dictionaries(
        {
            "id": ids,
            "name": names,
            "user_id": many2one,
            "parent_id": many2one,
            "work_email": emails,
            "active": st.booleans(),
            "department_id": many2one,
            "company_id": many2one,
        }
    ),
    "res.partner": st.fixed_dictionaries(
        {
            "id": ids,
            "name": st.one_of(names, st.just(False)),
            "is_company": st.booleans(),
            "email": emails,
            "active": st.booleans(),
        }
    ),
}
raw_records["hr.employee.public"] = raw_records["hr.employee"]

model_and_raw = st.sampled_from(sorted(raw_records)).flatmap(
    lambda model: st.tuples(st.just(model), raw_records[model])
)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=12)
    | st.sampled_from(["2026-01-02", "2026-01-02 03:04:05", "lead", "opportunity"]),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)


@given(model_and_raw)
def test_normalize_is_total_on_valid_records(model_raw: tuple[str, dict[str, Any]]) -> None:
    model, raw = model_raw
    record = normalize(model, raw)
    assert type(record) is RECORD_TYPE_BY_MODEL[model]
    data = record.to_dict()
    assert data["odoo_id"] == raw["id"]
    # Records survive the JSON/BSON round trip that events put them through.
    assert type(record).from_dict(data) == record
    assert content_hash(model, raw) == record_hash(record)


@given(model_and_raw, st.data())
def test_one_corrupted_field_is_rejected_or_accepted_never_a_crash(
    model_raw: tuple[str, dict[str, Any]], data: st.DataObject
) -> None:
    model, raw = model_raw
    key = data.draw(st.sampled_from(sorted(raw)))
    corrupted = {**raw, key: data.draw(json_values)}
    try:
        record = normalize(model, corrupted)
    except RecordRejected:
        return  # a clean rejection; anything else propagates and fails the test
    assert type(record) is RECORD_TYPE_BY_MODEL[model]


@given(st.sampled_from(sorted(raw_records)) | st.text(max_size=10), json_values)
def test_garbage_is_rejected(model: str, garbage: Any) -> None:
    # Random JSON almost never carries every requested field: it must be a clean rejection.
    with pytest.raises(RecordRejected):
        normalize(model, garbage)


@given(model_and_raw, st.sampled_from(["id", "name", "active"]))
def test_dropping_a_key_is_rejected(model_raw: tuple[str, dict[str, Any]], key: str) -> None:
    model, raw = model_raw
    if key not in raw:
        return
    with pytest.raises(RecordRejected):
        normalize(model, {k: v for k, v in raw.items() if k != key})
