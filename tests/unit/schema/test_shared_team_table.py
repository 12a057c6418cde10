"""Reading a dashboard whose team table is another document's (``team_of``): the two
documents are read one after the other, so a flush may rewrite either in between; the
reader reads again until both name the same table (``team_hash``)."""

from __future__ import annotations

from collections.abc import Mapping
from types import SimpleNamespace
from typing import Any

import pytest

from projections.read_models import ADMIN_DASHBOARD_ID
from schema.readers.dashboards import SHARED_TABLE_READS, stored_dashboard

CEO = "7"


class Scripted:
    """A collection answering ``find_one`` from a script, and noting what was asked."""

    def __init__(self, *answers: Mapping[str, Any] | None) -> None:
        self.answers = list(answers)
        self.asked: list[str] = []

    async def find_one(self, query: Mapping[str, Any], *_: Any) -> Mapping[str, Any] | None:
        self.asked.append(query["_id"])
        return self.answers.pop(0)

    async def collection(self, _name: str) -> Scripted:
        return self


def ceo(team_hash: str, **more: Any) -> dict[str, Any]:
    return {"_id": CEO, "scope": "TEAM", "team_of": ADMIN_DASHBOARD_ID, "team_hash": team_hash,
            "as_of": 5, **more}  # fmt: skip


def admin(team_hash: str, team: str) -> dict[str, Any]:
    return {"_id": ADMIN_DASHBOARD_ID, "team": team, "team_hash": team_hash}


async def read(collection: Scripted) -> Mapping[str, Any] | None:
    ctx = SimpleNamespace(read_models=collection)
    caller = SimpleNamespace(is_admin=False, viewer=SimpleNamespace(user_id=CEO))
    return await stored_dashboard(ctx, caller)  # type: ignore[arg-type]


async def test_the_shared_table_is_read_in_when_both_name_it() -> None:
    store = Scripted(ceo("h1"), admin("h1", "[rows]"))
    assert await read(store) == {**ceo("h1"), "team": "[rows]"}
    assert store.asked == [CEO, ADMIN_DASHBOARD_ID]


async def test_a_document_rewritten_between_the_reads_is_read_again() -> None:
    # The admin's document was rewritten after the CEO's was read: the CEO's is read again
    # (rewritten by the same flush) and then the admin's.
    store = Scripted(ceo("h1"), admin("h2", "[new]"), ceo("h2"), admin("h2", "[new]"))
    assert await read(store) == {**ceo("h2"), "team": "[new]"}
    assert store.asked == [CEO, ADMIN_DASHBOARD_ID] * 2


async def test_a_document_that_stopped_sharing_is_served_as_read_again() -> None:
    own = {"_id": CEO, "scope": "TEAM", "team": "[own]", "as_of": 6}
    store = Scripted(ceo("h1"), admin("h2", "[new]"), own)
    assert await read(store) == own
    assert store.asked == [CEO, ADMIN_DASHBOARD_ID, CEO]


async def test_a_table_that_never_agrees_is_served_newest_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    answers = [ceo("h1"), admin("h2", "[new]")] * SHARED_TABLE_READS + [ceo("h1")]
    assert await read(Scripted(*answers)) == {**ceo("h1"), "team": "[new]"}
    assert f"dashboard {CEO}: shared team table at another position" in caplog.text


async def test_a_document_of_its_own_is_read_once() -> None:
    own = {"_id": CEO, "scope": "TEAM", "team": "[own]"}
    store = Scripted(own)
    assert await read(store) == own and store.asked == [CEO]
    assert await read(Scripted(None)) is None
