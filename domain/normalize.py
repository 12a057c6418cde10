"""Raw Odoo records -> normalized domain records (``domain/model.py``), plus content hashing.

Accepted wire shapes (ODOO.md "Values in search_read results" and "Webhooks"):

* many2one: ``[id, "display name"]`` (``search_read``) or a bare ``id`` (``load=None`` reads,
  webhook bodies), or ``false``;
* x2many: a list of ids; normalized to a sorted tuple without duplicates, because Odoo
  returns them in the co-model's order, which can change without the relation changing;
* empty values are ``false``; ``null`` (hand-made dumps) is accepted as the same empty value;
* datetimes ``"YYYY-MM-DD HH:MM:SS"`` (naive UTC) -> ``"YYYY-MM-DDTHH:MM:SSZ"``;
  dates ``"YYYY-MM-DD"`` stay as they are.

Every field of ``MODEL_FIELDS[model]`` must be present: a missing key cannot be told apart
from a change to empty, and treating it as empty would make change detection invent events
(an opportunity "reassigned to nobody") that stay in the event store for ever. Extra keys
(``_model``, ``_action``, ``display_name``...) are ignored. Anything else that does not fit
raises ``RecordRejected`` with a short reason naming the field, never another exception.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any, Final

from domain.errors import PulseError
from domain.model import (
    EmployeeRecord,
    LeadRecord,
    PartnerRecord,
    Record,
    StageRecord,
    TeamRecord,
    UserRecord,
)

LEAD: Final = "crm.lead"
STAGE: Final = "crm.stage"
TEAM: Final = "crm.team"
USER: Final = "res.users"
EMPLOYEE: Final = "hr.employee"
EMPLOYEE_PUBLIC: Final = "hr.employee.public"
PARTNER: Final = "res.partner"

_EMPLOYEE_FIELDS: Final = (
    "name",
    "user_id",
    "parent_id",
    "work_email",
    "active",
    "department_id",
    "company_id",
)

# The fields Pulse asks Odoo for (ODOO.md "Models and fields Pulse needs"). ``id`` is not
# listed: search_read always returns it. hr.employee.public has the same ids and fields.
MODEL_FIELDS: Final[dict[str, list[str]]] = {
    LEAD: [
        "name",
        "type",
        "user_id",
        "team_id",
        "stage_id",
        "partner_id",
        "expected_revenue",
        "probability",
        "date_deadline",
        "date_closed",
        "create_date",
        "write_date",
        "active",
        "lost_reason_id",
        "company_id",
    ],
    STAGE: ["name", "sequence", "is_won", "fold"],
    TEAM: ["name", "user_id", "member_ids", "active"],
    USER: ["login", "email", "name", "share", "active", "company_id"],
    EMPLOYEE: list(_EMPLOYEE_FIELDS),
    EMPLOYEE_PUBLIC: list(_EMPLOYEE_FIELDS),
    PARTNER: ["name", "is_company", "email", "active"],
}

RECORD_TYPE_BY_MODEL: Final[dict[str, type[Record]]] = {
    LEAD: LeadRecord,
    STAGE: StageRecord,
    TEAM: TeamRecord,
    USER: UserRecord,
    EMPLOYEE: EmployeeRecord,
    EMPLOYEE_PUBLIC: EmployeeRecord,
    PARTNER: PartnerRecord,
}

# hr.employee.public is a read-only view of hr.employee: same ids, same stream.
CANONICAL_MODEL: Final[dict[str, str]] = {
    model: (EMPLOYEE if model == EMPLOYEE_PUBLIC else model) for model in RECORD_TYPE_BY_MODEL
}


class RecordRejected(PulseError, ValueError):
    """A raw record that Pulse cannot ingest; ``reason`` is short and names the culprit."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# Odoo ids and integer columns are PostgreSQL int4; anything larger is garbage (and would
# not survive BSON's int64 either).
_INT4_MAX: Final = 2**31 - 1
# ASCII digits only: ``\d`` would also accept other scripts' digits.
_DATE_RE: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# Hours 00-23 in the pattern: strptime refused 24, and fromisoformat (which parses after
# this check) takes "24:00:00" for the next midnight from Python 3.14 on.
_DATETIME_RE: Final = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2} (?:[01][0-9]|2[0-3]):[0-9]{2}:[0-9]{2}"
)
_LEAD_TYPES: Final = frozenset({"lead", "opportunity"})


def _is_int(value: object) -> bool:
    # bool is a subclass of int in Python, but ``true`` is never an id or a count.
    return isinstance(value, int) and not isinstance(value, bool)


