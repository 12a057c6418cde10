"""A subscription's executor keeps no per-event state: its memory does not grow per push."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from graphql import build_schema as build_sdl
from graphql import parse
from graphql.execution import Executor, map_source_to_response_event
from graphql.execution.incremental import IncrementalExecutor

from schema.build import build_schema
from schema.executor import PulseExecutor

SDL = """
type Row { id: Int!, name: String! }
type Board { total: Int!, rows: [Row!]!, top: Row }
type Query { noop: String }
type Subscription { board: Board! }
"""
OPERATION = parse("subscription { board { total rows { id name } top { id } } }")
EVENTS = 30


async def events() -> AsyncIterator[dict[str, Any]]:
    for n in range(EVENTS):
        rows = [{"id": i, "name": f"r{i}"} for i in range(n % 5 + 1)]
        yield {"board": {"total": n, "rows": rows, "top": rows[0]}}


async def run(executor_class: type[Executor[Any]]) -> tuple[list[Any], list[int]]:
    """Every event's data, and the size of the subscription executor's sub-field memo
    after each event."""
    executor = executor_class.build(build_sdl(SDL), OPERATION)
    assert isinstance(executor, Executor)  # not a list of errors
    sizes: list[int] = []
    data: list[Any] = []
    async for result in map_source_to_response_event(executor, events()):
        assert result.errors is None
        data.append(result.data)
        sizes.append(len(executor._relevant_sub_fields))
    return data, sizes


def test_event_executors_leave_no_memo_behind() -> None:
    data, sizes = asyncio.run(run(PulseExecutor))
    assert len(data) == EVENTS
    assert data[7] == {
        "board": {
            "total": 7,
            "rows": [{"id": 0, "name": "r0"}, {"id": 1, "name": "r1"}, {"id": 2, "name": "r2"}],
            "top": {"id": 0},
        }
    }
    assert set(sizes) == {0}


def test_the_stock_executor_grows_per_event() -> None:
    # Why PulseExecutor exists (graphql-core 3.3.2). When this fails, graphql-core no longer
    # shares the memo between events: PulseExecutor can go.
    data, sizes = asyncio.run(run(IncrementalExecutor))
    assert len(data) == EVENTS
    assert sizes[-1] >= 2 * EVENTS
    assert sizes == sorted(sizes)


def test_the_pulse_schema_uses_it() -> None:
    assert build_schema().execution_context_class is PulseExecutor
