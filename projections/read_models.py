"""The read models: the documents queries read, exactly what a resolver needs, pre-joined.

Collections are owned by projections (see ``projections/catalog.py``) and may exist in
several generations during a zero-downtime rebuild; readers resolve the active collection
name through the projection framework (``active_collection``), never a literal name.

Documents are pydantic models (validated on write, typed on read); every document carries
``pos``, the event-store position it reflects, which also guards replays (a write never
goes back in position).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Literal, NamedTuple

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_serializer,
    field_validator,
)
from pymongo import ASCENDING, DESCENDING, IndexModel

from domain.metrics import win_rate

ADMIN_DASHBOARD_ID = "__all__"
"""The one shared dashboard document for the admin scope (everything)."""


class Doc(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")


# ------------------------------------------------------------------------ user_profiles
class PersonDoc(Doc):
    employee_id: int | None = None
    user_id: str | None = None  # the UserProfile id, when a user
    name: str
    email: str | None = None


class OrgNodeDoc(Doc):
    person: PersonDoc
    manager_employee_id: int | None = None
    depth: int


class OdooLinkDoc(Doc):
    user_id: int | None = None
    employee_id: int | None = None
    manager_employee_id: int | None = None
    linked_by: Literal["USER_ID", "EMAIL", "NONE"]


class HierarchyDoc(Doc):
    manager: PersonDoc | None = None
    direct_reports: list[PersonDoc] = []
    subordinates: list[PersonDoc] = []
    is_manager: bool = False
    reports_count: int = 0


class UserProfileDoc(Doc):
    """One per Odoo user (``share = false``), archived users included."""

    id: str = Field(alias="_id")
    email: str
    email_key: str | None = None  # trimmed, lower-cased: what tokens are matched against
    name: str
    active: bool
    odoo: OdooLinkDoc
    hierarchy: HierarchyDoc
    org_chart: list[OrgNodeDoc] = []  # the user's subtree, themself first (depth 0)
    pos: int = Field(0, alias="_pos")


USER_PROFILES = "user_profiles"
USER_PROFILE_INDEXES = [IndexModel([("email_key", ASCENDING)], name="email_key")]


# ------------------------------------------------------------------- user_access_matrix
class AccessDoc(Doc):
    """Per user: whose opportunities they see (self + transitive subordinates) and which
    profiles they may read (self, subordinates, managers above); and the user's own card
    (``name``, ``email`` as their profile shows them), so that a request's ``viewer`` needs
    no second read. Documents written before the card have neither (None)."""

    id: str = Field(alias="_id")
    email_key: str | None = None
    active: bool = True
    name: str | None = None
    email: str | None = None
    visible_user_ids: list[str]
    readable_profile_ids: list[str]
    manager_ids: list[str] = []  # users above (by id)
    subordinate_ids: list[str] = []  # users below
    direct_report_count: int = 0
    refreshed_at: datetime
    pos: int = Field(0, alias="_pos")


USER_ACCESS = "user_access_matrix"
USER_ACCESS_INDEXES = [IndexModel([("email_key", ASCENDING)], name="email_key")]


# ---------------------------------------------------------------------- opportunity_view
class StageDoc(Doc):
    id: str
    odoo_id: int
    name: str
    sequence: int
    is_won: bool


class SalespersonDoc(Doc):
    """The salesperson's card, copied in so a page needs no profile read. ``email`` and
    ``active`` are None in documents written before version 2 of the projection."""

    id: str
    name: str
    email: str | None = None
    active: bool | None = None


class AccountDoc(Doc):
    odoo_id: int
    name: str


class TeamDoc(Doc):
    odoo_id: int
    name: str


class OpportunityDoc(Doc):
    """One per ``crm.lead`` of type opportunity, everything a list or detail view shows."""

    id: str = Field(alias="_id")
    odoo_id: int
    name: str
    name_key: str  # lower-cased name + account, for search
    status: Literal["OPEN", "WON", "LOST", "ARCHIVED"]
    expected_revenue: float
    probability: float
    weighted_revenue: float
    stage: StageDoc | None = None
    salesperson_id: str | None = None
    salesperson: SalespersonDoc | None = None
    account: AccountDoc | None = None
    team: TeamDoc | None = None
    deadline: str | None = None  # YYYY-MM-DD
    closed_at: datetime | None = None
    created_at: datetime
    updated_at: datetime
    visible_to: list[str]  # user ids who see it; admins see everything
    pos: int = Field(0, alias="_pos")


OPPORTUNITIES = "opportunity_view"
OPPORTUNITY_INDEXES = [
    IndexModel([("visible_to", ASCENDING), ("updated_at", DESCENDING)], name="visible_updated"),
    IndexModel(
        [("visible_to", ASCENDING), ("expected_revenue", DESCENDING)], name="visible_revenue"
    ),
    IndexModel([("updated_at", DESCENDING)], name="updated"),
    IndexModel([("salesperson_id", ASCENDING)], name="salesperson"),
    IndexModel([("stage.odoo_id", ASCENDING)], name="stage"),
    IndexModel([("status", ASCENDING)], name="status"),
]


class StageListDoc(Doc):
    """Stages, for the ``stages`` query and the pre-joins."""

    id: str = Field(alias="_id")
    odoo_id: int
    name: str
    sequence: int
    is_won: bool
    fold: bool = False
    pos: int = Field(0, alias="_pos")


STAGES = "stage_view"


# --------------------------------------------------------------------- dashboard_metrics
class MetricsDoc(Doc):
    total_count: int = 0
    open_count: int = 0
    won_count: int = 0
    lost_count: int = 0
    pipeline_value: float = 0.0
    weighted_pipeline_value: float = 0.0
    won_value: float = 0.0
    win_rate: float | None = None
    average_deal_size: float | None = None


class StageMetricsDoc(Doc):
    stage: StageDoc
    count: int
    value: float


class TeamRowDoc(NamedTuple):
    """One row of a dashboard's team table: a salesperson as shown (name, email, active) and
    their own numbers. A tuple, not a model: a CEO's or an admin's table has a row per user,
    and validating them as nested models cost more than the read. The person's fields are
    None in rows of the earliest stored form, which the reader completes from the profiles.

    Stored without ``total_count`` and ``win_rate``: both follow exactly from the counts
    (the projection computes them the same way), and every change of a deal rewrites the
    table of each viewer above its owner, so each stored byte is paid on every change
    (~9 us per KB of team text on the embedded store; the two were ~20 % of a row)."""

    salesperson_id: str
    name: str | None
    email: str | None
    active: bool | None
    open_count: int
    won_count: int
    lost_count: int
    pipeline_value: float
    weighted_pipeline_value: float
    won_value: float
    average_deal_size: float | None

    @property
    def total_count(self) -> int:
        return self.open_count + self.won_count + self.lost_count

    @property
    def win_rate(self) -> float | None:
        return win_rate(self.won_count, self.lost_count)

    @classmethod
    def of(
        cls, person: tuple[str, str | None, str | None, bool | None], metrics: Mapping[str, Any]
    ) -> TeamRowDoc:
        """From (salesperson id, name, email, active) and the metrics by name (the derived
        ones are not read: they follow from the counts)."""
        return cls(*person, *(metrics[k] for k in TEAM_ROW_METRICS))

    def metrics(self) -> dict[str, Any]:
        """Every ``MetricsDoc`` field by name, the derived ones included."""
        return {k: getattr(self, k) for k in MetricsDoc.model_fields}


TEAM_ROW_METRICS = TeamRowDoc._fields[4:]
"""The metrics stored after the salesperson in a team row, in order."""
assert set(TEAM_ROW_METRICS) | {"total_count", "win_rate"} == set(MetricsDoc.model_fields)


_TEAM_TABLE: TypeAdapter[list[TeamRowDoc]] = TypeAdapter(list[TeamRowDoc])
# Version 2 stored the person and then every MetricsDoc field in its order: a row of that
# form is read by picking the fields a row keeps now.
_V2_FIELDS = (*TeamRowDoc._fields[:4], *MetricsDoc.model_fields)
_V2_KEPT = tuple(_V2_FIELDS.index(name) for name in TeamRowDoc._fields)
Person = tuple[str, str | None, str | None, bool | None]
"""A team row's salesperson: (id, name, email, active)."""


