"""PulseExecutor's plain completion gives exactly graphql-core's results: same data, same
keys in the same order, same errors at the same paths, for generated selections (aliases,
fragments, ``@include``/``@skip``, ``__typename``, resolvers and abstract types mixed in)
over generated values (valid ones, and nulls, NaN, out-of-range and wrongly typed values
where the schema says otherwise)."""

from __future__ import annotations

import asyncio
import json
import math
from datetime import UTC, datetime
from enum import Enum
from typing import Any

import strawberry
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from schema.executor import PulseExecutor
from schema.plain_completion import PlainCompleter


@strawberry.enum
class Color(Enum):
    RED = "red"
    BLUE = "blue"


@strawberry.type
class Leaf:
    i: int
    f: float
    s: str
    b: bool
    id: strawberry.ID
    oi: int | None
    of: float | None
    color: Color
    when: datetime
    tags: list[str]
    grid: list[list[int | None]] | None


@strawberry.interface
class Named:
    name: str


@strawberry.type
class Dog(Named):
    barks: bool


@strawberry.type
class Node:
    name: str
    leaf: Leaf
    maybe: Leaf | None
    leaves: list[Leaf]
    opt_leaves: list[Leaf | None] | None
    pet: Named | None

    @strawberry.field
    def computed(self, times: int = 1) -> str:
        return self.name * times

    @strawberry.field
    async def later(self) -> int:
        await asyncio.sleep(0)
        return len(self.name)


@strawberry.type
class Query:
    root: Node
    roots: list[Node]


class Stock(StrawberryGraphQLCoreExecutionContext):
    """graphql-core's own completion, for comparison."""


STOCK = strawberry.Schema(query=Query, types=[Dog], execution_context_class=Stock)
PULSE = strawberry.Schema(query=Query, types=[Dog], execution_context_class=PulseExecutor)

# ------------------------------------------------------------------------------ values
INTS = st.one_of(
    st.integers(-(2**31), 2**31 - 1),
    st.sampled_from([2**31, -(2**31) - 1, 2**40, True, 3.0, 3.5, "7", "x", None]),
)
FLOATS = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([math.nan, math.inf, -math.inf, 5, True, "2.5", "nope", None]),
)
STRINGS = st.one_of(st.text(max_size=5), st.sampled_from([1, 2.5, True, None]))
BOOLS = st.one_of(st.booleans(), st.sampled_from([0, 1, 2.0, "true", None]))
IDS = st.one_of(st.text(max_size=4), st.sampled_from([7, 1.0, True, None]))
COLORS = st.one_of(st.sampled_from(list(Color)), st.sampled_from(["RED", "green", None]))
WHEN = st.one_of(
    st.datetimes(timezones=st.just(UTC)),
    st.sampled_from(["2026-01-01", 12, None]),
)


