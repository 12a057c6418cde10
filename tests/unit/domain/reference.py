"""A deliberately naive reference for PRODUCT.md §3, written apart from ``domain/``.

No code is shared with ``domain/org.py``, ``access.py`` or ``metrics.py``: nested loops over
plain lists, upward walks instead of subtrees, ``Fraction`` instead of fixed-point integers.
Only the input records (``domain/model.py``) are shared. Where the spec is silent it follows
the rules those modules document (cycle breaking, unowned email candidates, ordering ties,
1e-6 input resolution, half-up cents).

Dashboards are returned as plain tuples so that tests compare every number and every row.
The hypothesis strategies that generate random orgs and opportunities for the property tests
of all three modules live at the end of this file.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

from hypothesis import strategies as st

from domain.model import EmployeeRecord, LeadRecord, StageRecord, UserRecord


def clean_email(text: str | None) -> str:
    """'' when blank."""
    if text is None:
        return ""
    return text.strip().lower()


def looks_like_email(text: str) -> bool:
    if text.count("@") != 1 or any(ch.isspace() for ch in text):
        return False
    local, domain = text.split("@")
    return local != "" and domain != ""


@dataclass
class RefOrg:
    """The reference's view of the org, all in plain dicts."""

    users: dict[str, UserRecord]  # internal users only
    employees: dict[int, EmployeeRecord]
    link: dict[str, int | None]  # user -> employee
    method: dict[str, str]  # user -> USER_ID / EMAIL / NONE
    parent: dict[int, int | None]  # after dropping unknown managers and breaking cycles


def ref_org(users: Sequence[UserRecord], employees: Sequence[EmployeeRecord]) -> RefOrg:
    internal = {}
    for u in users:
        if u.share is False:
            internal[str(u.odoo_id)] = u
    staff = {}
    for e in employees:
        staff[e.odoo_id] = e

    link: dict[str, int | None] = {}
    method: dict[str, str] = {}
    for uid, u in internal.items():
        named = [e for e in staff.values() if e.user_id == u.odoo_id]
        if named:
            actives = [e.odoo_id for e in named if e.active]
            link[uid] = min(actives) if actives else min(e.odoo_id for e in named)
            method[uid] = "USER_ID"
            continue
        email = clean_email(u.email)
        if email == "":
            login = clean_email(u.login)
            if looks_like_email(login):
                email = login
        matches = []
        if email != "":
            for e in staff.values():
                owned = e.user_id is not None and str(e.user_id) in internal
                if e.active and not owned and clean_email(e.work_email) == email:
                    matches.append(e.odoo_id)
        if len(matches) == 1:
            link[uid] = matches[0]
            method[uid] = "EMAIL"
        else:
            link[uid] = None
            method[uid] = "NONE"

    parent: dict[int, int | None] = {}
    for eid, e in staff.items():
        parent[eid] = e.parent_id if e.parent_id in staff else None
    # Break cycles one at a time, always at the lowest id of the cycle found.
    while True:
        cycle = None
        for start in sorted(staff):
            walked: list[int] = []
            node: int | None = start
            while node is not None and node not in walked:
                walked.append(node)
                node = parent[node]
            if node is not None:
                cycle = walked[walked.index(node) :]
                break
        if cycle is None:
            break
        parent[min(cycle)] = None
    return RefOrg(internal, staff, link, method, parent)


def ancestors_or_self(org: RefOrg, employee_id: int) -> list[int]:
    out = []
    node: int | None = employee_id
    while node is not None:
        out.append(node)
        node = org.parent[node]
    return out


def visible(org: RefOrg, uid: str) -> set[str]:
    if uid not in org.users:
        return set()
    seen = {uid}
    mine = org.link[uid]
    if mine is None:
        return seen
    for other, theirs in org.link.items():
        if theirs is not None and mine in ancestors_or_self(org, theirs):
            seen.add(other)
    return seen


def readable(org: RefOrg, uid: str) -> set[str]:
    out = visible(org, uid)
    mine = org.link.get(uid)
    if mine is None:
        return out
    above = ancestors_or_self(org, mine)[1:]
    for other, theirs in org.link.items():
        if theirs is not None and theirs in above:
            out.add(other)
    return out


def viewers_of(org: RefOrg, salesperson: str | None) -> set[str]:
    if salesperson is None:
        return set()
    return {uid for uid in org.users if salesperson in visible(org, uid)}


def direct_reports(org: RefOrg, employee_id: int) -> set[int]:
    return {e for e, p in org.parent.items() if p == employee_id and org.employees[e].active}


def subordinates(org: RefOrg, employee_id: int) -> set[int]:
    return {e for e in org.employees if employee_id in ancestors_or_self(org, e)[1:]}


def reports_count(org: RefOrg, uid: str) -> int:
    mine = org.link.get(uid)
    return 0 if mine is None else len(direct_reports(org, mine))


def display_user(org: RefOrg, employee_id: int) -> str | None:
    """The user shown on an employee's Person: the user_id link, else active, else lowest."""
    linked = [uid for uid, e in org.link.items() if e == employee_id]
    if not linked:
        return None
    linked.sort(key=lambda uid: (org.method[uid] != "USER_ID", not org.users[uid].active, int(uid)))
    return linked[0]


