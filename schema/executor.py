"""The GraphQL executor: Strawberry's, with per-event state that does not outlive its event,
and plain-data selections completed without per-field machinery (``schema.plain_completion``).

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
``_stream_usages`` (``@stream``, keyed the same way) gets the same treatment, and so do
the plain-completion plans (keyed by the collected field sets of that memo).
"""

from __future__ import annotations

from typing import Any

from graphql import GraphQLList, GraphQLObjectType, GraphQLResolveInfo
from graphql.execution import Executor
from graphql.pyutils import AwaitableOrValue, Path, RefMap
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from schema.plain_completion import (
    Complete,
    FieldDetailsList,
    FieldPlan,
    GroupedFieldSet,
    PlainCompleter,
)


class PulseExecutor(StrawberryGraphQLCoreExecutionContext):
    _plain: PlainCompleter | None = None

    def build_per_event_executor(self, payload: Any) -> Executor[Any]:
        executor = super().build_per_event_executor(payload)
        executor._relevant_sub_fields = {}
        executor._stream_usages = RefMap()
        if isinstance(executor, PulseExecutor):
            executor._plain = None
        return executor

    # ------------------------------------------------------------ plain completion
    def _completer(self) -> PlainCompleter | None:
        """None when a field middleware is installed: it must see every field."""
        if self.middleware_manager is not None and self.middleware_manager.middlewares:
            return None
        if self._plain is None:
            self._plain = PlainCompleter(self._collect_plain)
        return self._plain

    def _collect_plain(
        self, object_type: GraphQLObjectType, field_details_list: FieldDetailsList
    ) -> GroupedFieldSet | None:
        collected = self.collect_subfields(object_type, field_details_list)
        if collected.new_defer_usages or collected.forbidden_directive_instances:
            return None
        return collected.grouped_field_set

    def complete_object_value(
        self,
        return_type: GraphQLObjectType,
        field_details_list: FieldDetailsList,
        info: GraphQLResolveInfo[Any],
        path: Path,
        result: Any,
        position_context: Any,
    ) -> AwaitableOrValue[dict[str, Any]]:
        completer = self._completer()
        if completer is not None:
            done = _attempt(completer.object_completion(return_type, field_details_list), result)
            if done is not GAVE_UP:
                return done  # type: ignore[no-any-return]
        return super().complete_object_value(
            return_type, field_details_list, info, path, result, position_context
        )

    def complete_list_value(
        self,
        return_type: GraphQLList[Any],
        field_details_list: FieldDetailsList,
        info: GraphQLResolveInfo[Any],
        path: Path,
        result: Any,
        position_context: Any,
    ) -> AwaitableOrValue[list[Any]]:
        # A list of plain objects (a dashboard's team rows) in one pass: graphql-core's list
        # completion costs a path, an awaitable check and three calls per item.
        completer = self._completer()
        if completer is not None and isinstance(result, list | tuple):
            done = _attempt(completer.list_completion(return_type, field_details_list), result)
            if done is not GAVE_UP:
                return done  # type: ignore[no-any-return]
        return super().complete_list_value(
            return_type, field_details_list, info, path, result, position_context
        )

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: dict[str, FieldDetailsList],
        position_context: Any,
    ) -> AwaitableOrValue[dict[str, Any]]:
        # An object whose selection is only partly plain (an opportunity: a dozen attributes
        # beside its ``salesperson`` resolver): its plain fields are completed here, the
        # others, and any plain one whose value is not plain, by graphql-core as usual.
        completer = self._completer()
        plan = None if completer is None else completer.field_plan(parent_type, grouped_field_set)
        if plan is None:
            return super().execute_fields(
                parent_type, source_value, path, grouped_field_set, position_context
            )
        done: dict[str, Any] = {}
        rest: dict[str, FieldDetailsList] = {}
        for key, details, step in plan:
            if step is not None:
                try:
                    done[key] = step[1](step[0](source_value))
                    continue
                except Exception:  # noqa: S110 - graphql-core completes it again, with its error
                    pass
            rest[key] = details
        if not rest:
            return done
        executed = super().execute_fields(parent_type, source_value, path, rest, position_context)
        if self.is_awaitable(executed):

            async def in_order() -> dict[str, Any]:
                return _in_selection_order(plan, done, await executed)

            return in_order()
        return _in_selection_order(plan, done, executed)  # type: ignore[arg-type]


def _in_selection_order(
    plan: FieldPlan, done: dict[str, Any], executed: dict[str, Any]
) -> dict[str, Any]:
    """Response keys in the order of the selection, as graphql-core would build them (a
    field graphql-core leaves out, unknown to the schema, stays out)."""
    return {
        key: done[key] if key in done else executed[key]
        for key, _, _ in plan
        if key in done or key in executed
    }


GAVE_UP = object()


def _attempt(complete: Complete | None, result: Any) -> Any:
    """The fast path's value, or ``GAVE_UP``: no fast path for this selection, or the value
    is not plain (graphql-core then completes it from the start and reports any error)."""
    if complete is None:
        return GAVE_UP
    try:
        return complete(result)
    except Exception:
        return GAVE_UP
