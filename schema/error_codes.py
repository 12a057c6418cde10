"""Every error leaves with an ``extensions.code`` and nothing a client should not see.

* ``ApiError`` raised anywhere (resolvers, the auth gate): its code and message.
* Errors outside field execution that Python code did not raise (syntax, validation,
  variable coercion, depth/alias/cost limits): BAD_USER_INPUT, with graphql-core's message.
* Anything else (a bug, the database down): INTERNAL with a generic message; the original
  is logged server-side with its traceback (``PulseSchema.process_errors``).

``ensure_codes`` is the transport's last line: an error dict that still has no code (an
exception the extension never saw) is replaced by a generic INTERNAL one.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from typing import Any

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.types.execution import ExecutionContext, StreamExecutionResult

from schema.errors import INTERNAL_MESSAGE, ApiError, ErrorCode

log = logging.getLogger("pulse.graphql")

_INPUT_ERRORS = (GraphQLError, ValueError, TypeError)  # coercion of variables and literals


def root_cause(error: GraphQLError) -> BaseException | None:
    cause = error.original_error
    while isinstance(cause, GraphQLError) and cause.original_error is not None:
        cause = cause.original_error
    return cause


def classify(error: GraphQLError) -> tuple[ErrorCode, str]:
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
    return ErrorCode.INTERNAL, INTERNAL_MESSAGE


def is_unexpected(error: GraphQLError) -> bool:
    return classify(error)[0] is ErrorCode.INTERNAL and not isinstance(root_cause(error), ApiError)


def with_code(error: GraphQLError) -> GraphQLError:
    code, message = classify(error)
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
    def __init__(self, *, execution_context: ExecutionContext | None = None) -> None:
        self._streamed = False

    def _rewrite(self, result: Any) -> None:
        errors = getattr(result, "errors", None)
        if errors:
            result.errors = [with_code(e) for e in errors]

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
