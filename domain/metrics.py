"""Dashboard numbers (PRODUCT.md §3 "Dashboard"), additive so projections can fold them.

Each opportunity that counts becomes a ``Contribution``; a viewer's ``DashboardState`` is the
sum of the contributions they may see, kept as totals, per stage and per salesperson. Sums
are exact integers, so removing what was added restores the previous state bit for bit and
any order of incremental updates equals a full recompute (``compute_state``).

Exactness rules (decided here; PRODUCT.md only says "rounded to 2 decimals" on output):

* Money and probability are read at a resolution of 1e-6 (``UNIT``): the decimal that the
  float prints as (its shortest repr, i.e. what Odoo sent), rounded half-even to 6 places.
  This is lossless for real data (Odoo rounds monetary fields to the currency, at most 3
  decimals; computed probabilities to 2) and strips float noise (``0.30000000000000004``).
* ``value`` is in 1e-6 currency units; ``weighted`` is ``value * probability`` in 1e-6
  units each, so one currency unit of weighted value is ``WEIGHTED_UNIT`` = 1e14 of them
  (1e6 * 1e6 * 100 for the percentage). Python ints do not overflow; serialized forms keep
  them as strings because they can exceed MongoDB's int64.
* Output: the exact sum, rounded half away from zero to cents, as a float. Averages are
  computed from the exact sum, then rounded.
* Stage rows with no known stage (no ``stage_id``, or a stage we do not have) and team rows
  for salespeople without a profile (unassigned, portal, unknown) are not rendered, since
  ``StageMetrics.stage`` and ``SalespersonMetrics.salesperson`` are non-null; their deals
  still count in the totals.
* Ordering ties: stages by sequence, name (case-insensitive), id; team rows by rendered
  pipelineValue desc, name (case-insensitive), id.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from enum import StrEnum
from functools import lru_cache
from typing import Any, TypeVar

from domain.access import Viewer, access_set_of, can_see_opportunity, visible_viewers_of
from domain.model import LeadRecord, OpportunityStatus, StageRecord, opportunity_status
from domain.org import OrgChart, UserProfile, user_key

UNIT = 1_000_000  # money units per currency unit, probability units per percent
WEIGHTED_UNIT = UNIT * UNIT * 100  # weighted units per currency unit


class DashboardScope(StrEnum):
    OWN = "OWN"
    TEAM = "TEAM"
    ALL = "ALL"


def to_units(number: float) -> int:
    """A float at 1e-6 resolution, from the decimal it prints as (half-even)."""
    scaled = Decimal(repr(float(number))).scaleb(6)
    return int(scaled.to_integral_value(rounding=ROUND_HALF_EVEN))


def round_money(units: int, per_currency_unit: int = UNIT) -> float:
    """Exact ``units / per_currency_unit`` rounded half away from zero to 2 decimals."""
    cents, rest = divmod(abs(units) * 100, per_currency_unit)
    if 2 * rest >= per_currency_unit:
        cents += 1
    return (cents if units >= 0 else -cents) / 100


def win_rate(won: int, lost: int) -> float | None:
    """Won among closed (a fraction), None while nothing is closed."""
    closed = won + lost
    return won / closed if closed else None


def _average(units: int, count: int) -> float:
    return round_money(units, UNIT * count)


# -- contributions and aggregates ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Contribution:
    """What one counted opportunity adds to a dashboard (OPEN, WON or LOST only)."""

    status: OpportunityStatus
    salesperson_id: str | None
    stage_id: int | None
    value: int  # expected_revenue, in UNIT
    weighted: int  # value * probability, both in UNIT (WEIGHTED_UNIT per currency unit)


def contribution_of(lead: LeadRecord, stage: StageRecord | None) -> Contribution | None:
    """None when the record does not count: type ``lead``, or ARCHIVED. ``stage`` is the
    lead's stage, None when it has none or we do not have it (then it cannot be won).

    The result depends on ``stage.is_won``: when a stage's ``is_won`` flips, projections must
    re-apply the contributions of the leads in that stage."""
    if not lead.is_opportunity:
        return None
    if stage is not None and stage.odoo_id != lead.stage_id:
        raise ValueError(f"stage {stage.odoo_id} is not the stage of lead {lead.odoo_id}")
    status = opportunity_status(lead, stage is not None and stage.is_won)
    if status is OpportunityStatus.ARCHIVED:
        return None
    value = to_units(lead.expected_revenue)
    return Contribution(
        status=status,
        salesperson_id=None if lead.user_id is None else user_key(lead.user_id),
        stage_id=lead.stage_id,
        value=value,
        weighted=value * to_units(lead.probability),
    )


@dataclass(frozen=True, slots=True)
class Metrics:
    total_count: int
    open_count: int
    won_count: int
    lost_count: int
    pipeline_value: float
    weighted_pipeline_value: float
    won_value: float
    win_rate: float | None
    average_deal_size: float | None


@dataclass(frozen=True, slots=True)
class Aggregate:
    """Exact, additive sums of contributions. Immutable: ``add``/``remove``/``merge`` return
    a new aggregate."""

    open_count: int = 0
    won_count: int = 0
    lost_count: int = 0
    open_value: int = 0
    open_weighted: int = 0
    won_value: int = 0

    def add(self, c: Contribution) -> Aggregate:
        return self._shift(c, 1)

    def remove(self, c: Contribution) -> Aggregate:
        """Undo an ``add``. Removing what was never added is a caller bug: it raises."""
        result = self._shift(c, -1)
        if min(result.open_count, result.won_count, result.lost_count) < 0:
            raise ValueError(f"removing a contribution that was not added: {c}")
        return result

    def merge(self, other: Aggregate) -> Aggregate:
        return Aggregate(
            self.open_count + other.open_count,
            self.won_count + other.won_count,
            self.lost_count + other.lost_count,
            self.open_value + other.open_value,
            self.open_weighted + other.open_weighted,
            self.won_value + other.won_value,
        )

    def _shift(self, c: Contribution, sign: int) -> Aggregate:
        # Direct construction, not dataclasses.replace: this runs once per viewer per event
        # in a rebuild, and replace() was a top frame in the profiles.
        if c.status is OpportunityStatus.OPEN:
            return Aggregate(
                self.open_count + sign,
                self.won_count,
                self.lost_count,
                self.open_value + sign * c.value,
                self.open_weighted + sign * c.weighted,
                self.won_value,
            )
        if c.status is OpportunityStatus.WON:
            return Aggregate(
                self.open_count,
                self.won_count + sign,
                self.lost_count,
                self.open_value,
                self.open_weighted,
                self.won_value + sign * c.value,
            )
        if c.status is OpportunityStatus.LOST:
            return Aggregate(
                self.open_count,
                self.won_count,
                self.lost_count + sign,
                self.open_value,
                self.open_weighted,
                self.won_value,
            )
        raise ValueError(f"an {c.status} opportunity does not count")

    @property
    def total_count(self) -> int:
        return self.open_count + self.won_count + self.lost_count

    @property
    def is_empty(self) -> bool:
        return self == _EMPTY

    def to_metrics(self) -> Metrics:
        # Memoized: a dashboard is re-rendered whole after every change (its team rows
        # included: a manager of hundreds has hundreds), while almost all of its rows'
        # aggregates are unchanged; the rounding arithmetic was the top of the live flush.
        return _metrics_of(self)

    def _metrics(self) -> Metrics:
        return Metrics(
            total_count=self.total_count,
            open_count=self.open_count,
            won_count=self.won_count,
            lost_count=self.lost_count,
            pipeline_value=round_money(self.open_value),
            weighted_pipeline_value=round_money(self.open_weighted, WEIGHTED_UNIT),
            won_value=round_money(self.won_value),
            win_rate=win_rate(self.won_count, self.lost_count),
            average_deal_size=_average(self.won_value, self.won_count) if self.won_count else None,
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON/BSON-safe: money sums as decimal strings (they may exceed int64)."""
        return {
            "open_count": self.open_count,
            "won_count": self.won_count,
            "lost_count": self.lost_count,
            "open_value": str(self.open_value),
            "open_weighted": str(self.open_weighted),
            "won_value": str(self.won_value),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Aggregate:
        return cls(**{name: int(data[name]) for name in _AGGREGATE_FIELDS})


_EMPTY = Aggregate()
_AGGREGATE_FIELDS = tuple(Aggregate().to_dict())


@lru_cache(maxsize=1 << 16)
def _metrics_of(aggregate: Aggregate) -> Metrics:
    return aggregate._metrics()


# -- the rendered dashboard (field names follow the GraphQL types) ---------------------------


@dataclass(frozen=True, slots=True)
class StageMetrics:
    stage: StageRecord
    count: int
    value: float


@dataclass(frozen=True, slots=True)
class SalespersonMetrics:
    salesperson: UserProfile
    metrics: Metrics


@dataclass(frozen=True, slots=True)
class DashboardData:
    """GraphQL ``Dashboard``; ``as_of`` and ``updated_at`` are supplied by the projection."""

    viewer: UserProfile | None
    scope: DashboardScope
    metrics: Metrics
    by_stage: tuple[StageMetrics, ...]
    team: tuple[SalespersonMetrics, ...]
    as_of: int = 0
    updated_at: datetime | None = None


# -- per-viewer state ------------------------------------------------------------------------


@dataclass(slots=True)
class DashboardState:
    """One viewer's sums. Mutable (``apply`` folds a change in place); keys whose aggregate
    becomes empty are dropped, so equal contents mean equal states.

    ``touched`` collects the salespeople whose entry ``add``/``remove`` changed, for ONE
    consumer that renders the team rows incrementally and empties it (``take_touched``):
    a viewer's table above a changed deal finds its changed rows without visiting the up
    to 1,000 unchanged ones. Not part of the state's value (not compared, not stored)."""

    totals: Aggregate = _EMPTY
    by_stage: dict[int | None, Aggregate] = field(default_factory=dict)
    by_salesperson: dict[str | None, Aggregate] = field(default_factory=dict)
    touched: set[str | None] = field(default_factory=set, compare=False, repr=False)

    def add(self, c: Contribution) -> None:
        self.totals = self.totals.add(c)
        self.by_stage[c.stage_id] = self.by_stage.get(c.stage_id, _EMPTY).add(c)
        self.by_salesperson[c.salesperson_id] = self.by_salesperson.get(
            c.salesperson_id, _EMPTY
        ).add(c)
        self.touched.add(c.salesperson_id)

    def remove(self, c: Contribution) -> None:
        self.totals = self.totals.remove(c)
        _remove_from(self.by_stage, c.stage_id, c)
        _remove_from(self.by_salesperson, c.salesperson_id, c)
        self.touched.add(c.salesperson_id)

    def take_touched(self) -> set[str | None]:
        """The salespeople touched since the last call (or since the state was made)."""
        touched, self.touched = self.touched, set()
        return touched

    def apply(self, old: Contribution | None, new: Contribution | None) -> None:
        """Replace what an opportunity contributed (``old``, None if nothing) by ``new``."""
        if old == new:
            return
        if old is not None:
            self.remove(old)
        if new is not None:
            self.add(new)

    def copy(self) -> DashboardState:
        return DashboardState(self.totals, dict(self.by_stage), dict(self.by_salesperson))

    def render(
        self,
        stages: Mapping[int, StageRecord],
        profiles: Mapping[str, UserProfile],
        *,
        scope: DashboardScope,
        viewer: UserProfile | None = None,
        as_of: int = 0,
        updated_at: datetime | None = None,
        with_team: bool = True,
    ) -> DashboardData:
        """The dashboard, with stage and profile details read now (renames need no refold).
        ``with_team=False`` leaves the team rows out, for a caller that renders them itself
        (``team_members`` in ``team_order``)."""
        rows = [
            StageMetrics(
                stages[sid],
                agg.open_count + agg.won_count,
                round_money(agg.open_value + agg.won_value),
            )
            for sid, agg in self.by_stage.items()
            if sid is not None and sid in stages and agg.open_count + agg.won_count > 0
        ]
        rows.sort(key=lambda r: (r.stage.sequence, r.stage.name.casefold(), r.stage.odoo_id))
        team: list[SalespersonMetrics] = []
        if with_team and scope is not DashboardScope.OWN:
            for _, agg, profile in self.team_members(profiles):
                team.append(SalespersonMetrics(profile, agg.to_metrics()))
            team.sort(key=lambda r: team_order(r.salesperson, r.metrics))
        return DashboardData(
            viewer, scope, self.totals.to_metrics(), tuple(rows), tuple(team), as_of, updated_at
        )

    def team_members(
        self, profiles: Mapping[str, UserProfile]
    ) -> Iterator[tuple[str, Aggregate, UserProfile]]:
        """The salespeople with a team row (known, with at least one counted deal), unordered."""
        for sid, agg in self.by_salesperson.items():
            if sid is not None and agg.total_count > 0:
                profile = profiles.get(sid)
                if profile is not None:
                    yield sid, agg, profile

    def to_dict(self) -> dict[str, Any]:
        """JSON/BSON-safe, with keys in a stable order (lists, not maps: keys may be None)."""
        return {
            "totals": self.totals.to_dict(),
            "by_stage": [
                [k, a.to_dict()] for k, a in sorted(self.by_stage.items(), key=_none_first)
            ],
            "by_salesperson": [
                [k, a.to_dict()] for k, a in sorted(self.by_salesperson.items(), key=_none_first)
            ],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DashboardState:
        return cls(
            Aggregate.from_dict(data["totals"]),
            {k: Aggregate.from_dict(a) for k, a in data["by_stage"]},
            {k: Aggregate.from_dict(a) for k, a in data["by_salesperson"]},
        )


def team_order(salesperson: UserProfile, metrics: Metrics) -> tuple[float, str, int]:
    """Team rows: biggest pipeline first, then by name, then by id."""
    return (-metrics.pipeline_value, salesperson.name.casefold(), int(salesperson.id))


def _none_first(item: tuple[Any, Aggregate]) -> tuple[bool, int]:
    return (item[0] is not None, 0 if item[0] is None else int(item[0]))


K = TypeVar("K")


def _remove_from(table: dict[K, Aggregate], key: K, c: Contribution) -> None:
    if key not in table:
        raise ValueError(f"removing a contribution that was not added: {c}")
    left = table[key].remove(c)
    if left.is_empty:
        del table[key]
    else:
        table[key] = left


# -- scope, routing and full recompute --------------------------------------------------------


def dashboard_scope(viewer: Viewer, org: OrgChart) -> DashboardScope:
    """ALL for admins; TEAM with at least one (active) direct report; else OWN."""
    if viewer.is_admin:
        return DashboardScope.ALL
    if viewer.user_id is not None and org.reports_count(viewer.user_id) > 0:
        return DashboardScope.TEAM
    return DashboardScope.OWN


def viewer_deltas(
    old: Contribution | None, new: Contribution | None, org: OrgChart
) -> dict[str, tuple[Contribution | None, Contribution | None]]:
    """For one opportunity change, the (old, new) that each non-admin viewer's state must
    ``apply``: a viewer who could not see the old version gets ``None`` as old, and so on.
    Viewers whose state does not change are absent; the admin state applies (old, new)."""
    before = visible_viewers_of(old.salesperson_id, org) if old is not None else frozenset()
    after = visible_viewers_of(new.salesperson_id, org) if new is not None else frozenset()
    deltas = {}
    for uid in before | after:
        delta = (old if uid in before else None, new if uid in after else None)
        if delta[0] != delta[1]:
            deltas[uid] = delta
    return deltas


def compute_state(
    viewer: Viewer,
    org: OrgChart,
    leads: Iterable[LeadRecord],
    stages: Mapping[int, StageRecord],
) -> DashboardState:
    """A viewer's state from scratch (rebuilds, ``pulse check``, access changes)."""
    access = access_set_of(viewer, org)
    state = DashboardState()
    for lead in leads:
        stage = stages.get(lead.stage_id) if lead.stage_id is not None else None
        c = contribution_of(lead, stage)
        if c is not None and can_see_opportunity(viewer, c.salesperson_id, access):
            state.add(c)
    return state


def compute_dashboard(
    viewer: Viewer,
    org: OrgChart,
    leads: Iterable[LeadRecord],
    stages: Mapping[int, StageRecord],
    *,
    as_of: int = 0,
    updated_at: datetime | None = None,
) -> DashboardData:
    """The whole dashboard of a viewer, recomputed from every lead."""
    state = compute_state(viewer, org, leads, stages)
    profile = org.profile(viewer.user_id) if viewer.user_id is not None else None
    return state.render(
        stages,
        org.profiles,
        scope=dashboard_scope(viewer, org),
        viewer=profile,
        as_of=as_of,
        updated_at=updated_at,
    )
