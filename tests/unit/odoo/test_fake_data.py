"""The clock, business actions, demo company and bulk generator of the built-in Odoo."""

from __future__ import annotations

import json
import time
from collections import Counter

from infrastructure.odoo_fake import (
    OdooClock,
    OdooInstance,
    add_parent_cycle,
    demo_picks,
    demo_users,
    populate,
)
from infrastructure.odoo_fake.demo_company import DOMAIN
from infrastructure.odoo_fake.webhooks import sign, webhook_body

T0 = "2025-03-03 09:00:00"


def instance() -> OdooInstance:
    return OdooInstance(version="19.0", clock=OdooClock(T0), api_key="test-key-0123456789")


def wire(odoo: OdooInstance, model: str, rid: int, *fields: str) -> dict[str, object]:
    (row,) = odoo.store.read(model, [rid], list(fields))
    return row


def test_write_dates_follow_the_controllable_clock() -> None:
    odoo = instance()
    assert odoo.demo is not None
    a, b = odoo.demo.leads["ethan-1"], odoo.demo.leads["ethan-2"]
    odoo.clock.freeze("2025-03-03 10:00:00")
    odoo.write("crm.lead", a, {"probability": 55})
    odoo.clock.advance(0.4)  # same second: equal as Odoo shows them
    odoo.write("crm.lead", b, {"probability": 55})
    assert wire(odoo, "crm.lead", a, "write_date") == wire(odoo, "crm.lead", b, "write_date") | {
        "id": a
    }
    # ... but the database keeps microseconds, so `>` on the shown second still matches b.
    later = odoo.store.search(
        "crm.lead", [["write_date", ">", "2025-03-03 10:00:00"]], active_test=False
    )
    assert later == [b]
    # A transaction that started earlier commits now: write_date behind the clock.
    odoo.write("crm.lead", a, {"name": "late"}, at="2025-03-03 09:59:00")
    assert wire(odoo, "crm.lead", a, "write_date")["write_date"] == "2025-03-03 09:59:00"
    # Some changes do not bump write_date at all.
    odoo.clock.advance(60)
    odoo.write("crm.lead", a, {"probability": 12}, touch=False)
    assert wire(odoo, "crm.lead", a, "write_date", "probability") == {
        "id": a,
        "write_date": "2025-03-03 09:59:00",
        "probability": 12.0,
    }


def test_real_time_clock_moves_and_can_be_offset() -> None:
    clock = OdooClock()
    first = clock.now()
    time.sleep(0.01)
    assert clock.now() > first
    clock.advance(3600)
    assert (clock.now() - first).total_seconds() >= 3600


def test_lost_won_archived_semantics() -> None:
    odoo = instance()
    assert odoo.demo is not None
    lead = odoo.demo.leads["noah-1"]
    odoo.mark_lost(lead, lost_reason_id=odoo.demo.lost_reasons["Too expensive"])
    row = wire(odoo, "crm.lead", lead, "active", "probability", "lost_reason_id", "date_closed")
    assert row["active"] is False and row["probability"] == 0.0
    assert row["lost_reason_id"] == [odoo.demo.lost_reasons["Too expensive"], "Too expensive"]
    assert row["date_closed"] == T0
    odoo.mark_won(lead)
    row = wire(odoo, "crm.lead", lead, "active", "probability", "stage_id", "lost_reason_id")
    won = [odoo.demo.won_stage_id, "Won"]
    assert row == {"id": lead, "active": True, "probability": 100.0, "stage_id": won,
                   "lost_reason_id": False}  # fmt: skip
    odoo.archive("crm.lead", lead)
    assert wire(odoo, "crm.lead", lead, "active", "probability")["probability"] == 100.0
    odoo.unarchive("crm.lead", lead)
    odoo.unlink("crm.lead", lead)
    assert odoo.store.read("crm.lead", [lead], ["name"]) == []


