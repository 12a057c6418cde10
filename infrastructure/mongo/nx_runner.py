"""Entry point of the embedded store's child process: ``python -m infrastructure.mongo.nx_runner``.

Runs ``nx-27017`` in the foreground with two additions:

* its per-command INFO logging is turned down to warnings (it logs every command otherwise,
  which grows the log file without bound under load);
* a watchdog thread stops the store once no live Pulse process has been registered in the
  data dir's ``clients`` folder for a grace period, so that even a ``kill -9`` of every Pulse
  process leaves no orphaned store behind for long.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path

from infrastructure.mongo.liveness import live_clients

GRACE_SECONDS = float(os.environ.get("PULSE_STORE_ORPHAN_GRACE", "20"))


def _watchdog(clients_dir: Path) -> None:
    lonely_since: float | None = None
    while True:
        time.sleep(1.0)
        if live_clients(clients_dir):
            lonely_since = None
            continue
        lonely_since = lonely_since or time.monotonic()
        if time.monotonic() - lonely_since >= GRACE_SECONDS:
            logging.getLogger("nx_27017").warning("no Pulse process left; stopping the store")
            os.kill(os.getpid(), signal.SIGTERM)
            return


def main() -> None:
    clients_dir = Path(sys.argv[1])
    logging.getLogger("nx_27017").setLevel(logging.WARNING)
    threading.Thread(target=_watchdog, args=(clients_dir,), daemon=True).start()
    from nx_27017.nx_27017 import main as nx_main

    sys.argv = ["nx-27017", *sys.argv[2:]]
    nx_main()


if __name__ == "__main__":
    main()
