"""The projection contract, documents table and status arithmetic, without a store."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime

import pytest

from domain.events import RecordedEvent
from projections.framework import (
    CollectionSpec,
    DocumentTable,
    Notification,
    Projection,
    ProjectionContext,
    ProjectionState,
)
from projections.framework.checkpoints import Checkpoint, ErrorInfo, RebuildInfo
from projections.framework.projection import parse_physical_name, physical_name
from projections.framework.status import RateMeter, build_status
from tests.unit.projections_framework.fakes import event


class Counter(Projection):
    name = "counter"
    collections = (CollectionSpec("counter"),)

    def __init__(self) -> None:
        self.seen: list[int] = []

    def handlers(self) -> Mapping[str, Callable[[RecordedEvent], None]]:
        return {"A": lambda e: self.seen.append(e.position)}

    async def flush(self, ctx: ProjectionContext) -> list[Notification]:
        return []


def test_routing_is_the_explicit_table() -> None:
    counter = Counter()
    assert counter.handles == frozenset({"A"})
    counter.apply(event(4, "A"))
    assert counter.seen == [4]
    with pytest.raises(KeyError):
        counter.apply(event(5, "B"))


def test_generation_names_round_trip() -> None:
    assert physical_name("opportunity_view", 3) == "opportunity_view__g3"
    assert parse_physical_name("opportunity_view__g3") == ("opportunity_view", 3)
    assert parse_physical_name("projection_state") is None
    with pytest.raises(ValueError):
        CollectionSpec("x__g2")


def test_document_table_applies_each_event_once_per_document() -> None:
    table = DocumentTable("t")
    doc = table.edit("k", event(5, "A"))
    assert doc == {"_id": "k", "_pos": 5}
    assert table.edit("k", event(5, "A")) is None, "same event again: already in"
    assert table.edit("k", event(3, "A")) is None, "older event: already in"
    assert table.edit("k", event(6, "A")) is not None
    assert table.changed_keys() == ["k"]
    assert not table.delete("k", event(6, "B")), "a delete at the same position is old news"
    assert table.delete("k", event(7, "B"))
    assert "k" not in table and table.get("k") is None and len(table) == 0
    assert not table.delete("k", event(8, "B"))


def test_rate_meter_counts_over_its_window() -> None:
    now = [100.0]
    meter = RateMeter(window=10, clock=lambda: now[0])
    assert meter.rate() == 0.0
    meter.add(50)
    now[0] += 5
    meter.add(50)
    assert meter.rate() == pytest.approx(100 / 5)
    now[0] += 20
    assert meter.rate() == 0.0


def test_rate_meter_forgets_exactly_what_leaves_its_window() -> None:
    # The running total against a plain sum of the samples still inside the window.
    now = [0.0]
    meter = RateMeter(window=10, clock=lambda: now[0])
    added: list[tuple[float, int]] = []
    for step in range(200):
        count = (step * 7) % 13
        meter.add(count)
        added.append((now[0], count))
        now[0] += 0.37 * (1 + step % 5)
        inside = [(t, c) for t, c in added if t >= now[0] - 10]
        expected = sum(c for _, c in inside) / max(now[0] - inside[0][0], 1.0) if inside else 0.0
        assert meter.rate() == pytest.approx(expected)
    now[0] += 11
    assert meter.rate() == 0.0
    meter.add(30)  # nothing of the forgotten samples is left in the total
    now[0] += 2
    assert meter.rate() == pytest.approx(30 / 2)


def checkpoint(**changes: object) -> Checkpoint:
    base = dict(
        name="p", position=40, generation=1, state=ProjectionState.CATCHING_UP,
        events_per_second=12.0, error=None, rebuild=None, control=None,
        updated_at=datetime(2026, 1, 1, tzinfo=UTC),
    )  # fmt: skip
    return Checkpoint(**(base | changes))  # type: ignore[arg-type]


def test_status_numbers() -> None:
    status = build_status(checkpoint(), head=100, rebuilding=False)
    assert (status.position, status.head_position, status.lag) == (40, 100, 60)
    assert status.progress == pytest.approx(0.4)
    live = build_status(checkpoint(state=ProjectionState.LIVE, position=100), 100, False)
    assert live.lag == 0 and live.progress is None


def test_status_while_rebuilding_and_when_stuck() -> None:
    record = RebuildInfo(2, 25, 100, 900.0, 0.0, None)
    status = build_status(checkpoint(rebuild=record), head=100, rebuilding=True)
    assert status.state is ProjectionState.REBUILDING
    assert status.progress == pytest.approx(0.25) and status.events_per_second == 900.0
    crashed = build_status(checkpoint(rebuild=record), head=100, rebuilding=False)
    assert crashed.state is ProjectionState.CATCHING_UP, "no rebuild lease: not rebuilding"
    error = ErrorInfo("ValueError: boom", position=41, event_type="A", attempts=6)
    paused = checkpoint(state=ProjectionState.PAUSED, error=error, rebuild=record)
    status = build_status(paused, head=100, rebuilding=True)
    assert status.state is ProjectionState.PAUSED
    assert status.last_error == "A at position 41: ValueError: boom"
