"""The observed part of a market's settlement window (pure).

Kalshi settles a BTC market on the simple average of the 60 one-second BRTI prints in
``(close - 60 s, close]`` (Kalshi's own quarter-hour field excludes the start tick and
includes the close tick). Inside that window the part already elapsed is known, and the
probability conditions on it (``kbot.model.prob``).

Decision (documented in the pricer): the pricer reconstructs the observed partial average
from the index updates it receives, sampled on the one-second grid with sample-and-hold,
rather than from the BRTI ``avg_60s`` field. ``avg_60s`` is a *trailing* 60 s average: it equals
the settlement value only at the close tick, and the partial average of the window cannot be
recovered from it. When BRTI is fresh the index *is* BRTI (``kbot.model.index``), so the
reconstruction follows the settlement index itself.

A grid second counts as observed when an index value at most ``max_gap_s`` old was known at
that second. If some seconds are not observed (pricer restarted inside the window, index
gap) the window is *incomplete*: the average over the observed seconds is still reported,
and the pricer flags ``window_unobserved`` so nobody trades on a partly guessed average.
"""

from __future__ import annotations

import bisect
import math

import attrs


@attrs.frozen(slots=True)
class WindowObservation:
    avg: float | None  # mean over the observed grid seconds (None when none)
    observed_s: float  # seconds of the window those samples cover
    due_s: float  # seconds of the window elapsed on the grid by now
    complete: bool  # every elapsed grid second was observed


class WindowObserver:
    """Index values seen by one market's pricer -> the observed part of its settlement window."""

    def __init__(self, close_ts: float, window_s: float = 60.0, *, step_s: float = 1.0, max_gap_s: float = 3.0):
        self.close_ts = close_ts
        self.window_s = window_s
        self.step_s = step_s
        self.max_gap_s = max_gap_s
        self.start_ts = close_ts - window_s
        self._ts: list[float] = []
        self._px: list[float] = []

    def observe(self, ts: float, price: float) -> None:
        """An index value (non-stale) at ``ts``. Out-of-order values are ignored."""
        if not (math.isfinite(ts) and math.isfinite(price) and price > 0):
            return
        if self._ts and ts <= self._ts[-1]:
            return
        if ts > self.close_ts:
            return
        self._ts.append(ts)
        self._px.append(price)
        # Keep only one value at or before (start - max_gap): older ones are never used.
        horizon = self.start_ts - self.max_gap_s
        if len(self._ts) > 2 and self._ts[1] <= horizon:
            k = bisect.bisect_right(self._ts, horizon) - 1
            del self._ts[:k]
            del self._px[:k]

    def observation(self, now: float) -> WindowObservation:
        n_due = int(math.floor((min(now, self.close_ts) - self.start_ts) / self.step_s + 1e-9))
        if n_due <= 0:
            return WindowObservation(None, 0.0, 0.0, True)
        total = 0.0
        n_ok = 0
        for k in range(1, n_due + 1):
            s = self.start_ts + k * self.step_s
            i = bisect.bisect_right(self._ts, s) - 1
            if i >= 0 and s - self._ts[i] <= self.max_gap_s:
                total += self._px[i]
                n_ok += 1
        avg = total / n_ok if n_ok else None
        return WindowObservation(avg, n_ok * self.step_s, n_due * self.step_s, n_ok == n_due)
