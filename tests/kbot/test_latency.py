"""kbot.latency: the histogram's percentiles are within its 1% bucket width of the exact ones."""

from __future__ import annotations

import math
import time

from hypothesis import given, settings
from hypothesis import strategies as st

from kbot.latency import LatencyMeter, LatencyTap


def exact(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[max(0, math.ceil(q * len(s)) - 1)]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(min_value=2e-6, max_value=100.0), min_size=1, max_size=400),
       st.sampled_from([0.5, 0.9, 0.99, 0.999]))
def test_quantiles_within_one_bucket(xs, q):
    m = LatencyMeter()
    for x in xs:
        m.add(x)
    got, want = m.quantile(q), exact(xs, q)
    assert want <= got * (1 + 1e-12) and got <= want * 1.0101 + 1e-12
    s = m.summary()
    assert s.n == len(xs) and s.max_s == max(xs) and math.isclose(s.mean_s, sum(xs) / len(xs), rel_tol=1e-9)


def test_edges_empty_reset_and_take():
    m = LatencyMeter()
    assert math.isnan(m.summary().p50_s) and m.summary().n == 0
    m.add(-1.0)  # a clock step: counted as zero, never a crash
    m.add(float("nan"))
    m.add(1e9)  # beyond the last bucket
    assert m.n == 3 and m.quantile(1.0) == 1e9 and m.quantile(0.5) <= 1e-6
    s = m.take()
    assert s.n == 3 and m.n == 0 and m.max == 0.0
    assert s.as_ms()["max_ms"] == 1e12


def test_tap_measures_messages_with_a_causing_input_only():
    class Msg:
        def __init__(self, mono: float) -> None:
            self.mono = mono

    a, b = LatencyMeter(), LatencyMeter()
    tap = LatencyTap(a, b)
    tap.send_nowait(Msg(0.0))  # a timed re-price: no causing input
    tap.send_nowait(Msg(time.perf_counter() - 0.002))
    assert a.n == b.n == 1 and 0.002 <= a.max < 1.0
    m = LatencyMeter()
    m.since(0.0)
    m.since(5.0, now=5.5)
    assert m.n == 1 and m.max == 0.5
