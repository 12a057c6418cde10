"""``opportunities`` and ``opportunity``: filters, orders, keyset pagination, visibility.

Every query is ANDed with ``schema.visibility.opportunity_scope`` and every row is checked
again with ``sees_opportunity`` before it is returned. Orders are a sort key plus ``_id``
(ascending) as tie-breaker, so (key, _id) is unique and a cursor is an exact position.
``DEADLINE_ASC`` puts opportunities without a deadline last: it reads the dated ones, then
the undated ones by ``_id`` (MongoDB sorts null first, and nulls cannot be compared with
``$gt``), and the cursor remembers which of the two it is in.

Queries are built as ONE flat filter document (``merged``), not ``{"$and": [...]}``: the two
mean the same to MongoDB, but nx-27017 (the embedded store) answers a top-level ``$and`` by
reading the whole collection: the first page of a manager who sees 12,000 of 20,000
opportunities took 0.6-0.9 s with ``$and`` and 4-13 ms flat (measured here).

``totalCount`` is resolved only when the client selects it (``TotalCount``), and then as
cheaply as is exact:

* a list restricted by visibility and status only (the default list, or a status filter
  within OPEN/WON/LOST) is counted by the caller's dashboard document, whose ``openCount``,
  ``wonCount`` and ``lostCount`` count exactly that set (PRODUCT.md §3: the viewer's visible
  opportunities by status, ARCHIVED excluded, unassigned ones for admins only; both read
  models derive status and visibility from the same records and org chart). It is used only
  when the projections behind the list and the dashboard have the same checkpoint, so a
  lagging, paused or rebuilding dashboard projection never answers for the list;
* anything else is counted by a find that returns only ``_id``s. On nx-27017 every count
  reads the collection (``visible_to`` is an array: its index is not used), and
  ``count_documents`` is the slowest way: 1.5-2.5 s at 20,000 documents, against 0.1-1.2 s
  for the ``_id`` find, depending on how many match. (``{"$count": ...}`` in an aggregation
  is faster there but answered 0 for flat filters that match thousands: never use it.) On
  MongoDB the find is exact too, at the cost of sending the ids.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from pymongo.asynchronous.collection import AsyncCollection

from projections.dashboards import DashboardProjection
from projections.opportunity_view import OpportunityViewProjection
from projections.org_views import AccessMatrixProjection
from projections.read_models import DASHBOARDS, OPPORTUNITIES, MetricsDoc, OpportunityDoc
from schema.context import Context
from schema.cursors import KeyKind, Position, decode_cursor, encode_cursor
from schema.errors import BadUserInput, check_range
from schema.inputs import given
from schema.loaders import ProfileCard
from schema.readers.dashboards import dashboard_id
from schema.readers.profiles import readable_profiles
from schema.session import Caller
from schema.types.enums import OpportunityOrder
from schema.types.opportunities import (
    Opportunity,
    OpportunityConnection,
    OpportunityEdge,
    OpportunityFilter,
    PageInfo,
)
from schema.types.people import UserProfile
from schema.visibility import opportunity_scope, reads_profile, sees_opportunity

log = logging.getLogger("pulse.graphql")

DEFAULT_PAGE = 50
MAX_PAGE = 200
MAX_SEARCH = 200
LISTED_BY_DEFAULT = ("OPEN", "WON", "LOST")  # ARCHIVED only when the filter asks
SINGLE_VALUED = frozenset({"_id", "status", "salesperson_id", "stage.id"})
COUNT_BATCH = 10_000  # ids per reply when counting by a find
# The projections whose read models a list and its dashboard-served count come from.
COUNT_SOURCES = (
    OpportunityViewProjection.name,
    AccessMatrixProjection.name,
    DashboardProjection.name,
)


@dataclass(frozen=True, slots=True)
class SortKey:
    field: str
    descending: bool
    kind: KeyKind


ORDERS: dict[OpportunityOrder, SortKey] = {
    OpportunityOrder.UPDATED_DESC: SortKey("updated_at", True, "datetime"),
    OpportunityOrder.REVENUE_DESC: SortKey("expected_revenue", True, "number"),
    OpportunityOrder.DEADLINE_ASC: SortKey("deadline", False, "nullable_string"),
    # name_key is the lower-cased name (+ account): alphabetical regardless of case.
    OpportunityOrder.NAME_ASC: SortKey("name_key", False, "string"),
}


def merged(parts: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The conjunction of filter documents as one flat document (see the module docstring).

    A field constrained twice keeps both constraints: operator documents with distinct
    operators are merged (``{"$lt": a}`` + ``{"$gt": b}``), two ``$in`` on a single-valued
    field are intersected, and anything else goes to a ``$and`` of the leftovers (same
    meaning, slower on nx-27017)."""
    out: dict[str, Any] = {}
    rest: list[dict[str, Any]] = []
    for part in parts:
        for field, condition in part.items():
            if field not in out:
                out[field] = condition
                continue
            both = _merge_conditions(field, out[field], condition)
            if both is None:
                rest.append({field: condition})
            else:
                out[field] = both
    if rest:
        out["$and"] = [*out.get("$and", ()), *rest]
    return out


