"""``pulse demo``: everything embedded, on one command.

The embedded store, in-process broadcast, the built-in Odoo with the Northwind demo company,
a first full sync, the server, and a slow stream of realistic changes made in the built-in
Odoo and delivered to Pulse by Odoo-format webhooks, so that dashboards visibly move. Serves
the live demo page at ``/`` (``infrastructure/web/demo_page.py``) and prints its URL, the
GraphiQL URL and ready-to-paste tokens for an admin, a manager and a rep.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import secrets
from pathlib import Path
from typing import Any

import uvicorn

from domain.normalize import LEAD
from domain.sync import SyncAlreadyRunning, SyncMode, SyncOdoo, SyncRun
from infrastructure.app import create_app
from infrastructure.auth import mint_token
from infrastructure.bootstrap import Container, StoreHandle
from infrastructure.odoo_fake import FakeOdoo
from infrastructure.odoo_fake.demo_company import demo_picks
from infrastructure.settings import Settings
from infrastructure.web import WebAssets
from infrastructure.web.assets import DEMO_FILES, GRAPHIQL_FILES, INSTALL_COMMAND
from infrastructure.web.demo_page import demo_routes

log = logging.getLogger("pulse.demo")

TOKEN_TTL = 7 * 24 * 3600


def demo_secrets(data_dir: Path) -> dict[str, str]:
    """Secrets kept across demo runs, so tokens printed once keep working."""
    path = data_dir / "demo.json"
    try:
        stored = json.loads(path.read_text())
        if isinstance(stored, dict) and {"jwt_secret", "webhook_token"} <= stored.keys():
            return {k: str(v) for k, v in stored.items()}
    except (OSError, ValueError):
        pass
    fresh = {"jwt_secret": secrets.token_urlsafe(48), "webhook_token": secrets.token_urlsafe(24)}
    data_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(fresh))
    path.chmod(0o600)
    return fresh


def demo_settings(base: Settings, odoo: FakeOdoo, kept: dict[str, str]) -> Settings:
    admin = demo_picks()["admin"]
    return base.model_copy(
        update={
            "odoo_url": odoo.url,
            "odoo_db": odoo.db,
            "odoo_login": odoo.login,
            "odoo_api_key": _secret(odoo.api_key),
            "odoo_protocol": "auto",
            "jwt_secret": base.jwt_secret or _secret(kept["jwt_secret"]),
            "webhook_token": base.webhook_token or _secret(kept["webhook_token"]),
            "admin_emails": base.admin_emails | {(admin.email or admin.login).lower()},
            "redis_url": None if base.redis_url is None else base.redis_url,
            "graphiql": True,
        }
    )


def _secret(value: str) -> Any:
    from pydantic import SecretStr

    return SecretStr(value)


def print_banner(settings: Settings, base_url: str) -> None:
    assert settings.jwt_secret is not None
    picks = demo_picks()
    lines = [
        "",
        "Pulse demo is running.",
        f"  Live demo: {base_url}/   <- open this in a browser: pick a user, watch it move",
        f"  GraphiQL:  {base_url}/graphql",
        f"  health:    {base_url}/healthz   readiness: {base_url}/readyz",
        f"  Odoo:      built-in, {settings.odoo_url} (changes arrive by webhook every few s)",
        *_missing_assets_lines(),
        "",
        'Paste one of these into GraphiQL\'s headers as {"Authorization": "Bearer <token>"}:',
    ]
    for role in ("admin", "manager", "rep"):
        user = picks[role]
        email = user.email or user.login
        token = mint_token(
            email, secret=settings.jwt_secret, admin=role == "admin", ttl_seconds=TOKEN_TTL
        )
        lines += [f"  {role:<8} {user.name} <{email}>", f"    {token}"]
    lines += [
        "",
        "Try:  { dashboard { scope metrics { openCount pipelineValue winRate } } }",
        "Live: subscription { dashboardUpdated { asOf metrics { pipelineValue } } }",
        "More tokens: PULSE_JWT_SECRET=<from .pulse/demo.json> pulse token EMAIL [--admin]",
        "Stop with Ctrl-C.",
        "",
    ]
    print("\n".join(lines), flush=True)


def _missing_assets_lines() -> list[str]:
    missing = WebAssets().missing(dict.fromkeys((*GRAPHIQL_FILES, *DEMO_FILES)))
    if not missing:
        return []
    return [
        "",
        f"  ! The browser files are not installed ({len(missing)} missing): run "
        f"`{INSTALL_COMMAND}`,",
        "    then reload the page (the pages say so too).",
    ]


FIRST_SYNC_TIMEOUT = 120.0


async def first_sync(container: Container) -> SyncRun:
    """The demo's FULL sync. The sync scheduler starts with the server and may be running
    its own first sync (only one runs at a time): wait for it, then run ours."""
    async with asyncio.timeout(FIRST_SYNC_TIMEOUT):
        while True:
            try:
                return await container.sync_handler()(SyncOdoo(SyncMode.FULL, trigger="demo"))
            except SyncAlreadyRunning:
                await asyncio.sleep(0.2)


class Activity:
    """Realistic changes in the built-in Odoo, each announced to Pulse by a webhook."""

    def __init__(self, odoo: FakeOdoo, webhook_url: str, interval: float, seed: int = 11):
        self._odoo = odoo
        self._url = webhook_url
        self._interval = interval
        self._rng = random.Random(seed)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                lead_id = self.change_something()
                if lead_id is not None:
                    # The built-in Odoo posts synchronously: keep it off the server's loop.
                    await asyncio.to_thread(
                        self._odoo.send_webhook,
                        self._url,
                        LEAD,
                        lead_id,
                        ["stage_id", "user_id", "expected_revenue"],
                    )
            except Exception:
                log.exception("demo activity step failed")

    def change_something(self) -> int | None:
        odoo, rng, demo = self._odoo, self._rng, self._odoo.demo
        if demo is None:
            return None
        open_leads = [
            r
            for r in odoo.records(LEAD, [["type", "=", "opportunity"], ["active", "=", True]])
            if r.get("stage_id") != demo.won_stage_id
        ]
        if not open_leads:
            return None
        lead = rng.choice(open_leads)
        roll = rng.random()
        stages = sorted(demo.stages.values())
        if roll < 0.45:
            choices = [s for s in stages if s not in (lead.get("stage_id"), demo.won_stage_id)]
            odoo.write(
                LEAD,
                [lead["id"]],
                {
                    "stage_id": rng.choice(choices),
                    "probability": float(rng.choice([20, 40, 60, 80])),
                },
            )
        elif roll < 0.7:
            factor = rng.choice([0.8, 0.9, 1.1, 1.25, 1.5])
            odoo.write(
                LEAD,
                [lead["id"]],
                {"expected_revenue": round(float(lead["expected_revenue"]) * factor, 2)},
            )
        elif roll < 0.85:
            odoo.mark_won([lead["id"]])
        else:
            odoo.mark_lost([lead["id"]])
        return int(lead["id"])


async def run_demo(base: Settings, host: str, port: int, interval: float) -> int:
    kept = demo_secrets(base.data_dir)
    odoo = FakeOdoo(version="19.0").start()
    settings = demo_settings(base, odoo, kept)
    store = StoreHandle.resolve(settings)
    try:
        assert settings.jwt_secret is not None
        app = create_app(
            settings, store, extra_routes=demo_routes(settings.jwt_secret), settle_heap=True
        )
        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            log_config=None,
            lifespan="on",
            ws="websockets-sansio",
            timeout_graceful_shutdown=5,
        )
        server = uvicorn.Server(config)
        serving = asyncio.create_task(server.serve())
        while not server.started:
            if serving.done():
                return 1
            await asyncio.sleep(0.05)
        container: Container = app.state.container
        base_url = f"http://{host}:{port}"
        run = await first_sync(container)
        log.info("initial sync: %s %s", run.status.value, run.stats.as_dict())
        await container.runner.wait_until(await container.event_store.head_position(), 60)
        print_banner(settings, base_url)
        assert settings.webhook_token is not None
        webhook = f"{base_url}/webhooks/odoo/{settings.webhook_token.get_secret_value()}"
        activity = asyncio.create_task(Activity(odoo, webhook, interval).run())
        try:
            await serving
        finally:
            activity.cancel()
        return 0
    finally:
        store.close()
        odoo.stop()
