"""The load harness shared by ``python -m bench`` (issue 6) and ``tests/reliability/test_load.py``
(issue 7): N WebSocket subscribers of ``dashboardUpdated`` and webhooks at a fixed rate
against one real server, with every push checked and timed.

    python -m bench.load [--subscribers 1000 --rate 200 --duration 60 --users 1000 ...]

Processes (each one's CPU is reported apart, so the figures can be read on a shared box):

* **server**: a real ``pulse serve`` subprocess (Redis broadcast, its own embedded nx-27017
  started here with Pulse's ``EmbeddedStore`` in a temp dir), or a peer server
  (``bench/peers.py``) speaking the same subscription.
* **odoo**: ``bench/load_odoo.py``, the built-in Odoo with a populated org (span-8 tree of
  ``users``, ``leads`` deals) that is also the webhook *firer*: for each webhook it changes
  the deal's expected revenue in Odoo, then posts Odoo's webhook body, open loop at ``rate``.
* **clients**: this process, one asyncio loop, raw ``websockets`` connections speaking
  graphql-transport-ws (lighter than gql: no result parsing; a push is recognised and its
  ``asOf`` taken with a regex on the raw text).

What is checked: every subscriber whose viewer sees the changed deal (its salesperson or any
manager above them, and admins) must receive a push whose ``asOf`` is at least the position
of the event that webhook produced (read from the webhook inbox once the run is over;
coalesced pushes count). A missing push is an error; so is a push that no change explains
(another viewer's change, or unchanged values), an HTTP answer other than 202, a WebSocket
closed by the server, a GraphQL error. Latency = push received (here) - 202 received (odoo
process), both ``time.time()`` on this host. Server RSS is sampled from
``/proc/<pid>/status`` through the run.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import json
import os
import random
import re
import resource
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

ROOT = Path(__file__).resolve().parent.parent
REDIS_URL = os.environ.get("PULSE_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
SUBSCRIPTION = (ROOT / "frontend-contract/operations/dashboard_updated.graphql").read_text()
ADMIN_EMAIL = "load-admin@bench.example"
ADMIN_VIEWER = "__admin__"
SYNC = "mutation { syncOdoo(mode: FULL, wait: true) { status stats { eventsAppended } error } }"
PROTOCOL = "graphql-transport-ws"
TYPE_RE = re.compile(r'"type":\s*"(\w+)"')
AS_OF_RE = re.compile(r'"asOf":\s*(\d+)')
TICKS = os.sysconf("SC_CLK_TCK")
Positions = dict[int, tuple[int, float | None]]
Wanted = list[tuple[int, float, float]]  # (event position, 202 received, POST sent) per change


# ---------------------------------------------------------------------------- settings
@dataclass
class LoadConfig:
    subscribers: int = 1000
    rate: float = 200.0  # webhooks per second, open loop
    duration: float = 60.0  # seconds of firing
    users: int = 1000  # org size in the built-in Odoo
    leads: int = 20_000
    admins: int = 1  # admin subscribers (they see every change) among ``subscribers``
    connect_concurrency: int = 50  # handshakes in flight while subscribers connect
    drain_timeout: float = 600.0  # after the last webhook: processing + pushes, at most
    push_grace: float = 60.0  # once all is processed: how long missing pushes may still come
    idle_seconds: float = 5.0  # RSS sampling before / after subscribers connect
    compression: bool = True  # permessage-deflate offered, as browsers do
    signed: bool = False  # also require X-Pulse-Signature (PULSE_WEBHOOK_SECRET)
    redis_url: str = REDIS_URL
    sample_interval: float = 0.5
    seed: int = 3


# ---------------------------------------------------------------------------- /proc
def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def cpu_seconds(pid: int) -> float:
    """utime + stime of ``pid`` (its threads included), in seconds."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS


