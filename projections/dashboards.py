"""``dashboard_metrics``: per viewer, the numbers of PRODUCT.md §3, updated incrementally.

State in memory: each opportunity's ``Contribution``, one ``DashboardState`` per salesperson
(what their deals add up to), one per viewer and one shared admin state. A change to one
opportunity touches only the viewers who see it (its salesperson and the users above them,
``viewer_deltas``) plus the admin state. An org change recomputes exactly the viewers whose
access changed, by merging the per-salesperson states of their new visible set; that is done
*before* the next opportunity change is applied, so every delta lands on a state that matches
the chart in force. Only viewers whose rendered values changed are notified.

Deal changes are noted as they come and folded at the next flush (or before the next stage
or org event): a run of changes to one deal between two flushes is folded once, as its net
change, marked at the run's last position. A run with no net change marks nobody.

Two modes, same documents. *Live* (loaded by the runner): per-viewer states are kept and
each change is applied to the states of its viewers, so a change costs O(depth of the
hierarchy). *Bulk* (a fresh fold: a rebuild, ``pulse check``): applying a change to every
viewer above its salesperson made a rebuild O(events x depth) (a third of a rebuild's
profile), so only the per-salesperson states are folded and the salespeople whose deals
changed are noted; at flush each affected viewer's state is merged once from their visible
salespeople, O(events + viewers x salespeople). A bulk instance that the live runner adopts
after a rebuild switches to live at its first live flush.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any

from domain.access import Viewer, visible_viewers_of
from domain.events import RecordedEvent
from domain.metrics import (
    Aggregate,
    Contribution,
    DashboardData,
    DashboardScope,
    DashboardState,
    Metrics,
    contribution_of,
    dashboard_scope,
    team_order,
    viewer_deltas,
)
from domain.model import LeadRecord, UserRecord
from domain.normalize import EMPLOYEE, LEAD, STAGE, USER
from domain.org import UserProfile, changed_access, changed_profiles, resolve_org
from projections.framework import (
    CollectionSpec,
    Notification,
    Projection,
    ProjectionContext,
    guarded_bulk_write,
    guarded_delete,
    guarded_write,
)
from projections.framework.projection import Handler
from projections.read_models import (
    ADMIN_DASHBOARD_ID,
    DASHBOARDS,
    Person,
    dashboard_channel,
    join_team_rows,
    team_row,
    team_table,
    team_table_hash,
)
from projections.records import KeepsRecords, RecordSet, event_types_for, stage_doc

HANDLED = event_types_for(LEAD, STAGE, USER, EMPLOYEE)
LEAD_EVENTS = event_types_for(LEAD)
REFS = f"{DASHBOARDS}_refs"
VALUE_FIELDS = ("scope", "metrics", "by_stage", "team", "team_of", "team_hash")
ADMIN = Viewer(None, "", is_admin=True)


def merged(states: Iterable[DashboardState]) -> DashboardState:
    out = DashboardState()
    for state in states:
        out.totals = out.totals.merge(state.totals)
        for key, agg in state.by_stage.items():
            out.by_stage[key] = out.by_stage.get(key, Aggregate()).merge(agg)
        for skey, agg in state.by_salesperson.items():
            out.by_salesperson[skey] = out.by_salesperson.get(skey, Aggregate()).merge(agg)
    return out


def metrics_doc(m: Metrics) -> dict[str, Any]:
    return {
        "total_count": m.total_count,
        "open_count": m.open_count,
        "won_count": m.won_count,
        "lost_count": m.lost_count,
        "pipeline_value": m.pipeline_value,
        "weighted_pipeline_value": m.weighted_pipeline_value,
        "won_value": m.won_value,
        "win_rate": m.win_rate,
        "average_deal_size": m.average_deal_size,
    }


def dashboard_values(data: DashboardData) -> dict[str, Any]:
    """The rendered values (everything but asOf/updatedAt)."""
    return {
        "scope": data.scope.value,
        "metrics": metrics_doc(data.metrics),
        "by_stage": [
            {"stage": stage_doc(row.stage), "count": row.count, "value": row.value}
            for row in data.by_stage
        ],
        "team": team_table(
            [(_person(row.salesperson), metrics_doc(row.metrics)) for row in data.team]
        ),
    }


def _person(profile: UserProfile) -> Person:
    return (profile.id, profile.name, profile.email, profile.active)


RowKey = tuple[tuple[float, str, int], str]  # (team_order, salesperson id)


@dataclass(slots=True)
class _Table:
    """One viewer's team table as last built, and what it was built from."""

    state: DashboardState  # compared by identity: a recomputed state is a new object
    aggregates: dict[str | None, Aggregate]  # the state's by_salesperson, as rendered
    order: dict[str, RowKey]  # listed salespeople -> their place in ``keys``
    keys: list[RowKey]  # sorted
    texts: list[str]  # the rows' texts, in the order of ``keys``
    text: str


