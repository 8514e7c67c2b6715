"""The pricing board: one vectorized look at every priced market per index update (pure).

Every index update reaches every pricer, but for a given market most updates change nothing
its pricer would send: its probability moves by less than the throttle's tolerance. Waking one
task per market per tick is what costs (a scheduler pass each), so the tree keeps a board:

- each pricer, after every edge it builds, publishes its *quiet state*: the probability it just
  priced ``p_ref``, the slack ``tol`` left before something it sends could change (probability
  tolerance and EV-side margins, see ``PricerCore.slack``), until when that holds (``until``:
  emit/snapshot cadence, quote ageing, settlement window), and the sigma it priced with;
- on each index update the board computes the probability of *every* market at once (one
  numpy pass, plain GBM at the effective time ``T - 2W/3``, as ``kbot.model.prob``) and answers
  which pricers must be woken: those whose probability moved by ``tol`` or more, whose state
  expired, whose sigma or sigma source changed, that are inside (or about to enter) the
  settlement window, or that published no quiet state. The others get the update stored in
  their conflating mailbox without a wake: they read it with their next input.

Exact, not approximate: a pricer that is not woken would have found, on the same update, that
nothing it sends changes (its own ``unchanged_by_index`` check is the same rule). One actor per
market is kept; only the wake-up decision is shared and vectorized.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import ndtr

from kbot.messages import IndexUpdate
from kbot.model.prob import YEAR_S, strike_bounds

_GROW = 64


class PricingBoard:
    def __init__(self, window_s: float = 60.0) -> None:
        self.window_s = window_s
        self.slot: dict[str, int] = {}
        n = _GROW
        self.free: list[int] = list(range(n - 1, -1, -1))
        self.lnlo = np.zeros(n)  # ln(floor) or -inf (no floor)
        self.lnhi = np.full(n, np.inf)  # ln(cap) or +inf (no cap)
        self.end = np.zeros(n)  # horizon end (close)
        self.active = np.zeros(n, dtype=bool)  # slot in use and market priceable here
        self.has_state = np.zeros(n, dtype=bool)
        self.p_ref = np.zeros(n)
        self.tol = np.zeros(n)
        self.until = np.zeros(n)
        self.sigma = np.zeros(n)
        self.source: list[str | None] = [None] * n
        self.tickers: list[str | None] = [None] * n
        self.wakes = 0
        self.quiet = 0

    # ------------------------------------------------------------------ membership

    def _grow(self) -> None:
        n = len(self.end)
        for name in ("lnlo", "lnhi", "end", "active", "has_state", "p_ref", "tol", "until", "sigma"):
            arr = getattr(self, name)
            fill = {"lnhi": np.inf}.get(name, 0)
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
        if not isinstance(bounds, str) and end is not None:
            lo, hi = bounds
            self.lnlo[i] = math.log(lo) if lo is not None else -np.inf
            self.lnhi[i] = math.log(hi) if hi is not None else np.inf
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

    def publish(self, ticker: str, p_ref: float | None, tol: float, until: float, sigma: float | None,
                source: str | None) -> None:
        """A pricer's quiet state after an edge (``p_ref=None`` or ``tol<=0``: always wake)."""
        i = self.slot.get(ticker)
        if i is None:
            return
        ok = p_ref is not None and tol > 0 and sigma is not None and source is not None
        self.has_state[i] = ok
        if ok:
            self.p_ref[i] = p_ref
            self.tol[i] = tol
            self.until[i] = until
            self.sigma[i] = sigma
            self.source[i] = source

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
        t_eff = horizon - 2.0 * self.window_s / 3.0
        valid = self.active & self.has_state & (horizon > self.window_s + 1.0) & (u.ts < self.until)
        valid &= self.sigma == u.sigma
        if valid.any():
            s = u.sigma * np.sqrt(np.where(valid, t_eff, 1.0) / YEAR_S)
            x = math.log(u.price) - 0.5 * s * s
            with np.errstate(invalid="ignore", divide="ignore"):
                g_lo = np.where(np.isfinite(self.lnlo), ndtr((x - self.lnlo) / s), 1.0)
                g_hi = np.where(np.isfinite(self.lnhi), ndtr((x - self.lnhi) / s), 0.0)
            p = g_lo - g_hi
            valid &= np.abs(p - self.p_ref) < self.tol
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
