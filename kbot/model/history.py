"""A trailing history of index prices: realized volatility at several horizons and past prices
for the signals (pure, no clock reads: time is always an argument).

Fed with whatever observations of the index there are, at any spacing: the spot index actor
adds its volatility grid samples (every ``VolConfig.sample_interval_s``), ``kbot evaluate``
adds the spot of each capture (about two an hour). For a Brownian log price the variance
*rate* ``sum r^2 / sum dt`` over the returns in a window estimates ``sigma^2`` whatever the
spacing, so the same code serves both.

- ``rv(horizon_s, now)``: ``sqrt(sum r^2 / sum dt * YEAR)`` over the returns that end inside
  ``(now - horizon_s, now]``; None when they cover less than half the horizon. Returns across
  gaps longer than ``max_gap_s`` are not taken (a restart, a stale index).
- ``price_at(ts)``: the last observation at or before ``ts`` (sample-and-hold).
- ``move_z(lookback_s, now, sigma)``: the log return from the price ``lookback_s`` ago to the
  latest one, in standard deviations of that interval at ``sigma``; None when there is no
  observation between ``now - 2 * lookback_s`` and ``now - lookback_s``.

Observations older than ``keep_s`` are dropped. Out-of-order or invalid observations are
refused (counted in ``rejected``).
"""

from __future__ import annotations

import bisect
import math

from kbot.model.prob import YEAR_S


class PriceHistory:
    def __init__(self, keep_s: float, max_gap_s: float = 7200.0) -> None:
        self.keep_s = keep_s
        self.max_gap_s = max_gap_s
        self._ts: list[float] = []
        self._px: list[float] = []
        self._r2: list[float] = [0.0]  # cumulative r^2 of returns ending at or before index i
        self._dt: list[float] = [0.0]  # cumulative dt of those returns
        self._start = 0
        self.rejected = 0

    def __len__(self) -> int:
        return len(self._ts) - self._start

    def add(self, ts: float, price: float) -> bool:
        if not (math.isfinite(ts) and math.isfinite(price) and price > 0):
            self.rejected += 1
            return False
        if self._ts and ts <= self._ts[-1]:
            if ts == self._ts[-1]:
                return False  # the same grid point again: nothing new
            self.rejected += 1
            return False
        r2 = dt = 0.0
        if self._ts and len(self) > 0:
            gap = ts - self._ts[-1]
            if gap <= self.max_gap_s:
                r2 = math.log(price / self._px[-1]) ** 2
                dt = gap
        if self._ts:
            self._r2.append(self._r2[-1] + r2)
            self._dt.append(self._dt[-1] + dt)
        self._ts.append(ts)
        self._px.append(price)
        self._prune(ts)
        return True

    def _prune(self, now: float) -> None:
        cutoff = now - self.keep_s
        i = bisect.bisect_left(self._ts, cutoff, self._start)
        self._start = max(self._start, min(i, len(self._ts) - 1))
        if self._start > 4096 and self._start > len(self._ts) // 2:
            s = self._start
            self._ts = self._ts[s:]
            self._px = self._px[s:]
            base_r2, base_dt = self._r2[s], self._dt[s]
            self._r2 = [x - base_r2 for x in self._r2[s:]]
            self._dt = [x - base_dt for x in self._dt[s:]]
            self._start = 0

    def latest(self) -> tuple[float, float] | None:
        return (self._ts[-1], self._px[-1]) if len(self) > 0 else None

    def price_at(self, ts: float) -> tuple[float, float] | None:
        """``(ts_obs, price)`` of the last observation at or before ``ts``."""
        i = bisect.bisect_right(self._ts, ts, self._start) - 1
        if i < self._start:
            return None
        return self._ts[i], self._px[i]

    def rv(self, horizon_s: float, now: float) -> float | None:
        """Annualized realized volatility over ``(now - horizon_s, now]``."""
        if len(self) < 2:
            return None
        j = bisect.bisect_right(self._ts, now, self._start) - 1  # last return ending <= now
        i = bisect.bisect_right(self._ts, now - horizon_s, self._start) - 1  # returns after i
        i = max(i, self._start)
        if j <= i:
            return None
        ss = self._r2[j] - self._r2[i]
        tt = self._dt[j] - self._dt[i]
        if tt < 0.5 * horizon_s or tt <= 0 or ss <= 0:
            return None
        return math.sqrt(ss / tt * YEAR_S)

    def move_z(self, lookback_s: float, now: float, sigma: float | None) -> float | None:
        """Log return over ``lookback_s`` to the latest observation, in standard deviations."""
        last = self.price_at(now)
        past = self.price_at(now - lookback_s)
        if last is None or past is None or sigma is None or not sigma > 0:
            return None
        if past[0] < now - 2.0 * lookback_s or last[0] <= past[0]:
            return None
        sd = sigma * math.sqrt((last[0] - past[0]) / YEAR_S)
        return math.log(last[1] / past[1]) / sd
