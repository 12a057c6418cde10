"""A small company written straight into the read models (the projections are not under test).

    Maya (manager, employee E+10) ── Ana (rep, E+11)
                                  └─ Ben (rep, E+12)
    Max (manager, E+20)          ── Cleo (rep, E+21)
    Dora: an archived user (access entry inactive)

User ids are numeric strings drawn from a random base, so that broadcast channels
(``dashboard:<id>``) are unique per test module even on a shared Redis.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from projections.read_models import (
    ADMIN_DASHBOARD_ID,
    DASHBOARDS,
    OPPORTUNITIES,
    STAGES,
    USER_ACCESS,
    USER_PROFILES,
    AccessDoc,
    AccountDoc,
    DashboardDoc,
    HierarchyDoc,
    MetricsDoc,
    OdooLinkDoc,
    OpportunityDoc,
    OrgNodeDoc,
    PersonDoc,
    SalespersonDoc,
    StageDoc,
    StageListDoc,
    StageMetricsDoc,
    TeamRowDoc,
    UserProfileDoc,
)

Collections = Callable[[str], Awaitable[Any]]
"""The physical collection that serves a read model's base name (its active generation)."""

DOMAIN = "pulse.test"
ADMIN_BY_EMAIL = f"chief@{DOMAIN}"  # listed in PULSE_ADMIN_EMAILS, not an Odoo user
ADMIN_BY_ROLE = f"ops@{DOMAIN}"  # token with the admin role, not an Odoo user
STRANGER = f"nobody@{DOMAIN}"  # valid token, no user


@dataclass
class Person:
    key: str
    id: str
    email: str
    name: str
    employee_id: int


@dataclass
class World:
    base: int
    people: dict[str, Person] = field(default_factory=dict)
    stages: dict[str, StageDoc] = field(default_factory=dict)
    opportunities: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __getitem__(self, key: str) -> Person:
        return self.people[key]

    def owned_by(self, *keys: str) -> set[str]:
        ids = {self.people[k].id for k in keys}
        return {o["_id"] for o in self.opportunities.values() if o["salesperson_id"] in ids}

    def listed(self, ids: set[str]) -> set[str]:
        """Of ``ids``, those listed without a status filter (not ARCHIVED)."""
        return {i for i in ids if self.opportunities[i]["status"] != "ARCHIVED"}


def _person(p: Person) -> PersonDoc:
    return PersonDoc(employee_id=p.employee_id, user_id=p.id, name=p.name, email=p.email)


def build_world() -> World:
    base = random.randint(10_000_000, 90_000_000) * 10
    world = World(base)
    for offset, key, name in [
        (1, "maya", "Maya Manager"),
        (2, "ana", "Ana Rep"),
        (3, "ben", "ben rep"),
        (4, "max", "Max Other"),
        (5, "cleo", "Cleo Peer"),
        (6, "dora", "Dora Gone"),
    ]:
        employee = {"maya": 10, "ana": 11, "ben": 12, "max": 20, "cleo": 21, "dora": 13}[key]
        world.people[key] = Person(
            key, str(base + offset), f"{key}.{base}@{DOMAIN}", name, base + employee
        )
    world.stages = {
        "new": StageDoc(id=f"{base + 1}", odoo_id=base + 1, name="New", sequence=1, is_won=False),
        "prop": StageDoc(
            id=f"{base + 2}", odoo_id=base + 2, name="Proposal", sequence=5, is_won=False
        ),
        "won": StageDoc(id=f"{base + 3}", odoo_id=base + 3, name="Won", sequence=9, is_won=True),
        # Same sequence as "Proposal": ordered after it by name.
        "qual": StageDoc(
            id=f"{base + 4}", odoo_id=base + 4, name="qualified", sequence=5, is_won=False
        ),
    }
    return world


