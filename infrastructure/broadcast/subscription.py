"""One local subscriber's bounded inbox, read as an async iterator.

The hub's single listener fans every message out to every local inbox, so a put must never
wait: one slow WebSocket would stall all the others. Instead an inbox holds at most
``maxsize`` items; when a message arrives at a full inbox, the whole backlog collapses into
one resync marker (counting what was dropped) followed by the new message. That is safe
because subscribers re-read the current state on every notification: many stale
notifications and one "something changed" mean the same thing.
"""

from __future__ import annotations

import asyncio
from collections import deque

from infrastructure.broadcast.messages import Payload, is_resync, resync_marker


class Subscription:
    """``async for message in subscription``: decoded payloads and resync markers."""

    def __init__(self, channel: str, maxsize: int) -> None:
        if maxsize < 2:
            raise ValueError("maxsize must leave room for a resync marker and one message")
        self.channel = channel
        self.dropped = 0  # messages this subscriber never saw (for metrics and tests)
        self._maxsize = maxsize
        self._items: deque[Payload] = deque()
        self._wakeup = asyncio.Event()
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    def pending(self) -> int:
        return len(self._items)

    def put(self, message: Payload) -> None:
        """Queue ``message`` without ever blocking (called from the hub's listener)."""
        if self._closed:
            return
        if len(self._items) >= self._maxsize:
            lost = sum(int(m.get("dropped", 0)) if is_resync(m) else 1 for m in self._items)
            self.dropped += sum(0 if is_resync(m) else 1 for m in self._items)
            self._items.clear()
            self._items.append(resync_marker("overflow", lost))
        self._items.append(message)
        self._wakeup.set()

    def drain(self) -> int:
        """Discard what is queued and return how many: a consumer that re-reads the current
        state anyway answers a backlog of notifications with one read, not one each."""
        count = len(self._items)
        self._items.clear()
        return count

    def close(self) -> None:
        """End the iteration now; queued messages are discarded (the consumer is leaving)."""
        self._closed = True
        self._items.clear()
        self._wakeup.set()

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Payload:
        while not self._items:
            if self._closed:
                raise StopAsyncIteration
            self._wakeup.clear()
            await self._wakeup.wait()
        return self._items.popleft()