def team_table(rows: Sequence[tuple[Person, Mapping[str, Any]]]) -> str:
    """A dashboard's team rows as stored: one JSON text of ``[salesperson_id, name, email,
    active, *metrics]`` arrays (``TeamRowDoc`` order), in display order.

    Why text: nobody queries inside team rows, and the embedded store's cost is per stored
    value (each is walked in Python and JSON-encoded on every write and read). A CEO's or an
    admin's 1,000-row table as nested documents (~11,000 values, 228 KB of BSON) took
    10.6 ms to write and 12 ms to read on nx-27017; as one text value (56 KB), 1.3 and
    1.1 ms. Every change of a deal rewrites the table of each viewer above its owner.
    MongoDB stores either form alike. Floats keep their exact value (``repr`` round trip);
    reading validates the text in one pass (pydantic's JSON parser: 0.4 ms for 1,000 rows).

    Why the name, email and active flag: they are what a team row shows, and reading them
    from the profiles meant reading every salesperson's profile document whole on the
    embedded store, a manager's with their whole subtree: 114 ms of store CPU per CEO
    dashboard (46 ms for a VP of 500)."""
    return join_team_rows([team_row(person, metrics) for person, metrics in rows])


def team_row(person: Person, metrics: Mapping[str, Any]) -> str:
    """One row of a ``team_table`` (rows are rendered once and reused across viewers)."""
    return _row_text(TeamRowDoc.of(person, metrics))


