"""Full sync of a large built-in Odoo into the embedded store: records/s and peak memory.

    python -m bench.sync_bench [--users 1000] [--leads 100000]

The built-in Odoo runs in a separate process (its memory is not counted); the figure is the
peak resident memory of the Pulse process doing the sync (ru_maxrss).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from domain.ingestion import Ingestor
from domain.sync import SyncHandler, SyncMode, SyncOdoo
from infrastructure.bootstrap import SystemClock
from infrastructure.eventstore.mongo import MongoEventStore
from infrastructure.ingestion.runs import MongoSyncRunRepository
from infrastructure.ingestion.snapshots import MongoSnapshotStore
from infrastructure.mongo.client import create_client
from infrastructure.mongo.embedded import EmbeddedStore
from infrastructure.odoo import OdooClient


async def run(users: int, leads: int, page_size: int) -> dict[str, float]:
    server = subprocess.Popen(
        [sys.executable, "-m", "bench.odoo_server", str(users), str(leads)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None
    odoo = json.loads(server.stdout.readline())
    try:
        with tempfile.TemporaryDirectory() as tmp:
            store = EmbeddedStore(Path(tmp))
            client = create_client(store.start())
            try:
                db = client["bench"]
                events = MongoEventStore(db)
                snapshots, runs = MongoSnapshotStore(db), MongoSyncRunRepository(db)
                for part in (events, snapshots, runs):
                    await part.ensure_indexes()
                gateway = OdooClient(
                    odoo["url"],
                    odoo["db"],
                    odoo["login"],
                    odoo["api_key"],
                    protocol="json2",
                    timeout=120,
                )
                handler = SyncHandler(
                    gateway,
                    Ingestor(events, snapshots, SystemClock()),
                    runs,
                    SystemClock(),
                    page_size=page_size,
                )
                started = time.perf_counter()
                result = await handler(SyncOdoo(SyncMode.FULL, "bench"))
                elapsed = time.perf_counter() - started
                again_started = time.perf_counter()
                again = await handler(SyncOdoo(SyncMode.INCREMENTAL, "bench"))
                again_elapsed = time.perf_counter() - again_started
                await gateway.aclose()
            finally:
                await client.close()
                store.stop()
    finally:
        server.terminate()
        server.wait()
    return {
        "status_ok": float(result.status.value == "SUCCEEDED"),
        "records": result.stats.fetched,
        "events": result.stats.events_appended,
        "seconds": elapsed,
        "records_per_second": result.stats.fetched / elapsed,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "incremental_seconds": again_elapsed,
        "incremental_events": again.stats.events_appended,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--page-size", type=int, default=2000)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args.users, args.leads, args.page_size)), indent=2))


if __name__ == "__main__":
    main()
