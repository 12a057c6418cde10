"""``POST /webhooks/odoo/{token}`` (PRODUCT.md §6).

Checks, in order, each answering with a JSON body and storing nothing when it fails:
token (401), size (413), signature when ``PULSE_WEBHOOK_SECRET`` is set (401: missing,
stale beyond 300 s, or wrong), JSON object (400), known ``_model`` and integer ``_id`` (422),
replay of a signature already accepted (401). Only then is the delivery written to the inbox,
and only after that write does Pulse answer 202.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import SecretStr
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse

from domain.webhooks import WEBHOOK_MODELS
from infrastructure.webhooks.inbox import ReplayedDelivery, WebhookInbox

log = logging.getLogger("pulse.webhooks")

MAX_BODY = 1024 * 1024
MAX_SKEW = 300


class Rejected(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


async def read_limited(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            if int(declared) > MAX_BODY:
                raise Rejected(413, "PAYLOAD_TOO_LARGE", "body exceeds 1 MiB")
        except ValueError as err:
            raise Rejected(400, "BAD_REQUEST", "invalid Content-Length") from err
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_BODY:
                raise Rejected(413, "PAYLOAD_TOO_LARGE", "body exceeds 1 MiB")
            chunks.append(chunk)
    except ClientDisconnect as err:
        raise Rejected(400, "BAD_REQUEST", "client disconnected") from err
    return b"".join(chunks)


def check_signature(request: Request, body: bytes, secret: SecretStr, now: float) -> str:
    stamp = request.headers.get("x-pulse-timestamp", "")
    given = request.headers.get("x-pulse-signature", "")
    if not stamp or not given:
        raise Rejected(401, "UNAUTHENTICATED", "signed delivery required")
    try:
        moment = int(stamp)
    except ValueError as err:
        raise Rejected(401, "UNAUTHENTICATED", "invalid timestamp") from err
    if abs(int(now) - moment) > MAX_SKEW:  # int: a huge stamp must not overflow a float
        raise Rejected(401, "UNAUTHENTICATED", "timestamp outside the allowed window")
    mac = hmac.new(secret.get_secret_value().encode(), stamp.encode() + b"." + body, hashlib.sha256)
    expected = "sha256=" + mac.hexdigest()
    if not hmac.compare_digest(expected.encode(), given.strip().encode()):
        raise Rejected(401, "UNAUTHENTICATED", "invalid signature")
    return given.strip().lower()


def parse_body(body: bytes) -> tuple[str, int, dict[str, Any]]:
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, ValueError, RecursionError) as err:  # deep nesting: 400
        raise Rejected(400, "BAD_REQUEST", "body is not valid JSON") from err
    if not isinstance(payload, dict):
        raise Rejected(400, "BAD_REQUEST", "body must be a JSON object")
    model = payload.get("_model")
    if not isinstance(model, str) or model not in WEBHOOK_MODELS:
        raise Rejected(422, "UNPROCESSABLE", "unknown or missing _model")
    odoo_id = payload.get("_id")
    if isinstance(odoo_id, bool) or not isinstance(odoo_id, int) or not 0 < odoo_id < 2**31:
        raise Rejected(422, "UNPROCESSABLE", "missing or invalid _id")
    return model, odoo_id, payload


def make_webhook_endpoint(
    token: SecretStr | None,
    secret: SecretStr | None,
    inbox: Callable[[], WebhookInbox],
    on_accepted: Callable[[], Awaitable[None]] | None = None,
    clock: Callable[[], float] = time.time,
) -> Callable[[Request], Awaitable[JSONResponse]]:
    async def endpoint(request: Request) -> JSONResponse:
        if token is None:
            return _error(404, "NOT_FOUND", "webhooks are not enabled")
        given = str(request.path_params.get("token", ""))
        if not hmac.compare_digest(given.encode(), token.get_secret_value().encode()):
            return _error(401, "UNAUTHENTICATED", "invalid webhook token")
        try:
            body = await read_limited(request)
            signature = check_signature(request, body, secret, clock()) if secret else None
            model, odoo_id, payload = parse_body(body)
            delivery_id = f"sig:{signature}" if signature else f"wh:{uuid.uuid4()}"
            try:
                await inbox().accept(
                    delivery_id, model, odoo_id, payload, signature is not None, raw=body
                )
            except ReplayedDelivery as err:
                raise Rejected(401, "UNAUTHENTICATED", "replayed delivery") from err
        except Rejected as err:
            log.info("webhook rejected: %s %s", err.status, err.message)
            return _error(err.status, err.code, err.message)
        log.info("webhook accepted: %s %s/%s", delivery_id, model, odoo_id)
        if on_accepted is not None:
            await on_accepted()
        return JSONResponse({"accepted": True, "id": delivery_id}, status_code=202)

    return endpoint
