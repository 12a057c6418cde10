"""The projection contract: what a read model declares and implements.

A projection is a deterministic fold of the events it handles into documents in the
collections it owns. The framework creates a *fresh instance* whenever it needs a clean fold
(at start, after a failed batch, for a rebuild), so an instance never has to undo anything:
there is no ``reset``; ``load`` warms a fresh instance from what is already stored.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from pymongo import IndexModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from domain.events import RecordedEvent

Handler = Callable[[RecordedEvent], None]
"""Folds one event into the projection's in-memory state. Pure: no I/O, no awaiting."""

_GENERATION_SUFFIX = re.compile(r"^(?P<base>.+)__g(?P<generation>[0-9]+)$")


def physical_name(base_name: str, generation: int) -> str:
    """The stored collection name of ``base_name`` in ``generation`` (``opportunity_view__g3``)."""
    return f"{base_name}__g{generation}"


def parse_physical_name(name: str) -> tuple[str, int] | None:
    """``("opportunity_view", 3)`` for ``opportunity_view__g3``; None for any other name."""
    found = _GENERATION_SUFFIX.match(name)
    if found is None:
        return None
    return found["base"], int(found["generation"])


@dataclass(frozen=True, slots=True)
class Notification:
    """A small JSON-able message published on ``channel`` after the batch has committed.

    The runner adds ``"position"`` (the checkpoint just written) to any payload without one,
    so a subscriber can always tell how fresh a message is.
    """

    channel: str
    payload: Mapping[str, Any] = field(default_factory=dict)

    def at(self, position: int) -> Notification:
        """This notification with ``position`` in its payload, unless it has one already."""
        if "position" in self.payload:
            return self
        return Notification(self.channel, {**self.payload, "position": position})


@dataclass(frozen=True, slots=True)
class CollectionSpec:
    """A collection the projection owns, by base name, with the indexes readers need."""

    base_name: str
    indexes: tuple[IndexModel, ...] = ()

    def __post_init__(self) -> None:
        if not self.base_name or parse_physical_name(self.base_name) is not None:
            raise ValueError(f"invalid base collection name {self.base_name!r}")


@dataclass(frozen=True, slots=True)
class ProjectionContext:
    """What a projection may touch while loading or flushing: its collections, for one
    generation. ``rebuilding`` is True while a shadow generation is being written: nothing a
    flush returns is published then, so a projection may skip building notifications, and
    an instance loaded for a rebuild may fold in a way that is cheaper in bulk but dearer per
    change (the dashboards do). A rebuilt instance is handed to the live runner after the
    switch: its first flush with ``rebuilding`` False must bring it to live behaviour."""

    db: AsyncDatabase[Any]
    generation: int
    rebuilding: bool = False
    later: bool = False
    """A live batch whose worker lets the projection keep for later what only its own
    ``load`` reads (``Projection.save``): the worker records in the checkpoint how far that
    state is stored, and a reload folds the events since then again."""

    def collection(self, base_name: str) -> AsyncCollection[Any]:
        return self.db[physical_name(base_name, self.generation)]


class Projection(ABC):
    """Base class of every read model. Subclasses set ``name`` and ``collections`` and
    implement ``handlers`` and ``flush``; ``load`` is needed as soon as state is kept
    in memory (use :class:`~projections.framework.documents.DocumentTable`)."""

    name: str
    collections: tuple[CollectionSpec, ...] = ()
    version: int = 1
    """Bump when the fold changes: an interrupted rebuild is resumed only by the same version
    (mixing two versions' output in one generation would be wrong), otherwise restarted."""
    content_position: int | None = None
    """For a projection that tracks it: the position of the last event that changed its
    documents. The worker records it with the checkpoint (``content_position``, never
    moving back), so that a reader may keep documents while it stands still (the access
    entries: ``schema.session``). None: not tracked, nothing recorded."""

    @abstractmethod
    def handlers(self) -> Mapping[str, Handler]:
        """The routing table: event type -> handler. Events of other types are not passed
        to ``apply``, but the checkpoint still advances over them."""

    @cached_property
    def _routes(self) -> Mapping[str, Handler]:
        return dict(self.handlers())

    @property
    def handles(self) -> frozenset[str]:
        return frozenset(self._routes)

    async def load(self, ctx: ProjectionContext) -> None:  # noqa: B027 - optional hook
        """Warm in-memory state from the projection's own collections in ``ctx``.

        Called once per instance before any ``apply``. Stored documents may already contain
        the effect of events that will be applied again (a replay after a crash), which is
        why every stored document carries the position that last changed it."""

    def apply(self, event: RecordedEvent) -> None:
        """Fold one handled event into memory. Must not do I/O: a rebuild calls it millions
        of times in a tight loop, and a failure here is pinned on this very event."""
        self._routes[event.type](event)

    def unsaved(self) -> int:
        """How many documents ``flush`` under ``ProjectionContext.later`` left unwritten."""
        return 0

    async def save(self, ctx: ProjectionContext) -> None:  # noqa: B027 - optional hook
        """Write what ``flush`` left for later (see ``ProjectionContext.later``)."""

    @abstractmethod
    async def flush(self, ctx: ProjectionContext) -> list[Notification]:
        """Write what changed since the last flush, idempotently, each document guarded by
        the position that last changed it; return notifications to publish after the
        checkpoint commits. Called once per live batch and every N events in a rebuild."""


ProjectionFactory = Callable[[], Projection]
"""Makes a fresh, empty instance (a projection class with a no-argument constructor is one)."""
