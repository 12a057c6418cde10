"""Odoo's "Send Webhook Notification" server action (``ir_actions.py``, Odoo 17+).

For each record: ``vals = {"_model", "_id", "_action": f"{action.name}(#{action.id})"}``
updated with ``record.read(fields, load=None)[0]`` (many2one as bare ids, ``id`` included),
posted as ``json.dumps(vals, sort_keys=True, default=str)`` with only
``Content-Type: application/json``, a 1 s timeout, no retry and no signature. ``default=str``
means datetimes keep microseconds when they have some, unlike in ``search_read``.

Pulse can also require signed deliveries (PRODUCT.md §6); :func:`sign` builds those headers,
as a proxy or a customised server action would.

:class:`WebhookDispatcher` plays the automation rule "on create/update, send a webhook": it
posts from a background thread after the write, fire-and-forget, as Odoo does after commit.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from infrastructure.odoo_fake.records import RecordStore

logger = logging.getLogger("pulse.odoo_fake.webhooks")

# What requests sends by default; Odoo adds only Content-Type.
_USER_AGENT = "python-requests/2.31.0"


def webhook_body(
    store: RecordStore,
    model: str,
    record_id: int,
    fields: list[str] | None = None,
    *,
    action_name: str = "Send Webhook Notification",
    action_id: int = 1,
) -> bytes | None:
    """The exact bytes Odoo posts, or None when the record no longer exists."""
    vals: dict[str, Any] = {
        "_model": model,
        "_id": record_id,
        "_action": f"{action_name}(#{action_id})",
    }
    if fields:
        row = store.read_python(model, record_id, fields)
        if row is None:
            return None
        vals.update(row)
    elif store.get(model, record_id) is None:
        return None
    return json.dumps(vals, sort_keys=True, default=str).encode()


def sign(body: bytes, secret: str, timestamp: int | None = None) -> dict[str, str]:
    """Pulse's optional signing: HMAC-SHA256 over ``"<timestamp>.<raw body>"``."""
    ts = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    return {"X-Pulse-Timestamp": str(ts), "X-Pulse-Signature": f"sha256={digest}"}


def post_webhook(
    url: str,
    body: bytes,
    *,
    secret: str | None = None,
    timestamp: int | None = None,
    timeout: float = 1.0,
    client: httpx.Client | None = None,
) -> int | None:
    """POST once. Returns the HTTP status, or None when the delivery failed (it is lost)."""
    headers = {"Content-Type": "application/json", "User-Agent": _USER_AGENT}
    if secret:
        headers.update(sign(body, secret, timestamp))
    try:
        if client is not None:
            response = client.post(url, content=body, headers=headers, timeout=timeout)
        else:
            with httpx.Client(timeout=timeout) as own:
                response = own.post(url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        logger.warning("webhook to %s failed: %s", _safe(url), type(exc).__name__)
        return None
    if response.status_code >= 400:
        logger.warning("webhook to %s answered %s", _safe(url), response.status_code)
    return response.status_code


def send_webhook(
    store: RecordStore,
    url: str,
    model: str,
    record_id: int,
    fields: list[str] | None = None,
    *,
    action_name: str = "Send Webhook Notification",
    action_id: int = 1,
    secret: str | None = None,
    timeout: float = 1.0,
) -> int | None:
    """Build and post one webhook now (blocking, like the server action)."""
    body = webhook_body(
        store, model, record_id, fields, action_name=action_name, action_id=action_id
    )
    if body is None:
        return None
    return post_webhook(url, body, secret=secret, timeout=timeout)


def _safe(url: str) -> str:
    # The URL carries the webhook token: log only where it goes, not the secret path.
    return url.split("/webhooks/", 1)[0] + ("/webhooks/***" if "/webhooks/" in url else "")


@dataclass(slots=True)
class WebhookRule:
    """An automation rule: on create/update of ``model``, send a webhook to ``url``."""

    url: str
    model: str = "crm.lead"
    fields: list[str] = field(default_factory=list)
    action_name: str = "Send Webhook Notification"
    action_id: int = 1
    secret: str | None = None
    events: tuple[str, ...] = ("create", "write")


@dataclass(slots=True)
class Delivery:
    rule: WebhookRule
    model: str
    record_id: int
    status: int | None  # None: lost


_Item = tuple[WebhookRule, str, int, bytes | None, bool]


class WebhookDispatcher:
    """Fire-and-forget deliveries from one background thread (in write order, but a lost or
    dropped delivery is never retried)."""

    def __init__(self, store: RecordStore) -> None:
        self.store = store
        self.rules: list[WebhookRule] = []
        self.deliveries: list[Delivery] = []
        self.drop_next = 0  # lose the next N deliveries without sending them
        # (rule, model, record id, body, lose it): bodies are built at write time.
        self._queue: queue.Queue[_Item | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        store.subscribe(self._on_change)

    def add_rule(self, rule: WebhookRule) -> WebhookRule:
        with self._lock:
            self.rules.append(rule)
        return rule

    def clear(self) -> None:
        with self._lock:
            self.rules.clear()
            self.deliveries.clear()
            self.drop_next = 0

    def _on_change(self, event: str, model: str, ids: list[int]) -> None:
        with self._lock:
            rules = [r for r in self.rules if r.model == model and event in r.events]
        for rule in rules:
            for record_id in ids:
                # The body is read now, as the server action reads inside the transaction;
                # only the POST is deferred.
                body = webhook_body(
                    self.store,
                    model,
                    record_id,
                    rule.fields,
                    action_name=rule.action_name,
                    action_id=rule.action_id,
                )
                with self._lock:
                    lose = self.drop_next > 0
                    self.drop_next -= lose
                self._ensure_thread()
                self._queue.put((rule, model, record_id, body, lose))

    def _ensure_thread(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="fake-odoo-webhooks", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        with httpx.Client() as client:
            while True:
                item = self._queue.get()
                try:
                    if item is None:
                        return
                    self._deliver(client, *item)
                finally:
                    self._queue.task_done()

    def _deliver(
        self,
        client: httpx.Client,
        rule: WebhookRule,
        model: str,
        rid: int,
        body: bytes | None,
        lose: bool,
    ) -> None:
        status = None
        if not lose and body is not None:
            status = post_webhook(rule.url, body, secret=rule.secret, client=client)
        with self._lock:
            self.deliveries.append(Delivery(rule, model, rid, status))

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every queued delivery was attempted (tests)."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.005)
        return True

    def close(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(timeout=2)
        self._thread = None