def raise_fd_limit(wanted: int) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = min(max(soft, wanted), hard)
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return target


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def redis_pid(url: str) -> int | None:
    with contextlib.suppress(Exception):
        import redis

        client = redis.Redis.from_url(url)
        try:
            return int(client.info("server")["process_id"])
        finally:
            client.close()
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(round(q / 100 * len(ordered) + 0.5) - 1, 0)
    return ordered[min(rank, len(ordered) - 1)]


# ---------------------------------------------------------------------------- processes
@dataclass
class Odoo:
    proc: subprocess.Popen[str]
    info: dict[str, Any]

    @property
    def pid(self) -> int:
        return self.proc.pid

    def command(self, message: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(message) + "\n")
        self.proc.stdin.flush()

    def readline(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"bench.load_odoo exited ({self.proc.poll()})")
        answer: dict[str, Any] = json.loads(line)
        return answer


@contextlib.contextmanager
def odoo_process(users: int, leads: int, *, no_odoo: bool = False) -> Any:
    args = [sys.executable, "-m", "bench.load_odoo", "--users", str(users), "--leads", str(leads)]
    if no_odoo:
        args.append("--no-odoo")
    proc = subprocess.Popen(args, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True)  # fmt: skip
    try:
        odoo = Odoo(proc, {})
        odoo.info = odoo.readline()
        yield odoo
    finally:
        with contextlib.suppress(OSError, ValueError):
            odoo.command({"cmd": "quit"})
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.contextmanager
def server_process(args: list[str], env: dict[str, str], log: Path, ready: str) -> Any:
    """Start ``args``; yield (proc, base url) once GET ``ready`` answers 200."""
    port = free_port()
    with log.open("w") as handle:
        proc = subprocess.Popen([*args, "--port", str(port)], cwd=ROOT, env=env,
                                stdout=handle, stderr=subprocess.STDOUT)  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 180
            while True:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{args[2:4]} did not start: {log.read_text()[-2000:]}")
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"{base}{ready}", timeout=2).status_code == 200:
                        break
                time.sleep(0.3)
            yield proc, base
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


