"""One built-in Odoo database and its Python control API (no HTTP server: see runner.py).

Everything a test or the demo does to "Odoo" goes through here: data changes (with the
business meaning of archive / lost / won), the clock, access rights of the API user, fault
injection and webhook rules.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from infrastructure.odoo_fake.clock import OdooClock
from infrastructure.odoo_fake.demo_company import DemoCompany, load_demo
from infrastructure.odoo_fake.exceptions import InvalidValue
from infrastructure.odoo_fake.faults import DownMode, FaultKind, Faults
from infrastructure.odoo_fake.records import RecordStore
from infrastructure.odoo_fake.service import OdooService, Version
from infrastructure.odoo_fake.webhooks import WebhookDispatcher, WebhookRule, send_webhook

Ids = int | Iterable[int]
At = datetime | str | None

DEFAULT_DB = "northwind"
DEFAULT_LOGIN = "pulse-integration"
API_USER_NAME = "Pulse Integration"


class OdooInstance:
    def __init__(
        self,
        *,
        version: str = "19.0",
        db: str = DEFAULT_DB,
        login: str = DEFAULT_LOGIN,
        api_key: str | None = None,
        clock: OdooClock | None = None,
        demo: bool = True,
        seed: int = 7,
    ) -> None:
        self.version = Version.parse(version)
        self.db = db
        self.login = login
        # A random key by default, so that tests checking for leaks look for a real secret.
        self.api_key = api_key or secrets.token_urlsafe(24)
        self.clock = clock or OdooClock()
        self.store = RecordStore(self.clock, self.version.major)
        self.service = OdooService(
            self.store, db=db, login=login, api_key=self.api_key, version=self.version
        )
        self.faults = Faults()
        self.webhooks = WebhookDispatcher(self.store)
        self.seed = seed
        self.demo: DemoCompany | None = None
        self.reset(demo=demo)

    def __repr__(self) -> str:  # never the key
        return f"{type(self).__name__}(version={self.version.text!r}, db={self.db!r})"

    # -- data set ----------------------------------------------------------------------------

    def reset(self, *, demo: bool = True) -> None:
        """Empty the database, lift faults and access denials, drop webhook rules, and load
        the demo company (or only a company and the API user)."""
        self.faults.clear()
        self.webhooks.clear()
        self.service.denied_models.clear()
        self.store.clear()
        if demo:
            self.demo = load_demo(self.store, seed=self.seed)
        else:
            self.demo = None
            self.store.create("res.company", {"name": "My Company"})
        self._ensure_api_user()

    def _ensure_api_user(self) -> None:
        if self.store.search("res.users", [["login", "=", self.login]], active_test=False):
            return
        self.store.create(
            "res.users",
            {"name": API_USER_NAME, "login": self.login, "share": False, "company_id": 1},
        )

    @property
    def uid(self) -> int | None:
        return self.service.uid

    # -- records -----------------------------------------------------------------------------

    def create(self, model: str, values: dict[str, Any], *, at: At = None) -> int:
        return self.store.create(model, values, at=at)

    def write(
        self, model: str, ids: Ids, values: dict[str, Any], *, at: At = None, touch: bool = True
    ) -> None:
        """``at``: an explicit write_date (earlier than the clock = a late-committing
        transaction). ``touch=False``: change without bumping write_date."""
        self.store.write(model, ids, values, at=at, touch=touch)

    def archive(self, model: str, ids: Ids, *, at: At = None) -> None:
        self.store.write(model, ids, {"active": False}, at=at)

    def unarchive(self, model: str, ids: Ids, *, at: At = None) -> None:
        self.store.write(model, ids, {"active": True}, at=at)

    def unlink(self, model: str, ids: Ids) -> None:
        self.store.unlink(model, ids)

    def mark_lost(self, lead_ids: Ids, *, lost_reason_id: int | None = None, at: At = None) -> None:
        """``action_set_lost``: archived, probability 0, closing date set."""
        values: dict[str, Any] = {
            "active": False,
            "probability": 0.0,
            "date_closed": self._closing(at),
        }
        if lost_reason_id is not None:
            values["lost_reason_id"] = lost_reason_id
        self.store.write("crm.lead", lead_ids, values, at=at)

    def mark_won(self, lead_ids: Ids, *, stage_id: int | None = None, at: At = None) -> None:
        """``action_set_won``: unarchived, moved to a won stage, probability 100."""
        if stage_id is None:
            won = self.store.search("crm.stage", [["is_won", "=", True]], order="sequence, id")
            if not won:
                raise InvalidValue("no won stage (crm.stage with is_won) exists")
            stage_id = won[0]
        values = {
            "active": True,
            "stage_id": stage_id,
            "probability": 100.0,
            "date_closed": self._closing(at),
            "lost_reason_id": False,
        }
        self.store.write("crm.lead", lead_ids, values, at=at)

    def _closing(self, at: At) -> datetime:
        moment = self.clock.now() if at is None else OdooClock(at).now()
        return moment.replace(microsecond=0)  # fields.Datetime.now() has no microseconds

    def records(
        self, model: str, domain: list[Any] | None = None, *, active_test: bool = False
    ) -> list[dict[str, Any]]:
        """Stored rows (Python values) matching ``domain``, by id: for assertions."""
        ids = self.store.search(model, domain or [], order="id", active_test=active_test)
        return [row for rid in ids if (row := self.store.get(model, rid)) is not None]

    # -- access rights and faults ------------------------------------------------------------

    def deny(self, model: str) -> None:
        """The API user gets an AccessError on ``model`` (e.g. ``hr.employee``)."""
        self.service.denied_models.add(model)

    def allow(self, model: str) -> None:
        self.service.denied_models.discard(model)

    def fail_next(
        self,
        count: int = 1,
        kind: FaultKind = "status",
        *,
        status: int = 500,
        delay: float = 1.0,
        path: str | None = None,
    ) -> None:
        """The next ``count`` Odoo requests (optionally only under ``path``) fail: ``status``
        (an HTML error page), ``drop`` (connection cut), ``slow`` (``delay`` s), ``garbage``."""
        self.faults.fail_next(count, kind, status=status, delay=delay, path=path)

    def go_down(self, mode: DownMode = "503") -> None:
        """Every Odoo request fails until :meth:`come_up` (503 pages or dropped connections).
        ``FakeOdoo.stop()`` gives a real "connection refused"."""
        self.faults.down = mode

    def come_up(self) -> None:
        self.faults.down = None

    # -- webhooks ----------------------------------------------------------------------------

    def add_webhook(
        self,
        url: str,
        *,
        model: str = "crm.lead",
        fields: list[str] | None = None,
        action_name: str = "Send Webhook Notification",
        action_id: int = 1,
        secret: str | None = None,
    ) -> WebhookRule:
        """An automation rule: on create/update of ``model``, post Odoo's webhook to ``url``."""
        rule = WebhookRule(url, model, list(fields or []), action_name, action_id, secret)
        return self.webhooks.add_rule(rule)

    def send_webhook(
        self,
        url: str,
        model: str,
        record_id: int,
        fields: list[str] | None = None,
        *,
        action_name: str = "Send Webhook Notification",
        action_id: int = 1,
        secret: str | None = None,
    ) -> int | None:
        """Post one webhook now; returns the receiver's status or None if it was lost."""
        return send_webhook(
            self.store,
            url,
            model,
            record_id,
            fields,
            action_name=action_name,
            action_id=action_id,
            secret=secret,
        )
