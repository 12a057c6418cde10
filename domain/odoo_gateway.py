"""Port to Odoo: what the sync and the webhook handler need from an Odoo instance.

The domain talks to Odoo only through :class:`OdooGateway`. Rows come back exactly as Odoo
sends them (``false`` for empty, ``[id, "name"]`` many2one pairs, naive UTC datetime strings);
converting them into :mod:`domain.model` records is the ingestion code's job, not the
gateway's, so that the raw snapshot can be stored as received.

Contract every implementation keeps (see ODOO.md):

* Every search sends the context ``{"active_test": False}``: lost opportunities are archived,
  and an archived user's or employee's records must still be seen.
* Callers pass an explicit ``order``; implementations never rely on Odoo's default order.
* ``hr.employee`` is aliased: an API user without HR rights gets an AccessError on
  ``hr.employee``, so implementations retry the same call on ``hr.employee.public`` (same ids,
  same fields Pulse reads) and keep using it. :attr:`OdooGateway.employee_model` tells which
  model answers. Callers simply ask for ``hr.employee``.
* Only read methods exist here, so every call is safe to retry.
* Exceptions are the typed ones below. Their messages never contain the API key nor Odoo's
  server-side traceback.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Protocol, runtime_checkable

#: An Odoo domain in prefix notation, e.g. ``[["type", "=", "opportunity"], "|", [...], [...]]``.
Domain = list[Any]
#: One record as Odoo returns it from ``search_read``/``read`` (JSON values, ``id`` included).
OdooRow = dict[str, Any]

EMPLOYEE_MODEL = "hr.employee"
EMPLOYEE_PUBLIC_MODEL = "hr.employee.public"


class OdooError(Exception):
    """Base of every Odoo failure. ``odoo_name`` is Odoo's exception class when known
    (``odoo.exceptions.AccessError``); ``status`` the HTTP status for JSON-2 answers."""

    def __init__(
        self,
        message: str,
        *,
        model: str | None = None,
        method: str | None = None,
        odoo_name: str | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.model = model
        self.method = method
        self.odoo_name = odoo_name
        self.status = status

    def __str__(self) -> str:
        return self.message


class OdooAuthError(OdooError):
    """The login or API key was refused (wrong key, revoked key, unknown login or database)."""


class OdooAccessError(OdooError):
    """The API user lacks the rights for this model or method (Odoo's AccessError)."""


class OdooUnknownFieldError(OdooError):
    """A field named in ``fields``, the domain or the order does not exist on the model."""

    def __init__(self, message: str, *, field: str | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.field = field


class OdooUnknownModelError(OdooError):
    """The model is not installed (e.g. ``hr.employee`` without the HR app)."""


class OdooServerError(OdooError):
    """Any other error Odoo reported deliberately (bad arguments, user errors, bugs).
    Deterministic: retrying the same call gives the same answer."""


class OdooUnavailableError(OdooError):
    """Odoo could not be reached or answered garbage, and retries were exhausted. Transient:
    the next sync run may succeed."""


@runtime_checkable
class OdooGateway(Protocol):
    """Read access to one Odoo database as one API user."""

    @property
    def employee_model(self) -> str:
        """``hr.employee`` or, once the fallback was needed, ``hr.employee.public``."""
        ...

    async def server_version(self) -> str:
        """Odoo's server version string, e.g. ``"17.0"``, ``"saas~18.1"`` or ``"19.0"``."""
        ...

    async def search_read(
        self,
        model: str,
        domain: Domain,
        fields: list[str],
        order: str,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[OdooRow]:
        """One page of ``search_read`` with ``{"active_test": False}``."""
        ...

    def iter_search_read(
        self,
        model: str,
        domain: Domain,
        fields: list[str],
        order: str,
        page_size: int = 500,
    ) -> AsyncIterator[list[OdooRow]]:
        """All matching rows, one page (list) at a time, paging by offset/limit over the
        given ``order``. The order should end with ``id`` so that pages are stable."""
        ...

    async def search_ids(self, model: str, domain: Domain) -> list[int]:
        """Every matching id (archived included), ascending: used to detect deletions."""
        ...

    async def search_count(self, model: str, domain: Domain) -> int:
        """Number of matching records, archived included."""
        ...

    async def read(self, model: str, ids: list[int], fields: list[str]) -> list[OdooRow]:
        """Re-read records by id. Deleted ids are simply absent from the answer."""
        ...
