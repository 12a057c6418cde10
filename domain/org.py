"""Who is who: users, employee links and the org chart (PRODUCT.md §3 "People").

``resolve_org(users, employees)`` turns the normalized Odoo records into an immutable
``OrgChart`` snapshot. Projections build one per org change, both when folding events one by
one and when recomputing everything (``pulse check``): the result depends only on the *set*
of records given, never on their order, so both paths agree.

Rules decided here where PRODUCT.md is silent (each is also stated where it is applied):

* A user's employee by ``user_id``: when several employees name the same user, the active
  one wins, then the lowest employee id; the others are reported.
* An employee whose ``user_id`` names an internal user belongs to that user, so it is not a
  candidate for another user's email match (else a coincidental email would hand one user
  the other's deals). Employees whose ``user_id`` names a portal or unknown account are
  user-less and can be matched by email.
* ``parent_id`` pointing to an employee we do not have is ignored (the node becomes a root)
  and reported. A cycle is broken by dropping the parent link of its lowest-id employee.
* Node order (org charts, subordinate lists): depth-first, siblings by name
  (case-insensitive), then employee id.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum

from domain.model import EmployeeRecord, UserRecord

# "login when it is an email": one @ with something on both sides and no blanks.
_EMAIL_SHAPE = re.compile(r"^[^@\s]+@[^@\s]+$")


def user_key(odoo_user_id: int) -> str:
    """The profile id of an Odoo user (GraphQL ``UserProfile.id``)."""
    return str(odoo_user_id)


def normalize_email(value: str | None) -> str | None:
    """Trimmed and lower-cased; blank means no email."""
    if value is None:
        return None
    cleaned = value.strip().lower()
    return cleaned or None


def user_email_key(user: UserRecord) -> str | None:
    """The email a user is matched by: ``email``, else ``login`` when it is an email."""
    email = normalize_email(user.email)
    if email is not None:
        return email
    login = normalize_email(user.login)
    if login is not None and _EMAIL_SHAPE.match(login):
        return login
    return None


class LinkMethod(StrEnum):
    USER_ID = "USER_ID"
    EMAIL = "EMAIL"
    NONE = "NONE"


@dataclass(frozen=True, slots=True)
class Person:
    """A node of the org chart: an employee, or a user who has no employee."""

    employee_id: int | None
    user_id: str | None  # the UserProfile id, when the person is a user
    name: str
    email: str | None


@dataclass(frozen=True, slots=True)
class OdooLink:
    user_id: int | None
    employee_id: int | None
    manager_employee_id: int | None
    linked_by: LinkMethod


@dataclass(frozen=True, slots=True)
class Hierarchy:
    manager: Person | None
    direct_reports: tuple[Person, ...]  # active employees only
    subordinates: tuple[Person, ...]  # everyone below, archived and user-less included
    is_manager: bool
    reports_count: int


@dataclass(frozen=True, slots=True)
class UserProfile:
    id: str
    email: str
    name: str
    active: bool
    odoo: OdooLink
    hierarchy: Hierarchy


@dataclass(frozen=True, slots=True)
class OrgNode:
    person: Person
    manager_employee_id: int | None
    depth: int


class UnlinkedReason(StrEnum):
    NO_EMAIL = "NO_EMAIL"  # no employee names the user, and the user has no usable email
    NO_MATCH = "NO_MATCH"  # no active, unowned employee has that work email
    AMBIGUOUS_EMAIL = "AMBIGUOUS_EMAIL"  # several do


@dataclass(frozen=True, slots=True)
class UnlinkedUser:
    user_id: str
    reason: UnlinkedReason
    email: str | None


@dataclass(frozen=True, slots=True)
class AmbiguousEmail:
    email: str
    user_ids: tuple[str, ...]
    employee_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class DuplicateEmployeeLink:
    """Several employees name the same user in ``user_id``; one was chosen."""

    user_id: str
    chosen_employee_id: int
    other_employee_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class BrokenCycle:
    employee_ids: tuple[int, ...]  # the cycle, from its lowest id, following parent_id
    dropped_link: tuple[int, int]  # (employee, former parent) whose link was ignored


@dataclass(frozen=True, slots=True)
class MissingManager:
    employee_id: int
    parent_id: int  # not among the employees we have


@dataclass(frozen=True, slots=True)
class SharedEmail:
    """Several users have the same email: sign-in resolves to the first (active, lowest id)."""

    email: str
    user_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class OrgReports:
    unlinked_users: tuple[UnlinkedUser, ...] = ()
    ambiguous_emails: tuple[AmbiguousEmail, ...] = ()
    duplicate_employee_links: tuple[DuplicateEmployeeLink, ...] = ()
    cycles_broken: tuple[BrokenCycle, ...] = ()
    missing_managers: tuple[MissingManager, ...] = ()
    shared_emails: tuple[SharedEmail, ...] = ()


def _node_key(employee: EmployeeRecord) -> tuple[str, int]:
    return (employee.name.casefold(), employee.odoo_id)


def _clean(value: str | None) -> str | None:
    if value is None:
        return None
    return value.strip() or None


class OrgChart:
    """Immutable snapshot of users, links and the org chart. Build with ``resolve_org``.

    Building it is O(n log n) whatever the shape of the tree. Access sets and profiles are
    computed on first use and cached (the snapshot never changes, so caching is safe): their
    total size grows with users x depth, which a deep chain would make quadratic.
    """

    __slots__ = (
        "_children",
        "_depth",
        "_email_index",
        "_employee_ids",
        "_employees",
        "_index",
        "_links",
        "_parent",
        "_persons",
        "_preorder",
        "_profile_cache",
        "_readable",
        "_size",
        "_user_ids",
        "_users",
        "_users_of",
        "_visible",
        "reports",
    )

    def __init__(
        self,
        users: Mapping[str, UserRecord],
        employees: Mapping[int, EmployeeRecord],
        links: Mapping[str, tuple[int | None, LinkMethod]],
        parent: Mapping[int, int | None],
        email_index: Mapping[str, str],
        reports: OrgReports,
    ) -> None:
        self._users = dict(users)
        self._employees = dict(employees)
        self._user_ids = frozenset(self._users)
        self._employee_ids = frozenset(self._employees)
        self._links = dict(links)
        self._parent = dict(parent)
        self._email_index = dict(email_index)
        self.reports = reports
        self._profile_cache: dict[str, UserProfile] = {}
        self._persons: dict[int, Person] = {}
        self._visible: dict[str, frozenset[str]] = {}
        self._readable: dict[str, frozenset[str]] = {}
        self._build_tree()

    # -- construction ------------------------------------------------------------------

    def _build_tree(self) -> None:
        users_of: dict[int, list[str]] = {}
        for uid, (employee_id, _) in self._links.items():
            if employee_id is not None:
                users_of.setdefault(employee_id, []).append(uid)
        # The first user of an employee is the one shown on its Person: the user_id link,
        # then an active user, then the lowest id.
        self._users_of = {
            e: tuple(sorted(uids, key=self._user_rank)) for e, uids in users_of.items()
        }
        children: dict[int, list[int]] = {}
        for e, p in self._parent.items():
            if p is not None:
                children.setdefault(p, []).append(e)
        by_key = self._sort_employees
        self._children = {p: tuple(by_key(kids)) for p, kids in children.items()}
        roots = by_key(e for e, p in self._parent.items() if p is None)
        # Iterative depth-first pre-order: a subtree is then a contiguous slice of it.
        preorder: list[int] = []
        depth: dict[int, int] = {}
        stack = [(r, 0) for r in reversed(roots)]
        while stack:
            node, d = stack.pop()
            depth[node] = d
            preorder.append(node)
            stack.extend((c, d + 1) for c in reversed(self._children.get(node, ())))
        self._preorder = tuple(preorder)
        self._depth = depth
        self._index = {e: i for i, e in enumerate(preorder)}
        size = dict.fromkeys(preorder, 1)
        for e in reversed(preorder):
            p = self._parent[e]
            if p is not None:
                size[p] += size[e]
        self._size = size

    def _user_rank(self, uid: str) -> tuple[bool, bool, int]:
        return (
            self._links[uid][1] is not LinkMethod.USER_ID,
            not self._users[uid].active,
            int(uid),
        )

    def _sort_employees(self, ids: Iterable[int]) -> list[int]:
        return sorted(ids, key=lambda e: _node_key(self._employees[e]))

    # -- people ------------------------------------------------------------------------

    @property
    def user_ids(self) -> frozenset[str]:
        """Every user (internal account, archived included)."""
        return self._user_ids

    @property
    def employee_ids(self) -> frozenset[int]:
        return self._employee_ids

    def user(self, user_id: str) -> UserRecord | None:
        return self._users.get(user_id)

    def employee(self, employee_id: int) -> EmployeeRecord | None:
        return self._employees.get(employee_id)

    def employee_of(self, user_id: str) -> int | None:
        link = self._links.get(user_id)
        return None if link is None else link[0]

    def users_of(self, employee_id: int) -> tuple[str, ...]:
        """Users linked to an employee (usually zero or one), the displayed one first."""
        return self._users_of.get(employee_id, ())

    def manager_of(self, employee_id: int) -> int | None:
        """The effective ``parent_id`` (after dropping missing managers and broken cycles)."""
        return self._parent.get(employee_id)

    def user_for_email(self, email: str) -> str | None:
        """The user a sign-in email names (case and blanks ignored), None if none. It may be
        archived: only active users can sign in, which the caller checks."""
        key = normalize_email(email)
        return None if key is None else self._email_index.get(key)

    def person(self, employee_id: int) -> Person:
        """The org-chart person of an employee (KeyError if unknown)."""
        cached = self._persons.get(employee_id)
        if cached is None:
            employee = self._employees[employee_id]
            users = self._users_of.get(employee_id, ())
            if users:
                cached = Person(employee_id, users[0], employee.name, self._profile_email(users[0]))
            else:
                cached = Person(employee_id, None, employee.name, _clean(employee.work_email))
            self._persons[employee_id] = cached
        return cached

    def _profile_email(self, user_id: str) -> str:
        user = self._users[user_id]
        return _clean(user.email) or user.login

    @property
    def profiles(self) -> Mapping[str, UserProfile]:
        """Read-only mapping user id -> profile (built lazily)."""
        return _Profiles(self)

    def profile(self, user_id: str) -> UserProfile | None:
        if user_id not in self._users:
            return None
        cached = self._profile_cache.get(user_id)
        if cached is None:
            cached = self._build_profile(user_id)
            self._profile_cache[user_id] = cached
        return cached

    def _build_profile(self, uid: str) -> UserProfile:
        user = self._users[uid]
        employee_id, method = self._links[uid]
        if employee_id is None:
            link = OdooLink(user.odoo_id, None, None, method)
            hierarchy = Hierarchy(None, (), (), False, 0)
        else:
            manager_id = self._parent[employee_id]
            direct = self.direct_reports(employee_id)
            below = self.subtree_ids(employee_id)[1:]
            link = OdooLink(user.odoo_id, employee_id, manager_id, method)
            hierarchy = Hierarchy(
                manager=None if manager_id is None else self.person(manager_id),
                direct_reports=tuple(self.person(e) for e in direct),
                subordinates=tuple(self.person(e) for e in below),
                is_manager=bool(direct),
                reports_count=len(direct),
            )
        return UserProfile(uid, self._profile_email(uid), user.name, user.active, link, hierarchy)

    # -- the chart ---------------------------------------------------------------------

    def direct_reports(self, employee_id: int) -> tuple[int, ...]:
        """Active employees whose manager is this one."""
        kids = self._children.get(employee_id, ())
        return tuple(c for c in kids if self._employees[c].active)

    def reports_count(self, user_id: str) -> int:
        employee_id = self.employee_of(user_id)
        return 0 if employee_id is None else len(self.direct_reports(employee_id))

    def subtree_ids(self, employee_id: int) -> tuple[int, ...]:
        """The employee, then everyone below it (depth-first); empty for an unknown id."""
        if employee_id not in self._index:
            return ()
        i = self._index[employee_id]
        return self._preorder[i : i + self._size[employee_id]]

    def subtree(self, employee_id: int) -> tuple[OrgNode, ...]:
        """The employee first (depth 0), then everyone below, depth-first."""
        if employee_id not in self._employees:
            return ()
        base = self._depth[employee_id]
        return tuple(
            OrgNode(self.person(e), self._parent[e], self._depth[e] - base)
            for e in self.subtree_ids(employee_id)
        )

    def whole_chart(self) -> tuple[OrgNode, ...]:
        """Every employee (the admin's org chart), roots at depth 0."""
        return tuple(
            OrgNode(self.person(e), self._parent[e], self._depth[e]) for e in self._preorder
        )

    def chart_for(self, user_id: str) -> tuple[OrgNode, ...]:
        """A user's org chart: their subtree, or one node for a user with no employee."""
        employee_id = self.employee_of(user_id)
        if employee_id is not None:
            return self.subtree(employee_id)
        user = self._users.get(user_id)
        if user is None:
            return ()
        return (OrgNode(Person(None, user_id, user.name, self._profile_email(user_id)), None, 0),)

    def manager_chain(self, employee_id: int) -> tuple[int, ...]:
        """Employee ids above this one, nearest manager first."""
        chain: list[int] = []
        node = self._parent.get(employee_id)
        while node is not None:
            chain.append(node)
            node = self._parent[node]
        return tuple(chain)

    def chain(self, employee_id: int) -> tuple[Person, ...]:
        return tuple(self.person(e) for e in self.manager_chain(employee_id))

    # -- access sets -------------------------------------------------------------------

    def visible_salesperson_ids(self, user_id: str) -> frozenset[str]:
        """Self plus every user linked to an employee of the user's subtree (the employee
        included, through archived and user-less nodes); empty for an id that is not a user."""
        cached = self._visible.get(user_id)
        if cached is None:
            if user_id not in self._users:
                return frozenset()
            acc = {user_id}
            employee_id = self.employee_of(user_id)
            if employee_id is not None:
                for e in self.subtree_ids(employee_id):
                    acc.update(self._users_of.get(e, ()))
            cached = self._visible[user_id] = frozenset(acc)
        return cached

    def readable_profile_ids(self, user_id: str) -> frozenset[str]:
        """The visible salespeople plus the users of the managers above in the chain."""
        cached = self._readable.get(user_id)
        if cached is None:
            visible = self.visible_salesperson_ids(user_id)
            employee_id = self.employee_of(user_id)
            if employee_id is None:
                return visible
            above = (u for e in self.manager_chain(employee_id) for u in self._users_of.get(e, ()))
            cached = self._readable[user_id] = visible.union(above)
        return cached

    def users_above(self, user_id: str) -> frozenset[str]:
        """Users who see this user's deals: self, users linked to the same employee, users of
        the chain above. The inverse of ``visible_salesperson_ids``; empty for a non-user."""
        if user_id not in self._users:
            return frozenset()
        employee_id = self.employee_of(user_id)
        if employee_id is None:
            return frozenset((user_id,))
        chain = (employee_id, *self.manager_chain(employee_id))
        return frozenset((user_id, *(u for e in chain for u in self._users_of.get(e, ()))))


class _Profiles(Mapping[str, UserProfile]):
    __slots__ = ("_org",)

    def __init__(self, org: OrgChart) -> None:
        self._org = org

    def __getitem__(self, key: str) -> UserProfile:
        profile = self._org.profile(key)
        if profile is None:
            raise KeyError(key)
        return profile

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._org.user_ids, key=int))

    def __len__(self) -> int:
        return len(self._org.user_ids)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self._org.user(key) is not None


