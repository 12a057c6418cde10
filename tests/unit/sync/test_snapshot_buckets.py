"""The pure rules of the bucketed snapshot layout: which entry of a record is kept, which
raw version is set aside, and the stored encoding."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.ingestion import RawVersion, Snapshot
from domain.normalize import normalize
from infrastructure.ingestion.snapshot_buckets import (
    BUCKET_SIZE,
    LayoutError,
    Policy,
    bucket_key,
    decode,
    encode,
    entry_of,
    from_ms,
    group,
    legacy_entry,
    merge,
    snapshot_of,
    to_ms,
)
from tests.unit.sync.fakes import lead

NOW = datetime(2026, 5, 1, 12, 0, 0, 123_456, tzinfo=UTC)


def entry(version: int, content: str, raw: bool = True) -> dict[str, Any]:
    return {
        "hash": content,
        "live": True,
        "version": version,
        "at": to_ms(NOW),
        "write_date": None,
        "raw": {"id": 1, "name": content} if raw else None,
        "source": "sync",
    }


def test_an_ingest_takes_the_same_or_a_higher_version_and_sets_the_other_aside() -> None:
    stored = {1: entry(2, "b"), 2: entry(1, "x")}
    merged = merge(stored, {1: entry(3, "c"), 2: entry(1, "y")}, Policy.NEWER_OR_EQUAL)
    assert merged.entries[1]["hash"] == "c" and merged.entries[2]["hash"] == "y"
    assert merged.changed and merged.placed == 2
    assert sorted((i, e["hash"]) for i, e in merged.superseded) == [(1, "b"), (2, "x")]
    assert stored[1]["hash"] == "b"  # the stored map is not mutated


def test_an_older_version_never_replaces_a_newer_one_but_its_raw_is_kept() -> None:
    merged = merge({1: entry(5, "new")}, {1: entry(4, "old")}, Policy.NEWER_OR_EQUAL)
    assert merged.entries[1]["hash"] == "new"
    assert not merged.changed and merged.placed == 0
    assert [(i, e["hash"]) for i, e in merged.superseded] == [(1, "old")]


def test_the_same_content_is_no_change_and_sets_nothing_aside() -> None:
    same = entry(2, "a")
    merged = merge({1: same}, {1: dict(same)}, Policy.NEWER_OR_EQUAL)
    assert not merged.changed and merged.placed == 1 and merged.superseded == []
    # A later receipt of the same content (other raw fields): replaced, nothing set aside.
    later = {**same, "at": same["at"] + 1}
    merged = merge({1: same}, {1: later}, Policy.NEWER_OR_EQUAL)
    assert merged.changed and merged.superseded == []


def test_converting_keeps_the_bucket_on_a_tie_and_rebuilding_only_fills_gaps() -> None:
    stored = {1: entry(2, "bucket")}
    tie = merge(stored, {1: entry(2, "legacy")}, Policy.NEWER)
    assert tie.entries[1]["hash"] == "bucket" and not tie.changed
    newer = merge(stored, {1: entry(3, "legacy")}, Policy.NEWER)
    assert newer.entries[1]["hash"] == "legacy"
    fill = merge(stored, {1: entry(9, "log", raw=False), 2: entry(1, "log2", raw=False)},
                 Policy.MISSING)  # fmt: skip
    assert fill.entries[1]["hash"] == "bucket" and fill.entries[2]["hash"] == "log2"
    assert fill.placed == 1 and fill.superseded == []  # entries without raw are not kept


def test_buckets_hold_consecutive_ids_of_one_model() -> None:
    assert bucket_key("crm.lead", 0) == bucket_key("crm.lead", BUCKET_SIZE - 1) == "crm.lead/0"
    assert bucket_key("crm.lead", BUCKET_SIZE) == "crm.lead/1"
    assert bucket_key("crm.stage", 3) != bucket_key("crm.lead", 3)
    grouped = group([("crm.lead", 1, entry(1, "a")), ("crm.lead", 1, entry(2, "b")),
                     ("crm.lead", 40, entry(1, "c"))])  # fmt: skip
    assert {k: {i: e["hash"] for i, e in v[1].items()} for k, v in grouped.items()} == {
        "crm.lead/0": {1: "b"},  # the last of one id wins
        "crm.lead/2": {40: "c"},
    }


def test_a_snapshot_round_trips_through_the_stored_text() -> None:
    row = lead(7, name="Déjà vu \U0001f4a9", expected_revenue=12.5)
    record = normalize("crm.lead", row)
    snap = Snapshot("crm.lead", 7, "h7", record, 3, NOW, "2026-05-01 11:00:00")
    raw = RawVersion("crm.lead", 7, "h7", row, NOW, "webhook")
    rebuilt = Snapshot("crm.lead", 8, "h8", normalize("crm.lead", lead(8)), 1, NOW, None)
    gone = Snapshot("crm.lead", 9, "deleted", None, 4, NOW, None)
    entries = {7: entry_of(snap, raw), 8: entry_of(rebuilt, None), 9: entry_of(gone, None)}
    doc = encode("crm.lead/0", "crm.lead", 5, "token", entries)
    assert isinstance(doc["entries"], str) and doc["live"] == [7, 8]
    bucket = decode(doc)
    assert (bucket.key, bucket.model, bucket.rev) == ("crm.lead/0", "crm.lead", 5)
    back = {i: snapshot_of("crm.lead", i, e) for i, e in bucket.entries.items()}
    ms = NOW.replace(microsecond=123_000)  # a BSON date's precision, as before buckets
    assert back[7] == Snapshot("crm.lead", 7, "h7", record, 3, ms, "2026-05-01 11:00:00")
    assert back[8].record == rebuilt.record  # no raw: the record itself was kept
    assert back[9].deleted and back[9].stream_version == 4
    assert bucket.entries[7]["raw"] == row and bucket.entries[7]["source"] == "webhook"


@given(st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1)))
def test_times_keep_milliseconds(moment: datetime) -> None:
    aware = moment.replace(tzinfo=UTC)
    back = from_ms(to_ms(aware))
    assert back.tzinfo is not None and timedelta(0) <= aware - back < timedelta(milliseconds=1)
    assert from_ms(to_ms(moment)) == back  # naive means UTC, as in BSON


def test_a_document_of_the_old_layout_becomes_an_entry() -> None:
    old = {"_id": "crm.lead:3", "model": "crm.lead", "odoo_id": 3, "hash": "h", "live": True,
           "version": 2, "received_at": NOW, "write_date": "w", "raw": {"id": 3},
           "source": "s"}  # fmt: skip
    assert legacy_entry(old) == {"hash": "h", "live": True, "version": 2, "at": to_ms(NOW),
                                 "write_date": "w", "raw": {"id": 3}, "source": "s"}  # fmt: skip
    rebuilt = {**old, "raw": None, "source": None, "record": {"odoo_id": 3}}
    assert legacy_entry(rebuilt)["record"] == {"odoo_id": 3}


@pytest.mark.parametrize(
    "doc",
    [
        {"_id": "crm.lead:1", "model": "crm.lead", "odoo_id": 1, "hash": "h", "version": 1},
        {"_id": "crm.lead/0", "model": "crm.lead", "rev": 1, "entries": {"1": {}}},
        {"_id": "crm.lead/0", "rev": 1, "entries": "{}"},
    ],
)
def test_a_document_of_another_layout_is_refused(doc: dict[str, Any]) -> None:
    with pytest.raises(LayoutError, match="not in the bucket layout"):
        decode(doc)
