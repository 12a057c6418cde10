"""The embedded store: ``nx-27017`` (MongoDB wire protocol over SQLite) as a child process.

Used when ``PULSE_MONGODB_URL`` is unset. Everything lives in ``PULSE_DATA_DIR``::

    store/            one SQLite file per database
    nx-27017.log      the store's log          nx-27017.pid   its pid file
    nx-27017.out      its stdout/stderr        store.json     {"pid", "ident", "port"}
    store.lock        flock held while starting/stopping
    clients/          one empty file per Pulse process using the store ("pid:starttime")

Several Pulse processes may share one data dir (``pulse sync`` while ``pulse serve`` runs):
the first starts the store, later ones find it in ``store.json``, check that it is alive and
answers ``ping``, and connect to it. Each process registers itself in ``clients/``; the last
one to leave stops the store. A ``store.json`` or pid file left by a crashed run is detected
(dead pid, or a pid now used by another program) and cleaned before a new store starts.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlsplit

from pymongo import MongoClient
from pymongo.errors import PyMongoError

from infrastructure.mongo.liveness import cmdline, identity, is_alive, live_clients, start_time

log = logging.getLogger("pulse.store")


class EmbeddedStoreError(RuntimeError):
    pass


@dataclass(frozen=True)
class StoreInfo:
    """What ``store.json`` records about the running store."""

    pid: int
    ident: str
    port: int


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def ping(url: str, timeout: float = 1.0) -> bool:
    client: MongoClient[dict[str, object]] = MongoClient(
        url, serverSelectionTimeoutMS=int(timeout * 1000), connectTimeoutMS=int(timeout * 1000)
    )
    try:
        client.admin.command("ping")
        return True
    except PyMongoError:
        return False
    finally:
        client.close()


def url_for(port: int) -> str:
    return f"mongodb://127.0.0.1:{port}/?directConnection=true"


class EmbeddedStore:
    def __init__(self, data_dir: Path, startup_timeout: float = 30.0) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.startup_timeout = startup_timeout
        self.store_dir = self.data_dir / "store"
        self.clients_dir = self.data_dir / "clients"
        self.info_file = self.data_dir / "store.json"
        self.pid_file = self.data_dir / "nx-27017.pid"
        self.log_file = self.data_dir / "nx-27017.log"
        self.out_file = self.data_dir / "nx-27017.out"
        self.lock_file = self.data_dir / "store.lock"
        self.url: str | None = None
        self.started_here = False
        self._registered: Path | None = None

    # ------------------------------------------------------------- public API
    def start(self) -> str:
        """Connect to the data dir's running store, or start one. Returns its URL."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.clients_dir.mkdir(exist_ok=True)
        with self._locked():
            live_clients(self.clients_dir)  # prune entries of processes that died
            self._register()
            running = self._running_store()
            if running is not None:
                self.url = url_for(running.port)
                log.info("using the embedded store already running on port %s", running.port)
                return self.url
            self._clean_stale()
            self.url = self._spawn()
            self.started_here = True
            return self.url

    def stop(self) -> None:
        """Leave the store; stop it if no other live Pulse process uses it."""
        if self._registered is None:
            return
        with self._locked():
            self._registered.unlink(missing_ok=True)
            self._registered = None
            if live_clients(self.clients_dir):
                log.info("embedded store left running for other Pulse processes")
                return
            info = self._read_info()
            if info is not None:
                self._terminate(info)
            self._remove_state_files()

    def kill_store(self) -> None:
        """Kill -9 the store process (fault-injection tests only)."""
        info = self._read_info()
        if info is not None and is_alive(info.ident):
            os.kill(info.pid, signal.SIGKILL)

    def ensure_running(self) -> str:
        """Restart the store if it died under us (e.g. killed); keeps the same data."""
        with self._locked():
            running = self._running_store()
            if running is not None:
                self.url = url_for(running.port)
                return self.url
            # The clients already connected know this port. Ours first: store.json is gone
            # after a first failed attempt (cleaned as stale), the port we serve is not.
            port = self._port_of(self.url) or self._last_port()
            self._clean_stale()
            # Only that port: on another one the store would be up but every connected
            # client would keep calling the old address (unready for good). If the port is
            # taken, this attempt fails and the supervisor tries again.
            self.url = self._spawn(port=port, only_that_port=port is not None)
            return self.url

    def process_alive(self) -> bool:
        """Cheap check (no network): is the store process recorded in store.json alive?"""
        info = self._read_info()
        return info is not None and is_alive(info.ident)

    @property
    def pid(self) -> int | None:
        info = self._read_info()
        return info.pid if info else None

    # -------------------------------------------------------------- internals
    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with open(self.lock_file, "a+") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    def _register(self) -> None:
        if self._registered is None:
            # One entry per EmbeddedStore instance, so two users inside one process count twice.
            entry = self.clients_dir / f"{identity()}:{uuid.uuid4().hex[:8]}"
            entry.touch()
            self._registered = entry

    def _read_info(self) -> StoreInfo | None:
        try:
            raw = json.loads(self.info_file.read_text())
            return StoreInfo(pid=int(raw["pid"]), ident=str(raw["ident"]), port=int(raw["port"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def _running_store(self) -> StoreInfo | None:
        info = self._read_info()
        if info is None or not is_alive(info.ident):
            return None
        if not ping(url_for(info.port), timeout=2.0):
            return None
        return info

    @staticmethod
    def _port_of(url: str | None) -> int | None:
        if url is None:
            return None
        port = urlsplit(url).port
        return int(port) if port else None

    def _last_port(self) -> int | None:
        info = self._read_info()
        return info.port if info else None

    def _clean_stale(self) -> None:
        """Remove what a crashed run left: state files, and a hung store of ours."""
        info = self._read_info()
        if info is not None and is_alive(info.ident):
            log.warning("embedded store pid %s does not answer; stopping it", info.pid)
            self._terminate(info)
        elif info is not None:
            log.warning("cleaning stale embedded-store state (pid %s is gone)", info.pid)
        if self.pid_file.exists():
            with contextlib.suppress(ValueError, OSError):
                pid = int(self.pid_file.read_text().strip())
                if start_time(pid) is not None and "nx_runner" in cmdline(pid):
                    os.kill(pid, signal.SIGKILL)
        self._remove_state_files()

    def _remove_state_files(self) -> None:
        for path in (self.info_file, self.pid_file):
            path.unlink(missing_ok=True)

    def _spawn(self, port: int | None = None, *, only_that_port: bool = False) -> str:
        last_error = ""
        for attempt in range(1 if only_that_port else 3):
            chosen = port if (port is not None and attempt == 0) else free_port()
            self.store_dir.mkdir(exist_ok=True)
            args = [
                sys.executable,
                "-m",
                "infrastructure.mongo.nx_runner",
                str(self.clients_dir),
                "--data-dir",
                str(self.store_dir),
                "--host",
                "127.0.0.1",
                "--port",
                str(chosen),
                "--log-file",
                str(self.log_file),
                "--pid-file",
                str(self.pid_file),
            ]
            with open(self.out_file, "ab") as out:
                # A new session: Ctrl-C in a terminal must reach Pulse, which then stops the
                # store itself after draining, not kill the store under a running server.
                proc = subprocess.Popen(
                    args,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                    cwd=str(self.data_dir),
                    env=self._child_env(),
                )
            url = url_for(chosen)
            deadline = time.monotonic() + self.startup_timeout
            while time.monotonic() < deadline:
                if proc.poll() is not None:
                    last_error = self._tail(self.out_file)
                    break
                if ping(url, timeout=0.5):
                    info = StoreInfo(pid=proc.pid, ident=identity(proc.pid), port=chosen)
                    self.info_file.write_text(json.dumps(asdict(info)))
                    log.info("embedded store started on port %s (pid %s)", chosen, proc.pid)
                    return url
                time.sleep(0.1)
            else:
                proc.kill()
                proc.wait()
                last_error = f"no answer to ping within {self.startup_timeout:.0f}s"
        raise EmbeddedStoreError(
            f"could not start the embedded store in {self.data_dir}: {last_error}"
        )

    @staticmethod
    def _child_env() -> dict[str, str]:
        env = dict(os.environ)
        root = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
        return env

    @staticmethod
    def _tail(path: Path, lines: int = 5) -> str:
        try:
            return " | ".join(path.read_text(errors="replace").strip().splitlines()[-lines:])
        except OSError:
            return "no output"

    def _terminate(self, info: StoreInfo, timeout: float = 10.0) -> None:
        pid, ident = info.pid, info.ident
        if not is_alive(ident):
            return
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not is_alive(ident):
                self._reap(pid)
                return
            time.sleep(0.05)
        log.warning("embedded store pid %s ignored SIGTERM; killing it", pid)
        os.kill(pid, signal.SIGKILL)
        self._reap(pid)

    @staticmethod
    def _reap(pid: int) -> None:
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(pid, os.WNOHANG)
