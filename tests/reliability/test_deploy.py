"""deploy/: Docker does not run here, so the compose file is documentation. These checks
keep it honest: it parses, it has the topology deploy/README.md describes, every PULSE_*
variable it sets is a real setting, no secret is written in it, and the commands it runs
are commands ``pulse`` accepts."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from infrastructure.cli import build_parser
from infrastructure.settings import Settings
from tests.conftest import ROOT

DEPLOY = ROOT / "deploy"
PULSE_SERVICES = ("api1", "api2", "worker")
SECRET_NAMES = re.compile(r"(URL|KEY|TOKEN|SECRET|PASSWORD)$")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return loaded


def environment(service: dict[str, Any]) -> dict[str, str]:
    return {k: str(v) for k, v in (service.get("environment") or {}).items()}


def test_the_topology_is_the_documented_one(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {"mongo1", "mongo2", "mongo3", "mongo-init", "redis", "api1",
                             "api2", "worker", "lb"}  # fmt: skip
    for name in ("mongo1", "mongo2", "mongo3"):
        command = services[name]["command"]
        assert "--replSet" in command and command[command.index("--replSet") + 1] == "rs0"
        assert "--keyFile" in command
    assert services["api1"]["command"][0] == services["api2"]["command"][0] == "serve"
    assert services["worker"]["command"] == ["worker"]
    init = (DEPLOY / "mongo" / "rs-init.js").read_text()
    assert "rs.initiate" in init and all(f"mongo{i}:27017" in init for i in (1, 2, 3))
    assert "--save" in services["redis"]["command"]  # pub/sub only: nothing persisted


def test_every_pulse_variable_is_a_real_setting(compose: dict[str, Any]) -> None:
    known = {f"PULSE_{name.upper()}" for name in Settings.model_fields}
    for name in PULSE_SERVICES:
        env = environment(compose["services"][name])
        unknown = sorted(k for k in env if k.startswith("PULSE_") and k not in known)
        assert not unknown, f"{name}: {unknown}"


def test_the_settings_of_each_process(compose: dict[str, Any]) -> None:
    for name in PULSE_SERVICES:
        env = environment(compose["services"][name])
        url = env["PULSE_MONGODB_URL"]
        assert "replicaSet=rs0" in url and "w=majority" in url, name
        assert all(f"mongo{i}:27017" in url for i in (1, 2, 3)), name
        assert env["PULSE_REDIS_URL"].startswith("redis://"), name  # cross-process pushes
        assert env["PULSE_GRAPHIQL"] == "false", name
    for name in ("api1", "api2"):
        assert environment(compose["services"][name])["PULSE_SYNC_INTERVAL"] == "0"
    assert float(environment(compose["services"]["worker"])["PULSE_SYNC_INTERVAL"]) > 0


def test_no_secret_is_written_in_the_file(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        for key, value in environment(service).items():
            if SECRET_NAMES.search(key) and key != "PULSE_ODOO_URL":
                assert "${" in value, f"{name}: {key} must come from the environment"
            assert not re.search(r"://[^:/]+:[^$@/][^@]*@", value), f"{name}: {key}"


def test_the_commands_are_commands_pulse_accepts(compose: dict[str, Any]) -> None:
    parser = build_parser()
    for name in PULSE_SERVICES:
        args = parser.parse_args(compose["services"][name]["command"])
        assert args.command in ("serve", "worker")
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["pulse"]' in dockerfile
    assert "uv sync --frozen" in dockerfile


def test_the_load_balancer_passes_websockets_and_hides_the_webhook_token() -> None:
    nginx = (DEPLOY / "nginx.conf").read_text()
    assert "server api1:8000" in nginx and "server api2:8000" in nginx
    assert "proxy_set_header Upgrade $http_upgrade" in nginx
    assert '"/webhooks/odoo/***"' in nginx and "$request " not in nginx
    assert "access_log /dev/stdout pulse;" in nginx


def test_the_readme_names_every_service(compose: dict[str, Any]) -> None:
    readme = Path(DEPLOY / "README.md").read_text()
    for name in compose["services"]:
        assert f"`{name}`" in readme, name
