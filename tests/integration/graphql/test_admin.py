"""Admin screens: sync runs and ``syncOdoo``, projections and rebuilds, the event explorer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.events import NewEvent, StreamRef
from domain.sync import SyncAlreadyRunning, SyncMode
from tests.integration.graphql.conftest import Live, error_codes, projection_status
from tests.integration.graphql.world import ADMIN_BY_EMAIL

RUN = "id mode trigger status startedAt finishedAt error stats { fetched created eventsAppended }"


def admin(live: Live) -> str:
    return live.token(ADMIN_BY_EMAIL)


async def test_sync_odoo_hands_the_command_over_and_returns_the_run(live: Live) -> None:
    live.commands.calls.clear()
    data = await live.data(f"mutation {{ syncOdoo {{ {RUN} }} }}", token=admin(live))
    run = data["syncOdoo"]
    assert (run["mode"], run["status"], run["trigger"]) == ("INCREMENTAL", "SUCCEEDED", "graphql")
    assert run["stats"] == {"fetched": 3, "created": 2, "eventsAppended": 2}
    data = await live.data(
        "mutation { syncOdoo(mode: FULL, wait: false) { mode } }", token=admin(live)
    )
    assert data["syncOdoo"]["mode"] == "FULL"
    assert live.commands.calls == [
        ("sync", (SyncMode.INCREMENTAL, True)),
        ("sync", (SyncMode.FULL, False)),
    ]
    runs = await live.data(f"{{ syncRuns(last: 1) {{ {RUN} }} }}", token=admin(live))
    assert [r["mode"] for r in runs["syncRuns"]] == ["FULL"]


async def test_a_sync_while_another_runs_is_refused(live: Live) -> None:
    live.commands.fail_with = SyncAlreadyRunning()
    try:
        body = await live.post("mutation { syncOdoo { id } }", token=admin(live))
    finally:
        live.commands.fail_with = None
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert "already running" in body["errors"][0]["message"]


@pytest.mark.parametrize(("last", "ok"), [(0, True), (100, True), (-1, False), (101, False)])
async def test_sync_runs_validates_last(live: Live, last: int, ok: bool) -> None:
    body = await live.post("query($n: Int) { syncRuns(last: $n) { id } }", {"n": last},
                           token=admin(live))  # fmt: skip
    assert error_codes(body) == ([] if ok else ["BAD_USER_INPUT"])


async def test_projections_and_rebuilds(live: Live) -> None:
    live.commands.statuses = [projection_status("dashboards", 40, 42),
                              projection_status("opportunities", 42, 42)]  # fmt: skip
    query = "{ projections { name state position headPosition lag eventsPerSecond updatedAt } }"
    data = await live.data(query, token=admin(live))
    assert [(p["name"], p["lag"], p["state"]) for p in data["projections"]] == [
        ("dashboards", 2, "LIVE"),
        ("opportunities", 0, "LIVE"),
    ]
    data = await live.data(
        'mutation { rebuildProjections(names: ["dashboards"]) { name } }', token=admin(live)
    )
    assert data["rebuildProjections"] == [{"name": "dashboards"}]
    await live.data("mutation { rebuildProjections { name } }", token=admin(live))
    assert live.commands.calls[-2:] == [("rebuild", ["dashboards"]), ("rebuild", None)]


async def test_by_default_commands_go_to_the_container(live: Live) -> None:
    commands = live.container.extras.pop("commands")
    try:
        body = await live.post("mutation { syncOdoo { id } }", token=admin(live))
        assert error_codes(body) == ["INTERNAL"]
        assert body["errors"][0]["message"].startswith("Odoo is not configured")
        body = await live.post('mutation { rebuildProjections(names: ["nope"]) { name } }',
                               token=admin(live))  # fmt: skip
        assert error_codes(body) == ["BAD_USER_INPUT"]
        data = await live.data(
            "{ syncRuns { id } projections { name position } }", token=admin(live)
        )
        assert data["syncRuns"] == []
        assert {p["name"] for p in data["projections"]} == {
            "user_profiles", "user_access_matrix", "opportunity_view", "dashboard_metrics"
        }  # fmt: skip
    finally:
        live.container.extras["commands"] = commands


EVENTS = """query($filter: EventFilter, $first: Int, $after: String) {
  events(filter: $filter, first: $first, after: $after) {
    pageInfo { hasNextPage endCursor }
    edges { cursor node { id position type aggregateType aggregateId version occurredAt
                          recordedAt data processedBy } } } }"""


async def test_the_event_explorer_filters_pages_and_shows_progress(live: Live) -> None:
    store = live.container.event_store
    start = datetime(2026, 2, 1, tzinfo=UTC)
    for n in range(5):
        await store.append(
            StreamRef("opportunity", str(n % 2)),
            [
                NewEvent(
                    f"Type{n % 3}", {"n": n, "at": start}, occurred_at=start + timedelta(days=n)
                )
            ],
        )
    head = await store.head_position()
    live.commands.positions = {"dashboards": head - 3, "opportunities": head}
    data = await live.data(EVENTS, {"first": 2}, token=admin(live))
    edges = data["events"]["edges"]
    assert [e["node"]["data"]["n"] for e in edges] == [0, 1]
    assert edges[0]["cursor"] == str(edges[0]["node"]["position"])
    assert edges[0]["node"]["processedBy"] == ["dashboards", "opportunities"]
    assert edges[0]["node"]["data"]["at"] == "2026-02-01T00:00:00Z"
    rest = await live.data(
        EVENTS, {"first": 10, "after": data["events"]["pageInfo"]["endCursor"]}, token=admin(live)
    )
    nodes = [e["node"] for e in rest["events"]["edges"]]
    assert [n["data"]["n"] for n in nodes] == [2, 3, 4]
    assert rest["events"]["pageInfo"]["hasNextPage"] is False
    assert [n["processedBy"] for n in nodes] == [["opportunities"]] * 3
    filtered = await live.data(
        EVENTS,
        {"filter": {"aggregateType": "opportunity", "aggregateId": "0", "types": ["Type0", "Type2"],
                    "from": "2026-02-02T00:00:00Z", "to": "2026-02-06T00:00:00+00:00"}},
        token=admin(live),
    )  # fmt: skip
    assert [e["node"]["data"]["n"] for e in filtered["events"]["edges"]] == [2]


@pytest.mark.parametrize(
    "variables", [{"first": 501}, {"first": -1}, {"after": "abc"}, {"after": "-3"}]
)
async def test_the_event_explorer_validates_its_arguments(
    live: Live, variables: dict[str, object]
) -> None:
    body = await live.post(EVENTS, variables, token=admin(live))
    assert error_codes(body) == ["BAD_USER_INPUT"]
