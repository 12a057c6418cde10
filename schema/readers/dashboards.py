"""The caller's dashboard: their own ``DashboardDoc`` (admins: the shared ``__all__`` one).

The document id comes from the caller, never from a request argument or a notification, so
no path can hand one viewer another viewer's values.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from projections.read_models import ADMIN_DASHBOARD_ID, DASHBOARDS, DashboardDoc, MetricsDoc
from schema.context import Context
from schema.session import Caller
from schema.types.dashboard import Dashboard, Metrics, SalespersonMetrics, StageMetrics
from schema.types.enums import DashboardScope
from schema.types.opportunities import Stage, money

NEVER = datetime(1970, 1, 1, tzinfo=UTC)


def dashboard_id(caller: Caller) -> str:
    if caller.is_admin:
        return ADMIN_DASHBOARD_ID
    assert caller.viewer.user_id is not None  # a non-admin without a user is FORBIDDEN
    return caller.viewer.user_id


async def load_dashboard(ctx: Context, caller: Caller) -> DashboardDoc:
    """The stored document, or an empty one (asOf 0) before the projection wrote any."""
    collection = await ctx.read_models.collection(DASHBOARDS)
    raw = await collection.find_one({"_id": dashboard_id(caller)})
    if raw is None:
        return DashboardDoc(
            id=dashboard_id(caller), scope=caller.scope, metrics=MetricsDoc(), as_of=0,
            updated_at=NEVER,
        )  # fmt: skip
    return DashboardDoc.model_validate(raw)


def fingerprint(caller: Caller, doc: DashboardDoc) -> dict[str, Any]:
    """What a push is compared on: every value the viewer sees, but not ``updatedAt`` nor
    ``asOf`` (a projection may rewrite a document at a new position with equal values)."""
    view = doc.model_dump(mode="json", exclude={"updated_at", "as_of"})
    view["scope"] = scope_of(caller, doc).value
    return view


def scope_of(caller: Caller, doc: DashboardDoc) -> DashboardScope:
    if caller.is_admin:
        return DashboardScope.ALL
    if doc.scope in ("OWN", "TEAM"):
        return DashboardScope(doc.scope)
    return DashboardScope(caller.scope)


def dashboard_view(caller: Caller, doc: DashboardDoc) -> Dashboard:
    scope = scope_of(caller, doc)
    team = [] if scope is DashboardScope.OWN else doc.team
    if not caller.is_admin:
        # The document is the caller's own; this only guards against a stale row.
        team = [row for row in team if row.salesperson_id in caller.visible_user_ids]
    return Dashboard(
        scope=scope,
        metrics=Metrics.from_doc(doc.metrics),
        by_stage=[
            StageMetrics(stage=Stage.from_doc(row.stage), count=row.count, value=money(row.value))
            for row in doc.by_stage
        ],
        team=[
            SalespersonMetrics(
                salesperson_id=row.salesperson_id, metrics=Metrics.from_doc(row.metrics)
            )
            for row in team
        ],
        as_of=doc.as_of,
        updated_at=doc.updated_at,
    )


async def current_dashboard(ctx: Context) -> Dashboard:
    caller = await ctx.session.caller()
    return dashboard_view(caller, await load_dashboard(ctx, caller))
