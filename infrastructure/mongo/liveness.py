"""Process identity checks that survive PID reuse: (pid, kernel start time)."""

from __future__ import annotations

import os
from pathlib import Path


def start_time(pid: int) -> str | None:
    """The process start time in clock ticks since boot, or None if the process is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may contain spaces; fields after the closing paren are fixed.
    fields = stat[stat.rindex(")") + 2 :].split()
    state = fields[0]
    if state in ("Z", "X"):
        return None
    return fields[19]


def identity(pid: int | None = None) -> str:
    pid = os.getpid() if pid is None else pid
    return f"{pid}:{start_time(pid)}"


def is_alive(ident: str) -> bool:
    """``ident`` is ``pid:starttime``, optionally followed by ``:anything`` (a per-use tag)."""
    pid_text, _, rest = ident.partition(":")
    started = rest.split(":", 1)[0]
    try:
        pid = int(pid_text)
    except ValueError:
        return False
    current = start_time(pid)
    return current is not None and current == started


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def live_clients(clients_dir: Path) -> list[str]:
    """Registered client identities whose process still runs (dead entries are removed)."""
    alive: list[str] = []
    try:
        entries = list(clients_dir.iterdir())
    except OSError:
        return alive
    for entry in entries:
        ident = entry.name
        if is_alive(ident):
            alive.append(ident)
        else:
            entry.unlink(missing_ok=True)
    return alive
