"""Stopping a background task without swallowing the stopper's own cancellation.

The usual ``task.cancel(); with suppress(CancelledError): await task`` has a trap: when the
task that runs it is itself cancelled during that ``await`` (a runner stopping a worker
that is just stopping its lease renewer), the suppress swallows the *outer* cancellation
too, and the outer task carries on as if nothing had been asked of it. A worker loop then
never ends and whoever awaits it hangs (seen as a test hung at 0 % CPU in
``ProjectionRunner.stop``). ``stop_task`` waits with ``asyncio.wait``, which never raises
the awaited task's outcome, so only a cancellation of the caller propagates.
"""

from __future__ import annotations

import asyncio
from typing import Any


async def stop_task(task: asyncio.Future[Any] | None) -> None:
    """Cancel ``task`` and wait until it has finished. Its own outcome (cancelled, an
    exception it logged itself, a result) is consumed; a cancellation of the caller while
    waiting propagates."""
    if task is None:
        return
    task.cancel()
    await asyncio.wait([task])
    if not task.cancelled():
        task.exception()  # retrieved: a task stopped on purpose has nobody to report to
