"""No query path ever returns a record outside the viewer's visible set, over random org
trees (PRODUCT.md §3 "Visibility"), checked against the separate reference of
``tests/unit/domain/reference.py``.

Each example is a random history (users, employees with cycles and archived managers,
stages, deals, then random moves and deletions: the ``histories`` of the fold property
test). Its events are appended to a real event store in the running server's database, the
real projection runner builds the read models, and then, over real HTTP, for every viewer
(each sign-in email, an unknown one, an admin):

* ``opportunities`` (no filter, every status, random salesperson and stage filters, search,
  minimum revenue) lists only visible deals, and exactly the visible ones without a filter;
* ``opportunity(id)`` of every id finds exactly the visible deals;
* ``user(id)`` of every id finds exactly the readable profiles, whose hierarchies name only
  readable people;
* ``orgChart`` holds only the viewer's subtree; ``dashboard`` counts exactly the visible
  deals and its team rows name only visible salespeople;
* a viewer who is not an active user gets FORBIDDEN everywhere.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given, note
from hypothesis import strategies as st
from websockets.sync.client import connect

from domain.event_store import AppendRequest
from domain.events import NewEvent, RecordedEvent, StreamRef
from domain.model import EmployeeRecord, LeadRecord, StageRecord, UserRecord
from infrastructure.auth import mint_token
from infrastructure.eventstore.mongo import MongoEventStore
from infrastructure.mongo.client import create_client
from projections.catalog import PROJECTIONS
from projections.framework import ProjectionRunner, RunnerConfig, invalidate_active
from tests.reliability.gql import JWT_SECRET, check_answer
from tests.reliability.support import TALLY, Server, examples, run_async, serve
from tests.unit.domain import reference as ref
from tests.unit.projections.events import EventLog
from tests.unit.projections.test_folds_match_reference import histories

ADMIN = "boss@pulse.test"
STRANGER = "nobody@corp.com"
CHUNK = 25  # lookups per request (30 aliases at most)
ALL_STATUSES = ["OPEN", "WON", "LOST", "ARCHIVED"]


@pytest.fixture(scope="module")
def server(mongo_url: str) -> Iterator[Server]:
    with serve(mongo_url, jwt_secret=JWT_SECRET, graphiql=False) as running:
        yield running


# -- building the read models with the real projections -------------------------------------


def _commits(events: Sequence[RecordedEvent]) -> list[AppendRequest]:
    """Consecutive events of one stream were decided together: one commit each."""
    requests: list[AppendRequest] = []
    run: list[RecordedEvent] = []
    for event in [*events, None]:
        if run and (event is None or event.stream_id != run[0].stream_id
                    or event.stream_type != run[0].stream_type):  # fmt: skip
            new = [NewEvent(e.type, dict(e.data), e.schema_version, e.id, e.occurred_at,
                            e.correlation_id, e.causation_id, e.source) for e in run]  # fmt: skip
            stream = StreamRef(run[0].stream_type, run[0].stream_id)
            requests.append(AppendRequest(stream, new, run[0].version - 1))
            run = []
        if event is not None:
            run.append(event)
    return requests


def build_read_models(mongo_url: str, db_name: str, log: EventLog) -> None:
    async def build() -> None:
        client = create_client(mongo_url)
        try:
            await client.drop_database(db_name)
            db = client[db_name]
            store = MongoEventStore(db)
            await store.ensure_indexes()
            if log.events:
                await store.append_batch(_commits(log.events))
            config = RunnerConfig(poll_interval=0.05, backoff_initial=0.05, resume_rebuilds=False)
            runner = ProjectionRunner(db, store, PROJECTIONS, config=config)
            await runner.start()
            try:
                head = await store.head_position()
                assert await runner.wait_until(head, 60), await runner.status()
            finally:
                await runner.stop()
        finally:
            await client.close()

    run_async(build)
    invalidate_active()  # the server shares this process's generation cache


# -- the reference's answers ---------------------------------------------------------------


@dataclass
class Expected:
    org: ref.RefOrg
    leads: list[LeadRecord]
    stages: dict[int, StageRecord]
    all_users: list[UserRecord]

    @classmethod
    def of(cls, log: EventLog) -> Expected:
        users = [r for r in log.of(UserRecord) if isinstance(r, UserRecord)]
        employees = [r for r in log.of(EmployeeRecord) if isinstance(r, EmployeeRecord)]
        stages = {r.odoo_id: r for r in log.of(StageRecord) if isinstance(r, StageRecord)}
        leads = [r for r in log.of(LeadRecord) if isinstance(r, LeadRecord)]
        return cls(ref.ref_org(users, employees), leads, stages, users)

    def sign_in(self, email: str) -> str | None:
        """The user a token for ``email`` acts as: PRODUCT.md §3 says a user's email is
        ``res.users.email``, else the login when it is an email; several users with one email:
        the active one, then the lowest id; only an active user signs in.

        (``domain.org``'s ``user_for_email`` also accepts an email-like login of a user
        whose email differs; the API does not, and neither does this reference.)"""

        def key(user: UserRecord) -> str:
            mail = ref.clean_email(user.email)
            login = ref.clean_email(user.login)
            return mail or (login if ref.looks_like_email(login) else "")

        found = [u for u in self.org.users.values() if key(u) == email]
        if not found:
            return None
        chosen = min(found, key=lambda u: (not u.active, u.odoo_id))
        return str(chosen.odoo_id) if chosen.active else None

    def opportunities(self, uid: str | None) -> dict[str, LeadRecord]:
        seen = None if uid is None else ref.visible(self.org, uid)
        return {
            str(lead.odoo_id): lead
            for lead in self.leads
            if lead.type == "opportunity"
            and (seen is None or (lead.user_id is not None and str(lead.user_id) in seen))
        }

    def status(self, lead: LeadRecord) -> str:
        return ref.status_of(lead, self.stages)


# -- asking the server ----------------------------------------------------------------------


class Viewer:
    def __init__(self, server: Server, email: str, admin: bool = False) -> None:
        self.server = server
        self.token = mint_token(email, secret=JWT_SECRET, admin=admin)

    def ask(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        payload = {"query": query, "variables": variables or {}}
        response = self.server.http.post(
            f"{self.server.url}/graphql",
            json=payload,
            headers={"Authorization": f"Bearer {self.token}"},
        )
        body = check_answer(
            "visibility property: queries", response, json.dumps(payload), self.server,
            also_secret=(self.token,), internal_allowed=False,
        )  # fmt: skip
        assert body is not None
        return body

    def data(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        body = self.ask(query, variables)
        assert not body.get("errors"), body["errors"]
        result: dict[str, Any] = body["data"]
        return result

    def first_dashboard(self) -> dict[str, Any]:
        """The first message of ``dashboardUpdated``: the current dashboard (PRODUCT.md §4)."""
        url = f"{self.server.url}/graphql".replace("http://", "ws://")
        with connect(url, subprotocols=["graphql-transport-ws"], open_timeout=5) as ws:  # type: ignore[list-item]
            ws.send(json.dumps({"type": "connection_init",
                                "payload": {"Authorization": f"Bearer {self.token}"}}))  # fmt: skip
            assert json.loads(ws.recv(timeout=5))["type"] == "connection_ack"
            ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": PUSHED}}))
            message = json.loads(ws.recv(timeout=5))
        TALLY.record("visibility property: subscription (first push)", 101)
        assert message["type"] == "next", message
        assert self.token not in json.dumps(message)
        pushed: dict[str, Any] = message["payload"]["data"]["dashboardUpdated"]
        return pushed

    def lookups(self, field: str, ids: Sequence[str], selection: str) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start : start + CHUNK]
            query = (
                "{ "
                + " ".join(
                    f"l{n}: {field}(id: {json.dumps(i)}) {{ {selection} }}"
                    for n, i in enumerate(chunk)
                )
                + " }"
            )
            data = self.data(query)
            found.update({i: data[f"l{n}"] for n, i in enumerate(chunk)})
        return found


DASHBOARD = """dashboard { scope metrics { totalCount openCount wonCount lostCount }
                          team { salesperson { id } } }"""
PUSHED = "subscription { " + DASHBOARD.replace("dashboard {", "dashboardUpdated {", 1) + " }"
OVERVIEW = "{ viewer { id } orgChart { person { employeeId userId } } " + DASHBOARD + " }"
LIST = """query($f: OpportunityFilter) { opportunities(filter: $f, first: 200) {
  totalCount edges { node { id status salesperson { id } } } } }"""
PROFILE = "id hierarchy { manager { userId } subordinates { userId } }"


def check_viewer(viewer: Viewer, uid: str | None, admin: bool, exp: Expected,
                 filters: list[dict[str, Any]]) -> None:  # fmt: skip
    visible = None if admin else ref.visible(exp.org, uid or "")
    readable = None if admin else ref.readable(exp.org, uid or "")

    def seen(user_id: str | None) -> bool:
        return visible is None or (user_id is not None and user_id in visible)

    overview = viewer.data(OVERVIEW)
    assert (overview["viewer"] or {}).get("id") == uid
    wanted = ref.dashboard(exp.org, uid, admin, exp.leads, exp.stages)
    dashboard = overview["dashboard"]
    metrics = dashboard["metrics"]
    assert dashboard["scope"] == wanted[0]
    counts = (metrics["totalCount"], metrics["openCount"], metrics["wonCount"],
              metrics["lostCount"])  # fmt: skip
    assert counts == wanted[1][:4]
    assert all(seen(row["salesperson"]["id"]) for row in dashboard["team"])
    assert viewer.first_dashboard() == dashboard, "the pushed dashboard is the queried one"
    if not admin:
        mine = exp.org.link.get(uid or "")
        for node in overview["orgChart"]:
            assert seen(node["person"]["userId"]) or node["person"]["userId"] is None
            employee = node["person"]["employeeId"]
            if employee is not None:
                assert mine is not None and mine in ref.ancestors_or_self(exp.org, employee)

    expected = exp.opportunities(None if admin else uid)
    everything = viewer.data(LIST, {"f": {"status": ALL_STATUSES}})["opportunities"]
    listed = {e["node"]["id"] for e in everything["edges"]}
    assert listed == set(expected), "every status, no other filter: exactly the visible deals"
    for flt in filters:
        page = viewer.data(LIST, {"f": flt})["opportunities"]
        for edge in page["edges"]:
            node = edge["node"]
            assert node["id"] in expected
            assert seen((node["salesperson"] or {}).get("id"))

    ids = sorted({str(lead.odoo_id) for lead in exp.leads} | {"999", "-1", "x"})
    found = viewer.lookups("opportunity", ids, "id salesperson { id }")
    assert {i for i, doc in found.items() if doc is not None} == set(expected)

    user_ids = sorted({str(u.odoo_id) for u in exp.all_users} | {"77", "88", "nope"})
    profiles = viewer.lookups("user", user_ids, PROFILE)
    shown = {i for i, doc in profiles.items() if doc is not None}
    assert shown == (set(exp.org.users) if readable is None else readable)
    if readable is not None:
        for doc in profiles.values():
            if doc is None:
                continue
            manager = (doc["hierarchy"]["manager"] or {}).get("userId")
            assert manager is None or manager in readable
            assert all(p["userId"] in readable for p in doc["hierarchy"]["subordinates"]
                       if p["userId"] is not None)  # fmt: skip


def check_forbidden(viewer: Viewer) -> None:
    for query in (OVERVIEW, LIST, '{ opportunity(id: "1") { id } }', '{ user(id: "1") { id } }'):
        body = viewer.ask(query)
        assert body.get("data") is None
        assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]


@st.composite
def filters(draw: st.DrawFn, log: EventLog) -> list[dict[str, Any]]:
    user_ids = sorted({str(r.to_dict()["odoo_id"]) for r in log.of(UserRecord)} | {"88"})
    stage_ids = sorted({str(r.to_dict()["odoo_id"]) for r in log.of(StageRecord)} | {"55"})
    return [
        {},
        {"salespersonIds": draw(st.lists(st.sampled_from(user_ids), max_size=4))},
        {"stageIds": draw(st.lists(st.sampled_from(stage_ids), max_size=3)),
         "status": ALL_STATUSES},
        {"search": draw(st.sampled_from(["deal", "Deal 1", "1", "", "x"])),
         "minRevenue": draw(st.sampled_from([-1e9, 0.0, 100.0]))},
    ]  # fmt: skip


@examples(30)
@given(data=st.data())
def test_no_query_path_returns_a_record_outside_the_visible_set(
    server: Server, mongo_url: str, data: st.DataObject
) -> None:
    log = data.draw(histories())
    chosen_filters = data.draw(filters(log))
    build_read_models(mongo_url, server.db_name, log)
    exp = Expected.of(log)
    note(f"users: {exp.all_users}")
    note(f"employees: {list(exp.org.employees.values())}")
    note(f"leads: {exp.leads}")
    for email in [*ref.BASE_EMAILS, STRANGER]:
        uid = exp.sign_in(email)
        note(f"viewer {email} signs in as {uid}")
        viewer = Viewer(server, email)
        if uid is None:
            check_forbidden(viewer)
        else:
            check_viewer(viewer, uid, False, exp, chosen_filters)
    check_viewer(Viewer(server, ADMIN, admin=True), None, True, exp, chosen_filters)
