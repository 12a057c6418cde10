"""Stopping a background task without swallowing the stopper's own cancellation.

The usual ``task.cancel(); with suppress(CancelledError): await task`` has a trap: when the
task that runs it is itself cancelled during that ``await`` (a runner stopping a worker
that is just stopping its lease renewer), the suppress swallows the *outer* cancellation
too, and the outer task carries on as if nothing had been asked of it: a worker loop then
never ends and whoever awaits it hangs (``tests/unit/domain/test_tasks.py`` shows it).
``stop_tasks`` waits with ``asyncio.wait``, which never raises the awaited tasks'
outcomes, so only a cancellation of the caller propagates; and it cancels again whatever
still runs after a grace period, since code we do not own may swallow one too.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from typing import Any


def consume_outcome(future: asyncio.Future[Any]) -> None:
    """Mark a finished future's outcome as seen: nobody waits for it any more (a task
    stopped on purpose, a caller gone), so no "exception was never retrieved" warning."""
    if not future.cancelled():
        future.exception()


async def stop_task(task: asyncio.Future[Any] | None) -> None:
    """Cancel ``task`` and wait until it has finished (``stop_tasks`` of one)."""
    if task is not None:
        await stop_tasks([task])


STOP_GRACE = 5.0  # seconds a cancelled task gets before it is cancelled again


async def stop_tasks(
    tasks: Iterable[asyncio.Future[Any]],
    *,
    grace: float = STOP_GRACE,
    on_stuck: Callable[[list[asyncio.Future[Any]]], None] | None = None,
) -> None:
    """Cancel ``tasks`` and wait until every one has finished, cancelling again each
    ``grace`` seconds those still running. A task can swallow a cancellation (a library
    that turns it into an error the task retries on, the trap above in code we do not
    own); one cancel and an unbounded wait then hung a runner's stop for good (seen in
    CI: a projection worker 'cancelling' yet waiting on, four minutes later). One such
    library was found: Python 3.11's ``wait_for`` inside PyMongo's connect (patched by
    ``infrastructure/cancellation.py``); the re-cancel stays for the others.
    ``on_stuck`` hears of the ones still running at each round (to log where they wait).
    Each task's own outcome is consumed; a cancellation of the caller while waiting
    propagates (``asyncio.wait`` never raises the awaited tasks' outcomes).
    """
    tasks = list(tasks)
    pending = {task for task in tasks if not task.done()}
    for task in pending:
        task.cancel()
    while pending:
        _, pending = await asyncio.wait(pending, timeout=grace)
        if pending:
            if on_stuck is not None:
                on_stuck(sorted(pending, key=id))
            for task in pending:
                task.cancel()
    for task in tasks:
        consume_outcome(task)


def where_waiting(task: asyncio.Future[Any], depth: int = 4) -> str:
    """Where a task's coroutine chain is suspended, outermost to innermost, its last
    ``depth`` frames as ``file:line`` (for logs)."""
    coro = task.get_coro() if isinstance(task, asyncio.Task) else None
    frames: list[str] = []
    while coro is not None and len(frames) < 100:
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "ag_frame", None)
        if frame is not None:
            frames.append(f"{frame.f_code.co_filename}:{frame.f_lineno}")
        coro = getattr(coro, "cr_await", None) or getattr(coro, "ag_await", None)
    return " > ".join(frames[-depth:]) or "?"
