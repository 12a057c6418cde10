"""Responses are encoded by orjson, as text, to the same JSON values as ``json.dumps``."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from infrastructure.graphql_app import encode_json_text

# What a GraphQL response holds: finite floats, 32-bit and JSON-scalar integers, any text.
leaves = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
values = st.recursive(
    leaves,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(), inner, max_size=5),
    max_leaves=30,
)


@given(values)
def test_the_text_decodes_to_what_json_dumps_would_give(value: Any) -> None:
    text = encode_json_text({"data": value})
    assert isinstance(text, str)  # a text WebSocket frame, never a binary one
    assert json.loads(text) == json.loads(json.dumps({"data": value}))


@pytest.mark.parametrize("big", [2**64, -(2**70)])
def test_what_orjson_refuses_is_encoded_as_strawberry_does(big: int) -> None:
    value = {"data": {"event": {"amount": big, "name": "ü"}}}
    assert encode_json_text(value) == json.dumps(value, separators=(",", ":"))
    assert json.loads(encode_json_text(value)) == value
