"""The whole benchmark suite; rewrites ``bench/RESULTS.md``.

    python -m bench [--quick] [--skip-sync] [--skip-load | --only-load] [--out bench/RESULTS.md]
                                                                           (``make bench``)

Every figure is measured beside its baseline in the same run (rounds alternate where they
can), against a private embedded nx-27017 in a temporary dir, the real Redis, and a real
``pulse serve`` subprocess. Everything started here is stopped here. The subscriber, push
and memory figures and the peers section come from ``bench/load_figures.py`` (the load harness
``bench/load.py``, shared with ``tests/reliability/test_load.py``, and ``bench/peers.py``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import random
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import pymongo

from bench import event_store_bench
from bench.generate import Generated, email, generate
from bench.load_figures import load_figures
from domain.change_detection import detect_changes
from domain.events import StreamRef
from domain.model import LeadRecord
from infrastructure.auth import mint_token
from infrastructure.eventstore.mongo import MongoEventStore
from infrastructure.heap import settle_heap, watch_heap
from infrastructure.mongo.client import create_client
from infrastructure.mongo.embedded import EmbeddedStore
from projections.catalog import PROJECTIONS
from projections.framework import RunnerConfig
from projections.framework.generations import active_collection, invalidate_active
from projections.framework.runner import ProjectionRunner
from projections.read_models import DASHBOARDS, OPPORTUNITIES

LEASE_SECONDS = float(os.environ.get("PULSE_BENCH_LEASE_SECONDS", "600"))
ROOT = Path(__file__).resolve().parent.parent
REDIS_URL = os.environ.get("PULSE_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
OPPORTUNITIES_QUERY = (ROOT / "frontend-contract/operations/opportunities.graphql").read_text()
DASHBOARD_QUERY = (ROOT / "frontend-contract/operations/dashboard.graphql").read_text()


# ---------------------------------------------------------------------------- statistics
def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    ordered = sorted(values)
    rank = max(round(q / 100 * len(ordered) + 0.5) - 1, 0)
    return ordered[min(rank, len(ordered) - 1)]


def med(values: list[float]) -> float:
    return pct(values, 50)


@dataclass
class Figure:
    name: str
    unit: str
    samples: list[float]
    baseline_name: str = "-"
    baseline: list[float] = field(default_factory=list)
    target: str = "-"
    met: bool | None = None
    higher_is_better: bool = False
    ratio: float | None = None
    note: str = ""

    def worst(self, values: list[float]) -> float:
        """p99 of latencies; for rates the worst 1% (p1)."""
        return pct(values, 1 if self.higher_is_better else 99)


def fmt(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


# ---------------------------------------------------------------------------- machine
def machine() -> dict[str, str]:
    model = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return {"cpu": f"{model}, {os.cpu_count()} cores", "memory": mem, "load": load}


def versions() -> str:
    parts = [f"Python {platform.python_version()}"]
    dists = ("pymongo", "nx-27017", "strawberry-graphql", "uvicorn", "redis", "httpx", "aiohttp")
    for dist in dists:
        with contextlib.suppress(Exception):
            parts.append(f"{dist} {version(dist)}")
    return ", ".join(parts)


# ---------------------------------------------------------------------------- a. event store
async def event_store_figures(commits: int, rounds: int) -> list[Figure]:
    s = await event_store_bench.run_samples(commits, rounds)
    rows = [
        ("event append, 1-event commits", "append_1", "raw insert_one", "raw_insert_one"),
        ("event append, 100-event commits", "append_100", "raw insert_many (100/call)",
         "raw_insert_many"),
        ("read_all", "read_all", "raw find", "raw_find"),
    ]  # fmt: skip
    out = []
    for label, key, base_label, base in rows:
        ratio = med(s[key]) / med(s[base])
        if key == "read_all":
            target, met = ">= 20,000 events/s", med(s[key]) >= 20_000
        else:
            target, met = ">= 0.5x", ratio >= 0.5
        note = f"{rounds} alternating rounds, {commits} commits each"
        out.append(
            Figure(label, "events/s", s[key], base_label, s[base], target, met, True, ratio, note)
        )
    return out


# ---------------------------------------------------------------------------- b. sync
def sync_figures(users: int, leads: int) -> list[Figure]:
    proc = subprocess.run(
        [sys.executable, "-m", "bench.sync_bench", "--users", str(users), "--leads", str(leads)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    if proc.returncode != 0:
        note = f"sync bench failed: {proc.stderr.strip()[-300:]}"
        return [Figure(f"full sync, {leads:,} crm.lead", "s", [], note=note)]
    res = json.loads(proc.stdout[proc.stdout.index("{") :])
    note = (f"{res['records']:,.0f} records, {res['events']:,.0f} events, "
            f"{res['records_per_second']:,.0f} records/s; unchanged re-sync "
            f"{res['incremental_seconds']:.2f} s / {res['incremental_events']:.0f} events; "
            "1 run (separate process, its ru_maxrss)")  # fmt: skip
    ok = bool(res["status_ok"])
    limit_s = 60 * leads / 100_000
    return [
        Figure(f"full sync, {leads:,} crm.lead (time)", "s", [res["seconds"]], target=
               f"< {limit_s:.0f} s", met=ok and res["seconds"] < limit_s, note=note),
        Figure(f"full sync, {leads:,} crm.lead (peak RSS)", "MB", [res["peak_rss_mb"]],
               target="< 500 MB", met=res["peak_rss_mb"] < 500),
    ]  # fmt: skip


# ---------------------------------------------------------------------------- c. projections
async def read_only(store: MongoEventStore) -> float:
    started = time.perf_counter()
    n = 0
    async for batch in store.read_all(0, batch_size=5000):
        n += len(batch)
    return time.perf_counter() - started


async def projection_figures(
    db: Any, store: MongoEventStore, gen: Generated, rounds: int, changes: int
) -> tuple[list[Figure], list[str]]:
    reads: list[float] = []
    rebuilds: list[float] = []
    # lease_seconds: with the default 15 s the rebuild dies with LeaseLost (the event loop is
    # blocked longer than the lease's local validity; see LESSONS.md).
    config = RunnerConfig(resume_rebuilds=False, drop_grace=0.0, lease_seconds=LEASE_SECONDS)
    # As in `pulse worker`: the heap is settled once the live workers have loaded their state
    # (a full collection of this process, ~0.1-1 s: the changes are timed after it).
    settled = asyncio.Event()

    def on_settled() -> None:
        settle_heap()
        settled.set()

    runner = ProjectionRunner(db, store, PROJECTIONS, config=config, on_settled=on_settled)
    watch_heap()  # as `pulse rebuild` does
    for _ in range(rounds):
        reads.append(await read_only(store))
        started = time.perf_counter()
        await runner.rebuild()
        rebuilds.append(time.perf_counter() - started)
    ratio = med(rebuilds) / med(reads)
    limit = 120 * gen.events / 1_000_000
    count = f"{gen.events:,}"
    figures = [
        Figure(
            f"projection rebuild, {count} events, all 4",
            "s",
            rebuilds,
            "read all events only",
            reads,
            f"<= 2x and < {limit:.0f} s",
            ratio <= 2 and med(rebuilds) < limit,
            False,
            ratio,
            f"{gen.events / med(rebuilds):,.0f} events/s rebuilt vs "
            f"{gen.events / med(reads):,.0f} events/s read; {rounds} runs",
        )
    ]
    # Incremental: one opportunity change -> the salesperson's dashboard document updated.
    rng = random.Random(11)
    latencies: list[float] = []
    # The first change after start() also waits for the workers to load the read models
    # they keep in memory (a start-up cost, not a change's): it is timed on its own.
    first: list[float] = []
    await runner.start()
    try:
        head = await store.head_position()
        if not await runner.wait_until(head, 600):
            raise RuntimeError("live runner did not catch up")
        await asyncio.wait_for(settled.wait(), 600)
        invalidate_active()
        dashboards = await active_collection(db, "dashboard_metrics", DASHBOARDS)
        for _ in range(changes * 3):  # some picks are not open deals and are skipped
            if len(latencies) >= changes:
                break
            n = rng.randrange(1, gen.leads + 1)
            stream = StreamRef("opportunity", str(n))
            history = await store.read_stream(stream)
            last = history[-1]
            record = last.data.get("record")
            if not isinstance(record, dict):
                continue
            lead = LeadRecord.from_dict(dict(record))
            if lead.user_id is None or not lead.active or not lead.is_opportunity:
                continue
            stage = 1 + (lead.stage_id or 1) % 4  # churn among the open stages
            new = replace(lead, stage_id=stage, probability=[10.0, 30.0, 60.0, 80.0][stage - 1],
                          write_date=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))  # fmt: skip
            events = detect_changes("crm.lead", lead, new, source="bench", won_stage_ids={5})
            started = time.perf_counter()
            result = await store.append(stream, events, last.version)
            runner.notify()
            ok = await runner.wait_until(result.last_position, 10, names=["dashboard_metrics"])
            doc = await dashboards.find_one({"_id": str(lead.user_id)}, {"as_of": 1})
            elapsed = time.perf_counter() - started
            if ok and doc is not None and doc["as_of"] >= result.first_position:
                (latencies if first else first).append(elapsed * 1000)
    finally:
        await runner.stop()
    figures.append(
        Figure(
            "one opportunity change -> dashboard doc updated",
            "ms",
            latencies,
            target="p99 < 20 ms",
            met=bool(latencies) and pct(latencies, 99) < 20,
            note=f"{len(latencies)} changes, live runner in-process, append -> "
            "checkpoint -> find_one sees as_of; the first change after the runner started "
            f"(timed apart: it waits for the workers to load their state) "
            f"{first[0] if first else float('nan'):,.0f} ms",
        )
    )
    return figures, []


# ---------------------------------------------------------------------------- d/e. server
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_projections_loaded(
    mongo_url: str, db_name: str, since: float, proc: subprocess.Popen[bytes]
) -> None:
    """Until the server's projection workers have loaded their state and caught up (each
    checkpoint turned LIVE after ``since``). Ready (/readyz) comes first: at 100,000
    opportunities the workers then read their read models for tens of seconds, and figures
    measured meanwhile were the start-up's, not the steady state's."""
    client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(mongo_url)
    try:
        names = {projection().name for projection in PROJECTIONS}
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline and proc.poll() is None:
            states = client[db_name]["projection_state"].find({}, {"state": 1, "updated": 1})
            live = {d["_id"] for d in states if d.get("state") == "LIVE" and d["updated"] > since}
            if names <= live:
                return
            time.sleep(0.5)
        raise RuntimeError("the server's projections did not turn live")
    finally:
        client.close()


def wait_heap_settled(base: str, limit: float = 120) -> None:
    """Until the server has settled its heap once (``pulse_heap_frozen_objects`` > 0): a
    full collection of everything its workers loaded, a pause of ~0.4 s at this scale that
    happens once after start-up and is not the steady state being measured."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError, ValueError):
            for line in httpx.get(f"{base}/metrics", timeout=5).text.splitlines():
                if line.startswith("pulse_heap_frozen_objects ") and float(line.split()[1]) > 0:
                    return
        time.sleep(0.5)
    raise RuntimeError("the server's heap did not settle")