class TeamRows:
    """Team rows rendered once per change of their numbers or profile, shared by every
    table they appear in; and each viewer's table updated in place.

    A salesperson's row is the same in every viewer's table (their own deals), and one
    change of a deal touches that one row in the table of every viewer above its owner: the
    admin's and a CEO's tables have a row per user, all but one unchanged. Rendering and
    encoding every row of every such table again was most of a live flush's CPU; then
    visiting every row of every such table to find the changed one was (3.7 ms of CPU per
    change at 1,000 users, ~25 tables for a deal in the deep branch), then still visiting
    them to compare (7.6 % of a live change's CPU). Each state now names the salespeople it
    touched (``DashboardState.take_touched``), and aggregates are immutable and replaced on
    every change, so a table compares just those by identity and moves the changed ones.
    Profiles are not watched: ``clear()`` whenever they may have changed (the projection
    does on every change of the chart)."""

    def __init__(self) -> None:
        # salesperson id -> (their aggregate and profile as rendered, sort key, row text)
        self._rows: dict[str, tuple[Aggregate, UserProfile, tuple[float, str, int], str]] = {}
        self._tables: dict[str, _Table] = {}

    def clear(self) -> None:
        self._rows.clear()
        self._tables.clear()

    def table(
        self, viewer_id: str, state: DashboardState, profiles: Mapping[str, UserProfile]
    ) -> str:
        """``dashboard_values(state.render(...))["team"]``, from the rendered rows."""
        table = self._tables.get(viewer_id)
        touched = state.take_touched()  # this table is the state's one consumer
        if table is None or table.state is not state:
            table = self._build(state, profiles)
            self._tables[viewer_id] = table
            return table.text
        current, seen = state.by_salesperson, table.aggregates
        changed = [sid for sid in touched if seen.get(sid) is not current.get(sid)]
        if not changed:
            return table.text
        for sid in changed:
            agg = current.get(sid)
            self._unlist(table, sid)
            if agg is None:  # its aggregate emptied: dropped from the state
                seen.pop(sid, None)
                continue
            seen[sid] = agg
            if sid is None:
                continue  # unassigned deals have no row
            profile = profiles.get(sid)
            if profile is not None and agg.total_count > 0:
                key, text = self._row(sid, agg, profile)
                place = (key, sid)
                i = bisect_left(table.keys, place)
                table.keys.insert(i, place)
                table.texts.insert(i, text)
                table.order[sid] = place
        table.text = join_team_rows(table.texts)
        return table.text

    def _build(self, state: DashboardState, profiles: Mapping[str, UserProfile]) -> _Table:
        entries: list[tuple[RowKey, str]] = []
        for sid, agg, profile in state.team_members(profiles):
            key, text = self._row(sid, agg, profile)
            entries.append(((key, sid), text))
        entries.sort(key=itemgetter(0))  # keys end with the user id: no ties
        keys = [place for place, _ in entries]
        texts = [text for _, text in entries]
        order = {place[1]: place for place in keys}
        aggregates = dict(state.by_salesperson)
        return _Table(state, aggregates, order, keys, texts, join_team_rows(texts))

    def _row(
        self, sid: str, agg: Aggregate, profile: UserProfile
    ) -> tuple[tuple[float, str, int], str]:
        cached = self._rows.get(sid)
        if cached is None or cached[1] is not profile or cached[0] != agg:
            metrics = agg.to_metrics()
            text = team_row(_person(profile), metrics_doc(metrics))
            cached = (agg, profile, team_order(profile, metrics), text)
            self._rows[sid] = cached
        return cached[2], cached[3]

    @staticmethod
    def _unlist(table: _Table, sid: str | None) -> None:
        place = table.order.pop(sid, None) if sid is not None else None
        if place is not None:
            i = bisect_left(table.keys, place)
            del table.keys[i]
            del table.texts[i]


