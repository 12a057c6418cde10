"""``Opportunity.history``: the opportunity's own event stream, newest first.

Only reached from an ``Opportunity`` the caller may see, so it needs no check of its own.
"""

from __future__ import annotations

from domain.event_store import EventStore
from domain.events import RecordedEvent, StreamRef
from schema.errors import check_range

OPPORTUNITY_STREAM = "opportunity"
MAX_HISTORY = 200
DEFAULT_HISTORY = 50


async def read_history(store: EventStore, odoo_id: int, first: int | None) -> list[RecordedEvent]:
    count = check_range("first", DEFAULT_HISTORY if first is None else first, 0, MAX_HISTORY)
    if count == 0:
        return []
    stream = StreamRef(OPPORTUNITY_STREAM, str(odoo_id))
    last = await store.stream_version(stream)
    if last == 0:
        return []
    start = max(1, last - count + 1)
    events = await store.read_stream(stream, from_version=start, limit=count)
    return sorted(events, key=lambda e: e.version, reverse=True)