def _is_operators(condition: Any) -> bool:
    return (
        isinstance(condition, Mapping)
        and bool(condition)
        and all(isinstance(k, str) and k.startswith("$") for k in condition)
    )


def _merge_conditions(field: str, first: Any, second: Any) -> dict[str, Any] | None:
    if not (_is_operators(first) and _is_operators(second)):
        return None
    both = dict(first)
    for op, value in second.items():
        if op not in both:
            both[op] = value
        elif op == "$in" and field in SINGLE_VALUED:
            # (On an array field the two could be met by different elements: not merged.)
            both[op] = [v for v in both[op] if v in value]
        else:
            return None
    return both


def _restrictions(flt: OpportunityFilter | None) -> tuple[list[str], list[dict[str, Any]]]:
    """The statuses listed, and every other restriction of the filter."""
    flt = flt or OpportunityFilter()
    status, stage_ids, salesperson_ids = (
        given(flt.status),
        given(flt.stage_ids),
        given(flt.salesperson_ids),
    )
    search, min_revenue = given(flt.search), given(flt.min_revenue)
    before, after = given(flt.deadline_before), given(flt.deadline_after)
    statuses = list(LISTED_BY_DEFAULT) if status is None else [s.value for s in status]
    parts: list[dict[str, Any]] = []
    if stage_ids is not None:
        parts.append({"stage.id": {"$in": [str(i) for i in stage_ids]}})
    if salesperson_ids is not None:
        parts.append({"salesperson_id": {"$in": [str(i) for i in salesperson_ids]}})
    if search is not None and search.strip():
        term = search.strip()
        if len(term) > MAX_SEARCH:
            raise BadUserInput(f"search must be at most {MAX_SEARCH} characters")
        parts.append({"name_key": {"$regex": re.escape(term.lower())}})
    if min_revenue is not None:
        parts.append({"expected_revenue": {"$gte": min_revenue}})
    # Deadlines are stored as YYYY-MM-DD strings, which order like the dates they are.
    if before is not None:
        parts.append({"deadline": {"$lt": before.isoformat()}})
    if after is not None:
        parts.append({"deadline": {"$gt": after.isoformat()}})
    return statuses, parts


def _after(sort: SortKey, position: Position) -> dict[str, Any]:
    beyond = "$lt" if sort.descending else "$gt"
    return {
        "$or": [
            {sort.field: {beyond: position.key}},
            {sort.field: position.key, "_id": {"$gt": position.id}},
        ]
    }


async def _find(
    collection: AsyncCollection[Any], query: dict[str, Any], sort: list[tuple[str, int]], n: int
) -> list[dict[str, Any]]:
    return [row async for row in collection.find(query).sort(sort).limit(n)]


