"""``ReadModels``: how resolvers reach the read-model collections, and nothing else.

A projection may serve a rebuilt generation of its collections under another physical name
(``opportunity_view__g3``), so the physical name comes from a resolver that infrastructure
provides (the projection framework's ``active_name``); by default the base name is used.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

CollectionResolver = Callable[[str], Awaitable[str]]
"""Maps a base collection name (``projections.read_models.OPPORTUNITIES``...) to the
physical collection that serves it right now."""


StampReader = Callable[[str], Hashable | None]
"""Maps a base collection name to a value that changes whenever its documents may have
(the projection's generation and last content position, as a refresh well under a second
old saw them), or None when no such value is known right now."""


async def same_name(base_name: str) -> str:
    return base_name


def no_stamp(base_name: str) -> Hashable | None:
    return None


class ReadModels:
    def __init__(
        self,
        db: AsyncDatabase[Any],
        resolve_name: CollectionResolver | None = None,
        stamp_of: StampReader | None = None,
    ) -> None:
        self._db = db
        self._resolve_name = resolve_name or same_name
        self._stamp_of = stamp_of or no_stamp

    async def collection(self, base_name: str) -> AsyncCollection[Any]:
        return self._db[await self._resolve_name(base_name)]

    def stamp(self, base_name: str) -> Hashable | None:
        """See ``StampReader``: documents read under one stamp are still current while it
        stands; None means nothing may be kept."""
        return self._stamp_of(base_name)
