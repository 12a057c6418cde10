"""The in-process event bus: explicit routing, concurrent handlers, failures isolated."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

import pytest

from domain.bus import EventBus
from domain.events import RecordedEvent


def recorded(kind: str, position: int = 1) -> RecordedEvent:
    now = datetime.now(UTC)
    return RecordedEvent(
        id=f"e{position}", type=kind, schema_version=1, stream_type="s", stream_id="1",
        version=position, position=position, occurred_at=now, recorded_at=now,
        correlation_id=None, causation_id=None, source="test", data={},
    )  # fmt: skip


async def test_routes_by_type_and_catch_all() -> None:
    calls: list[str] = []

    async def on_won(e: RecordedEvent) -> None:
        calls.append(f"won:{e.id}")

    async def on_any(e: RecordedEvent) -> None:
        calls.append(f"any:{e.id}")

    bus = EventBus({"Won": [on_won]}, catch_all=[on_any])
    assert await bus.publish(recorded("Won", 1)) == []
    assert await bus.publish(recorded("Lost", 2)) == []
    assert calls == ["won:e1", "any:e1", "any:e2"]
    assert bus.handlers_for("Unrouted") == (on_any,)


async def test_handlers_of_one_event_run_concurrently() -> None:
    started = asyncio.Event()
    both: list[str] = []

    async def first(e: RecordedEvent) -> None:
        started.set()
        await asyncio.sleep(0.01)
        both.append("first")

    async def second(e: RecordedEvent) -> None:
        # Would deadlock if handlers ran one after another.
        await asyncio.wait_for(started.wait(), timeout=1)
        both.append("second")

    bus = EventBus({"X": [second, first]})
    assert await bus.publish(recorded("X")) == []
    assert sorted(both) == ["first", "second"]


async def test_a_failing_handler_does_not_stop_the_others_and_is_reported(
    caplog: pytest.LogCaptureFixture,
) -> None:
    done: list[str] = []

    async def broken(e: RecordedEvent) -> None:
        raise ValueError("boom")

    async def fine(e: RecordedEvent) -> None:
        await asyncio.sleep(0)
        done.append(e.id)

    bus = EventBus({"X": [broken, fine]})
    with caplog.at_level(logging.ERROR, logger="pulse.bus"):
        failures = await bus.publish(recorded("X", 7))
    assert done == ["e7"]
    assert len(failures) == 1
    failure = failures[0]
    assert failure.handler.endswith("broken") and failure.event_id == "e7"
    assert isinstance(failure.error, ValueError)
    assert "broken" in caplog.text and "e7" in caplog.text and "boom" in caplog.text


async def test_publish_all_keeps_order_and_collects_every_failure() -> None:
    seen: list[int] = []

    async def record(e: RecordedEvent) -> None:
        seen.append(e.position)
        if e.position % 2 == 0:
            raise RuntimeError("even")

    failures = await EventBus(catch_all=[record]).publish_all(
        [recorded("A", i) for i in range(1, 6)]
    )
    assert seen == [1, 2, 3, 4, 5]
    assert [f.event_id for f in failures] == ["e2", "e4"]