async def _rows(
    collection: AsyncCollection[Any],
    base: dict[str, Any],
    sort: SortKey,
    position: Position | None,
    n: int,
) -> list[dict[str, Any]]:
    """Up to ``n`` rows after ``position`` in ``sort`` order."""
    direction = -1 if sort.descending else 1
    if sort.kind != "nullable_string":
        query = base if position is None else merged([base, _after(sort, position)])
        return await _find(collection, query, [(sort.field, direction), ("_id", 1)], n)
    undated = {sort.field: {"$in": [None]}}  # null or missing (nx mis-reads a bare None)
    if position is not None and position.key is None:  # already among the undated
        query = merged([base, undated, {"_id": {"$gt": position.id}}])
        return await _find(collection, query, [("_id", 1)], n)
    dated: list[dict[str, Any]] = [base, {sort.field: {"$type": "string"}}]
    if position is not None:
        dated.append(_after(sort, position))
    rows = await _find(collection, merged(dated), [(sort.field, direction), ("_id", 1)], n)
    if len(rows) < n:
        rows += await _find(collection, merged([base, undated]), [("_id", 1)], n - len(rows))
    return rows


def _visible_doc(caller: Caller, row: dict[str, Any]) -> OpportunityDoc | None:
    if not sees_opportunity(caller, row):
        return None
    try:
        return OpportunityDoc.model_validate(row)
    except ValidationError:
        # A malformed read-model document is a projection bug: skip it, loudly.
        log.error("opportunity read model %r does not match OpportunityDoc", row.get("_id"))
        return None


def _embedded_card(doc: OpportunityDoc) -> ProfileCard | None:
    """The salesperson's card as the projection copied it in, when complete (documents
    written before version 2 of ``opportunity_view`` lack ``active``)."""
    person = doc.salesperson
    if (
        person is None
        or person.id != doc.salesperson_id
        or person.email is None
        or person.active is None
    ):
        return None
    return ProfileCard(person.id, person.email, person.name, person.active)


async def opportunity_nodes(
    ctx: Context, caller: Caller, rows: Sequence[dict[str, Any]]
) -> list[Opportunity | None]:
    """Per row, its node, or None when the caller may not see it (or it is malformed).

    The salesperson is shown by ``readable_profile``'s rule: null when the caller may not
    read them. Their card comes from the row itself (``opportunity_view`` copies it in and
    re-derives the rows when it changes), so a page makes no profile read; only rows
    written without a complete card fall back to one read of the profiles for all of them
    (a salesperson without a profile then shows as null)."""
    docs = [_visible_doc(caller, row) for row in rows]
    people: dict[str, UserProfile] = {}
    missing: set[str] = set()
    for doc in docs:
        person = None if doc is None else doc.salesperson_id
        if person is None or person in people or not reads_profile(caller, person):
            continue
        assert doc is not None
        card = _embedded_card(doc)
        if card is None:
            missing.add(person)
        else:
            people[person] = UserProfile.from_card(card)
    if missing:
        people.update(await readable_profiles(ctx, sorted(missing - people.keys())))
    return [
        None if doc is None else Opportunity.from_doc(doc, people.get(doc.salesperson_id or ""))
        for doc in docs
    ]


async def visible_opportunity(
    ctx: Context, caller: Caller, row: dict[str, Any]
) -> Opportunity | None:
    return (await opportunity_nodes(ctx, caller, [row]))[0]


@dataclass
class CountStats:
    """How ``totalCount`` was answered since start (tests assert on it, not on timings)."""

    from_dashboard: int = 0
    queried: int = 0


COUNTS = CountStats()