# ---------------------------------------------------------------------------- subscribers
@dataclass(eq=False)
class Subscriber:
    index: int
    viewer: str  # user id as a string, or ADMIN_VIEWER
    token: str
    times: list[float] = field(default_factory=list)  # time.time() of each push
    as_of: list[int] = field(default_factory=list)
    bytes: int = 0
    errors: list[str] = field(default_factory=list)
    closed: str | None = None  # set when the server closed the socket before we did
    first: asyncio.Event = field(default_factory=asyncio.Event)
    stopping: bool = False

    async def run(self, url: str, compression: bool, gate: asyncio.Semaphore) -> None:
        held = True
        await gate.acquire()
        try:
            async with connect(
                url,
                subprotocols=[PROTOCOL],  # type: ignore[list-item]
                compression="deflate" if compression else None,
                open_timeout=300,
                ping_interval=None,  # browsers do not ping; the server's pings are answered
                close_timeout=5,
                max_size=2**24,
                max_queue=None,
            ) as ws:
                init = {
                    "type": "connection_init",
                    "payload": {"Authorization": f"Bearer {self.token}"},
                }
                await ws.send(json.dumps(init))
                ack = json.loads(await asyncio.wait_for(ws.recv(), 300))
                if ack.get("type") != "connection_ack":
                    raise RuntimeError(f"no connection_ack: {str(ack)[:200]}")
                subscribe = {"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIPTION}}
                await ws.send(json.dumps(subscribe))
                async for raw in ws:
                    now = time.time()
                    text = raw if isinstance(raw, str) else raw.decode()
                    kind = TYPE_RE.search(text[:120])
                    name = kind.group(1) if kind else "?"
                    if name == "next" and '"errors"' not in text:
                        found = AS_OF_RE.search(text)
                        if found is None:
                            self.errors.append(f"push without asOf: {text[:200]}")
                            continue
                        self.times.append(now)
                        self.as_of.append(int(found.group(1)))
                        self.bytes += len(text)
                        if held:
                            held = False
                            gate.release()
                            self.first.set()
                    elif name == "ping":
                        await ws.send('{"type":"pong"}')
                    elif name == "pong":
                        continue
                    else:  # error, complete, next with errors
                        self.errors.append(text[:300])
                        if name in ("error", "complete"):
                            break
        except ConnectionClosed as err:
            if not self.stopping:
                self.closed = (
                    f"{err.rcvd.code if err.rcvd else None} {err.rcvd.reason if err.rcvd else ''}"
                )
        except Exception as err:  # counted, reported: one socket must not end the run
            if not self.stopping:
                self.errors.append(repr(err)[:300])
        finally:
            if held:
                gate.release()
            self.first.set()
            if not self.stopping and self.closed is None and not self.errors:
                self.closed = "ended"


# ---------------------------------------------------------------------------- targets
@dataclass
class Target:
    """A running server under load: where to subscribe and post, how to read positions."""

    name: str
    pid: int
    ws_url: str
    webhook_url: str
    webhook_secret: str | None
    token_for: Callable[[str], str]  # viewer -> token
    item_for: Callable[[int, int, list[str]], dict[str, Any]]  # (i, deal, receivers) -> item
    # (results, deadline) -> ({item index: (position of its event, when the server processed
    # it or None)}, whether every accepted webhook was processed by the deadline)
    positions: Callable[[list[list[Any]], float], Awaitable[tuple[Positions, bool]]]
    extra_pids: dict[str, int] = field(default_factory=dict)


@dataclass
class Org:
    """Viewers and deals: who sees a change of which deal."""

    active: list[str]  # active user ids (str), they can sign in
    emails: dict[str, str]
    chain: dict[str, list[str]]  # user id -> itself and every manager above, by user id
    deals: list[tuple[int, str]]  # (lead id, salesperson user id)

    @classmethod
    def from_info(cls, info: dict[str, Any]) -> Org:
        manager = {str(u): (str(m) if m else None) for u, _, _, m in info["users"]}
        chain: dict[str, list[str]] = {}
        for user in manager:
            seen: list[str] = []
            current: str | None = user
            while current is not None and current not in seen:
                seen.append(current)
                current = manager.get(current)
            chain[user] = seen
        active = [str(u) for u, _, is_active, _ in info["users"] if is_active]
        emails = {str(u): e for u, e, _, _ in info["users"]}
        deals = [(int(d), str(u)) for d, u in info["deals"]]
        return cls(active, emails, chain, deals)

    @classmethod
    def synthetic(cls, users: int, span: int = 8) -> Org:
        """The same span-8 tree without an Odoo (peers): user i reports to (i - 1) // span."""
        users_ = [
            [i + 1, f"user{i:05d}@bench.example", True, (i - 1) // span + 1 if i else None]
            for i in range(users)
        ]
        info = {"users": users_, "deals": [[10_000 + i, i % users + 1] for i in range(users * 20)]}
        return cls.from_info(info)


def viewers_for(org: Org, subscribers: int, admins: int) -> list[str]:
    """Every active user once (then again, round robin) and ``admins`` admin subscribers."""
    admins = min(admins, subscribers)
    users = [org.active[i % len(org.active)] for i in range(subscribers - admins)]
    return users + [ADMIN_VIEWER] * admins


# ---------------------------------------------------------------------------- the run
@dataclass
class LoadReport:
    target: str
    config: dict[str, Any]
    load_before: str = ""
    load_after: str = ""
    subscribers: int = 0
    distinct_viewers: int = 0
    connect_seconds: float = 0.0
    connect_failures: int = 0
    webhooks: int = 0
    accepted: int = 0
    http_errors: dict[str, int] = field(default_factory=dict)
    answer_ms: list[float] = field(default_factory=list)  # webhook POST -> 202
    late_sends: int = 0  # sent > 100 ms after their due time (the firer fell behind)
    max_late_seconds: float = 0.0  # (64 posts in flight at most: a slow server delays sends)
    no_event: int = 0  # accepted webhooks that appended no event (coalesced, unchanged)
    unprocessed: int = 0  # accepted webhooks the server had not processed by the deadline
    expected_pushes: int = 0
    missing_pushes: int = 0
    unexpected_pushes: int = 0
    pushes: int = 0
    push_bytes: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    from_send_ms: list[float] = field(default_factory=list)  # the same, from the POST's start
    ingest_ms: list[float] = field(default_factory=list)  # 202 -> webhook processed (server)
    early_pushes: int = 0  # pushes seen before the 202 reached the firer (latency 0)
    ws_closes: list[str] = field(default_factory=list)
    ws_errors: list[str] = field(default_factory=list)
    fire_seconds: float = 0.0
    drain_seconds: float = 0.0  # last webhook sent -> last expected push received
    processed_per_second: float = 0.0
    rss_idle_mb: float = 0.0
    rss_subscribed_mb: float = 0.0
    rss_peak_mb: float = 0.0
    rss_first_third_mb: float = 0.0
    rss_last_third_mb: float = 0.0
    rss_samples: list[tuple[float, float]] = field(default_factory=list)  # (s since load, MB)
    cpu: dict[str, float] = field(default_factory=dict)  # process -> cores during load
    connect_client_cpu: float = 0.0  # client CPU seconds to open the subscriptions
    errors: list[str] = field(default_factory=list)  # harness-level failures

    @property
    def error_count(self) -> int:
        return (
            sum(self.http_errors.values())
            + self.unprocessed
            + self.missing_pushes
            + self.unexpected_pushes
            + len(self.ws_closes)
            + len(self.ws_errors)
            + self.connect_failures
            + len(self.errors)
        )

    def rss_growth_ok(self, rel: float = 0.15, abs_mb: float = 25.0) -> bool:
        """No unbounded growth: the last third's mean RSS is within ``rel`` (+ ``abs_mb``) of
        the first third's."""
        return self.rss_last_third_mb <= self.rss_first_third_mb * (1 + rel) + abs_mb

    def summary(self) -> str:
        c = self.cpu
        cpu = ", ".join(f"{k} {v:.2f}" for k, v in c.items())
        return (
            f"{self.target}: {self.subscribers} subscribers ({self.distinct_viewers} viewers), "
            f"{self.webhooks} webhooks at {self.config['rate']:g}/s for "
            f"{self.config['duration']:g} s (all answered after {self.fire_seconds:.0f} s, "
            f"{self.late_sends} sent late, by up to {self.max_late_seconds:.1f} s); accepted "
            f"{self.accepted}, http errors "
            f"{self.http_errors}, no-event {self.no_event}; pushes expected "
            f"{self.expected_pushes}, missing {self.missing_pushes}, unexpected "
            f"{self.unexpected_pushes}; push latency p50 {pct(self.latencies_ms, 50):.0f} ms "
            f"p99 {pct(self.latencies_ms, 99):.0f} ms max {max(self.latencies_ms, default=0):.0f}"
            f" ms (from the POST: p50 {pct(self.from_send_ms, 50):.0f} p99 "
            f"{pct(self.from_send_ms, 99):.0f} ms, {self.early_pushes} pushes before the 202)"
            f"; 202 -> processed p50 {pct(self.ingest_ms, 50):.0f} ms p99 "
            f"{pct(self.ingest_ms, 99):.0f} ms; 202 p50 {pct(self.answer_ms, 50):.0f} ms p99 "
            f"{pct(self.answer_ms, 99):.0f} ms"
            f"; ws closes {len(self.ws_closes)}, ws errors {len(self.ws_errors)}; drain "
            f"{self.drain_seconds:.1f} s, processed {self.processed_per_second:.0f}/s; RSS idle "
            f"{self.rss_idle_mb:.0f} MB, subscribed {self.rss_subscribed_mb:.0f} MB, peak "
            f"{self.rss_peak_mb:.0f} MB, thirds {self.rss_first_third_mb:.0f} -> "
            f"{self.rss_last_third_mb:.0f} MB; CPU (cores) {cpu}; connect "
            f"{self.connect_seconds:.1f} s ({self.connect_client_cpu:.1f} client CPU s); "
            f"load {self.load_before} -> {self.load_after}"
        )

    def as_json(self) -> str:
        return json.dumps(asdict(self), default=str)


class Sampler:
    """RSS of the server every ``interval`` s, and CPU seconds of every process."""

    def __init__(self, pid: int, interval: float) -> None:
        self.pid = pid
        self.interval = interval
        self.samples: list[tuple[float, float]] = []
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            self.samples.append((time.time(), rss_mb(self.pid)))
            await asyncio.sleep(self.interval)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def between(self, start: float, end: float) -> list[float]:
        return [mb for t, mb in self.samples if start <= t <= end]


def cpu_snapshot(pids: dict[str, int]) -> dict[str, float]:
    return {name: cpu_seconds(pid) for name, pid in pids.items()}


async def run_load(target: Target, odoo: Odoo, org: Org, cfg: LoadConfig) -> LoadReport:
    """Connect the subscribers, fire, drain, check; the target and odoo are already up."""
    report = LoadReport(target.name, asdict(cfg), load_before=load_average())
    raise_fd_limit(cfg.subscribers + 1024)
    pids = {"server": target.pid, **target.extra_pids, "odoo": odoo.pid, "clients": os.getpid()}
    sampler = Sampler(target.pid, cfg.sample_interval)
    sampler.start()
    subs: list[Subscriber] = []
    tasks: list[asyncio.Task[None]] = []
    try:
        idle_from = time.time()
        await asyncio.sleep(cfg.idle_seconds)
        report.rss_idle_mb = _mean(sampler.between(idle_from, time.time()))

        viewers = viewers_for(org, cfg.subscribers, cfg.admins)
        tokens: dict[str, str] = {}
        for v in viewers:
            if v not in tokens:
                tokens[v] = target.token_for(v)
        subs = [Subscriber(i, v, tokens[v]) for i, v in enumerate(viewers)]
        report.subscribers = len(subs)
        report.distinct_viewers = len(set(viewers))
        gate = asyncio.Semaphore(cfg.connect_concurrency)
        started, cpu0 = time.perf_counter(), cpu_seconds(os.getpid())
        tasks = [asyncio.create_task(s.run(target.ws_url, cfg.compression, gate)) for s in subs]
        await asyncio.wait_for(asyncio.gather(*(s.first.wait() for s in subs)), 900)
        report.connect_seconds = time.perf_counter() - started
        report.connect_client_cpu = cpu_seconds(os.getpid()) - cpu0
        report.connect_failures = sum(1 for s in subs if not s.times)
        subscribed_from = time.time()
        await asyncio.sleep(cfg.idle_seconds)
        report.rss_subscribed_mb = _mean(sampler.between(subscribed_from, time.time()))

        # Fire: the plan goes to the odoo process, which writes each deal and posts.
        rng = random.Random(cfg.seed)
        deals = list(org.deals)
        rng.shuffle(deals)
        subscribed = {s.viewer for s in subs}
        n = max(int(cfg.rate * cfg.duration), 1)
        receivers: list[list[str]] = []
        items = []
        for i in range(n):
            deal, owner = deals[i % len(deals)]
            seen = [v for v in org.chain.get(owner, [owner]) if v in subscribed]
            if ADMIN_VIEWER in subscribed:
                seen.append(ADMIN_VIEWER)
            receivers.append(seen)
            items.append(target.item_for(i, deal, org.chain.get(owner, [owner])))
        with tempfile.TemporaryDirectory(prefix="pulse-load-") as tmp:
            plan, out = Path(tmp) / "plan.json", Path(tmp) / "results.json"
            spec = {"url": target.webhook_url, "rate": cfg.rate, "items": items}
            plan.write_text(json.dumps({**spec, "secret": target.webhook_secret}))
            cpu_start, load_start = cpu_snapshot(pids), time.time()
            odoo.command({"cmd": "fire", "plan": str(plan), "out": str(out)})
            done = await asyncio.to_thread(odoo.readline)
            assert done.get("done") == n, done
            results: list[list[Any]] = json.loads(out.read_text())
        fired_at = time.time()
        report.fire_seconds = fired_at - load_start
        report.webhooks = n
        statuses = Counter(str(r[4]) for r in results)
        report.accepted = statuses.pop("202", 0)
        report.http_errors = dict(statuses)
        report.answer_ms = [(r[3] - r[2]) * 1000 for r in results]
        report.late_sends = sum(1 for r in results if r[2] - r[1] > 0.1)
        report.max_late_seconds = max((r[2] - r[1] for r in results), default=0.0)

        # Drain: positions (once the server has processed every webhook), then pushes.
        positions, complete = await target.positions(results, fired_at + cfg.drain_timeout)
        processed_at = time.time()
        report.unprocessed = report.accepted - len(positions)
        if not complete:
            report.errors.append(
                f"webhooks not all processed {cfg.drain_timeout:.0f} s after the last"
            )
        known = max((p for p, _ in positions.values()), default=0)
        report.processed_per_second = len(positions) / max(processed_at - load_start, 1e-9)
        wanted: dict[Subscriber, Wanted] = {s: [] for s in subs}
        by_viewer: dict[str, list[Subscriber]] = {}
        for s in subs:
            by_viewer.setdefault(s.viewer, []).append(s)
        for i, r in enumerate(results):
            if r[4] != 202 or i not in positions:
                continue
            pos, processed = positions[i]
            if processed is not None:
                report.ingest_ms.append(max(processed - r[3], 0.0) * 1000)
            if pos <= 0:
                report.no_event += 1
                continue
            for viewer in receivers[i]:
                for s in by_viewer.get(viewer, []):
                    wanted[s].append((pos, r[3], r[2]))

        def outstanding() -> int:
            return sum(
                1
                for s, want in wanted.items()
                if want
                and (not s.as_of or s.as_of[-1] < max(w[0] for w in want))
                and s.closed is None
            )

        last_progress, last_count = time.time(), outstanding()
        while last_count and time.time() - last_progress < cfg.push_grace:
            await asyncio.sleep(0.25)
            count = outstanding()
            if count != last_count:
                last_progress, last_count = time.time(), count
        load_end = time.time()
        cpu_end = cpu_snapshot(pids)
        last_push = max((s.times[-1] for s in subs if s.times), default=fired_at)
        report.drain_seconds = max(last_push - fired_at, 0.0)
        report.cpu = {k: (cpu_end[k] - cpu_start[k]) / (load_end - load_start) for k in pids}

        # Check and time every expected push.
        for s, want in wanted.items():
            judge(report, s, want, known, complete)

        window = sampler.between(load_start, load_end)
        third = max(len(window) // 3, 1)
        report.rss_first_third_mb = _mean(window[:third])
        report.rss_last_third_mb = _mean(window[-third:])
        report.rss_peak_mb = max(window, default=0.0)
        report.rss_samples = [(round(t - load_start, 2), round(mb, 1))
                              for t, mb in sampler.samples]  # fmt: skip
    finally:
        for s in subs:
            s.stopping = True
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await sampler.stop()
        report.load_after = load_average()
    return report


def judge(report: LoadReport, s: Subscriber, want: Wanted, known: int, complete: bool) -> None:
    """Add one subscriber's pushes to ``report``: each expected change must be reflected by
    a push (the first whose ``asOf`` reaches its position; coalescing is fine), timed from
    the 202; every push after the first must be explained by an expected change in
    ``(previous asOf, its asOf]``. Pushes beyond ``known`` are not judged when the run did
    not see every webhook processed (``complete`` false)."""
    report.expected_pushes += len(want)
    for pos, accepted_at, sent_at in want:
        k = bisect.bisect_left(s.as_of, pos)
        if k >= len(s.as_of):
            report.missing_pushes += 1
            continue
        latency = (s.times[k] - accepted_at) * 1000
        if latency < 0:
            report.early_pushes += 1
        report.latencies_ms.append(max(latency, 0.0))
        report.from_send_ms.append((s.times[k] - sent_at) * 1000)
    explained = sorted(w[0] for w in want)
    for k in range(1, len(s.as_of)):
        lo, hi = s.as_of[k - 1], s.as_of[k]
        if hi > known and not complete:
            break  # a push for a webhook processed after we looked: not judged
        j = bisect.bisect_right(explained, lo)
        if hi <= lo or j >= len(explained) or explained[j] > hi:
            report.unexpected_pushes += 1
    report.pushes += len(s.times)
    report.push_bytes += s.bytes
    if s.closed is not None:
        report.ws_closes.append(f"{s.viewer}: {s.closed}")
    report.ws_errors += [f"{s.viewer}: {e}" for e in s.errors]


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


# ---------------------------------------------------------------------------- Pulse
@contextlib.asynccontextmanager
async def pulse_target(odoo: Odoo, cfg: LoadConfig, workdir: Path) -> AsyncIterator[Target]:
    """``pulse serve`` on its own embedded store, synced from the odoo process."""
    from infrastructure.auth import mint_token
    from infrastructure.mongo.client import create_client
    from infrastructure.mongo.embedded import EmbeddedStore

    jwt_secret = secrets.token_urlsafe(32)
    webhook_token = secrets.token_urlsafe(24)
    webhook_secret = secrets.token_urlsafe(24) if cfg.signed else None
    db_name = f"load_{secrets.token_hex(4)}"
    store = EmbeddedStore(workdir / "store")
    url = store.start()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PULSE_")}
    env.update({
        "PULSE_MONGODB_URL": url, "PULSE_MONGODB_DB": db_name, "PULSE_JWT_SECRET": jwt_secret,
        "PULSE_REDIS_URL": cfg.redis_url, "PULSE_SYNC_INTERVAL": "0",
        "PULSE_LOG_LEVEL": os.environ.get("PULSE_LOAD_LOG_LEVEL", "WARNING"),
        "PULSE_ADMIN_EMAILS": ADMIN_EMAIL,
        "PULSE_WEBHOOK_TOKEN": webhook_token, "PULSE_ODOO_URL": odoo.info["url"],
        "PULSE_ODOO_DB": odoo.info["db"], "PULSE_ODOO_LOGIN": odoo.info["login"],
        "PULSE_ODOO_API_KEY": odoo.info["api_key"],
    })  # fmt: skip
    if webhook_secret:
        env["PULSE_WEBHOOK_SECRET"] = webhook_secret
    org = Org.from_info(odoo.info)
    client = create_client(url, connectTimeoutMS=600_000)
    try:
        args = [sys.executable, "-m", "infrastructure.cli", "serve"]
        with server_process(args, env, workdir / "serve.log", "/readyz") as (proc, base):
            admin = mint_token(ADMIN_EMAIL, secret=jwt_secret, admin=True, ttl_seconds=86_400)
            async with httpx.AsyncClient(base_url=base, timeout=1800) as http:
                answer = await http.post(
                    "/graphql",
                    json={"query": SYNC},
                    headers={"Authorization": f"Bearer {admin}"},
                )
                sync = answer.json().get("data", {}).get("syncOdoo") or {}
                if sync.get("status") != "SUCCEEDED":
                    raise RuntimeError(f"initial sync failed: {answer.text[:500]}")
            inbox = client[db_name]["webhook_inbox"]

            def token_for(viewer: str) -> str:
                if viewer == ADMIN_VIEWER:
                    return admin
                return mint_token(org.emails[viewer], secret=jwt_secret, ttl_seconds=86_400)

            def item_for(i: int, deal: int, receivers: list[str]) -> dict[str, Any]:
                # A value no populated deal has (they are multiples of 250), unique per item.
                return {"write": {"id": deal, "values": {"expected_revenue": 100_000.5 + i}}}

            async def positions(
                results: list[list[Any]], deadline: float
            ) -> tuple[Positions, bool]:
                ids = {r[5]["id"]: r[0] for r in results
                       if r[4] == 202 and isinstance(r[5], dict) and "id" in r[5]}  # fmt: skip
                busy = {"status": {"$in": ["pending", "processing"]}}
                while (pending := await inbox.find_one(busy, {"_id": 1})) is not None:
                    if time.time() > deadline:
                        break
                    await asyncio.sleep(1.0)
                out: Positions = {}
                fields = {"result": 1, "processed_at_ms": 1}  # nx: no dotted projections
                async for doc in inbox.find({}, fields):
                    if doc["_id"] in ids:
                        pos = int((doc.get("result") or {}).get("lastPosition") or 0)
                        at = doc.get("processed_at_ms")
                        if doc.get("result") is not None:
                            out[ids[doc["_id"]]] = (pos, at / 1000 if at else None)
                return out, pending is None

            extra = {"store": store.pid or 0}
            redis = redis_pid(cfg.redis_url)
            if redis:
                extra["redis"] = redis
            yield Target(
                name="pulse",
                pid=proc.pid,
                ws_url=base.replace("http://", "ws://") + "/graphql",
                webhook_url=f"{base}/webhooks/odoo/{webhook_token}",
                webhook_secret=webhook_secret,
                token_for=token_for,
                item_for=item_for,
                positions=positions,
                extra_pids={k: v for k, v in extra.items() if v},
            )
    finally:
        await client.close()
        store.stop()


async def run_pulse(cfg: LoadConfig, workdir: Path | None = None) -> LoadReport:
    """The whole Pulse scenario in one call (bench and tests/reliability use this)."""
    with contextlib.ExitStack() as stack:
        if workdir is None:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="pulse-load-")))
        odoo = stack.enter_context(odoo_process(cfg.users, cfg.leads))
        org = Org.from_info(odoo.info)
        async with pulse_target(odoo, cfg, workdir) as target:
            return await run_load(target, odoo, org, cfg)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    defaults = LoadConfig()
    for name in ("subscribers", "rate", "duration", "users", "leads", "admins",
                 "drain_timeout", "push_grace", "idle_seconds"):  # fmt: skip
        value = getattr(defaults, name)
        parser.add_argument(f"--{name.replace('_', '-')}", type=type(value), default=value)
    parser.add_argument("--no-compression", action="store_true")
    parser.add_argument("--signed", action="store_true")
    parser.add_argument("--json", type=Path, help="also write the full report here")
    parser.add_argument("--workdir", type=Path, help="keep the store and serve.log here")
    args = parser.parse_args()
    cfg = LoadConfig(**{k: getattr(args, k) for k in (
        "subscribers", "rate", "duration", "users", "leads", "admins", "drain_timeout",
        "push_grace", "idle_seconds")})  # fmt: skip
    cfg.compression = not args.no_compression
    cfg.signed = args.signed
    if args.workdir:
        args.workdir.mkdir(parents=True, exist_ok=True)
    report = asyncio.run(run_pulse(cfg, args.workdir))
    print(report.summary())
    if args.json:
        args.json.write_text(report.as_json())


if __name__ == "__main__":
    main()
