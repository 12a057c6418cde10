"""Every projection Pulse runs, in one explicit table (no discovery by import side effects)."""

from __future__ import annotations

from projections.dashboards import DashboardProjection
from projections.framework import ProjectionFactory
from projections.opportunity_view import OpportunityViewProjection
from projections.org_views import AccessMatrixProjection, UserProfilesProjection

PROJECTIONS: tuple[ProjectionFactory, ...] = (
    UserProfilesProjection,
    AccessMatrixProjection,
    OpportunityViewProjection,
    DashboardProjection,
)
PROJECTION_NAMES: tuple[str, ...] = tuple(factory().name for factory in PROJECTIONS)
