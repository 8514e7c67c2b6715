"""The pricing board: one vectorized look at every priced market per index update (pure).

Every index update reaches every pricer, but for a given market most updates change nothing
its pricer would send: its final probability moves by less than the throttle's tolerance.
Waking one task per market per tick is what costs (a scheduler pass each), so the tree keeps
a board:

- each pricer, after every edge it builds, publishes its *quiet band* (``PricerCore.quiet_band``):
  the index prices ``(lo_px, hi_px)`` between which nothing it sends could change, until when
  that holds (``until``: emit/snapshot cadence, quote ageing, the settlement window), and the
  index it priced with (its sigma, sigma source and signals: the other inputs an index update
  can change);
- on each index update the board answers, in one numpy pass, which pricers must be woken:
  those whose band the new price leaves, whose state expired, whose index sigma, sigma source
  or signals changed, that are inside (or about to enter) the settlement window, or that
  published no band. The others get the update stored in their conflating mailbox without a
  wake: they read it with their next input.

The band is model-agnostic (the pricer derives it from its own final probability as a function
of spot), so the board holds no model. One actor per market is kept; only the wake-up decision
is shared and vectorized.
"""

from __future__ import annotations

import math

import numpy as np

from kbot.messages import IndexUpdate
from kbot.model.prob import strike_bounds

_GROW = 64


class PricingBoard:
    def __init__(self, window_s: float = 60.0) -> None:
        self.window_s = window_s
        self.slot: dict[str, int] = {}
        n = _GROW
        self.free: list[int] = list(range(n - 1, -1, -1))
        self.end = np.zeros(n)  # horizon end (close)
        self.active = np.zeros(n, dtype=bool)  # slot in use and market priceable here
        self.has_state = np.zeros(n, dtype=bool)
        self.lo_px = np.zeros(n)
        self.hi_px = np.zeros(n)
        self.until = np.zeros(n)
        self.sigma = np.zeros(n)
        self.seq = np.full(n, -1, dtype=np.int64)  # signals seq of the index priced with (-1: none)
        self.source: list[str | None] = [None] * n
        self.tickers: list[str | None] = [None] * n
        self.wakes = 0
        self.quiet = 0

    # ------------------------------------------------------------------ membership

    def _grow(self) -> None:
        n = len(self.end)
        for name in ("end", "active", "has_state", "lo_px", "hi_px", "until", "sigma", "seq"):
            arr = getattr(self, name)
            fill = {"seq": -1}.get(name, 0)
            setattr(self, name, np.concatenate([arr, np.full(_GROW, fill, dtype=arr.dtype)]))
        self.source.extend([None] * _GROW)
        self.tickers.extend([None] * _GROW)
        self.free.extend(range(n + _GROW - 1, n - 1, -1))

    def set_market(self, ticker: str, strike_type: str | None, floor: float | None, cap: float | None,
                   end: float | None) -> None:
        """Add or update a market (a change forgets its quiet state: its pricer re-publishes)."""
        i = self.slot.get(ticker)
        if i is None:
            if not self.free:
                self._grow()
            i = self.free.pop()
            self.slot[ticker] = i
            self.tickers[i] = ticker
        bounds = strike_bounds(strike_type, floor, cap)
        ok = not isinstance(bounds, str) and end is not None
        if ok and end is not None:
            self.end[i] = end
        self.active[i] = ok
        self.has_state[i] = False

    def remove(self, ticker: str) -> None:
        i = self.slot.pop(ticker, None)
        if i is None:
            return
        self.active[i] = False
        self.has_state[i] = False
        self.tickers[i] = None
        self.source[i] = None
        self.free.append(i)

    def publish(self, ticker: str, band: tuple[float, float, float] | None, index: IndexUpdate | None) -> None:
        """A pricer's quiet band ``(lo_px, hi_px, until)`` after an edge priced with ``index``
        (``band=None``: always wake)."""
        i = self.slot.get(ticker)
        if i is None:
            return
        ok = band is not None and index is not None and math.isfinite(index.sigma)
        self.has_state[i] = ok
        if ok and band is not None and index is not None:
            self.lo_px[i], self.hi_px[i], self.until[i] = band
            self.sigma[i] = index.sigma
            self.source[i] = index.sigma_source
            self.seq[i] = index.signals.seq if index.signals is not None else -1

    # ------------------------------------------------------------------ per update

    def to_wake(self, u: IndexUpdate) -> list[str]:
        """Tickers whose pricers this index update must wake (see the module docstring)."""
        n = len(self.slot)
        if n == 0:
            return []
        wake_all = u.stale or u.price <= 0 or not (u.sigma > 0) or not math.isfinite(u.price + u.sigma)
        if wake_all:
            out = list(self.slot)
            self.wakes += len(out)
            return out
        horizon = self.end - u.ts
        valid = self.active & self.has_state & (horizon > self.window_s + 1.0) & (u.ts < self.until)
        valid &= (self.sigma == u.sigma) & (self.lo_px < u.price) & (u.price < self.hi_px)
        valid &= self.seq == (u.signals.seq if u.signals is not None else -1)
        out = []
        quiet = 0
        for t, i in self.slot.items():
            if valid[i] and self.source[i] == u.sigma_source:
                quiet += 1
            else:
                out.append(t)
        self.wakes += len(out)
        self.quiet += quiet
        return out
