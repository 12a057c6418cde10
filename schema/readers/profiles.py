"""Profiles and the org chart, as the caller may see them.

A non-admin reads self, subordinates and the managers above (``AccessDoc``). Reading a
manager above must not reveal that manager's other reports (the caller's peers and their
teams), so such a profile lists only the subordinates the caller may read themself.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from projections.read_models import USER_PROFILES, OrgNodeDoc, PersonDoc
from schema.context import Context
from schema.types.people import OrgNode, UserProfile
from schema.visibility import reads_profile


async def readable_profile(ctx: Context, profile_id: str) -> UserProfile | None:
    """The profile, or None when it does not exist or the caller may not read it. Its
    ``hierarchy`` shows only the subordinates the caller may see (``visible_subordinates``)."""
    caller = await ctx.session.caller()
    if not reads_profile(caller, profile_id):
        return None
    card = await ctx.loaders.cards.load(profile_id)
    return None if card is None else UserProfile.from_card(card)


async def readable_profiles(ctx: Context, profile_ids: Iterable[str]) -> dict[str, UserProfile]:
    """``readable_profile`` for many ids in one read (every user for a CEO's team rows, a
    page's salespeople) instead of a DataLoader future each: the profiles that exist and
    that the caller may read, by id."""
    caller = await ctx.session.caller()
    readable = [i for i in dict.fromkeys(profile_ids) if reads_profile(caller, i)]
    cards = await ctx.loaders.card_map(readable) if readable else {}
    return {i: UserProfile.from_card(card) for i, card in cards.items()}


async def required_profiles(ctx: Context, profile_ids: Sequence[str]) -> list[UserProfile]:
    """For non-null profile fields (a dashboard's team rows): each readable profile, or a
    placeholder when the caller may not read it or its document is missing (the profile
    projection lags the dashboard one)."""
    found = await readable_profiles(ctx, profile_ids)
    return [found.get(i) or UserProfile.placeholder(i) for i in profile_ids]


async def viewer_profile(ctx: Context) -> UserProfile | None:
    caller = await ctx.session.caller()
    if caller.viewer.user_id is None:
        return None  # an admin who is not an Odoo user
    if caller.card is not None:  # read with the access entry: no second read
        return UserProfile.from_card(caller.card)
    return await readable_profile(ctx, caller.viewer.user_id)


async def org_chart(ctx: Context) -> list[OrgNode]:
    """The caller's subtree, caller first; one node for a user with no employee; the whole
    org (every employee any profile knows of) for an admin."""
    caller = await ctx.session.caller()
    if caller.is_admin:
        return await _whole_org(ctx)
    user_id = caller.viewer.user_id
    doc = None if user_id is None else await ctx.loaders.profiles.load(user_id)
    if doc is None:
        # The access entry exists but the profile projection lags: the caller alone.
        me = PersonDoc(user_id=user_id, name=caller.viewer.email, email=caller.viewer.email)
        return [OrgNode.from_doc(OrgNodeDoc(person=me, depth=0))]
    if doc.org_chart:
        return [OrgNode.from_doc(n) for n in doc.org_chart]
    me = PersonDoc(employee_id=doc.odoo.employee_id, user_id=doc.id, name=doc.name, email=doc.email)
    return [OrgNode.from_doc(OrgNodeDoc(person=me, depth=0))]


async def _whole_org(ctx: Context) -> list[OrgNode]:
    collection = await ctx.read_models.collection(USER_PROFILES)
    persons: dict[int, PersonDoc] = {}
    parent: dict[int, int | None] = {}
    fields = {"org_chart": 1, "hierarchy.manager": 1, "odoo.manager_employee_id": 1}
    async for raw in collection.find({}, fields):
        for node in raw.get("org_chart") or ():
            chart_node = OrgNodeDoc.model_validate(node)
            employee_id = chart_node.person.employee_id
            if employee_id is None:
                continue  # a user without an employee is not part of the org chart
            if employee_id not in persons or chart_node.person.user_id is not None:
                persons[employee_id] = chart_node.person
            if parent.get(employee_id) is None:
                parent[employee_id] = chart_node.manager_employee_id
        manager = (raw.get("hierarchy") or {}).get("manager")
        if manager is not None:
            person = PersonDoc.model_validate(manager)
            if person.employee_id is not None and person.employee_id not in persons:
                # A manager above every user (a user-less CEO): known only from here.
                persons[person.employee_id] = person
                parent.setdefault(person.employee_id, None)
    return [OrgNode.from_doc(n) for n in arrange(persons, parent)]


def arrange(persons: dict[int, PersonDoc], parent: dict[int, int | None]) -> list[OrgNodeDoc]:
    """Depth-first pre-order, roots at depth 0, siblings by name (case-insensitive) then id,
    as ``domain.org`` orders charts. Cycle-safe: a node is visited once, and nodes only
    reachable through a cycle are emitted as roots."""

    def key(employee_id: int) -> tuple[str, int]:
        return (persons[employee_id].name.casefold(), employee_id)

    children: dict[int, list[int]] = {}
    roots: list[int] = []
    for employee_id in persons:
        up = parent.get(employee_id)
        if up is None or up not in persons or up == employee_id:
            roots.append(employee_id)
        else:
            children.setdefault(up, []).append(employee_id)
    ordered: list[OrgNodeDoc] = []
    seen: set[int] = set()

    def walk(start: int) -> None:
        stack = [(start, 0)]
        while stack:
            node, depth = stack.pop()
            if node in seen:
                continue
            seen.add(node)
            up = parent.get(node)
            manager = up if up in persons and up != node else None
            ordered.append(
                OrgNodeDoc(person=persons[node], manager_employee_id=manager, depth=depth)
            )
            kids = sorted(children.get(node, ()), key=key, reverse=True)
            stack.extend((kid, depth + 1) for kid in kids)

    for root in sorted(roots, key=key):
        walk(root)
    for leftover in sorted(set(persons) - seen, key=key):  # members of a parent_id cycle
        walk(leftover)
    return ordered
