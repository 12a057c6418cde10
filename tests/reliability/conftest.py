"""The reliability suite: every test here carries the ``reliability`` marker, and the run
ends with a table of each hostile input class tried (cases, 5xx, leaks, stored on reject),
the figures docs/RELIABILITY.md reports. ``PULSE_RELIABILITY_REPORT=path`` also writes the
table as JSON. ``PULSE_LONG=1`` runs ten times more hypothesis examples."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.reliability.support import TALLY

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in item.path.resolve().parents:
            item.add_marker(pytest.mark.reliability)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not TALLY.classes:
        return
    terminalreporter.section("hostile input tally (docs/RELIABILITY.md)")
    for line in TALLY.lines():
        terminalreporter.write_line(line)
    target = os.environ.get("PULSE_RELIABILITY_REPORT")
    if target:
        Path(target).write_text(TALLY.as_json())