@contextlib.contextmanager
def pulse_server(mongo_url: str, db_name: str, secret: str, log: Path) -> Iterator[str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PULSE_")}
    env.update({
        "PULSE_MONGODB_URL": mongo_url, "PULSE_MONGODB_DB": db_name, "PULSE_JWT_SECRET": secret,
        "PULSE_REDIS_URL": REDIS_URL, "PULSE_SYNC_INTERVAL": "0", "PULSE_LOG_LEVEL": "WARNING",
        "PULSE_ADMIN_EMAILS": "admin@bench.example", "PULSE_PORT": str(port),
    })  # fmt: skip
    with log.open("w") as handle:
        proc = subprocess.Popen(
            [sys.executable, "-m", "infrastructure.cli", "serve", "--port", str(port)],
            cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT,
        )  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        started = time.time()
        try:
            deadline = time.monotonic() + 120
            while True:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"pulse serve did not start: {log.read_text()[-2000:]}")
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                        break
                time.sleep(0.3)
            wait_projections_loaded(mongo_url, db_name, started, proc)
            wait_heap_settled(base)
            yield base
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


async def concurrent(
    clients: int, per_client: int, call: Callable[[int, int], Awaitable[None]]
) -> list[float]:
    """``clients`` tasks each doing ``per_client`` calls; every call's latency (ms)."""
    out: list[float] = []

    async def one(c: int) -> None:
        for i in range(per_client):
            started = time.perf_counter()
            await call(c, i)
            out.append((time.perf_counter() - started) * 1000)

    await asyncio.gather(*(one(c) for c in range(clients)))
    return out


