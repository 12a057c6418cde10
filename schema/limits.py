"""Refuse operations that are too expensive before running them (validation rules).

* depth: Strawberry's ``QueryDepthLimiter``;
* aliases: Strawberry's ``MaxAliasesLimiter`` (aliases multiply work cheaply);
* cost: ``cost_rule`` below estimates the fields a query could resolve: every field counts
  once per item of each enclosing paginated list, a list's size being its ``first``/``last``
  argument (the largest page when a variable gives it, since validation cannot see
  variables; the declared default when it is left out).
  Fragments are expanded where they are used, so a fragment "bomb" is counted in full; the
  walk stops as soon as a limit is passed. Introspection fields (``__schema``...) are free.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from graphql import (
    FieldNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
    get_named_type,
)
from strawberry.extensions import AddValidationRules, MaxAliasesLimiter, QueryDepthLimiter
from strawberry.extensions.base_extension import SchemaExtension

MAX_DEPTH = 12
MAX_ALIASES = 30
MAX_SELECTIONS = 400  # field selections after fragment expansion
MAX_COST = 20_000  # estimated resolved fields
LIST_SIZE_ARGUMENTS = ("first", "last")
ASSUMED_MAX_LIST = 200  # a list size given by a variable: assume the largest page


@dataclass
class _Budget:
    selections: int = 0
    cost: int = 0
    exceeded: str | None = None


def _list_size(field: FieldNode, definition: GraphQLField | None) -> int:
    """Items a paginated field may return: its literal ``first``/``last``, the largest page
    when a variable gives it, its default when it is left out; 1 for other fields."""
    for argument in field.arguments or ():
        if argument.name.value in LIST_SIZE_ARGUMENTS:
            value = argument.value
            if isinstance(value, IntValueNode):
                return max(int(value.value), 1)
            return ASSUMED_MAX_LIST
    if definition is not None:
        for name in LIST_SIZE_ARGUMENTS:
            declared = definition.args.get(name)
            if declared is not None and isinstance(declared.default_value, int):
                return max(declared.default_value, 1)
    return 1


def _field_def(parent: GraphQLNamedType | None, name: str) -> GraphQLField | None:
    if isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
        found: GraphQLField | None = parent.fields.get(name)
        return found
    return None


def cost_rule(
    max_selections: int = MAX_SELECTIONS, max_cost: int = MAX_COST
) -> type[ValidationRule]:
    class CostLimit(ValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            schema = context.schema
            roots = {
                OperationType.QUERY: schema.query_type,
                OperationType.MUTATION: schema.mutation_type,
                OperationType.SUBSCRIPTION: schema.subscription_type,
            }
            for definition in context.document.definitions:
                if isinstance(definition, OperationDefinitionNode):
                    budget = _Budget()
                    root = roots.get(definition.operation)
                    self._walk(definition.selection_set, root, 1, budget, frozenset())
                    if budget.exceeded is not None:
                        context.report_error(GraphQLError(budget.exceeded, definition))

        def _type_named(
            self, name: str, fallback: GraphQLNamedType | None
        ) -> GraphQLNamedType | None:
            found = self.context.schema.get_type(name)
            return found if found is not None else fallback

        def _walk(
            self,
            node: SelectionSetNode,
            parent: GraphQLNamedType | None,
            multiplier: int,
            budget: _Budget,
            path: frozenset[str],
        ) -> None:
            for selection in node.selections:
                if budget.exceeded is not None:
                    return
                if isinstance(selection, FieldNode):
                    if selection.name.value.startswith("__"):
                        continue
                    budget.selections += 1
                    budget.cost += multiplier
                    if budget.selections > max_selections:
                        budget.exceeded = f"The operation selects more than {max_selections} fields"
                    elif budget.cost > max_cost:
                        budget.exceeded = (
                            f"The operation could resolve more than {max_cost} fields: "
                            "ask for smaller pages or fewer fields"
                        )
                    elif selection.selection_set is not None:
                        definition = _field_def(parent, selection.name.value)
                        child = None if definition is None else get_named_type(definition.type)
                        inner = multiplier * _list_size(selection, definition)
                        self._walk(selection.selection_set, child, inner, budget, path)
                elif isinstance(selection, InlineFragmentNode):
                    condition = selection.type_condition
                    scope = (
                        parent
                        if condition is None
                        else self._type_named(condition.name.value, parent)
                    )
                    self._walk(selection.selection_set, scope, multiplier, budget, path)
                elif isinstance(selection, FragmentSpreadNode):
                    name = selection.name.value
                    fragment = self.context.get_fragment(name)
                    if fragment is not None and name not in path:  # cycles: graphql reports
                        scope = self._type_named(fragment.type_condition.name.value, parent)
                        self._walk(fragment.selection_set, scope, multiplier, budget, path | {name})

    return CostLimit


ExtensionFactory = Callable[[], SchemaExtension]


def limit_extensions(
    max_depth: int = MAX_DEPTH,
    max_aliases: int = MAX_ALIASES,
    max_selections: int = MAX_SELECTIONS,
    max_cost: int = MAX_COST,
) -> list[ExtensionFactory]:
    """Factories (Strawberry wants one extension instance per operation)."""
    rule = cost_rule(max_selections, max_cost)

    def depth() -> SchemaExtension:
        return QueryDepthLimiter(max_depth=max_depth)

    def aliases() -> SchemaExtension:
        return MaxAliasesLimiter(max_alias_count=max_aliases)

    def cost() -> SchemaExtension:
        return AddValidationRules([rule])

    return [depth, aliases, cost]
