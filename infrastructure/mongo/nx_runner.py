"""Entry point of the embedded store's child process: ``python -m infrastructure.mongo.nx_runner``.

Runs ``nx-27017`` in the foreground with these additions:

* SQLite's WAL checkpoints run in a thread of their own instead of inside the commit of
  whichever request crossed the line (``wal_checkpoints``);
* its per-command INFO logging is turned down to warnings (it logs every command otherwise,
  which grows the log file without bound under load);
* a watchdog thread stops the store once no live Pulse process has been registered in the
  data dir's ``clients`` folder for a grace period, so that even a ``kill -9`` of every Pulse
  process leaves no orphaned store behind for long;
* SIGTERM and SIGINT reach nx-27017's handlers through a thread of ours. nx installs Python
  handlers (``signal.signal``) and then sleeps in its event loop; the kernel hands a signal
  sent to the process to any thread that does not block it, and when that was one of the
  store's worker threads the main thread was never woken to run the handler: the store
  ignored ``EmbeddedStore.stop()`` until it was killed 10 s later (seen in 3 of 4 runs of
  ``python -m bench.sync_bench --leads 20000``). Now every thread blocks them; one thread
  waits for them (``sigwait``), raises them in the main thread and wakes its loop with a
  connection to the store's port.
"""

from __future__ import annotations

import _thread
import contextlib
import logging
import os
import signal
import socket
import sys
import threading
import time
from pathlib import Path

from infrastructure.mongo.liveness import live_clients
from infrastructure.mongo.wal_checkpoints import WalCheckpointer

GRACE_SECONDS = float(os.environ.get("PULSE_STORE_ORPHAN_GRACE", "20"))
STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT}


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


def _port(argv: list[str]) -> int | None:
    with contextlib.suppress(ValueError, IndexError):
        return int(argv[argv.index("--port") + 1])
    return None


def _forward_stop_signals(port: int | None) -> None:
    """Deliver SIGTERM/SIGINT to the main thread's handler, and make sure it runs."""
    while True:
        signum = signal.sigwait(STOP_SIGNALS)
        # nx's handler runs at the main thread's next bytecode...
        _thread.interrupt_main(signal.Signals(signum))
        if port is not None:
            # ...and an event loop asleep in epoll runs none until something happens: a
            # connection to its own port is something (refused once it has stopped: fine).
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                pass


def main() -> None:
    clients_dir = Path(sys.argv[1])
    logging.getLogger("nx_27017").setLevel(logging.WARNING)
    # Before any thread starts: threads inherit the mask, so none of them (nx's worker
    # threads included) takes a stop signal but the one that waits for it.
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    threading.Thread(target=_forward_stop_signals, args=(_port(sys.argv),), daemon=True).start()
    threading.Thread(target=_watchdog, args=(clients_dir,), daemon=True).start()
    # Before nx opens its first database (the hook applies to connections opened later).
    checkpointer = WalCheckpointer()
    if checkpointer.interval > 0:
        checkpointer.install()
        checkpointer.start()
    from nx_27017.nx_27017 import main as nx_main

    sys.argv = ["nx-27017", *sys.argv[2:]]
    nx_main()


if __name__ == "__main__":
    main()