# -- resolution ------------------------------------------------------------------------


@dataclass(slots=True)
class _Findings:
    unlinked: list[UnlinkedUser]
    ambiguous: list[AmbiguousEmail]
    duplicates: list[DuplicateEmployeeLink]
    cycles: list[BrokenCycle]
    missing: list[MissingManager]
    shared: list[SharedEmail]

    def freeze(self) -> OrgReports:
        return OrgReports(
            unlinked_users=tuple(self.unlinked),
            ambiguous_emails=tuple(self.ambiguous),
            duplicate_employee_links=tuple(self.duplicates),
            cycles_broken=tuple(self.cycles),
            missing_managers=tuple(self.missing),
            shared_emails=tuple(self.shared),
        )


def resolve_org(users: Iterable[UserRecord], employees: Iterable[EmployeeRecord]) -> OrgChart:
    """Build the snapshot. Record ids are expected unique; a repeated id keeps the last."""
    internal = {user_key(u.odoo_id): u for u in users if not u.share}  # portal: never users
    staff = {e.odoo_id: e for e in employees}
    found = _Findings([], [], [], [], [], [])
    links = _link_users(internal, staff, found)
    parent = _effective_parents(staff, found)
    email_index = _email_index(internal, found)
    return OrgChart(internal, staff, links, parent, email_index, found.freeze())


