"""The caller: token verification, the access entry by email, and its TTL."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from schema.errors import Forbidden, Unauthenticated
from schema.read_store import ReadModels
from schema.session import AccessCache, Identity, Session

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


def shared_sessions(
    docs: list[dict[str, Any]], stamp: list[Any], clock: list[float]
) -> tuple[Callable[[str], Session], FakeCollection, AccessCache]:
    """Sessions of one server: one store, one stamp reader, one AccessCache."""
    collection = FakeCollection(docs)
    read_models = ReadModels(FakeDb(collection), stamp_of=lambda base: stamp[0])  # type: ignore[arg-type]
    cache = AccessCache()

    def new(authorization: str) -> Session:
        return Session(Tokens(), read_models, access_ttl=10, authorization=authorization,
                       clock=lambda: clock[0], shared=cache)  # fmt: skip

    return new, collection, cache


async def test_requests_share_an_entry_only_while_the_stamp_stands() -> None:
    clock, stamp = [0.0], [("g1", 5)]
    new, collection, _ = shared_sessions([access("7", "a@x.io", reports=2)], stamp, clock)
    first = await new("Bearer a@x.io").caller()
    second = await new("Bearer a@x.io").caller()  # another request: no read
    assert collection.reads == 1 and first == second
    # The access matrix changed (its stamp moved): the next request reads the new entry.
    collection.docs[0]["active"] = False
    stamp[0] = ("g1", 9)
    with pytest.raises(Forbidden):
        await new("Bearer a@x.io").caller()
    assert collection.reads == 2
    # A missing entry is shared too (a stranger), and found once the stamp moves.
    with pytest.raises(Forbidden):
        await new("Bearer b@x.io").caller()
    with pytest.raises(Forbidden):
        await new("Bearer b@x.io").caller()
    assert collection.reads == 3
    collection.docs.append(access("8", "b@x.io"))
    stamp[0] = ("g2", 9)  # a rebuild switched generations
    assert (await new("Bearer b@x.io").caller()).viewer.user_id == "8"


async def test_no_stamp_no_sharing_and_never_beyond_the_ttl() -> None:
    clock, stamp = [0.0], [None]
    new, collection, cache = shared_sessions([access("7", "a@x.io")], stamp, clock)
    await new("Bearer a@x.io").caller()
    await new("Bearer a@x.io").caller()
    assert collection.reads == 2 and len(cache) == 0  # no refresher: every request reads
    stamp[0] = ("g1", 1)
    await new("Bearer a@x.io").caller()
    clock[0] = 9.9
    await new("Bearer a@x.io").caller()
    assert collection.reads == 3
    clock[0] = 10.0  # the stamp stands, but PULSE_ACCESS_TTL still bounds an entry's age
    await new("Bearer a@x.io").caller()
    assert collection.reads == 4


async def test_a_connection_drops_its_caller_when_the_stamp_moves_a_request_does_not() -> None:
    clock, stamp = [0.0], [("g1", 5)]
    docs = [access("7", "a@x.io")]
    collection = FakeCollection(docs)
    read_models = ReadModels(FakeDb(collection), stamp_of=lambda base: stamp[0])  # type: ignore[arg-type]

    def new(*, connection: bool) -> Session:
        return Session(Tokens(), read_models, access_ttl=10, authorization="Bearer a@x.io",
                       clock=lambda: clock[0], follow_access_changes=connection)  # fmt: skip

    socket, request = new(connection=True), new(connection=False)
    await socket.caller()
    await request.caller()
    await socket.caller()
    assert collection.reads == 2  # each read once; the stamp stands
    docs[0]["active"] = False
    stamp[0] = ("g1", 6)  # the user was archived
    with pytest.raises(Forbidden):
        await socket.caller()
    # One request keeps one caller throughout (consistent access sets for its resolvers).
    assert (await request.caller()).viewer.user_id == "7"
    assert collection.reads == 3
    # No stamp (the refresher fails): the connection keeps its caller, for the TTL only.
    docs[0]["active"] = True
    clock[0] = 11.0
    await socket.caller()
    stamp[0] = None
    clock[0] = 20.9
    await socket.caller()
    assert collection.reads == 4
    clock[0] = 21.0
    await socket.caller()
    assert collection.reads == 5


def test_the_cache_keeps_the_latest_reads() -> None:
    cache = AccessCache(max_entries=2)
    for email in ("a", "b", "a", "c"):  # "a" read again: "b" is now the oldest
        cache.put(email, "s", 0.0, None)
    assert [cache.get(e, "s", -1.0)[0] for e in ("a", "b", "c")] == [True, False, True]
