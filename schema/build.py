"""The executable schema: types, scalars, limits, authentication gate and error codes."""

from __future__ import annotations

import logging
from collections.abc import Callable

import strawberry
from graphql import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.schema.config import StrawberryConfig
from strawberry.types.execution import ExecutionContext

from schema.auth_gate import auth_gate
from schema.error_codes import NO_OUTAGES, ErrorCodes, Outages, is_unexpected, outage_of, root_cause
from schema.executor import PulseExecutor
from schema.limits import MAX_ALIASES, MAX_COST, MAX_DEPTH, MAX_SELECTIONS, limit_extensions
from schema.mutation import Mutation
from schema.query import Query
from schema.query_cache import QueryCache
from schema.scalars import SCALAR_MAP
from schema.subscription import Subscription

log = logging.getLogger("pulse.graphql")


class PulseSchema(strawberry.Schema):
    outages: Outages = NO_OUTAGES

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        # Expected errors (bad input, access refused) are the client's business; an outage
        # is one warning line; only the unexpected ones are logged with their traceback,
        # before ErrorCodes masks them.
        for error in errors:
            what = outage_of(error, self.outages)
            if what is not None:
                log.warning("graphql: %s is down (%s)", what, type(root_cause(error)).__name__)
            elif is_unexpected(error, self.outages):
                cause = root_cause(error) or error
                log.error(
                    "graphql: unexpected error at %s: %s",
                    ".".join(str(p) for p in error.path or ()) or "(operation)",
                    type(cause).__name__,
                    exc_info=(type(cause), cause, cause.__traceback__),
                )


def build_schema(
    *,
    public_introspection: bool = False,
    max_depth: int = MAX_DEPTH,
    max_aliases: int = MAX_ALIASES,
    max_selections: int = MAX_SELECTIONS,
    max_cost: int = MAX_COST,
    outages: Outages = NO_OUTAGES,
) -> PulseSchema:
    """``outages``: exception types meaning "a service is down" and what to call it (the
    application's drivers; the schema knows none): INTERNAL with a message saying so."""

    def error_codes() -> SchemaExtension:
        return ErrorCodes(outages=outages)

    extensions: list[Callable[[], SchemaExtension] | type[SchemaExtension]] = [
        QueryCache,
        *limit_extensions(max_depth, max_aliases, max_selections, max_cost),
        auth_gate(public_introspection, outages),
        error_codes,  # last: it sees every error the others produced
    ]
    schema = PulseSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=extensions,
        config=StrawberryConfig(scalar_map=SCALAR_MAP),
        execution_context_class=PulseExecutor,
    )
    schema.outages = outages
    return schema
