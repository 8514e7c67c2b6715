"""The true probability of every tradable market, every second, with a short history (pure).

``TrueProbabilities.step(ex, t)`` prices all tradable markets at second ``t`` with
``kbot.sim.truth`` (one variance mixture per close time, refreshed as the state moves; one
vectorized call per close time and strike type) into a ring of the last ``history_s`` seconds,
columns in the order of ``tickers`` (the exchange's tradable markets; ``epoch`` changes when
that list does). A participant who looks at the market late (``kbot.sim.agents``: quote lag)
reads ``lagged``: the probability of a few seconds ago. These probabilities are the sim's
ground truth: the suite compares the market's mid against them; nothing is published.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from kbot.sim.calendar import SERIES_15M
from kbot.sim.truth import Truth, VarianceMix

if TYPE_CHECKING:
    from kbot.sim.exchange import Exchange
    from kbot.sim.market import SimMarket


class TrueProbabilities:
    def __init__(self, truth: Truth, history_s: int = 8) -> None:
        self.truth = truth
        self.history_s = history_s
        self.tickers: list[str] = []
        self.markets: list[SimMarket] = []
        self.index: dict[str, int] = {}
        self.epoch = 0  # bumped whenever ``tickers`` changes
        self.close = np.zeros(0)  # close_ts per column
        self._hist = np.full((history_s, 0), np.nan)
        self._hist_t = np.full(history_s, -1, dtype=np.int64)
        self._t = -1
        self._groups: list[tuple[int, str, np.ndarray, np.ndarray, np.ndarray | None]] = []
        self._pending_strike: list[int] = []  # 15M columns whose strike is not published yet
        self._mix: dict[int, tuple[int, int, float, VarianceMix]] = {}  # close -> (t, regime, h, mix)

    # ------------------------------------------------------------------ columns
    def _remap(self, markets: list[SimMarket]) -> None:
        tickers = [m.ticker for m in markets]
        old = self.index
        hist = np.full((self.history_s, len(tickers)), np.nan)
        for j, tk in enumerate(tickers):
            i = old.get(tk)
            if i is not None:
                hist[:, j] = self._hist[:, i]
        self._hist = hist
        self.tickers = tickers
        self.markets = list(markets)
        self.index = {tk: j for j, tk in enumerate(tickers)}
        self.close = np.array([m.close_ts for m in markets], dtype=np.float64)
        self.epoch += 1
        self._regroup()

    def _regroup(self) -> None:
        groups: dict[tuple[int, str], list[int]] = {}
        self._pending_strike = []
        for j, m in enumerate(self.markets):
            if m.strike.floor is None or not m.floor_published:
                self._pending_strike.append(j)
                continue
            groups.setdefault((int(m.close_ts), m.strike.strike_type), []).append(j)
        self._groups = []
        for (close, strike_type), cols in groups.items():
            ms = [self.markets[j] for j in cols]
            floors = np.array([m.strike.floor for m in ms], dtype=np.float64)
            caps = np.array([m.strike.cap for m in ms], dtype=np.float64) if strike_type == "between" else None
            self._groups.append((close, strike_type, np.array(cols, dtype=np.int64), floors, caps))

    # ------------------------------------------------------------------ pricing
    def _variance(self, t: int, close: int, regime: int, h: float) -> VarianceMix:
        """The variance mixture for ``close``, recomputed when the state or the horizon moved
        enough to matter (every second in the last five minutes)."""
        cached = self._mix.get(close)
        n = close - t
        if cached is not None:
            at, reg, h0, mix = cached
            fresh = t - at < (1 if n <= 300 else 5 if n <= 1800 else 15)
            if fresh and reg == regime and abs(h - h0) < 0.05:
                return mix
        mix = self.truth.variance_mix(t, close, regime, h)
        self._mix[close] = (t, regime, h, mix)
        return mix

    def step(self, ex: Exchange, t: int) -> None:
        markets = ex.tradable_markets(t)
        if len(markets) != len(self.markets) or any(a is not b for a, b in zip(markets, self.markets, strict=True)):
            self._remap(markets)
        elif any(self.markets[j].floor_published for j in self._pending_strike):
            self._regroup()
        row = t % self.history_s
        self._hist[row, :] = np.nan
        self._hist_t[row] = t
        self._t = t
        for j in self._pending_strike:
            if self.markets[j].series_ticker == SERIES_15M:
                self._hist[row, j] = 0.5  # before its strike is known: up or down, even odds
        if self._groups:
            regime, h = ex.path.state(t)
            spot = ex.path.price(t)
            for close, strike_type, cols, floors, caps in self._groups:
                mix = self._variance(t, close, regime, h)
                known_sum, _ = ex.window_known(self.markets[int(cols[0])], t)
                self._hist[row, cols] = Truth.prob_yes(mix, spot, known_sum, strike_type, floors, caps)
        for close in [c for c in self._mix if c < t]:
            del self._mix[close]

    # ------------------------------------------------------------------ reading
    def current(self) -> np.ndarray:
        """This second's probabilities, one per column (NaN: unknown)."""
        return self._hist[self._t % self.history_s]

    def lagged(self, lags: np.ndarray) -> np.ndarray:
        """Per column, the probability ``lags[j]`` seconds ago (this second's where that one is
        not kept)."""
        t = self._t
        rows = (t - lags) % self.history_s
        cols = np.arange(len(lags))
        out = self._hist[rows, cols]
        bad = (self._hist_t[rows] != t - lags) | np.isnan(out)
        if bad.any():
            out = np.where(bad, self.current(), out)
        return out

    def now(self, ticker: str) -> float | None:
        j = self.index.get(ticker)
        if j is None or self._t < 0:
            return None
        p = float(self._hist[self._t % self.history_s, j])
        return None if p != p else p

    def at(self, ticker: str, t: int) -> float | None:
        """The probability as of second ``t`` if still kept, else the latest."""
        j = self.index.get(ticker)
        if j is None or self._t < 0:
            return None
        row = t % self.history_s
        p = float(self._hist[row, j]) if self._hist_t[row] == t else float("nan")
        return self.now(ticker) if p != p else p
