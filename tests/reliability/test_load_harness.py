"""The load harness's own rules (``bench/load.py``), without servers: who must receive a
change, how pushes are matched to changes (coalescing allowed), what counts as missing or
unexpected, and the memory-growth rule."""

from __future__ import annotations

from bench.load import ADMIN_VIEWER, LoadReport, Org, Subscriber, judge, viewers_for

INFO = {
    # id, email, active, manager user id: 1 <- 2 <- 3 (archived) <- 4; 1 <- 5
    "users": [
        [1, "ceo@x.example", True, None],
        [2, "vp@x.example", True, 1],
        [3, "gone@x.example", False, 2],
        [4, "rep@x.example", True, 3],
        [5, "other@x.example", True, 1],
    ],
    "deals": [[100, 4], [101, 5]],
}


def subscriber(as_of: list[int], times: list[float]) -> Subscriber:
    return Subscriber(0, "4", "token", times=times, as_of=as_of)


def report() -> LoadReport:
    return LoadReport("test", {"rate": 1, "duration": 1, "admins": 0})


def test_a_change_reaches_the_salesperson_and_every_manager_above_through_archived_ones() -> None:
    org = Org.from_info(INFO)
    assert org.chain["4"] == ["4", "3", "2", "1"]
    assert org.chain["5"] == ["5", "1"]
    assert org.active == ["1", "2", "4", "5"]  # the archived user cannot subscribe
    assert org.deals == [(100, "4"), (101, "5")]


def test_viewers_are_every_active_user_then_round_robin_then_admins() -> None:
    org = Org.from_info(INFO)
    assert viewers_for(org, 6, 1) == ["1", "2", "4", "5", "1", ADMIN_VIEWER]


def test_synthetic_org_is_the_span_8_tree() -> None:
    org = Org.synthetic(20)
    assert org.chain["20"] == ["20", "3", "1"]  # user i+1 reports to (i - 1) // 8 + 1
    assert len(org.active) == 20


def test_each_change_is_timed_to_the_first_push_that_reflects_it() -> None:
    r = report()
    s = subscriber(as_of=[10, 12, 20], times=[0.0, 5.0, 9.0])
    judge(r, s, [(11, 4.5, 4.4), (12, 4.8, 4.7), (15, 8.0, 7.9)], known=20, complete=True)
    assert r.expected_pushes == 3 and r.missing_pushes == 0 and r.unexpected_pushes == 0
    assert [round(x) for x in r.latencies_ms] == [500, 200, 1000]  # 11 and 12 coalesced
    assert r.pushes == 3


def test_a_change_no_push_reaches_is_missing() -> None:
    r = report()
    judge(r, subscriber([10, 12], [0.0, 1.0]), [(12, 0.5, 0.5), (13, 0.6, 0.6)], 13, True)
    assert r.missing_pushes == 1 and len(r.latencies_ms) == 1


def test_a_push_no_change_explains_is_unexpected() -> None:
    r = report()
    s = subscriber([10, 12, 12, 30], [0.0, 1.0, 2.0, 3.0])  # a repeat, then an unknown change
    judge(r, s, [(12, 0.5, 0.5)], known=30, complete=True)
    assert r.unexpected_pushes == 2


def test_pushes_beyond_what_was_processed_are_not_judged_on_an_incomplete_run() -> None:
    r = report()
    judge(r, subscriber([10, 12, 40], [0.0, 1.0, 2.0]), [(12, 0.5, 0.5)], 20, complete=False)
    assert r.unexpected_pushes == 0


def test_a_push_before_the_202_counts_as_zero_latency_and_is_reported() -> None:
    r = report()
    judge(r, subscriber([10, 12], [0.0, 1.0]), [(12, 1.2, 0.9)], 12, True)
    assert r.latencies_ms == [0.0] and r.early_pushes == 1
    assert round(r.from_send_ms[0]) == 100


def test_memory_growth_rule() -> None:
    r = report()
    r.rss_first_third_mb, r.rss_last_third_mb = 400.0, 480.0
    assert r.rss_growth_ok()  # 400 * 1.15 + 25 = 485
    r.rss_last_third_mb = 490.0
    assert not r.rss_growth_ok()


def test_errors_add_up() -> None:
    r = report()
    r.http_errors = {"0": 2}
    r.unprocessed, r.missing_pushes, r.ws_closes = 3, 1, ["4: 1011"]
    assert r.error_count == 7
