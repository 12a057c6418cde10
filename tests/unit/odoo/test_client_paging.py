"""``OdooClient.iter_search_read``: the next page is requested before the current one is
handed over (Odoo reads it while the caller ingests), never more than one ahead, and the
request ahead is cancelled when the caller stops early."""

from __future__ import annotations

import asyncio
from typing import Any

from infrastructure.odoo import OdooClient

ROWS = [{"id": i} for i in range(1, 24)]  # 23 rows: pages of 7, 7, 7, 2


class Recording(OdooClient):
    def __init__(self, *, hold_after: int | None = None) -> None:
        super().__init__("http://odoo.invalid", "db", "login", "key")
        self.requested: list[int] = []
        self.cancelled: list[int] = []
        self.hold_after = hold_after  # requests at this offset or beyond wait until cancelled

    async def search_read(
        self, model: str, domain: Any, fields: list[str], order: str,
        limit: int | None = None, offset: int = 0,
    ) -> list[Any]:  # fmt: skip
        self.requested.append(offset)
        try:
            if self.hold_after is not None and offset >= self.hold_after:
                await asyncio.Event().wait()
            await asyncio.sleep(0)
        except asyncio.CancelledError:
            self.cancelled.append(offset)
            raise
        assert limit is not None
        return ROWS[offset : offset + limit]


async def test_the_next_page_is_requested_before_this_one_is_handed_over() -> None:
    client = Recording()
    seen: list[tuple[list[int], list[int]]] = []
    async for page in client.iter_search_read("crm.lead", [], ["id"], "id asc", page_size=7):
        seen.append(([r["id"] for r in page], list(client.requested)))
        await asyncio.sleep(0.01)  # the caller ingesting: the request ahead runs meanwhile
    assert [ids for ids, _ in seen] == [list(range(1, 8)), list(range(8, 15)),
                                        list(range(15, 22)), [22, 23]]  # fmt: skip
    # When each page arrives the next one has been asked for already, and only that one.
    assert [requested for _, requested in seen] == [[0, 7], [0, 7, 14], [0, 7, 14, 21],
                                                    [0, 7, 14, 21]]  # fmt: skip


async def test_an_exact_multiple_ends_with_one_empty_request_and_no_empty_page() -> None:
    client = Recording()
    pages = [p async for p in client.iter_search_read("m", [], ["id"], "id asc", page_size=23)]
    assert [len(p) for p in pages] == [23] and client.requested == [0, 23]


async def test_stopping_early_cancels_the_request_ahead() -> None:
    client = Recording(hold_after=7)
    pages = client.iter_search_read("crm.lead", [], ["id"], "id asc", page_size=7)
    first = await anext(pages)
    assert len(first) == 7 and client.requested == [0, 7]
    await pages.aclose()
    await asyncio.sleep(0)
    assert client.cancelled == [7]
