"""People: ``UserProfile`` and the org chart (from ``ProfileCard`` and ``UserProfileDoc``)."""

from __future__ import annotations

import strawberry

from projections.read_models import OrgNodeDoc, PersonDoc, UserProfileDoc
from schema.context import Context
from schema.loaders import ProfileCard
from schema.types.enums import LinkMethod
from schema.visibility import visible_subordinates


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
    """Built from a ``ProfileCard`` (``schema.loaders``) for a caller who may read it; the
    ``odoo`` link and the ``hierarchy`` need the whole document, which is loaded only when
    one of them is selected (most screens show a name and an email)."""

    id: strawberry.ID
    email: str
    name: str
    active: bool
    found: strawberry.Private[bool] = True  # False: a placeholder, no document

    @strawberry.field
    async def odoo(self, info: strawberry.Info[Context]) -> OdooLink:
        doc = await self._document(info)
        if doc is None:
            return OdooLink(
                user_id=None, employee_id=None, manager_employee_id=None, linked_by=LinkMethod.NONE
            )
        link = doc.odoo
        return OdooLink(
            user_id=link.user_id,
            employee_id=link.employee_id,
            manager_employee_id=link.manager_employee_id,
            linked_by=LinkMethod(link.linked_by),
        )

    @strawberry.field
    async def hierarchy(self, info: strawberry.Info[Context]) -> Hierarchy:
        doc = await self._document(info)
        if doc is None:
            return Hierarchy(manager=None, subordinates=[], is_manager=False, reports_count=0)
        hierarchy = doc.hierarchy
        caller = await info.context.session.caller()
        return Hierarchy(
            manager=None if hierarchy.manager is None else Person.from_doc(hierarchy.manager),
            subordinates=[
                Person.from_doc(p) for p in visible_subordinates(caller, doc.id, hierarchy)
            ],
            is_manager=hierarchy.is_manager,
            reports_count=hierarchy.reports_count,
        )

    async def _document(self, info: strawberry.Info[Context]) -> UserProfileDoc | None:
        """The whole document (None for a placeholder, or one deleted since its card was
        read: then the fields are a placeholder's)."""
        if not self.found:
            return None
        return await info.context.loaders.profiles.load(str(self.id))

    @classmethod
    def from_card(cls, card: ProfileCard) -> UserProfile:
        """Only for a caller who may read the profile (``schema.readers.profiles``)."""
        return cls(id=strawberry.ID(card.id), email=card.email, name=card.name, active=card.active)

    @classmethod
    def placeholder(cls, profile_id: str) -> UserProfile:
        """For a non-null profile field whose document is missing (the profile projection
        lags the dashboard one): an id and nothing else, rather than failing the query."""
        return cls(id=strawberry.ID(profile_id), email="", name="", active=False, found=False)


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
