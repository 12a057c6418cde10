"""Redis pub/sub backend that fixes what broadcaster 0.3.1's ``RedisBackend`` gets wrong.

broadcaster's backend flags itself ready *before* it subscribes; with redis-py 8 its reader
then finds no subscription, stops, and never reads the first channel's messages. Here:

* ``subscribe`` returns only after Redis confirmed the subscription on the connection that
  is being read, so anything published afterwards is delivered;
* subscribe/unsubscribe commands are serialised by one lock and each waits for its own
  reply, so no confirmation can be mistaken for another's (subscribe, unsubscribe,
  subscribe on one channel in quick succession stays correct);
* one reader task owns the pub/sub connection. When it drops (Redis restart, ``CLIENT
  KILL``, silent network loss caught by PING), the reader opens a new one with backoff,
  subscribes every wanted channel again, waits for the confirmations, and only then emits
  ``Reconnected`` so that subscribers re-read state with the subscription already live;
* payloads are JSON objects, serialised here (Redis carries only str/bytes).

We drive a bare redis-py ``Connection`` rather than ``PubSub`` on purpose: ``PubSub``
silently reconnects and resubscribes inside its retry handler, which would hide exactly
the reconnect that subscribers need to hear about.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

from redis.asyncio import ConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import RedisError

from domain.tasks import stop_task
from infrastructure.broadcast.messages import (
    BackendEvent,
    BroadcastUnavailable,
    Payload,
    Published,
    Reconnected,
    decode_payload,
    encode_payload,
)

log = logging.getLogger(__name__)

# What a lost or broken connection looks like (TimeoutError covers asyncio timeouts too).
_CONNECTION_ERRORS = (RedisError, OSError, TimeoutError)


class _Connection(Protocol):
    """The slice of redis-py's (untyped) ``AbstractConnection`` this module relies on."""

    async def connect(self) -> None: ...

    async def send_command(self, *args: Any) -> None: ...

    # redis-py's signature, not ours (hence the timeout parameter).
    async def read_response(
        self,
        *,
        timeout: float,  # noqa: ASYNC109
        push_request: bool,
        disconnect_on_error: bool,
    ) -> Any: ...

    async def disconnect(self, nowait: bool = False) -> None: ...


class _SessionLost(Exception):
    """The connection a command was sent on went away before its reply arrived."""


@dataclass(frozen=True, slots=True)
class _Waiter:
    kind: str  # "subscribe" | "unsubscribe"
    channel: str
    future: asyncio.Future[None]


@dataclass(eq=False, slots=True)
class _Session:
    """One pub/sub connection and what Redis has confirmed on it."""

    conn: _Connection
    confirmed: set[str] = field(default_factory=set)
    waiter: _Waiter | None = None
    closed: bool = False


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _parse(response: Any) -> tuple[str, str, Any] | None:
    """``(kind, channel, data)`` for pub/sub frames; ``None`` for PONG and anything else."""
    if isinstance(response, list) and len(response) >= 3:
        return _text(response[0]).lower(), _text(response[1]), response[2]
    return None


