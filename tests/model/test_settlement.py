"""The observed part of a settlement window: sample-and-hold on the one-second grid,
completeness, gaps."""

from __future__ import annotations

import pytest

from kbot.model.settlement import WindowObserver


def test_before_window_nothing_due():
    w = WindowObserver(close_ts=1000.0)
    w.observe(900.0, 100.0)
    obs = w.observation(930.0)
    assert (obs.avg, obs.observed_s, obs.complete) == (None, 0.0, True)


def test_sample_and_hold_average_and_completeness():
    w = WindowObserver(close_ts=1000.0, window_s=60.0, max_gap_s=3.0)
    w.observe(939.5, 100.0)  # before the window starts: held into its first seconds
    w.observe(941.5, 110.0)
    w.observe(943.2, 120.0)
    w.observe(944.0, 130.0)
    obs = w.observation(945.2)  # grid seconds 941..945
    # 941 -> 100, 942 -> 110, 943 -> 110, 944 -> 130, 945 -> 130
    assert obs.observed_s == 5.0 and obs.due_s == 5.0 and obs.complete
    assert obs.avg == pytest.approx((100 + 110 + 110 + 130 + 130) / 5)


def test_gap_makes_it_incomplete_and_keeps_observed_seconds():
    w = WindowObserver(close_ts=1000.0, window_s=60.0, max_gap_s=3.0)
    w.observe(940.0, 100.0)
    w.observe(950.0, 200.0)  # 941..943 held (<= 3 s), 944..949 unobserved
    obs = w.observation(951.0)
    assert not obs.complete
    assert obs.due_s == 11.0 and obs.observed_s == 5.0
    assert obs.avg == pytest.approx((3 * 100 + 2 * 200) / 5)


def test_started_inside_window_is_incomplete():
    w = WindowObserver(close_ts=1000.0)
    w.observe(970.0, 100.0)
    assert not w.observation(975.0).complete


def test_after_close_counts_the_full_window_and_ignores_later_values():
    w = WindowObserver(close_ts=1000.0)
    for s in range(940, 1001):
        w.observe(float(s), 100.0 + s - 940)
    w.observe(1001.0, 1e9)
    obs = w.observation(1005.0)
    assert obs.complete and obs.observed_s == 60.0
    assert obs.avg == pytest.approx(sum(100.0 + s - 940 for s in range(941, 1001)) / 60)


def test_memory_is_bounded_before_the_window():
    w = WindowObserver(close_ts=100_000.0)
    for s in range(0, 99_000):
        w.observe(float(s), 1.0)
    assert len(w._ts) <= 3
