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
    for name in (
        "mongodb_url",
        "redis_url",
        "odoo_api_key",
        "webhook_token",
        "webhook_secret",
        "jwt_secret",
    ):
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
            create_app(settings, store, settle_heap=True),
            host=host,
            port=port,
            log_config=None,
            lifespan="on",
            ws="websockets-sansio",
            timeout_graceful_shutdown=10,
        )
        server = uvicorn.Server(config)
        log.info("Pulse serving on http://%s:%s", host, port)
        asyncio.run(server.serve())
        return 0 if server.started else 1
    except KeyboardInterrupt:
        return 0
    finally:
        store.close()


def _run_with_container(
    settings: Settings, body: Callable[[Container], Awaitable[int]], *, settle: bool = False
) -> int:
    """Start (or join) the store, open the container, run ``body``, close everything."""
    _raise_on_sigterm()
    store = StoreHandle.resolve(settings)
    try:

        async def main() -> int:
            container = await open_container(settings, store, settle=settle)
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
                    out.write(
                        json.dumps(
                            {
                                "model": snap.model,
                                "odoo_id": snap.odoo_id,
                                "hash": snap.content_hash,
                                "version": snap.stream_version,
                                "record": record,
                            }
                        )
                        + "\n"
                    )
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


def cmd_worker(settings: Settings, args: argparse.Namespace) -> int:
    """Projection worker + sync scheduler + webhook inbox drainer, without HTTP."""
    from domain.webhooks import WebhookProcessor
    from infrastructure.scheduler import SyncScheduler
    from infrastructure.webhooks.processor import InboxDrainer

    async def body(container: Container) -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await container.start_background()
        workers: list[InboxDrainer | SyncScheduler] = []
        if container.odoo is not None:
            processor = WebhookProcessor(container.odoo, container.ingestor)
            workers = [
                InboxDrainer(container.inbox, processor),
                SyncScheduler(container.sync_handler(), settings.sync_interval),
            ]
        for worker in workers:
            worker.start()
        log.info("pulse worker running: projections %s", ", ".join(container.runner.names))
        try:
            await stop.wait()
        finally:
            for worker in workers:
                await worker.stop()
            await container.stop_background()
        return 0

    return _run_with_container(settings, body, settle=True)


def cmd_rebuild(settings: Settings, args: argparse.Namespace) -> int:
    from infrastructure.heap import watch_heap
    from infrastructure.progress import ProgressBar
    from projections.catalog import PROJECTION_NAMES
    from projections.framework import RebuildInProgress, RebuildProgress

    unknown = [n for n in args.names if n not in PROJECTION_NAMES]
    if unknown:
        print(
            f"pulse rebuild: unknown projection(s): {', '.join(unknown)}; "
            f"known: {', '.join(PROJECTION_NAMES)}",
            file=sys.stderr,
        )
        return 2
    names = args.names or list(PROJECTION_NAMES)
    bar = ProgressBar()

    def progress(p: RebuildProgress) -> None:
        eta = f"ETA {p.eta_seconds:.0f}s" if p.eta_seconds is not None else ""
        bar.update(p.name, p.done, p.total, f"{p.events_per_second:,.0f} ev/s {eta}".strip())

    async def body(container: Container) -> int:
        watch_heap()  # the fold's state grows by millions of objects: keep full passes short
        try:
            statuses = await container.runner.rebuild(names, progress)
        except RebuildInProgress as err:
            print(f"pulse rebuild: already rebuilding elsewhere: {err}", file=sys.stderr)
            return 3
        finally:
            bar.close()
        for status in statuses:
            print(f"{status.name}: {status.state.value} at position {status.position}")
        return 0

    return _run_with_container(settings, body)


def cmd_check(settings: Settings, args: argparse.Namespace) -> int:
    from projections.check import check

    async def body(container: Container) -> int:
        report = await check(container.db, container.event_store)
        print(f"checked {report.compared} documents against {report.events} events")
        for line in report.differences:
            print(f"  {line}")
        print("no differences" if report.clean else f"{len(report.differences)} difference(s)")
        return 0 if report.clean else 1

    return _run_with_container(settings, body)


