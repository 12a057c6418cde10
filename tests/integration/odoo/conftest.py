"""Built-in Odoo servers on loopback (one per emulated version, per session) and clients.

Each test starts from the demo company at a frozen clock, with no faults: the ``odoo19`` /
``odoo17`` fixtures reset the shared server. ``target`` runs a test once per (version,
protocol) pair that a real deployment can meet.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest

from infrastructure.odoo import OdooClient
from infrastructure.odoo_fake import FakeOdoo, OdooClock

BASE = "2025-03-03 09:00:00"


def _fresh(fake: FakeOdoo) -> FakeOdoo:
    fake.clock.freeze(BASE)
    fake.reset()
    return fake


@pytest.fixture(scope="session")
def fake19_server() -> Iterator[FakeOdoo]:
    with FakeOdoo(version="19.0", clock=OdooClock(BASE)) as fake:
        yield fake


@pytest.fixture(scope="session")
def fake17_server() -> Iterator[FakeOdoo]:
    with FakeOdoo(version="17.0", clock=OdooClock(BASE)) as fake:
        yield fake


@pytest.fixture
def odoo19(fake19_server: FakeOdoo) -> Iterator[FakeOdoo]:
    yield _fresh(fake19_server)
    fake19_server.faults.clear()


@pytest.fixture
def odoo17(fake17_server: FakeOdoo) -> Iterator[FakeOdoo]:
    yield _fresh(fake17_server)
    fake17_server.faults.clear()


TARGETS = [("19.0", "json2"), ("19.0", "jsonrpc"), ("17.0", "jsonrpc")]


@pytest.fixture(params=TARGETS, ids=[f"{v}-{p}" for v, p in TARGETS])
def target(request: pytest.FixtureRequest) -> tuple[FakeOdoo, str]:
    version, protocol = request.param
    fake = request.getfixturevalue("odoo19" if version == "19.0" else "odoo17")
    return fake, protocol


ClientFactory = Callable[..., OdooClient]


# Building a default SSL context costs ~50 ms per httpx client: share one.
TLS = ssl.create_default_context()


@pytest.fixture(scope="session")
def tls() -> ssl.SSLContext:
    return TLS


@pytest.fixture
async def http(tls: ssl.SSLContext) -> AsyncIterator[httpx.AsyncClient]:
    """A raw HTTP client, for checking the wire shapes of the fake's answers."""
    async with httpx.AsyncClient(verify=tls) as client:
        yield client


@pytest.fixture
async def make_client(tls: ssl.SSLContext) -> AsyncIterator[ClientFactory]:
    """Clients with test-friendly defaults (short timeout, tiny backoff), closed afterwards."""
    clients: list[OdooClient] = []

    def make(fake: FakeOdoo, protocol: str = "auto", **kwargs: Any) -> OdooClient:
        options: dict[str, Any] = {
            "timeout": 2.0,
            "max_retries": 2,
            "backoff_base": 0.001,
            "verify": tls,
        }
        options.update(kwargs)
        api_key = options.pop("api_key", fake.api_key)
        client = OdooClient(fake.url, fake.db, fake.login, api_key, protocol=protocol, **options)  # type: ignore[arg-type]
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


@pytest.fixture
def client(target: tuple[FakeOdoo, str], make_client: ClientFactory) -> OdooClient:
    fake, protocol = target
    return make_client(fake, protocol)


@pytest.fixture
def fake(target: tuple[FakeOdoo, str]) -> FakeOdoo:
    return target[0]
