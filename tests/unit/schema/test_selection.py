"""``selects``: whether the field being resolved asks for a child, however it is spelled."""

from __future__ import annotations

import pytest
import strawberry

from schema.selection import selects

SEEN: list[bool] = []


@strawberry.type
class Page:
    total: int = 3
    size: int = 1


@strawberry.type
class Query:
    @strawberry.field
    def page(self, info: strawberry.Info) -> Page:
        SEEN.append(selects(info, "total"))
        return Page()


SCHEMA = strawberry.Schema(query=Query)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("{ page { total } }", True),
        ("{ page { size } }", False),
        ("{ page { n: total } }", True),  # an alias: still the field
        ("{ total: page { size } }", False),  # an alias named like it is not
        ("{ page { ... on Page { total } } }", True),
        ("{ page { ...F } } fragment F on Page { size ...G } fragment G on Page { total }", True),
        ("{ page { ...F } } fragment F on Page { size }", False),
        ("query($no: Boolean!) { page { size total @include(if: $no) } }", True),  # a hint
        ("{ a: page { size } b: page { total } }", True),  # aliases resolve apart
    ],
)
def test_selects(query: str, expected: bool) -> None:
    SEEN.clear()
    result = SCHEMA.execute_sync(query, variable_values={"no": False})
    assert result.errors is None
    assert SEEN and SEEN[-1] is expected
