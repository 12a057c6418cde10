"""The enums of PRODUCT.md §4, exactly as named there."""

from __future__ import annotations

from enum import Enum

import strawberry


@strawberry.enum
class OpportunityStatus(Enum):
    OPEN = "OPEN"
    WON = "WON"
    LOST = "LOST"
    ARCHIVED = "ARCHIVED"


@strawberry.enum
class OpportunityOrder(Enum):
    UPDATED_DESC = "UPDATED_DESC"
    REVENUE_DESC = "REVENUE_DESC"
    DEADLINE_ASC = "DEADLINE_ASC"
    NAME_ASC = "NAME_ASC"


@strawberry.enum
class DashboardScope(Enum):
    OWN = "OWN"
    TEAM = "TEAM"
    ALL = "ALL"


@strawberry.enum
class LinkMethod(Enum):
    USER_ID = "USER_ID"
    EMAIL = "EMAIL"
    NONE = "NONE"


@strawberry.enum
class ChangeKind(Enum):
    CREATED = "CREATED"
    UPDATED = "UPDATED"
    REMOVED = "REMOVED"


@strawberry.enum
class SyncMode(Enum):
    INCREMENTAL = "INCREMENTAL"
    FULL = "FULL"


@strawberry.enum
class SyncStatus(Enum):
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


@strawberry.enum
class ProjectionState(Enum):
    LIVE = "LIVE"
    CATCHING_UP = "CATCHING_UP"
    REBUILDING = "REBUILDING"
    PAUSED = "PAUSED"
    FAILED = "FAILED"
