"""GraphiQL and the live demo page in Chromium against a running ``pulse demo``."""

from __future__ import annotations

import pytest

from tests.browser.conftest import ARTIFACTS, BrowserTools, DemoServer, run_scenario

pytestmark = pytest.mark.e2e


def test_graphiql_runs_a_query_and_shows_a_live_subscription_update(
    browser_tools: BrowserTools, pulse_demo: DemoServer
) -> None:
    output = run_scenario(browser_tools, pulse_demo, "graphiql.mjs")
    assert "GraphiQL: ok" in output
    for shot in ("graphiql-query.png", "graphiql-subscription-first.png",
                 "graphiql-subscription-live.png"):  # fmt: skip
        assert (ARTIFACTS / shot).stat().st_size > 10_000, shot


def test_the_demo_page_follows_a_managers_dashboard_live(
    browser_tools: BrowserTools, pulse_demo: DemoServer
) -> None:
    output = run_scenario(browser_tools, pulse_demo, "demo_page.mjs")
    assert "demo page: ok" in output
    for shot in ("demo-page-picker.png", "demo-page-before.png", "demo-page-after.png"):
        assert (ARTIFACTS / shot).stat().st_size > 10_000, shot