def profile_doc(world: World, key: str) -> dict[str, Any]:
    p = world[key]
    manager = {"ana": "maya", "ben": "maya", "cleo": "max", "dora": "maya"}.get(key)
    reports = {"maya": ["ana", "ben"], "max": ["cleo"]}.get(key, [])
    boss = None if manager is None else world[manager].employee_id
    chart = [OrgNodeDoc(person=_person(p), manager_employee_id=boss, depth=0)]
    chart += [
        OrgNodeDoc(person=_person(world[r]), manager_employee_id=p.employee_id, depth=1)
        for r in reports
    ]
    doc = UserProfileDoc(
        id=p.id,
        email=p.email,
        email_key=p.email,
        name=p.name,
        active=key != "dora",
        odoo=OdooLinkDoc(
            user_id=int(p.id),
            employee_id=p.employee_id,
            manager_employee_id=boss,
            linked_by="USER_ID",
        ),
        hierarchy=HierarchyDoc(
            manager=None if manager is None else _person(world[manager]),
            direct_reports=[_person(world[r]) for r in reports],
            subordinates=[_person(world[r]) for r in reports],
            is_manager=bool(reports),
            reports_count=len(reports),
        ),
        org_chart=chart,
    )
    return doc.model_dump(by_alias=True)


def access_doc(world: World, key: str) -> dict[str, Any]:
    p = world[key]
    # Dora left, but her deals still roll up to Maya (PRODUCT.md §3 "People").
    team = {"maya": ["ana", "ben", "dora"], "max": ["cleo"]}.get(key, [])
    above = {"ana": ["maya"], "ben": ["maya"], "cleo": ["max"], "dora": ["maya"]}.get(key, [])
    visible = [p.id, *(world[t].id for t in team)]
    doc = AccessDoc(
        id=p.id,
        email_key=p.email,
        active=key != "dora",
        visible_user_ids=visible,
        readable_profile_ids=[*visible, *(world[a].id for a in above)],
        manager_ids=[world[a].id for a in above],
        subordinate_ids=[world[t].id for t in team],
        direct_report_count=len([t for t in team if t != "dora"]),
        refreshed_at=datetime.now(UTC),
    )
    return doc.model_dump(by_alias=True)


def viewers_of(world: World, owner: str | None) -> list[str]:
    if owner is None:
        return []
    chain = {"ana": ["maya"], "ben": ["maya"], "cleo": ["max"], "dora": ["maya"]}.get(owner, [])
    return [world[owner].id, *(world[c].id for c in chain)]


_NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def opportunity_doc(
    world: World,
    number: int,
    owner: str | None,
    *,
    name: str,
    revenue: float,
    status: str = "OPEN",
    stage: str = "new",
    deadline: str | None = None,
    minutes_ago: int = 0,
    account: str | None = None,
) -> dict[str, Any]:
    odoo_id = world.base + 1000 + number
    person = None if owner is None else world[owner]
    doc = OpportunityDoc(
        id=str(odoo_id),
        odoo_id=odoo_id,
        name=name,
        name_key=f"{name} {account or ''}".strip().lower(),
        status=status,  # type: ignore[arg-type]
        expected_revenue=revenue,
        probability=50.0,
        weighted_revenue=revenue / 2,
        stage=world.stages[stage],
        salesperson_id=None if person is None else person.id,
        salesperson=(
            None
            if person is None
            else SalespersonDoc(
                id=person.id, name=person.name, email=person.email, active=owner != "dora"
            )
        ),
        account=None if account is None else AccountDoc(odoo_id=odoo_id + 5, name=account),
        deadline=deadline,
        created_at=_NOW - timedelta(days=30),
        updated_at=_NOW - timedelta(minutes=minutes_ago),
        visible_to=viewers_of(world, owner),
        pos=number,
    )
    return doc.model_dump(by_alias=True)


