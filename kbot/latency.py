"""Tick-to-decision latency: a fixed-size histogram of how long inputs take to become decisions.

Every message carries ``mono``: ``time.perf_counter()`` when the input that caused it reached the
feed boundary (``kbot.messages``). When a ``Decision`` leaves the decision actor, ``now - mono``
is the time that input spent in kbot: parsing, mailboxes, the spot index, the pricer, the
decision. ``LatencyMeter`` keeps those durations in log-spaced buckets (1% wide, from 1 us to
~20 minutes), so it costs a few hundred nanoseconds per decision and a constant ~17 kB however
long kbot runs; percentiles read from it are exact to within the bucket width (1%). The maximum
is kept exactly.

The tree owns one meter; the health actor reads it and starts a new interval every
``health.interval_s`` (one log line, never one per message); benchmarks read it directly.
"""

from __future__ import annotations

import math
import time
from typing import Any

import attrs

_MIN_S = 1e-6  # bucket 0 holds everything below 1 us
_GROWTH = 1.01  # each bucket is 1% wider than the previous one
_LOG_GROWTH = math.log(_GROWTH)
_BUCKETS = 2100  # 1 us * 1.01**2100 ~ 1,200 s; the last bucket holds everything longer


@attrs.frozen(slots=True)
class LatencySummary:
    """Percentiles in seconds (upper edge of the bucket the percentile falls in)."""

    n: int
    mean_s: float
    p50_s: float
    p90_s: float
    p99_s: float
    p999_s: float
    max_s: float

    def as_ms(self) -> dict[str, float | int]:
        """Milliseconds, rounded to the microsecond (for logs and JSON)."""
        return {
            "n": self.n, "mean_ms": round(self.mean_s * 1e3, 3), "p50_ms": round(self.p50_s * 1e3, 3),
            "p90_ms": round(self.p90_s * 1e3, 3), "p99_ms": round(self.p99_s * 1e3, 3),
            "p999_ms": round(self.p999_s * 1e3, 3), "max_ms": round(self.max_s * 1e3, 3),
        }


def _upper_edge(i: int) -> float:
    return _MIN_S * _GROWTH**i


class LatencyMeter:
    """Histogram of durations in seconds (see the module docstring)."""

    __slots__ = ("counts", "n", "total", "max")

    def __init__(self) -> None:
        self.counts = [0] * (_BUCKETS + 1)
        self.n = 0
        self.total = 0.0
        self.max = 0.0

    def add(self, seconds: float) -> None:
        if not seconds > 0.0:  # also NaN; a clock step can make a duration negative: count it as 0
            seconds = 0.0
        if seconds <= _MIN_S:
            i = 0
        else:
            i = min(_BUCKETS, 1 + int(math.log(seconds / _MIN_S) / _LOG_GROWTH))
        self.counts[i] += 1
        self.n += 1
        self.total += seconds
        if seconds > self.max:
            self.max = seconds

    def since(self, mono: float, now: float | None = None) -> None:
        """Add ``now - mono`` (``now`` defaults to ``time.perf_counter()``); ``mono <= 0`` means
        "no causing input" (a timed re-price) and is not a latency sample."""
        if mono > 0.0:
            self.add((time.perf_counter() if now is None else now) - mono)

    def quantile(self, q: float) -> float:
        if self.n == 0:
            return math.nan
        rank = max(1, math.ceil(q * self.n))
        seen = 0
        for i, c in enumerate(self.counts):
            seen += c
            if seen >= rank:
                # the last bucket is open-ended: beyond its edge only the maximum is known
                return self.max if i == _BUCKETS else min(_upper_edge(i), self.max)
        return self.max  # pragma: no cover - unreachable: the counts sum to n

    def summary(self) -> LatencySummary:
        nan = math.nan
        if self.n == 0:
            return LatencySummary(n=0, mean_s=nan, p50_s=nan, p90_s=nan, p99_s=nan, p999_s=nan, max_s=nan)
        return LatencySummary(
            n=self.n, mean_s=self.total / self.n, p50_s=self.quantile(0.5), p90_s=self.quantile(0.9),
            p99_s=self.quantile(0.99), p999_s=self.quantile(0.999), max_s=self.max,
        )

    def reset(self) -> None:
        self.counts = [0] * (_BUCKETS + 1)
        self.n = 0
        self.total = 0.0
        self.max = 0.0

    def take(self) -> LatencySummary:
        """The summary of the interval so far, and start a new one."""
        s = self.summary()
        self.reset()
        return s


class LatencyTap:
    """An outbox that measures every ``Decision`` it is sent (``mono`` -> now) and keeps nothing:
    tee the decision actor's output into it."""

    __slots__ = ("meters",)

    def __init__(self, *meters: LatencyMeter) -> None:
        self.meters = meters

    async def send(self, msg: Any) -> None:
        self.send_nowait(msg)

    def send_nowait(self, msg: Any) -> None:
        mono = getattr(msg, "mono", 0.0)
        if mono > 0.0:
            now = time.perf_counter()
            for m in self.meters:
                m.add(now - mono)
