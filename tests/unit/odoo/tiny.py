"""A tiny, hand-made Odoo database for evaluating domains, orders and values precisely."""

from __future__ import annotations

from dataclasses import dataclass

from infrastructure.odoo_fake.clock import OdooClock
from infrastructure.odoo_fake.records import RecordStore

T0 = "2025-03-03 09:00:00"


@dataclass
class Tiny:
    store: RecordStore
    users: dict[str, int]
    stages: dict[str, int]
    employees: dict[str, int]
    leads: dict[str, int]


def build_tiny(major: int = 19) -> Tiny:
    store = RecordStore(OdooClock(T0), major_version=major)
    users = {
        "ann": store.create(
            "res.users", {"name": "Ann", "login": "ann@x.example", "email": "Ann@X.example"}
        ),
        "bob": store.create("res.users", {"name": "Bob", "login": "bob", "email": False}),
        "cid": store.create(
            "res.users", {"name": "Cid", "login": "cid@x.example", "active": False}
        ),
    }
    stages = {
        "new": store.create("crm.stage", {"name": "New", "sequence": 5}),
        "won": store.create("crm.stage", {"name": "Won", "sequence": 1, "is_won": True}),
        "qual": store.create("crm.stage", {"name": "Qualified", "sequence": 3}),
    }
    e = {}
    e["ceo"] = store.create("hr.employee", {"name": "Ceo", "user_id": users["ann"]})
    e["mgr"] = store.create("hr.employee", {"name": "Mgr", "parent_id": e["ceo"], "active": False})
    e["rep"] = store.create(
        "hr.employee", {"name": "Rep", "parent_id": e["mgr"], "user_id": users["bob"]}
    )
    e["solo"] = store.create("hr.employee", {"name": "Solo", "work_email": "solo@x.example"})
    leads = {
        "a": store.create(
            "crm.lead",
            {
                "name": "Alpha deal",
                "user_id": users["ann"],
                "stage_id": stages["new"],
                "expected_revenue": 1000.0,
                "probability": 10.0,
                "date_deadline": "2025-03-10",
            },
        ),
        "b": store.create(
            "crm.lead",
            {
                "name": "beta DEAL",
                "user_id": users["bob"],
                "stage_id": stages["won"],
                "expected_revenue": 5000.0,
                "probability": 100.0,
                "date_closed": "2025-03-02 17:30:00",
                "priority": "2",
            },
        ),
        "c": store.create(
            "crm.lead",
            {
                "name": "Gamma",
                "user_id": False,
                "stage_id": stages["qual"],
                "expected_revenue": 0.0,
                "probability": 0.0,
                "active": False,
                "type": "lead",
            },
        ),
        "d": store.create(
            "crm.lead",
            {
                "name": "Delta 100%",
                "user_id": users["cid"],
                "stage_id": stages["qual"],
                "expected_revenue": 2500.0,
                "probability": 30.0,
                "active": False,
                "date_deadline": "2025-04-01",
                "priority": "2",
            },
        ),
    }
    return Tiny(store, users, stages, e, leads)
