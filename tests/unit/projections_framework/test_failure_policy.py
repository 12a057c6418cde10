"""The pure retry / narrowing / pause policy."""

from __future__ import annotations

from pymongo.errors import AutoReconnect

from projections.framework import RunnerConfig
from projections.framework.failures import ApplyError, FailurePolicy
from tests.unit.projections_framework.fakes import event

CONFIG = RunnerConfig(retries=2, backoff_initial=0.1, backoff_factor=2.0, backoff_max=0.3)
HANDLES = frozenset({"Added"})


def batch(*types: str, start: int = 1) -> list:  # type: ignore[type-arg]
    return [event(start + i, t) for i, t in enumerate(types)]


def test_backoff_is_exponential_and_capped() -> None:
    assert [CONFIG.backoff(n) for n in (1, 2, 3, 4)] == [0.1, 0.2, 0.3, 0.3]


def test_a_healthy_batch_is_processed_whole() -> None:
    policy = FailurePolicy(HANDLES, CONFIG)
    events = batch("Added", "Noise", "Added")
    assert policy.plan(events) == events


def test_apply_error_commits_the_good_prefix_first_then_retries_the_poison_alone() -> None:
    policy = FailurePolicy(HANDLES, CONFIG)
    events = batch("Added", "Noise", "Added", "Added")
    verdict = policy.failed(events, ApplyError(events[2], ValueError("bad")))
    assert not verdict.pause and verdict.delay == 0 and verdict.attempts == 0
    assert policy.plan(events) == events[:2], "the prefix, at once"
    policy.succeeded(2)
    rest = events[2:]
    assert policy.plan(rest) == [events[2]], "then the poison alone"
    delays = []
    for _ in range(CONFIG.retries):
        verdict = policy.failed([events[2]], ApplyError(events[2], ValueError("bad")))
        assert not verdict.pause and verdict.poison == events[2]
        delays.append(verdict.delay)
    assert delays == [0.1, 0.2]
    verdict = policy.failed([events[2]], ApplyError(events[2], ValueError("bad")))
    assert verdict.pause and verdict.poison == events[2] and verdict.attempts == 3
    policy.skipped(3)
    assert policy.plan(events[3:]) == events[3:], "back to whole batches after it"


def test_a_flush_error_isolates_the_range_one_handled_event_at_a_time() -> None:
    policy = FailurePolicy(HANDLES, CONFIG)
    events = batch("Noise", "Added", "Added", "Noise", "Added")
    verdict = policy.failed(events, RuntimeError("unique index clash"))
    assert not verdict.pause and verdict.poison is None
    assert policy.plan(events) == events[:2], "leading ignored events ride along"
    policy.succeeded(2)
    assert policy.plan(events[2:]) == [events[2]]
    for _ in range(CONFIG.retries):  # the success of event 2 started a fresh count
        verdict = policy.failed([events[2]], RuntimeError("unique index clash"))
        assert verdict.poison == events[2] and not verdict.pause
    verdict = policy.failed([events[2]], RuntimeError("unique index clash"))
    assert verdict.pause and verdict.attempts == 3
    policy.resumed()
    assert policy.attempts == 0
    policy.succeeded(3)
    assert policy.plan(events[3:]) == events[3:4] + events[4:5]
    policy.succeeded(5)
    later = batch("Added", "Added", start=6)
    assert policy.plan(later) == later, "past the failed range: whole batches again"


def test_connection_failures_are_transient_and_never_pause() -> None:
    policy = FailurePolicy(HANDLES, CONFIG)
    events = batch("Added")
    for _ in range(10):
        verdict = policy.failed(events, AutoReconnect("down"))
        assert verdict.transient and not verdict.pause
    assert verdict.delay == CONFIG.backoff_max


def test_a_failure_with_no_handled_event_is_not_pinned_on_an_event() -> None:
    policy = FailurePolicy(HANDLES, CONFIG)
    for _ in range(5):
        verdict = policy.failed(batch("Noise"), RuntimeError("checkpoint write failed"))
        assert verdict.transient and not verdict.pause and verdict.poison is None