def _is_id(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= _INT4_MAX


def _empty(value: object) -> bool:
    return value is False or value is None


def _get(raw: Mapping[str, Any], name: str) -> Any:
    if name not in raw:
        raise RecordRejected(f"missing field {name!r}")
    return raw[name]


def _record_id(raw: Mapping[str, Any]) -> int:
    if "id" not in raw:
        raise RecordRejected("missing id")
    value = raw["id"]
    if not _is_int(value):
        raise RecordRejected("id is not an integer")
    if not _is_id(value):
        raise RecordRejected("id is out of range")
    return int(value)


def _many2one(raw: Mapping[str, Any], name: str) -> int | None:
    value = _get(raw, name)
    if _empty(value):
        return None
    if isinstance(value, list | tuple) and len(value) == 2:
        value, label = value
        if not (isinstance(label, str) or label is False):
            value = None  # falls through to the rejection below
    if _is_id(value):
        return int(value)
    raise RecordRejected(f"field {name!r} is not a many2one ([id, name], id or false)")


def _ids(raw: Mapping[str, Any], name: str) -> tuple[int, ...]:
    value = _get(raw, name)
    if _empty(value):
        return ()
    if not isinstance(value, list | tuple) or not all(_is_id(item) for item in value):
        raise RecordRejected(f"field {name!r} is not a list of ids")
    return tuple(sorted(set(value)))


def _bool(raw: Mapping[str, Any], name: str) -> bool:
    value = _get(raw, name)
    if not isinstance(value, bool):
        raise RecordRejected(f"field {name!r} is not a boolean")
    return value


def _number(raw: Mapping[str, Any], name: str) -> float:
    value = _get(raw, name)
    if _empty(value):
        return 0.0
    if not (_is_int(value) or isinstance(value, float)):
        raise RecordRejected(f"field {name!r} is not a number")
    try:
        number = float(value)
    except OverflowError:
        raise RecordRejected(f"field {name!r} is not a finite number") from None
    if not math.isfinite(number):
        raise RecordRejected(f"field {name!r} is not a finite number")
    return number + 0.0  # -0.0 -> 0.0, so that equal values hash equally


def _integer(raw: Mapping[str, Any], name: str) -> int:
    value = _get(raw, name)
    if _empty(value):
        return 0
    if not _is_int(value) or not -_INT4_MAX - 1 <= value <= _INT4_MAX:
        raise RecordRejected(f"field {name!r} is not an integer")
    return int(value)


def _text(raw: Mapping[str, Any], name: str) -> str | None:
    value = _get(raw, name)
    if _empty(value):
        return None
    if not isinstance(value, str):
        raise RecordRejected(f"field {name!r} is not a string")
    try:
        # A lone surrogate (JSON "\ud800") parses in Python but cannot be stored as BSON.
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise RecordRejected(f"field {name!r} is not valid text") from None
    return value


def _name(raw: Mapping[str, Any], name: str = "name") -> str:
    # Odoo allows nameless records (res.partner addresses): empty, not malformed.
    return _text(raw, name) or ""


def _login(raw: Mapping[str, Any]) -> str:
    login = _text(raw, "login")
    if not login:
        raise RecordRejected("field 'login' is empty")
    return login


def _email(raw: Mapping[str, Any], name: str) -> str | None:
    # Kept as given (matching normalizes case and spaces elsewhere); blank means no email.
    value = _text(raw, name)
    return value if value and value.strip() else None


def _date(raw: Mapping[str, Any], name: str) -> str | None:
    value = _get(raw, name)
    if _empty(value):
        return None
    if isinstance(value, str) and _DATE_RE.fullmatch(value):
        try:
            return date.fromisoformat(value).isoformat()
        except ValueError:
            pass
    raise RecordRejected(f"field {name!r} is not a date (YYYY-MM-DD)")


def _datetime(raw: Mapping[str, Any], name: str) -> str | None:
    value = _get(raw, name)
    if _empty(value):
        return None
    if isinstance(value, str) and _DATETIME_RE.fullmatch(value):
        try:
            # Naive on purpose: Odoo's value is UTC, and we only reformat it. fromisoformat,
            # not strptime (0.2 vs 6 us): the pattern above already fixed the format.
            parsed = datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            # isoformat, not strftime: strftime does not zero-pad years below 1000 on glibc.
            return parsed.isoformat() + "Z"
    raise RecordRejected(f"field {name!r} is not a datetime (YYYY-MM-DD HH:MM:SS)")


def _lead_type(raw: Mapping[str, Any]) -> str:
    value = _get(raw, "type")
    if not isinstance(value, str) or value not in _LEAD_TYPES:
        raise RecordRejected("field 'type' is not 'lead' or 'opportunity'")
    return value


def _probability(raw: Mapping[str, Any]) -> float:
    value = _number(raw, "probability")
    if not 0.0 <= value <= 100.0:
        raise RecordRejected("field 'probability' is not between 0 and 100")
    return value


def normalize_lead(raw: Mapping[str, Any]) -> LeadRecord:
    return LeadRecord(
        odoo_id=_record_id(raw),
        name=_name(raw),
        type=_lead_type(raw),
        user_id=_many2one(raw, "user_id"),
        team_id=_many2one(raw, "team_id"),
        stage_id=_many2one(raw, "stage_id"),
        partner_id=_many2one(raw, "partner_id"),
        expected_revenue=_number(raw, "expected_revenue"),
        probability=_probability(raw),
        date_deadline=_date(raw, "date_deadline"),
        date_closed=_datetime(raw, "date_closed"),
        create_date=_datetime(raw, "create_date"),
        write_date=_datetime(raw, "write_date"),
        active=_bool(raw, "active"),
        lost_reason_id=_many2one(raw, "lost_reason_id"),
        company_id=_many2one(raw, "company_id"),
    )


def normalize_stage(raw: Mapping[str, Any]) -> StageRecord:
    return StageRecord(
        odoo_id=_record_id(raw),
        name=_name(raw),
        sequence=_integer(raw, "sequence"),
        is_won=_bool(raw, "is_won"),
        fold=_bool(raw, "fold"),
    )


def normalize_team(raw: Mapping[str, Any]) -> TeamRecord:
    return TeamRecord(
        odoo_id=_record_id(raw),
        name=_name(raw),
        leader_user_id=_many2one(raw, "user_id"),
        member_user_ids=_ids(raw, "member_ids"),
        active=_bool(raw, "active"),
    )


def normalize_user(raw: Mapping[str, Any]) -> UserRecord:
    return UserRecord(
        odoo_id=_record_id(raw),
        login=_login(raw),
        name=_name(raw),
        email=_email(raw, "email"),
        active=_bool(raw, "active"),
        share=_bool(raw, "share"),
        company_id=_many2one(raw, "company_id"),
    )


def normalize_employee(raw: Mapping[str, Any]) -> EmployeeRecord:
    return EmployeeRecord(
        odoo_id=_record_id(raw),
        name=_name(raw),
        user_id=_many2one(raw, "user_id"),
        parent_id=_many2one(raw, "parent_id"),
        work_email=_email(raw, "work_email"),
        active=_bool(raw, "active"),
        department_id=_many2one(raw, "department_id"),
        company_id=_many2one(raw, "company_id"),
    )


def normalize_partner(raw: Mapping[str, Any]) -> PartnerRecord:
    return PartnerRecord(
        odoo_id=_record_id(raw),
        name=_name(raw),
        is_company=_bool(raw, "is_company"),
        email=_email(raw, "email"),
        active=_bool(raw, "active"),
    )


_NORMALIZERS: Final[dict[str, Callable[[Mapping[str, Any]], Record]]] = {
    LEAD: normalize_lead,
    STAGE: normalize_stage,
    TEAM: normalize_team,
    USER: normalize_user,
    EMPLOYEE: normalize_employee,
    EMPLOYEE_PUBLIC: normalize_employee,
    PARTNER: normalize_partner,
}


def normalize(model: str, raw: object) -> Record:
    """Normalize one raw Odoo record of ``model``; raise ``RecordRejected`` if malformed.

    ``raw`` is typed ``object`` on purpose: callers hand over whatever a dump line or a
    webhook body parsed to, and a non-object is a rejection, not a crash.
    """
    normalizer = _NORMALIZERS.get(model) if isinstance(model, str) else None
    if normalizer is None:
        raise RecordRejected(f"unknown model {model!r}")
    if not isinstance(raw, Mapping):
        raise RecordRejected("record is not a JSON object")
    return normalizer(raw)


def record_content(record: Record) -> dict[str, Any]:
    """The record's comparable content: everything except ``write_date``.

    ``write_date`` moves on every write, including writes that change nothing Pulse reads
    (a chatter message, a field Pulse does not fetch); with it, every touch would look like
    a change. The content decides "changed or not"; write_date only dates the change.
    """
    content = record.to_dict()
    content.pop("write_date", None)
    return content


def record_hash(record: Record) -> str:
    """sha256 (hex) of the canonical JSON of ``record_content``, tagged with the record kind.

    The kind is the record class, not the Odoo model, so that reading ``hr.employee.public``
    instead of ``hr.employee`` (the caller lost HR rights) does not look like a change.
    """
    canonical = json.dumps(
        {"kind": type(record).__name__, "content": record_content(record)},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=True,
        allow_nan=False,
    )
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


def content_hash(model: str, raw_record: object) -> str:
    """Hash of a raw record's normalized content (write_date excluded); raises RecordRejected."""
    return record_hash(normalize(model, raw_record))
