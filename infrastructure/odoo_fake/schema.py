"""The models and fields of the built-in Odoo: exactly those of ODOO.md, plus Odoo's magic
fields (``id``, ``display_name``, ``create_date``, ``write_date``).

Anything else is an unknown field, as it would be on a real Odoo without the module that adds
it; that is what lets tests prove Pulse never asks for more than the contract. Two additions:
``crm.lead.priority`` (Odoo's default lead order is ``priority desc, id desc``) and a minimal
``hr.department``, the target of ``hr.employee.department_id``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

X2MANY = frozenset({"one2many", "many2many"})
RELATIONAL = X2MANY | {"many2one"}
MAGIC = ("id", "display_name", "create_date", "write_date")


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    type: str  # char selection boolean integer float monetary date datetime many2one many2many
    string: str
    comodel: str | None = None
    selection: tuple[str, ...] = ()
    stored: bool = True
    readonly: bool = False


@dataclass(frozen=True, slots=True)
class ModelSpec:
    name: str
    description: str
    fields: dict[str, Field]
    order: str = "id"
    table: str = ""  # hr.employee.public reads hr.employee's rows
    parent_field: str | None = None  # what child_of / parent_of follow
    rec_name: str = "name"
    defaults: dict[str, object] = field(default_factory=dict)

    @property
    def store_table(self) -> str:
        return self.table or self.name

    @property
    def has_active(self) -> bool:
        return "active" in self.fields

    def stored_fields(self) -> list[Field]:
        return [f for f in self.fields.values() if f.stored]


def _model(
    name: str,
    description: str,
    fields: list[Field],
    *,
    order: str = "id",
    table: str = "",
    parent_field: str | None = None,
    defaults: dict[str, object] | None = None,
) -> ModelSpec:
    magic = [
        Field("id", "integer", "ID", readonly=True),
        Field("display_name", "char", "Display Name", stored=False, readonly=True),
        Field("create_date", "datetime", "Created on", readonly=True),
        Field("write_date", "datetime", "Last Updated on", readonly=True),
    ]
    by_name = {f.name: f for f in [*magic, *fields]}
    return ModelSpec(
        name, description, by_name, order, table, parent_field, "name", dict(defaults or {})
    )


def _m2o(name: str, string: str, comodel: str) -> Field:
    return Field(name, "many2one", string, comodel=comodel)


_ACTIVE = Field("active", "boolean", "Active")
_NAME = Field("name", "char", "Name")
_COMPANY = _m2o("company_id", "Company", "res.company")


def _employee(name: str, description: str, table: str = "") -> ModelSpec:
    return _model(
        name,
        description,
        [
            _NAME,
            _m2o("user_id", "User", "res.users"),
            _m2o("parent_id", "Manager", name),
            Field("work_email", "char", "Work Email"),
            _ACTIVE,
            _m2o("department_id", "Department", "hr.department"),
            _COMPANY,
        ],
        order="name",
        table=table,
        parent_field="parent_id",
        defaults={"active": True},
    )


MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in [
        _model("res.company", "Companies", [_NAME]),
        _model(
            "res.users",
            "User",
            [
                Field("login", "char", "Login"),
                Field("email", "char", "Email"),
                _NAME,
                Field("share", "boolean", "Share User"),
                _ACTIVE,
                _COMPANY,
            ],
            order="name, login",
            defaults={"active": True, "share": False},
        ),
        _model(
            "res.partner",
            "Contact",
            [
                _NAME,
                Field("is_company", "boolean", "Is a Company"),
                Field("email", "char", "Email"),
                _ACTIVE,
            ],
            order="name, id desc",
            defaults={"active": True, "is_company": False},
        ),
        _model(
            "crm.stage",
            "CRM Stages",
            [
                _NAME,
                Field("sequence", "integer", "Sequence"),
                Field("is_won", "boolean", "Is Won Stage?"),
                Field("fold", "boolean", "Folded in Pipeline"),
            ],
            order="sequence, name, id",
            defaults={"sequence": 1, "is_won": False, "fold": False},
        ),
        _model(
            "crm.team",
            "Sales Team",
            [
                _NAME,
                _m2o("user_id", "Team Leader", "res.users"),
                Field("member_ids", "many2many", "Salespersons", comodel="res.users"),
                _ACTIVE,
            ],
            order="name, id",
            defaults={"active": True},
        ),
        _model(
            "crm.lost.reason",
            "Opp. Lost Reason",
            [_NAME, _ACTIVE],
            defaults={"active": True},
        ),
        _model(
            "hr.department",
            "Department",
            [_NAME, _ACTIVE, _COMPANY, _m2o("parent_id", "Parent Department", "hr.department")],
            order="name",
            parent_field="parent_id",
            defaults={"active": True},
        ),
        _employee("hr.employee", "Employee"),
        _employee("hr.employee.public", "Public Employee", table="hr.employee"),
        _model(
            "crm.lead",
            "Lead/Opportunity",
            [
                _NAME,
                Field("type", "selection", "Type", selection=("lead", "opportunity")),
                _m2o("user_id", "Salesperson", "res.users"),
                _m2o("team_id", "Sales Team", "crm.team"),
                _m2o("stage_id", "Stage", "crm.stage"),
                _m2o("partner_id", "Customer", "res.partner"),
                Field("expected_revenue", "monetary", "Expected Revenue"),
                Field("probability", "float", "Probability"),
                Field("date_deadline", "date", "Expected Closing"),
                Field("date_closed", "datetime", "Closed Date"),
                _ACTIVE,
                _m2o("lost_reason_id", "Lost Reason", "crm.lost.reason"),
                _COMPANY,
                Field("priority", "selection", "Priority", selection=("0", "1", "2", "3")),
            ],
            order="priority desc, id desc",
            defaults={
                "active": True,
                "type": "opportunity",
                "priority": "0",
                "probability": 10.0,
                "expected_revenue": 0.0,
            },
        ),
    ]
}

TABLES = sorted({spec.store_table for spec in MODELS.values()})
