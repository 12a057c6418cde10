"""Retries, faults, protocol detection and secret hygiene of OdooClient against the fake."""

from __future__ import annotations

import logging
import traceback
from typing import Literal

import pytest

from domain.odoo_gateway import (
    OdooAuthError,
    OdooError,
    OdooServerError,
    OdooUnavailableError,
    OdooUnknownFieldError,
)
from infrastructure.odoo import OdooClient
from infrastructure.odoo_fake import FakeOdoo
from tests.integration.odoo.conftest import ClientFactory

ORDER = "id asc"


async def test_two_500s_then_success(client: OdooClient, fake: FakeOdoo) -> None:
    await client.search_count("crm.stage", [])  # connect and authenticate first
    fake.fail_next(2, "status", status=500)
    fake.faults.requests = 0
    assert await client.search_count("crm.stage", []) == 6
    assert fake.faults.requests == 3


@pytest.mark.parametrize("kind", ["drop", "garbage"])
async def test_dropped_connections_and_garbage_are_retried(
    client: OdooClient, fake: FakeOdoo, kind: str
) -> None:
    fake.fail_next(2, kind)  # type: ignore[arg-type]
    assert len(await client.search_read("crm.stage", [], ["name"], ORDER)) == 6
    assert fake.faults.injected == 2


@pytest.mark.parametrize("status", [502, 503, 504])
async def test_gateway_errors_are_retried(client: OdooClient, fake: FakeOdoo, status: int) -> None:
    fake.fail_next(1, "status", status=status)
    assert await client.search_count("crm.stage", []) == 6


async def test_slow_answers_time_out_and_are_retried(
    fake: FakeOdoo, target: tuple[FakeOdoo, str], make_client: ClientFactory
) -> None:
    client = make_client(fake, target[1], timeout=0.2)
    await client.search_count("crm.stage", [])
    fake.fail_next(1, "slow", delay=0.6)
    assert await client.search_count("crm.stage", []) == 6
    assert fake.faults.injected == 1


async def test_always_failing_raises_unavailable_after_max_retries(
    fake: FakeOdoo, target: tuple[FakeOdoo, str], make_client: ClientFactory
) -> None:
    client = make_client(fake, target[1], max_retries=3)
    await client.search_count("crm.stage", [])
    fake.faults.requests = 0
    fake.fail_next(100, "status", status=500)
    with pytest.raises(OdooUnavailableError, match="after 4 attempts"):
        await client.search_count("crm.stage", [])
    assert fake.faults.requests == 4


async def test_deterministic_errors_are_not_retried(client: OdooClient, fake: FakeOdoo) -> None:
    await client.search_count("crm.stage", [])
    fake.faults.requests = 0
    with pytest.raises(OdooUnknownFieldError):
        await client.search_read("crm.lead", [], ["nope"], ORDER)
    assert fake.faults.requests == 1


async def test_server_down_then_up(client: OdooClient, fake: FakeOdoo) -> None:
    await client.search_count("crm.stage", [])
    modes: list[Literal["503", "drop"]] = ["503", "drop"]
    for mode in modes:
        fake.go_down(mode)
        with pytest.raises(OdooUnavailableError):
            await client.search_count("crm.stage", [])
        fake.come_up()
        assert await client.search_count("crm.stage", []) == 6


async def test_connection_refused_while_stopped(
    odoo19: FakeOdoo, make_client: ClientFactory
) -> None:
    client = make_client(odoo19, "json2")
    assert await client.search_count("crm.stage", []) == 6
    odoo19.stop()
    try:
        with pytest.raises(OdooUnavailableError, match="ConnectError"):
            await client.search_count("crm.stage", [])
    finally:
        odoo19.start()
    assert await client.search_count("crm.stage", []) == 6


async def test_auto_detects_json2_on_19_and_jsonrpc_on_17(
    odoo19: FakeOdoo, odoo17: FakeOdoo, make_client: ClientFactory
) -> None:
    c19, c17 = make_client(odoo19), make_client(odoo17)
    assert await c19.search_count("crm.stage", []) == await c17.search_count("crm.stage", [])
    assert (c19.protocol, c17.protocol) == ("json2", "jsonrpc")


async def test_auto_falls_back_to_jsonrpc_when_web_version_fails(
    odoo19: FakeOdoo, make_client: ClientFactory
) -> None:
    client = make_client(odoo19)
    odoo19.fail_next(1, "status", status=404, path="/web/version")
    assert await client.search_count("crm.stage", []) == 6
    assert client.protocol == "jsonrpc"


async def test_forcing_json2_on_17_explains_itself(
    odoo17: FakeOdoo, make_client: ClientFactory
) -> None:
    with pytest.raises(OdooServerError, match="jsonrpc"):
        await make_client(odoo17, "json2").search_count("crm.stage", [])


def _texts(exc: BaseException) -> list[str]:
    out = [str(exc), repr(exc), *map(str, exc.args), "".join(traceback.format_exception(exc))]
    if exc.__cause__ is not None:
        out += _texts(exc.__cause__)
    return out


async def test_the_api_key_never_leaks(
    fake: FakeOdoo,
    target: tuple[FakeOdoo, str],
    make_client: ClientFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    protocol = target[1]
    secret = fake.api_key
    errors: list[OdooError] = []

    async def expect(client: OdooClient, call: str) -> None:
        try:
            if call == "fields":
                await client.search_read("crm.lead", [], ["nope"], ORDER)
            elif call == "model":
                await client.search_read("no.model", [], ["name"], ORDER)
            elif call == "private":
                await client.execute("crm.lead", "_private", {})
            else:
                await client.search_count("crm.stage", [])
        except OdooError as exc:
            errors.append(exc)

    good = make_client(fake, protocol)
    for call in ("fields", "model", "private"):
        await expect(good, call)
    fake.fail_next(10, "status", status=500)
    await expect(good, "count")
    fake.faults.clear()
    fake.fail_next(10, "garbage")
    await expect(good, "count")
    fake.faults.clear()
    # a client holding a wrong key must not print the key it holds either
    wrong_secret = "wrong-but-secret-key-42"
    bad = make_client(fake, protocol, api_key=wrong_secret)
    await expect(bad, "count")
    assert any(isinstance(e, OdooAuthError) for e in errors)
    assert len(errors) == 6
    assert secret not in repr(good) and wrong_secret not in repr(bad)
    for exc in errors:
        for text in _texts(exc):
            assert secret not in text and wrong_secret not in text
            assert 'Traceback (most recent call last):\n  File "/opt/odoo' not in str(exc)
    for record in caplog.records:
        text = record.getMessage() + str(record.args)
        assert secret not in text and wrong_secret not in text
    assert any(r.name == "pulse.odoo" for r in caplog.records)