def chart(org: RefOrg, root: int) -> list[tuple[int, int]]:
    """(employee id, depth) depth-first, siblings by (casefolded name, id); recursive."""

    def walk(node: int, depth: int) -> list[tuple[int, int]]:
        kids = [e for e, p in org.parent.items() if p == node]
        kids.sort(key=lambda e: (org.employees[e].name.casefold(), e))
        out = [(node, depth)]
        for k in kids:
            out += walk(k, depth + 1)
        return out

    return walk(root, 0)


# -- dashboards ------------------------------------------------------------------------------


def exact(number: float) -> Fraction:
    """The decimal a float prints as, at 1e-6 resolution (half-even, as ``round`` does)."""
    return Fraction(round(Fraction(str(number)) * 1_000_000), 1_000_000)


def cents(amount: Fraction) -> float:
    """Half away from zero, to 2 decimals."""
    size = math.floor(abs(amount) * 100 + Fraction(1, 2))
    return float(Fraction(size if amount >= 0 else -size, 100))


def status_of(lead: LeadRecord, stages: dict[int, StageRecord]) -> str:
    stage = stages.get(lead.stage_id) if lead.stage_id is not None else None
    if lead.active is True:
        if stage is not None and stage.is_won:
            return "WON"
        return "OPEN"
    if lead.probability == 0:
        return "LOST"
    return "ARCHIVED"


MetricsTuple = tuple[int, int, int, int, float, float, float, float | None, float | None]


def metrics(leads: list[LeadRecord], stages: dict[int, StageRecord]) -> MetricsTuple:
    open_n = won_n = lost_n = 0
    pipeline = weighted = won_value = Fraction(0)
    for lead in leads:
        status = status_of(lead, stages)
        if status == "OPEN":
            open_n += 1
            pipeline += exact(lead.expected_revenue)
            weighted += exact(lead.expected_revenue) * exact(lead.probability) / 100
        elif status == "WON":
            won_n += 1
            won_value += exact(lead.expected_revenue)
        elif status == "LOST":
            lost_n += 1
    win_rate = won_n / (won_n + lost_n) if won_n + lost_n > 0 else None
    average = cents(won_value / won_n) if won_n > 0 else None
    return (
        open_n + won_n + lost_n,
        open_n,
        won_n,
        lost_n,
        cents(pipeline),
        cents(weighted),
        cents(won_value),
        win_rate,
        average,
    )


DashboardTuple = tuple[
    str,
    MetricsTuple,
    list[tuple[int, int, float]],
    list[tuple[str, MetricsTuple]],
]


def dashboard(
    org: RefOrg,
    viewer: str | None,
    is_admin: bool,
    leads: list[LeadRecord],
    stages: dict[int, StageRecord],
) -> DashboardTuple:
    """(scope, metrics, [(stage id, count, value)], [(salesperson id, metrics)])."""
    mine = [] if is_admin or viewer is None else sorted(visible(org, viewer))
    shown = []
    for lead in leads:
        if lead.type != "opportunity" or status_of(lead, stages) == "ARCHIVED":
            continue
        if is_admin or (lead.user_id is not None and str(lead.user_id) in mine):
            shown.append(lead)

    if is_admin:
        scope = "ALL"
    elif viewer is not None and reports_count(org, viewer) > 0:
        scope = "TEAM"
    else:
        scope = "OWN"

    rows = []
    for sid, stage in stages.items():
        held = [x for x in shown if x.stage_id == sid and status_of(x, stages) in ("OPEN", "WON")]
        if held:
            value = sum((exact(x.expected_revenue) for x in held), Fraction(0))
            rows.append((stage, len(held), cents(value)))
    rows.sort(key=lambda r: (r[0].sequence, r[0].name.casefold(), r[0].odoo_id))

    team = []
    if scope != "OWN":
        for uid, user in org.users.items():
            theirs = [x for x in shown if x.user_id is not None and str(x.user_id) == uid]
            if theirs:
                team.append((user.name, uid, metrics(theirs, stages)))
        team.sort(key=lambda r: (-r[2][4], r[0].casefold(), int(r[1])))

    return (
        scope,
        metrics(shown, stages),
        [(s.odoo_id, n, v) for s, n, v in rows],
        [(uid, m) for _, uid, m in team],
    )


# -- random inputs (hypothesis strategies shared by the property tests) ------------------------

NAMES = st.sampled_from(["Ann", "ann", "Bob", "bob", "Cy", "Dee", "Eve"])
BASE_EMAILS = ["ann@corp.com", "bob@corp.com", "cy@corp.com"]


@st.composite
def email_variants(draw: st.DrawFn) -> str:
    """The same few addresses in different letter case and with blanks around them."""
    base = draw(st.sampled_from(BASE_EMAILS))
    case = draw(st.sampled_from([str.lower, str.upper, str.title]))
    left = draw(st.sampled_from(["", " ", "\t"]))
    right = draw(st.sampled_from(["", " ", "  \n"]))
    return left + case(base) + right


