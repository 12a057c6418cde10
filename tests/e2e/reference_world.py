"""The reference computation, fed straight from the built-in Odoo's records."""

from __future__ import annotations

from typing import Any

from domain.model import EmployeeRecord, LeadRecord, StageRecord, UserRecord
from domain.normalize import MODEL_FIELDS, normalize
from domain.org import user_email_key
from infrastructure.odoo_fake import FakeOdoo
from tests.unit.domain import reference as ref


def records(odoo: FakeOdoo, model: str) -> list[Any]:
    ids = odoo.store.search(model, [], order="id", active_test=False)
    rows = odoo.store.read(model, ids, MODEL_FIELDS[model])
    return [normalize(model, row) for row in rows]


class World:
    def __init__(self, odoo: FakeOdoo) -> None:
        users = [u for u in records(odoo, "res.users") if isinstance(u, UserRecord)]
        employees = [e for e in records(odoo, "hr.employee") if isinstance(e, EmployeeRecord)]
        self.stages = {
            s.odoo_id: s for s in records(odoo, "crm.stage") if isinstance(s, StageRecord)
        }
        self.leads = [lead for lead in records(odoo, "crm.lead") if isinstance(lead, LeadRecord)]
        self.users = {u.odoo_id: u for u in users}
        self.org = ref.ref_org(users, employees)

    def dashboard(self, uid: str | None, admin: bool = False) -> Any:
        return ref.dashboard(self.org, uid, admin, self.leads, self.stages)

    def visible_opportunities(self, uid: str, archived: bool = False) -> set[str]:
        """What ``uid`` may see; lists leave ARCHIVED out unless asked, lookups do not."""
        mine = ref.visible(self.org, uid)
        return {
            str(lead.odoo_id)
            for lead in self.leads
            if lead.type == "opportunity"
            and lead.user_id is not None
            and str(lead.user_id) in mine
            and (archived or ref.status_of(lead, self.stages) != "ARCHIVED")
        }

    def active_internal_users(self) -> list[UserRecord]:
        """Users who can sign in: active, internal, with an email (tokens carry one)."""
        return [
            u
            for u in self.users.values()
            if u.active
            and not u.share
            and str(u.odoo_id) in self.org.users
            and user_email_key(u) is not None
        ]

    def email_of(self, uid: int) -> str:
        key = user_email_key(self.users[uid])
        assert key is not None
        return key