# -- pulse events export / import: backup and restore of the event log (docs/BACKUP.md) ------


def cmd_events_export(settings: Settings, args: argparse.Namespace) -> int:
    import os
    from pathlib import Path

    from infrastructure.events_io import LineError, export_events
    from infrastructure.events_io.commits import BrokenLog

    target = None if args.file == "-" else Path(args.file)

    async def body(container: Container) -> int:
        if target is None:
            report = await export_events(container.db, sys.stdout)
            sys.stdout.flush()
        else:
            # Written aside and renamed at the end: a crash never leaves half a backup
            # under the backup's name.
            partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
            try:
                with partial.open("w", encoding="utf-8") as out:
                    report = await export_events(container.db, out)
                    out.flush()
                    os.fsync(out.fileno())
                partial.replace(target)
            finally:
                partial.unlink(missing_ok=True)
        print(f"pulse events export: {report.summary()}", file=sys.stderr)
        return 0

    async def guarded(container: Container) -> int:
        try:
            return await body(container)
        except (BrokenLog, LineError, OSError) as err:
            print(f"pulse events export: {err}", file=sys.stderr)
            return 1

    return _run_with_container(settings, guarded)


def cmd_events_import(settings: Settings, args: argparse.Namespace) -> int:
    from pathlib import Path

    from infrastructure.events_io import ImportConflict, ImportRefused, InvalidFile, import_events
    from infrastructure.progress import ProgressBar

    source = Path(args.file)
    if not source.is_file():
        print(f"pulse events import: no such file: {source}", file=sys.stderr)
        return 2

    async def body(container: Container) -> int:
        bar = ProgressBar()
        try:
            report = await import_events(
                container.db,
                source,
                batch_commits=args.batch,
                progress=lambda done, total: bar.update("events", done, total),
            )
        except InvalidFile as refused:
            bar.close()
            for problem in refused.report.validation.problems:
                print(f"  {problem}", file=sys.stderr)
            hidden = refused.report.validation.problem_count - len(
                refused.report.validation.problems
            )
            if hidden > 0:
                print(f"  ... and {hidden} more", file=sys.stderr)
            print(f"pulse events import: {source}: {refused}", file=sys.stderr)
            return 1
        except (ImportRefused, ImportConflict) as refused:
            bar.close()
            print(f"pulse events import: {refused}", file=sys.stderr)
            return 1
        bar.close()
        print(f"import {source}: {report.summary()}")
        if report.events_imported:
            print("  next: `pulse rebuild` (or start Pulse: projections catch up from the log)")
        return 0

    return _run_with_container(settings, body)


def add_events_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    events = sub.add_parser(
        "events", help="back up and restore the event log (JSON Lines, one event per line)"
    )
    actions = events.add_subparsers(dest="events_command", required=True, metavar="ACTION")
    export = actions.add_parser(
        "export", help="write every event, in position order, to FILE (or - for stdout)"
    )
    export.add_argument("file", nargs="?", default="-", help="FILE or - (default: stdout)")
    export.set_defaults(handler=cmd_events_export)
    restore = actions.add_parser(
        "import",
        help="validate FILE, restore it into an EMPTY event store, rebuild ingestion snapshots",
    )
    restore.add_argument("file", help="an export written by `pulse events export`")
    restore.add_argument(
        "--batch", type=int, default=500, help="commits appended per round trip (default 500)"
    )
    restore.set_defaults(handler=cmd_events_import)


# -- end of pulse events ------------------------------------------------------------------------


