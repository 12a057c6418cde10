"""A viewer who sees every salesperson (a CEO) has exactly the admin's team table: their
document refers to the admin's (``team_of``) instead of holding a copy, and holds its own
again as soon as the two tables differ. Only large tables are shared (a second read for the
viewer's every read is worth it only then); ``SharingDashboards`` shares any non-empty one."""

from __future__ import annotations

from typing import Any

from domain.model import EmployeeRecord, LeadRecord, StageRecord, UserRecord
from projections.dashboards import DashboardProjection
from projections.read_models import (
    ADMIN_DASHBOARD_ID,
    DASHBOARDS,
    dashboard_channel,
    team_rows,
    team_table_hash,
)
from tests.unit.projections.events import EventLog, fold
from tests.unit.projections.test_dashboard_modes import Run
from tests.unit.projections.test_folds_match_reference import SharingDashboards
from tests.unit.projections_framework.fakes import FakeDb


def company(people: int) -> EventLog:
    """User 1 heads users 2..people, each with one deal; user 1 has one too."""
    log = EventLog()
    log.put(StageRecord(1, "New"))
    for uid in range(1, people + 1):
        log.put(UserRecord(uid, f"u{uid}", f"User {uid}", f"u{uid}@x"))
        log.put(EmployeeRecord(uid, f"User {uid}", uid, None if uid == 1 else 1))
        log.put(LeadRecord(uid, f"Deal {uid}", user_id=uid, stage_id=1,
                           expected_revenue=100.0 * uid, probability=50.0))  # fmt: skip
    return log


def documents(log: EventLog, kind: type = SharingDashboards) -> dict[str, dict[str, Any]]:
    docs: dict[str, dict[str, Any]] = fold(kind, log.events).all_documents()
    return docs


def test_a_viewer_who_sees_everyone_refers_to_the_admins_table() -> None:
    docs = documents(company(3))
    ceo, admin = docs["1"], docs[ADMIN_DASHBOARD_ID]
    assert "team" not in ceo and ceo["team_of"] == ADMIN_DASHBOARD_ID
    assert ceo["team_hash"] == admin["team_hash"] == team_table_hash(admin["team"])
    assert [row["salesperson_id"] for row in team_rows(admin["team"])] == ["3", "2", "1"]
    assert ceo["metrics"] == admin["metrics"]
    assert "team_of" not in docs["2"] and "team_hash" not in docs["2"]  # OWN: no table


def test_a_viewer_who_no_longer_sees_everyone_holds_their_own_table() -> None:
    log = company(3)
    log.put(UserRecord(4, "u4", "User 4", "u4@x"))  # no employee: under nobody
    log.put(LeadRecord(4, "Deal 4", user_id=4, stage_id=1, expected_revenue=1.0))
    docs = documents(log)
    ceo, admin = docs["1"], docs[ADMIN_DASHBOARD_ID]
    assert "team_of" not in ceo and "team_hash" not in ceo
    assert [row["salesperson_id"] for row in team_rows(ceo["team"])] == ["3", "2", "1"]
    assert [row["salesperson_id"] for row in team_rows(admin["team"])] == ["3", "2", "1", "4"]
    log.delete("crm.lead", 4)  # the tables are the same again
    assert documents(log)["1"]["team_of"] == ADMIN_DASHBOARD_ID


def test_only_tables_from_the_threshold_are_shared() -> None:
    small = documents(company(3), DashboardProjection)
    assert "team_of" not in small["1"] and small["1"]["team"] == small[ADMIN_DASHBOARD_ID]["team"]
    large = documents(company(200), DashboardProjection)
    admin_table = large[ADMIN_DASHBOARD_ID]["team"]
    assert len(admin_table) >= DashboardProjection.share_tables_from > len(small["1"]["team"])
    assert large["1"]["team_of"] == ADMIN_DASHBOARD_ID and "team" not in large["1"]


async def test_a_change_the_sharer_does_not_see_rewrites_their_document() -> None:
    # Live: the CEO shares the admin's table; then a salesperson outside their tree gets a
    # deal, which changes the admin's table and no number of the CEO's. The CEO's document
    # must not keep naming the old table (a reader would never find it again).
    log = company(3)
    first = len(log.events)
    log.put(UserRecord(4, "u4", "User 4", "u4@x"))
    log.put(LeadRecord(4, "Deal 4", user_id=4, stage_id=1, expected_revenue=1.0))
    run = await Run(FakeDb(), rebuilding=False).start()
    await run.feed(log.events[:first])
    docs = run.db[f"{DASHBOARDS}__g1"].docs
    assert docs["1"]["team_of"] == ADMIN_DASHBOARD_ID
    await run.feed(log.events[first:])  # asserts that shared tables agree after each flush
    assert "team_of" not in docs["1"] and len(team_rows(docs["1"]["team"])) == 3
    pushed = {n.channel for n in run.notes[-1]}
    assert pushed == {dashboard_channel(v) for v in ("1", "4", ADMIN_DASHBOARD_ID)}
