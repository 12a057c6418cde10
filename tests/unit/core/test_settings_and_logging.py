"""Settings are read from PULSE_* variables; secrets never print; logs mask secret values."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from infrastructure.logging_setup import RedactSecrets
from infrastructure.settings import load_settings


def test_defaults_match_the_product_contract(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(__import__("os").environ):
        if name.startswith("PULSE_"):
            monkeypatch.delenv(name)
    s = load_settings()
    assert s.mongodb_url is None and s.embedded
    assert s.mongodb_db == "pulse" and s.redis_url is None
    assert s.data_dir == Path(".pulse")
    assert (s.host, s.port) == ("127.0.0.1", 8000)
    assert s.odoo_protocol == "auto" and s.sync_interval == 300 and s.access_ttl == 300
    assert s.admin_emails == frozenset() and not s.odoo_configured


def test_environment_overrides_and_secret_masking(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PULSE_ODOO_API_KEY", "odoo-key-123")
    monkeypatch.setenv("PULSE_JWT_SECRET", "jwt-secret-456")
    monkeypatch.setenv("PULSE_ADMIN_EMAILS", " Boss@Example.com , ops@example.com,")
    monkeypatch.setenv("PULSE_ODOO_PROTOCOL", "json2")
    monkeypatch.setenv("PULSE_SYNC_INTERVAL", "0")
    s = load_settings()
    assert s.admin_emails == {"boss@example.com", "ops@example.com"}
    assert s.odoo_protocol == "json2" and s.sync_interval == 0
    assert s.odoo_api_key is not None and s.odoo_api_key.get_secret_value() == "odoo-key-123"
    shown = repr(s) + str(s) + s.model_dump_json()
    assert "odoo-key-123" not in shown and "jwt-secret-456" not in shown


def test_invalid_values_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PULSE_ODOO_PROTOCOL", "soap")
    with pytest.raises(ValueError, match="odoo_protocol"):
        load_settings()


def test_log_filter_masks_secret_values() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "calling %s with key %s",
                               ("http://odoo", "odoo-key-123"), None)  # fmt: skip
    RedactSecrets(["odoo-key-123"]).filter(record)
    assert record.getMessage() == "calling http://odoo with key ***"


def test_log_filter_masks_webhook_tokens_in_paths() -> None:
    line = '127.0.0.1:5 - "POST /webhooks/odoo/Ux1O27ho5N93O6ROz HTTP/1.1" 202'
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, line, None, None)
    RedactSecrets([]).filter(record)
    assert "Ux1O27ho5N93O6ROz" not in record.getMessage()
    assert "/webhooks/odoo/***" in record.getMessage()
