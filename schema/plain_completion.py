"""Completing plain-data selections without graphql-core's per-field machinery.

graphql-core completes every field the same way: a ``GraphQLResolveInfo`` and a ``Path``
built, the resolver called, its result checked for awaitables, then the value completed
through the type's wrappers. That is ~3 µs a field on this machine, and a CEO's or an
admin's dashboard has a team row per user: 1,000 rows of 15 fields, ~50 ms of CPU per
render, for a response that is nothing but data the projection already computed.

Most of that work is only needed when something can happen per field: a resolver with
arguments or side effects, an awaitable, a middleware, ``@defer``/``@stream``, an abstract
type. A *plain* selection has none of these: every selected field is a Strawberry field
without a resolver of its own (an attribute read) and takes no argument, and every object
below it is a concrete object type whose selection is plain too. Such a selection is
completed here by a function compiled once per collected field set: read the attribute,
check nullability, coerce leaves with the type's own ``coerce_output_value``, recurse.
Same values, same keys in the same order, same coercion.

Anything unexpected (a null in a non-null field, a leaf that does not coerce, a value that
is not a list where one is expected) raises, and the caller lets graphql-core complete that
value again from the start, producing its usual error and path. That is safe because a
plain selection only reads attributes: nothing runs twice that could notice.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from typing import Any

from graphql import (
    GraphQLBoolean,
    GraphQLField,
    GraphQLFloat,
    GraphQLID,
    GraphQLInt,
    GraphQLLeafType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    GraphQLString,
)
from graphql.execution.collect_fields import FieldDetails
from graphql.pyutils import Undefined
from graphql.type.scalars import GRAPHQL_MAX_INT, GRAPHQL_MIN_INT

FieldDetailsList = list[FieldDetails]
GroupedFieldSet = Mapping[str, FieldDetailsList]
Collect = Callable[[GraphQLObjectType, FieldDetailsList], GroupedFieldSet | None]
Complete = Callable[[Any], Any]
"""Completes one value of a compiled (wrapped) output type; raises ``NotPlain``."""
FieldStep = tuple[Callable[[Any], Any], Complete]
"""A plain field: read its value from the source, then complete it."""
FieldPlan = list[tuple[str, FieldDetailsList, FieldStep | None]]
"""Per response key of a selection: its field nodes, and its step when the field is plain."""

STRAWBERRY_FIELD = "strawberry-definition"  # GraphQLCoreConverter.DEFINITION_BACKREF


class NotPlain(Exception):  # a signal, not an error
    """This value cannot be completed on the fast path: let graphql-core do it."""


def attribute_getter(field: GraphQLField) -> Callable[[Any], Any] | None:
    """How a plain field reads its value, or None when the field is not plain: a Strawberry
    field with no resolver, no permission or extension, and the default (getattr) resolver."""
    if field.args:
        return None
    definition = (field.extensions or {}).get(STRAWBERRY_FIELD)
    if definition is None or not getattr(field.resolve, "_is_default", False):
        return None
    # Strawberry marks a resolver-less field with permission classes or field extensions
    # "default" too, and those must run: only a basic field (neither) is a plain read.
    if not getattr(definition, "is_basic_field", False):
        return None
    if getattr(definition, "default_resolver", None) is not getattr:
        return None
    return operator.attrgetter(definition.python_name)


def _non_null(inner: Complete) -> Complete:
    def complete(value: Any) -> Any:
        completed = inner(value)
        if completed is None:
            raise NotPlain
        return completed

    return complete


def _exact(kind: type) -> Callable[[Any], bool]:
    return lambda value: type(value) is kind


def _is_int32(value: Any) -> bool:
    return type(value) is int and GRAPHQL_MIN_INT <= value <= GRAPHQL_MAX_INT


def _is_finite_float(value: Any) -> bool:
    return type(value) is float and value - value == 0.0  # NaN and +-inf give NaN


# Values the built-in scalars return unchanged (their serializers' first case): checked by
# exact type, anything else goes through the scalar's own coercion.
PASS_THROUGH: dict[GraphQLScalarType, Callable[[Any], bool]] = {
    GraphQLInt: _is_int32,
    GraphQLFloat: _is_finite_float,
    GraphQLString: _exact(str),
    GraphQLID: _exact(str),
    GraphQLBoolean: _exact(bool),
}


def _leaf(leaf_type: GraphQLLeafType, *, non_null: bool) -> Complete:
    coerce = leaf_type.coerce_output_value
    unchanged = PASS_THROUGH.get(leaf_type) if isinstance(leaf_type, GraphQLScalarType) else None

    def complete(value: Any) -> Any:
        if value is None or value is Undefined:
            if non_null:
                raise NotPlain
            return None
        if unchanged is not None and unchanged(value):
            return value
        coerced = coerce(value)
        if coerced is None or coerced is Undefined:
            raise NotPlain
        return coerced

    return complete


def _list(inner: Complete) -> Complete:
    def complete(value: Any) -> Any:
        if value is None or value is Undefined:
            return None
        if not isinstance(value, list | tuple):
            raise NotPlain
        return [inner(item) for item in value]

    return complete


def _object(fields: list[tuple[str, Callable[[Any], Any], Complete]], typename: str) -> Complete:
    def complete(value: Any) -> Any:
        if value is None or value is Undefined:
            return None
        return {key: finish(get(value)) for key, get, finish in fields}

    return complete


def _typename(name: str) -> Callable[[Any], Any]:
    return lambda _source: name


def _identity(value: Any) -> Any:
    return value


class PlainCompleter:
    """Compiled completions for one executor's collected field sets (their identity is
    stable within an execution: graphql-core memoises ``collect_subfields`` per field group,
    and every item of a list shares its group)."""

    def __init__(self, collect: Collect) -> None:
        self._collect = collect
        # id(grouped field set) -> (the set, kept alive so its id is not reused; completion)
        self._objects: dict[int, tuple[GroupedFieldSet, Complete | None]] = {}
        self._plans: dict[int, tuple[GroupedFieldSet, FieldPlan | None]] = {}

    def object_completion(
        self, object_type: GraphQLObjectType, field_details_list: FieldDetailsList
    ) -> Complete | None:
        """How to complete ``object_type`` under these field nodes, or None if not plain."""
        if object_type.is_type_of is not None:
            return None  # a runtime type check graphql-core must make
        grouped = self._collect(object_type, field_details_list)
        if grouped is None:
            return None
        cached = self._objects.get(id(grouped))
        if cached is not None:
            return cached[1]
        completion = self._compile(object_type, grouped)
        self._objects[id(grouped)] = (grouped, completion)
        return completion

    def list_completion(
        self, list_type: GraphQLList[Any], field_details_list: FieldDetailsList
    ) -> Complete | None:
        """How to complete a list field's value, or None (also under ``@stream``)."""
        if any(d.node.directives for d in field_details_list):
            return None
        return self._type(list_type, field_details_list)

    def field_plan(
        self, object_type: GraphQLObjectType, grouped: GroupedFieldSet
    ) -> FieldPlan | None:
        """Per field of a selection that mixes plain fields with others (an opportunity's
        attributes beside its ``salesperson`` resolver): how to complete each plain one, or
        None for a field graphql-core must execute. None when no field is plain."""
        cached = self._plans.get(id(grouped))
        if cached is not None:
            return cached[1]
        steps = [
            (key, details, self._field(object_type, details)) for key, details in grouped.items()
        ]
        plan = steps if any(step is not None for _, _, step in steps) else None
        self._plans[id(grouped)] = (grouped, plan)
        return plan

    def _compile(self, object_type: GraphQLObjectType, grouped: GroupedFieldSet) -> Complete | None:
        fields: list[tuple[str, Callable[[Any], Any], Complete]] = []
        for response_key, details in grouped.items():
            step = self._field(object_type, details)
            if step is None:
                return None
            fields.append((response_key, *step))
        return _object(fields, object_type.name)

    def _field(self, object_type: GraphQLObjectType, details: FieldDetailsList) -> FieldStep | None:
        """How to read and complete one plain field, or None when it is not plain."""
        if any(d.defer_usage is not None or d.node.directives for d in details):
            return None  # @defer, or directives the general path must see
        name = details[0].node.name.value
        if name == "__typename":
            return _typename(object_type.name), _identity
        field = object_type.fields.get(name)
        get = None if field is None else attribute_getter(field)
        if field is None or get is None:
            return None
        finish = self._type(field.type, details)
        return None if finish is None else (get, finish)

    def _type(self, output_type: GraphQLOutputType, details: FieldDetailsList) -> Complete | None:
        if isinstance(output_type, GraphQLNonNull):
            if isinstance(output_type.of_type, GraphQLLeafType):
                return _leaf(output_type.of_type, non_null=True)
            inner = self._type(output_type.of_type, details)
            return None if inner is None else _non_null(inner)
        if isinstance(output_type, GraphQLList):
            inner = self._type(output_type.of_type, details)
            return None if inner is None else _list(inner)
        if isinstance(output_type, GraphQLLeafType):
            return _leaf(output_type, non_null=False)
        if isinstance(output_type, GraphQLObjectType):
            return self.object_completion(output_type, details)
        return None  # interfaces and unions: graphql-core resolves the runtime type
