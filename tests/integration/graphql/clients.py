"""Subscription clients for the tests: ``gql`` for real use, raw ``websockets`` for the protocol.

``Feed`` runs a gql subscription in a background task and queues what arrives, so a test can
assert both "this arrives" and "nothing arrives" without cancelling the subscription.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

from gql import Client, GraphQLRequest
from gql.transport.websockets import WebsocketsTransport
from websockets.asyncio.client import ClientConnection, connect

PROTOCOL = "graphql-transport-ws"


class Feed:
    def __init__(self) -> None:
        self.items: asyncio.Queue[dict[str, Any] | BaseException] = asyncio.Queue()

    async def next(self, within: float = 5.0) -> dict[str, Any]:
        item = await asyncio.wait_for(self.items.get(), within)
        if isinstance(item, BaseException):
            raise item
        return item

    async def nothing_for(self, seconds: float = 0.4) -> None:
        await asyncio.sleep(seconds)
        assert self.items.empty(), f"unexpected push: {self.items.get_nowait()}"


@contextlib.asynccontextmanager
async def subscription(ws_url: str, token: str, query: str) -> AsyncIterator[Feed]:
    transport = WebsocketsTransport(
        url=ws_url,
        init_payload={"Authorization": f"Bearer {token}"},
        subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
    )
    feed = Feed()

    async def pump() -> None:
        try:
            async with Client(transport=transport) as session:
                async for result in session.subscribe(GraphQLRequest(query)):
                    feed.items.put_nowait(result)
        except Exception as exc:  # surfaced to the test through Feed.next
            feed.items.put_nowait(exc)

    task = asyncio.create_task(pump())
    try:
        yield feed
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@contextlib.asynccontextmanager
async def raw_socket(
    ws_url: str, subprotocols: list[str] | None = None
) -> AsyncIterator[ClientConnection]:
    offered = [PROTOCOL] if subprotocols is None else subprotocols
    # An empty list must mean "no header at all" (websockets would send an empty one).
    async with connect(ws_url, subprotocols=offered or None, open_timeout=5) as ws:  # type: ignore[arg-type]
        yield ws


async def send(ws: ClientConnection, message: dict[str, Any]) -> None:
    await ws.send(json.dumps(message))


async def receive(ws: ClientConnection, within: float = 5.0) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), within))
    return message


async def init(ws: ClientConnection, payload: dict[str, Any] | None) -> None:
    message: dict[str, Any] = {"type": "connection_init"}
    if payload is not None:
        message["payload"] = payload
    await send(ws, message)
