"""Each distinct operation text is parsed and validated once; failures are not cached."""

from __future__ import annotations

from typing import Any

import pytest

from schema import query_cache
from schema.build import build_schema


@pytest.fixture
def validations(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    seen: list[str] = []
    real = query_cache.validate_document

    def counting(schema: Any, document: Any, rules: Any) -> Any:
        seen.append(document.loc.source.body)
        return real(schema, document, rules)

    monkeypatch.setattr(query_cache, "validate_document", counting)
    monkeypatch.setattr(query_cache, "_valid", {})
    query_cache._parsed.cache_clear()
    return seen


async def test_a_valid_operation_is_validated_once(validations: list[str]) -> None:
    schema = build_schema()
    query = "query Once { viewer { id name } }"
    for _ in range(3):
        await schema.execute(query, context_value=None)
    assert validations == [query]
    assert query_cache._parsed.cache_info().hits == 2


async def test_an_invalid_operation_is_validated_and_refused_every_time(
    validations: list[str],
) -> None:
    schema = build_schema(max_depth=1)
    query = "{ viewer { hierarchy { manager { name } } } }"
    results = [await schema.execute(query, context_value=None) for _ in range(2)]
    assert validations == [query, query]
    for result in results:
        assert result.errors is not None
        assert [e.extensions for e in result.errors] == [{"code": "BAD_USER_INPUT"}]
    assert results[0].errors[0] is not results[1].errors[0]  # type: ignore[index]


async def test_a_large_text_is_not_cached(validations: list[str]) -> None:
    schema = build_schema()
    padding = "#" + "x" * query_cache.MAX_CACHED_CHARS + "\n"
    query = padding + "{ viewer { id } }"
    for _ in range(2):
        await schema.execute(query, context_value=None)
    assert validations == []  # Strawberry's own path each time
    assert query_cache._parsed.cache_info().currsize == 0


async def test_a_syntax_error_is_reported_as_usual(validations: list[str]) -> None:
    result = await build_schema().execute("{ viewer { ", context_value=None)
    assert result.errors is not None
    assert result.errors[0].extensions == {"code": "BAD_USER_INPUT"}
    assert "Syntax Error" in result.errors[0].message


async def test_the_same_text_on_two_schemas_with_other_limits_is_validated_for_each(
    validations: list[str],
) -> None:
    query = "{ viewer { hierarchy { manager { name } } } }"
    strict, lenient = build_schema(max_depth=1), build_schema()
    assert (await strict.execute(query, context_value=None)).errors[0].extensions == {  # type: ignore[index]
        "code": "BAD_USER_INPUT"
    }
    await lenient.execute(query, context_value=None)
    await lenient.execute(query, context_value=None)
    assert validations == [query, query]  # strict (refused), lenient once (then cached)