class DashboardProjection(KeepsRecords, Projection):
    name = "dashboard_metrics"
    collections = (CollectionSpec(DASHBOARDS), CollectionSpec(REFS))
    # 2: team rows as one text carrying the salesperson (read_models.team_table).
    # 3: rows without the values that follow from their counts; a table equal to the
    # admin's is stored once, in the admin's document (``team_of``).
    version = 3
    # A table is shared only from this size (characters of its text, ~70 rows): a viewer
    # whose table is shared costs their reads a second request, worth it for a CEO's table
    # (~100 KB at 1,000 users, rewritten with every deal), not for a few rows.
    share_tables_from = 8192

    def __init__(self) -> None:
        self.records = RecordSet(REFS)
        self._chart = resolve_org([], [])
        self._contributions: dict[int, Contribution] = {}
        self._by_salesperson: dict[str | None, DashboardState] = {}
        # Per-viewer states (live mode), or None in bulk mode (see the module docstring).
        self._viewers: dict[str, DashboardState] | None = None
        self._admin = DashboardState()
        self._dirty: dict[str, int] = {}
        # Deals changed since the last fold of deals -> their latest event's position: folded
        # into the states at the next flush, or before a stage or org event is applied.
        self._pending: dict[int, int] = {}
        # Bulk mode: salespeople whose deals changed -> position; routed to viewers at flush.
        self._dirty_salespeople: dict[str | None, int] = {}
        # Per viewer, the values as last written: a flush writes (and notifies) only viewers
        # whose values differ. Compared as dicts (==), not as JSON text: serialising every
        # rendered dashboard was a quarter of a live flush's CPU.
        self._rendered: dict[str, Mapping[str, Any]] = {}
        # Viewers whose document as last written refers to the admin's table: rendered again
        # whenever the admin's is, since their documents name the table they were rendered
        # with (``team_hash``) and a change of it may not touch them (a salesperson they do
        # not see gets a row).
        self._sharing: set[str] = set()
        self._team = TeamRows()
        self._hashed: tuple[str, str] = ("", team_table_hash(""))  # (table, its hash)
        self._position = 0

    def handlers(self) -> Mapping[str, Handler]:
        return dict.fromkeys(HANDLED, self._on_event)

    # ------------------------------------------------------------------ loading
    async def load(self, ctx: ProjectionContext) -> None:
        await self.records.load(ctx)
        self._chart = self.records.chart()
        self.records.org_changed = False
        stages = self.records.stages()
        for lead in self.records.leads():
            c = contribution_of(lead, stages.get(lead.stage_id) if lead.stage_id else None)
            if c is not None:
                self._contributions[lead.odoo_id] = c
                self._salesperson_state(c.salesperson_id).add(c)
                self._admin.add(c)
        if not ctx.rebuilding:
            self._materialize()
        async for doc in ctx.collection(DASHBOARDS).find({}):
            values = {k: doc[k] for k in VALUE_FIELDS if k in doc}
            self._rendered[str(doc["_id"])] = values
            if "team_of" in values:
                self._sharing.add(str(doc["_id"]))

    def _salesperson_state(self, salesperson_id: str | None) -> DashboardState:
        return self._by_salesperson.setdefault(salesperson_id, DashboardState())

    def _recompute(self, uid: str) -> DashboardState:
        visible = self._chart.visible_salesperson_ids(uid)
        return merged(self._by_salesperson[s] for s in visible if s in self._by_salesperson)

    def _materialize(self) -> None:
        """Enter live mode: every viewer's state, from the per-salesperson states. Only with
        the chart reconciled and no salesperson left to route (``flush`` order)."""
        self._viewers = {uid: self._recompute(uid) for uid in self._chart.user_ids}

    def _state_of(self, viewer_id: str) -> DashboardState:
        if self._viewers is not None:
            return self._viewers.get(viewer_id) or DashboardState()
        return self._recompute(viewer_id)  # bulk mode: merged once per render

    # ----------------------------------------------------------------- folding
    def _on_event(self, event: RecordedEvent) -> None:
        if self._pending and event.type not in LEAD_EVENTS:
            # The deals noted so far are folded under the stages and chart they changed under.
            self._fold_pending()
        applied = self.records.apply(event)
        if applied is None:
            return
        self._position = event.position
        model = applied.model
        if model == LEAD:
            # Noted, folded later: a deal's events come in runs (a sync's page, a webhook
            # batch; a rebuild reads each deal's history together), and folding each one cost
            # a record built, a contribution and two state updates per event: 60 % of a
            # rebuild's CPU in this process. Only the net change of the run is folded, marked
            # at its last event's position.
            self._pending[applied.odoo_id] = event.position
            return
        if model in (USER, EMPLOYEE):
            if model == USER and not _same_user_display(applied.before(), applied.after()):
                uid = str(applied.odoo_id)
                self._mark([ADMIN_DASHBOARD_ID, uid, *self._chart.users_above(uid)])
            return  # org changes are reconciled before the next deals are folded, or at flush
        self._reconcile_org()
        if model == STAGE:
            stage_id = applied.odoo_id
            for lead in list(self.records.leads()):
                if lead.stage_id == stage_id:
                    self._relead(lead.odoo_id, self._position)
            # A rename or re-order changes the rendered rows of whoever shows that stage.
            self._mark([ADMIN_DASHBOARD_ID])
            if self._viewers is not None:
                self._mark([v for v, s in self._viewers.items() if stage_id in s.by_stage])
            else:
                # The same viewers: a viewer's state has the stage iff one of the salespeople
                # they see has deals in it (merged states keep no empty aggregate).
                for salesperson_id, state in self._by_salesperson.items():
                    if stage_id in state.by_stage:
                        self._dirty_salespeople[salesperson_id] = self._position

    def _fold_pending(self) -> None:
        """Fold the noted deal changes, each marked at its latest event's position. Every
        org change they follow is reconciled first: they are noted only after it (a stage
        or org event folds the deals noted before it)."""
        self._reconcile_org()
        pending, self._pending = self._pending, {}
        for lead_id, position in pending.items():
            self._relead(lead_id, position)

    def _relead(self, lead_id: int, position: int) -> None:
        lead = self.records.lead(lead_id)
        new = self._contribution(lead) if lead is not None else None
        old = self._contributions.get(lead_id)
        if old == new:
            return
        if old is not None:
            self._by_salesperson[old.salesperson_id].remove(old)
        if new is not None:
            self._salesperson_state(new.salesperson_id).add(new)
            self._contributions[lead_id] = new
        else:
            self._contributions.pop(lead_id, None)
        self._admin.apply(old, new)
        if self._viewers is None:
            # Bulk mode: the viewers of these salespeople (exactly those viewer_deltas would
            # touch) are found and merged at flush.
            for c in (old, new):
                if c is not None and self._dirty_salespeople.get(c.salesperson_id, 0) < position:
                    self._dirty_salespeople[c.salesperson_id] = position
        else:
            for uid, (before, after) in viewer_deltas(old, new, self._chart).items():
                self._viewers.setdefault(uid, DashboardState()).apply(before, after)
                self._mark([uid], position)
        self._mark([ADMIN_DASHBOARD_ID], position)

    def _contribution(self, lead: LeadRecord) -> Contribution | None:
        return contribution_of(lead, self.records.stage(lead.stage_id))

    def _reconcile_org(self) -> None:
        if not self.records.org_changed:
            return
        new = self.records.chart()
        old = self._chart
        self._chart = new
        self._team.clear()  # rows of people no longer in the chart; new profile objects
        self.records.org_changed = False
        for uid in changed_access(old, new) | changed_profiles(old, new):
            if self._viewers is not None:
                if uid in new.user_ids:
                    self._viewers[uid] = self._recompute(uid)
                else:
                    self._viewers.pop(uid, None)
            self._mark([uid, ADMIN_DASHBOARD_ID])

    def _mark(self, viewers: Iterable[str], position: int | None = None) -> None:
        """Each viewer keeps the latest position that touched it (deals are folded out of
        order of their positions)."""
        at = self._position if position is None else position
        for viewer in viewers:
            if self._dirty.get(viewer, 0) < at:
                self._dirty[viewer] = at

    def _route_salespeople(self) -> None:
        """Bulk mode: mark the viewers of the salespeople noted since the last flush, under
        the chart in force (reconciled first). Each keeps the latest position that touched
        it, as live marking does: a viewer who saw a salesperson when the deal changed but
        not now (or the reverse) had their access changed later, and was marked for that."""
        for salesperson_id, position in self._dirty_salespeople.items():
            for uid in visible_viewers_of(salesperson_id, self._chart):
                if self._dirty.get(uid, 0) < position:
                    self._dirty[uid] = position
        self._dirty_salespeople.clear()

    # ---------------------------------------------------------------- writing
    def render(self, viewer_id: str) -> dict[str, Any] | None:
        stages = self.records.stages()
        profiles = self._chart.profiles
        if viewer_id == ADMIN_DASHBOARD_ID:
            state, viewer = self._admin, None
            scope = dashboard_scope(ADMIN, self._chart)
        else:
            viewer = self._chart.profile(viewer_id)
            if viewer is None:
                return None
            state = self._state_of(viewer_id)
            scope = dashboard_scope(Viewer(viewer_id, viewer.email), self._chart)
        data = state.render(stages, profiles, scope=scope, viewer=viewer, with_team=False)
        values = dashboard_values(data)
        if scope is DashboardScope.OWN:
            return values
        table = self._team.table(viewer_id, state, profiles)
        if viewer is None:
            return values | {"team": table, "team_hash": self._hash(table)}
        shared = self._team.table(ADMIN_DASHBOARD_ID, self._admin, profiles)
        if len(table) == len(shared) >= self.share_tables_from and table == shared:
            # Someone who sees every salesperson (a CEO): the admin's document holds this
            # table, ~100 KB at 1,000 users, and both change with every deal.
            del values["team"]
            return values | {"team_of": ADMIN_DASHBOARD_ID, "team_hash": self._hash(shared)}
        return values | {"team": table}

    def _hash(self, table: str) -> str:
        if self._hashed[0] is not table:
            self._hashed = (table, team_table_hash(table))
        return self._hashed[1]

    async def flush(self, ctx: ProjectionContext) -> list[Notification]:
        self._fold_pending()
        self._route_salespeople()
        if self._viewers is None and not ctx.rebuilding:
            # A rebuilt (bulk) instance now serving live: from here on a change updates only
            # its viewers' states instead of merging them at every flush.
            self._materialize()
        if ADMIN_DASHBOARD_ID in self._dirty:
            self._mark(self._sharing, self._dirty[ADMIN_DASHBOARD_ID])
        now = datetime.now(UTC)
        writes = []
        notes: list[Notification] = []
        for viewer, position in sorted(self._dirty.items()):
            values = self.render(viewer)
            if values is None:
                writes.append(guarded_delete(viewer, position))
                self._rendered.pop(viewer, None)
                self._sharing.discard(viewer)
                continue
            rendered = self._rendered.get(viewer)
            if rendered == values:
                continue  # same values: nothing to write, nothing to push
            self._rendered[viewer] = values
            if "team_of" in values:
                self._sharing.add(viewer)
            else:
                self._sharing.discard(viewer)
            doc = {**values, "as_of": position, "updated_at": now}
            writes.append(guarded_write(viewer, position, doc, stored=rendered is not None))
            if not ctx.rebuilding:
                notes.append(Notification(dashboard_channel(viewer), {"viewer": viewer}))
        await guarded_bulk_write(ctx.collection(DASHBOARDS), writes)
        await self.records.flush(ctx)
        self._dirty.clear()
        return notes

    def all_documents(self) -> dict[str, dict[str, Any]]:
        """Every dashboard this fold implies (values only), for ``pulse check``."""
        self._fold_pending()
        docs: dict[str, dict[str, Any]] = {}
        for viewer in [ADMIN_DASHBOARD_ID, *sorted(self._chart.user_ids)]:
            values = self.render(viewer)
            if values is not None:
                docs[viewer] = values
        return docs

    def viewers_of(self, salesperson_id: str | None) -> frozenset[str]:
        return visible_viewers_of(salesperson_id, self._chart)


def _same_user_display(before: Any, after: Any) -> bool:
    return (
        isinstance(before, UserRecord)
        and isinstance(after, UserRecord)
        and (before.name, before.email, before.active) == (after.name, after.email, after.active)
    )
