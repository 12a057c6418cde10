"""In-process broadcast backend: the default when no Redis URL is configured.

It reaches subscribers of this process only (``pulse demo``, tests, a single server).
Payloads still make the JSON round trip so that code which works here also works over
Redis: a payload that is not JSON fails at ``publish``, and subscribers never share the
publisher's objects.
"""

from __future__ import annotations

import asyncio

from infrastructure.broadcast.messages import (
    BackendEvent,
    Payload,
    Published,
    decode_payload,
    encode_payload,
)


class MemoryBackend:
    def __init__(self) -> None:
        self._subscribed: set[str] = set()
        self._events: asyncio.Queue[BackendEvent] = asyncio.Queue()

    async def connect(self) -> None:
        return None

    async def disconnect(self) -> None:
        self._subscribed.clear()

    async def subscribe(self, channel: str) -> None:
        self._subscribed.add(channel)

    async def unsubscribe(self, channel: str) -> None:
        self._subscribed.discard(channel)

    async def publish(self, channel: str, payload: Payload) -> None:
        data = encode_payload(payload)
        # Like Redis, a message on a channel nobody subscribes to goes nowhere.
        if channel in self._subscribed:
            self._events.put_nowait(Published(channel, decode_payload(data)))

    async def next_published(self) -> BackendEvent:
        while True:
            event = await self._events.get()
            # Unsubscribed while the message was queued: drop it, as Redis would.
            if isinstance(event, Published) and event.channel not in self._subscribed:
                continue
            return event
