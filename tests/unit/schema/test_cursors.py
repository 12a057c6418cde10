"""Opaque keyset cursors: round trips, and refusal of anything else."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schema.cursors import decode_cursor, encode_cursor
from schema.errors import BadUserInput

moments = st.datetimes(timezones=st.just(UTC), min_value=datetime(2000, 1, 1),
                       max_value=datetime(2100, 1, 1))  # fmt: skip
ids = st.text(min_size=1, max_size=30)


@given(moment=moments, row_id=ids)
def test_datetime_keys_round_trip(moment: datetime, row_id: str) -> None:
    cursor = encode_cursor("UPDATED_DESC", "datetime", moment, row_id)
    position = decode_cursor(cursor, "UPDATED_DESC", "datetime")
    assert (position.key, position.id) == (moment, row_id)


@given(value=st.floats(allow_nan=False, allow_infinity=False) | st.integers(), row_id=ids)
def test_number_keys_round_trip(value: float, row_id: str) -> None:
    position = decode_cursor(encode_cursor("R", "number", value, row_id), "R", "number")
    assert (position.key, position.id) == (value, row_id)


@given(value=st.none() | st.text(max_size=20), row_id=ids)
def test_nullable_keys_round_trip(value: str | None, row_id: str) -> None:
    position = decode_cursor(encode_cursor("D", "nullable_string", value, row_id), "D",
                             "nullable_string")  # fmt: skip
    assert (position.key, position.id) == (value, row_id)


def test_a_cursor_belongs_to_one_order() -> None:
    cursor = encode_cursor("NAME_ASC", "string", "alpha", "1")
    with pytest.raises(BadUserInput):
        decode_cursor(cursor, "REVENUE_DESC", "number")


@pytest.mark.parametrize(
    "cursor", ["", "!!!", "e30", "bnVsbA", "x" * 3000, encode_cursor("N", "string", None, "1")]
)
def test_garbage_is_bad_user_input(cursor: str) -> None:
    with pytest.raises(BadUserInput):
        decode_cursor(cursor, "N", "string")