@st.composite
def org_records(
    draw: st.DrawFn, max_users: int = 8, max_employees: int = 10
) -> tuple[list[UserRecord], list[EmployeeRecord]]:
    """Users (internal, archived, portal; email, email-like login, neither) and employees
    (linked by user_id, several naming one user, user-less, naming an unknown user, archived,
    email-only; parents mostly forming trees, sometimes cycles, self-loops, unknown ids)."""
    # Sizes drawn first (uniformly), so that larger orgs are as common as tiny ones.
    n_users, n_employees = draw(st.integers(0, max_users)), draw(st.integers(0, max_employees))
    ids = st.integers(1, 20)
    user_ids = draw(st.lists(ids, unique=True, min_size=n_users, max_size=n_users))
    employee_ids = draw(st.lists(ids, unique=True, min_size=n_employees, max_size=n_employees))
    users = []
    for uid in user_ids:
        email_kind = draw(st.sampled_from(["none", "blank", "email", "email", "email"]))
        email = {"none": None, "blank": draw(st.sampled_from(["", "  "]))}.get(email_kind)
        if email_kind == "email":
            email = draw(email_variants())
        login = draw(st.one_of(email_variants(), st.sampled_from(["admin", "jdoe", "x@", "@y"])))
        users.append(
            UserRecord(
                odoo_id=uid,
                login=login,
                name=draw(NAMES),
                email=email,
                active=draw(st.sampled_from([True, True, True, False])),
                share=draw(st.sampled_from([False, False, False, False, True])),
            )
        )
    unclaimed = list(user_ids)
    employees = []
    for i, eid in enumerate(employee_ids):
        earlier = employee_ids[:i]
        parent_kind = draw(st.sampled_from(["tree"] * 8 + ["root", "wild"]))
        parent: int | None = None
        if parent_kind == "tree" and earlier:  # mostly trees, so chains get deep
            parent = draw(st.sampled_from(earlier))
        elif parent_kind == "wild":  # cycles, self-loops, unknown managers
            parent = draw(st.sampled_from([99, eid, *employee_ids]))
        user_kind = draw(st.sampled_from(["own"] * 4 + ["none"] * 3 + ["shared", "unknown"]))
        user: int | None = None
        if user_kind == "own" and unclaimed:
            user = draw(st.sampled_from(unclaimed))
            unclaimed.remove(user)
        elif user_kind == "shared" and user_ids:
            user = draw(st.sampled_from(user_ids))
        elif user_kind == "unknown":
            user = 77
        employees.append(
            EmployeeRecord(
                odoo_id=eid,
                name=draw(NAMES),
                user_id=user,
                parent_id=parent,
                work_email=draw(st.one_of(st.sampled_from([None, ""]), email_variants())),
                active=draw(st.sampled_from([True, True, True, False])),
            )
        )
    return users, employees


@st.composite
def stage_records(draw: st.DrawFn) -> list[StageRecord]:
    ids = draw(st.lists(st.integers(1, 6), unique=True, max_size=4))
    return [
        StageRecord(
            odoo_id=sid,
            name=draw(st.sampled_from(["New", "new", "Won", "Proposal"])),
            sequence=draw(st.integers(0, 3)),
            is_won=draw(st.booleans()),
        )
        for sid in ids
    ]


REVENUES = st.one_of(
    st.sampled_from(
        [0.0, 0.005, 0.015, 1.005, 2.675, 0.1, 0.2, 99.99, 1234.56, 1e9, 333.333333, 2.0000005]
    ),
    st.floats(min_value=-1e4, max_value=1e10, allow_nan=False, allow_infinity=False),
)
PROBABILITIES = st.one_of(
    st.sampled_from(
        [0.0, 0.0, 10.0, 33.33, 50.0, 66.67, 100.0, 12.345678, 0.5, 1.0000005, 0.0000025]
    ),
    st.floats(min_value=0, max_value=100),
)


@st.composite
def lead_record(
    draw: st.DrawFn, odoo_id: int, user_ids: list[int], stage_ids: list[int]
) -> LeadRecord:
    """Any kind of record: lead or opportunity, every status, unassigned, a salesperson who is
    not a user (portal or unknown id 88), no stage or a stage we do not have (55)."""
    return LeadRecord(
        odoo_id=odoo_id,
        name=f"Deal {odoo_id}",
        type=draw(st.sampled_from(["opportunity", "opportunity", "opportunity", "lead"])),
        user_id=draw(st.sampled_from([None, 88, *user_ids, *user_ids])),
        stage_id=draw(st.sampled_from([None, 55, *stage_ids, *stage_ids])),
        expected_revenue=draw(REVENUES),
        probability=draw(PROBABILITIES),
        active=draw(st.booleans()),
    )


@st.composite
def lead_records(
    draw: st.DrawFn, user_ids: list[int], stage_ids: list[int], max_size: int = 15
) -> list[LeadRecord]:
    size = draw(st.integers(0, max_size))
    ids = draw(st.lists(st.integers(1, 40), unique=True, min_size=size, max_size=size))
    return [draw(lead_record(i, user_ids, stage_ids)) for i in ids]