def seed_opportunities(world: World) -> list[dict[str, Any]]:
    rows = [
        opportunity_doc(world, 1, "ana", name="Alpha deal", revenue=1000.0, deadline="2026-04-01",
                        minutes_ago=1, account="Acme"),
        opportunity_doc(world, 2, "ana", name="beta Deal", revenue=5000.0, deadline="2026-03-15",
                        minutes_ago=2, stage="prop"),
        opportunity_doc(world, 3, "ana", name="Gamma", revenue=250.555, status="WON",
                        stage="won", minutes_ago=3),
        opportunity_doc(world, 4, "ana", name="Old archived", revenue=99.0, status="ARCHIVED",
                        minutes_ago=4),
        opportunity_doc(world, 5, "ben", name="Ben big", revenue=9000.0, deadline="2026-05-01",
                        minutes_ago=5, account="Globex"),
        opportunity_doc(world, 6, "ben", name="Ben lost", revenue=300.0, status="LOST",
                        minutes_ago=6),
        opportunity_doc(world, 7, "maya", name="Maya own", revenue=700.0, minutes_ago=7),
        opportunity_doc(world, 8, "cleo", name="Cleo secret", revenue=123456.0,
                        deadline="2026-03-20", minutes_ago=8, account="Initech"),
        opportunity_doc(world, 9, "max", name="Max secret", revenue=777.0, minutes_ago=9),
        opportunity_doc(world, 10, None, name="Unassigned secret", revenue=4242.0,
                        minutes_ago=10),
        opportunity_doc(world, 11, "dora", name="Dora leftover", revenue=50.0, minutes_ago=11),
    ]  # fmt: skip
    world.opportunities = {r["_id"]: r for r in rows}
    return rows


def metrics(open_count: int, pipeline: float) -> MetricsDoc:
    return MetricsDoc(
        total_count=open_count, open_count=open_count, pipeline_value=pipeline,
        weighted_pipeline_value=pipeline / 2,
    )  # fmt: skip


def dashboard_doc(world: World, owner: str, *, pipeline: float, as_of: int = 10) -> dict[str, Any]:
    """``owner`` is a person key or ``ADMIN_DASHBOARD_ID``."""
    if owner == ADMIN_DASHBOARD_ID:
        doc_id, scope, team = ADMIN_DASHBOARD_ID, "ALL", ["maya", "ana", "ben", "max", "cleo"]
    else:
        doc_id = world[owner].id
        team = {"maya": ["maya", "ana", "ben"], "max": ["max", "cleo"]}.get(owner, [])
        scope = "TEAM" if team else "OWN"
    doc = DashboardDoc(
        id=doc_id,
        scope=scope,  # type: ignore[arg-type]
        metrics=metrics(3, pipeline),
        by_stage=[StageMetricsDoc(stage=world.stages["new"], count=3, value=pipeline)],
        team=[
            TeamRowDoc.of(
                (world[t].id, world[t].name, world[t].email, t != "dora"),
                metrics(1, pipeline / 3).model_dump(),
            )
            for t in team
        ],
        as_of=as_of,
        updated_at=datetime.now(UTC),
    )
    return doc.model_dump(by_alias=True)


async def seed(collection: Collections, world: World) -> None:
    keys = list(world.people)
    await (await collection(USER_PROFILES)).insert_many([profile_doc(world, k) for k in keys])
    await (await collection(USER_ACCESS)).insert_many([access_doc(world, k) for k in keys])
    await (await collection(OPPORTUNITIES)).insert_many(seed_opportunities(world))
    stages = [
        StageListDoc(id=s.id, odoo_id=s.odoo_id, name=s.name, sequence=s.sequence,
                     is_won=s.is_won).model_dump(by_alias=True)
        for s in world.stages.values()
    ]  # fmt: skip
    await (await collection(STAGES)).insert_many(stages)
    await (await collection(DASHBOARDS)).insert_many(
        [
            dashboard_doc(world, "maya", pipeline=7000.0),
            dashboard_doc(world, "ana", pipeline=6000.0),
            dashboard_doc(world, "cleo", pipeline=123456.0),
            dashboard_doc(world, ADMIN_DASHBOARD_ID, pipeline=999999.0),
        ]
    )
