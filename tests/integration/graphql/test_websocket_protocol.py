"""The WebSocket endpoint at the protocol level: graphql-transport-ws only, authentication in
``connection_init``, close at token expiry, cleanup after abrupt disconnects."""

from __future__ import annotations

import asyncio
import secrets
import time

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus

from infrastructure.auth import mint_token
from projections.read_models import dashboard_channel
from tests.integration.graphql.clients import init, raw_socket, receive, send
from tests.integration.graphql.conftest import Live
from tests.integration.graphql.world import STRANGER

DASHBOARD = "subscription { dashboardUpdated { asOf metrics { pipelineValue } } }"


async def closed_with(live: Live, payload: dict[str, object] | None) -> int | None:
    async with raw_socket(live.ws_url) as ws:
        await init(ws, payload)
        with pytest.raises(ConnectionClosed) as closed:
            await receive(ws)
        return closed.value.rcvd.code if closed.value.rcvd else None


@pytest.mark.parametrize(
    ("case", "code"),
    [("no payload", 4401), ("no token", 4401), ("garbage", 4401), ("forged", 4401),
     ("not bearer", 4401), ("stranger", 4403), ("archived user", 4403)],
)  # fmt: skip
async def test_connection_init_must_carry_an_acceptable_token(
    live: Live, case: str, code: int
) -> None:
    payloads: dict[str, dict[str, object] | None] = {
        "no payload": None,
        "no token": {},
        "garbage": {"Authorization": "Bearer not.a.jwt"},
        "forged": {"Authorization": "Bearer "
                   + mint_token("x@pulse.test", secret=secrets.token_urlsafe(32), admin=True)},
        "not bearer": {"Authorization": live.token_of("ana")},
        "stranger": {"Authorization": f"Bearer {live.token(STRANGER)}"},
        "archived user": {"authorization": f"Bearer {live.token_of('dora')}"},
    }  # fmt: skip
    assert await closed_with(live, payloads[case]) == code


async def test_either_spelling_of_the_key_is_accepted(live: Live) -> None:
    for key in ("Authorization", "authorization"):
        async with raw_socket(live.ws_url) as ws:
            await init(ws, {key: f"Bearer {live.token_of('ana')}"})
            assert (await receive(ws))["type"] == "connection_ack"


async def test_subscribing_before_connection_init_is_refused(live: Live) -> None:
    async with raw_socket(live.ws_url) as ws:
        await send(ws, {"id": "1", "type": "subscribe", "payload": {"query": DASHBOARD}})
        with pytest.raises(ConnectionClosed) as closed:
            await receive(ws)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401


@pytest.mark.parametrize("offered", [["graphql-ws"], []], ids=["legacy graphql-ws", "none"])
async def test_only_graphql_transport_ws_is_spoken(live: Live, offered: list[str]) -> None:
    with pytest.raises(InvalidStatus) as refused:
        async with raw_socket(live.ws_url, subprotocols=offered):
            pass
    assert refused.value.response.status_code == 403


async def test_the_socket_is_closed_when_the_token_expires(live: Live) -> None:
    token = live.token_of("ana", ttl=2)
    started = time.monotonic()
    async with raw_socket(live.ws_url) as ws:
        await init(ws, {"Authorization": f"Bearer {token}"})
        assert (await receive(ws))["type"] == "connection_ack"
        await send(ws, {"id": "1", "type": "subscribe", "payload": {"query": DASHBOARD}})
        first = await receive(ws)
        assert first["type"] == "next" and first["payload"]["data"]["dashboardUpdated"]
        with pytest.raises(ConnectionClosed) as closed:
            await receive(ws, within=5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
    assert time.monotonic() - started < 4
    await live.wait_for_subscribers(dashboard_channel(live.world["ana"].id), 0)


async def test_an_abrupt_disconnect_leaves_no_subscriber_behind(live: Live) -> None:
    channel = dashboard_channel(live.world["maya"].id)
    for _ in range(3):
        async with raw_socket(live.ws_url) as ws:
            await init(ws, {"Authorization": f"Bearer {live.token_of('maya')}"})
            await receive(ws)
            for n in range(2):
                query = {"query": DASHBOARD}
                await send(ws, {"id": str(n), "type": "subscribe", "payload": query})
                await receive(ws)
            await live.wait_for_subscribers(channel, 2)
            ws.transport.abort()  # no close frame, no complete: the TCP connection just dies
    await live.wait_for_subscribers(channel, 0)
    await live.hub.wait_idle()
    tasks = [t for t in asyncio.all_tasks() if "pulse-broadcast:" in t.get_name()]
    assert tasks == []


async def test_errors_over_the_socket_carry_codes(live: Live) -> None:
    async with raw_socket(live.ws_url) as ws:
        await init(ws, {"Authorization": f"Bearer {live.token_of('ana')}"})
        await receive(ws)
        admin_only = {"query": "subscription { dashboardUpdated { nope } }"}
        await send(ws, {"id": "1", "type": "subscribe", "payload": admin_only})
        reply = await receive(ws)
        assert reply["type"] == "error"
        assert [e["extensions"]["code"] for e in reply["payload"]] == ["BAD_USER_INPUT"]
        query = {"query": "query { syncRuns { id } }"}
        await send(ws, {"id": "2", "type": "subscribe", "payload": query})
        reply = await receive(ws)
        assert reply["type"] == "next"
        assert [e["extensions"]["code"] for e in reply["payload"]["errors"]] == ["FORBIDDEN"]
