"""The ``pulse`` command line (PRODUCT.md §7)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Callable, Sequence
from types import FrameType

from pydantic import ValidationError

from infrastructure.bootstrap import StoreHandle
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
