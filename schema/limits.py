"""Refuse operations that are too expensive before running them (one validation rule).

Four limits, each after fragment expansion:

* depth: fields with a selection set on the longest path (as Strawberry's
  ``QueryDepthLimiter`` counts it);
* aliases: aliased fields, counted once per place they are spread (aliases multiply work
  cheaply);
* selections: field selections;
* cost: the fields a query could resolve: every field counts once per item of each
  enclosing paginated list, a list's size being its ``first``/``last`` argument (the largest
  page when a variable gives it, since validation cannot see variables; the declared
  default when it is left out).

Introspection fields (``__schema``...) add no depth, selections or cost; aliases inside them
still count.

Why our own rule rather than Strawberry's limiters: those expand every fragment spread
anew, so a 1 KB document of fragments that each spread the next one twice costs 2**levels
steps on the event loop, before authentication (a denial of service), and a spread of an
undefined fragment made them raise KeyError (INTERNAL instead of BAD_USER_INPUT). Here every
measure is additive (cost is linear in the enclosing multiplier), so each fragment is
summarised once, in dependency order without recursion across fragments: the work is linear
in the document's size whatever the nesting of spreads. Undefined fragments and cycles count
as empty; graphql-core's own rules (KnownFragmentNames, NoFragmentCycles) report them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
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
from strawberry.extensions import AddValidationRules
from strawberry.extensions.base_extension import SchemaExtension

MAX_DEPTH = 12
MAX_ALIASES = 30
MAX_SELECTIONS = 400  # field selections after fragment expansion
MAX_COST = 20_000  # estimated resolved fields
LIST_SIZE_ARGUMENTS = ("first", "last")
ASSUMED_MAX_LIST = 200  # a list size given by a variable: assume the largest page
CEILING = 10**15  # measures saturate here: far above any limit, keeps the integers small
UNLIMITED = CEILING


def _cap(value: int) -> int:
    return min(value, CEILING)


@dataclass
class Measures:
    """What a selection set costs where it is used (cost at multiplier 1)."""

    depth: int = 0
    aliases: int = 0
    selections: int = 0
    cost: int = 0

    def add(self, other: Measures, *, depth_offset: int = 0, multiplier: int = 1) -> None:
        self.depth = max(self.depth, depth_offset + other.depth) if other.depth else self.depth
        self.aliases = _cap(self.aliases + other.aliases)
        self.selections = _cap(self.selections + other.selections)
        self.cost = _cap(self.cost + multiplier * other.cost)


@dataclass
class _Summaries:
    """Per-fragment measures, filled in dependency order."""

    fragments: dict[str, FragmentDefinitionNode]
    done: dict[str, Measures] = field(default_factory=dict)

    def of(self, name: str) -> Measures:
        # Not (yet) summarised means undefined or part of a cycle: both are reported by
        # graphql-core's own rules, so they count as empty here.
        return self.done.get(name, Measures())


def _list_size(node: FieldNode, definition: GraphQLField | None) -> int:
    """Items a paginated field may return: its literal ``first``/``last``, the largest page
    when a variable gives it, its default when it is left out; 1 for other fields."""
    for argument in node.arguments or ():
        if argument.name.value in LIST_SIZE_ARGUMENTS:
            value = argument.value
            if isinstance(value, IntValueNode):
                return min(max(int(value.value), 1), CEILING)
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


def _spreads(node: SelectionSetNode) -> Iterator[str]:
    """Names of the fragments a selection set spreads, at any nesting inside it."""
    for selection in node.selections:
        if isinstance(selection, FragmentSpreadNode):
            yield selection.name.value
        elif isinstance(selection, FieldNode | InlineFragmentNode) and selection.selection_set:
            yield from _spreads(selection.selection_set)


class _Measurer:
    def __init__(self, context: ValidationContext) -> None:
        self._schema = context.schema
        fragments = {
            d.name.value: d
            for d in context.document.definitions
            if isinstance(d, FragmentDefinitionNode)
        }
        self.summaries = _Summaries(fragments)
        for name in self._dependency_order(fragments):
            fragment = fragments[name]
            scope = self._schema.get_type(fragment.type_condition.name.value)
            self.summaries.done[name] = self.measure(fragment.selection_set, scope)

    @staticmethod
    def _dependency_order(fragments: dict[str, FragmentDefinitionNode]) -> list[str]:
        """Fragments, each after the ones it spreads (iterative DFS: no recursion limit
        however long a chain of spreads is). A cycle is cut where it closes."""
        order: list[str] = []
        state: dict[str, int] = {}  # 1: on the stack, 2: placed
        for root in fragments:
            if root in state:
                continue
            state[root] = 1
            stack = [(root, iter(set(_spreads(fragments[root].selection_set))))]
            while stack:
                name, pending = stack[-1]
                for child in pending:
                    if child in fragments and child not in state:
                        state[child] = 1
                        stack.append((child, iter(set(_spreads(fragments[child].selection_set)))))
                        break
                else:
                    stack.pop()
                    state[name] = 2
                    order.append(name)
        return order

    def measure(
        self,
        node: SelectionSetNode,
        parent: GraphQLNamedType | None,
        *,
        introspection: bool = False,
    ) -> Measures:
        total = Measures()
        for selection in node.selections:
            if isinstance(selection, FieldNode):
                self._field(selection, parent, introspection, total)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                scope = parent if condition is None else self._named(condition.name.value, parent)
                total.add(self.measure(selection.selection_set, scope, introspection=introspection))
            elif isinstance(selection, FragmentSpreadNode):
                spread = self.summaries.of(selection.name.value)
                total.add(Measures(aliases=spread.aliases) if introspection else spread)
        return total

    def _field(
        self, node: FieldNode, parent: GraphQLNamedType | None, introspection: bool, total: Measures
    ) -> None:
        introspection = introspection or node.name.value.startswith("__")
        own = Measures(aliases=1 if node.alias else 0)
        if not introspection:
            own.selections, own.cost = 1, 1
        if node.selection_set is not None:
            definition = _field_def(parent, node.name.value)
            child = None if definition is None else get_named_type(definition.type)
            inner = self.measure(node.selection_set, child, introspection=introspection)
            if introspection:
                own.aliases += inner.aliases
            else:
                own.add(inner, depth_offset=1, multiplier=_list_size(node, definition))
                own.depth = max(own.depth, 1)
        total.add(own)

    def _named(self, name: str, fallback: GraphQLNamedType | None) -> GraphQLNamedType | None:
        found = self._schema.get_type(name)
        return found if found is not None else fallback


def limits_rule(
    max_depth: int = MAX_DEPTH,
    max_aliases: int = MAX_ALIASES,
    max_selections: int = MAX_SELECTIONS,
    max_cost: int = MAX_COST,
) -> type[ValidationRule]:
    class OperationLimits(ValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            schema = context.schema
            roots = {
                OperationType.QUERY: schema.query_type,
                OperationType.MUTATION: schema.mutation_type,
                OperationType.SUBSCRIPTION: schema.subscription_type,
            }
            measurer = _Measurer(context)
            for definition in context.document.definitions:
                if isinstance(definition, OperationDefinitionNode):
                    root = roots.get(definition.operation)
                    found = measurer.measure(definition.selection_set, root)
                    name = definition.name.value if definition.name else "anonymous"
                    for message in _breaches(found, name):
                        context.report_error(GraphQLError(message, definition))

    def _breaches(found: Measures, name: str) -> Iterator[str]:
        if found.depth > max_depth:
            yield f"'{name}' exceeds maximum operation depth of {max_depth}"
        if found.aliases > max_aliases:
            yield f"{found.aliases} aliases found. Allowed: {max_aliases}"
        if found.selections > max_selections:
            yield f"The operation selects more than {max_selections} fields"
        elif found.cost > max_cost:
            yield (
                f"The operation could resolve more than {max_cost} fields: "
                "ask for smaller pages or fewer fields"
            )

    return OperationLimits


def cost_rule(
    max_selections: int = MAX_SELECTIONS, max_cost: int = MAX_COST
) -> type[ValidationRule]:
    """Only the selection and cost limits (for checking documents, e.g. the contract's)."""
    return limits_rule(UNLIMITED, UNLIMITED, max_selections, max_cost)


ExtensionFactory = Callable[[], SchemaExtension]


def limit_extensions(
    max_depth: int = MAX_DEPTH,
    max_aliases: int = MAX_ALIASES,
    max_selections: int = MAX_SELECTIONS,
    max_cost: int = MAX_COST,
) -> list[ExtensionFactory]:
    """Factories (Strawberry wants one extension instance per operation)."""
    rule = limits_rule(max_depth, max_aliases, max_selections, max_cost)

    def limits() -> SchemaExtension:
        return AddValidationRules([rule])

    return [limits]