def test_demo_company_has_every_awkward_case() -> None:
    odoo = instance()
    demo = odoo.demo
    assert demo is not None
    users = {u["id"]: u for u in odoo.records("res.users")}
    employees = odoo.records("hr.employee")
    internal = [u for u in users.values() if not u["share"]]
    assert 18 <= len(internal) <= 26
    linked_users = {e["user_id"] for e in employees if e["user_id"]}
    # users with no employee, and employees (even a manager) with no user
    assert {demo.users["admin"], demo.users["sam"], demo.users["chris"]}.isdisjoint(linked_users)
    grace = next(e for e in employees if e["name"] == "Grace Okafor")
    assert grace["user_id"] is None and any(e["parent_id"] == grace["id"] for e in employees)
    # linked only by email, in another letter case
    sofia_user = users[demo.users["sofia"]]
    sofia_emp = next(e for e in employees if e["name"] == "Sofia Rossi")
    assert sofia_emp["user_id"] is None and sofia_user["email"] != sofia_emp["work_email"]
    assert sofia_user["email"].lower() == sofia_emp["work_email"].lower()
    # logins that are not emails, and empty emails
    assert (
        "@" not in users[demo.users["olivia"]]["login"]
        and users[demo.users["olivia"]]["email"] is None
    )
    assert any(e["work_email"] is None for e in employees)
    # an email matching two active employees
    chris = users[demo.users["chris"]]["email"].lower()
    assert (
        sum(1 for e in employees if e["active"] and (e["work_email"] or "").lower() == chris) == 2
    )
    # an archived manager with reports
    bruno = next(e for e in employees if e["name"] == "Bruno Keller")
    assert not bruno["active"] and any(e["parent_id"] == bruno["id"] for e in employees)
    # portal users
    assert sum(1 for u in users.values() if u["share"]) == 2
    # no parent cycle, 3+ levels
    assert all(e["parent_id"] != e["id"] for e in employees)
    leads = odoo.records("crm.lead")
    assert len(leads) >= 60
    stages = {s["id"]: s for s in odoo.records("crm.stage")}
    assert 5 <= len(stages) <= 7 and sum(s["is_won"] for s in stages.values()) == 1
    assert 2 <= len(odoo.records("crm.team")) <= 3
    assert len(odoo.records("res.partner")) >= 15
    kinds: Counter[str] = Counter()
    for lead in leads:
        if lead["type"] == "lead":
            kinds["lead"] += 1
        elif lead["user_id"] is None:
            kinds["unassigned"] += 1
        if not lead["active"]:
            kinds["lost" if lead["probability"] == 0 else "archived"] += 1
        elif lead["stage_id"] and stages[lead["stage_id"]]["is_won"]:
            kinds["won"] += 1
    assert all(kinds[k] >= 2 for k in ("lead", "unassigned", "lost", "archived", "won")), kinds
    # deterministic
    again = instance()
    assert again.records("crm.lead") == leads


def test_demo_users_expose_role_hints() -> None:
    roles = {u.role for u in demo_users()}
    assert {"admin", "manager", "rep", "portal"} <= roles
    admin = next(u for u in demo_users() if u.role == "admin")
    assert admin.email and admin.email.endswith("@" + DOMAIN)
    picks = demo_picks()
    assert set(picks) == {"admin", "manager", "rep"}
    assert all(u.email and u.email.endswith("@" + DOMAIN) for u in picks.values())


def test_a_parent_cycle_is_easy_to_add() -> None:
    odoo = instance()
    assert odoo.demo is not None
    grace, nina = add_parent_cycle(odoo.store, odoo.demo)
    below = set(odoo.store.search("hr.employee", [["id", "child_of", grace]], active_test=False))
    assert nina in below and grace in below


def test_populate_builds_large_sets_deterministically() -> None:
    a = OdooInstance(demo=False, clock=OdooClock(T0))
    result = populate(a, users=50, leads=2000, seed=3)
    assert len(result.lead_ids) == 2000 and len(result.employee_ids) == 50
    b = OdooInstance(demo=False, clock=OdooClock(T0))
    populate(b, users=50, leads=2000, seed=3)
    assert a.records("crm.lead") == b.records("crm.lead")
    # the org chart is a tree under one CEO
    below = a.store.search(
        "hr.employee", [["id", "child_of", result.employee_ids[0]]], active_test=False
    )
    assert len(below) == 50


def test_webhook_body_is_odoos_exact_bytes() -> None:
    odoo = instance()
    assert odoo.demo is not None
    lead = odoo.demo.leads["ethan-1"]
    odoo.write(
        "crm.lead", lead, {"expected_revenue": 12000, "stage_id": odoo.demo.stages["Qualified"]}
    )
    body = webhook_body(
        odoo.store, "crm.lead", lead, ["active", "expected_revenue", "stage_id", "user_id"],
        action_name="Notify", action_id=42,
    )  # fmt: skip
    assert body is not None
    expected = {
        "_action": "Notify(#42)", "_id": lead, "_model": "crm.lead", "active": True,
        "expected_revenue": 12000.0, "id": lead, "stage_id": odoo.demo.stages["Qualified"],
        "user_id": odoo.demo.users["ethan"],
    }  # fmt: skip
    assert body == json.dumps(expected, sort_keys=True).encode()
    # without fields: only the three keys; a deleted record sends nothing
    assert json.loads(webhook_body(odoo.store, "crm.lead", lead) or b"") == {
        "_action": "Send Webhook Notification(#1)", "_id": lead, "_model": "crm.lead",
    }  # fmt: skip
    odoo.unlink("crm.lead", lead)
    assert webhook_body(odoo.store, "crm.lead", lead, ["name"]) is None


def test_webhook_datetimes_keep_microseconds_like_default_str() -> None:
    odoo = instance()
    assert odoo.demo is not None
    odoo.clock.freeze("2025-03-03 10:00:00.250000")
    lead = odoo.demo.leads["ethan-1"]
    odoo.write("crm.lead", lead, {"probability": 20})
    body = json.loads(webhook_body(odoo.store, "crm.lead", lead, ["write_date"]) or b"")
    assert body["write_date"] == "2025-03-03 10:00:00.250000"
    assert wire(odoo, "crm.lead", lead, "write_date")["write_date"] == "2025-03-03 10:00:00"


def test_signature_is_hmac_of_timestamp_dot_body() -> None:
    import hashlib
    import hmac

    headers = sign(b'{"_id": 1}', "s3cret", timestamp=1700000000)
    expected = hmac.new(b"s3cret", b'1700000000.{"_id": 1}', hashlib.sha256).hexdigest()
    assert headers == {"X-Pulse-Timestamp": "1700000000", "X-Pulse-Signature": f"sha256={expected}"}
