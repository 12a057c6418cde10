"""Who sees what (PRODUCT.md §3 "Visibility"): one example per rule, then the rules against
the naive reference over random orgs."""

from __future__ import annotations

from hypothesis import given, settings

from domain.access import (
    Viewer,
    access_set_of,
    can_read_profile,
    can_see_opportunity,
    readable_set_of,
    salesperson_id_of,
    visible_viewers_of,
)
from domain.model import EmployeeRecord, UserRecord
from domain.org import OrgChart, resolve_org
from tests.unit.domain import reference as ref
from tests.unit.domain.reference import org_records


def _org() -> OrgChart:
    """1 heads 2 (through a user-less, archived middle manager 20) and 3; 2 heads 4; 5 alone;
    6 is a portal account."""
    users = [
        UserRecord(odoo_id=i, login=f"u{i}@corp.com", name=f"U{i}", share=i == 6)
        for i in range(1, 7)
    ]
    employees = [
        EmployeeRecord(odoo_id=10, name="Boss", user_id=1),
        EmployeeRecord(odoo_id=20, name="Middle", parent_id=10, active=False),
        EmployeeRecord(odoo_id=30, name="Two", user_id=2, parent_id=20),
        EmployeeRecord(odoo_id=31, name="Three", user_id=3, parent_id=10),
        EmployeeRecord(odoo_id=40, name="Four", user_id=4, parent_id=30),
        EmployeeRecord(odoo_id=50, name="Five", user_id=5),
        EmployeeRecord(odoo_id=60, name="Portal", user_id=6, parent_id=40),
    ]
    return resolve_org(users, employees)


def _sees(org: OrgChart, viewer: Viewer, salesperson: str | None) -> bool:
    return can_see_opportunity(viewer, salesperson, access_set_of(viewer, org))


def test_admin_sees_everything() -> None:
    org, admin = _org(), Viewer(None, "root@corp.com", is_admin=True)
    assert all(_sees(org, admin, s) for s in ["1", "2", "5", "6", "404", None])


def test_user_sees_own_and_transitive_subordinates_deals() -> None:
    org, boss = _org(), Viewer("1", "u1@corp.com")
    assert [s for s in ["1", "2", "3", "4", "5"] if _sees(org, boss, s)] == ["1", "2", "3", "4"]


def test_user_does_not_see_managers_or_peers_deals() -> None:
    org, two = _org(), Viewer("2", "u2@corp.com")
    assert [s for s in ["1", "2", "3", "4", "5"] if _sees(org, two, s)] == ["2", "4"]


def test_unassigned_opportunities_are_admins_only() -> None:
    org = _org()
    assert not _sees(org, Viewer("1", "u1@corp.com"), None)
    assert _sees(org, Viewer("1", "u1@corp.com", is_admin=True), None)


def test_salesperson_who_is_not_a_user_is_admins_only() -> None:
    org = _org()  # 6 is a portal account under 4, 404 is unknown
    for uid in ["1", "2", "4"]:
        assert not _sees(org, Viewer(uid, f"u{uid}@corp.com"), "6")
        assert not _sees(org, Viewer(uid, f"u{uid}@corp.com"), "404")
    assert visible_viewers_of("6", org) == frozenset()


def test_non_admin_without_user_sees_nothing() -> None:
    org, stranger = _org(), Viewer(None, "x@corp.com")
    assert not _sees(org, stranger, "1")
    assert not can_read_profile(stranger, "1", readable_set_of(stranger, org))


def test_profiles_readable_are_self_subordinates_and_managers_above() -> None:
    org, two = _org(), Viewer("2", "u2@corp.com")
    readable = readable_set_of(two, org)
    assert {p for p in ["1", "2", "3", "4", "5"] if can_read_profile(two, p, readable)} == {
        "1",
        "2",
        "4",
    }
    admin = Viewer(None, "root@corp.com", is_admin=True)
    assert can_read_profile(admin, "5", frozenset())


def test_visible_viewers_of_is_the_salesperson_and_everyone_above() -> None:
    org = _org()
    assert visible_viewers_of("4", org) == {"4", "2", "1"}
    assert visible_viewers_of("5", org) == {"5"}
    assert visible_viewers_of(None, org) == frozenset()


def test_salesperson_id_of_maps_odoo_ids_to_profile_ids() -> None:
    assert salesperson_id_of(7) == "7"
    assert salesperson_id_of(None) is None


@settings(max_examples=100, deadline=None)
@given(org_records())
def test_every_rule_matches_reference(
    records: tuple[list[UserRecord], list[EmployeeRecord]],
) -> None:
    users, employees = records
    org, r = resolve_org(users, employees), ref.ref_org(users, employees)
    candidates: list[str | None] = [None, "77", "88", *(str(u.odoo_id) for u in users)]
    for uid in r.users:
        viewer = Viewer(uid, "v@corp.com")
        access, readable = access_set_of(viewer, org), readable_set_of(viewer, org)
        for s in candidates:
            expected = s is not None and s in ref.visible(r, uid)
            assert can_see_opportunity(viewer, s, access) == expected
            assert (uid in visible_viewers_of(s, org)) == expected
            if s is not None:
                assert can_read_profile(viewer, s, readable) == (s in ref.readable(r, uid))
    for s in candidates:
        assert visible_viewers_of(s, org) == ref.viewers_of(r, s)
