"""Who is calling: the verified token (``Identity``) and their access entry (``Caller``).

One ``Session`` per HTTP request or WebSocket connection. The token is verified by an
``Authenticator`` that infrastructure provides (``TokenVerifier`` + ``PULSE_ADMIN_EMAILS``);
the access entry is read from the ``user_access_matrix`` read model by the token's email and
cached, but never used once it is older than ``PULSE_ACCESS_TTL``: a long-lived subscription
re-reads it, so an archived user or a moved manager loses access within the TTL.

Requests also share entries through the server's ``AccessCache``, but only under the read
model's stamp (``ReadModels.stamp``: its generation and the position of its last content
change, as the server's refresher saw them at most a second ago): an org change that
rewrites any entry moves the stamp, and every entry kept under the old one is read again.
So an HTTP request sees an access change as soon as the server's next refresh (every half
second) does, not a TTL later, and a request after the first costs one store round trip
fewer (a third of a ``dashboard`` request's). Without a stamp (no refresher, or its reads
fail) nothing is shared.

A WebSocket connection's session (``follow_access_changes``) also drops its own caller when
the stamp moves, so a subscription of a user who was archived or moved is cut off or
re-scoped at the next refresh, not up to a TTL later. An HTTP request's session keeps one
caller for the whole request: its resolvers see one consistent access set.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from domain.access import Viewer
from projections.read_models import USER_ACCESS
from schema.errors import Forbidden, Unauthenticated
from schema.loaders import ProfileCard
from schema.read_store import ReadModels

Scope = Literal["OWN", "TEAM", "ALL"]


@dataclass(frozen=True, slots=True)
class Identity:
    """What a verified token says: the (normalised) email, admin or not, and until when."""

    email: str
    is_admin: bool
    expires_at: datetime


class Authenticator(Protocol):
    def authenticate(self, authorization: str | None) -> Identity:
        """Verify an ``Authorization`` value (``Bearer <jwt>``); raise ``Unauthenticated``
        (with a message that never echoes the token) when it is missing or invalid."""
        ...


@dataclass(frozen=True, slots=True)
class Caller:
    """An authenticated, authorised caller and the access sets every read path applies."""

    viewer: Viewer
    visible_user_ids: frozenset[str]  # salespeople whose opportunities a non-admin sees
    readable_profile_ids: frozenset[str]  # profiles a non-admin may read
    direct_report_count: int = 0
    card: ProfileCard | None = None  # the caller's own, from the access entry when it has one

    @property
    def is_admin(self) -> bool:
        return self.viewer.is_admin

    @property
    def scope(self) -> Scope:
        if self.viewer.is_admin:
            return "ALL"
        return "TEAM" if self.direct_report_count > 0 else "OWN"


NO_ACCESS = "This account has no access to Pulse: it is not an active Odoo user"


class AccessEntry(BaseModel):
    """The part of an ``AccessDoc`` (``user_access_matrix``) that makes a ``Caller``. It is
    read on every request, and a manager's entry also lists everyone above and below them
    (``manager_ids``, ``subordinate_ids``): only these fields are read and decoded."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    id: str = Field(alias="_id")
    active: bool = True
    visible_user_ids: list[str]
    readable_profile_ids: list[str]
    direct_report_count: int = 0
    name: str | None = None  # the card: absent from entries written before it
    email: str | None = None

    def card(self) -> ProfileCard | None:
        if self.name is None or self.email is None:
            return None
        return ProfileCard(self.id, self.email, self.name, self.active)


ENTRY_FIELDS = {
    "active": 1, "visible_user_ids": 1, "readable_profile_ids": 1, "direct_report_count": 1,
    "name": 1, "email": 1,
}  # fmt: skip


def _sign_in_rank(doc: dict[str, Any]) -> tuple[bool, int, str]:
    # Several users may share an email: the active one, then the lowest (numeric) id,
    # the same rule as domain.org's sign-in email index.
    key = str(doc.get("_id"))
    return (not bool(doc.get("active", True)), len(key), key)


class AccessCache:
    """Access entries by sign-in email, each with the stamp it was read under and when
    (one per server process, shared by its requests; see the module docstring)."""

    def __init__(self, max_entries: int = 10_000) -> None:
        self._max = max_entries
        self._entries: dict[str, tuple[Hashable, float, AccessEntry | None]] = {}

    def get(
        self, email: str, stamp: Hashable, read_after: float
    ) -> tuple[bool, AccessEntry | None]:
        """(True, entry) when one was read under ``stamp`` later than ``read_after``."""
        hit = self._entries.get(email)
        if hit is None or hit[0] != stamp or hit[1] <= read_after:
            return False, None
        return True, hit[2]

    def put(self, email: str, stamp: Hashable, read_at: float, entry: AccessEntry | None) -> None:
        self._entries.pop(email, None)
        if len(self._entries) >= self._max:
            self._entries.pop(next(iter(self._entries)))  # the oldest read
        self._entries[email] = (stamp, read_at, entry)

    def __len__(self) -> int:
        return len(self._entries)


