"""What every resolver gets in ``info.context``, and the ports infrastructure plugs in.

The schema layer never opens a connection or imports ``infrastructure``: the ASGI glue
(``infrastructure/graphql_app.py``) builds a ``Context`` per HTTP request or WebSocket
connection from these parts:

* ``ReadModels``: the read-model collections, resolved through a callable because a
  projection may serve a rebuilt generation under another physical name;
* ``EventStore`` (domain port): ``Opportunity.history`` and the admin ``events`` query;
* ``Notifications``: the broadcast hub (``ChannelHub`` satisfies it);
* ``Commands``: admin commands (sync, rebuild, statuses), implemented by infrastructure;
* ``Session``: who is calling (see ``schema.session``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from domain.event_store import EventStore
from domain.sync import SyncMode, SyncRun
from schema.loaders import Loaders
from schema.read_store import ReadModels
from schema.session import Session


class ProjectionStatusData(Protocol):
    """One projection's health, as ``projections.framework.ProjectionStatus`` carries it."""

    @property
    def name(self) -> str: ...
    @property
    def state(self) -> str: ...  # a ProjectionState (StrEnum) value
    @property
    def position(self) -> int: ...
    @property
    def head_position(self) -> int: ...
    @property
    def lag(self) -> int: ...
    @property
    def events_per_second(self) -> float | None: ...
    @property
    def progress(self) -> float | None: ...
    @property
    def last_error(self) -> str | None: ...
    @property
    def updated_at(self) -> datetime: ...


class Commands(Protocol):
    """Admin commands and status reads; the schema checks the caller is an admin first.

    Expected failures should be raised as ``schema.errors.ApiError`` subclasses (their
    message is shown); ``domain.sync.SyncAlreadyRunning`` is mapped here too. Anything
    else becomes a generic INTERNAL error.
    """

    async def sync(self, mode: SyncMode, wait: bool) -> SyncRun:
        """Run ``SyncOdoo``. ``wait``: return once the run has finished and every projection
        has caught up to its last event; otherwise return the RUNNING run at once."""
        ...

    async def rebuild(self, names: Sequence[str] | None) -> Sequence[ProjectionStatusData]:
        """Start rebuilding ``names`` (None: all) and return their statuses."""
        ...

    async def projection_statuses(self) -> Sequence[ProjectionStatusData]: ...

    async def recent_runs(self, last: int) -> Sequence[SyncRun]:
        """The ``last`` most recent sync runs, newest first."""
        ...

    async def checkpoints(self) -> Mapping[str, int]:
        """Each projection's checkpoint position (for ``StoredEvent.processedBy``)."""
        ...


class Inbox(Protocol):
    """A subscriber's queue of payloads (``infrastructure.broadcast.Subscription``)."""

    def __aiter__(self) -> AsyncIterator[Mapping[str, Any]]: ...

    def drain(self) -> int:
        """Discard what is queued now; return how many were discarded."""
        ...


class Notifications(Protocol):
    """Broadcast channels (``infrastructure.broadcast.ChannelHub``).

    ``subscribe`` returns once the channel is live, so nothing published afterwards is
    missed; the iterator yields published payloads and the hub's resync markers.
    """

    def subscribe(self, channel: str) -> AbstractAsyncContextManager[Inbox]: ...


@dataclass
class Context:
    read_models: ReadModels
    events: EventStore
    notifications: Notifications
    commands: Commands
    session: Session
    loaders: Loaders
    # Set by Strawberry's WebSocket handler from the ``connection_init`` payload.
    connection_params: dict[str, Any] | None = None