def _link_users(
    users: Mapping[str, UserRecord], staff: Mapping[int, EmployeeRecord], found: _Findings
) -> dict[str, tuple[int | None, LinkMethod]]:
    # 1. user_id links. Several employees naming one user: active first, then lowest id.
    claims: dict[str, list[EmployeeRecord]] = {}
    for e in staff.values():
        if e.user_id is not None and user_key(e.user_id) in users:
            claims.setdefault(user_key(e.user_id), []).append(e)
    links: dict[str, tuple[int | None, LinkMethod]] = {}
    for uid, claimed in sorted(claims.items(), key=lambda kv: int(kv[0])):
        ranked = sorted(claimed, key=lambda e: (not e.active, e.odoo_id))
        links[uid] = (ranked[0].odoo_id, LinkMethod.USER_ID)
        if len(ranked) > 1:
            others = tuple(sorted(e.odoo_id for e in ranked[1:]))
            found.duplicates.append(DuplicateEmployeeLink(uid, ranked[0].odoo_id, others))
    # 2. Email fallback, against active employees that belong to no user.
    by_email: dict[str, list[int]] = {}
    for e in staff.values():
        key = normalize_email(e.work_email)
        owned = e.user_id is not None and user_key(e.user_id) in users
        if key is not None and e.active and not owned:
            by_email.setdefault(key, []).append(e.odoo_id)
    ambiguous: dict[str, list[str]] = {}
    for uid in sorted(users, key=int):
        if uid in links:
            continue
        key = user_email_key(users[uid])
        matches = by_email.get(key, []) if key is not None else []
        if len(matches) == 1:
            links[uid] = (matches[0], LinkMethod.EMAIL)
            continue
        links[uid] = (None, LinkMethod.NONE)
        if key is None:
            reason = UnlinkedReason.NO_EMAIL
        elif not matches:
            reason = UnlinkedReason.NO_MATCH
        else:
            reason = UnlinkedReason.AMBIGUOUS_EMAIL
            ambiguous.setdefault(key, []).append(uid)
        found.unlinked.append(UnlinkedUser(uid, reason, key))
    for key in sorted(ambiguous):
        found.ambiguous.append(
            AmbiguousEmail(key, tuple(ambiguous[key]), tuple(sorted(by_email[key])))
        )
    return links