def cmd_token(settings: Settings, args: argparse.Namespace) -> int:
    from infrastructure.auth import mint_token

    if settings.jwt_secret is None:
        print(
            "pulse token: set PULSE_JWT_SECRET (at least 32 bytes) to mint tokens", file=sys.stderr
        )
        return 2
    try:
        token = mint_token(
            args.email, secret=settings.jwt_secret, admin=args.admin, ttl_seconds=args.ttl
        )
    except ValueError as err:
        print(f"pulse token: {err}", file=sys.stderr)
        return 2
    print(token)
    return 0


def cmd_demo(settings: Settings, args: argparse.Namespace) -> int:
    from infrastructure.demo import run_demo

    _raise_on_sigterm()
    host = args.host or settings.host
    port = args.port if args.port is not None else settings.port
    try:
        return asyncio.run(run_demo(settings, host, port, args.interval))
    except KeyboardInterrupt:
        return 0


def cmd_odoo_fake(settings: Settings, args: argparse.Namespace) -> int:
    from infrastructure.odoo_fake.runner import main as odoo_fake_main

    return odoo_fake_main(args.fake_args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pulse",
        description="Pulse: live, trustworthy sales dashboards over Odoo CRM. "
        "Settings come from PULSE_* environment variables (see README).",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = sub.add_parser(
        "serve", help="run the API (embedded store when PULSE_MONGODB_URL is unset)"
    )
    serve.add_argument("--host", help="listen address (default PULSE_HOST, 127.0.0.1)")
    serve.add_argument("--port", type=int, help="listen port (default PULSE_PORT, 8000)")
    serve.set_defaults(handler=cmd_serve)
    sync = sub.add_parser(
        "sync", help="one sync run from Odoo (incremental unless --full), with a progress bar"
    )
    sync.add_argument(
        "--full",
        action="store_true",
        help="read every record and detect deletions instead of reading changes since the last run",
    )
    sync.set_defaults(handler=cmd_sync)
    imp = sub.add_parser(
        "import", help="import a JSON Lines dump of raw Odoo records; accounts for every line"
    )
    imp.add_argument("file", help='one {"model": ..., "record": {...}} per line')
    imp.add_argument("--report", help="also write every line's outcome as JSON Lines here")
    imp.set_defaults(handler=cmd_import)
    demo = sub.add_parser(
        "demo", help="everything embedded: store, built-in Odoo with a demo company, live changes"
    )
    demo.add_argument("--host", help="listen address (default PULSE_HOST, 127.0.0.1)")
    demo.add_argument("--port", type=int, help="listen port (default PULSE_PORT, 8000)")
    demo.add_argument(
        "--interval",
        type=float,
        default=4.0,
        help="seconds between two simulated changes in Odoo (default 4)",
    )
    demo.set_defaults(handler=cmd_demo)
    worker = sub.add_parser(
        "worker", help="projection worker, sync scheduler and webhook inbox, without HTTP"
    )
    worker.set_defaults(handler=cmd_worker)
    rebuild = sub.add_parser(
        "rebuild", help="rebuild projections into shadow collections, then switch over"
    )
    rebuild.add_argument("names", nargs="*", help="projections to rebuild (default: all)")
    rebuild.set_defaults(handler=cmd_rebuild)
    chk = sub.add_parser(
        "check", help="recompute every read model from the events and report differences"
    )
    chk.set_defaults(handler=cmd_check)
    add_events_commands(sub)  # pulse events export|import
    token = sub.add_parser("token", help="mint a development token (HS256, PULSE_JWT_SECRET)")
    token.add_argument("email")
    token.add_argument("--admin", action="store_true", help="add the admin role")
    token.add_argument("--ttl", type=int, default=8 * 3600, help="seconds (default 8 h)")
    token.set_defaults(handler=cmd_token)
    fake = sub.add_parser(
        "odoo-fake",
        help="serve the built-in Odoo with the demo company (for trying Pulse)",
        add_help=False,
    )
    fake.set_defaults(handler=cmd_odoo_fake, fake_args=[])
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if args.command == "odoo-fake":
        args.fake_args = extra  # its own options: pulse odoo-fake --help lists them
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
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