class TotalCount:
    """``totalCount`` of one connection: computed on first demand, once (aliases share it)."""

    def __init__(
        self, ctx: Context, caller: Caller, statuses: list[str], narrowed: bool,
        base: dict[str, Any],
    ) -> None:  # fmt: skip
        self._ctx = ctx
        self._caller = caller
        self._statuses = statuses
        self._narrowed = narrowed  # restricted by more than visibility and status
        self._base = base
        self._value: int | None = None
        self._lock = asyncio.Lock()

    async def get(self) -> int:
        async with self._lock:
            if self._value is None:
                self._value = await self._compute()
            return self._value

    async def _compute(self) -> int:
        if not self._narrowed and set(self._statuses) <= set(LISTED_BY_DEFAULT):
            total = await self._from_dashboard()
            if total is not None:
                COUNTS.from_dashboard += 1
                return total
        COUNTS.queried += 1
        collection = await self._ctx.read_models.collection(OPPORTUNITIES)
        ids = collection.find(self._base, {"_id": 1}).batch_size(COUNT_BATCH)
        return sum([1 async for _ in ids])

    async def _from_dashboard(self) -> int | None:
        """The count by the caller's dashboard document; None when it may not match the
        list: no document yet, or the list's and the dashboard's projections at different
        positions (one lags, is paused, or is being rebuilt)."""
        collection = await self._ctx.read_models.collection(DASHBOARDS)
        # Both reads at once: one round trip of latency instead of two.
        positions, raw = await asyncio.gather(
            self._ctx.commands.checkpoints(),
            collection.find_one({"_id": dashboard_id(self._caller)}, {"metrics": 1}),
        )
        at = {positions.get(name) for name in COUNT_SOURCES}
        if len(at) != 1 or None in at:
            return None
        if raw is None or not isinstance(raw.get("metrics"), Mapping):
            return None
        metrics = MetricsDoc.model_validate(raw["metrics"])
        by_status = {"OPEN": metrics.open_count, "WON": metrics.won_count,
                     "LOST": metrics.lost_count}  # fmt: skip
        return sum(by_status[s] for s in set(self._statuses))


async def list_opportunities(
    ctx: Context,
    flt: OpportunityFilter | None,
    order: OpportunityOrder | None,
    first: int | None,
    after: str | None,
    *,
    count_early: bool = False,
) -> OpportunityConnection:
    """One page. ``count_early``: the client selects ``totalCount``, so its reads start now,
    beside the page's instead of after them (one store round trip less of waiting)."""
    caller = await ctx.session.caller()
    count = check_range("first", DEFAULT_PAGE if first is None else first, 0, MAX_PAGE)
    order = order or OpportunityOrder.UPDATED_DESC
    sort = ORDERS[order]
    position = None if after is None else decode_cursor(after, order.value, sort.kind)
    statuses, parts = _restrictions(flt)
    base = merged([opportunity_scope(caller), {"status": {"$in": statuses}}, *parts])
    total = TotalCount(ctx, caller, statuses, bool(parts), base)
    early = asyncio.ensure_future(total.get()) if count_early else None
    if early is not None:
        # Its outcome is the resolver's to report (``get`` computes again after a failure);
        # unobserved, a failure here would only be logged as never retrieved.
        early.add_done_callback(_observe)
    try:
        collection = await ctx.read_models.collection(OPPORTUNITIES)
        rows = await _rows(collection, base, sort, position, count + 1)
    except BaseException:
        if early is not None:
            early.cancel()
        raise
    has_next = len(rows) > count
    edges: list[OpportunityEdge] = []
    end_cursor: str | None = None
    nodes = await opportunity_nodes(ctx, caller, rows[:count])
    for row, node in zip(rows[:count], nodes, strict=True):
        end_cursor = encode_cursor(order.value, sort.kind, row.get(sort.field), str(row["_id"]))
        if node is not None:
            edges.append(OpportunityEdge(cursor=end_cursor, node=node))
    return OpportunityConnection(
        page_info=PageInfo(has_next_page=has_next, end_cursor=end_cursor),
        edges=edges,
        total=total.get,
    )


def _observe(task: asyncio.Future[int]) -> None:
    if not task.cancelled():
        task.exception()


async def find_opportunity(ctx: Context, opportunity_id: str) -> Opportunity | None:
    """None when unknown or not visible: the caller cannot tell the two apart."""
    caller = await ctx.session.caller()
    row = await find_opportunity_row(ctx, opportunity_id)
    return None if row is None else await visible_opportunity(ctx, caller, row)


async def find_opportunity_row(ctx: Context, opportunity_id: str) -> dict[str, Any] | None:
    collection = await ctx.read_models.collection(OPPORTUNITIES)
    row: dict[str, Any] | None = await collection.find_one({"_id": opportunity_id})
    return row
