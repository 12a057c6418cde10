"""Northwind Traders: a small, deterministic demo company with every awkward case of ODOO.md.

Org chart (employees; ``*`` = no user, ``(arch)`` = archived)::

    Alice Morgan (CEO)
    ├── Victor Hale (VP Sales)
    │   ├── Maria Lopez (Sales Manager EMEA)
    │   │   ├── Tom Becker (Team Lead)
    │   │   │   ├── Ethan Walker, Olivia Brown (login "obrown", no email)
    │   │   │   ├── Chris Taylor*  ─┐ same work email as Christopher Taylor*: user
    │   │   │   └── Zoe Martin (arch, user archived too: left, still owns deals)
    │   │   └── Sofia Rossi*  (her user is linked only by email, in another letter case)
    │   │       ├── Lucas Martin, Emma Dubois
    │   │       └── Paul Novak* (intern, no email)
    │   ├── Bruno Keller (arch manager, user archived) └── Liam Chen └── Noah Kim, Ava Johnson
    │   └── Grace Okafor* (manager without a user)    └── Nina Patel └── Mia Schmidt, Ravi Kumar,
    │                                                                  Christopher Taylor*
    └── Hannah Lee* (HR)

Users without an employee: Mitchell Admin, Sam Rivera (login "srivera", no email) and Chris
Taylor (his email matches two active employees: ambiguous). Two portal users (``share``).
``OdooBot`` (id 1) is archived, as in every Odoo. No ``parent_id`` cycle: tests add one with
:func:`add_parent_cycle`.

Leads: ~70, deterministic for a given ``seed`` and ``now``: open ones in every stage, won,
lost (archived, probability 0), archived-but-not-lost, unassigned, type ``lead``, owned by
archived users, without partner, deadline or team.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from infrastructure.odoo_fake.records import RecordStore

DOMAIN = "northwind.example"
COMPANY = "Northwind Traders"


def email(local: str) -> str:
    return f"{local}@{DOMAIN}"


@dataclass(frozen=True, slots=True)
class DemoUser:
    key: str
    name: str
    login: str
    email: str | None
    role: str  # "admin" | "manager" | "rep" | "other" | "portal"
    note: str = ""


# key, name, login, email, active, share, role, note
_USERS: list[tuple[str, str, str, str | None, bool, bool, str, str]] = [
    ("odoobot", "OdooBot", "__system__", "odoobot@example.com", False, False, "other", ""),
    ("admin", "Mitchell Admin", "admin", email("admin"), True, False, "other", "no employee"),
    ("alice", "Alice Morgan", email("alice.morgan"), email("alice.morgan"), True, False,
     "admin", "CEO: top of the org chart, a natural admin"),
    ("victor", "Victor Hale", email("victor.hale"), email("victor.hale"), True, False,
     "manager", "VP Sales: sees the whole sales org"),
    ("maria", "Maria Lopez", email("maria.lopez"), email("maria.lopez"), True, False,
     "manager", "Sales Manager EMEA (TEAM scope)"),
    ("bruno", "Bruno Keller", email("bruno.keller"), email("bruno.keller"), False, False,
     "other", "archived manager with reports"),
    ("tom", "Tom Becker", email("tom.becker"), email("tom.becker"), True, False,
     "manager", "team lead"),
    ("sofia", "Sofia Rossi", "sofia.rossi", "Sofia.Rossi@Northwind.example", True, False,
     "manager", "linked to her employee by email only (different case)"),
    ("liam", "Liam Chen", email("liam.chen"), email("liam.chen"), True, False,
     "manager", "reports to an archived manager"),
    ("nina", "Nina Patel", email("nina.patel"), email("nina.patel"), True, False,
     "manager", "reports to a manager without a user"),
    ("ethan", "Ethan Walker", email("ethan.walker"), email("ethan.walker"), True, False,
     "rep", "a rep (OWN scope)"),
    ("olivia", "Olivia Brown", "obrown", None, True, False, "other",
     "rep whose login is not an email and who has no email (linked by user_id)"),
    ("lucas", "Lucas Martin", email("lucas.martin"), email("lucas.martin"), True, False,
     "rep", ""),
    ("emma", "Emma Dubois", "Emma.Dubois@" + DOMAIN, email("emma.dubois"), True, False,
     "rep", ""),
    ("noah", "Noah Kim", email("noah.kim"), email("noah.kim"), True, False, "rep", ""),
    ("ava", "Ava Johnson", email("ava.johnson"), email("ava.johnson"), True, False, "rep", ""),
    ("mia", "Mia Schmidt", email("mia.schmidt"), email("mia.schmidt"), True, False, "rep", ""),
    ("ravi", "Ravi Kumar", email("ravi.kumar"), email("ravi.kumar"), True, False, "rep", ""),
    ("chris", "Chris Taylor", email("chris.taylor"), email("chris.taylor"), True, False,
     "rep", "email matches two active employees: ambiguous, not linked"),
    ("sam", "Sam Rivera", "srivera", None, True, False, "other",
     "sales ops: no employee, no email"),
    ("zoe", "Zoe Martin", email("zoe.martin"), email("zoe.martin"), False, False, "other",
     "left the company: archived, still owns deals"),
    ("portal_acme", "Acme Buyer", "buyer@acme.example", "buyer@acme.example", True, True,
     "portal", "portal user: never a Pulse user"),
    ("portal_globex", "Globex Purchasing", "purchasing@globex.example",
     "purchasing@globex.example", True, True, "portal", "portal user"),
]  # fmt: skip

# key, name, user key, manager key, work email, active, department
_EMPLOYEES: list[tuple[str, str, str | None, str | None, str | None, bool, str]] = [
    ("alice", "Alice Morgan", "alice", None, email("alice.morgan"), True, "Management"),
    ("victor", "Victor Hale", "victor", "alice", email("victor.hale"), True, "Sales"),
    ("hannah", "Hannah Lee", None, "alice", email("hannah.lee"), True, "Human Resources"),
    ("maria", "Maria Lopez", "maria", "victor", email("maria.lopez"), True, "Sales EMEA"),
    ("bruno", "Bruno Keller", "bruno", "victor", email("bruno.keller"), False, "Sales Americas"),
    ("grace", "Grace Okafor", None, "victor", email("grace.okafor"), True, "Sales APAC"),
    ("tom", "Tom Becker", "tom", "maria", email("tom.becker"), True, "Sales EMEA"),
    ("sofia", "Sofia Rossi", None, "maria", email("sofia.rossi"), True, "Sales EMEA"),
    ("liam", "Liam Chen", "liam", "bruno", email("liam.chen"), True, "Sales Americas"),
    ("nina", "Nina Patel", "nina", "grace", email("nina.patel"), True, "Sales APAC"),
    ("ethan", "Ethan Walker", "ethan", "tom", email("ethan.walker"), True, "Sales EMEA"),
    ("olivia", "Olivia Brown", "olivia", "tom", email("olivia.brown"), True, "Sales EMEA"),
    ("chris_t", "Chris Taylor", None, "tom", email("chris.taylor"), True, "Sales EMEA"),
    ("zoe", "Zoe Martin", "zoe", "tom", email("zoe.martin"), False, "Sales EMEA"),
    ("lucas", "Lucas Martin", "lucas", "sofia", email("lucas.martin"), True, "Sales EMEA"),
    ("emma", "Emma Dubois", "emma", "sofia", email("emma.dubois"), True, "Sales EMEA"),
    ("paul", "Paul Novak", None, "sofia", None, True, "Sales EMEA"),
    ("noah", "Noah Kim", "noah", "liam", email("noah.kim"), True, "Sales Americas"),
    ("ava", "Ava Johnson", "ava", "liam", email("ava.johnson"), True, "Sales Americas"),
    ("mia", "Mia Schmidt", "mia", "nina", email("mia.schmidt"), True, "Sales APAC"),
    ("ravi", "Ravi Kumar", "ravi", "nina", email("ravi.kumar"), True, "Sales APAC"),
    ("christopher_t", "Christopher Taylor", None, "nina", "Chris.Taylor@" + DOMAIN, True,
     "Sales APAC"),
]  # fmt: skip

_DEPARTMENTS = ["Management", "Sales", "Sales EMEA", "Sales Americas", "Sales APAC",
                "Human Resources"]  # fmt: skip

# name, sequence, is_won, fold, typical probability
_STAGES = [
    ("New", 1, False, False, 10.0),
    ("Qualified", 2, False, False, 30.0),
    ("Proposition", 3, False, False, 60.0),
    ("Negotiation", 4, False, False, 80.0),
    ("Won", 70, True, False, 100.0),
    ("On Hold", 80, False, True, 5.0),
]

# name, leader key, member keys
_TEAMS = [
    ("Europe", "maria", ["tom", "sofia", "ethan", "olivia", "lucas", "emma", "chris", "zoe"]),
    ("Americas", "liam", ["liam", "noah", "ava", "bruno"]),
    ("Asia Pacific", "nina", ["nina", "mia", "ravi"]),
]

_LOST_REASONS = ["Too expensive", "We don't have people/skills", "Not enough stock",
                 "Chose a competitor"]  # fmt: skip

_PARTNERS = [
    "Acme Corporation", "Globex", "Initech", "Umbrella Health", "Stark Industries",
    "Wayne Enterprises", "Wonka Foods", "Cyberdyne Systems", "Soylent Nutrition", "Tyrell Corp",
    "Hooli", "Vandelay Industries", "Pied Piper", "Oceanic Airlines", "Monarch Solutions",
    "Gringotts Bank", "Massive Dynamic",
]  # fmt: skip
_CONTACTS = [("Jane Smith", "jane.smith@acme.example"), ("Peter Gibbons", "peter@initech.example"),
             ("Hank Scorpio", "")]  # fmt: skip

# Which salesperson (user key) owns how many deals; team by salesperson.
_OWNERS = {
    "ethan": 6, "olivia": 5, "lucas": 5, "emma": 4, "noah": 5, "ava": 4, "mia": 5, "ravi": 4,
    "tom": 3, "sofia": 3, "liam": 2, "nina": 2, "maria": 2, "victor": 1, "chris": 2, "sam": 2,
    "zoe": 3, "bruno": 2,
}  # fmt: skip
_TEAM_OF = {u: t for t, _, members in _TEAMS for u in members} | {
    "maria": "Europe", "nina": "Asia Pacific",
}  # fmt: skip
_PRODUCTS = ["Website Redesign", "ERP Rollout", "Support Contract", "Office Furniture",
             "Cloud Migration", "Training Package", "Hardware Refresh", "Data Platform",
             "Mobile App", "Consulting Days", "Security Audit", "License Renewal"]  # fmt: skip


@dataclass
class DemoCompany:
    """Ids of everything the demo created, by key (for tests and ``pulse demo``)."""

    company_id: int = 0
    users: dict[str, int] = field(default_factory=dict)
    employees: dict[str, int] = field(default_factory=dict)
    departments: dict[str, int] = field(default_factory=dict)
    stages: dict[str, int] = field(default_factory=dict)
    teams: dict[str, int] = field(default_factory=dict)
    lost_reasons: dict[str, int] = field(default_factory=dict)
    partners: dict[str, int] = field(default_factory=dict)
    leads: dict[str, int] = field(default_factory=dict)  # "ethan-1", "unassigned-2", ...

    @property
    def won_stage_id(self) -> int:
        return self.stages["Won"]


#: One account per role for ``pulse demo`` to print tokens for.
DEMO_PICKS = {"admin": "alice", "manager": "maria", "rep": "ethan"}


def demo_picks() -> dict[str, DemoUser]:
    """``{"admin": Alice (CEO), "manager": Maria (TEAM scope), "rep": Ethan (OWN scope)}``."""
    by_key = {u.key: u for u in demo_users()}
    return {role: by_key[key] for role, key in DEMO_PICKS.items()}


def demo_users() -> list[DemoUser]:
    """Every demo account with a role hint: ``admin`` (a natural admin), ``manager``, ``rep``,
    ``other`` (internal, interesting for linking) and ``portal`` (never a Pulse user)."""
    return [
        DemoUser(key, name, login, mail, role, note)
        for key, name, login, mail, active, _share, role, note in _USERS
        if active
    ]


def load_demo(store: RecordStore, *, now: datetime | None = None, seed: int = 7) -> DemoCompany:
    """Create the demo company in ``store`` (expected empty). Timestamps are spread over the
    120 days before ``now`` (default: the store's clock)."""
    now = now or store.clock.now()
    start = now - timedelta(days=120)
    demo = DemoCompany()
    demo.company_id = store.create("res.company", {"name": COMPANY}, at=start)
    vals: dict[str, Any]
    for key, name, login, mail, active, share, _role, _note in _USERS:
        vals = {"name": name, "login": login, "email": mail, "active": active, "share": share,
                "company_id": demo.company_id}  # fmt: skip
        demo.users[key] = store.create("res.users", vals, at=start)
    for dep in _DEPARTMENTS:
        demo.departments[dep] = store.create(
            "hr.department", {"name": dep, "company_id": demo.company_id}, at=start
        )
    for key, name, user, manager, mail, active, dep in _EMPLOYEES:
        vals = {
            "name": name,
            "user_id": demo.users[user] if user else False,
            "parent_id": demo.employees[manager] if manager else False,
            "work_email": mail or False,
            "active": active,
            "department_id": demo.departments[dep],
            "company_id": demo.company_id,
        }
        demo.employees[key] = store.create("hr.employee", vals, at=start)
    for name, sequence, is_won, fold, _p in _STAGES:
        vals = {"name": name, "sequence": sequence, "is_won": is_won, "fold": fold}
        demo.stages[name] = store.create("crm.stage", vals, at=start)
    for name, leader, members in _TEAMS:
        vals = {"name": name, "user_id": demo.users[leader],
                "member_ids": [demo.users[m] for m in members]}  # fmt: skip
        demo.teams[name] = store.create("crm.team", vals, at=start)
    for reason in _LOST_REASONS:
        demo.lost_reasons[reason] = store.create("crm.lost.reason", {"name": reason}, at=start)
    for name in _PARTNERS:
        slug = name.lower().split()[0]
        vals = {"name": name, "is_company": True, "email": f"info@{slug}.example"}
        demo.partners[name] = store.create("res.partner", vals, at=start)
    for name, mail in _CONTACTS:
        demo.partners[name] = store.create("res.partner", {"name": name, "email": mail or False})
    store.write("res.partner", demo.partners["Massive Dynamic"], {"active": False}, at=start)
    _leads(store, demo, random.Random(seed), now)
    return demo


def _leads(store: RecordStore, demo: DemoCompany, rng: random.Random, now: datetime) -> None:
    partners = [demo.partners[p] for p in _PARTNERS]
    open_stages = [s for s in _STAGES if not s[2]]
    counter = 0

    def add(key: str, owner: str | None, closed: bool = False, **extra: Any) -> int:
        nonlocal counter
        counter += 1
        created = now - timedelta(days=rng.randint(5, 119), seconds=rng.randint(0, 86399))
        stage = rng.choice(open_stages)
        vals: dict[str, Any] = {
            "name": f"{rng.choice(_PRODUCTS)} #{counter:03d}",
            "type": "opportunity",
            "user_id": demo.users[owner] if owner else False,
            "team_id": demo.teams[_TEAM_OF[owner]] if owner in _TEAM_OF else False,
            "stage_id": demo.stages[stage[0]],
            "partner_id": rng.choice(partners),
            "expected_revenue": float(rng.randint(2, 150) * 500),
            "probability": stage[4],
            "date_deadline": (now + timedelta(days=rng.randint(-15, 90))).date(),
            "company_id": demo.company_id,
            "priority": rng.choice(["0", "0", "1", "2", "3"]),
        }
        vals.update(extra)
        age = int((now - created).total_seconds())
        edited = created + timedelta(seconds=rng.randint(60, age))
        if closed:  # won or lost at some point between creation and now
            vals["date_closed"] = edited.replace(microsecond=0)
        rid = store.create("crm.lead", vals, at=created)
        # Most records were edited after creation (closed ones when they were closed).
        if closed or rng.random() < 0.7:
            store.write("crm.lead", rid, {"name": vals["name"]}, at=edited)
        demo.leads[key] = rid
        return rid

    for owner, count in _OWNERS.items():
        for i in range(1, count + 1):
            add(f"{owner}-{i}", owner)
    won = demo.stages["Won"]
    for i, owner in enumerate(["ethan", "ethan", "olivia", "noah", "mia", "lucas", "zoe", "tom"]):
        add(f"won-{i + 1}", owner, closed=True, stage_id=won, probability=100.0)
    reasons = list(demo.lost_reasons.values())
    for i, owner in enumerate(["ethan", "olivia", "noah", "ava", "ravi", "bruno"]):
        add(f"lost-{i + 1}", owner, closed=True, active=False, probability=0.0,
            lost_reason_id=reasons[i % len(reasons)])  # fmt: skip
    for i, owner in enumerate(["lucas", "mia", "tom"]):
        add(f"archived-{i + 1}", owner, active=False, probability=40.0)
    for i in range(4):
        add(f"unassigned-{i + 1}", None)
    lead_owners: list[str | None] = ["ethan", "ravi", None, "sam", "emma"]
    for i, lead_owner in enumerate(lead_owners):
        add(f"lead-{i + 1}", lead_owner, type="lead", stage_id=False, probability=5.0)
    # Bare records: no partner, no deadline, no team, zero value.
    add("bare-1", "ethan", partner_id=False, date_deadline=False, team_id=False)
    add("bare-2", "noah", expected_revenue=0.0, date_deadline=False)


def add_parent_cycle(store: RecordStore, demo: DemoCompany) -> tuple[int, int]:
    """Make Grace Okafor report to Nina Patel, who reports to Grace: a ``parent_id`` cycle."""
    grace, nina = demo.employees["grace"], demo.employees["nina"]
    store.write("hr.employee", grace, {"parent_id": nina})
    return grace, nina
