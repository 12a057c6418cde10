"""Checkpoints: one ``projection_state`` document per projection.

``{_id: name, position, generation, state, eps, error, rebuild, control, updated}``

* ``position`` only moves forward (``$max``) and every write is filtered on ``generation``:
  a runner still folding a generation that a rebuild has replaced matches nothing, learns
  it has been superseded, and cannot move the new generation's checkpoint.
* The switch to a rebuilt generation is ONE update of this document (position + generation),
  so a reader resolving the active generation never sees one without the other.
* Times are epoch seconds (floats): unambiguous in MongoDB and in the embedded store alike.
* Skipped poison events are recorded one document each in ``projection_skips``.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

STATE_COLLECTION = "projection_state"
SKIPS_COLLECTION = "projection_skips"


class ProjectionState(StrEnum):
    LIVE = "LIVE"  # caught up, tailing new events
    CATCHING_UP = "CATCHING_UP"  # behind the head, working through the backlog
    REBUILDING = "REBUILDING"  # a shadow generation is being written (live one still serves)
    PAUSED = "PAUSED"  # a poison event failed every retry: waits for resume or skip
    FAILED = "FAILED"  # infrastructure trouble (store unreachable...): retrying by itself


@dataclass(frozen=True, slots=True)
class ErrorInfo:
    message: str
    position: int | None = None
    event_id: str | None = None
    event_type: str | None = None
    attempts: int = 0

    def describe(self) -> str:
        if self.position is None:
            return self.message
        return f"{self.event_type} at position {self.position}: {self.message}"

    def to_doc(self) -> dict[str, Any]:
        return {
            "message": self.message,
            "position": self.position,
            "event_id": self.event_id,
            "event_type": self.event_type,
            "attempts": self.attempts,
        }


@dataclass(frozen=True, slots=True)
class RebuildInfo:
    generation: int
    position: int
    total: int
    events_per_second: float
    started: float
    error: str | None
    version: int = 1

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> RebuildInfo:
        return cls(
            generation=int(doc["generation"]),
            position=int(doc["position"]),
            total=int(doc["total"]),
            events_per_second=float(doc.get("eps", 0.0)),
            started=float(doc["started"]),
            error=doc.get("error"),
            version=int(doc.get("version", 1)),
        )


@dataclass(frozen=True, slots=True)
class Checkpoint:
    name: str
    position: int
    generation: int
    state: ProjectionState
    events_per_second: float
    error: ErrorInfo | None
    rebuild: RebuildInfo | None
    control: str | None
    updated_at: datetime
    records_position: int | None = None
    """How far the projection's own records are stored, when behind ``position``
    (``RunnerConfig.records_later``): a reload folds the events after it again."""

    @property
    def resume_position(self) -> int:
        """Where a worker that loads the projection from the store reads on from."""
        if self.records_position is None:
            return self.position
        return min(self.position, self.records_position)

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> Checkpoint:
        err, reb = doc.get("error"), doc.get("rebuild")
        return cls(
            name=doc["_id"],
            position=int(doc.get("position", 0)),
            generation=int(doc.get("generation", 1)),
            state=ProjectionState(doc.get("state", ProjectionState.CATCHING_UP)),
            events_per_second=float(doc.get("eps", 0.0)),
            error=ErrorInfo(**err) if isinstance(err, Mapping) else None,
            rebuild=RebuildInfo.from_doc(reb) if isinstance(reb, Mapping) else None,
            control=doc.get("control"),
            updated_at=datetime.fromtimestamp(float(doc.get("updated", 0.0)), UTC),
            records_position=None if (at := doc.get("records_position")) is None else int(at),
        )


class Checkpoints:
    def __init__(self, db: AsyncDatabase[Any], clock: Callable[[], float] = time.time) -> None:
        self._state = db[STATE_COLLECTION]
        self._skips = db[SKIPS_COLLECTION]
        self._clock = clock

    async def ensure(self, name: str) -> Checkpoint:
        """The checkpoint of ``name``, created at position 0 / generation 1 if missing."""
        initial: dict[str, Any] = {
            "position": 0,
            "generation": 1,
            "state": ProjectionState.CATCHING_UP.value,
        }
        initial |= {"eps": 0.0, "error": None, "rebuild": None, "control": None}
        # Tells this document from one of a dropped and re-created database, whose positions
        # and generations may repeat (readers' content stamps include it).
        initial["incarnation"] = uuid.uuid4().hex
        # Two processes creating it at once: the loser's DuplicateKeyError is as good.
        with contextlib.suppress(DuplicateKeyError):
            await self._state.update_one(
                {"_id": name}, {"$setOnInsert": {**initial, "updated": self._clock()}}, upsert=True
            )
        checkpoint = await self.get(name)
        assert checkpoint is not None
        return checkpoint

    async def get(self, name: str) -> Checkpoint | None:
        doc = await self._state.find_one({"_id": name})
        return Checkpoint.from_doc(doc) if doc is not None else None

    async def all(self) -> dict[str, Checkpoint]:
        return {doc["_id"]: Checkpoint.from_doc(doc) async for doc in self._state.find({})}

    async def _update(
        self, flt: Mapping[str, Any], fields: Mapping[str, Any], **extra: Any
    ) -> bool:
        update: dict[str, Any] = {"$set": {**fields, "updated": self._clock()}, **extra}
        result = await self._state.update_one(flt, update)
        return result.matched_count == 1

    async def advance(
        self,
        name: str,
        generation: int,
        position: int,
        state: ProjectionState,
        eps: float,
        content_position: int | None = None,
        records_position: int | None = None,
    ) -> bool:
        """Record that ``generation`` holds everything up to ``position`` (and, when given,
        that its documents last changed at ``content_position``, and that its own records
        are stored up to ``records_position``; None leaves what is recorded: a lower value
        only costs a longer replay, a higher one would lose records). False: superseded."""
        fields: dict[str, Any] = {"state": state.value, "eps": eps, "error": None}
        if records_position is not None:
            fields["records_position"] = records_position
        flt = {"_id": name, "generation": generation}
        moved = {"position": position}
        if content_position is not None:
            moved["content_position"] = content_position
        return await self._update(flt, fields, **{"$max": moved})

    async def set_state(
        self, name: str, generation: int, state: ProjectionState, error: ErrorInfo | None = None
    ) -> bool:
        fields: dict[str, Any] = {"state": state.value, "error": error.to_doc() if error else None}
        if state is not ProjectionState.CATCHING_UP:
            # Paused, failed, or LIVE after an empty read: nothing is flowing right now.
            fields["eps"] = 0.0
        return await self._update({"_id": name, "generation": generation}, fields)

    # ------------------------------------------------------------ resume / skip
    async def request(self, name: str, action: str) -> bool:
        """Ask the (possibly remote) runner of a paused projection to ``resume`` or ``skip``."""
        if action not in ("resume", "skip"):
            raise ValueError(f"unknown action {action!r}")
        flt = {"_id": name, "state": ProjectionState.PAUSED.value}
        return await self._update(flt, {"control": action})

    async def take_request(self, name: str) -> str | None:
        """Claim a pending request. The state leaves PAUSED in the same update, so nobody
        (``wait_until``) mistakes a projection being resumed for one still stuck."""
        fields = {"control": None, "state": ProjectionState.CATCHING_UP.value}
        doc = await self._state.find_one_and_update(
            {"_id": name, "control": {"$in": ["resume", "skip"]}},
            {"$set": {**fields, "updated": self._clock()}},
        )
        return None if doc is None else str(doc["control"])

    async def record_skip(self, name: str, generation: int, error: ErrorInfo) -> bool:
        """Record ``error``'s event as skipped, then move the checkpoint past it."""
        assert error.position is not None
        doc = {"projection": name, "at": self._clock(), **error.to_doc()}
        await self._skips.replace_one({"_id": f"{name}@{error.position}"}, doc, upsert=True)
        return await self.advance(name, generation, error.position, ProjectionState.CATCHING_UP, 0)

    async def skipped(self, name: str) -> list[dict[str, Any]]:
        return [d async for d in self._skips.find({"projection": name}).sort("position", 1)]

    async def skipped_positions(self, name: str) -> set[int]:
        return {int(d["position"]) for d in await self.skipped(name)}

    # ----------------------------------------------------------------- rebuild
    async def begin_rebuild(self, name: str, generation: int, total: int, version: int) -> None:
        info: dict[str, Any] = {"generation": generation, "position": 0, "total": total, "eps": 0.0}
        info |= {"started": self._clock(), "error": None, "version": version}
        await self._update({"_id": name}, {"rebuild": info})

    async def rebuild_progress(
        self, name: str, generation: int, position: int, total: int, eps: float
    ) -> bool:
        fields: dict[str, Any] = {
            "rebuild.position": position,
            "rebuild.total": total,
            "rebuild.eps": eps,
        }
        fields["rebuild.error"] = None
        return await self._update({"_id": name, "rebuild.generation": generation}, fields)

    async def rebuild_failed(self, name: str, generation: int, message: str) -> None:
        flt = {"_id": name, "rebuild.generation": generation}
        await self._update(flt, {"rebuild.error": message, "rebuild.eps": 0.0})

    async def switch(self, name: str, old: int, new: int, position: int) -> bool:
        """Make ``new`` the active generation at ``position``, in one document update.

        Refused (False) when the live generation has moved past ``position`` meanwhile (a
        runner in another process): readers must never see the projection go back in time.
        """
        flt = {"_id": name, "generation": old, "position": {"$lte": position}}
        flt["rebuild.generation"] = new
        fields: dict[str, Any] = {
            "generation": new,
            "position": position,
            "rebuild": None,
            "error": None,
        }
        # The rebuilt generation's records are stored up to ``position``.
        fields |= {"state": ProjectionState.LIVE.value, "control": None, "records_position": None}
        return await self._update(flt, fields)
