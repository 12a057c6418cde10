"""The GraphQL executor: Strawberry's, with per-event state that does not outlive its event.

graphql-core 3.3 runs each subscription event on ``build_per_event_executor``'s shallow copy
of the subscription's executor, which shares ``_relevant_sub_fields``: the memo of
collected sub-fields, keyed by ``id()`` of a field group and holding the group alive. Every
event collects its root fields afresh, so every event adds one entry per object-typed
selection below them, for as long as the subscription lives. A long-lived
``dashboardUpdated`` subscription therefore grew by every push it sent: in the 1,000
subscriber load run (docs/RELIABILITY.md) that was most of the server's steady RSS rise
(tracemalloc: +69k ``FieldDetails`` and their collected fields in two minutes).

Each event executor gets its own memo instead: lists within one event are still memoised
(a dashboard's team rows share one collection), and the memo goes with the event.
``_stream_usages`` (``@stream``, keyed the same way) gets the same treatment.
"""

from __future__ import annotations

from typing import Any

from graphql.execution import Executor
from graphql.pyutils import RefMap
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext


class PulseExecutor(StrawberryGraphQLCoreExecutionContext):
    def build_per_event_executor(self, payload: Any) -> Executor[Any]:
        executor = super().build_per_event_executor(payload)
        executor._relevant_sub_fields = {}
        executor._stream_usages = RefMap()
        return executor
