"""Parse and validate each distinct operation text once, not on every request.

Dashboards send the same few operations over and over; parsing and validating them was
about a fifth of a `dashboard` request's CPU (bench/LESSONS.md, item 8). Strawberry's own
``ParserCache``/``ValidationCache`` would do, but they cache any text up to 256 KiB (a
client sending unique large documents could pin a lot of memory in the cache) and they
cache validation *errors*, whose GraphQLError objects would then be shared by requests.
So here:

* only texts up to ``MAX_CACHED_CHARS`` are cached (every real operation is far smaller);
* only a successful validation is remembered, keyed by the text and the exact tuple of
  rules (which differs when an extension adds rules for some callers); a document that
  fails validation is validated again each time, as before, and gets fresh errors;
* a text that does not parse is left to Strawberry, which reports it as usual.

Parsed documents are shared between requests: graphql-core never mutates them.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from graphql import DocumentNode, GraphQLSchema, parse
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document

MAX_CACHED_CHARS = 16 * 1024
CACHE_SIZE = 256


@lru_cache(maxsize=CACHE_SIZE)
def _parsed(query: str, options: tuple[tuple[str, Any], ...]) -> DocumentNode:
    return parse(query, **dict(options))


# Keys hold the schema and rule objects themselves (not their ids, which could be reused).
_valid: dict[tuple[GraphQLSchema, str, tuple[type, ...]], None] = {}


def _remember_valid(key: tuple[GraphQLSchema, str, tuple[type, ...]]) -> None:
    if len(_valid) >= CACHE_SIZE:
        _valid.pop(next(iter(_valid)))  # the oldest entry (insertion order)
    _valid[key] = None


class QueryCache(SchemaExtension):
    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        query = context.query
        if context.graphql_document is None and query and len(query) <= MAX_CACHED_CHARS:
            try:
                options = tuple(sorted(context.parse_options.items()))
                context.graphql_document = _parsed(query, options)
            except Exception:
                context.graphql_document = None
        yield

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        query, document = context.query, context.graphql_document
        if (
            query
            and len(query) <= MAX_CACHED_CHARS
            and document is not None
            and context.pre_execution_errors is None
            and context.validation_rules
        ):
            schema: GraphQLSchema = context.schema._schema
            key = (schema, query, tuple(context.validation_rules))
            if key in _valid:
                context.pre_execution_errors = []
            else:
                errors = validate_document(schema, document, tuple(context.validation_rules))
                context.pre_execution_errors = errors
                if not errors:
                    _remember_valid(key)
        yield
