"""OdooClient against the built-in Odoo over real HTTP, for every (version, protocol) pair."""

from __future__ import annotations

import re
from typing import Any

import pytest

from domain.odoo_gateway import (
    OdooAccessError,
    OdooAuthError,
    OdooGateway,
    OdooServerError,
    OdooUnknownFieldError,
    OdooUnknownModelError,
)
from infrastructure.odoo import OdooClient
from infrastructure.odoo_fake import FakeOdoo
from tests.integration.odoo.conftest import TLS, ClientFactory

LEAD_FIELDS = ["name", "type", "user_id", "team_id", "stage_id", "partner_id", "expected_revenue",
               "probability", "date_deadline", "date_closed", "create_date", "write_date",
               "active", "lost_reason_id", "company_id"]  # fmt: skip
ORDER = "write_date asc, id asc"
DATETIME = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")
DATE = re.compile(r"^\d{4}-\d\d-\d\d$")


def demo(fake: FakeOdoo):  # type: ignore[no-untyped-def]
    assert fake.demo is not None
    return fake.demo


async def test_client_implements_the_port(client: OdooClient) -> None:
    assert isinstance(client, OdooGateway)


async def test_version_and_protocol(client: OdooClient, fake: FakeOdoo) -> None:
    assert await client.server_version() == fake.version.text
    assert client.protocol == client.requested_protocol


async def test_auth_ok_and_bad_key(
    client: OdooClient, fake: FakeOdoo, make_client: ClientFactory
) -> None:
    assert await client.search_count("res.users", [["login", "=", fake.login]]) == 1
    bad = make_client(fake, client.requested_protocol, api_key="wrong-key-0000")
    with pytest.raises(OdooAuthError):
        await bad.search_read("crm.lead", [], ["name"], ORDER, limit=1)
    assert fake.faults.requests <= 4  # auth failures are not retried


async def test_wrong_database_is_reported(fake: FakeOdoo, client: OdooClient) -> None:
    wrong = OdooClient(
        fake.url, "nope", fake.login, fake.api_key, protocol=client.requested_protocol, verify=TLS
    )
    async with wrong:
        with pytest.raises(OdooServerError) as info:
            await wrong.search_count("crm.lead", [])
    assert "nope" in str(info.value)


