"""Projection framework: checkpointed catch-up, leases, retries, zero-downtime rebuilds.

Concrete read models subclass :class:`Projection`; the app owns one
:class:`ProjectionRunner`; readers find collections with :func:`active_collection`.
"""

from projections.framework.checkpoints import Checkpoints, ProjectionState
from projections.framework.config import Publish, RunnerConfig
from projections.framework.documents import (
    Change,
    DocumentTable,
    guarded_bulk_write,
    guarded_delete,
    guarded_replace,
)
from projections.framework.generations import active_collection, active_name, invalidate_active
from projections.framework.projection import (
    CollectionSpec,
    Notification,
    Projection,
    ProjectionContext,
    ProjectionFactory,
)
from projections.framework.rebuild import RebuildInProgress, RebuildProgress
from projections.framework.runner import ProjectionRunner
from projections.framework.status import ProjectionStatus, read_statuses

__all__ = [
    "Change",
    "Checkpoints",
    "CollectionSpec",
    "DocumentTable",
    "Notification",
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
    "guarded_bulk_write",
    "guarded_delete",
    "guarded_replace",
    "invalidate_active",
    "read_statuses",
]
