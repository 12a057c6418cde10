"""The ``pulse`` command line (PRODUCT.md §7)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence
from types import FrameType

from pydantic import ValidationError

from domain.errors import PulseError
from domain.ingestion import Snapshot
from infrastructure.bootstrap import Container, StoreHandle, open_container
from infrastructure.logging_setup import configure_logging
from infrastructure.settings import Settings, load_settings

log = logging.getLogger("pulse.cli")


def _secret_values(settings: Settings) -> list[str]:
    values = []
    for name in ("mongodb_url", "redis_url", "odoo_api_key", "webhook_token", "webhook_secret",
                 "jwt_secret"):  # fmt: skip
        secret = getattr(settings, name)
        if secret is not None:
            values.append(secret.get_secret_value())
    return values


def _raise_on_sigterm() -> None:
    """Turn SIGTERM into KeyboardInterrupt so ``finally`` blocks (store shutdown) run."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from infrastructure.app import create_app

    host = args.host or settings.host
    port = args.port if args.port is not None else settings.port
    _raise_on_sigterm()
    store = StoreHandle.resolve(settings)
    try:
        config = uvicorn.Config(
            create_app(settings, store), host=host, port=port, log_config=None,
            lifespan="on", ws="websockets-sansio", timeout_graceful_shutdown=10,
        )  # fmt: skip
        server = uvicorn.Server(config)
        log.info("Pulse serving on http://%s:%s", host, port)
        asyncio.run(server.serve())
        return 0 if server.started else 1
    except KeyboardInterrupt:
        return 0
    finally:
        store.close()


def _run_with_container(settings: Settings, body: Callable[[Container], Awaitable[int]]) -> int:
    """Start (or join) the store, open the container, run ``body``, close everything."""
    _raise_on_sigterm()
    store = StoreHandle.resolve(settings)
    try:

        async def main() -> int:
            container = await open_container(settings, store)
            try:
                return await body(container)
            finally:
                await container.aclose()

        return asyncio.run(main())
    except KeyboardInterrupt:
        print("pulse: interrupted", file=sys.stderr)
        return 130
    finally:
        store.close()


def cmd_sync(settings: Settings, args: argparse.Namespace) -> int:
    from domain.sync import SyncAlreadyRunning, SyncMode, SyncOdoo, SyncStatus
    from infrastructure.progress import ProgressBar

    async def body(container: Container) -> int:
        try:
            handler = container.sync_handler()
        except PulseError as err:
            print(f"pulse sync: {err}", file=sys.stderr)
            return 2
        bar = ProgressBar()
        mode = SyncMode.FULL if args.full else SyncMode.INCREMENTAL
        try:
            run = await handler(SyncOdoo(mode, trigger="cli"), progress=bar.update)
        except SyncAlreadyRunning as err:
            print(f"pulse sync: {err}", file=sys.stderr)
            return 3
        finally:
            bar.close()
        stats = run.stats.as_dict()
        print(f"sync {run.id} {run.mode.value} {run.status.value}")
        print("  " + "  ".join(f"{k}={v}" for k, v in stats.items()))
        for rejection in run.stats.rejections[:20]:
            print(f"  rejected {rejection.model} id={rejection.odoo_id}: {rejection.reason}")
        if run.error:
            print(f"  error: {run.error}", file=sys.stderr)
        return 0 if run.status is SyncStatus.SUCCEEDED else 1

    return _run_with_container(settings, body)


def cmd_import(settings: Settings, args: argparse.Namespace) -> int:
    import json
    from dataclasses import asdict
    from datetime import UTC, datetime
    from pathlib import Path

    from domain.importing import import_lines

    source = Path(args.file)
    if not source.is_file():
        print(f"pulse import: no such file: {source}", file=sys.stderr)
        return 2

    async def body(container: Container) -> int:
        async def backup(snapshots: Sequence[Snapshot]) -> str | None:
            folder = settings.data_dir / "backups"
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"import-{datetime.now(UTC):%Y%m%dT%H%M%S%f}.jsonl"
            with path.open("w") as out:
                for snap in snapshots:
                    record = snap.record.to_dict() if snap.record is not None else None
                    out.write(json.dumps({"model": snap.model, "odoo_id": snap.odoo_id,
                                          "hash": snap.content_hash, "version": snap.stream_version,
                                          "record": record}) + "\n")  # fmt: skip
            return str(path)

        with source.open(encoding="utf-8", errors="replace") as lines:
            report = await import_lines(lines, container.ingestor, container.snapshots, backup)
        counts = report.counts()
        print(f"import {source}: {report.lines} lines")
        for status, count in counts.items():
            print(f"  {status:<10} {count}")
        print(f"  events appended: {report.events_appended}")
        if report.backup_path:
            print(f"  backup of replaced records: {report.backup_path}")
        for outcome in report.outcomes:
            if outcome.status in ("rejected", "duplicate"):
                what = f"{outcome.model or '?'} id={outcome.odoo_id}"
                print(f"  line {outcome.line}: {outcome.status} {what}: {outcome.reason}")
        if args.report:
            with open(args.report, "w") as out:
                for outcome in report.outcomes:
                    out.write(json.dumps(asdict(outcome)) + "\n")
        if not report.adds_up:  # a bug, never expected: say so loudly
            print("pulse import: the report does not add up", file=sys.stderr)
            return 1
        return 0 if counts["rejected"] == 0 else 1

    return _run_with_container(settings, body)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pulse",
        description="Pulse: live, trustworthy sales dashboards over Odoo CRM. "
        "Settings come from PULSE_* environment variables (see README).",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = sub.add_parser("serve", help="run the API (embedded store when PULSE_MONGODB_URL "
                           "is unset)")  # fmt: skip
    serve.add_argument("--host", help="listen address (default PULSE_HOST, 127.0.0.1)")
    serve.add_argument("--port", type=int, help="listen port (default PULSE_PORT, 8000)")
    serve.set_defaults(handler=cmd_serve)
    sync = sub.add_parser(
        "sync", help="one sync run from Odoo (incremental unless --full), with a progress bar"
    )
    sync.add_argument("--full", action="store_true", help="read every record and detect "
                      "deletions instead of reading changes since the last run")  # fmt: skip
    sync.set_defaults(handler=cmd_sync)
    imp = sub.add_parser(
        "import", help="import a JSON Lines dump of raw Odoo records; accounts for every line"
    )
    imp.add_argument("file", help='one {"model": ..., "record": {...}} per line')
    imp.add_argument("--report", help="also write every line's outcome as JSON Lines here")
    imp.set_defaults(handler=cmd_import)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
    except ValidationError as err:
        problems = "; ".join(
            f"PULSE_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}" for e in err.errors()
        )
        print(f"pulse: invalid settings: {problems}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level, _secret_values(settings))
    handler: Callable[[Settings, argparse.Namespace], int] = args.handler
    return handler(settings, args)


if __name__ == "__main__":
    sys.exit(main())
