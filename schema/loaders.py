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

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from strawberry.dataloader import DataLoader

from projections.read_models import USER_PROFILES, UserProfileDoc
from schema.read_store import ReadModels

CARD_FIELDS = {"email": 1, "name": 1, "active": 1}


class ProfileCard(BaseModel):
    """What a ``UserProfile`` shows without its ``odoo`` link and ``hierarchy``."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore", frozen=True)

    id: str = Field(alias="_id")
    email: str
    name: str
    active: bool


class Loaders:
    def __init__(self, read_models: ReadModels, *, cache: bool = True) -> None:
        self._read_models = read_models
        self.cards: DataLoader[str, ProfileCard | None] = DataLoader(
            self._load_cards, cache=cache, max_batch_size=500
        )
        self.profiles: DataLoader[str, UserProfileDoc | None] = DataLoader(
            self._load_profiles, cache=cache, max_batch_size=500
        )

    async def _load_cards(self, ids: list[str]) -> list[ProfileCard | None]:
        found = {
            card.id: card
            for card in map(ProfileCard.model_validate, await self._find(ids, CARD_FIELDS))
        }
        return [found.get(i) for i in ids]

    async def _load_profiles(self, ids: list[str]) -> list[UserProfileDoc | None]:
        found = {
            doc.id: doc for doc in map(UserProfileDoc.model_validate, await self._find(ids, None))
        }
        return [found.get(i) for i in ids]

    async def _find(self, ids: list[str], fields: dict[str, int] | None) -> list[dict[str, Any]]:
        collection = await self._read_models.collection(USER_PROFILES)
        wanted = sorted(set(ids))  # an uncached loader may be asked for one id many times
        return [doc async for doc in collection.find({"_id": {"$in": wanted}}, fields)]
