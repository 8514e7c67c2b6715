"""The spot index: one BTC-USD level from several feeds, and its trailing settlement average.

``SpotIndex`` keeps the latest observation per source and computes, for a given time ``now``:

- the **fresh** sources: latest tick at most ``max_age_s`` old by both its event time and its
  receipt time (a feed replaying old data or an exchange clock running ahead cannot pass);
- the **exchange median** of the fresh exchange sources (mid when the tick has a sane
  bid/ask and ``use_mid``, else the trade price);
- **BRTI preference**: Kalshi's CF Benchmarks stream (source ``brti``) *is* the settlement
  index, so when it is fresh (``brti_max_age_s``) and ``prefer_brti`` is set the index is the
  BRTI value itself (``method="brti"``) and the index is not stale even with no exchange. It is
  refused when at least ``min_sources`` fresh exchanges agree on a median more than
  ``brti_max_deviation_bps`` away (``method="median_brti_outlier"``): a wrong BRTI print must
  not drive prices. Otherwise the index is the exchange median (``method="median"``);
- **stale** when neither a usable BRTI nor ``min_sources`` fresh exchanges exist.

``TrailingAverage`` samples the index on the one-second grid (sample-and-hold, like the 60
one-second BRTI prints Kalshi averages) and reports the simple mean over the last window once
enough of it is covered. Pure: no clock, time is always passed in.
"""

from __future__ import annotations

import math
import statistics
from collections import deque

import attrs

from kbot.messages import SpotTick
from kbot.model.config import IndexConfig


@attrs.frozen(slots=True)
class IndexValue:
    ts: float
    price: float | None  # None when no source is usable at all
    n_sources: int  # fresh sources (BRTI included when fresh)
    sources: tuple[str, ...]  # the fresh sources, sorted (BRTI first when it set the price)
    stale: bool
    method: str  # brti | median | median_brti_outlier | none


@attrs.frozen(slots=True)
class _Obs:
    ts: float
    recv_ts: float
    value: float


def tick_value(tick: SpotTick, use_mid: bool) -> float | None:
    """The level a tick stands for: its mid when it carries a sane bid/ask, else its price."""
    if use_mid and tick.bid is not None and tick.ask is not None:
        bid, ask = tick.bid, tick.ask
        if math.isfinite(bid) and math.isfinite(ask) and 0 < bid <= ask:
            return 0.5 * (bid + ask)
    p = tick.price
    if p is None or not math.isfinite(p) or p <= 0:
        return None
    return float(p)


class SpotIndex:
    """Latest observation per source -> the index at a given time."""

    def __init__(self, config: IndexConfig) -> None:
        self.config = config
        self._latest: dict[str, _Obs] = {}

    def observe(self, tick: SpotTick) -> str | None:
        """Take a tick. Returns None when used, else why it was ignored: ``no_price`` (no
        usable price), ``bad_time`` (non-finite times), ``out_of_order`` (older than the
        source's latest: late delivery must not move the index back in time) or
        ``out_of_band`` (an exchange away from the others, ``source_max_deviation_bps``).

        Where the checks live: a price's own sanity (finite, positive, within the BTC range) is a
        wire fact, checked by the feed parsers (``kbot.venues.wire``); agreement with the other
        sources can only be judged here, where they meet. It needs a reference the others agree
        on: the median of three or more other fresh sources, or two that agree with each other
        within the band. With fewer, or two that disagree, nobody can tell which one is wrong,
        and the tick is taken (the index median then limits the damage)."""
        value = tick_value(tick, self.config.use_mid)
        if value is None:
            return "no_price"
        if not math.isfinite(tick.ts) or not math.isfinite(tick.recv_ts):
            return "bad_time"
        prev = self._latest.get(tick.source)
        if prev is not None and tick.ts < prev.ts:
            return "out_of_order"
        band = self.config.source_max_deviation_bps
        if band > 0 and tick.source != self.config.brti_source:
            ref = self._reference(tick.source, tick.recv_ts, band)
            if ref is not None and abs(value / ref - 1.0) * 1e4 > band:
                return "out_of_band"
        self._latest[tick.source] = _Obs(tick.ts, tick.recv_ts, value)
        return None

    def _reference(self, source: str, now: float, band_bps: float) -> float | None:
        """What the fresh sources other than ``source`` (BRTI included) agree on, or None."""
        cfg = self.config
        others = []
        for name in self._latest:
            if name != source:
                age = cfg.brti_max_age_s if name == cfg.brti_source else cfg.max_age_s
                obs = self._fresh(name, now, age)
                if obs is not None:
                    others.append(obs.value)
        if len(others) >= 3:
            return statistics.median(others)
        if len(others) == 2 and abs(others[0] / others[1] - 1.0) * 1e4 <= band_bps:
            return 0.5 * (others[0] + others[1])
        return None

    def _fresh(self, name: str, now: float, max_age: float) -> _Obs | None:
        obs = self._latest.get(name)
        if obs is None or now - min(obs.ts, obs.recv_ts) > max_age:
            return None
        return obs

    def compute(self, now: float) -> IndexValue:
        cfg = self.config
        exchanges: dict[str, float] = {}
        for name in self._latest:
            if name == cfg.brti_source:
                continue
            obs = self._fresh(name, now, cfg.max_age_s)
            if obs is not None:
                exchanges[name] = obs.value
        brti = self._fresh(cfg.brti_source, now, cfg.brti_max_age_s)
        median = statistics.median(exchanges.values()) if exchanges else None
        enough = len(exchanges) >= cfg.min_sources
        names = sorted(exchanges)
        if brti is not None:
            all_fresh = (cfg.brti_source, *names)
            if cfg.prefer_brti:
                outlier = (
                    enough and median is not None and abs(brti.value / median - 1.0) * 1e4 > cfg.brti_max_deviation_bps
                )
                if not outlier:
                    return IndexValue(now, brti.value, len(all_fresh), all_fresh, False, "brti")
                return IndexValue(now, median, len(all_fresh), all_fresh, False, "median_brti_outlier")
            # Not preferred: BRTI is one more vote in the median.
            votes = [*exchanges.values(), brti.value]
            return IndexValue(
                now, statistics.median(votes), len(all_fresh), all_fresh, len(votes) < cfg.min_sources, "median"
            )
        if median is None:
            return IndexValue(now, None, 0, (), True, "none")
        return IndexValue(now, median, len(names), tuple(names), not enough, "median")

    def sources(self) -> list[str]:
        return sorted(self._latest)


class TrailingAverage:
    """Simple mean of grid samples over the trailing ``window_s`` (one sample per grid step,
    sample-and-hold). ``add`` takes samples in time order; a sample that is not usable (stale
    index) is simply not added, so coverage falls and the mean is withheld."""

    def __init__(self, window_s: float, step_s: float, min_coverage: float) -> None:
        self.window_s = window_s
        self.step_s = step_s
        self.min_coverage = min_coverage
        self._samples: deque[tuple[float, float]] = deque()

    def add(self, ts: float, price: float) -> None:
        if self._samples and ts <= self._samples[-1][0]:
            return
        self._samples.append((ts, price))
        self._trim(ts)

    def _trim(self, now: float) -> None:
        cutoff = now - self.window_s
        while self._samples and self._samples[0][0] <= cutoff:
            self._samples.popleft()

    def mean(self, now: float) -> float | None:
        """The mean over (now - window, now], or None below the required coverage."""
        self._trim(now)
        n = len(self._samples)
        if n == 0 or n < self.min_coverage * (self.window_s / self.step_s):
            return None
        return math.fsum(p for _, p in self._samples) / n