class Session:
    def __init__(
        self,
        authenticator: Authenticator,
        read_models: ReadModels,
        *,
        access_ttl: float,
        authorization: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        shared: AccessCache | None = None,
        follow_access_changes: bool = False,
    ) -> None:
        self._authenticator = authenticator
        self._read_models = read_models
        self._ttl = access_ttl
        self._clock = clock
        self._shared = shared
        self._follow = follow_access_changes
        self._authorization = authorization
        self._identity: Identity | None = None
        self._expiry: tuple[Identity, float] | None = None
        # The caller, when it was read, and the access matrix's stamp taken before the read.
        self._caller: tuple[Caller, float, Hashable | None] | None = None
        self._lock = asyncio.Lock()

    def present(self, authorization: str | None) -> Identity:
        """Verify credentials now (WebSocket ``connection_init``); raises ``Unauthenticated``."""
        self._authorization = authorization
        self._identity = None
        self._caller = None
        return self.identity()

    def identity(self) -> Identity:
        identity = self._identity
        if identity is None:
            identity = self._identity = self._authenticator.authenticate(self._authorization)
        # Every resolver asks (a dashboard's team rows: once per row): compare epoch seconds,
        # not aware datetimes, and convert the expiry once per identity.
        if self._expiry is None or self._expiry[0] is not identity:
            self._expiry = (identity, identity.expires_at.timestamp())
        if self._expiry[1] <= time.time():
            raise Unauthenticated("The token has expired")
        return identity

    async def caller(self) -> Caller:
        """The caller, their access entry re-read once it is older than the TTL.

        Raises ``Unauthenticated`` (no/invalid/expired token) or ``Forbidden`` (a valid token
        whose email is neither an active Odoo user nor an admin)."""
        identity = self.identity()
        cached = self._caller
        if cached is not None and self._current(cached):
            return cached[0]
        async with self._lock:  # concurrent resolvers share one read
            cached = self._caller
            if cached is not None and self._current(cached):
                return cached[0]
            self._caller = None
            # The stamp is taken before the read: an entry rewritten after it was taken
            # moves the stamp past it, so the entry is read again, whichever version this
            # read saw.
            stamp = self._stamp()
            caller = await self._load(identity, stamp)
            self._caller = (caller, self._clock(), stamp)
            return caller

    def _stamp(self) -> Hashable | None:
        if self._shared is None and not self._follow:
            return None
        return self._read_models.stamp(USER_ACCESS)

    def _current(self, cached: tuple[Caller, float, Hashable | None]) -> bool:
        if self._clock() - cached[1] >= self._ttl:
            return False
        if not self._follow:
            return True
        # No stamp now (no refresher, or it fails): the TTL alone bounds the caller's age.
        stamp = self._read_models.stamp(USER_ACCESS)
        return stamp is None or stamp == cached[2]

    async def _entry(self, email: str, stamp: Hashable | None) -> AccessEntry | None:
        shared = self._shared
        started = self._clock()
        if shared is not None and stamp is not None:
            found, entry = shared.get(email, stamp, read_after=started - self._ttl)
            if found:
                return entry
        collection = await self._read_models.collection(USER_ACCESS)
        # $eq, not a plain equality: the embedded store answers the latter with a scan.
        flt = {"email_key": {"$eq": email}}
        docs = [doc async for doc in collection.find(flt, ENTRY_FIELDS).limit(20)]
        access = AccessEntry.model_validate(min(docs, key=_sign_in_rank)) if docs else None
        if shared is not None and stamp is not None:
            shared.put(email, stamp, started, access)
        return access

    async def _load(self, identity: Identity, stamp: Hashable | None) -> Caller:
        access = await self._entry(identity.email, stamp)
        if identity.is_admin:
            # An admin need not be an Odoo user; when they are, `viewer` is their profile.
            user_id = access.id if access is not None else None
            card = access.card() if access is not None else None
            viewer = Viewer(user_id, identity.email, is_admin=True)
            return Caller(viewer, frozenset(), frozenset(), card=card)
        if access is None or not access.active:
            raise Forbidden(NO_ACCESS)
        # Everyone sees their own deals and reads their own profile, whatever the entry says.
        return Caller(
            Viewer(access.id, identity.email, is_admin=False),
            visible_user_ids=frozenset((access.id, *access.visible_user_ids)),
            readable_profile_ids=frozenset((access.id, *access.readable_profile_ids)),
            direct_report_count=access.direct_report_count,
            card=access.card(),
        )
