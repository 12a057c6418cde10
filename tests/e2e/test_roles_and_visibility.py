"""Per-role dashboards and lists from a running ``pulse serve`` equal the reference
computation over the built-in Odoo's data, and nothing leaks to an unauthorised viewer."""

from __future__ import annotations

import pytest

from infrastructure.auth import mint_token
from infrastructure.odoo_fake import FakeOdoo
from tests.e2e.conftest import JWT_SECRET, Server, token
from tests.e2e.reference_world import World

pytestmark = pytest.mark.e2e

DASHBOARD = """{ dashboard { scope asOf
  metrics { totalCount openCount wonCount lostCount pipelineValue weightedPipelineValue
            wonValue winRate averageDealSize }
  byStage { stage { odooId } count value }
  team { salesperson { id } metrics { totalCount openCount wonCount lostCount pipelineValue
         weightedPipelineValue wonValue winRate averageDealSize } } } }"""


def metrics_tuple(m: dict[str, object]) -> tuple[object, ...]:
    return tuple(
        m[k]
        for k in (
            "totalCount",
            "openCount",
            "wonCount",
            "lostCount",
            "pipelineValue",
            "weightedPipelineValue",
            "wonValue",
            "winRate",
            "averageDealSize",
        )
    )


def shaped(d: dict[str, object]) -> tuple[object, ...]:
    by_stage = [(r["stage"]["odooId"], r["count"], r["value"]) for r in d["byStage"]]  # type: ignore[index,union-attr]
    team = [(r["salesperson"]["id"], metrics_tuple(r["metrics"])) for r in d["team"]]  # type: ignore[index,union-attr]
    return (d["scope"], metrics_tuple(d["metrics"]), by_stage, team)  # type: ignore[arg-type]


def test_every_users_dashboard_equals_the_reference(served: Server, northwind: FakeOdoo) -> None:
    world = World(northwind)
    users = world.active_internal_users()
    assert len(users) >= 10
    for user in users:
        answer = served.graphql(token(world.email_of(user.odoo_id)), DASHBOARD)
        assert "errors" not in answer, (user.name, answer)
        assert shaped(answer["data"]["dashboard"]) == world.dashboard(str(user.odoo_id)), user.name
    admin = served.graphql(token("ops@northwind.example"), DASHBOARD)["data"]["dashboard"]
    assert shaped(admin) == world.dashboard(None, admin=True)


def test_lists_and_lookups_show_exactly_the_visible_opportunities(
    served: Server, northwind: FakeOdoo
) -> None:
    world = World(northwind)
    every_id = [str(lead.odoo_id) for lead in world.leads]
    for user in world.active_internal_users():
        auth = token(world.email_of(user.odoo_id))
        expected = world.visible_opportunities(str(user.odoo_id))
        page = served.graphql(
            auth, "{ opportunities(first: 200) { totalCount edges { node { id } } } }"
        )
        listed = {e["node"]["id"] for e in page["data"]["opportunities"]["edges"]}
        assert listed == expected, user.name
        assert page["data"]["opportunities"]["totalCount"] == len(expected)
        reachable = world.visible_opportunities(str(user.odoo_id), archived=True)
        found = served.graphql(auth, '{ a: opportunity(id: "0") { id } }')
        assert found["data"]["a"] is None
        # Every id looked up one by one (aliased, 25 per request: the alias limit is 30).
        for start in range(0, len(every_id), 25):
            chunk = every_id[start : start + 25]
            query = (
                "{ "
                + " ".join(
                    f'o{oid}: opportunity(id: "{oid}") {{ id history {{ type }} }}' for oid in chunk
                )
                + " }"
            )
            answer = served.graphql(auth, query)
            assert "errors" not in answer, answer
            for oid in chunk:
                seen = answer["data"][f"o{oid}"] is not None
                assert seen == (oid in reachable), (user.name, oid)


def test_bad_tokens_are_refused(served: Server) -> None:
    from datetime import UTC, datetime, timedelta

    import jwt

    past = datetime.now(UTC) - timedelta(hours=2)
    expired = mint_token(
        "maria.lopez@northwind.example", secret=JWT_SECRET, ttl_seconds=60, now=past
    )
    forged = jwt.encode(
        {"sub": "maria.lopez@northwind.example", "exp": 4_000_000_000}, "x" * 48, algorithm="HS256"
    )
    unsigned = jwt.encode(
        {"sub": "maria.lopez@northwind.example", "exp": 4_000_000_000}, None, algorithm="none"
    )  # type: ignore[arg-type]
    for bad in (expired, forged, unsigned, "not-a-jwt"):
        answer = served.graphql(bad, "{ dashboard { scope } }")
        assert answer["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        assert "Traceback" not in str(answer) and JWT_SECRET not in str(answer)
    stranger = served.graphql(token("nobody@elsewhere.example"), "{ dashboard { scope } }")
    assert stranger["errors"][0]["extensions"]["code"] == "FORBIDDEN"