def on_the_fly(docs: list[dict[str, Any]]) -> dict[str, Any]:
    """The old way: aggregate the viewer's visible opportunity_view docs in Python."""
    totals = {"total": 0, "open": 0, "won": 0, "lost": 0, "pipeline": 0.0, "weighted": 0.0,
              "won_value": 0.0}  # fmt: skip
    by_stage: dict[Any, list[float]] = {}
    team: dict[Any, dict[str, float]] = {}
    for d in docs:
        status = d["status"]
        if status == "ARCHIVED":
            continue
        totals["total"] += 1
        person = team.setdefault(d.get("salesperson_id"), {"n": 0, "pipeline": 0.0, "won": 0})
        person["n"] += 1
        if status == "OPEN":
            totals["open"] += 1
            totals["pipeline"] += d["expected_revenue"]
            totals["weighted"] += d["weighted_revenue"]
            person["pipeline"] += d["expected_revenue"]
            stage = (d.get("stage") or {}).get("odoo_id")
            row = by_stage.setdefault(stage, [0, 0.0])
            row[0] += 1
            row[1] += d["expected_revenue"]
        elif status == "WON":
            totals["won"] += 1
            totals["won_value"] += d["expected_revenue"]
            person["won"] += 1
        else:
            totals["lost"] += 1
    rows = sorted(team.items(), key=lambda kv: -kv[1]["pipeline"])
    return {"totals": totals, "by_stage": by_stage, "team": rows}


