"""A minimal in-memory OdooGateway for fast unit tests of the sync logic (no HTTP).

It understands only what the sync sends: an empty domain or one ``write_date >=`` leaf, and
the orders ``id asc`` / ``write_date asc, id asc``. Protocol behaviour is tested against the
built-in Odoo over real HTTP in tests/integration.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from domain.odoo_gateway import OdooUnavailableError


class FakeClock:
    def __init__(self) -> None:
        self.moment = datetime(2026, 1, 1, tzinfo=UTC)

    def now(self) -> datetime:
        return self.moment


class MemoryGateway:
    employee_model = "hr.employee"

    def __init__(self) -> None:
        self.rows: dict[str, dict[int, dict[str, Any]]] = {}
        self.fail_on: str | None = None
        self.calls: list[tuple[str, list[Any]]] = []

    def put(self, model: str, row: dict[str, Any]) -> None:
        self.rows.setdefault(model, {})[row["id"]] = dict(row)

    def delete(self, model: str, odoo_id: int) -> None:
        self.rows.get(model, {}).pop(odoo_id, None)

    def _select(self, model: str, domain: list[Any]) -> list[dict[str, Any]]:
        if self.fail_on == model:
            raise OdooUnavailableError("Odoo is unreachable (test)")
        self.calls.append((model, domain))
        rows = list(self.rows.get(model, {}).values())
        for leaf in domain:
            field, op, value = leaf
            assert (field, op) == ("write_date", ">=")
            rows = [r for r in rows if (r.get("write_date") or "") >= value]
        return sorted(rows, key=lambda r: (r.get("write_date") or "", r["id"]))

    async def server_version(self) -> str:
        return "19.0"

    async def search_read(
        self,
        model: str,
        domain: list[Any],
        fields: list[str],
        order: str,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        rows = self._select(model, domain)[offset:]
        return rows[:limit] if limit is not None else rows

    async def iter_search_read(
        self, model: str, domain: list[Any], fields: list[str], order: str, page_size: int = 500
    ) -> AsyncIterator[list[dict[str, Any]]]:
        rows = self._select(model, domain)
        for start in range(0, len(rows), page_size):
            yield [dict(r) for r in rows[start : start + page_size]]

    async def search_ids(self, model: str, domain: list[Any]) -> list[int]:
        return sorted(r["id"] for r in self._select(model, domain))

    async def search_count(self, model: str, domain: list[Any]) -> int:
        return len(self._select(model, domain))

    async def read(self, model: str, ids: list[int], fields: list[str]) -> list[dict[str, Any]]:
        if self.fail_on == model:
            raise OdooUnavailableError("Odoo is unreachable (test)")
        return [dict(self.rows[model][i]) for i in ids if i in self.rows.get(model, {})]


def lead(odoo_id: int, **over: Any) -> dict[str, Any]:
    row = {
        "id": odoo_id,
        "name": f"Deal {odoo_id}",
        "type": "opportunity",
        "user_id": [7, "Rep"],
        "team_id": False,
        "stage_id": [1, "New"],
        "partner_id": False,
        "expected_revenue": 1000.0,
        "probability": 10.0,
        "date_deadline": False,
        "date_closed": False,
        "create_date": "2026-01-01 09:00:00",
        "write_date": "2026-01-01 09:00:00",
        "active": True,
        "lost_reason_id": False,
        "company_id": [1, "Co"],
    }
    row.update(over)
    return row


def stage(odoo_id: int, name: str, sequence: int, is_won: bool = False) -> dict[str, Any]:
    return {
        "id": odoo_id,
        "name": name,
        "sequence": sequence,
        "is_won": is_won,
        "fold": False,
        "write_date": "2026-01-01 08:00:00",
    }


def user(odoo_id: int, login: str, **over: Any) -> dict[str, Any]:
    row = {
        "id": odoo_id,
        "login": login,
        "email": login,
        "name": login.split("@")[0].title(),
        "share": False,
        "active": True,
        "company_id": [1, "Co"],
        "write_date": "2026-01-01 08:00:00",
    }
    row.update(over)
    return row
