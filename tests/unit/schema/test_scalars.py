"""DateTime is ISO-8601 UTC; Date is strictly YYYY-MM-DD."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from schema.scalars import parse_date, parse_datetime, serialize_date, serialize_datetime


def test_datetimes_are_printed_in_utc_with_a_z() -> None:
    paris = timezone(timedelta(hours=1))
    assert serialize_datetime(datetime(2026, 3, 1, 13, 0, tzinfo=paris)) == "2026-03-01T12:00:00Z"
    assert serialize_datetime(datetime(2026, 3, 1, 12, 0, 0, 5000)) == "2026-03-01T12:00:00.005000Z"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-03-01T12:00:00Z", datetime(2026, 3, 1, 12, tzinfo=UTC)),
        ("2026-03-01T13:00:00+01:00", datetime(2026, 3, 1, 12, tzinfo=UTC)),
        ("2026-03-01T12:00:00.250z", datetime(2026, 3, 1, 12, 0, 0, 250000, tzinfo=UTC)),
        ("2026-03-01T12:00", datetime(2026, 3, 1, 12, tzinfo=UTC)),  # naive: UTC
    ],
)
def test_datetimes_are_parsed_to_utc(text: str, expected: datetime) -> None:
    assert parse_datetime(text) == expected


@pytest.mark.parametrize("text", ["2026-03-01", "yesterday", "2026-13-01T00:00:00Z", 5, None])
def test_other_datetimes_are_refused(text: object) -> None:
    with pytest.raises(ValueError):
        parse_datetime(text)


def test_dates() -> None:
    assert parse_date("2026-02-28") == date(2026, 2, 28)
    assert serialize_date(date(2026, 2, 28)) == "2026-02-28"
    assert serialize_date("2026-02-28") == "2026-02-28"
    for bad in ["20260228", "2026-02-30", "2026-2-28", "2026-02-28T00:00:00"]:
        with pytest.raises(ValueError):
            parse_date(bad)