def _effective_parents(
    staff: Mapping[int, EmployeeRecord], found: _Findings
) -> dict[int, int | None]:
    parent: dict[int, int | None] = {}
    for e in sorted(staff):
        p = staff[e].parent_id
        if p is not None and p not in staff:
            found.missing.append(MissingManager(e, p))
            p = None
        parent[e] = p
    # parent_id is a function, so each connected piece holds at most one cycle. Walk up from
    # every node, remembering the current path; meeting the path again closes a cycle,
    # which is broken at its lowest id (a rule that does not depend on where the walk began).
    done: set[int] = set()
    for start in sorted(staff):
        path: list[int] = []
        on_path: dict[int, int] = {}
        node: int | None = start
        while node is not None and node not in done:
            if node in on_path:
                cycle = path[on_path[node] :]
                low = cycle.index(min(cycle))
                ordered = tuple(cycle[low:] + cycle[:low])
                former = parent[ordered[0]]
                assert former is not None
                parent[ordered[0]] = None
                found.cycles.append(BrokenCycle(ordered, (ordered[0], former)))
                break
            on_path[node] = len(path)
            path.append(node)
            node = parent[node]
        done.update(path)
    return parent


def _email_index(users: Mapping[str, UserRecord], found: _Findings) -> dict[str, str]:
    """Sign-in email -> user. Keys are each user's match email (``email``, else an email-like
    ``login``), then any email-like ``login`` that no user has as match email. Several users
    on one key: the active one, then the lowest id, and the key is reported."""
    primary: dict[str, list[str]] = {}
    secondary: dict[str, list[str]] = {}
    for uid, user in users.items():
        key = user_email_key(user)
        if key is not None:
            primary.setdefault(key, []).append(uid)
        login = normalize_email(user.login)
        if login is not None and login != key and _EMAIL_SHAPE.match(login):
            secondary.setdefault(login, []).append(uid)

    def rank(uid: str) -> tuple[bool, int]:
        return (not users[uid].active, int(uid))

    index: dict[str, str] = {}
    for table in (primary, secondary):
        for key in sorted(table):
            if key in index:
                continue
            ranked = sorted(table[key], key=rank)
            index[key] = ranked[0]
            if len(ranked) > 1:
                found.shared.append(SharedEmail(key, tuple(ranked)))
    return index


