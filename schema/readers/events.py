"""The admin event explorer: the event store, filtered, paged by global position.

The cursor is the event's position (a decimal string): positions are unique, gap-free and
never reused, so "after position p" is an exact, stable place in the log.
"""

from __future__ import annotations

from domain.event_store import EventQuery
from schema.context import Context
from schema.errors import BadUserInput, check_range
from schema.inputs import given
from schema.types.admin import EventConnection, EventEdge, EventFilter, StoredEvent
from schema.types.opportunities import PageInfo

DEFAULT_EVENTS = 100
MAX_EVENTS = 500


def parse_position(after: str | None) -> int:
    if after is None:
        return 0
    text = after.strip()
    if not text.isdigit() or len(text) > 18:
        raise BadUserInput("after must be an event position (a cursor of this list)")
    return int(text)


def event_query(flt: EventFilter | None) -> EventQuery:
    if flt is None:
        return EventQuery()
    time_from, time_to, types = given(flt.from_), given(flt.to), given(flt.types)
    if time_from is not None and time_to is not None and time_from > time_to:
        raise BadUserInput("from must not be after to")
    return EventQuery(
        stream_type=given(flt.aggregate_type),
        stream_id=given(flt.aggregate_id),
        types=None if types is None else list(types),
        time_from=time_from,
        time_to=time_to,
    )


async def explore_events(
    ctx: Context, flt: EventFilter | None, first: int | None, after: str | None
) -> EventConnection:
    count = check_range("first", DEFAULT_EVENTS if first is None else first, 0, MAX_EVENTS)
    query = event_query(flt)
    position = parse_position(after)
    if count == 0:
        probe = await ctx.events.query(query, after_position=position, limit=1)
        return EventConnection(
            edges=[], page_info=PageInfo(has_next_page=bool(probe.events), end_cursor=None)
        )
    page = await ctx.events.query(query, after_position=position, limit=count)
    checkpoints = await ctx.commands.checkpoints()
    edges = [
        EventEdge(cursor=str(e.position), node=StoredEvent.from_event(e, checkpoints))
        for e in page.events
    ]
    end = edges[-1].cursor if edges else None
    return EventConnection(
        edges=edges, page_info=PageInfo(has_next_page=page.next_after is not None, end_cursor=end)
    )
