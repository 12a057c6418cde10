"""Position-guarded writes against the real store: older writes are "already applied",
a unique secondary index clash is an error, and an insert of a document that turns out to be
stored is decided as the guarded replace it stands for."""

from __future__ import annotations

from typing import Any

import pytest
from pymongo import IndexModel

from projections.framework import (
    guarded_bulk_write,
    guarded_delete,
    guarded_insert,
    guarded_replace,
)

pytestmark = pytest.mark.integration


async def test_an_older_or_equal_write_is_already_applied(mongo_db: Any) -> None:
    coll = mongo_db["docs"]
    assert await guarded_bulk_write(coll, [guarded_replace("a", 5, {"v": 5})]) == 0
    refused = await guarded_bulk_write(
        coll,
        [
            guarded_replace("a", 3, {"v": 3}),  # older: refused
            guarded_replace("a", 5, {"v": 55}),  # same position: refused (replay)
            guarded_replace("b", 1, {"v": 1}),  # new: written
        ],
    )
    assert refused == 2
    assert await coll.find_one({"_id": "a"}) == {"_id": "a", "v": 5, "_pos": 5}
    await guarded_bulk_write(coll, [guarded_replace("a", 6, {"v": 6}), guarded_delete("b", 0)])
    assert await coll.find_one({"_id": "a"}) == {"_id": "a", "v": 6, "_pos": 6}
    assert await coll.find_one({"_id": "b"}) is not None, "a delete older than the doc is a no-op"
    await guarded_bulk_write(coll, [guarded_delete("b", 2)])
    assert await coll.find_one({"_id": "b"}) is None


async def test_a_unique_index_clash_is_not_mistaken_for_a_replay(mongo_db: Any) -> None:
    coll = mongo_db["people"]
    await coll.create_indexes([IndexModel([("email", 1)], unique=True, name="email")])
    await guarded_bulk_write(coll, [guarded_replace("a", 1, {"email": "x@example.com"})])
    with pytest.raises(RuntimeError, match="unique index clash"):
        await guarded_bulk_write(coll, [guarded_replace("b", 2, {"email": "x@example.com"})])


async def test_an_insert_of_a_stored_document_is_decided_by_its_position(mongo_db: Any) -> None:
    coll = mongo_db["inserted"]
    await guarded_bulk_write(
        coll, [guarded_replace("a", 5, {"v": 5}), guarded_replace("b", 5, {"v": 5})]
    )
    already = await guarded_bulk_write(
        coll,
        [
            guarded_insert("a", 7, {"v": 7}),  # stored and older: replaced
            guarded_insert("b", 4, {"v": 4}),  # stored and newer: already applied
            guarded_insert("c", 1, {"v": 1}),  # not stored: inserted
        ],
    )
    assert already == 1
    assert [d async for d in coll.find({}).sort("_id", 1)] == [
        {"_id": "a", "v": 7, "_pos": 7},
        {"_id": "b", "v": 5, "_pos": 5},
        {"_id": "c", "v": 1, "_pos": 1},
    ]


async def test_an_insert_clashing_on_a_unique_index_is_an_error(mongo_db: Any) -> None:
    coll = mongo_db["people2"]
    await coll.create_indexes([IndexModel([("email", 1)], unique=True, name="email")])
    await guarded_bulk_write(coll, [guarded_insert("a", 1, {"email": "x@example.com"})])
    with pytest.raises(RuntimeError, match="unique index clash"):
        await guarded_bulk_write(coll, [guarded_insert("b", 2, {"email": "x@example.com"})])
