"""pytest-timeout that cannot be swallowed by asyncio, and that says where each task waits.

pytest-timeout's default ``signal`` method raises ``Failed`` from the SIGALRM handler in
whatever Python code the main thread runs at that moment. In these tests that is usually a
step of some background asyncio task (a runner's poll loop, a lease renewer), and asyncio
stores a ``BaseException`` raised inside a task step on the task instead of propagating it:
the timeout is lost and a hung test hangs the whole run (seen once in CI). So the timer is a
thread, as with pytest-timeout's ``thread`` method, and before that method's report (every
thread's stack) and ``os._exit(1)`` it writes what the thread stacks cannot show: every
pending task of every running event loop and the line each one is suspended at, and the
machine's TCP sockets (the hang seen left 655 unsent bytes on a connection to the store).
"""

from __future__ import annotations

import asyncio
import gc
import shutil
import subprocess
import sys
import threading
from typing import Any

import pytest
import pytest_timeout


def _running_loops() -> list[asyncio.AbstractEventLoop]:
    return [
        obj
        for obj in gc.get_objects()
        if isinstance(obj, asyncio.AbstractEventLoop) and obj.is_running()
    ]


def _await_chain(task: asyncio.Task[Any]) -> list[str]:
    """The suspended coroutine frames from the task's coroutine down to what it awaits."""
    lines: list[str] = []
    coro: Any = task.get_coro()
    while coro is not None:
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None)
        if frame is not None:
            lines.append(
                f"    {frame.f_code.co_filename}:{frame.f_lineno} in {frame.f_code.co_name}"
            )
        coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None)
    return lines


def describe_tasks() -> str:
    """Every pending task of every running loop (read from another thread: best effort)."""
    out: list[str] = []
    for loop in _running_loops():
        for _ in range(3):  # the loop's thread may change the task set while we copy it
            try:
                tasks = list(asyncio.all_tasks(loop))
                break
            except RuntimeError:
                continue
        else:
            tasks = []
        out.append(f"{len(tasks)} pending task(s) on {loop!r}")
        for task in tasks:
            out.append(f"  {task!r}")
            out.extend(_await_chain(task))
    return "\n".join(out) + "\n"


def describe_sockets() -> str:
    """Every TCP socket with its queues and state (``ss``), and the kernel's listen-queue
    overflow counters: a request stuck in a send queue, or a connection the store never
    accepted, shows here and nowhere else. Best effort: empty without the tools."""
    out = []
    for command in (
        ["ss", "-tanpi"],
        ["nstat", "-az", "TcpExtListenOverflows", "TcpExtListenDrops"],
    ):
        if shutil.which(command[0]) is None:
            continue
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=10, check=False)
            out.append(f"$ {' '.join(command)}\n{done.stdout}")
        except (OSError, subprocess.SubprocessError) as err:
            out.append(f"$ {' '.join(command)}: {err}")
    return "\n".join(out)


def _expire(item: pytest.Item, settings: Any) -> None:
    try:
        sys.stderr.write(f"\n+++ Timeout of {item.nodeid}: asyncio tasks +++\n{describe_tasks()}")
        sys.stderr.write(f"\n+++ Sockets +++\n{describe_sockets()}\n")
        sys.stderr.flush()
    finally:
        pytest_timeout.timeout_timer(item, settings)  # thread stacks, then os._exit(1)


@pytest.hookimpl(tryfirst=True)
def pytest_timeout_set_timer(item: pytest.Item, settings: Any) -> bool:
    timer = threading.Timer(settings.timeout, _expire, (item, settings))
    timer.name = f"timeout {item.nodeid}"
    timer.daemon = True

    def cancel() -> None:
        timer.cancel()
        timer.join()

    item.cancel_timeout = cancel  # type: ignore[attr-defined]  # read by pytest-timeout
    timer.start()
    return True
