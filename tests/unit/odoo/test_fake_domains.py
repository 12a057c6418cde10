"""Domain evaluation of the built-in Odoo: operators, boolean logic, NULL semantics,
active_test, hierarchies, unknown fields. Pure: no HTTP."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from infrastructure.odoo_fake.exceptions import InvalidField, InvalidValue
from tests.unit.odoo.tiny import Tiny, build_tiny


def ids(
    tiny: Tiny, domain: list[Any], model: str = "crm.lead", active_test: bool = False
) -> set[int]:
    return set(tiny.store.search(model, domain, active_test=active_test))


def keys(tiny: Tiny, found: set[int]) -> set[str]:
    return {k for k, v in tiny.leads.items() if v in found}


def lead_keys(tiny: Tiny, domain: list[Any], active_test: bool = False) -> set[str]:
    return keys(tiny, ids(tiny, domain, active_test=active_test))


ALL = {"a", "b", "c", "d"}


@pytest.mark.parametrize(
    ("domain", "expected"),
    [
        ([], ALL),
        ([["probability", "=", 10]], {"a"}),
        ([["probability", "!=", 10]], {"b", "c", "d"}),
        ([["probability", ">", 10]], {"b", "d"}),
        ([["probability", ">=", 10]], {"a", "b", "d"}),
        ([["probability", "<", 30]], {"a", "c"}),
        ([["probability", "<=", 30]], {"a", "c", "d"}),
        ([["expected_revenue", "in", [1000, 2500]]], {"a", "d"}),
        ([["expected_revenue", "not in", [1000, 2500]]], {"b", "c"}),
        ([["name", "like", "DEAL"]], {"b"}),
        ([["name", "ilike", "deal"]], {"a", "b"}),
        ([["name", "not ilike", "deal"]], {"c", "d"}),
        ([["name", "=like", "Alpha%"]], {"a"}),
        ([["name", "=ilike", "ALPHA%"]], {"a"}),
        ([["name", "=like", "Gamm_"]], {"c"}),
        ([["name", "like", "100\\%"]], {"d"}),  # escaped wildcard
        ([["type", "=", "lead"]], {"c"}),
        ([["active", "=", False]], {"c", "d"}),
        ([["active", "!=", True]], {"c", "d"}),
        ([["active", "in", [True]]], {"a", "b"}),
    ],
)
def test_operators(tiny: Tiny, domain: list[Any], expected: set[str]) -> None:
    assert lead_keys(tiny, domain) == expected


def test_empty_values_follow_sql_and_odoo(tiny: Tiny) -> None:
    # user_id is empty on "c"; date_deadline on "b" and "c".
    assert lead_keys(tiny, [["user_id", "=", False]]) == {"c"}
    assert lead_keys(tiny, [["user_id", "!=", False]]) == {"a", "b", "d"}
    # != and not in include NULLs (Odoo adds "OR field IS NULL") ...
    assert lead_keys(tiny, [["user_id", "!=", tiny.users["ann"]]]) == {"b", "c", "d"}
    assert lead_keys(tiny, [["user_id", "not in", [tiny.users["ann"]]]]) == {"b", "c", "d"}
    # ... unless False is in the list.
    assert lead_keys(tiny, [["user_id", "not in", [tiny.users["ann"], False]]]) == {"b", "d"}
    assert lead_keys(tiny, [["user_id", "in", [tiny.users["ann"], False]]]) == {"a", "c"}
    # comparisons never match NULL
    assert lead_keys(tiny, [["date_deadline", "<", "2030-01-01"]]) == {"a", "d"}
    assert lead_keys(tiny, [["date_deadline", ">", False]]) == set()


def test_boolean_logic_prefix_notation(tiny: Tiny) -> None:
    ann, bob = tiny.users["ann"], tiny.users["bob"]
    assert lead_keys(tiny, ["|", ["user_id", "=", ann], ["user_id", "=", bob]]) == {"a", "b"}
    assert lead_keys(tiny, ["&", ["active", "=", True], ["probability", ">", 50]]) == {"b"}
    assert lead_keys(tiny, [["active", "=", True], ["probability", ">", 50]]) == {"b"}  # implicit &
    assert lead_keys(tiny, ["!", ["user_id", "=", ann]]) == {"b", "c", "d"}
    assert lead_keys(
        tiny, ["|", "&", ["active", "=", False], ["type", "=", "lead"], ["name", "=", "Alpha deal"]]
    ) == {"a", "c"}
    assert lead_keys(tiny, ["!", "|", ["user_id", "=", ann], ["user_id", "=", bob]]) == {"c", "d"}
    # ODOO.md's example shape: a leaf, then an OR of two leaves.
    domain = [["type", "=", "opportunity"], "|", ["probability", "=", 10], ["user_id", "!=", False]]
    assert lead_keys(tiny, domain) == {"a", "b", "d"}


def test_negation_of_a_comparison_still_excludes_null(tiny: Tiny) -> None:
    # Odoo turns !(x < v) into x >= v: NULL deadlines match neither.
    assert lead_keys(tiny, ["!", ["date_deadline", "<", "2025-03-20"]]) == {"d"}
    # An operator without a negation becomes "set and not ...": NULL excluded as in SQL NOT.
    assert lead_keys(tiny, ["!", ["name", "=like", "Alpha%"]]) == {"b", "c", "d"}


def test_long_or_chains_do_not_recurse(tiny: Tiny) -> None:
    n = 3000
    domain: list[Any] = ["|"] * (n - 1) + [["id", "=", i] for i in range(n)]
    assert lead_keys(tiny, domain) == ALL


def test_datetime_values_and_date_only_comparisons(tiny: Tiny) -> None:
    # date_closed of "b" is 2025-03-02 17:30:00; a date alone means the end of that day
    # for > and <=, its start otherwise.
    assert lead_keys(tiny, [["date_closed", "<=", "2025-03-02"]]) == {"b"}
    assert lead_keys(tiny, [["date_closed", ">", "2025-03-02"]]) == set()
    assert lead_keys(tiny, [["date_closed", ">=", "2025-03-02"]]) == {"b"}
    assert lead_keys(tiny, [["date_closed", "=", "2025-03-02 17:30:00"]]) == {"b"}
    assert lead_keys(tiny, [["date_closed", "=", "2025-03-02T17:30:00Z"]]) == {"b"}
    assert lead_keys(tiny, [["write_date", ">=", "2025-03-03 09:00:00"]]) == ALL
    with pytest.raises(InvalidValue):
        lead_keys(tiny, [["write_date", ">=", "yesterday"]])


def test_many2one_by_name_and_dotted_paths(tiny: Tiny) -> None:
    assert lead_keys(tiny, [["stage_id", "=", "Won"]]) == {"b"}
    assert lead_keys(tiny, [["stage_id", "ilike", "qual"]]) == {"c", "d"}
    assert lead_keys(tiny, [["stage_id", "!=", "Won"]]) == {"a", "c", "d"}
    assert lead_keys(tiny, [["stage_id.is_won", "=", True]]) == {"b"}
    # the path searches archived targets too (Cid is archived)
    assert lead_keys(tiny, [["user_id.login", "=like", "%@x.example"]]) == {"a", "d"}


def test_child_of_and_parent_of_pass_through_archived_when_active_test_is_off(tiny: Tiny) -> None:
    e = tiny.employees
    below_ceo = ids(tiny, [["id", "child_of", e["ceo"]]], "hr.employee")
    assert below_ceo == {e["ceo"], e["mgr"], e["rep"]}
    assert ids(tiny, [["parent_id", "child_of", [e["ceo"]]]], "hr.employee") == {e["mgr"], e["rep"]}
    assert ids(tiny, [["id", "parent_of", e["rep"]]], "hr.employee") == {
        e["ceo"],
        e["mgr"],
        e["rep"],
    }
    assert ids(tiny, [["id", "child_of", "Ceo"]], "hr.employee") == below_ceo  # by name
    # With active_test on, Odoo's recursive search stops at the archived manager.
    assert ids(tiny, [["id", "child_of", e["ceo"]]], "hr.employee", active_test=True) == {e["ceo"]}


def test_child_of_survives_a_parent_cycle(tiny: Tiny) -> None:
    e = tiny.employees
    tiny.store.write("hr.employee", e["ceo"], {"parent_id": e["rep"]})
    expected = {e["ceo"], e["mgr"], e["rep"]}
    assert ids(tiny, [["id", "child_of", e["mgr"]]], "hr.employee") == expected
    assert ids(tiny, [["id", "parent_of", e["mgr"]]], "hr.employee") == expected


def test_active_test_hides_archived_unless_off_or_domain_names_active(tiny: Tiny) -> None:
    assert lead_keys(tiny, [], active_test=True) == {"a", "b"}
    assert lead_keys(tiny, [], active_test=False) == ALL
    assert lead_keys(tiny, [["active", "in", [True, False]]], active_test=True) == ALL
    assert lead_keys(tiny, [["active", "=", False]], active_test=True) == {"c", "d"}
    # a model without an active field has no filtering
    assert len(ids(tiny, [], "crm.stage", active_test=True)) == 3


def test_hr_employee_public_is_a_view_of_the_same_rows(tiny: Tiny) -> None:
    a = ids(tiny, [["work_email", "=", "solo@x.example"]], "hr.employee")
    b = ids(tiny, [["work_email", "=", "solo@x.example"]], "hr.employee.public")
    assert a == b == {tiny.employees["solo"]}


@pytest.mark.parametrize(
    "domain",
    [
        [["nope", "=", 1]],
        ["|", ["name", "=", "x"], ["nope", "=", 1]],
        [["user_id.nope", "=", 1]],
    ],
)
def test_unknown_field_in_domain(tiny: Tiny, domain: list[Any]) -> None:
    with pytest.raises(InvalidField, match="Invalid field"):
        ids(tiny, domain)


def test_unknown_field_message_changed_in_18() -> None:
    with pytest.raises(InvalidField) as old:
        build_tiny(major=17).store.search("crm.lead", [["nope", "=", 1]])
    assert str(old.value) == "Invalid field crm.lead.nope in leaf ('nope', '=', 1)"
    with pytest.raises(InvalidField) as new:
        build_tiny(major=19).store.search("crm.lead", [["nope", "=", 1]])
    assert str(new.value) == "Invalid field 'nope' on model 'crm.lead'"


def test_crm_stage_has_no_active_field(tiny: Tiny) -> None:
    with pytest.raises(InvalidField):
        ids(tiny, [["active", "=", True]], "crm.stage")


@pytest.mark.parametrize(
    "domain",
    [
        "not a list",
        ["|", ["name", "=", "x"]],
        ["!"],
        [["name", "~", "x"]],
        [["name", "="]],
        ["garbage"],
    ],
)
def test_malformed_domains(tiny: Tiny, domain: Any) -> None:
    with pytest.raises(InvalidValue):
        ids(tiny, domain)


def test_true_and_false_leaves(tiny: Tiny) -> None:
    assert lead_keys(tiny, [[1, "=", 1]]) == ALL
    assert lead_keys(tiny, [[0, "=", 1]]) == set()
    assert lead_keys(tiny, ["!", [0, "=", 1]]) == ALL


# -- properties: the boolean operators are set algebra over leaves ---------------------------

_LEAVES = st.sampled_from(
    [
        ["probability", ">", 20],
        ["probability", "<=", 10],
        ["active", "=", True],
        ["user_id", "=", False],
        ["name", "ilike", "deal"],
        ["expected_revenue", "in", [0, 5000]],
        ["type", "=", "opportunity"],
        ["stage_id.is_won", "=", True],
    ]
)
_TINY = build_tiny()


@settings(max_examples=60, deadline=None)
@given(_LEAVES, _LEAVES)
def test_or_and_are_union_and_intersection(a: list[Any], b: list[Any]) -> None:
    sa, sb = ids(_TINY, [a]), ids(_TINY, [b])
    assert ids(_TINY, ["|", a, b]) == sa | sb
    assert ids(_TINY, ["&", a, b]) == sa & sb
    assert ids(_TINY, [a, b]) == sa & sb


@settings(max_examples=30, deadline=None)
@given(_LEAVES)
def test_not_is_the_complement_for_non_null_fields(a: list[Any]) -> None:
    every = ids(_TINY, [])
    assert ids(_TINY, ["!", a]) == every - ids(_TINY, [a])