def rare_none(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(strategy, strategy, strategy, st.none())


LEAVES = st.builds(
    Leaf,
    i=INTS,
    f=FLOATS,
    s=STRINGS,
    b=BOOLS,
    id=IDS,
    oi=INTS,
    of=FLOATS,
    color=COLORS,
    when=WHEN,
    tags=rare_none(st.lists(STRINGS, max_size=3)),
    grid=st.one_of(
        st.none(), st.lists(rare_none(st.lists(INTS, max_size=3)), max_size=3), st.just("ab")
    ),
)
PETS = st.one_of(st.none(), st.builds(Dog, name=STRINGS, barks=BOOLS))


def nodes() -> st.SearchStrategy[Node]:
    return st.builds(
        Node,
        name=st.text(min_size=1, max_size=3),
        leaf=rare_none(LEAVES),
        maybe=st.one_of(st.none(), LEAVES),
        leaves=rare_none(st.lists(rare_none(LEAVES), max_size=4)),
        opt_leaves=st.one_of(st.none(), st.lists(st.one_of(st.none(), LEAVES), max_size=3)),
        pet=PETS,
    )


# --------------------------------------------------------------------------- selections
LEAF_FIELDS = ["i", "f", "s", "b", "id", "oi", "of", "color", "when", "tags", "grid"]
NODE_SCALARS = ["name", "computed", "computed(times: 2)", "later"]
NODE_OBJECTS = ["leaf", "maybe", "leaves", "optLeaves"]
ALIASES = ["a", "b", "c", "d", "e"]


@st.composite
def decorate(draw: st.DrawFn, body: str, type_name: str) -> str:
    """A field or group as itself, aliased, under a directive or in a fragment."""
    how = draw(st.sampled_from(["plain", "plain", "typename", "inline", "include", "skip"]))
    if how == "typename":
        return f"{body} __typename"
    if how == "inline":
        return f"... on {type_name} {{ {body} }}"
    if how == "include":
        return f"... @include(if: $yes) {{ {body} }}"
    if how == "skip":
        flag = draw(st.sampled_from(["$yes", "$no"]))
        return f"{body.split('{')[0].strip()} @skip(if: {flag})" if "{" not in body else body
    return body


@st.composite
def leaf_selection(draw: st.DrawFn) -> str:
    fields = draw(st.lists(st.sampled_from(LEAF_FIELDS), min_size=1, max_size=6, unique=True))
    parts = []
    for name in fields:
        alias = draw(st.sampled_from([None, *ALIASES]))
        text = f"{alias}_{name}: {name}" if alias else name
        parts.append(draw(decorate(text, "Leaf")))
    return " ".join(parts)


@st.composite
def node_selection(draw: st.DrawFn) -> str:
    parts = []
    for name in draw(st.lists(st.sampled_from(NODE_SCALARS), max_size=3, unique=True)):
        key = name.split("(")[0] + ("2" if "(" in name else "")
        parts.append(draw(decorate(f"{key}: {name}", "Node")))
    for name in draw(st.lists(st.sampled_from(NODE_OBJECTS), min_size=1, max_size=4, unique=True)):
        parts.append(draw(decorate(f"{name} {{ {draw(leaf_selection())} }}", "Node")))
    if draw(st.booleans()):
        parts.append("pet { name ... on Dog { barks } __typename }")
    return " ".join(parts)


@st.composite
def operations(draw: st.DrawFn) -> str:
    root = draw(st.sampled_from(["root", "roots"]))
    return (
        "query Q($yes: Boolean = true, $no: Boolean = false) { "
        f"{root} {{ ...N }} }} fragment N on Node {{ {draw(node_selection())} }}"
    )


def outcome(schema: strawberry.Schema, query: str, root: Query) -> tuple[str, list[Any]]:
    result = asyncio.run(schema.execute(query, root_value=root))
    errors = sorted((e.message, e.path) for e in result.errors or [])
    # json.dumps keeps key order: the fast path must build keys in graphql-core's order
    return json.dumps(result.data, default=str), errors


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(query=operations(), node=nodes(), others=st.lists(nodes(), max_size=3))
def test_same_results_as_graphql_core(query: str, node: Node, others: list[Node]) -> None:
    root = Query(root=node, roots=[node, *others])
    assert outcome(PULSE, query, root) == outcome(STOCK, query, root)


def test_the_fast_path_is_taken_for_plain_lists(monkeypatch: Any) -> None:
    # Guards against the equivalence above holding only because everything fell back.
    compiled: list[str] = []
    original = PlainCompleter._compile

    def spy(self: PlainCompleter, object_type: Any, grouped: Any) -> Any:
        made = original(self, object_type, grouped)
        if made is not None:
            compiled.append(object_type.name)
        return made

    monkeypatch.setattr(PlainCompleter, "_compile", spy)
    leaf = Leaf(i=1, f=1.5, s="s", b=True, id="x", oi=None, of=None, color=Color.RED,
                when=datetime(2026, 1, 1, tzinfo=UTC), tags=["t"], grid=[[1, None]])  # fmt: skip
    node = Node(name="n", leaf=leaf, maybe=None, leaves=[leaf, leaf], opt_leaves=None, pet=None)
    query = "{ roots { name computed leaves { i f s color when tags grid } } }"
    pulse = outcome(PULSE, query, Query(root=node, roots=[node]))
    assert pulse == outcome(STOCK, query, Query(root=node, roots=[node]))
    assert compiled == ["Leaf"]  # Node has resolvers (computed): not plain; its leaves are
    assert '"color": "RED"' in pulse[0]


def test_plain_fields_beside_resolvers_are_completed_on_the_fast_path(monkeypatch: Any) -> None:
    # Node mixes attributes with resolvers (computed, later): its attributes are read by the
    # plan, only the resolvers go through graphql-core's execute_field.
    executed: list[str] = []
    original = StrawberryGraphQLCoreExecutionContext.execute_field

    def spy(self: Any, parent_type: Any, source: Any, details: Any, *rest: Any) -> Any:
        executed.append(f"{parent_type.name}.{details[0].node.name.value}")
        return original(self, parent_type, source, details, *rest)

    monkeypatch.setattr(StrawberryGraphQLCoreExecutionContext, "execute_field", spy)
    leaf = Leaf(i=1, f=1.5, s="s", b=True, id="x", oi=None, of=None, color=Color.RED,
                when=datetime(2026, 1, 1, tzinfo=UTC), tags=["t"], grid=None)  # fmt: skip
    node = Node(name="n", leaf=leaf, maybe=None, leaves=[leaf], opt_leaves=None, pet=None)
    query = "{ roots { name later leaf { i } computed maybe { s } } }"
    root = Query(root=node, roots=[node, node])
    stock = outcome(STOCK, query, root)
    assert "Node.name" in executed  # graphql-core executes every field
    executed.clear()
    pulse = outcome(PULSE, query, root)
    assert pulse == stock
    assert json.loads(pulse[0])["roots"][0] == {
        "name": "n", "later": 1, "leaf": {"i": 1}, "computed": "n", "maybe": None,
    }  # fmt: skip
    assert executed == ["Query.roots", *["Node.later", "Node.computed"] * 2]


class Denied(strawberry.BasePermission):
    message = "denied"

    def has_permission(self, source: Any, info: Any, **kwargs: Any) -> bool:
        return False


@strawberry.type
class Guarded:
    open: str
    secret: str = strawberry.field(permission_classes=[Denied])


@strawberry.type
class GuardedQuery:
    rows: list[Guarded]


def test_a_resolver_less_field_with_a_permission_still_runs_it() -> None:
    # Strawberry marks such a field's resolver "default" too; the fast path must not read
    # the attribute past the permission.
    schema = strawberry.Schema(query=GuardedQuery, execution_context_class=PulseExecutor)
    root = GuardedQuery(rows=[Guarded(open="o", secret="s"), Guarded(open="p", secret="t")])
    result = asyncio.run(schema.execute("{ rows { open secret } }", root_value=root))
    assert result.data is None
    assert [e.message for e in result.errors or []] == ["denied"]
    opened = asyncio.run(schema.execute("{ rows { open } }", root_value=root))
    assert opened.data == {"rows": [{"open": "o"}, {"open": "p"}]}