async def test_paging_with_explicit_order(client: OdooClient) -> None:
    everything = await client.search_read("crm.lead", [], LEAD_FIELDS, ORDER)
    pages = [
        page
        async for page in client.iter_search_read("crm.lead", [], LEAD_FIELDS, ORDER, page_size=7)
    ]
    assert all(0 < len(p) <= 7 for p in pages) and len(pages) == -(-len(everything) // 7)
    assert [r for p in pages for r in p] == everything
    keys = [(r["write_date"], r["id"]) for r in everything]
    assert keys == sorted(keys)
    # exact multiple of the page size: the last (empty) page is not yielded
    n = len(everything)
    exact = [
        p
        async for p in client.iter_search_read(
            "crm.lead", [["id", "in", [r["id"] for r in everything[:14]]]], ["name"], ORDER, 7
        )
    ]
    assert [len(p) for p in exact] == [7, 7] and n > 14


async def test_archived_and_lost_records_are_always_read(
    client: OdooClient, fake: FakeOdoo
) -> None:
    total = len(fake.records("crm.lead"))
    archived = len(fake.records("crm.lead", [["active", "=", False]]))
    assert archived >= 5
    assert len(await client.search_ids("crm.lead", [])) == total
    assert await client.search_count("crm.lead", []) == total
    assert len(await client.search_read("crm.lead", [], ["name"], "id asc")) == total
    # Odoo's default context hides them: what a client forgetting active_test would get.
    visible = await client.execute("crm.lead", "search_count", {"domain": []})
    assert visible == total - archived
    employees = await client.search_read("hr.employee", [], ["name", "active"], "id asc")
    assert any(not e["active"] for e in employees)


async def test_domains_over_the_wire(client: OdooClient, fake: FakeOdoo) -> None:
    d = demo(fake)
    ethan, olivia = d.users["ethan"], d.users["olivia"]
    either = await client.search_ids(
        "crm.lead", ["|", ["user_id", "=", ethan], ["user_id", "=", olivia]]
    )
    assert set(either) == {
        r["id"] for r in fake.records("crm.lead", [["user_id", "in", [ethan, olivia]]])
    }
    not_ethan = await client.search_ids("crm.lead", ["!", ["user_id", "=", ethan]])
    assert set(not_ethan) == set(await client.search_ids("crm.lead", [])) - set(
        await client.search_ids("crm.lead", [["user_id", "=", ethan]])
    )
    lost = await client.search_ids(
        "crm.lead", ["&", ["active", "=", False], ["probability", "=", 0]]
    )
    assert {d.leads[f"lost-{i}"] for i in range(1, 7)} <= set(lost)
    unassigned = await client.search_ids(
        "crm.lead", [["type", "=", "opportunity"], ["user_id", "=", False]]
    )
    assert set(unassigned) == {d.leads[f"unassigned-{i}"] for i in range(1, 5)}
    # child_of passes through the archived manager (Bruno) down to Liam's reps
    under_victor = await client.search_read(
        "hr.employee", [["id", "child_of", d.employees["victor"]]], ["name"], "id asc"
    )
    names = {e["name"] for e in under_victor}
    assert {"Bruno Keller", "Liam Chen", "Noah Kim", "Grace Okafor", "Mia Schmidt"} <= names
    assert "Alice Morgan" not in names and "Hannah Lee" not in names
    by_email = await client.search_read(
        "res.users", [["email", "=ilike", "sofia.rossi@northwind.example"]], ["login"], "id"
    )
    assert [u["login"] for u in by_email] == ["sofia.rossi"]


async def test_values_over_the_wire(client: OdooClient, fake: FakeOdoo) -> None:
    d = demo(fake)
    rows = {r["id"]: r for r in await client.read("crm.lead", list(d.leads.values()), LEAD_FIELDS)}
    unassigned = rows[d.leads["unassigned-1"]]
    assert unassigned["user_id"] is False
    won = rows[d.leads["won-1"]]
    assert won["stage_id"] == [d.won_stage_id, "Won"] and won["probability"] == 100.0
    assert DATETIME.match(won["date_closed"]) and DATETIME.match(won["write_date"])
    bare = rows[d.leads["bare-1"]]
    assert (
        bare["partner_id"] is False and bare["date_deadline"] is False and bare["team_id"] is False
    )
    assert DATE.match(rows[d.leads["ethan-1"]]["date_deadline"])
    assert rows[d.leads["ethan-1"]]["user_id"] == [d.users["ethan"], "Ethan Walker"]
    for row in rows.values():
        assert None not in row.values()
    (team,) = await client.read("crm.team", [d.teams["Europe"]], ["member_ids", "user_id"])
    assert isinstance(team["member_ids"], list) and d.users["tom"] in team["member_ids"]


async def test_read_of_a_deleted_record_is_simply_absent(
    client: OdooClient, fake: FakeOdoo
) -> None:
    d = demo(fake)
    gone, kept = d.leads["ethan-1"], d.leads["ethan-2"]
    fake.unlink("crm.lead", gone)
    rows = await client.read("crm.lead", [gone, kept], ["name"])
    assert [r["id"] for r in rows] == [kept]
    assert gone not in await client.search_ids("crm.lead", [])
    assert await client.read("crm.lead", [], ["name"]) == []


@pytest.mark.parametrize(
    ("domain", "fields", "order"),
    [
        ([], ["name", "nope"], ORDER),
        ([["nope", "=", 1]], ["name"], ORDER),
        ([], ["name"], "nope asc"),
    ],
    ids=["fields", "domain", "order"],
)
async def test_unknown_field(
    client: OdooClient, domain: list[Any], fields: list[str], order: str
) -> None:
    with pytest.raises(OdooUnknownFieldError) as info:
        await client.search_read("crm.lead", domain, fields, order)
    assert info.value.field == "nope" and info.value.model == "crm.lead"


async def test_crm_stage_has_no_active_field(client: OdooClient) -> None:
    with pytest.raises(OdooUnknownFieldError):
        await client.search_read("crm.stage", [["active", "=", True]], ["name"], "sequence, id")


async def test_unknown_model(client: OdooClient) -> None:
    with pytest.raises(OdooUnknownModelError):
        await client.search_read("sale.order", [], ["name"], "id")


async def test_private_methods_are_refused(client: OdooClient) -> None:
    with pytest.raises(OdooAccessError, match="Private methods"):
        await client.execute("crm.lead", "_read_group", {"domain": []})


async def test_unknown_method_is_a_server_error(client: OdooClient) -> None:
    with pytest.raises(OdooServerError):
        await client.execute("crm.lead", "frobnicate", {})


async def test_employee_fallback_to_public(client: OdooClient, fake: FakeOdoo) -> None:
    order = "id asc"
    fields = ["name", "user_id", "parent_id", "work_email", "active", "department_id", "company_id"]
    before = await client.search_read("hr.employee", [], fields, order)
    fake.deny("hr.employee")
    assert client.employee_model == "hr.employee"
    after = await client.search_read("hr.employee", [], fields, order)
    assert after == before
    assert client.employee_model == "hr.employee.public"
    # from now on the client goes straight to hr.employee.public: one request per call
    seen = fake.faults.requests
    assert await client.read("hr.employee", [before[0]["id"]], ["name"]) == [
        {"id": before[0]["id"], "name": before[0]["name"]}
    ]
    assert fake.faults.requests == seen + 1


async def test_other_access_errors_surface(client: OdooClient, fake: FakeOdoo) -> None:
    fake.deny("crm.lead")
    with pytest.raises(OdooAccessError, match="not allowed to access"):
        await client.search_read("crm.lead", [], ["name"], ORDER)
    fake.deny("hr.employee.public")
    fake.deny("hr.employee")
    with pytest.raises(OdooAccessError):
        await client.search_read("hr.employee", [], ["name"], "id")


async def test_incremental_read_sees_late_commits_with_a_lookback(
    client: OdooClient, fake: FakeOdoo
) -> None:
    """The pitfall of ODOO.md: a row whose write_date is earlier than a cursor already passed."""
    d = demo(fake)
    fake.clock.freeze("2025-03-03 12:00:00")
    fake.write("crm.lead", d.leads["ethan-1"], {"probability": 70})
    rows = await client.search_read(
        "crm.lead", [["write_date", ">=", "2025-03-03 12:00:00"]], ["write_date"], ORDER
    )
    cursor = max(r["write_date"] for r in rows)
    assert cursor == "2025-03-03 12:00:00"
    fake.clock.advance(5)
    fake.write("crm.lead", d.leads["ethan-2"], {"probability": 71}, at="2025-03-03 11:59:30")
    strict = await client.search_read(
        "crm.lead", [["write_date", ">", cursor]], ["write_date"], ORDER
    )
    assert d.leads["ethan-2"] not in [r["id"] for r in strict]
    lookback = await client.search_read(
        "crm.lead", [["write_date", ">=", "2025-03-03 11:55:00"]], ["write_date"], ORDER
    )
    assert d.leads["ethan-2"] in [r["id"] for r in lookback]
