"""HTTP control API of the built-in Odoo, under ``/_fake`` (for the demo, e2e tests and
manual poking with curl). It mirrors the Python API of ``OdooInstance``. Every call needs
``Authorization: bearer <api key>``, so exposing the fake does not expose its data.

    GET    /_fake/state
    POST   /_fake/reset                      {"demo": true}
    POST   /_fake/records/{model}            {"values": {...}, "at": "2025-01-01 10:00:00"}
    POST   /_fake/records/{model}/write      {"ids": [..], "values": {...}, "at": .., "touch": true}
    POST   /_fake/records/{model}/archive    {"ids": [..]}      (also /unarchive, /unlink)
    POST   /_fake/leads/mark_lost            {"ids": [..], "lost_reason_id": 2}
    POST   /_fake/leads/mark_won             {"ids": [..], "stage_id": 5}
    POST   /_fake/faults                     {"kind": "status", "count": 2, "status": 500,
                                              "delay": 1.0, "path": "/jsonrpc"}
    DELETE /_fake/faults
    POST   /_fake/down                       {"mode": "503" | "drop"}
    POST   /_fake/up
    POST   /_fake/access                     {"model": "hr.employee", "denied": true}
    POST   /_fake/clock                      {"freeze": ".."} | {"advance": 1.5} | {"unfreeze": 1}
    POST   /_fake/webhooks                   {"url": .., "model": .., "fields": [..], "secret": ..}
    DELETE /_fake/webhooks
    POST   /_fake/webhooks/send              {"url": .., "model": .., "id": 7, "fields": [..]}
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from infrastructure.odoo_fake.exceptions import OdooFault

if TYPE_CHECKING:
    from infrastructure.odoo_fake.instance import OdooInstance

Handler = Callable[[Request], Awaitable[Response]]


def routes(instance: OdooInstance) -> list[Route]:
    def endpoint(action: Callable[[Request, dict[str, Any]], Any]) -> Handler:
        async def handle(request: Request) -> Response:
            scheme, _, key = request.headers.get("authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not instance.service.key_matches(key.strip()):
                return JSONResponse({"error": "bearer API key required"}, status_code=401)
            try:
                raw = await request.body()
                body = json.loads(raw) if raw.strip() else {}
                if not isinstance(body, dict):
                    raise ValueError("expected a JSON object")
                # Threadpool: actions may block (a webhook post waits up to 1 s).
                result = await run_in_threadpool(action, request, body)
            except OdooFault as exc:
                return JSONResponse({"error": exc.message, "name": exc.name}, status_code=400)
            except (ValueError, KeyError, TypeError) as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)
            return JSONResponse({"ok": True} if result is None else result)

        return handle

    def model(request: Request) -> str:
        return str(request.path_params["model"])

    def state(request: Request, body: dict[str, Any]) -> dict[str, Any]:
        return {
            "version": instance.version.text,
            "db": instance.db,
            "login": instance.login,
            "uid": instance.uid,
            "revision": instance.store.revision,
            "clock": instance.clock.now_str(),
            "clock_frozen": instance.clock.frozen,
            "down": instance.faults.down,
            "pending_faults": instance.faults.pending(),
            "denied_models": sorted(instance.service.denied_models),
            "webhook_rules": len(instance.webhooks.rules),
        }

    def clock(request: Request, body: dict[str, Any]) -> dict[str, Any]:
        if "freeze" in body:
            instance.clock.freeze(body["freeze"])
        if "advance" in body:
            instance.clock.advance(float(body["advance"]))
        if body.get("unfreeze"):
            instance.clock.unfreeze()
        return {"clock": instance.clock.now_str(), "frozen": instance.clock.frozen}

    def access(request: Request, body: dict[str, Any]) -> None:
        if body.get("denied", True):
            instance.deny(body["model"])
        else:
            instance.allow(body["model"])

    def add_webhook(request: Request, body: dict[str, Any]) -> None:
        instance.add_webhook(
            body["url"],
            model=body.get("model", "crm.lead"),
            fields=body.get("fields"),
            action_name=body.get("action_name", "Send Webhook Notification"),
            action_id=int(body.get("action_id", 1)),
            secret=body.get("secret"),
        )

    def send_webhook(request: Request, body: dict[str, Any]) -> dict[str, Any]:
        status = instance.send_webhook(
            body["url"],
            body.get("model", "crm.lead"),
            int(body["id"]),
            body.get("fields"),
            action_name=body.get("action_name", "Send Webhook Notification"),
            action_id=int(body.get("action_id", 1)),
            secret=body.get("secret"),
        )
        return {"status": status}

    def clear_webhooks(request: Request, body: dict[str, Any]) -> None:
        instance.webhooks.clear()

    table: list[tuple[str, str, Callable[[Request, dict[str, Any]], Any]]] = [
        ("/state", "GET", state),
        ("/reset", "POST", lambda r, b: instance.reset(demo=bool(b.get("demo", True)))),
        (
            "/records/{model}",
            "POST",
            lambda r, b: {"id": instance.create(model(r), b["values"], at=b.get("at"))},
        ),
        (
            "/records/{model}/write",
            "POST",
            lambda r, b: instance.write(
                model(r), b["ids"], b["values"], at=b.get("at"), touch=b.get("touch", True)
            ),
        ),
        (
            "/records/{model}/archive",
            "POST",
            lambda r, b: instance.archive(model(r), b["ids"], at=b.get("at")),
        ),
        (
            "/records/{model}/unarchive",
            "POST",
            lambda r, b: instance.unarchive(model(r), b["ids"], at=b.get("at")),
        ),
        ("/records/{model}/unlink", "POST", lambda r, b: instance.unlink(model(r), b["ids"])),
        (
            "/leads/mark_lost",
            "POST",
            lambda r, b: instance.mark_lost(
                b["ids"], lost_reason_id=b.get("lost_reason_id"), at=b.get("at")
            ),
        ),
        (
            "/leads/mark_won",
            "POST",
            lambda r, b: instance.mark_won(b["ids"], stage_id=b.get("stage_id"), at=b.get("at")),
        ),
        (
            "/faults",
            "POST",
            lambda r, b: instance.fail_next(
                int(b.get("count", 1)),
                b.get("kind", "status"),
                status=int(b.get("status", 500)),
                delay=float(b.get("delay", 1.0)),
                path=b.get("path"),
            ),
        ),
        ("/faults", "DELETE", lambda r, b: instance.faults.clear()),
        ("/down", "POST", lambda r, b: instance.go_down(b.get("mode", "503"))),
        ("/up", "POST", lambda r, b: instance.come_up()),
        ("/access", "POST", access),
        ("/clock", "POST", clock),
        ("/webhooks", "POST", add_webhook),
        ("/webhooks", "DELETE", clear_webhooks),
        ("/webhooks/send", "POST", send_webhook),
    ]
    return [
        Route(path, endpoint(action), methods=[verb], name=f"{verb} {path}")
        for path, verb, action in table
    ]
