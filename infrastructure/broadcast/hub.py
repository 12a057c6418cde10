"""``ChannelHub``: one backend subscription per channel per process, fanned out in-process.

GraphQL subscriptions never talk to Redis themselves. Each does::

    async with hub.subscribe("dashboard") as messages:
        await send(current_state())              # pub/sub does not replay: state first
        async for message in messages:           # a payload, or a resync marker
            await send(current_state())

However many local subscribers a channel has, the backend holds exactly one subscription
for it: the first local subscriber starts it, the last one to leave ends it. Starting and
ending run as hub-owned tasks chained per channel, so a subscriber that is cancelled
half-way (a closed browser tab) can neither leave a subscription behind nor undo one that
a newer subscriber is waiting for.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from pydantic import SecretStr

from domain.tasks import stop_task
from infrastructure.broadcast.backend import BroadcastBackend
from infrastructure.broadcast.memory import MemoryBackend
from infrastructure.broadcast.messages import (
    BroadcastUnavailable,
    Payload,
    Reconnected,
    resync_marker,
)
from infrastructure.broadcast.redis_backend import RedisBackend
from infrastructure.broadcast.subscription import Subscription

log = logging.getLogger(__name__)

DEFAULT_QUEUE_SIZE = 64


@dataclass(eq=False)
class _Channel:
    subscribers: set[Subscription] = field(default_factory=set)
    # The backend subscription every local subscriber of this channel waits for.
    ready: asyncio.Task[None] | None = None
    released: bool = False


async def _settled(task: asyncio.Task[None] | None) -> None:
    """Wait for ``task`` to finish, whatever its outcome (it is only an ordering barrier)."""
    if task is not None:
        with contextlib.suppress(BaseException):
            await asyncio.shield(task)


class ChannelHub:
    def __init__(self, backend: BroadcastBackend, *, queue_size: int = DEFAULT_QUEUE_SIZE) -> None:
        self._backend = backend
        self._queue_size = queue_size
        self._channels: dict[str, _Channel] = {}
        self._tails: dict[str, asyncio.Task[None]] = {}  # last subscribe/unsubscribe per channel
        self._tasks: set[asyncio.Task[None]] = set()
        self._listener: asyncio.Task[None] | None = None
        self._reconnects = 0

    @property
    def backend(self) -> BroadcastBackend:
        return self._backend

    @property
    def connected(self) -> bool:
        return self._listener is not None

    @property
    def reconnect_count(self) -> int:
        """How often the backend reconnected; each time, the subscribers of every channel
        that was live got a ``{"resync": "reconnected"}`` marker."""
        return self._reconnects

    def subscriber_count(self, channel: str | None = None) -> int:
        """Local subscribers of ``channel``, or of every channel (for ``/metrics``)."""
        if channel is not None:
            state = self._channels.get(channel)
            return len(state.subscribers) if state else 0
        return sum(len(state.subscribers) for state in self._channels.values())

    # -- lifecycle (called from the app lifespan / CLI) ------------------------------------

    async def connect(self) -> None:
        if self._listener is not None:
            return
        await self._backend.connect()
        self._listener = asyncio.create_task(self._listen(), name="pulse-broadcast-hub")

    async def disconnect(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            await stop_task(listener)
        for state in self._channels.values():
            state.released = True  # the backend is closing anyway
            for subscriber in state.subscribers:
                subscriber.close()  # their `async for` loops end
        self._channels.clear()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._backend.disconnect()

    async def wait_idle(self) -> None:
        """Wait until no backend subscribe/unsubscribe is in flight (shutdown, tests)."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    # -- the API the GraphQL layer uses ----------------------------------------------------

    @asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[Subscription]:
        """Yield an async iterator of payloads once the channel is live in the backend.

        Raises ``BroadcastUnavailable`` if the backend cannot confirm the subscription.
        """
        if self._listener is None:
            raise RuntimeError("ChannelHub.connect() was not awaited")
        subscriber = Subscription(channel, self._queue_size)
        # Look up and register with no await in between: concurrent first subscribers all
        # join the same channel state (broadcaster's table raced here and raised KeyError).
        state = self._channels.get(channel)
        if state is None:
            state = self._open_channel(channel)
        state.subscribers.add(subscriber)
        try:
            await self._wait_ready(state)
            yield subscriber
        finally:
            subscriber.close()
            self._leave(channel, state, subscriber)

    async def publish(self, channel: str, payload: Payload) -> bool:
        """Publish a JSON object. False (and a warning) when the backend is unreachable.

        A lost notification is not fatal (subscribers re-read state on the next one, and on
        reconnect), so callers such as the projection runner must not fail because of it.
        Payloads that are not JSON objects raise ``TypeError``/``ValueError``.
        """
        if self._listener is None:
            raise RuntimeError("ChannelHub.connect() was not awaited")
        try:
            await self._backend.publish(channel, payload)
        except BroadcastUnavailable as exc:
            log.warning("broadcast: message on %r not sent: %s", channel, exc)
            return False
        return True

    # -- internals -------------------------------------------------------------------------

    def _open_channel(self, channel: str) -> _Channel:
        state = _Channel()
        self._channels[channel] = state
        state.ready = self._spawn(channel, lambda: self._acquire(channel, state))
        return state

    async def _wait_ready(self, state: _Channel) -> None:
        assert state.ready is not None
        try:
            await asyncio.shield(state.ready)  # one waiter leaving must not cancel it
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise  # we were cancelled ourselves
            # The hub is shutting down under us: an error, not a foreign cancellation.
            raise BroadcastUnavailable("the broadcast hub was disconnected") from None

    def _leave(self, channel: str, state: _Channel, subscriber: Subscription) -> None:
        # Synchronous on purpose: this runs in `finally` of cancelled tasks.
        state.subscribers.discard(subscriber)
        if state.subscribers or state.released:
            return
        state.released = True
        if self._channels.get(channel) is state:
            del self._channels[channel]
        self._spawn(channel, lambda: self._release(channel, state))

    async def _acquire(self, channel: str, state: _Channel) -> None:
        try:
            await self._backend.subscribe(channel)
        except BaseException:
            # Nothing is subscribed: drop the state so the next subscriber starts afresh.
            state.released = True
            if self._channels.get(channel) is state:
                del self._channels[channel]
            raise

    async def _release(self, channel: str, state: _Channel) -> None:
        await _settled(state.ready)  # unsubscribing must follow the subscribe it undoes
        await self._backend.unsubscribe(channel)

    def _spawn(self, channel: str, operation: Callable[[], Awaitable[None]]) -> asyncio.Task[None]:
        """Run a backend operation after the previous one on the same channel."""
        previous = self._tails.get(channel)

        async def ordered() -> None:
            await _settled(previous)
            await operation()  # created only now: a task cancelled early leaves no coroutine

        task = asyncio.create_task(ordered(), name=f"pulse-broadcast:{channel}")
        self._tails[channel] = task
        self._tasks.add(task)
        task.add_done_callback(lambda done: self._forget(channel, done))
        return task

    def _forget(self, channel: str, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if self._tails.get(channel) is task:
            del self._tails[channel]
        if not task.cancelled() and (exc := task.exception()) is not None:
            # Subscribe failures reach the waiting subscribers; log for the record anyway.
            log.warning("broadcast: backend operation on %r failed: %s", channel, exc)

    async def _listen(self) -> None:
        while True:
            try:
                event = await self._backend.next_published()
            except Exception:
                log.exception("broadcast: backend listener failed; continuing")
                await asyncio.sleep(0.1)
                continue
            if isinstance(event, Reconnected):
                # Messages published while the backend was away are lost for good.
                self._reconnects += 1
                marker = resync_marker("reconnected")
                for lost in event.channels:
                    for subscriber in self._subscribers_of(lost):
                        subscriber.put(marker)
                continue
            for subscriber in self._subscribers_of(event.channel):
                subscriber.put(event.payload)

    def _subscribers_of(self, channel: str) -> set[Subscription]:
        state = self._channels.get(channel)
        return state.subscribers if state is not None else set()


def create_hub(
    redis_url: str | SecretStr | None, *, queue_size: int = DEFAULT_QUEUE_SIZE
) -> ChannelHub:
    """The Redis-backed hub when a Redis URL is configured, the in-process one otherwise.

    Nothing connects here: ``await hub.connect()`` in the lifespan.
    """
    url = redis_url.get_secret_value() if isinstance(redis_url, SecretStr) else redis_url
    if not url or url.startswith("memory://"):
        return ChannelHub(MemoryBackend(), queue_size=queue_size)
    scheme = url.split("://", 1)[0].lower()
    if scheme not in ("redis", "rediss", "unix"):
        # Only the scheme is reported: the rest of the URL may hold a password.
        raise ValueError(f"unsupported broadcast URL scheme {scheme!r}")
    return ChannelHub(RedisBackend(url), queue_size=queue_size)