async def server_figures(
    mongo_url: str, db: Any, gen: Generated, tmp: Path, per_client: int, rounds: int
) -> list[Figure]:
    secret = secrets.token_urlsafe(32)
    org = gen.org
    rng = random.Random(5)
    viewers = [org.wide_manager, *org.wide_reports[:5], org.deep_leaf]
    active = [u for u in org.reps if u not in org.inactive and u not in viewers]
    viewers = [v for v in viewers if v not in org.inactive]
    viewers += rng.sample(active, 50 - len(viewers))
    tokens = {v: mint_token(email(v), secret=secret, ttl_seconds=7200) for v in viewers}
    invalidate_active()
    dashboards = await active_collection(db, "dashboard_metrics", DASHBOARDS)
    opportunities = await active_collection(db, "opportunity_view", OPPORTUNITIES)
    figures: list[Figure] = []
    with pulse_server(mongo_url, db.name, secret, tmp / "serve.log") as base:
        # The load generator is aiohttp (C-accelerated HTTP parsing). httpx, used before,
        # cost ~6 ms of the client's CPU per request at 50 concurrent clients on this 2-core
        # machine, more than the server's ~2.5 ms: the figure measured the load generator
        # (one round with httpx is kept below, reported in the note). Idle connections are
        # dropped before uvicorn's 5 s keep-alive timeout closes them under a request.
        connector = aiohttp.TCPConnector(limit=60, keepalive_timeout=2.0)
        timeout = aiohttp.ClientTimeout(total=120)
        limits = httpx.Limits(
            max_connections=60, max_keepalive_connections=60, keepalive_expiry=2.0
        )
        async with (
            aiohttp.ClientSession(base, connector=connector, timeout=timeout) as http,
            httpx.AsyncClient(base_url=base, timeout=120, limits=limits) as slow_http,
        ):

            async def post(body: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
                async with http.post("/graphql", json=body, headers=headers) as r:
                    answer: dict[str, Any] = await r.json()
                    if answer.get("errors") or r.status != 200:
                        raise RuntimeError(f"query failed: {str(answer)[:500]}")
                    return answer

            async def dashboard(v: int) -> dict[str, Any]:
                headers = {"Authorization": f"Bearer {tokens[v]}"}
                return await post({"query": DASHBOARD_QUERY}, headers)

            async def dashboard_httpx(v: int) -> None:
                headers = {"Authorization": f"Bearer {tokens[v]}"}
                body = {"query": DASHBOARD_QUERY}
                r = await slow_http.post("/graphql", json=body, headers=headers)
                if r.status_code != 200 or r.json().get("errors"):
                    raise RuntimeError(f"dashboard query failed: {r.text[:500]}")

            for v in viewers:  # warm up (tokens, generations cache, connections)
                for attempt in range(3):
                    try:
                        await dashboard(v)
                        await dashboard_httpx(v)
                        break
                    except (aiohttp.ClientError, httpx.TransportError):
                        if attempt == 2:
                            raise
                        await asyncio.sleep(1)

            errors: list[str] = []

            async def gql_call(c: int, i: int) -> None:
                try:
                    await dashboard(viewers[c])
                except aiohttp.ClientError as err:  # counted and reported, not fatal
                    errors.append(repr(err))

            async def find_call(c: int, i: int) -> None:
                await dashboards.find_one({"_id": str(viewers[c])})

            async def httpx_call(c: int, i: int) -> None:
                await dashboard_httpx(viewers[c])

            q_lat: list[float] = []
            f_lat: list[float] = []
            client_cpu = 0.0
            for _ in range(rounds):
                f_lat += await concurrent(50, per_client, find_call)
                started_cpu = time.process_time()
                q_lat += await concurrent(50, per_client, gql_call)
                client_cpu += time.process_time() - started_cpu
            started_cpu = time.process_time()
            h_lat = await concurrent(50, per_client, httpx_call)
            httpx_cpu = (time.process_time() - started_cpu) / len(h_lat) * 1000
            ratio = pct(q_lat, 99) / pct(f_lat, 99)
            figures.append(Figure(
                "`dashboard` query, 50 concurrent clients", "ms", q_lat,
                "raw find_one of the same doc, 50 concurrent", f_lat, "p99 <= 3x",
                ratio <= 3, False, ratio,
                f"{rounds} alternating rounds x 50 clients x {per_client} requests; 50 viewers "
                "(VP of ~500, directors, deep leaf, reps); ratio of p99s; "
                f"{len(errors)} transport errors {errors[:2]}; load generator aiohttp, "
                f"{client_cpu / len(q_lat) * 1000:.2f} ms of its CPU per request; one more "
                f"round with httpx as the client: p50/p99 {med(h_lat):,.0f}/"
                f"{pct(h_lat, 99):,.0f} ms, {httpx_cpu:.2f} ms of client CPU per request",
            ))  # fmt: skip

            # The old way, one client: fetch visible opportunity_view docs and aggregate.
            fly: list[float] = []
            one: list[float] = []
            for v in viewers:
                started = time.perf_counter()
                docs = [
                    d async for d in opportunities.find({"visible_to": str(v)}).batch_size(5000)
                ]
                on_the_fly(docs)
                fly.append((time.perf_counter() - started) * 1000)
                started = time.perf_counter()
                await dashboard(v)
                one.append((time.perf_counter() - started) * 1000)
            speedup = med(fly) / med(one)
            figures.append(Figure(
                "`dashboard` query, 1 client (same 50 viewers)", "ms", one,
                "on the fly from opportunity_view (old way)", fly, ">= 50x faster",
                speedup >= 50, False, 1 / speedup,
                f"speedup {speedup:,.0f}x (median); VP of ~500 alone: on the fly "
                f"{fly[0]:,.0f} ms vs {one[0]:.1f} ms",
            ))  # fmt: skip

            # e. opportunities first page, manager of ~500 reps, vs the raw indexed find.
            manager = org.wide_manager
            headers = {"Authorization": f"Bearer {tokens[manager]}"}
            payload = {"query": OPPORTUNITIES_QUERY, "variables": {"first": 50}}

            async def page() -> None:
                await post(payload, headers)

            async def raw_page() -> None:
                cursor = opportunities.find({"visible_to": str(manager)})
                _ = [d async for d in cursor.sort("updated_at", -1).limit(51)]

            await page()
            p_lat: list[float] = []
            r_lat: list[float] = []
            for _ in range(rounds):
                for fn, out in ((raw_page, r_lat), (page, p_lat)):
                    for _ in range(per_client * 2):
                        started = time.perf_counter()
                        await fn()
                        out.append((time.perf_counter() - started) * 1000)
            visible = await opportunities.count_documents({"visible_to": str(manager)})
            ratio = pct(p_lat, 99) / pct(r_lat, 99)
            figures.append(Figure(
                f"`opportunities` first page (50), manager of {len(org.wide_reports)} reps",
                "ms", p_lat, "raw indexed find, sort updated_at, limit 51", r_lat, "p99 <= 3x",
                ratio <= 3, False, ratio,
                f"{visible:,} visible opportunities; 1 client, {rounds} alternating rounds; "
                "the contract operation (with totalCount)",
            ))  # fmt: skip
    return figures


# ---------------------------------------------------------------------------- report
def load_remark(load: str) -> str:
    """A word on the 1-minute load average at the start: with 2 cores, anything above
    about one busy core means something else ran beside the bench."""
    one_minute = float(load.split()[0])
    busy = one_minute > 0.5 * (os.cpu_count() or 1)
    return " (something else was running: figures are noisy)" if busy else " (quiet)"


def render(figs: list[Figure], info: dict[str, str], args: argparse.Namespace,
           wall: float, sizes: str) -> str:  # fmt: skip
    lines = [
        "# Pulse benchmark results",
        "",
        f"Generated by `python -m bench{' --quick' if args.quick else ''}` "
        f"on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC in {wall / 60:.1f} min.",
        "",
        f"- machine: {info['cpu']}, {info['memory']} RAM; load average at start "
        f"{info['load']}{load_remark(info['load'])}",
        f"- versions: {versions()}",
        f"- scale: {sizes}",
        "- store: embedded nx-27017 (SQLite, one request at a time) in a temp dir; "
        f"Redis {REDIS_URL}",
        "",
        "Latencies: p99 is the 99th percentile of all requests; rates (events/s): the "
        "'p99' column is the worst 1% (p1) of the runs. Ratio = figure / baseline (for rates "
        "> 1 is better, for times < 1 is better).",
        "",
        "| figure | unit | median | p99 | baseline (same run) | baseline median "
        "| baseline p99 | ratio | target | result |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for f in figs:
        if not f.samples:
            lines.append(f"| {f.name} | {f.unit} | - | - | {f.baseline_name} | - | - | - "
                         f"| {f.target} | NOT MEASURED |")  # fmt: skip
            continue
        base_med = fmt(med(f.baseline)) if f.baseline else "-"
        base_p99 = fmt(f.worst(f.baseline)) if f.baseline else "-"
        ratio = f"{f.ratio:.3g}x" if f.ratio is not None else "-"
        result = "-" if f.met is None else "MET" if f.met else "NOT MET"
        lines.append(
            f"| {f.name} | {f.unit} | {fmt(med(f.samples))} | {fmt(f.worst(f.samples))} "
            f"| {f.baseline_name} | {base_med} | {base_p99} | {ratio} | {f.target} | {result} |"
        )
    lines += ["", "Notes per figure:", ""]
    lines += [f"- {f.name}: {f.note}" for f in figs if f.note]
    return "\n".join(lines) + "\n"


def render_peers(peers: list[Figure], notes: list[str]) -> str:
    """The peers section: Pulse's figure beside a peer's, same run, same harness or events.
    Ratio = Pulse / peer (rates: > 1 means Pulse is ahead; times: < 1 means ahead)."""
    if not peers and not notes:
        return ""
    lines = [
        "",
        "## Peers (same run)",
        "",
        "Pulse (figure) beside a peer (baseline column), measured in this run on the same "
        "events or by the same load harness (`bench/peers.py`, `bench/load.py`). Ratio = "
        "Pulse / peer: for rates > 1 means Pulse is ahead, for times < 1 means Pulse is ahead.",
        "",
        "| figure | unit | Pulse median | Pulse p99 | peer | peer median | peer p99 | ratio |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for f in peers:
        if not f.samples or not f.baseline:
            lines.append(f"| {f.name} | {f.unit} | - | - | {f.baseline_name} | - | - | - |")
            continue
        ratio = f"{f.ratio:.3g}x" if f.ratio is not None else "-"
        lines.append(
            f"| {f.name} | {f.unit} | {fmt(med(f.samples))} | {fmt(f.worst(f.samples))} "
            f"| {f.baseline_name} | {fmt(med(f.baseline))} | {fmt(f.worst(f.baseline))} "
            f"| {ratio} |"
        )
    lines += ["", "Where Pulse is ahead or behind, and why:", ""]
    lines += [f"- {f.name}: {f.note}" for f in peers if f.note]
    lines += [f"- {n}" for n in notes]
    return "\n".join(lines) + "\n"


async def push_and_peers(args: argparse.Namespace, figs: list[Figure], peers: list[Figure],
                         peer_notes: list[str]) -> None:  # fmt: skip
    """Push latency and RSS with N subscribers, and the peers (bench/load_figures.py)."""
    print(f"[bench] subscribers, pushes and peers ({time.strftime('%X')})", flush=True)
    main, peer_figs, notes = await load_figures(args.quick, Figure)
    figs += main
    peers += peer_figs
    peer_notes += notes


async def suite(args: argparse.Namespace, figs: list[Figure]) -> str:
    quick = args.quick
    users, leads, events = (200, 5_000, 50_000) if quick else (1000, 100_000, 1_000_000)
    users = args.users or users
    leads = args.leads or leads
    events = args.events or events
    sync_leads = args.sync_leads or leads
    print(f"[bench] event store ({time.strftime('%X')})", flush=True)
    figs += await event_store_figures(300 if quick else 1000, 3 if quick else 5)
    if not args.skip_sync:
        print(f"[bench] sync {sync_leads} leads ({time.strftime('%X')})", flush=True)
        figs += sync_figures(users, sync_leads)
    with tempfile.TemporaryDirectory(prefix="pulse-bench-") as tmp_name:
        tmp = Path(tmp_name)
        embedded = EmbeddedStore(tmp / "store")
        url = embedded.start()
        # A long query on the single-threaded store delays pymongo's heartbeat; with the
        # default 20 s connect timeout the monitor then resets the pool and cancels every
        # in-flight operation (_OperationCancelled; see LESSONS.md). Give it room.
        client = create_client(url, connectTimeoutMS=600_000)
        try:
            db = client["bench"]
            store = MongoEventStore(db)
            await store.ensure_indexes()
            print(f"[bench] generate {events} events ({time.strftime('%X')})", flush=True)
            gen = await generate(store, users=users, leads=leads, events=events)
            print(f"[bench] generated {gen.events} in {gen.seconds:.0f}s; rebuild "
                  f"({time.strftime('%X')})", flush=True)  # fmt: skip
            figs.append(Figure(f"generate {gen.events:,} events (append_batch)", "s",
                               [gen.seconds], note=f"{gen.events / gen.seconds:,.0f} events/s, "
                               "generation (change detection) in a thread"))  # fmt: skip
            # Two alternating rounds at full scale (~2.5 min each): the machine's speed
            # drifts by a quarter between minutes (the same read-only pass took 41-54 s
            # within an hour), so one round each made the ratio a coin toss near 2x.
            proj, _ = await projection_figures(db, store, gen, 3 if quick else 2,
                                               60 if quick else 200)  # fmt: skip
            figs += proj
            print(f"[bench] server ({time.strftime('%X')})", flush=True)
            try:
                figs += await server_figures(url, db, gen, tmp, 5 if quick else 20, 3)
            except Exception:  # keep what was measured; say what failed
                err = traceback.format_exc()[-700:].replace("\n", " / ")
                log = (tmp / "serve.log").read_text()[-800:] if (tmp / "serve.log").exists() else ""
                figs.append(Figure("server figures (d, e)", "ms", [], note=f"failed: {err} {log}"))
        finally:
            await client.close()
            embedded.stop()
    return (f"{users:,} users, {leads:,} opportunities, {events:,} events; "
            f"sync bench {sync_leads:,} crm.lead")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small smoke size (~1-2 min)")
    parser.add_argument("--skip-sync", action="store_true")
    parser.add_argument("--users", type=int, default=0, help="override the org size")
    parser.add_argument("--leads", type=int, default=0, help="override the opportunities")
    parser.add_argument("--events", type=int, default=0, help="override the event count")
    parser.add_argument("--sync-leads", type=int, default=0, help="crm.lead in the sync bench")
    parser.add_argument("--skip-load", action="store_true",
                        help="skip the subscriber/push figures and the peers")  # fmt: skip
    parser.add_argument("--only-load", action="store_true",
                        help="only the subscriber/push figures and the peers")  # fmt: skip
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "RESULTS.md")
    args = parser.parse_args()
    info = machine()
    started = time.perf_counter()
    figs: list[Figure] = []
    peers: list[Figure] = []
    peer_notes: list[str] = []

    async def everything() -> str:
        sizes = "" if args.only_load else await suite(args, figs)
        if not args.skip_load:
            await push_and_peers(args, figs, peers, peer_notes)
        return sizes or "subscriber/push figures and peers only (--only-load)"

    sizes = asyncio.run(everything())
    text = render(figs, info, args, time.perf_counter() - started, sizes)
    text += render_peers(peers, peer_notes)
    lessons = Path(__file__).parent / "LESSONS.md"
    if lessons.exists():
        text += "\n" + lessons.read_text()
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
