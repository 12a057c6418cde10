"""Cancelling a task while PyMongo opens a connection must cancel it (Python 3.11).

Python 3.11's ``asyncio.wait_for`` returns the inner result and drops the cancellation when
the task is cancelled in the same loop pass as the inner future completes (CPython
gh-86296; 3.12 rewrote ``wait_for`` over ``asyncio.timeout``). PyMongo's async driver wraps
every new connection's ``sock_connect`` in ``wait_for(..., connectTimeoutMS)``; on loopback the
connect completes at once, so a task cancelled just then carried on as if nothing happened:
``task.cancel()`` followed by ``await task`` waited forever for a loop that kept appending
(a projection test hung CI this way; 3 lost cancellations in 1,413 cancelled appends in a
probe, each one inside ``pool_shared._async_create_connection``). Any Pulse task stopped
while its pool grows (``stop_task`` of a reader, a worker, a shutdown) could hang the same way.

``install()`` gives PyMongo's connection and socket modules a ``wait_for`` with 3.12's
semantics: the timeout is an ``asyncio.timeout`` around a plain ``await``, so a cancellation
is never exchanged for a result. Nothing else in the process changes; on Python 3.12+ it
does nothing. ``create_client`` calls it before making a client.

Left alone for now: redis-py 8's asyncio connection sends every command through
``wait_for(send, socket_timeout)`` (5 s by default), so the same race exists there. Giving
``redis.asyncio.connection`` this ``wait_for`` makes the stock broadcaster's characterised
message loss (tests/integration/broadcast/test_stock_broadcaster_bug.py) disappear: 3.11's
``wait_for`` runs the send in a task of its own, one loop pass later, and the stock
backend's race (ready before its SUBSCRIBE is sent) needs that pass; a pass-through proxy
without the new ``wait_for`` changes nothing. Patching redis-py therefore changes when every
publish and subscribe is sent: its own change, with the broadcast tests re-read, not this
one's. ``stop_tasks`` cancels again whatever a lost cancellation leaves running.
"""

from __future__ import annotations

import asyncio
import importlib
import sys
from collections.abc import Awaitable
from types import ModuleType
from typing import TypeVar

T = TypeVar("T")

# The modules of the installed PyMongo whose ``asyncio.wait_for`` calls carry a timeout.
PATCHED_MODULES = ("pymongo.pool_shared", "pymongo.network_layer")


async def wait_for(aw: Awaitable[T], timeout: float | None) -> T:  # noqa: ASYNC109 - asyncio.wait_for's signature
    """``asyncio.wait_for`` as of Python 3.12: TimeoutError after ``timeout`` seconds, and a
    cancellation of the caller always wins over a result that arrives at the same time."""
    if timeout is None:
        return await aw
    async with asyncio.timeout(timeout):
        return await aw


def _asyncio_with_safe_wait_for() -> ModuleType:
    """A copy of the ``asyncio`` module's namespace with :func:`wait_for` in place of its
    own: the patched modules look names up in it as fast as in ``asyncio`` itself (their
    hot paths use ``asyncio.*`` on every request)."""
    copy = ModuleType(asyncio.__name__, asyncio.__doc__)
    copy.__dict__.update(asyncio.__dict__)
    copy.wait_for = wait_for  # type: ignore[attr-defined]
    return copy


def _patched(module: ModuleType | None) -> bool:
    return getattr(getattr(module, "asyncio", None), "wait_for", None) is wait_for


def install() -> None:
    """Patch those modules once (idempotent); a no-op on Python 3.12 and later."""
    if sys.version_info >= (3, 12):
        return
    for name in PATCHED_MODULES:
        module = importlib.import_module(name)
        if not _patched(module):
            module.asyncio = _asyncio_with_safe_wait_for()  # type: ignore[attr-defined]


def installed() -> bool:
    """True when every module in ``PATCHED_MODULES`` uses :func:`wait_for`."""
    return all(_patched(sys.modules.get(name)) for name in PATCHED_MODULES)
