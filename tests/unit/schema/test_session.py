"""The caller: token verification, the access entry by email, and its TTL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from schema.errors import Forbidden, Unauthenticated
from schema.read_store import ReadModels
from schema.session import Identity, Session

SOON = datetime.now(UTC) + timedelta(hours=1)


class FakeCursor:
    def __init__(self, docs: list[dict[str, Any]]) -> None:
        self._docs = docs

    def limit(self, n: int) -> FakeCursor:
        return FakeCursor(self._docs[:n])

    async def _iterate(self) -> AsyncIterator[dict[str, Any]]:
        for doc in self._docs:
            yield doc

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        return self._iterate()


class FakeCollection:
    def __init__(self, docs: list[dict[str, Any]]) -> None:
        self.docs = docs
        self.reads = 0

    def find(self, query: dict[str, Any], projection: dict[str, int] | None = None) -> FakeCursor:
        self.reads += 1
        assert set(query) == {"email_key"} and set(query["email_key"]) == {"$eq"}  # indexed form
        found = [d for d in self.docs if d.get("email_key") == query["email_key"]["$eq"]]
        if projection is not None:  # as MongoDB projects: the listed fields and _id
            found = [{k: v for k, v in d.items() if k == "_id" or k in projection} for d in found]
        return FakeCursor(found)


class FakeDb:
    def __init__(self, collection: FakeCollection) -> None:
        self.collection = collection

    def __getitem__(self, name: str) -> FakeCollection:
        return self.collection


class Tokens:
    """An authenticator: the header is ``Bearer <email>[:admin]``."""

    def authenticate(self, authorization: str | None) -> Identity:
        if not authorization or not authorization.startswith("Bearer "):
            raise Unauthenticated()
        email, _, role = authorization.removeprefix("Bearer ").partition(":")
        return Identity(email, role == "admin", SOON)


def access(uid: str, email: str, *, active: bool = True, reports: int = 0) -> dict[str, Any]:
    return {"_id": uid, "email_key": email, "active": active, "visible_user_ids": [],
            "readable_profile_ids": [], "direct_report_count": reports,
            "refreshed_at": datetime.now(UTC)}  # fmt: skip


def session(docs: list[dict[str, Any]], authorization: str | None,
            clock: list[float]) -> tuple[Session, FakeCollection]:  # fmt: skip
    collection = FakeCollection(docs)
    read_models = ReadModels(FakeDb(collection))  # type: ignore[arg-type]
    return Session(Tokens(), read_models, access_ttl=10, authorization=authorization,
                   clock=lambda: clock[0]), collection  # fmt: skip


async def test_the_access_entry_is_cached_no_longer_than_the_ttl() -> None:
    clock = [0.0]
    current, collection = session([access("7", "a@x.io", reports=2)], "Bearer a@x.io", clock)
    caller = await current.caller()
    assert (caller.viewer.user_id, caller.scope) == ("7", "TEAM")
    assert caller.visible_user_ids == {"7"} and caller.readable_profile_ids == {"7"}
    clock[0] = 9.9
    await current.caller()
    assert collection.reads == 1
    clock[0] = 10.0
    collection.docs[0]["active"] = False
    with pytest.raises(Forbidden):
        await current.caller()
    assert collection.reads == 2


async def test_shared_emails_sign_in_as_the_active_user_with_the_lowest_id() -> None:
    docs = [access("12", "s@x.io"), access("9", "s@x.io", active=False), access("30", "s@x.io")]
    current, _ = session(docs, "Bearer s@x.io", [0.0])
    assert (await current.caller()).viewer.user_id == "12"


async def test_admins_need_no_access_entry_and_others_do() -> None:
    admin, _ = session([], "Bearer boss@x.io:admin", [0.0])
    caller = await admin.caller()
    assert (caller.viewer.user_id, caller.is_admin, caller.scope) == (None, True, "ALL")
    stranger, _ = session([], "Bearer who@x.io", [0.0])
    with pytest.raises(Forbidden):
        await stranger.caller()
    anonymous, _ = session([], None, [0.0])
    with pytest.raises(Unauthenticated):
        await anonymous.caller()


async def test_an_expired_identity_is_refused_even_mid_connection() -> None:
    current, _ = session([access("7", "a@x.io")], None, [0.0])
    current.present("Bearer a@x.io")
    await current.caller()
    current._identity = Identity("a@x.io", False, datetime.now(UTC) - timedelta(seconds=1))
    with pytest.raises(Unauthenticated):
        await current.caller()
