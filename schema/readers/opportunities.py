"""``opportunities`` and ``opportunity``: filters, orders, keyset pagination, visibility.

Every query is ANDed with ``schema.visibility.opportunity_scope`` and every row is checked
again with ``sees_opportunity`` before it is returned. Orders are a sort key plus ``_id``
(ascending) as tie-breaker, so (key, _id) is unique and a cursor is an exact position.
``DEADLINE_ASC`` puts opportunities without a deadline last: it reads the dated ones, then
the undated ones by ``_id`` (MongoDB sorts null first, and nulls cannot be compared with
``$gt``), and the cursor remembers which of the two it is in.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from pymongo.asynchronous.collection import AsyncCollection

from projections.read_models import OPPORTUNITIES, OpportunityDoc
from schema.context import Context
from schema.cursors import KeyKind, Position, decode_cursor, encode_cursor
from schema.errors import BadUserInput, check_range
from schema.inputs import given
from schema.session import Caller
from schema.types.enums import OpportunityOrder
from schema.types.opportunities import (
    Opportunity,
    OpportunityConnection,
    OpportunityEdge,
    OpportunityFilter,
    PageInfo,
)
from schema.visibility import opportunity_scope, sees_opportunity

log = logging.getLogger("pulse.graphql")

DEFAULT_PAGE = 50
MAX_PAGE = 200
MAX_SEARCH = 200
LISTED_BY_DEFAULT = ("OPEN", "WON", "LOST")  # ARCHIVED only when the filter asks


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


def filter_query(caller: Caller, flt: OpportunityFilter | None) -> dict[str, Any]:
    flt = flt or OpportunityFilter()
    status, stage_ids, salesperson_ids = (
        given(flt.status),
        given(flt.stage_ids),
        given(flt.salesperson_ids),
    )
    search, min_revenue = given(flt.search), given(flt.min_revenue)
    before, after = given(flt.deadline_before), given(flt.deadline_after)
    statuses = list(LISTED_BY_DEFAULT) if status is None else [s.value for s in status]
    parts: list[dict[str, Any]] = [opportunity_scope(caller), {"status": {"$in": statuses}}]
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
    return {"$and": [p for p in parts if p]}


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
        query = base if position is None else {"$and": [base, _after(sort, position)]}
        return await _find(collection, query, [(sort.field, direction), ("_id", 1)], n)
    undated = {sort.field: {"$in": [None]}}  # null or missing (nx mis-reads a bare None)
    if position is not None and position.key is None:  # already among the undated
        query = {"$and": [base, undated, {"_id": {"$gt": position.id}}]}
        return await _find(collection, query, [("_id", 1)], n)
    dated: list[dict[str, Any]] = [base, {sort.field: {"$type": "string"}}]
    if position is not None:
        dated.append(_after(sort, position))
    rows = await _find(collection, {"$and": dated}, [(sort.field, direction), ("_id", 1)], n)
    if len(rows) < n:
        rows += await _find(collection, {"$and": [base, undated]}, [("_id", 1)], n - len(rows))
    return rows


def visible_opportunity(caller: Caller, row: dict[str, Any]) -> Opportunity | None:
    if not sees_opportunity(caller, row):
        return None
    try:
        return Opportunity.from_doc(OpportunityDoc.model_validate(row))
    except ValidationError:
        # A malformed read-model document is a projection bug: skip it, loudly.
        log.error("opportunity read model %r does not match OpportunityDoc", row.get("_id"))
        return None


async def list_opportunities(
    ctx: Context,
    flt: OpportunityFilter | None,
    order: OpportunityOrder | None,
    first: int | None,
    after: str | None,
) -> OpportunityConnection:
    caller = await ctx.session.caller()
    count = check_range("first", DEFAULT_PAGE if first is None else first, 0, MAX_PAGE)
    order = order or OpportunityOrder.UPDATED_DESC
    sort = ORDERS[order]
    position = None if after is None else decode_cursor(after, order.value, sort.kind)
    base = filter_query(caller, flt)
    collection = await ctx.read_models.collection(OPPORTUNITIES)
    total = await collection.count_documents(base)
    rows = await _rows(collection, base, sort, position, count + 1)
    has_next = len(rows) > count
    edges: list[OpportunityEdge] = []
    end_cursor: str | None = None
    for row in rows[:count]:
        end_cursor = encode_cursor(order.value, sort.kind, row.get(sort.field), str(row["_id"]))
        node = visible_opportunity(caller, row)
        if node is not None:
            edges.append(OpportunityEdge(cursor=end_cursor, node=node))
    return OpportunityConnection(
        total_count=total,
        page_info=PageInfo(has_next_page=has_next, end_cursor=end_cursor),
        edges=edges,
    )


async def find_opportunity(ctx: Context, opportunity_id: str) -> Opportunity | None:
    """None when unknown or not visible: the caller cannot tell the two apart."""
    caller = await ctx.session.caller()
    row = await find_opportunity_row(ctx, opportunity_id)
    return None if row is None else visible_opportunity(caller, row)


async def find_opportunity_row(ctx: Context, opportunity_id: str) -> dict[str, Any] | None:
    collection = await ctx.read_models.collection(OPPORTUNITIES)
    row: dict[str, Any] | None = await collection.find_one({"_id": opportunity_id})
    return row
