"""What travels over broadcast channels: small JSON objects, plus the hub's resync markers.

Redis only carries str/bytes, so backends serialise payloads here, in one place, and every
subscriber receives a decoded ``Mapping``. Payloads are notifications (ids and positions),
never state: a subscriber re-reads the current state whenever it hears anything, which is
what makes dropping, coalescing and the resync marker safe.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

Payload = Mapping[str, Any]
"""A decoded message. The same object is fanned out to every local subscriber: read only."""

RESYNC_KEY: Final = "resync"
"""Reserved top-level key: a payload carrying it is a hub marker, not a published message."""

ResyncReason = Literal["overflow", "reconnected"]


class BroadcastUnavailable(RuntimeError):
    """The broadcast backend cannot be reached (Redis down, subscription not confirmed)."""


@dataclass(frozen=True, slots=True)
class Published:
    """A message that arrived on a channel this process subscribes to."""

    channel: str
    payload: Payload


@dataclass(frozen=True, slots=True)
class Reconnected:
    """The backend lost its connection and is subscribed again to ``channels``.

    ``channels`` are those that were live before the loss and are live again: anything
    published on them meanwhile is lost (Redis pub/sub does not replay), so their
    subscribers must re-read the current state. A channel whose first subscription was
    still pending is not listed: its subscribers read state once it is confirmed anyway.
    """

    channels: frozenset[str]


BackendEvent = Published | Reconnected


def encode_payload(payload: Payload) -> str:
    """Serialise a payload for the wire. Raises ``TypeError``/``ValueError`` on bad input."""
    if not isinstance(payload, Mapping):
        raise TypeError(f"broadcast payloads are JSON objects, not {type(payload).__name__}")
    if RESYNC_KEY in payload:
        raise ValueError(f"{RESYNC_KEY!r} is reserved for the hub's resync markers")
    # allow_nan=False: NaN/Infinity are not JSON and would break non-Python consumers.
    return json.dumps(payload, separators=(",", ":"), allow_nan=False)


def decode_payload(data: str | bytes) -> Payload:
    """Parse a wire message. Raises ``ValueError`` when it is not a JSON object."""
    value = json.loads(data)
    if not isinstance(value, dict):
        raise ValueError("broadcast message is not a JSON object")
    return value


def resync_marker(reason: ResyncReason, dropped: int = 0) -> Payload:
    """The marker a local subscriber receives instead of messages it could not be given."""
    return {RESYNC_KEY: reason, "dropped": dropped}


def is_resync(message: Payload) -> bool:
    """True for a hub marker: messages were lost, re-read the current state."""
    return RESYNC_KEY in message
