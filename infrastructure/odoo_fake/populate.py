"""Large, deterministic data sets for benchmarks: ``populate(odoo, users=1000, leads=100_000)``.

Built straight into the record store (no HTTP, one bulk insert per model). The org chart is a
tree with a fan-out of ``span`` under one CEO, every user has an employee, and leads are spread
over stages, owners and a year of timestamps (so ``write_date`` ties and look-back windows see
realistic densities).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from infrastructure.odoo_fake.instance import OdooInstance
from infrastructure.odoo_fake.records import RecordStore

BENCH_DOMAIN = "bench.example"


@dataclass(frozen=True, slots=True)
class Populated:
    company_id: int
    user_ids: list[int]
    employee_ids: list[int]
    stage_ids: list[int]
    team_ids: list[int]
    lead_ids: list[int]


def populate(
    odoo: OdooInstance | RecordStore,
    *,
    users: int = 1000,
    leads: int = 100_000,
    partners: int = 2000,
    teams: int = 20,
    span: int = 8,
    seed: int = 1,
    now: datetime | None = None,
) -> Populated:
    """Add a synthetic sales org and its pipeline. Safe to call on an empty or demo store."""
    store = odoo.store if isinstance(odoo, OdooInstance) else odoo
    rng = random.Random(seed)
    now = now or store.clock.now()
    year_ago = now - timedelta(days=365)
    company = store.create("res.company", {"name": "Bench Corp"}, at=year_ago)

    user_ids = store.create_many(
        "res.users",
        (
            {
                "name": f"User {i:05d}",
                "login": f"user{i:05d}@{BENCH_DOMAIN}",
                "email": f"user{i:05d}@{BENCH_DOMAIN}",
                "active": rng.random() > 0.03,
                "company_id": company,
            }
            for i in range(users)
        ),
        at=year_ago,
        notify=False,
    )
    # Employees in creation order: employee i reports to employee (i - 1) // span.
    employee_ids: list[int] = []
    for i, uid in enumerate(user_ids):
        parent = employee_ids[(i - 1) // span] if i else False
        employee = {
            "name": f"User {i:05d}",
            "user_id": uid,
            "parent_id": parent,
            "work_email": f"user{i:05d}@{BENCH_DOMAIN}",
            "active": True,
            "company_id": company,
        }
        employee_ids.extend(store.create_many("hr.employee", [employee], at=year_ago, notify=False))

    stage_specs = [("New", 1, False, 10.0), ("Qualified", 2, False, 30.0),
                   ("Proposition", 3, False, 60.0), ("Negotiation", 4, False, 80.0),
                   ("Won", 70, True, 100.0)]  # fmt: skip
    stage_ids = store.create_many(
        "crm.stage",
        ({"name": n, "sequence": s, "is_won": w} for n, s, w, _ in stage_specs),
        at=year_ago,
        notify=False,
    )
    team_ids = store.create_many(
        "crm.team",
        (
            {"name": f"Team {t:02d}", "user_id": user_ids[(t + 1) % len(user_ids)]}
            for t in range(teams)
        ),
        at=year_ago,
        notify=False,
    )
    partner_ids = store.create_many(
        "res.partner",
        ({"name": f"Customer {p:05d}", "is_company": True} for p in range(partners)),
        at=year_ago,
        notify=False,
    )
    reason = store.create("crm.lost.reason", {"name": "Too expensive"}, at=year_ago)

    span_seconds = int((now - year_ago).total_seconds())
    batch: list[tuple[datetime, dict[str, Any]]] = []
    for n in range(leads):
        stage = rng.randrange(len(stage_specs))
        owner = rng.randrange(len(user_ids) + len(user_ids) // 50)  # ~2% unassigned
        status = rng.random()
        vals: dict[str, Any] = {
            "name": f"Deal {n:06d}",
            "type": "lead" if status > 0.97 else "opportunity",
            "user_id": user_ids[owner] if owner < len(user_ids) else False,
            "team_id": team_ids[owner % len(team_ids)],
            "stage_id": stage_ids[stage],
            "partner_id": partner_ids[rng.randrange(len(partner_ids))],
            "expected_revenue": float(rng.randrange(1, 400) * 250),
            "probability": stage_specs[stage][3],
            "company_id": company,
        }
        if status < 0.08:  # lost
            vals.update(active=False, probability=0.0, lost_reason_id=reason)
        elif status < 0.10:  # archived, not lost
            vals["active"] = False
        # Whole seconds and a coarse grid: many write_date ties, as in real databases.
        stamp = year_ago + timedelta(seconds=rng.randrange(span_seconds) // 30 * 30)
        batch.append((stamp, vals))
    batch.sort(key=lambda item: item[0])
    lead_ids = store.create_many(
        "crm.lead", (v for _, v in batch), stamps=[t for t, _ in batch], notify=False
    )
    return Populated(company, user_ids, employee_ids, stage_ids, team_ids, lead_ids)
