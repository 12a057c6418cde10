"""``dashboardUpdated`` and ``opportunityChanged`` over graphql-transport-ws, against the
in-process hub and the Redis hub (PRODUCT.md §4, ARCHITECTURE.md conventions 7-8)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pymongo import AsyncMongoClient
from redis.asyncio import Redis

from projections.read_models import (
    ADMIN_DASHBOARD_ID,
    DASHBOARDS,
    OPPORTUNITIES,
    USER_ACCESS,
    dashboard_channel,
    opportunity_channel,
)
from tests.integration.graphql.clients import Feed, subscription
from tests.integration.graphql.conftest import REDIS_URL, Live, live_server
from tests.integration.graphql.world import ADMIN_BY_ROLE, dashboard_doc, opportunity_doc

DASHBOARD = """subscription { dashboardUpdated { scope asOf updatedAt
  metrics { pipelineValue } team { salesperson { name } } } }"""
CHANGES = """subscription { opportunityChanged { kind opportunityId position
  opportunity { id name salesperson { id } } } }"""


async def _redis_or_skip() -> str:
    client = Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        await client.ping()
    except Exception as exc:
        pytest.fail(f"no Redis at {REDIS_URL}: {exc} (CI starts one; so must you)")
    finally:
        await client.aclose()
    return REDIS_URL


@pytest.fixture(scope="module", params=["memory", "redis"])
async def live(
    request: pytest.FixtureRequest, mongo_url: str, mongo_client: AsyncMongoClient[Any]
) -> AsyncIterator[Live]:
    redis_url = await _redis_or_skip() if request.param == "redis" else None
    # A short access TTL so that a revoked user's subscription notices within the test.
    async with live_server(mongo_url, mongo_client, redis_url=redis_url, access_ttl=0.5) as srv:
        yield srv


async def set_dashboard(live: Live, owner: str, pipeline: float, as_of: int) -> None:
    doc = dashboard_doc(live.world, owner, pipeline=pipeline, as_of=as_of)
    dashboards = await live.collection(DASHBOARDS)
    await dashboards.replace_one({"_id": doc["_id"]}, doc, upsert=True)


async def test_dashboard_sends_the_current_value_then_each_change(live: Live) -> None:
    ana = live.world["ana"].id
    channel = dashboard_channel(ana)
    async with subscription(live.ws_url, live.token_of("ana"), DASHBOARD) as feed:
        first = (await feed.next())["dashboardUpdated"]
        assert (first["scope"], first["metrics"]["pipelineValue"]) == ("OWN", 6000.0)
        await live.wait_for_subscribers(channel)
        # A notification that changes nothing the viewer sees: nothing is sent.
        await live.hub.publish(channel, {"position": 11})
        await feed.nothing_for()
        # Rewritten at a new position with equal values: still nothing.
        await set_dashboard(live, "ana", 6000.0, as_of=12)
        await live.hub.publish(channel, {"position": 12})
        await feed.nothing_for()
        await set_dashboard(live, "ana", 6500.0, as_of=13)
        await live.hub.publish(channel, {"position": 13})
        second = (await feed.next())["dashboardUpdated"]
        assert (second["metrics"]["pipelineValue"], second["asOf"]) == (6500.0, 13)
        # Another viewer's change, even announced on their channel, never reaches Ana.
        await set_dashboard(live, "cleo", 1.0, as_of=14)
        await live.hub.publish(dashboard_channel(live.world["cleo"].id), {"position": 14})
        await feed.nothing_for()
    await set_dashboard(live, "ana", 6000.0, as_of=10)


async def test_a_burst_of_changes_is_coalesced_and_ends_on_the_last_value(live: Live) -> None:
    """Twenty changes announced back to back: fewer pushes than changes (a push is paced by
    its cost and what arrives meanwhile is answered by one re-read), each push newer than
    the one before, and the last one carries the final values."""
    cleo = live.world["cleo"].id
    channel = dashboard_channel(cleo)
    async with subscription(live.ws_url, live.token_of("cleo"), DASHBOARD) as feed:
        assert (await feed.next())["dashboardUpdated"]["asOf"] < 100
        await live.wait_for_subscribers(channel)
        for step in range(1, 21):
            await set_dashboard(live, "cleo", 1000.0 + step, as_of=100 + step)
            await live.hub.publish(channel, {"position": 100 + step})
        pushed = [(await feed.next())["dashboardUpdated"]]
        while pushed[-1]["asOf"] != 120:
            pushed.append((await feed.next())["dashboardUpdated"])
        await feed.nothing_for()
        assert pushed[-1]["metrics"]["pipelineValue"] == 1020.0
        assert [p["asOf"] for p in pushed] == sorted({p["asOf"] for p in pushed})
        assert len(pushed) < 20, f"{len(pushed)} pushes for 20 changes: not coalesced"
    await set_dashboard(live, "cleo", 123456.0, as_of=10)


async def test_admins_follow_the_shared_dashboard(live: Live) -> None:
    channel = dashboard_channel(ADMIN_DASHBOARD_ID)
    async with subscription(live.ws_url, live.token(ADMIN_BY_ROLE, admin=True), DASHBOARD) as feed:
        first = (await feed.next())["dashboardUpdated"]
        assert (first["scope"], first["metrics"]["pipelineValue"]) == ("ALL", 999999.0)
        assert [r["salesperson"]["name"] for r in first["team"]][:2] == ["Maya Manager", "Ana Rep"]
        await live.wait_for_subscribers(channel)
        await set_dashboard(live, ADMIN_DASHBOARD_ID, 5.0, as_of=20)
        await live.hub.publish(channel, {"position": 20})
        assert (await feed.next())["dashboardUpdated"]["metrics"]["pipelineValue"] == 5.0


async def changes(live: Live, who: str) -> tuple[Feed, str]:
    return Feed(), opportunity_channel(live.world[who].id)


async def test_opportunity_changes_follow_what_the_viewer_can_see(live: Live) -> None:
    world = live.world
    collection = await live.collection(OPPORTUNITIES)
    channel = opportunity_channel(world["maya"].id)
    new = opportunity_doc(world, 500, "ana", name="Fresh deal", revenue=10.0)
    async with subscription(live.ws_url, live.token_of("maya"), CHANGES) as feed:
        await live.wait_for_subscribers(channel)
        await feed.nothing_for(0.3)  # nothing on connect
        await collection.insert_one(new)
        await live.hub.publish(channel, notice("CREATED", new["_id"], 500))
        created = (await feed.next())["opportunityChanged"]
        assert created == {
            "kind": "CREATED",
            "opportunityId": new["_id"],
            "position": 500,
            "opportunity": {"id": new["_id"], "name": "Fresh deal",
                            "salesperson": {"id": world["ana"].id}},
        }  # fmt: skip
        await collection.update_one({"_id": new["_id"]}, {"$set": {"name": "Renamed", "pos": 501}})
        await live.hub.publish(channel, notice("UPDATED", new["_id"], 501))
        updated = (await feed.next())["opportunityChanged"]
        assert (updated["kind"], updated["opportunity"]["name"]) == ("UPDATED", "Renamed")
        # The same state announced again is not pushed twice.
        await live.hub.publish(channel, notice("UPDATED", new["_id"], 501))
        await feed.nothing_for()
        # Reassigned to Cleo: Maya no longer sees it, so it is REMOVED for her.
        cleo = world["cleo"]
        await collection.update_one(
            {"_id": new["_id"]},
            {"$set": {"salesperson_id": cleo.id, "visible_to": [cleo.id, world["max"].id],
                      "pos": 502}},
        )  # fmt: skip
        await live.hub.publish(channel, notice("UPDATED", new["_id"], 502))
        removed = (await feed.next())["opportunityChanged"]
        assert removed == {"kind": "REMOVED", "opportunityId": new["_id"], "position": 502,
                           "opportunity": None}  # fmt: skip
        # Deleted: REMOVED (once), and junk on the channel is ignored.
        gone = next(iter(world.owned_by("ben")))
        saved = await collection.find_one({"_id": gone})
        await collection.delete_one({"_id": gone})
        await live.hub.publish(channel, {"unrelated": True})
        await live.hub.publish(channel, notice("REMOVED", gone, 503))
        await live.hub.publish(channel, notice("REMOVED", gone, 503))
        assert (await feed.next())["opportunityChanged"]["kind"] == "REMOVED"
        await feed.nothing_for()
    await collection.delete_one({"_id": new["_id"]})
    await collection.insert_one(saved)


def notice(kind: str, opportunity_id: str, position: int) -> dict[str, Any]:
    return {"kind": kind, "opportunityId": opportunity_id, "position": position}


async def test_a_change_is_never_pushed_with_values_the_viewer_cannot_see(live: Live) -> None:
    # A notice about Cleo's deal on Ana's channel (a projection bug) must not leak it.
    world = live.world
    secret = next(iter(world.owned_by("cleo")))
    channel = opportunity_channel(world["ana"].id)
    async with subscription(live.ws_url, live.token_of("ana"), CHANGES) as feed:
        await live.wait_for_subscribers(channel)
        await live.hub.publish(channel, notice("UPDATED", secret, 600))
        change = (await feed.next())["opportunityChanged"]
        assert (change["kind"], change["opportunity"]) == ("REMOVED", None)


async def test_subscriptions_leave_nothing_behind(live: Live) -> None:
    channel = dashboard_channel(live.world["ben"].id)
    async with subscription(live.ws_url, live.token_of("ben"), DASHBOARD) as feed:
        await feed.next()
        await live.wait_for_subscribers(channel, 1)
        async with subscription(live.ws_url, live.token_of("ben"), DASHBOARD) as other:
            await other.next()
            await live.wait_for_subscribers(channel, 2)
    await live.wait_for_subscribers(channel, 0)
    await live.hub.wait_idle()


async def test_a_user_who_loses_access_is_cut_off(live: Live) -> None:
    world = live.world
    channel = dashboard_channel(world["ben"].id)
    access = await live.collection(USER_ACCESS)
    async with subscription(live.ws_url, live.token_of("ben"), DASHBOARD) as feed:
        await feed.next()
        await live.wait_for_subscribers(channel)
        await access.update_one({"_id": world["ben"].id}, {"$set": {"active": False}})
        try:
            await asyncio.sleep(0.6)  # longer than the access TTL of this server
            await live.hub.publish(channel, {"position": 700})
            with pytest.raises(Exception, match="no access") as refused:
                await feed.next()
            assert "FORBIDDEN" in json.dumps(getattr(refused.value, "errors", None))
        finally:
            await access.update_one({"_id": world["ben"].id}, {"$set": {"active": True}})
    await live.wait_for_subscribers(channel, 0)


@pytest.fixture(scope="module")
async def patient(mongo_url: str, mongo_client: AsyncMongoClient[Any]) -> AsyncIterator[Live]:
    """A server with the default access TTL (300 s): longer than any test waits."""
    async with live_server(mongo_url, mongo_client) as srv:
        yield srv


async def test_a_subscription_is_cut_off_when_the_server_sees_the_change_not_a_ttl_later(
    patient: Live,
) -> None:
    live, ben = patient, patient.world["ben"]
    channel = dashboard_channel(ben.id)
    access = await live.collection(USER_ACCESS)
    async with subscription(live.ws_url, live.token_of("ben"), DASHBOARD) as feed:
        await feed.next()
        await live.wait_for_subscribers(channel)
        await set_dashboard(live, "ben", 1234.0, as_of=50)
        await live.hub.publish(channel, {"position": 50})
        pushed = await feed.next()  # served from the connection's caller: the stamp stands
        assert pushed["dashboardUpdated"]["metrics"]["pipelineValue"] == 1234.0
        await access.update_one({"_id": ben.id}, {"$set": {"active": False}})
        await live.access_changed()  # the access matrix's stamp moved; the server saw it
        try:
            await live.hub.publish(channel, {"position": 51})
            with pytest.raises(Exception, match="no access") as refused:
                await feed.next()
            assert "FORBIDDEN" in json.dumps(getattr(refused.value, "errors", None))
        finally:
            await access.update_one({"_id": ben.id}, {"$set": {"active": True}})
            await live.access_changed()
    await live.wait_for_subscribers(channel, 0)


async def test_notifications_published_by_another_process_arrive(live: Live) -> None:
    """Through Redis, another process's notification reaches this server's subscribers;
    with in-process broadcast it must not (memory broadcast is one process only)."""
    ana = live.world["ana"].id
    channel = dashboard_channel(ana)
    publisher = Redis.from_url(REDIS_URL)
    try:
        async with subscription(live.ws_url, live.token_of("ana"), DASHBOARD) as feed:
            await feed.next()
            await live.wait_for_subscribers(channel)
            await set_dashboard(live, "ana", 4321.0, as_of=30)
            await publisher.publish(channel, json.dumps({"position": 30}))
            if live.container.settings.redis_url is None:
                with pytest.raises(TimeoutError):
                    await asyncio.wait_for(feed.next(), 1.0)
            else:
                pushed = await feed.next()
                assert pushed["dashboardUpdated"]["metrics"]["pipelineValue"] == 4321.0
    finally:
        await publisher.aclose()
        await set_dashboard(live, "ana", 6000.0, as_of=10)
