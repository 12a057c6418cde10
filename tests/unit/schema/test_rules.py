"""Pure rules of the read paths: visibility, change notices, org chart order."""

from __future__ import annotations

from domain.access import Viewer
from projections.read_models import PersonDoc
from schema.readers.profiles import arrange
from schema.session import Caller
from schema.subscription import ChangeNotice, parse_notice
from schema.types.enums import ChangeKind
from schema.visibility import MATCH_NOTHING, opportunity_scope, sees_opportunity


def caller(user_id: str | None, visible: set[str], admin: bool = False) -> Caller:
    return Caller(Viewer(user_id, "x@y.z", admin), frozenset(visible), frozenset(visible))


def test_an_opportunity_must_list_the_viewer_and_belong_to_their_access_set() -> None:
    manager = caller("1", {"1", "2"})
    assert sees_opportunity(manager, {"visible_to": ["2", "1"], "salesperson_id": "2"})
    # Either source alone is not enough: a lagging read model may hide, never leak.
    assert not sees_opportunity(manager, {"visible_to": ["3"], "salesperson_id": "2"})
    assert not sees_opportunity(manager, {"visible_to": ["1"], "salesperson_id": "3"})
    assert not sees_opportunity(manager, {"visible_to": ["1"], "salesperson_id": None})
    assert sees_opportunity(caller(None, set(), admin=True), {"visible_to": []})


def test_the_list_filter_says_the_same() -> None:
    assert opportunity_scope(caller(None, set(), admin=True)) == {}
    assert opportunity_scope(caller(None, set())) == MATCH_NOTHING
    assert opportunity_scope(caller("1", {"2", "1"})) == {
        "visible_to": "1",
        "salesperson_id": {"$in": ["1", "2"]},
    }


def test_change_notices_are_parsed_strictly() -> None:
    assert parse_notice({"kind": "UPDATED", "opportunityId": "5", "position": 9}) == ChangeNotice(
        ChangeKind.UPDATED, "5", 9
    )
    assert parse_notice({"kind": "CREATED", "opportunityId": 5, "position": 1}) is not None
    for junk in [{"resync": "overflow", "dropped": 3}, {"kind": "NOPE", "opportunityId": "1",
                 "position": 1}, {"kind": "UPDATED", "opportunityId": "1", "position": True},
                 {"kind": "UPDATED", "opportunityId": "", "position": 1}]:  # fmt: skip
        assert parse_notice(junk) is None


def person(employee_id: int, name: str) -> PersonDoc:
    return PersonDoc(employee_id=employee_id, name=name)


def test_the_whole_org_is_depth_first_by_name_and_survives_cycles() -> None:
    persons = {1: person(1, "zed"), 2: person(2, "Amy"), 3: person(3, "bob"), 4: person(4, "Al"),
               5: person(5, "cy"), 6: person(6, "dee")}  # fmt: skip
    parent: dict[int, int | None] = {1: None, 2: 1, 3: 1, 4: None, 5: 6, 6: 5}  # 5 <-> 6
    nodes = arrange(persons, parent)
    assert [(n.person.name, n.depth, n.manager_employee_id) for n in nodes] == [
        ("Al", 0, None),
        ("zed", 0, None),
        ("Amy", 1, 1),
        ("bob", 1, 1),
        ("cy", 0, 6),
        ("dee", 1, 5),
    ]
