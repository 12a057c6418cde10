"""No operation runs for an unauthenticated or unauthorised caller.

Queries and mutations are checked once, before execution, so the client gets one
UNAUTHENTICATED/FORBIDDEN error instead of one per field. Subscriptions were authenticated
in ``connection_init``; their resolvers ask the session again (Strawberry does not let an
extension stop a subscription from starting), which also re-checks expiry and access.

Introspection-only operations are public when the server is configured so (GraphiQL in
development): the schema is the published frontend contract anyway.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable

from graphql import ExecutionResult as GraphQLExecutionResult
from graphql import FieldNode, GraphQLError, OperationDefinitionNode
from strawberry.extensions import SchemaExtension
from strawberry.types.execution import ExecutionContext

from schema.error_codes import NO_OUTAGES, Outages, outage_message, outage_named
from schema.errors import INTERNAL_MESSAGE, ApiError, Unavailable

log = logging.getLogger("pulse.graphql")


def introspection_only(execution_context: ExecutionContext) -> bool:
    document = execution_context.graphql_document
    if document is None:
        return False
    wanted = execution_context.operation_name
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    chosen = [o for o in operations if wanted is None or (o.name and o.name.value == wanted)]
    if len(chosen) != 1:
        return False
    return all(
        isinstance(s, FieldNode) and s.name.value.startswith("__")
        for s in chosen[0].selection_set.selections
    )


class AuthGate(SchemaExtension):
    def __init__(
        self, *, public_introspection: bool = False, outages: Outages = NO_OUTAGES
    ) -> None:
        self._public_introspection = public_introspection
        self._outages = outages

    async def on_execute(self) -> AsyncIterator[None]:
        execution = self.execution_context
        if not (self._public_introspection and introspection_only(execution)):
            refusal = await self._refusal(execution, self._outages)
            if refusal is not None:
                # A result set here replaces execution (Strawberry's short-circuit).
                error = GraphQLError(refusal.message, original_error=refusal)
                execution.result = GraphQLExecutionResult(data=None, errors=[error])
        yield

    @staticmethod
    async def _refusal(execution: ExecutionContext, outages: Outages) -> ApiError | None:
        session = getattr(execution.context, "session", None)
        try:
            if session is None:
                raise Unavailable(INTERNAL_MESSAGE)
            await session.caller()
        except ApiError as refused:
            return refused
        except Exception as exc:
            what = outage_named(exc, outages)
            if what is not None:
                log.warning("graphql: could not establish the caller: %s is down", what)
                return Unavailable(outage_message(what))
            log.exception("graphql: could not establish the caller")
            return Unavailable(INTERNAL_MESSAGE)
        return None


def auth_gate(
    public_introspection: bool, outages: Outages = NO_OUTAGES
) -> Callable[[], SchemaExtension]:
    def make() -> SchemaExtension:
        return AuthGate(public_introspection=public_introspection, outages=outages)

    return make
