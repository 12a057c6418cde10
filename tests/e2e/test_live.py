"""Live pushes end to end: a change in Odoo, announced by an Odoo-format webhook, moves the
dashboards of exactly the viewers who see it; across two server processes through Redis."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from pymongo import MongoClient

from infrastructure.odoo_fake import FakeOdoo
from tests.conftest import ROOT
from tests.e2e.conftest import (
    WEBHOOK_TOKEN,
    Server,
    server_env,
    start_server,
    stop_server,
    token,
)
from tests.integration.graphql.clients import subscription

pytestmark = pytest.mark.e2e

DASHBOARD = "subscription { dashboardUpdated { asOf metrics { wonCount openCount } } }"
CHANGES = "subscription { opportunityChanged { kind opportunityId opportunity { status } } }"
MARIA = "maria.lopez@northwind.example"
NOAH = "noah.kim@northwind.example"


def open_deal_of(odoo: FakeOdoo, user_key: str) -> int:
    demo = odoo.demo
    assert demo is not None
    rows = odoo.records(
        "crm.lead", [["user_id", "=", demo.users[user_key]], ["type", "=", "opportunity"]]
    )
    return next(
        r["id"]
        for r in rows
        if r["active"] and r["stage_id"] != demo.won_stage_id and r["probability"] > 0
    )


def win_by_webhook(odoo: FakeOdoo, server: Server, lead_id: int) -> None:
    odoo.clock.advance(60)
    odoo.mark_won([lead_id])
    url = f"{server.base}/webhooks/odoo/{WEBHOOK_TOKEN}"
    status = odoo.send_webhook(url, "crm.lead", lead_id, ["stage_id", "user_id"])
    assert status == 202


async def test_a_webhook_moves_the_managers_dashboard_and_not_an_unrelated_reps(
    served: Server, northwind: FakeOdoo
) -> None:
    deal = open_deal_of(northwind, "ethan")
    async with (
        subscription(served.ws, token(MARIA), DASHBOARD) as maria,
        subscription(served.ws, token(NOAH), DASHBOARD) as noah,
        subscription(served.ws, token(MARIA), CHANGES) as maria_changes,
    ):
        first = (await maria.next(10))["dashboardUpdated"]
        await noah.next(10)  # the current dashboard, sent at once
        await asyncio.sleep(0.3)  # let both listeners settle before the change
        await asyncio.to_thread(win_by_webhook, northwind, served, deal)
        pushed = (await maria.next(20))["dashboardUpdated"]
        assert pushed["metrics"]["wonCount"] == first["metrics"]["wonCount"] + 1
        assert pushed["asOf"] > first["asOf"]
        change = (await maria_changes.next(20))["opportunityChanged"]
        assert change["opportunityId"] == str(deal) and change["kind"] == "UPDATED"
        assert change["opportunity"]["status"] == "WON"
        await noah.nothing_for(1.5)


@pytest.fixture
def two_servers(
    northwind: FakeOdoo, mongo_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Server, Server]]:
    env = server_env(mongo_url, northwind, redis=True)  # one DB, one Redis, two processes
    logs = tmp_path_factory.mktemp("fanout")
    first = start_server(env, logs / "a.log")
    try:
        second = start_server(env, logs / "b.log")
        try:
            yield first, second
        finally:
            stop_server(second)
    finally:
        stop_server(first)


async def test_two_processes_behind_one_redis_both_push_to_their_own_clients(
    two_servers: tuple[Server, Server], northwind: FakeOdoo
) -> None:
    a, b = two_servers
    sync = a.graphql(
        token("ops@northwind.example"), "mutation { syncOdoo(mode: FULL, wait: true) { status } }"
    )
    assert sync["data"]["syncOdoo"]["status"] == "SUCCEEDED", sync
    deal = open_deal_of(northwind, "ethan")
    async with (
        subscription(a.ws, token(MARIA), DASHBOARD) as on_a,
        subscription(b.ws, token(MARIA), DASHBOARD) as on_b,
    ):
        start_a = (await on_a.next(10))["dashboardUpdated"]["metrics"]["wonCount"]
        start_b = (await on_b.next(10))["dashboardUpdated"]["metrics"]["wonCount"]
        assert start_a == start_b
        await asyncio.sleep(0.3)
        # The webhook reaches process A only; whichever process runs the dashboard projection
        # publishes on Redis, and both processes push to their own subscribers.
        await asyncio.to_thread(win_by_webhook, northwind, a, deal)
        assert (await on_a.next(20))["dashboardUpdated"]["metrics"]["wonCount"] == start_a + 1
        assert (await on_b.next(20))["dashboardUpdated"]["metrics"]["wonCount"] == start_b + 1


@pytest.fixture
def api_and_worker(
    northwind: FakeOdoo, mongo_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Server, subprocess.Popen[str], dict[str, str]]]:
    """The production topology in small: an API-only replica and a `pulse worker`."""
    env = server_env(mongo_url, northwind, redis=True)
    logs = tmp_path_factory.mktemp("topology")
    with (logs / "worker.log").open("w") as out:
        worker = subprocess.Popen(
            [sys.executable, "-m", "infrastructure.cli", "worker"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
    try:
        api = start_server({**env, "PULSE_PROJECTIONS": "false"}, logs / "api.log")
        try:
            yield api, worker, env
        finally:
            stop_server(api)
    finally:
        worker.terminate()
        worker.wait(timeout=30)


async def test_an_api_only_replica_serves_and_pushes_what_the_worker_folds(
    api_and_worker: tuple[Server, subprocess.Popen[str], dict[str, str]], northwind: FakeOdoo
) -> None:
    api, worker, env = api_and_worker
    sync = api.graphql(
        token("ops@northwind.example"), "mutation { syncOdoo(mode: FULL, wait: true) { status } }"
    )
    # wait: true is answered from the checkpoints the worker writes.
    assert sync["data"]["syncOdoo"]["status"] == "SUCCEEDED", sync
    deal = open_deal_of(northwind, "ethan")
    async with subscription(api.ws, token(MARIA), DASHBOARD) as maria:
        start = (await maria.next(10))["dashboardUpdated"]["metrics"]["wonCount"]
        await asyncio.sleep(0.3)
        await asyncio.to_thread(win_by_webhook, northwind, api, deal)
        assert (await maria.next(20))["dashboardUpdated"]["metrics"]["wonCount"] == start + 1
    client: MongoClient[dict[str, Any]] = MongoClient(env["PULSE_MONGODB_URL"])
    try:
        owners = {d["owner"] for d in client[env["PULSE_MONGODB_DB"]]["projection_leases"].find()}
    finally:
        client.close()
    pids = {int(owner.split(":")[1]) for owner in owners}
    assert pids == {worker.pid}, "only the worker folds; the API replica holds no projection"
    assert worker.poll() is None
