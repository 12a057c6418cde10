"""The caller's dashboard: their own ``DashboardDoc`` (admins: the shared ``__all__`` one).

The document id comes from the caller, never from a request argument or a notification, so
no path can hand one viewer another viewer's values.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from projections.read_models import ADMIN_DASHBOARD_ID, DASHBOARDS, DashboardDoc, MetricsDoc
from schema.context import Context
from schema.session import Caller
from schema.types.dashboard import Dashboard, Metrics, StageMetrics
from schema.types.enums import DashboardScope
from schema.types.opportunities import Stage, money

NEVER = datetime(1970, 1, 1, tzinfo=UTC)
SHARED_TABLE_READS = 4
"""Reads of a shared team table before its document is served with the newest one."""
log = logging.getLogger(__name__)


def dashboard_id(caller: Caller) -> str:
    if caller.is_admin:
        return ADMIN_DASHBOARD_ID
    assert caller.viewer.user_id is not None  # a non-admin without a user is FORBIDDEN
    return caller.viewer.user_id


async def stored_dashboard(ctx: Context, caller: Caller) -> Mapping[str, Any] | None:
    """The stored document as read, None before the projection wrote one, with a shared team
    table (``team_of``) read in. Validated only when it is shown (``dashboard_doc``): a
    subscription compares raw values first, and most notifications leave a given viewer's
    values unchanged."""
    collection = await ctx.read_models.collection(DASHBOARDS)
    key = {"_id": dashboard_id(caller)}
    found: Mapping[str, Any] | None = await collection.find_one(key)
    table = None
    for attempt in range(SHARED_TABLE_READS):
        if found is None or not isinstance(found.get("team_of"), str):
            return found
        shared = await collection.find_one({"_id": found["team_of"]}, {"team": 1, "team_hash": 1})
        table = shared.get("team") if shared is not None else None
        if shared is not None and shared.get("team_hash") == found.get("team_hash"):
            return {**found, "team": table}
        # The two documents are not read atomically, and a flush rewrites both: one of them
        # was read before its rewrite. Read this viewer's again (it may no longer share).
        await asyncio.sleep(0.001 * 2**attempt)
        found = await collection.find_one(key)
    if found is not None and isinstance(found.get("team_of"), str):
        # Still unequal: the projection stopped between the two writes (a failed flush, a
        # paused projection). The newest table it wrote, rather than none; rows the caller
        # does not see are dropped when shown (``dashboard_view``).
        log.warning("dashboard %s: shared team table at another position", key["_id"])
        return {**found, "team": table}
    return found


def dashboard_doc(caller: Caller, raw: Mapping[str, Any] | None) -> DashboardDoc:
    """The document, or an empty one (asOf 0) before the projection wrote any."""
    if raw is None:
        return DashboardDoc(
            id=dashboard_id(caller), scope=caller.scope, metrics=MetricsDoc(), as_of=0,
            updated_at=NEVER,
        )  # fmt: skip
    return DashboardDoc.model_validate(raw)


async def load_dashboard(ctx: Context, caller: Caller) -> DashboardDoc:
    return dashboard_doc(caller, await stored_dashboard(ctx, caller))


#: Not values: written at every flush that touches the document (``_pos``), or changing
#: with the position even when no value does.
NOT_COMPARED = frozenset({"updated_at", "as_of"})


def fingerprint(caller: Caller, raw: Mapping[str, Any] | None) -> tuple[str, dict[str, Any]]:
    """What a push is compared on: every stored value the viewer sees and the scope shown,
    but not ``updatedAt`` nor ``asOf`` (a projection may rewrite a document at a new
    position with equal values). Compared as stored, without validating: for a CEO's or an
    admin's thousand team rows a model dump per notification cost more than the read."""
    if raw is None:
        return scope_of(caller, None).value, {}
    values = {k: v for k, v in raw.items() if k not in NOT_COMPARED and not k.startswith("_")}
    return scope_of(caller, raw.get("scope")).value, values


def scope_of(caller: Caller, stored_scope: object) -> DashboardScope:
    if caller.is_admin:
        return DashboardScope.ALL
    if stored_scope in ("OWN", "TEAM"):
        return DashboardScope(stored_scope)
    return DashboardScope(caller.scope)


def dashboard_view(caller: Caller, doc: DashboardDoc) -> Dashboard:
    scope = scope_of(caller, doc.scope)
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
        team_rows=team,
        as_of=doc.as_of,
        updated_at=doc.updated_at,
    )


async def current_dashboard(ctx: Context) -> Dashboard:
    caller = await ctx.session.caller()
    return dashboard_view(caller, await load_dashboard(ctx, caller))
