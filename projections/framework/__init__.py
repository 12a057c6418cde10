"""Projection framework: checkpointed catch-up, leases, retries, zero-downtime rebuilds.

Writing a read model
--------------------
Subclass :class:`Projection`; keep state in :class:`DocumentTable` s (one per owned
collection) so that replays are exact::

    class OpportunityView(Projection):
        name = "opportunity_view"
        collections = (CollectionSpec("opportunity_view", (IndexModel([("stage", 1)]),)),)
        version = 1                     # bump when the fold changes (see rebuild)

        def __init__(self) -> None:    # no I/O here: a factory is called often
            self.docs = DocumentTable("opportunity_view")

        def handlers(self) -> Mapping[str, Handler]:      # the explicit routing table
            return {"OpportunityCreated": self._created, "OpportunityDeleted": self._deleted}

        async def load(self, ctx: ProjectionContext) -> None:
            await self.docs.load(ctx)   # warm a fresh instance from what is stored

        def _created(self, event: RecordedEvent) -> None:   # pure, no I/O
            doc = self.docs.edit(event.stream_id, event)
            if doc is None:
                return                  # this document already contains this event (replay)
            doc["name"] = event.data["name"]

        def _deleted(self, event: RecordedEvent) -> None:
            self.docs.delete(event.stream_id, event)

        async def flush(self, ctx: ProjectionContext) -> list[Notification]:
            changes = await self.docs.flush(ctx)           # position-guarded bulk write
            return [Notification("opportunity", {"id": c.key}) for c in changes]

Rules: ``apply``/handlers never do I/O and are deterministic; every stored document is
written through ``DocumentTable`` (or :func:`guarded_replace` / :func:`guarded_delete` /
:func:`guarded_bulk_write`), which stamps ``_pos``; a value must be a fold of the events that
touch that document. The framework makes a fresh instance (the class, or any zero-argument
factory) whenever it needs a clean fold, so there is no ``reset``. Notifications are small
JSON; the runner adds ``position`` to each payload and publishes only after the checkpoint.

Running (app / CLI)
-------------------
``runner = ProjectionRunner(db, event_store, [OpportunityView, ...], publish=hub_publish,
config=RunnerConfig(...))``, then ``await runner.start()`` / ``await runner.stop()`` (or
``async with runner``) in the Starlette lifespan or a CLI command. Any number of processes may
run one: each projection is served by the holder of its lease.

* ``runner.notify()`` after appending events in this process (others are polled for).
* ``await runner.wait_until(position, timeout) -> bool`` (``syncOdoo(wait: true)``).
* ``await runner.status(names=None) -> list[ProjectionStatus]``; API replicas that run no
  projections use ``await read_statuses(db, event_store, names)``.
* ``await runner.resume(name)`` / ``await runner.skip(name)`` for a PAUSED projection (works
  across processes); ``await runner.skipped(name)`` lists skipped events.
* ``await runner.start_rebuild(names, progress=None)`` returns statuses at once (GraphQL
  ``rebuildProjections``); ``await runner.rebuild(names, progress)`` waits (CLI; ``progress``
  gets :class:`RebuildProgress`: done, total, events_per_second, eta_seconds).

Reading (GraphQL resolvers)
---------------------------
``coll = await active_collection(db, "opportunity_view", "opportunity_view")`` resolves the
active generation (``opportunity_view__g3``), cached ~1 s; ``invalidate_active(names)``
drops the cache (the runner does so in its own process after a switch); a server runs
``keep_active_fresh(db, names)`` so that its requests find the cache fresh.

Guarantees, in short
--------------------
Batch: apply in memory -> guarded flush -> checkpoint (``projection_state``) -> publish; a
crash anywhere replays from the checkpoint without loss or double count. A LIVE projection
that handles none of a batch's events keeps its new position in memory and writes it once
the log is quiet (``RunnerConfig.idle_checkpoint_delay``), or with its next batch that has
work, or before ``wait_until`` answers: its write no longer queues on the store in front of
the writes of the projections that did have work; a crash before it re-reads events that
change nothing. State that only a projection's own ``load`` reads (``Projection.unsaved``
and ``save``: the ``<name>_refs`` records) is written the same way in a LIVE batch, not
with it (``RunnerConfig.records_later``); the checkpoint records how far it is stored
(``records_position``), and a start or a reload after a failure reads on from there,
folding those events again as after a crash (an event skipped by an operator stays
skipped). A failing event is retried with backoff, narrowed down to itself, then its
projection is PAUSED with the error visible; others keep going. A rebuild writes generation
g+1 while g serves, records its progress (a crash resumes it), switches position and
generation in one update, then drops g.
"""

from projections.framework.checkpoints import Checkpoints, ProjectionState
from projections.framework.config import Publish, RunnerConfig
from projections.framework.documents import (
    Change,
    DocumentTable,
    guarded_bulk_write,
    guarded_delete,
    guarded_insert,
    guarded_replace,
    guarded_write,
)
from projections.framework.generations import (
    active_collection,
    active_name,
    content_stamp,
    invalidate_active,
    keep_active_fresh,
)
from projections.framework.projection import (
    CollectionSpec,
    Handler,
    Notification,
    Projection,
    ProjectionContext,
    ProjectionFactory,
)
from projections.framework.rebuild import (
    REBUILT_CHANNEL,
    ProgressCallback,
    RebuildInProgress,
    RebuildProgress,
)
from projections.framework.runner import ProjectionRunner
from projections.framework.status import ProjectionStatus, read_statuses

__all__ = [
    "REBUILT_CHANNEL",
    "Change",
    "Checkpoints",
    "CollectionSpec",
    "DocumentTable",
    "Handler",
    "Notification",
    "ProgressCallback",
    "Projection",
    "ProjectionContext",
    "ProjectionFactory",
    "ProjectionRunner",
    "ProjectionState",
    "ProjectionStatus",
    "Publish",
    "RebuildInProgress",
    "RebuildProgress",
    "RunnerConfig",
    "active_collection",
    "active_name",
    "content_stamp",
    "guarded_bulk_write",
    "guarded_delete",
    "guarded_insert",
    "guarded_replace",
    "guarded_write",
    "invalidate_active",
    "keep_active_fresh",
    "read_statuses",
]
