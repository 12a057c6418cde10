"""Broadcast channels: how projections tell live GraphQL subscriptions that something changed.

Use ``create_hub(settings.redis_url)``, ``await hub.connect()`` in the lifespan, then
``hub.subscribe(channel)`` / ``hub.publish(channel, payload)``. Nothing connects at import.
"""

from infrastructure.broadcast.backend import BroadcastBackend
from infrastructure.broadcast.hub import DEFAULT_QUEUE_SIZE, ChannelHub, create_hub
from infrastructure.broadcast.memory import MemoryBackend
from infrastructure.broadcast.messages import (
    RESYNC_KEY,
    BackendEvent,
    BroadcastUnavailable,
    Payload,
    Published,
    Reconnected,
    is_resync,
    resync_marker,
)
from infrastructure.broadcast.redis_backend import RedisBackend
from infrastructure.broadcast.subscription import Subscription

__all__ = [
    "DEFAULT_QUEUE_SIZE",
    "RESYNC_KEY",
    "BackendEvent",
    "BroadcastBackend",
    "BroadcastUnavailable",
    "ChannelHub",
    "MemoryBackend",
    "Payload",
    "Published",
    "Reconnected",
    "RedisBackend",
    "Subscription",
    "create_hub",
    "is_resync",
    "resync_marker",
]
