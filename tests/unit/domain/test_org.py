"""Who is who (PRODUCT.md §3 "People"): one example per rule, then properties against the
naive reference over random orgs."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.model import EmployeeRecord, UserRecord
from domain.org import (
    LinkMethod,
    UnlinkedReason,
    changed_access,
    changed_profiles,
    resolve_org,
)
from tests.unit.domain import reference as ref
from tests.unit.domain.reference import org_records


def U(odoo_id: int, login: str = "", **kw: Any) -> UserRecord:
    return UserRecord(
        odoo_id=odoo_id, login=login or f"user{odoo_id}", name=f"User {odoo_id}", **kw
    )


def E(odoo_id: int, **kw: Any) -> EmployeeRecord:
    kw.setdefault("name", f"Emp {odoo_id}")
    return EmployeeRecord(odoo_id=odoo_id, **kw)


# -- users ---------------------------------------------------------------------------------------


def test_portal_and_public_accounts_are_never_users() -> None:
    org = resolve_org([U(1), U(2, share=True)], [E(10, user_id=2)])
    assert org.user_ids == {"1"}
    assert org.profile("2") is None
    assert org.person(10).user_id is None  # an employee of a portal account is user-less


def test_archived_user_keeps_profile() -> None:
    org = resolve_org([U(1, active=False)], [E(10, user_id=1)])
    profile = org.profile("1")
    assert profile is not None
    assert profile.active is False
    assert profile.odoo.employee_id == 10


def test_profile_fields() -> None:
    org = resolve_org([U(7, login="jdoe", email=" J.Doe@Corp.com ")], [])
    profile = org.profile("7")
    assert profile is not None
    assert (profile.id, profile.email, profile.name) == ("7", "J.Doe@Corp.com", "User 7")
    assert profile.odoo.user_id == 7
    assert org.profile("99") is None


# -- employee links ------------------------------------------------------------------------------


def test_link_by_employee_user_id() -> None:
    org = resolve_org([U(1, email="a@x.com")], [E(10, user_id=1), E(11, work_email="a@x.com")])
    link = org.profiles["1"].odoo
    assert (link.employee_id, link.linked_by) == (10, LinkMethod.USER_ID)


def test_several_employees_naming_a_user_choose_active_then_lowest_id_and_report() -> None:
    org = resolve_org([U(1)], [E(10, user_id=1, active=False), E(12, user_id=1), E(11, user_id=1)])
    assert org.employee_of("1") == 11
    (dup,) = org.reports.duplicate_employee_links
    assert (dup.user_id, dup.chosen_employee_id, dup.other_employee_ids) == ("1", 11, (10, 12))


def test_email_fallback_is_trimmed_and_case_insensitive() -> None:
    org = resolve_org([U(1, email="  Ann@Corp.COM ")], [E(10, work_email="ann@corp.com\t")])
    link = org.profiles["1"].odoo
    assert (link.employee_id, link.linked_by) == (10, LinkMethod.EMAIL)


def test_email_fallback_uses_login_when_email_is_empty_and_login_is_an_email() -> None:
    org = resolve_org([U(1, login="Ann@Corp.com", email=" ")], [E(10, work_email="ann@corp.com")])
    assert org.profiles["1"].odoo.linked_by is LinkMethod.EMAIL


def test_login_that_is_not_an_email_is_not_matched() -> None:
    org = resolve_org([U(1, login="ann")], [E(10, work_email="ann")])
    assert org.profiles["1"].odoo.linked_by is LinkMethod.NONE
    (unlinked,) = org.reports.unlinked_users
    assert unlinked.reason is UnlinkedReason.NO_EMAIL


def test_email_fallback_considers_active_employees_only() -> None:
    org = resolve_org([U(1, email="a@x.com")], [E(10, work_email="a@x.com", active=False)])
    assert org.employee_of("1") is None
    assert org.reports.unlinked_users[0].reason is UnlinkedReason.NO_MATCH


def test_ambiguous_email_is_not_linked_and_reported() -> None:
    org = resolve_org(
        [U(1, email="a@x.com")],
        [
            E(10, work_email="A@x.com"),
            E(11, work_email="a@x.com "),
            E(12, work_email="a@x.com", active=False),
        ],
    )
    assert org.profiles["1"].odoo.linked_by is LinkMethod.NONE
    (amb,) = org.reports.ambiguous_emails
    assert (amb.email, amb.user_ids, amb.employee_ids) == ("a@x.com", ("1",), (10, 11))
    assert org.reports.unlinked_users[0].reason is UnlinkedReason.AMBIGUOUS_EMAIL


def test_missing_email_match_is_not_linked_and_reported() -> None:
    org = resolve_org([U(1, email="a@x.com")], [E(10, work_email="b@x.com")])
    assert org.employee_of("1") is None
    assert [u.user_id for u in org.reports.unlinked_users] == ["1"]


def test_employee_owned_by_another_user_is_not_an_email_candidate() -> None:
    # Same work email as user 2's: a coincidence must not give user 2 user 1's employee.
    org = resolve_org([U(1), U(2, email="a@x.com")], [E(10, user_id=1, work_email="a@x.com")])
    assert org.employee_of("2") is None
    assert org.visible_salesperson_ids("2") == {"2"}


# -- the chart -----------------------------------------------------------------------------------


def test_manager_is_parent_id() -> None:
    org = resolve_org([U(1), U(2)], [E(10, user_id=1), E(20, user_id=2, parent_id=10)])
    profile = org.profiles["2"]
    assert profile.odoo.manager_employee_id == 10
    assert profile.hierarchy.manager is not None
    assert (profile.hierarchy.manager.employee_id, profile.hierarchy.manager.user_id) == (10, "1")


def test_chain_passes_through_userless_and_archived_employees() -> None:
    employees = [
        E(1, user_id=1),
        E(2, parent_id=1),  # no user
        E(3, parent_id=2, active=False),  # archived
        E(4, user_id=4, parent_id=3),
    ]
    org = resolve_org([U(1), U(4)], employees)
    assert org.manager_chain(4) == (3, 2, 1)
    assert [p.employee_id for p in org.chain(4)] == [3, 2, 1]
    assert "4" in org.visible_salesperson_ids("1")


def test_direct_reports_are_active_employees_only() -> None:
    org = resolve_org([U(1)], [E(1, user_id=1), E(2, parent_id=1), E(3, parent_id=1, active=False)])
    assert org.direct_reports(1) == (2,)
    assert [p.employee_id for p in org.profiles["1"].hierarchy.direct_reports] == [2]


def test_subordinates_reach_through_archived_and_userless_employees() -> None:
    employees = [
        E(1, user_id=1),
        E(2, parent_id=1, active=False),
        E(3, parent_id=2),
        E(4, parent_id=3, user_id=4, active=False),
    ]
    org = resolve_org([U(1), U(4, active=False)], employees)
    subs = org.profiles["1"].hierarchy.subordinates
    assert [p.employee_id for p in subs] == [2, 3, 4]
    assert subs[-1].user_id == "4"
    assert org.visible_salesperson_ids("1") == {"1", "4"}


def test_is_manager_and_reports_count_count_active_direct_reports() -> None:
    employees = [
        E(1, user_id=1),
        E(2, parent_id=1),
        E(3, parent_id=1),
        E(4, parent_id=1, active=False),
        E(5, parent_id=2),
        E(6, user_id=6, active=True),
        E(7, parent_id=6, active=False),
    ]
    org = resolve_org([U(1), U(6)], employees)
    h = org.profiles["1"].hierarchy
    assert (h.is_manager, h.reports_count) == (True, 2)
    h6 = org.profiles["6"].hierarchy
    assert (h6.is_manager, h6.reports_count) == (False, 0)  # only an archived report
    assert [p.employee_id for p in h6.subordinates] == [7]


def test_user_without_employee_has_empty_hierarchy_and_one_node_chart() -> None:
    org = resolve_org([U(1)], [E(10)])
    profile = org.profiles["1"]
    assert profile.odoo.linked_by is LinkMethod.NONE
    assert (profile.hierarchy.manager, profile.hierarchy.subordinates) == (None, ())
    (node,) = org.chart_for("1")
    assert (node.person.user_id, node.person.employee_id, node.depth) == ("1", None, 0)


def test_subtree_is_viewer_first_depth_first_with_siblings_by_name() -> None:
    employees = [
        E(1, name="Boss", user_id=1),
        E(2, name="zed", parent_id=1),
        E(3, name="Amy", parent_id=1),
        E(4, name="Kid", parent_id=2),
        E(5, name="Top"),
    ]
    org = resolve_org([U(1)], employees)
    assert [(n.person.employee_id, n.depth, n.manager_employee_id) for n in org.chart_for("1")] == [
        (1, 0, None),
        (3, 1, 1),
        (2, 1, 1),
        (4, 2, 2),
    ]
    assert [n.person.employee_id for n in org.whole_chart()] == [1, 3, 2, 4, 5]
    assert [n.depth for n in org.subtree(2)] == [0, 1]


def test_cycle_is_broken_at_lowest_id_and_reported() -> None:
    employees = [
        E(5, parent_id=7, user_id=5),
        E(7, parent_id=9),
        E(9, parent_id=5),
        E(3, parent_id=3),
    ]
    org = resolve_org([U(5)], employees)
    assert org.manager_of(5) is None  # lowest id on the cycle loses its parent link
    assert org.manager_chain(9) == (5,)
    assert org.manager_chain(7) == (9, 5)
    cycles = {c.employee_ids: c.dropped_link for c in org.reports.cycles_broken}
    assert cycles == {(5, 7, 9): (5, 7), (3,): (3, 3)}
    assert org.visible_salesperson_ids("5") == {"5"}


def test_unknown_manager_is_ignored_and_reported() -> None:
    org = resolve_org([], [E(1, parent_id=404)])
    assert org.manager_of(1) is None
    assert [(m.employee_id, m.parent_id) for m in org.reports.missing_managers] == [(1, 404)]


def test_readable_profiles_are_self_subordinates_and_managers_above() -> None:
    employees = [E(1, user_id=1), E(2, user_id=2, parent_id=1), E(3, user_id=3, parent_id=2)]
    employees += [E(4, user_id=4, parent_id=1)]  # a peer of 2
    org = resolve_org([U(1), U(2), U(3), U(4)], employees)
    assert org.readable_profile_ids("2") == {"1", "2", "3"}
    assert org.visible_salesperson_ids("2") == {"2", "3"}
    assert org.readable_profile_ids("404") == frozenset()


def test_user_for_email_is_case_insensitive_and_prefers_active_users() -> None:
    users = [U(1, email="A@x.com", active=False), U(2, email="a@X.com"), U(3, login="B@y.org")]
    org = resolve_org(users, [])
    assert org.user_for_email(" a@x.COM") == "2"
    assert org.user_for_email("b@y.org") == "3"
    assert org.user_for_email("nobody@x.com") is None
    assert [s.user_ids for s in org.reports.shared_emails] == [("2", "1")]


# -- changes between snapshots -------------------------------------------------------------------


def test_changed_access_names_only_affected_users() -> None:
    users = [U(1), U(2), U(3), U(4)]
    before = [
        E(1, user_id=1),
        E(2, user_id=2, parent_id=1),
        E(3, user_id=3),
        E(4, user_id=4, parent_id=3),
    ]
    after = [*before[:1], E(2, user_id=2, parent_id=3), *before[2:]]
    old, new = resolve_org(users, before), resolve_org(users, after)
    # 1 loses 2, 3 gains 2, 2's readable managers change; 4 is untouched.
    assert changed_access(old, new) == {"1", "2", "3"}
    assert changed_access(old, old) == set()
    assert "4" not in changed_profiles(old, new)


# -- properties ----------------------------------------------------------------------------------

PROPERTY = settings(max_examples=100, deadline=None)


@PROPERTY
@given(org_records())
def test_links_and_hierarchy_match_reference(
    records: tuple[list[UserRecord], list[EmployeeRecord]],
) -> None:
    users, employees = records
    org, r = resolve_org(users, employees), ref.ref_org(users, employees)
    assert org.user_ids == set(r.users)
    for uid in r.users:
        profile = org.profiles[uid]
        assert (profile.odoo.employee_id, profile.odoo.linked_by.value) == (
            r.link[uid],
            r.method[uid],
        )
        mine = r.link[uid]
        if mine is None:
            assert profile.hierarchy.subordinates == ()
            continue
        assert profile.odoo.manager_employee_id == r.parent[mine]
        assert {p.employee_id for p in profile.hierarchy.subordinates} == ref.subordinates(r, mine)
        assert {p.employee_id for p in profile.hierarchy.direct_reports} == ref.direct_reports(
            r, mine
        )
        assert profile.hierarchy.reports_count == ref.reports_count(r, uid)
        assert profile.hierarchy.is_manager == (ref.reports_count(r, uid) > 0)
    for eid in r.employees:
        assert org.manager_of(eid) == r.parent[eid]
        assert org.person(eid).user_id == ref.display_user(r, eid)
        nodes = org.subtree(eid)
        assert [(n.person.employee_id, n.depth) for n in nodes] == ref.chart(r, eid)
    roots = sorted(
        (e for e, p in r.parent.items() if p is None),
        key=lambda e: (r.employees[e].name.casefold(), e),
    )
    assert [(n.person.employee_id, n.depth) for n in org.whole_chart()] == [
        pair for root in roots for pair in ref.chart(r, root)
    ]


@PROPERTY
@given(org_records())
def test_access_sets_match_reference(
    records: tuple[list[UserRecord], list[EmployeeRecord]],
) -> None:
    users, employees = records
    org, r = resolve_org(users, employees), ref.ref_org(users, employees)
    for uid in [*r.users, "404"]:
        assert org.visible_salesperson_ids(uid) == ref.visible(r, uid)
        assert org.readable_profile_ids(uid) == ref.readable(r, uid)
        assert org.users_above(uid) == ref.viewers_of(r, uid)


@PROPERTY
@given(org_records(), st.randoms(use_true_random=False))
def test_result_does_not_depend_on_record_order(
    records: tuple[list[UserRecord], list[EmployeeRecord]], rnd: random.Random
) -> None:
    users, employees = records
    shuffled_users, shuffled_employees = list(users), list(employees)
    rnd.shuffle(shuffled_users)
    rnd.shuffle(shuffled_employees)
    a, b = resolve_org(users, employees), resolve_org(shuffled_users, shuffled_employees)
    assert a.reports == b.reports
    assert dict(a.profiles) == dict(b.profiles)
    assert a.whole_chart() == b.whole_chart()


@PROPERTY
@given(org_records(), org_records())
def test_changed_access_is_exactly_the_users_whose_access_differs(
    first: tuple[list[UserRecord], list[EmployeeRecord]],
    second: tuple[list[UserRecord], list[EmployeeRecord]],
) -> None:
    # The second snapshot mixes records of both draws, so that most records are shared.
    users = {u.odoo_id: u for u in first[0][::2] + second[0]}
    employees = {e.odoo_id: e for e in first[1][::2] + second[1]}
    old = resolve_org(*first)
    new = resolve_org(list(users.values()), list(employees.values()))
    r_old, r_new = ref.ref_org(*first), ref.ref_org(list(users.values()), list(employees.values()))
    expected = set()
    for uid in set(r_old.users) | set(r_new.users):
        a, b = r_old.users.get(uid), r_new.users.get(uid)
        if (
            a is None
            or b is None
            or a.active != b.active
            or (ref.reports_count(r_old, uid) > 0) != (ref.reports_count(r_new, uid) > 0)
            or ref.visible(r_old, uid) != ref.visible(r_new, uid)
            or ref.readable(r_old, uid) != ref.readable(r_new, uid)
        ):
            expected.add(uid)
    assert changed_access(old, new) == expected
    assert changed_access(new, new) == set()


# -- size ------------------------------------------------------------------------------------------


def _big_org(seed: int) -> tuple[list[UserRecord], list[EmployeeRecord]]:
    rnd = random.Random(seed)
    employees = [
        E(
            i,
            name=f"Employee {rnd.randint(0, 9999)}",
            parent_id=rnd.randint(max(1, i - 60), i - 1) if i > 1 else None,
            user_id=i if i <= 700 else None,
            work_email=f"Person{i}@Corp.com ",
            active=rnd.random() < 0.9,
        )
        for i in range(1, 1501)
    ]
    users = [
        U(i, login=f"person{i}@corp.com", share=i % 97 == 0, active=rnd.random() < 0.95)
        for i in range(1, 1001)
    ]
    return users, employees


def test_a_thousand_users_resolve() -> None:
    # Timing goals live in bench/, not in unit tests (they flake on a loaded machine).
    users, employees = _big_org(7)
    org = resolve_org(users, employees)
    assert len(org.user_ids) == 990
    methods = [org.profiles[uid].odoo.linked_by for uid in org.user_ids]
    assert methods.count(LinkMethod.USER_ID) == 693
    assert methods.count(LinkMethod.EMAIL) > 200  # the active employees among 701-1000


def test_changed_access_after_one_move_in_a_big_org() -> None:
    users, employees = _big_org(8)
    old = resolve_org(users, employees)
    moved = [
        e if e.odoo_id != 500 else E(500, name=e.name, user_id=500, parent_id=3) for e in employees
    ]
    new = resolve_org(users, moved)
    changed = changed_access(old, new)
    assert "500" in changed
    assert changed == {
        uid
        for uid in old.user_ids
        if old.visible_salesperson_ids(uid) != new.visible_salesperson_ids(uid)
        or old.readable_profile_ids(uid) != new.readable_profile_ids(uid)
        or (old.reports_count(uid) > 0) != (new.reports_count(uid) > 0)
    }


def _timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start
