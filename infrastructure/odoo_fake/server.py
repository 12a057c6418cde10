"""The HTTP face of the built-in Odoo: ``/jsonrpc``, ``/json/2/<model>/<method>`` (19+ only)
and ``GET /web/version``, answering the way ``odoo/http.py`` does.

* JSON-RPC: always HTTP 200; failures in ``{"error": {"code", "message": "Odoo Server Error",
  "data": <serialized exception>}}`` (code 200 up to 18.0, 0 from 18.1).
* JSON-2: bearer API key; the bare return value, or the serialized exception with its status
  (401, 403, 404, 422, 400, 500).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route

from infrastructure.odoo_fake import control
from infrastructure.odoo_fake.exceptions import (
    BadRequest,
    NotFound,
    OdooFault,
    Unauthorized,
    UnknownMethod,
    UserError,
)
from infrastructure.odoo_fake.faults import FaultMiddleware
from infrastructure.odoo_fake.service import OdooService

if TYPE_CHECKING:
    from infrastructure.odoo_fake.instance import OdooInstance


class UnknownService(OdooFault):
    name = "builtins.KeyError"
    status = 404


def _dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def _json(value: Any, status: int = 200) -> Response:
    return Response(_dumps(value), status_code=status, media_type="application/json")


def create_app(instance: OdooInstance) -> Any:
    """The ASGI app: Starlette routes wrapped in the fault-injection middleware."""
    service = instance.service

    async def web_version(request: Request) -> Response:
        return JSONResponse(service.version.web_version())

    async def jsonrpc(request: Request) -> Response:
        request_id: Any = None
        try:
            try:
                payload = json.loads(await request.body())
            except ValueError:
                raise BadRequest("Invalid JSON data") from None
            if not isinstance(payload, dict):
                raise BadRequest("Invalid JSON-RPC data")
            request_id = payload.get("id")
            params = payload.get("params") or {}
            if not isinstance(params, dict):
                raise BadRequest("Invalid JSON-RPC params")
            result = _dispatch_rpc(
                service, params.get("service"), params.get("method"), params.get("args") or []
            )
        except OdooFault as exc:
            error = {
                "code": service.version.jsonrpc_error_code,
                "message": "Odoo Server Error",
                "data": exc.serialize(),
            }
            return _json({"jsonrpc": "2.0", "id": request_id, "error": error})
        return _json({"jsonrpc": "2.0", "id": request_id, "result": result})

    async def json2(request: Request) -> Response:
        if not service.version.has_json2:
            # Before 19 the route does not exist: werkzeug's HTML 404 page.
            return HTMLResponse("<!doctype html><title>404 Not Found</title>", status_code=404)
        model = request.path_params["model"]
        method = request.path_params["method"]
        try:
            db = request.headers.get("x-odoo-database")
            if db is not None and db != service.db:
                raise NotFound(f"database {db!r} not found")
            scheme, _, key = request.headers.get("authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not service.key_matches(key.strip()):
                raise Unauthorized("Invalid apikey")
            try:
                body = json.loads(await request.body())
            except ValueError:
                raise BadRequest("could not parse the body as json") from None
            if not isinstance(body, dict):
                raise BadRequest("could not parse the body, expecting a json object")
            ids = body.pop("ids", None)
            try:
                service.store.spec(model)
            except UserError:
                raise NotFound(f"the model {model!r} does not exist") from None
            try:
                result = service.call(model, method, [], body, ids=ids)
            except UnknownMethod:
                raise NotFound(
                    f"the method {method!r} does not exist on the model {model!r}"
                ) from None
        except OdooFault as exc:
            return _json(exc.serialize(), exc.status)
        return _json(result)

    app = Starlette(
        routes=[
            Route("/web/version", web_version, methods=["GET"]),
            Route("/jsonrpc", jsonrpc, methods=["POST"]),
            Route("/json/2/{model}/{method}", json2, methods=["POST"]),
            Mount("/_fake", routes=control.routes(instance)),
        ]
    )
    return FaultMiddleware(app, instance.faults)


def _dispatch_rpc(service: OdooService, name: Any, method: Any, args: list[Any]) -> Any:
    if not isinstance(args, list):
        raise BadRequest("args must be a list")
    if name == "common":
        if method == "version":
            return service.version.common_version()
        if method in ("authenticate", "login"):
            db, login, key = (list(args) + [None] * 3)[:3]
            return service.authenticate(db, login, key)
        raise UnknownService(repr(f"exp_{method}"))
    if name == "object":
        if method != "execute_kw":
            raise UnknownService(repr(f"exp_{method}"))
        if len(args) < 5:
            raise BadRequest("execute_kw expects db, uid, password, model, method, args, kwargs")
        db, uid, key, model, model_method = args[:5]
        call_args = args[5] if len(args) > 5 else []
        call_kwargs = args[6] if len(args) > 6 else {}
        if not isinstance(call_args, list) or not isinstance(call_kwargs, dict):
            raise BadRequest("execute_kw: args must be a list and kwargs an object")
        service.check_uid(db, uid, key)
        return service.call(
            str(model), str(model_method), call_args, call_kwargs, record_ids_in_args=True
        )
    if name == "db" and method == "server_version":
        return service.version.text
    if name == "db" and method == "list":
        return [service.db]
    raise UnknownService(repr(name))
