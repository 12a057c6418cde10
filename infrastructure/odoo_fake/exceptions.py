"""The exceptions the built-in Odoo raises, each with the qualified name real Odoo reports and
the HTTP status JSON-2 gives it. Both protocols serialize them the way odoo/http.py does."""

from __future__ import annotations

from typing import Any


class OdooFault(Exception):
    name = "odoo.exceptions.UserError"
    status = 422  # JSON-2 status

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def serialize(self) -> dict[str, Any]:
        """``odoo.http.serialize_exception``: what both protocols put in the error body."""
        module, _, cls = self.name.rpartition(".")
        return {
            "name": self.name,
            "message": self.message,
            "arguments": [self.message],
            "context": {},
            # Real Odoo sends the server traceback here; clients must never surface it.
            "debug": (
                "Traceback (most recent call last):\n"
                '  File "/opt/odoo/odoo/http.py", line 1, in _serve_db\n'
                f"{module}.{cls}: {self.message}\n"
            ),
        }


class UserError(OdooFault):
    pass


class AccessError(OdooFault):
    name = "odoo.exceptions.AccessError"
    status = 403


class AccessDenied(OdooFault):
    name = "odoo.exceptions.AccessDenied"
    status = 401

    def __init__(self, message: str = "Access Denied") -> None:
        super().__init__(message)


class MissingError(OdooFault):
    name = "odoo.exceptions.MissingError"
    status = 404


class InvalidValue(OdooFault):
    """A ``ValueError`` inside the ORM: bad domain, bad order, bad value. HTTP 500 in JSON-2."""

    name = "builtins.ValueError"
    status = 500


class InvalidField(InvalidValue):
    @classmethod
    def on(cls, model: str, field: str) -> InvalidField:
        return cls(f"Invalid field {field!r} on model {model!r}")


class BadArguments(OdooFault):
    """A ``TypeError`` binding the call's arguments: 422 in JSON-2."""

    name = "builtins.TypeError"
    status = 422


class UnknownMethod(OdooFault):
    name = "builtins.AttributeError"
    status = 404


class NotFound(OdooFault):
    name = "werkzeug.exceptions.NotFound"
    status = 404


class BadRequest(OdooFault):
    name = "werkzeug.exceptions.BadRequest"
    status = 400


class Unauthorized(OdooFault):
    name = "werkzeug.exceptions.Unauthorized"
    status = 401
