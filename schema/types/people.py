"""People: ``UserProfile`` and the org chart (built from ``UserProfileDoc``)."""

from __future__ import annotations

from collections.abc import Iterable

import strawberry

from projections.read_models import OrgNodeDoc, PersonDoc, UserProfileDoc
from schema.types.enums import LinkMethod


@strawberry.type(description="A node of the org chart: an employee, or a user with none.")
class Person:
    employee_id: int | None
    user_id: strawberry.ID | None = strawberry.field(
        description="The UserProfile id, when the person is a user"
    )
    name: str
    email: str | None

    @classmethod
    def from_doc(cls, doc: PersonDoc) -> Person:
        user_id = None if doc.user_id is None else strawberry.ID(doc.user_id)
        return cls(employee_id=doc.employee_id, user_id=user_id, name=doc.name, email=doc.email)


@strawberry.type
class OdooLink:
    user_id: int | None
    employee_id: int | None
    manager_employee_id: int | None
    linked_by: LinkMethod


@strawberry.type
class Hierarchy:
    manager: Person | None
    subordinates: list[Person]
    is_manager: bool
    reports_count: int


@strawberry.type
class UserProfile:
    id: strawberry.ID
    email: str
    name: str
    active: bool
    odoo: OdooLink
    hierarchy: Hierarchy

    @classmethod
    def from_doc(cls, doc: UserProfileDoc, subordinates: Iterable[PersonDoc]) -> UserProfile:
        """``subordinates``: the ones the caller may see (``schema.readers.profiles``)."""
        link = doc.odoo
        hierarchy = doc.hierarchy
        return cls(
            id=strawberry.ID(doc.id),
            email=doc.email,
            name=doc.name,
            active=doc.active,
            odoo=OdooLink(
                user_id=link.user_id,
                employee_id=link.employee_id,
                manager_employee_id=link.manager_employee_id,
                linked_by=LinkMethod(link.linked_by),
            ),
            hierarchy=Hierarchy(
                manager=None if hierarchy.manager is None else Person.from_doc(hierarchy.manager),
                subordinates=[Person.from_doc(p) for p in subordinates],
                is_manager=hierarchy.is_manager,
                reports_count=hierarchy.reports_count,
            ),
        )

    @classmethod
    def placeholder(cls, profile_id: str) -> UserProfile:
        """For a non-null profile field whose document is missing (the profile projection
        lags the dashboard one): an id and nothing else, rather than failing the query."""
        return cls(
            id=strawberry.ID(profile_id),
            email="",
            name="",
            active=False,
            odoo=OdooLink(
                user_id=None, employee_id=None, manager_employee_id=None, linked_by=LinkMethod.NONE
            ),
            hierarchy=Hierarchy(manager=None, subordinates=[], is_manager=False, reports_count=0),
        )


@strawberry.type
class OrgNode:
    person: Person
    manager_employee_id: int | None
    depth: int

    @classmethod
    def from_doc(cls, doc: OrgNodeDoc) -> OrgNode:
        return cls(
            person=Person.from_doc(doc.person),
            manager_employee_id=doc.manager_employee_id,
            depth=doc.depth,
        )
