"""The stored form of a dashboard's team rows (``read_models.team_table``): one JSON text
that reads back as exactly the rows written, and documents still holding the earlier form
(a list of row documents) read the same."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from domain.metrics import Contribution, DashboardScope, DashboardState, OpportunityStatus
from domain.org import Hierarchy, LinkMethod, OdooLink, UserProfile
from projections.dashboards import TeamRows, dashboard_values
from projections.read_models import (
    TEAM_ROW_METRICS,
    DashboardDoc,
    TeamRowDoc,
    team_rows,
    team_table,
)

COUNTS = st.integers(0, 10**9)
MONEY = st.floats(allow_nan=False, allow_infinity=False, width=64)


@st.composite
def metrics(draw: st.DrawFn) -> dict[str, Any]:
    """A row's metrics as the projection renders them: the total and the win rate follow
    from the counts (a row stores only what they follow from)."""
    opened, won, lost = draw(COUNTS), draw(COUNTS), draw(COUNTS)
    return {
        "total_count": opened + won + lost,
        "open_count": opened,
        "won_count": won,
        "lost_count": lost,
        "pipeline_value": draw(MONEY),
        "weighted_pipeline_value": draw(MONEY),
        "won_value": draw(MONEY),
        "win_rate": won / (won + lost) if won + lost else None,
        "average_deal_size": draw(st.none() | MONEY),
    }


METRICS = metrics()
PEOPLE_ROWS = st.tuples(
    st.text(min_size=1, max_size=6),
    st.text(max_size=8),
    st.text(max_size=8),
    st.booleans(),
)
ROWS = st.lists(st.tuples(PEOPLE_ROWS, METRICS), max_size=30)


def doc(team: Any) -> dict[str, Any]:
    return {
        "_id": "7",
        "scope": "TEAM",
        "metrics": {},
        "team": team,
        "as_of": 3,
        "updated_at": datetime(2026, 1, 1, tzinfo=UTC),
    }


@given(rows=ROWS)
def test_rows_read_back_exactly_in_order(rows: list[tuple[Any, dict[str, Any]]]) -> None:
    stored = team_table(rows)
    assert isinstance(stored, str)
    expected = [
        {"salesperson_id": sid, "name": name, "email": mail, "active": active, "metrics": m}
        for (sid, name, mail, active), m in rows
    ]
    assert team_rows(stored) == expected  # floats compare exactly: no rounding on the way
    parsed = DashboardDoc.model_validate(doc(stored))
    assert parsed.team == [TeamRowDoc.of(person, metrics) for person, metrics in rows]
    assert parsed.model_dump(by_alias=True)["team"] == stored  # dumps the stored form


@given(rows=ROWS)
def test_the_earlier_list_form_reads_without_the_person(
    rows: list[tuple[Any, dict[str, Any]]],
) -> None:
    # Stored before rows carried the salesperson: the reader completes those from profiles.
    legacy = [{"salesperson_id": person[0], "metrics": metrics} for person, metrics in rows]
    assert team_rows(legacy) == [
        {**row, "name": None, "email": None, "active": None} for row in legacy
    ]
    anonymous = [((person[0], None, None, None), metrics) for person, metrics in rows]
    assert DashboardDoc.model_validate(doc(legacy)) == DashboardDoc.model_validate(
        doc(team_table(anonymous))
    )


@given(rows=ROWS)
def test_rows_store_no_value_that_follows_from_their_counts(
    rows: list[tuple[Any, dict[str, Any]]],
) -> None:
    stored = json.loads(team_table(rows))
    assert all(len(row) == len(TeamRowDoc._fields) == 11 for row in stored)
    for row, (_, m) in zip(stored, rows, strict=True):
        assert row[4:] == [m[k] for k in TEAM_ROW_METRICS]


@given(rows=ROWS)
def test_the_version_2_text_reads_the_same(rows: list[tuple[Any, dict[str, Any]]]) -> None:
    # Version 2 stored every metric in MetricsDoc's order; its generation is read until the
    # rebuild of version 3 replaces it.
    v2 = json.dumps([[*person, *m.values()] for person, m in rows], separators=(",", ":"))
    assert team_rows(v2) == team_rows(team_table(rows))
    assert DashboardDoc.model_validate(doc(v2)) == DashboardDoc.model_validate(
        doc(team_table(rows))
    )


def test_an_empty_or_missing_table_has_no_rows() -> None:
    assert team_rows(team_table([])) == [] and team_rows(None) == []
    assert DashboardDoc.model_validate(doc("[]")).team == []


# ------------------------------------------------------------ rows rendered once, reused
OPEN, WON, LOST = OpportunityStatus.OPEN, OpportunityStatus.WON, OpportunityStatus.LOST
PEOPLE = [str(i) for i in range(1, 7)]


def profile(uid: str, name: str) -> UserProfile:
    link = OdooLink(int(uid), None, None, LinkMethod.NONE)
    return UserProfile(uid, f"{uid}@x", name, True, link, Hierarchy(None, (), (), False, 0))


STEPS = st.lists(
    st.one_of(
        st.tuples(
            st.just("deal"),
            st.sampled_from([*PEOPLE, "99", None]),  # 99: no profile; None: unassigned
            st.sampled_from([OPEN, WON, LOST]),
            st.integers(0, 5),
            st.booleans(),  # add or remove
        ),
        st.tuples(st.just("rename"), st.sampled_from(PEOPLE), st.sampled_from(["a", "B", "b"])),
        st.tuples(st.just("recompute")),  # a viewer's state replaced (an org change)
    ),
    max_size=40,
)


@given(steps=STEPS)
def test_shared_rows_render_the_same_tables_as_the_domain(steps: list[tuple[Any, ...]]) -> None:
    # Two viewers' states over the same changes (one sees only half the people), rendered
    # through one TeamRows after every step, as a flush does: equal to rendering each table
    # afresh from the domain's rows, including after renames and rows going empty.
    rows = TeamRows()
    profiles = {uid: profile(uid, "same") for uid in PEOPLE}
    everyone, half = DashboardState(), DashboardState()
    added: list[Contribution] = []
    for step in steps:
        if step[0] == "rename":
            profiles = {**profiles, step[1]: profile(step[1], step[2])}
            rows.clear()  # as the projection does when the chart changes
        elif step[0] == "recompute":
            half = half.copy()  # same aggregates, a new state object
        else:
            _, sid, status, value, add = step
            c = Contribution(status, sid, 1, value * 100, value * 50)
            if not add and c in added:
                added.remove(c)
                everyone.remove(c)
                if sid in PEOPLE[:3]:
                    half.remove(c)
            elif add:
                added.append(c)
                everyone.add(c)
                if sid in PEOPLE[:3]:
                    half.add(c)
        for viewer, state in (("everyone", everyone), ("half", half)):
            data = state.render({}, profiles, scope=DashboardScope.TEAM)
            expected = dashboard_values(data)["team"]
            assert rows.table(viewer, state, profiles) == expected
            kept = rows._tables[viewer]  # what the next change is applied to: still sorted
            assert kept.keys == sorted(kept.keys) and len(kept.texts) == len(kept.keys)
            again = rows.table(viewer, state, profiles)  # unchanged: the same text, no work
            assert again is rows.table(viewer, state, profiles) and again == expected
