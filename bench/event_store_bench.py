"""Event store throughput beside the raw rate of the same server, measured in the same run.

    python -m bench.event_store_bench [--commits N] [--rounds R] [--write-results]

Starts its own embedded nx-27017 in a temporary data dir. For each figure the raw baseline
(insert_one / insert_many / find on a plain collection, same document payloads) and the event
store operation alternate round by round, so drift of the machine affects both alike.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from domain.event_store import ExpectedVersion
from domain.events import NewEvent, StreamRef
from infrastructure.eventstore.mongo import MongoEventStore
from infrastructure.mongo.client import create_client
from infrastructure.mongo.embedded import EmbeddedStore

PAYLOAD = {
    "record": {"odoo_id": 1, "name": "Opportunity 1", "type": "opportunity", "user_id": 7,
               "stage_id": 3, "expected_revenue": 12000.0, "probability": 40.0, "active": True},
    "from_stage_id": 2, "to_stage_id": 3,
}  # fmt: skip


def event(i: int) -> NewEvent:
    return NewEvent(type="OpportunityStageChanged", data={**PAYLOAD, "i": i})


def raw_doc(i: int) -> dict[str, Any]:
    return {"type": "OpportunityStageChanged", "at": datetime.now(UTC), "data": {**PAYLOAD, "i": i}}


async def timed(fn: Callable[[], Awaitable[int]]) -> float:
    start = time.perf_counter()
    count = await fn()
    return count / (time.perf_counter() - start)


async def run(commits: int, rounds: int) -> dict[str, dict[str, float]]:
    samples = await run_samples(commits, rounds)
    return {k: {"median": statistics.median(v), "min": min(v), "max": max(v)}
            for k, v in samples.items()}  # fmt: skip


async def run_samples(commits: int, rounds: int) -> dict[str, list[float]]:
    """Every round's rate per figure (rounds alternate baseline and event store)."""
    with tempfile.TemporaryDirectory() as tmp:
        store_proc = EmbeddedStore(Path(tmp))
        url = store_proc.start()
        client = create_client(url)
        try:
            return await measure(client, commits, rounds)
        finally:
            await client.close()
            store_proc.stop()


async def measure(client: Any, commits: int, rounds: int) -> dict[str, list[float]]:
    db = client["bench"]
    store = MongoEventStore(db)
    await store.ensure_indexes()
    raw = db["raw"]
    results: dict[str, list[float]] = {
        k: []
        for k in (
            "raw_insert_one",
            "append_1",
            "raw_insert_many",
            "append_100",
            "raw_find",
            "read_all",
        )
    }
    batch_commits = max(commits // 20, 5)
    for r in range(rounds):

        async def insert_one() -> int:
            for i in range(commits):
                await raw.insert_one(raw_doc(i))
            return commits

        async def append_one(r: int = r) -> int:
            for i in range(commits):
                await store.append(
                    StreamRef("bench", f"{r}-{i % 50}"), [event(i)], ExpectedVersion.ANY
                )
            return commits

        async def insert_many() -> int:
            for _ in range(batch_commits):
                await raw.insert_many([raw_doc(i) for i in range(100)])
            return batch_commits * 100

        async def append_hundred(r: int = r) -> int:
            for b in range(batch_commits):
                await store.append(
                    StreamRef("batch", f"{r}-{b}"),
                    [event(i) for i in range(100)],
                    ExpectedVersion.NO_STREAM,
                )
            return batch_commits * 100

        async def find_all() -> int:
            n = 0
            async for _ in raw.find({}).batch_size(1000):
                n += 1
            return n

        async def read_everything() -> int:
            n = 0
            async for batch in store.read_all(0, batch_size=1000):
                n += len(batch)
            return n

        results["raw_insert_one"].append(await timed(insert_one))
        results["append_1"].append(await timed(append_one))
        results["raw_insert_many"].append(await timed(insert_many))
        results["append_100"].append(await timed(append_hundred))
        results["raw_find"].append(await timed(find_all))
        results["read_all"].append(await timed(read_everything))
    return results


def report(res: dict[str, dict[str, float]], commits: int, rounds: int) -> str:
    def ratio(a: str, b: str) -> float:
        return res[a]["median"] / res[b]["median"]

    rows = [
        ("event append, 1-event commits (events/s)", "append_1", "raw insert_one (docs/s)",
         "raw_insert_one", ">= 0.5x"),
        ("event append, 100-event commits (events/s)", "append_100",
         "raw insert_many, 100 per call (docs/s)", "raw_insert_many", ">= 0.5x"),
        ("read_all (events/s)", "read_all", "raw find (docs/s)", "raw_find", ">= 20,000 events/s"),
    ]  # fmt: skip
    lines = [
        "| figure | median | baseline | baseline median | ratio | target |",
        "|---|---|---|---|---|---|",
    ]
    for label, key, base_label, base, target in rows:
        lines.append(
            f"| {label} | {res[key]['median']:,.0f} | {base_label} | {res[base]['median']:,.0f} "
            f"| {ratio(key, base):.2f}x | {target} |"
        )
    machine = f"{platform.machine()}, {__import__('os').cpu_count()} cores, Python " \
              f"{platform.python_version()}"  # fmt: skip
    lines.append("")
    lines.append(f"{rounds} rounds x {commits} single-event commits; machine: {machine}; "
                 f"run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC.")  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commits", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    res = asyncio.run(run(args.commits, args.rounds))
    print(report(res, args.commits, args.rounds))


if __name__ == "__main__":
    main()
