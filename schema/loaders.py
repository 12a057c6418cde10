"""DataLoaders: one batched read per kind of related record per tick (no N+1).

``Dashboard.viewer``, ``SalespersonMetrics.salesperson`` and ``Opportunity.salesperson`` all
load ``UserProfileDoc`` through ``profiles``, so a page of 50 opportunities costs one query
for their salespeople. The loader fetches documents only; whether the caller may read one is
decided by the resolver (``schema.visibility.reads_profile``).

A WebSocket connection keeps its context for hours, so its loaders must not cache: every
pushed value is resolved from fresh documents (batching still applies).
"""

from __future__ import annotations

from strawberry.dataloader import DataLoader

from projections.read_models import USER_PROFILES, UserProfileDoc
from schema.read_store import ReadModels


class Loaders:
    def __init__(self, read_models: ReadModels, *, cache: bool = True) -> None:
        self._read_models = read_models
        self.profiles: DataLoader[str, UserProfileDoc | None] = DataLoader(
            self._load_profiles, cache=cache, max_batch_size=500
        )

    async def _load_profiles(self, ids: list[str]) -> list[UserProfileDoc | None]:
        collection = await self._read_models.collection(USER_PROFILES)
        wanted = sorted(set(ids))  # an uncached loader may be asked for one id many times
        found = {
            doc["_id"]: UserProfileDoc.model_validate(doc)
            async for doc in collection.find({"_id": {"$in": wanted}})
        }
        return [found.get(i) for i in ids]