class RedisBackend:
    """A ``BroadcastBackend`` over Redis pub/sub: one connection publishes, one listens.

    ``url`` may carry a password: it is never logged. ``client_name`` labels both
    connections in ``CLIENT LIST`` (``-sub`` / ``-pub`` suffixes).
    """

    def __init__(
        self,
        url: str,
        *,
        client_name: str = "pulse-broadcast",
        connect_timeout: float = 5.0,
        subscribe_timeout: float = 10.0,
        reply_timeout: float = 5.0,
        ping_interval: float = 15.0,
        reconnect_delay: tuple[float, float] = (0.05, 5.0),
    ) -> None:
        self._url = url
        self._client_name = client_name
        self._connect_timeout = connect_timeout
        self._subscribe_timeout = subscribe_timeout
        self._reply_timeout = reply_timeout
        self._ping_interval = ping_interval
        self._min_delay, self._max_delay = reconnect_delay

        self._pool: ConnectionPool | None = None
        self._publisher: Redis | None = None
        self._reader: asyncio.Task[None] | None = None
        self._session: _Session | None = None
        self._live = asyncio.Event()  # set while a confirmed session is being read
        self._lock = asyncio.Lock()  # one subscribe/unsubscribe command in flight at a time
        self._desired: set[str] = set()  # what a new session must subscribe to
        self._events: asyncio.Queue[BackendEvent] = asyncio.Queue()
        self._last_error: BaseException | None = None

    # -- lifecycle -------------------------------------------------------------------------

    async def connect(self) -> None:
        if self._reader is not None:
            return
        self._events = asyncio.Queue()  # nothing from a previous connection carries over
        timeouts: dict[str, Any] = {
            "socket_connect_timeout": self._connect_timeout,
            "socket_timeout": self._reply_timeout,
        }
        self._pool = ConnectionPool.from_url(
            self._url, client_name=f"{self._client_name}-sub", **timeouts
        )
        self._publisher = Redis.from_url(
            self._url,
            client_name=f"{self._client_name}-pub",
            # A few quick retries ride out a restart without stalling the publisher long.
            retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), 3),
            **timeouts,
        )
        self._reader = asyncio.create_task(self._run(), name="pulse-broadcast-redis-reader")
        try:
            async with asyncio.timeout(self._connect_timeout):
                await self._live.wait()
        except TimeoutError:
            reason = self._last_error or "timed out"
            await self.disconnect()
            raise BroadcastUnavailable(f"cannot connect to Redis for broadcast: {reason}") from None

    async def disconnect(self) -> None:
        reader, self._reader = self._reader, None
        if reader is not None:
            await stop_task(reader)
        if self._publisher is not None:
            await self._publisher.aclose()
            self._publisher = None
        if self._pool is not None:
            await self._pool.disconnect()
            self._pool = None
        self._desired.clear()
        self._live.clear()

    # -- the port --------------------------------------------------------------------------

    async def subscribe(self, channel: str) -> None:
        try:
            async with asyncio.timeout(self._subscribe_timeout):
                async with self._lock:
                    self._desired.add(channel)
                await self._confirm(channel)
        except TimeoutError:
            # Redis is away: forget the channel so a later session does not subscribe it.
            self._desired.discard(channel)
            raise BroadcastUnavailable(
                f"Redis did not confirm the subscription to {channel!r}: "
                f"{self._last_error or 'timed out'}"
            ) from None
        except BaseException:
            self._desired.discard(channel)
            raise

    async def unsubscribe(self, channel: str) -> None:
        async with self._lock:
            self._desired.discard(channel)
            session = self._session
            if session is None or channel not in session.confirmed:
                return  # not subscribed on the live connection; the next one will not be
            with contextlib.suppress(_SessionLost):
                await self._command(session, "unsubscribe", channel)

    async def publish(self, channel: str, payload: Payload) -> None:
        data = encode_payload(payload)  # bad payloads are the caller's bug: let them raise
        if self._publisher is None:
            raise RuntimeError("RedisBackend.connect() was not awaited")
        try:
            await self._publisher.publish(channel, data)
        except _CONNECTION_ERRORS as exc:
            raise BroadcastUnavailable(f"cannot publish to {channel!r}: {exc}") from exc

    async def next_published(self) -> BackendEvent:
        return await self._events.get()

    # -- commands on the live session ------------------------------------------------------

    async def _confirm(self, channel: str) -> None:
        """Wait for a live session and make sure ``channel`` is confirmed on it."""
        while True:
            await self._live.wait()
            async with self._lock:
                session = self._session
                if session is None:
                    continue  # dropped while we waited for the lock
                if channel in session.confirmed:
                    return  # a (re)connecting session subscribed it for us
                try:
                    await self._command(session, "subscribe", channel)
                except _SessionLost:
                    continue  # the next session subscribes every desired channel
                return

    async def _command(self, session: _Session, kind: str, channel: str) -> None:
        """Send one command and wait for its reply, which the reader task hands over.

        Callers hold ``self._lock``. If the outcome is unknown (timeout, cancellation, lost
        connection) the connection is dropped: the next session subscribes exactly
        ``self._desired``, so Redis never keeps a subscription nobody wants.
        """
        if session.closed:
            raise _SessionLost
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        session.waiter = _Waiter(kind, channel, future)
        try:
            await session.conn.send_command(kind.upper(), channel)
            async with asyncio.timeout(self._reply_timeout):
                await future
        except BaseException as exc:
            future.cancel()  # nobody will read it now; the reader must not fail it either
            await self._close(session)
            if isinstance(exc, (_SessionLost, *_CONNECTION_ERRORS)):
                raise _SessionLost from exc
            raise
        finally:
            session.waiter = None

    # -- the reader task -------------------------------------------------------------------

    async def _run(self) -> None:
        delay = self._min_delay
        connected_before = False
        interrupted: set[str] = set()  # live on the lost connection: messages may be gone
        while True:
            try:
                session = await self._open_session()
            except Exception as exc:
                self._last_error = exc
                log.warning("broadcast: Redis unreachable (%s); retrying in %.2fs", exc, delay)
                await asyncio.sleep(delay * random.uniform(0.5, 1.0))  # jitter: no herd
                delay = min(delay * 2, self._max_delay)
                continue
            if connected_before:
                resumed = frozenset(interrupted & session.confirmed)
                log.info("broadcast: reconnected to Redis, %d channels resumed", len(resumed))
                self._events.put_nowait(Reconnected(resumed))
            connected_before = True
            started = time.monotonic()
            try:
                await self._read(session)
            except Exception as exc:  # connection errors, and bugs: never kill the process
                self._last_error = exc
                log.warning("broadcast: lost the Redis pub/sub connection (%s)", exc)
            finally:
                await self._close(session)
                interrupted = set(session.confirmed)
            if time.monotonic() - started < 1.0:
                # Dropped right after connecting: back off instead of spinning.
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._max_delay)
            else:
                delay = self._min_delay

    async def _open_session(self) -> _Session:
        assert self._pool is not None
        # A connection of our own, outside the pool: only this task reads from it.
        make_connection = cast(Callable[[], _Connection], self._pool.make_connection)
        conn = make_connection()
        session = _Session(conn)
        try:
            await conn.connect()
            async with self._lock:
                wanted = set(self._desired)
                if wanted:
                    await conn.send_command("SUBSCRIBE", *sorted(wanted))
                while not wanted <= session.confirmed:
                    response = await conn.read_response(
                        timeout=self._reply_timeout, push_request=True, disconnect_on_error=False
                    )
                    if response is None:
                        raise TimeoutError("Redis did not confirm the subscriptions")
                    self._handle(session, response)
                self._session = session
                self._live.set()
        except BaseException:
            await self._close(session)
            raise
        return session

    async def _read(self, session: _Session) -> None:
        ping_sent = False
        while True:
            # disconnect_on_error=False: only _close() disconnects, so a concurrent command
            # can never make redis-py quietly reopen this connection behind our back.
            response = await session.conn.read_response(
                timeout=self._ping_interval, push_request=True, disconnect_on_error=False
            )
            if response is None:  # quiet for a whole interval: is the server still there?
                if ping_sent:
                    raise TimeoutError("no reply to PING")
                await session.conn.send_command("PING")
                ping_sent = True
                continue
            ping_sent = False
            self._handle(session, response)

    def _handle(self, session: _Session, response: Any) -> None:
        frame = _parse(response)
        if frame is None:
            return  # PONG
        kind, channel, data = frame
        if kind == "message":
            self._deliver(channel, data)
            return
        if kind == "subscribe":
            session.confirmed.add(channel)
        elif kind == "unsubscribe":
            session.confirmed.discard(channel)
        else:
            return
        waiter = session.waiter
        if (
            waiter is not None
            and (waiter.kind, waiter.channel) == (kind, channel)
            and not waiter.future.done()
        ):
            waiter.future.set_result(None)

    def _deliver(self, channel: str, data: Any) -> None:
        if channel not in self._desired:
            return  # in flight when we unsubscribed
        try:
            payload = decode_payload(data)
        except (ValueError, TypeError):
            # Someone else's tooling wrote to our channel; the content is not logged.
            log.warning("broadcast: dropped a message on %r that is not a JSON object", channel)
            return
        self._events.put_nowait(Published(channel, payload))

    async def _close(self, session: _Session) -> None:
        """Retire a session (idempotent): the reader then opens a new one."""
        session.closed = True
        if self._session is session:
            self._session = None
            self._live.clear()
        waiter = session.waiter
        if waiter is not None and not waiter.future.done():
            waiter.future.set_exception(_SessionLost())
        with contextlib.suppress(Exception):
            await session.conn.disconnect(nowait=True)
