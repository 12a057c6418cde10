"""Every error leaves with an ``extensions.code`` and nothing a client should not see.

* ``ApiError`` raised anywhere (resolvers, the auth gate): its code and message.
* Errors outside field execution that Python code did not raise (syntax, validation,
  variable coercion, depth/alias/cost limits): BAD_USER_INPUT, with graphql-core's message.
* An outage (an exception type the application names as "this service is down": the
  database, Redis): INTERNAL with a message that says what is down and to retry, logged
  as one warning line (no traceback: nothing is wrong with the code).
* Anything else (a bug): INTERNAL with a generic message; the original is logged
  server-side with its traceback (``PulseSchema.process_errors``).

``ensure_codes`` is the transport's last line: an error dict that still has no code (an
exception the extension never saw) is replaced by a generic INTERNAL one.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.types.execution import ExecutionContext, StreamExecutionResult

from schema.errors import INTERNAL_MESSAGE, ApiError, ErrorCode

log = logging.getLogger("pulse.graphql")

_INPUT_ERRORS = (GraphQLError, ValueError, TypeError)  # coercion of variables and literals

#: Exception types that mean a service this process needs is down -> what to call it in the
#: message ("the database"). Given by the application (the schema knows no drivers).
Outages = Mapping[type[BaseException], str]
NO_OUTAGES: Outages = {}


def outage_message(what: str) -> str:
    return f"Temporarily unavailable: {what} cannot be reached; retry shortly"


def outage_named(exc: BaseException | None, outages: Outages) -> str | None:
    """What is down, when ``exc`` is one of ``outages``."""
    return next((what for kind, what in outages.items() if isinstance(exc, kind)), None)


def outage_of(error: GraphQLError, outages: Outages) -> str | None:
    """What is down, when the error's cause is one of ``outages``."""
    return outage_named(root_cause(error), outages)


def root_cause(error: GraphQLError) -> BaseException | None:
    cause = error.original_error
    while isinstance(cause, GraphQLError) and cause.original_error is not None:
        cause = cause.original_error
    return cause


def classify(error: GraphQLError, outages: Outages = NO_OUTAGES) -> tuple[ErrorCode, str]:
    """The code and the client-safe message of one error."""
    code = (error.extensions or {}).get("code")
    if isinstance(code, str) and code in ErrorCode.__members__:
        return ErrorCode(code), error.message  # already classified (this extension ran)
    cause = root_cause(error)
    if isinstance(cause, ApiError):
        return cause.code, cause.message
    if error.path is None and (
        cause is None or (isinstance(cause, _INPUT_ERRORS) and bool(error.nodes))
    ):
        # Syntax and validation errors have no cause; coercion errors point at the
        # variable or literal (nodes). An exception from running code has neither.
        return ErrorCode.BAD_USER_INPUT, error.message
    what = outage_of(error, outages)
    if what is not None:
        return ErrorCode.INTERNAL, outage_message(what)
    return ErrorCode.INTERNAL, INTERNAL_MESSAGE


def is_unexpected(error: GraphQLError, outages: Outages = NO_OUTAGES) -> bool:
    """INTERNAL for a reason nobody expected: a bug, worth a traceback in the log."""
    return (
        classify(error, outages)[0] is ErrorCode.INTERNAL
        and not isinstance(root_cause(error), ApiError)
        and outage_of(error, outages) is None
    )


def with_code(error: GraphQLError, outages: Outages = NO_OUTAGES) -> GraphQLError:
    code, message = classify(error, outages)
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=None,  # nothing of the original travels further
        extensions={"code": code.value},
    )


class ErrorCodes(SchemaExtension):
    def __init__(
        self, *, execution_context: ExecutionContext | None = None, outages: Outages = NO_OUTAGES
    ) -> None:
        self._streamed = False
        self._outages = outages

    def _rewrite(self, result: Any) -> None:
        errors = getattr(result, "errors", None)
        if errors:
            result.errors = [with_code(e, self._outages) for e in errors]

    def on_operation(self) -> Iterator[None]:
        self._streamed = False
        yield
        if not self._streamed:
            self._rewrite(self.execution_context.result)

    def on_stream_result(self, result: StreamExecutionResult) -> Iterator[None]:
        self._streamed = True
        self._rewrite(result)
        yield None


def ensure_codes(errors: Sequence[object]) -> list[object]:
    """For formatted errors (dicts) about to be sent: any without a known code becomes a
    generic INTERNAL error (location kept, message and everything else dropped)."""
    safe: list[object] = []
    for error in errors:
        extensions = error.get("extensions") if isinstance(error, dict) else None
        code = extensions.get("code") if isinstance(extensions, dict) else None
        if isinstance(code, str) and code in ErrorCode.__members__:
            safe.append(error)
            continue
        log.error("graphql: an error without a code reached the transport; sent as INTERNAL")
        masked: dict[str, Any] = {"message": INTERNAL_MESSAGE, "extensions": {"code": "INTERNAL"}}
        if isinstance(error, dict) and error.get("path") is not None:
            masked["path"] = error["path"]
        safe.append(masked)
    return safe
