"""Odoo client: the ``OdooGateway`` port (``domain.odoo_gateway``) over JSON-2 and JSON-RPC."""

from domain.odoo_gateway import (
    OdooAccessError,
    OdooAuthError,
    OdooError,
    OdooGateway,
    OdooServerError,
    OdooUnavailableError,
    OdooUnknownFieldError,
    OdooUnknownModelError,
)
from infrastructure.odoo.client import OdooClient
from infrastructure.odoo.retry import RetryPolicy

__all__ = [
    "OdooAccessError",
    "OdooAuthError",
    "OdooClient",
    "OdooError",
    "OdooGateway",
    "OdooServerError",
    "OdooUnavailableError",
    "OdooUnknownFieldError",
    "OdooUnknownModelError",
    "RetryPolicy",
]
