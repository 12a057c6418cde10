"""The port a broadcast backend implements: broadcaster's shape, with the guarantees it lacks.

Same verbs as ``broadcaster.BroadcastBackend`` (connect/disconnect/subscribe/unsubscribe/
publish/next_published), with a stricter contract:

* ``subscribe`` returns only once the subscription is live, so a message published after it
  returns is delivered (broadcaster's Redis backend reports ready before subscribing);
* ``publish`` takes a JSON object and serialises it itself;
* ``next_published`` also yields ``Reconnected`` after the backend lost and restored its
  connection, so that subscribers can re-read the state they may have missed.
"""

from __future__ import annotations

from typing import Protocol

from infrastructure.broadcast.messages import BackendEvent, Payload


class BroadcastBackend(Protocol):
    async def connect(self) -> None:
        """Open connections. Raises ``BroadcastUnavailable`` if the server is unreachable."""

    async def disconnect(self) -> None:
        """Close everything; idempotent."""

    async def subscribe(self, channel: str) -> None:
        """Return once ``channel`` is live; raises ``BroadcastUnavailable`` on timeout."""

    async def unsubscribe(self, channel: str) -> None:
        """Stop receiving ``channel``; never raises for connection problems."""

    async def publish(self, channel: str, payload: Payload) -> None:
        """Send ``payload``; raises ``BroadcastUnavailable`` when the server is unreachable."""

    async def next_published(self) -> BackendEvent:
        """Wait for the next message (or reconnect notice) on a subscribed channel."""
