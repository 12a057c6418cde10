"""The projections' incremental folds equal a straightforward reference computation, over
random org trees (user-less and archived managers, email-only links, ambiguous emails,
cycles) and random opportunities, applied as events in random orders with random changes."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.model import EmployeeRecord, LeadRecord, StageRecord, UserRecord
from projections.dashboards import DashboardProjection
from projections.opportunity_view import OpportunityViewProjection
from projections.org_views import AccessMatrixProjection
from projections.read_models import team_rows, team_table_hash
from tests.unit.domain import reference as ref
from tests.unit.domain.reference import lead_record, org_records, stage_records
from tests.unit.projections.events import EventLog, fold


class SharingDashboards(DashboardProjection):
    """Shares every non-empty table equal to the admin's (the projection's threshold keeps
    sharing to large tables, which these small random orgs never have)."""

    share_tables_from = 3


def metrics_tuple(m: dict[str, Any]) -> tuple[Any, ...]:
    return (
        m["total_count"],
        m["open_count"],
        m["won_count"],
        m["lost_count"],
        m["pipeline_value"],
        m["weighted_pipeline_value"],
        m["won_value"],
        m["win_rate"],
        m["average_deal_size"],
    )


def table_of(doc: dict[str, Any], docs: dict[str, dict[str, Any]]) -> Any:
    """The document's team table, read in from the one it shares (``team_of``)."""
    if "team_of" not in doc:
        return doc["team"]
    shared = docs[doc["team_of"]]
    assert shared["team_hash"] == doc["team_hash"] == team_table_hash(shared["team"])
    return shared["team"]


def as_reference_shape(doc: dict[str, Any], docs: dict[str, dict[str, Any]]) -> tuple[Any, ...]:
    return (
        doc["scope"],
        metrics_tuple(doc["metrics"]),
        [(row["stage"]["odoo_id"], row["count"], row["value"]) for row in doc["by_stage"]],
        [
            (row["salesperson_id"], metrics_tuple(row["metrics"]))
            for row in team_rows(table_of(doc, docs))
        ],
    )


@st.composite
def histories(draw: st.DrawFn) -> EventLog:
    users, employees = draw(org_records())
    stages = draw(stage_records())
    user_ids = [u.odoo_id for u in users]
    stage_ids = [s.odoo_id for s in stages]
    lead_ids = draw(st.lists(st.integers(1, 40), unique=True, max_size=15))
    leads = [draw(lead_record(i, user_ids, stage_ids)) for i in lead_ids]
    log = EventLog()
    first: list[Any] = [*users, *employees, *stages, *leads]
    for record in draw(st.permutations(first)):
        log.put(record)
    # Then random changes: deals move, org moves, stages flip, records disappear.
    for _ in range(draw(st.integers(0, 12))):
        kind = draw(st.sampled_from(["lead", "lead", "lead", "employee", "stage", "delete"]))
        if kind == "lead" and lead_ids:
            log.put(draw(lead_record(draw(st.sampled_from(lead_ids)), user_ids, stage_ids)))
        elif kind == "employee" and employees:
            emp = draw(st.sampled_from(employees))
            parent = draw(st.sampled_from([None, *[e.odoo_id for e in employees]]))
            log.put(
                EmployeeRecord(
                    **{**emp.to_dict(), "parent_id": parent, "active": draw(st.booleans())}
                )
            )
        elif kind == "stage" and stages:
            stage = draw(st.sampled_from(stages))
            log.put(StageRecord(**{**stage.to_dict(), "is_won": draw(st.booleans())}))
        elif kind == "delete":
            victim = draw(st.sampled_from(["lead", "user", "employee"]))
            pool = {"lead": lead_ids, "user": user_ids, "employee": [e.odoo_id for e in employees]}[
                victim
            ]
            if pool:
                model = {"lead": "crm.lead", "user": "res.users", "employee": "hr.employee"}
                log.delete(model[victim], draw(st.sampled_from(pool)))
    return log


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(histories())
def test_dashboards_visibility_and_access_equal_the_reference(log: EventLog) -> None:
    users = [r for r in log.of(UserRecord) if isinstance(r, UserRecord)]
    employees = [r for r in log.of(EmployeeRecord) if isinstance(r, EmployeeRecord)]
    stages = {r.odoo_id: r for r in log.of(StageRecord) if isinstance(r, StageRecord)}
    leads = [r for r in log.of(LeadRecord) if isinstance(r, LeadRecord)]
    org = ref.ref_org(users, employees)

    dashboards = fold(SharingDashboards, log.events).all_documents()
    assert as_reference_shape(dashboards["__all__"], dashboards) == ref.dashboard(
        org, None, True, leads, stages
    )
    for uid in org.users:
        expected = ref.dashboard(org, uid, False, leads, stages)
        assert as_reference_shape(dashboards[uid], dashboards) == expected, f"viewer {uid}"

    access = fold(AccessMatrixProjection, log.events).all_documents()
    for uid in org.users:
        assert set(access[uid]["visible_user_ids"]) == ref.visible(org, uid), f"viewer {uid}"
        assert set(access[uid]["readable_profile_ids"]) == ref.readable(org, uid)

    view = fold(OpportunityViewProjection, log.events).all_documents()["opportunity_view"]
    listed = {str(lead.odoo_id): lead for lead in leads if lead.type == "opportunity"}
    assert set(view) == set(listed)
    for oid, doc in view.items():
        salesperson = listed[oid].user_id
        expected_viewers = ref.viewers_of(org, str(salesperson) if salesperson else None)
        assert set(doc["visible_to"]) == expected_viewers, f"opportunity {oid}"
        assert doc["status"] == ref.status_of(listed[oid], stages)
