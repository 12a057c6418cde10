"""Value encoding (what search_read returns) and ordering/paging of the built-in Odoo."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infrastructure.odoo_fake.exceptions import BadArguments, InvalidField, InvalidValue
from infrastructure.odoo_fake.service import OdooService, Version
from tests.unit.odoo.tiny import Tiny


def service(tiny: Tiny, version: str = "19.0") -> OdooService:
    return OdooService(
        tiny.store, db="db", login="ann@x.example", api_key="k" * 20, version=Version.parse(version)
    )


def search_read(
    tiny: Tiny, model: str, domain: list[Any], fields: list[str], **kw: Any
) -> list[dict[str, Any]]:
    kw.setdefault("context", {"active_test": False})
    rows: list[dict[str, Any]] = service(tiny).call(
        model, "search_read", [domain], {"fields": fields, **kw}
    )
    return rows


def test_values_are_encoded_like_odoo(tiny: Tiny) -> None:
    fields = ["name", "user_id", "stage_id", "partner_id", "date_deadline", "date_closed",
              "expected_revenue", "probability", "active", "type", "lost_reason_id",
              "create_date", "write_date", "display_name"]  # fmt: skip
    rows = {r["id"]: r for r in search_read(tiny, "crm.lead", [], fields, order="id")}
    a, b, c = rows[tiny.leads["a"]], rows[tiny.leads["b"]], rows[tiny.leads["c"]]
    assert a["user_id"] == [tiny.users["ann"], "Ann"]
    assert a["stage_id"] == [tiny.stages["new"], "New"]
    assert a["partner_id"] is False and a["lost_reason_id"] is False  # false, never null
    assert a["date_deadline"] == "2025-03-10" and a["date_closed"] is False
    assert b["date_closed"] == "2025-03-02 17:30:00"
    assert a["write_date"] == a["create_date"] == "2025-03-03 09:00:00"
    assert a["expected_revenue"] == 1000.0 and isinstance(c["expected_revenue"], float)
    assert c["user_id"] is False and c["active"] is False and c["type"] == "lead"
    assert a["display_name"] == "Alpha deal"
    assert None not in json.loads(json.dumps(list(rows.values()))) and "null" not in json.dumps(
        rows
    )


def test_id_is_always_returned_and_empty_fields_mean_all(tiny: Tiny) -> None:
    (row,) = search_read(tiny, "crm.stage", [["name", "=", "Won"]], ["name"])
    assert row == {"id": tiny.stages["won"], "name": "Won"}
    (full,) = search_read(tiny, "crm.stage", [["name", "=", "Won"]], [])
    assert set(full) == {
        "id",
        "name",
        "sequence",
        "is_won",
        "fold",
        "display_name",
        "create_date",
        "write_date",
    }


def test_load_none_gives_bare_ids_and_x2many_lists(tiny: Tiny) -> None:
    team = tiny.store.create(
        "crm.team", {"name": "T", "user_id": tiny.users["ann"], "member_ids": [tiny.users["bob"]]}
    )
    rows = service(tiny).call(
        "crm.team",
        "read",
        [[team]],
        {"fields": ["user_id", "member_ids"], "load": None},
        record_ids_in_args=True,
    )
    assert rows == [{"id": team, "user_id": tiny.users["ann"], "member_ids": [tiny.users["bob"]]}]


def test_read_skips_deleted_ids_and_keeps_the_requested_order(tiny: Tiny) -> None:
    tiny.store.unlink("crm.lead", tiny.leads["b"])
    rows = service(tiny).call(
        "crm.lead",
        "read",
        [[tiny.leads["c"], tiny.leads["b"], tiny.leads["a"]]],
        {"fields": ["name"]},
        record_ids_in_args=True,
    )
    assert [r["id"] for r in rows] == [tiny.leads["c"], tiny.leads["a"]]


def test_unlink_clears_references(tiny: Tiny) -> None:
    tiny.store.unlink("res.users", tiny.users["ann"])
    (row,) = search_read(tiny, "crm.lead", [["id", "=", tiny.leads["a"]]], ["user_id"])
    assert row["user_id"] is False


def order_of(tiny: Tiny, order: str | None, model: str = "crm.lead") -> list[int]:
    return tiny.store.search(model, [], order=order, active_test=False)


def test_explicit_multi_key_order(tiny: Tiny) -> None:
    L = tiny.leads
    assert order_of(tiny, "probability desc, id asc") == [L["b"], L["d"], L["a"], L["c"]]
    assert order_of(tiny, "priority desc, expected_revenue asc") == [L["d"], L["b"], L["c"], L["a"]]
    assert order_of(tiny, "write_date asc, id asc") == [L["a"], L["b"], L["c"], L["d"]]
    assert order_of(tiny, None) == [L["d"], L["b"], L["c"], L["a"]]  # priority desc, id desc


def test_nulls_sort_last_ascending_and_first_descending(tiny: Tiny) -> None:
    L = tiny.leads
    assert order_of(tiny, "date_deadline asc, id") == [L["a"], L["d"], L["b"], L["c"]]
    assert order_of(tiny, "date_deadline desc, id") == [L["b"], L["c"], L["d"], L["a"]]
    assert order_of(tiny, "date_deadline asc nulls first, id") == [L["b"], L["c"], L["a"], L["d"]]


def test_many2one_sorts_by_the_target_models_order(tiny: Tiny) -> None:
    # crm.stage orders by sequence: Won (1), Qualified (3), New (5).
    L = tiny.leads
    assert order_of(tiny, "stage_id, id") == [L["b"], L["c"], L["d"], L["a"]]


@pytest.mark.parametrize("order", ["nope asc", "name sideways", "name asc,", "name; drop table"])
def test_bad_orders(tiny: Tiny, order: str) -> None:
    with pytest.raises((InvalidField, InvalidValue)):
        order_of(tiny, order)


def test_unknown_order_field_has_odoos_message(tiny: Tiny) -> None:
    with pytest.raises(InvalidField, match=r"Invalid field 'nope' on model 'crm\.lead'"):
        order_of(tiny, "nope desc")


def test_offset_and_limit_page_through_a_stable_order(tiny: Tiny) -> None:
    order = "write_date asc, id asc"
    pages = [
        search_read(tiny, "crm.lead", [], ["name"], order=order, offset=o, limit=2)
        for o in (0, 2, 4)
    ]
    assert [len(p) for p in pages] == [2, 2, 0]
    assert [r["id"] for p in pages for r in p] == order_of(tiny, order)


def test_search_cache_sees_writes(tiny: Tiny) -> None:
    domain = [["probability", ">", 50]]
    assert len(tiny.store.search("crm.lead", domain, active_test=False)) == 1
    tiny.store.write("crm.lead", tiny.leads["a"], {"probability": 90})
    assert len(tiny.store.search("crm.lead", domain, active_test=False)) == 2


def test_unknown_fields_in_search_read_fail_even_without_matches(tiny: Tiny) -> None:
    with pytest.raises(InvalidField, match=r"Invalid field 'nope' on model 'crm\.lead'"):
        search_read(tiny, "crm.lead", [["id", "=", -1]], ["name", "nope"])


def test_bad_arguments_are_type_errors(tiny: Tiny) -> None:
    svc = service(tiny)
    with pytest.raises(BadArguments, match="unexpected keyword argument 'nope'"):
        svc.call("crm.lead", "search_read", [[]], {"nope": 1})
    with pytest.raises(BadArguments):
        svc.call("crm.lead", "search_read", [[]], {"limit": "ten"})


@pytest.mark.parametrize(
    ("version", "info", "code", "json2"),
    [
        ("16.0", [16, 0, 0, "final", 0, ""], 200, False),
        ("17.0", [17, 0, 0, "final", 0, ""], 200, False),
        ("saas~18.1", ["saas~18", 1, 0, "final", 0, ""], 0, False),
        ("19.0", [19, 0, 0, "final", 0, ""], 0, True),
    ],
)
def test_versions(version: str, info: list[Any], code: int, json2: bool) -> None:
    parsed = Version.parse(version)
    assert parsed.info == info
    assert parsed.jsonrpc_error_code == code
    assert parsed.has_json2 is json2
    assert parsed.web_version() == {"version": version, "version_info": info}