def _row_text(row: TeamRowDoc) -> str:
    return json.dumps(row, separators=(",", ":"))


def join_team_rows(rows: Sequence[str]) -> str:
    """The table of ``team_row`` texts, in this order: what ``json.dumps`` makes of the list."""
    return "[" + ",".join(rows) + "]"


def parse_team(stored: object) -> list[TeamRowDoc]:
    """A stored team table's rows, validated; also reads the earlier form (a list of
    ``{salesperson_id, metrics}`` documents) that a document not rewritten since may hold."""
    if isinstance(stored, str):
        try:
            return _TEAM_TABLE.validate_json(stored)
        except ValidationError:
            # Version 2's rows: read while its generation is still the active one.
            rows = json.loads(stored)
            if not all(isinstance(row, list) and len(row) == len(_V2_FIELDS) for row in rows):
                raise
            return _TEAM_TABLE.validate_python([[row[i] for i in _V2_KEPT] for row in rows])
    if isinstance(stored, list):
        legacy = [
            TeamRowDoc.of((row["salesperson_id"], None, None, None), _metrics(row["metrics"]))
            if isinstance(row, Mapping) else row
            for row in stored
        ]  # fmt: skip
        return _TEAM_TABLE.validate_python(legacy)
    return []


def _metrics(stored: object) -> dict[str, Any]:
    return MetricsDoc.model_validate(stored).model_dump()


def team_rows(stored: object) -> list[dict[str, Any]]:
    """A stored team table as ``{salesperson_id, name, email, active, metrics}`` dicts."""
    return [
        {
            "salesperson_id": row.salesperson_id,
            "name": row.name,
            "email": row.email,
            "active": row.active,
            "metrics": row.metrics(),
        }
        for row in parse_team(stored)
    ]


class DashboardDoc(Doc):
    """Per viewer (``_id`` = user id), plus one shared ``__all__`` document for admins."""

    id: str = Field(alias="_id")
    scope: Literal["OWN", "TEAM", "ALL"]
    metrics: MetricsDoc
    by_stage: list[StageMetricsDoc] = []
    team: list[TeamRowDoc] = []
    """Stored as a ``team_table`` text (``parse_team`` reads it, dumping writes it); absent
    when the table is another document's (``team_of``)."""
    team_of: str | None = None
    """The document whose team table this viewer's is, when it is exactly that table: a CEO
    who sees everyone has the admin's (``ADMIN_DASHBOARD_ID``). Readers follow it
    (``schema/readers/dashboards.py``) and check ``team_hash`` on both documents."""
    team_hash: str | None = None
    """``team_table_hash`` of the table as rendered with this document's values: on the
    document that holds a shared table (the admin's) and on each that refers to it."""
    as_of: int  # the event-store position this dashboard reflects
    updated_at: datetime

    @field_validator("team", mode="before")
    @classmethod
    def _parse_team(cls, value: object) -> object:
        return parse_team(value) if isinstance(value, str | list) else value

    @field_serializer("team")
    def _team_text(self, rows: list[TeamRowDoc]) -> str:
        return join_team_rows([_row_text(row) for row in rows])


DASHBOARDS = "dashboard_metrics"


def team_table_hash(table: str) -> str:
    """Names a team table's content, so that a reader who follows ``team_of`` to another
    document can tell whether it holds the table this one was rendered with: on MongoDB two
    documents are not read atomically, and a flush rewrites both (the admin's and a CEO's
    change with every deal). By content, not by position: a fold from scratch (``pulse
    check``, a rebuild) names the same table alike."""
    return hashlib.blake2b(table.encode(), digest_size=8).hexdigest()


def dashboard_channel(viewer_id: str) -> str:
    """Broadcast channel announcing a change of one viewer's dashboard values."""
    return f"dashboard:{viewer_id}"


def opportunity_channel(viewer_id: str) -> str:
    """Broadcast channel announcing changes to opportunities one viewer can see (or could)."""
    return f"opportunities:{viewer_id}"