# -- what changed between two snapshots --------------------------------------------------


def changed_access(old: OrgChart, new: OrgChart) -> set[str]:
    """Users whose access differs between two snapshots: added or removed, activated or
    archived (sign-in), a different visible-salesperson or readable-profile set, or a different
    manager status (it switches the dashboard scope between OWN and TEAM). Projections
    recompute only these viewers after an org change.

    Comparing every user's sets costs users x depth, so only suspects are compared: users
    whose link moved, or whose employee is above or below (in either snapshot) an employee
    whose manager, active flag or linked users changed. Anyone else provably keeps the same
    subtree, the same chain above and the same direct reports."""
    suspects = {
        e
        for e in old.employee_ids | new.employee_ids
        if _node_signature(old, e) != _node_signature(new, e)
    }
    affected: set[int] = set()
    for org in (old, new):
        below: set[int] = set()  # a node in here has its whole subtree in here too
        for e in suspects:
            if e not in below:
                below.update(org.subtree_ids(e))
            affected.update(org.manager_chain(e))
        affected |= below
    changed: set[str] = set()
    for uid in old.user_ids | new.user_ids:
        before, after = old.user(uid), new.user(uid)
        if before is None or after is None or before.active != after.active:
            changed.add(uid)
            continue
        employee_id = old.employee_of(uid)
        if employee_id == new.employee_of(uid) and (
            employee_id is None or employee_id not in affected
        ):
            continue
        if (
            (old.reports_count(uid) > 0) != (new.reports_count(uid) > 0)
            or old.visible_salesperson_ids(uid) != new.visible_salesperson_ids(uid)
            or old.readable_profile_ids(uid) != new.readable_profile_ids(uid)
        ):
            changed.add(uid)
    return changed


def _node_signature(
    org: OrgChart, employee_id: int
) -> tuple[int | None, bool, frozenset[str]] | None:
    employee = org.employee(employee_id)
    if employee is None:
        return None
    return (org.manager_of(employee_id), employee.active, frozenset(org.users_of(employee_id)))


def changed_profiles(old: OrgChart, new: OrgChart) -> set[str]:
    """Users whose ``UserProfile`` (any field, hierarchy included) differs, or who were
    added or removed: the profile read model rewrites only these."""
    return {uid for uid in old.user_ids | new.user_ids if old.profile(uid) != new.profile(uid)}
