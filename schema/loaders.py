"""DataLoaders: one batched read per kind of related record per tick (no N+1).

``Dashboard.viewer``, ``SalespersonMetrics.salesperson`` and ``Opportunity.salesperson`` all
load profiles, so a page of 50 opportunities costs one query for their salespeople. The
loaders fetch documents only; whether the caller may read one is decided by the resolver
(``schema.visibility.reads_profile``).

Two loaders for the same documents, because a whole ``UserProfileDoc`` is expensive: a
manager's embeds their whole subtree (``hierarchy.subordinates``, ``org_chart``), and
decoding and validating those just to show a team row's name was a quarter of the
``dashboard`` query's time (bench/LESSONS.md item 8):

* ``cards``: ``ProfileCard``, the scalar fields of ``UserProfile`` (id, email, name, active),
  read with a projection. Every ``UserProfile`` starts from one;
* ``profiles``: the whole document, for what needs the rest (``UserProfile.odoo`` and
  ``.hierarchy`` when selected, ``orgChart``).

A WebSocket connection keeps its context for hours, so its loaders must not cache: every
pushed value is resolved from fresh documents (batching still applies).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from strawberry.dataloader import DataLoader

from projections.read_models import USER_PROFILES, UserProfileDoc
from schema.read_store import ReadModels

CARD_FIELDS = {"email": 1, "name": 1, "active": 1}
MAX_IDS_PER_FIND = 500  # as the loaders' batches: a bounded ``$in`` per query


@dataclass(frozen=True, slots=True)
class ProfileCard:
    """What a ``UserProfile`` shows without its ``odoo`` link and ``hierarchy``.

    A plain dataclass built from the stored document (which the profile projection wrote
    from a validated model): validating a thousand cards for a CEO's team took as long as
    rendering them."""

    id: str
    email: str
    name: str
    active: bool

    @classmethod
    def from_document(cls, raw: Mapping[str, Any]) -> ProfileCard:
        return cls(str(raw["_id"]), str(raw["email"]), str(raw["name"]), bool(raw["active"]))


class Loaders:
    def __init__(self, read_models: ReadModels, *, cache: bool = True) -> None:
        self._read_models = read_models
        self.cards: DataLoader[str, ProfileCard | None] = DataLoader(
            self._load_cards, cache=cache, max_batch_size=MAX_IDS_PER_FIND
        )
        self.profiles: DataLoader[str, UserProfileDoc | None] = DataLoader(
            self._load_profiles, cache=cache, max_batch_size=MAX_IDS_PER_FIND
        )

    async def _load_cards(self, ids: list[str]) -> list[ProfileCard | None]:
        found = await self.card_map(ids)
        return [found.get(i) for i in ids]

    async def card_map(self, ids: list[str]) -> dict[str, ProfileCard]:
        """The cards of ``ids`` that exist, in one read and without the DataLoader: a
        dashboard's team (up to every user for a CEO) asks for all its rows at once, and a
        future per row was most of a large dashboard's render time."""
        found: dict[str, ProfileCard] = {}
        for start in range(0, len(ids), MAX_IDS_PER_FIND):
            chunk = ids[start : start + MAX_IDS_PER_FIND]
            for raw in await self._find(chunk, CARD_FIELDS):
                card = ProfileCard.from_document(raw)
                found[card.id] = card
        return found

    async def _load_profiles(self, ids: list[str]) -> list[UserProfileDoc | None]:
        found = {
            doc.id: doc for doc in map(UserProfileDoc.model_validate, await self._find(ids, None))
        }
        return [found.get(i) for i in ids]

    async def _find(self, ids: list[str], fields: dict[str, int] | None) -> list[dict[str, Any]]:
        collection = await self._read_models.collection(USER_PROFILES)
        wanted = sorted(set(ids))  # an uncached loader may be asked for one id many times
        return [doc async for doc in collection.find({"_id": {"$in": wanted}}, fields)]
