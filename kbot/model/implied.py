"""Implied volatility per event: the sigma at which the model best fits the market's mids.

For one event (one close time, one underlying) take the markets whose mid is informative (both
sides quoted, spread at most ``implied_max_spread``, mid inside ``[m, 1 - m]``: near 0 and 1 a
mid says more about the tick size than about volatility) and solve

    sigma* = argmin_sigma  sum_i w_i (P_i(sigma) - mid_i)^2,     w_i = 1 / max(spread_i, 0.01)^2

over ``[sigma_lo, sigma_hi]`` by bounded scalar minimization in log sigma (``P_i`` is the
settlement-aware model of ``kbot.model.prob``, with the tails ``nu`` of the probability model
that uses it: ``kbot.model.dist``). One informative market (a
KXBTC15M event) determines sigma exactly; a KXBTCD/KXBTC ladder gives a least-squares fit
whose RMSE says how well one sigma explains the whole smile.

Used as a volatility source of the probability model (the pricers share one book, fed with
every market's quote: ``observe``), for reporting and for the decision gate ``vol_divergence``
(model sigma far from what the market prices). Inside the settlement window the fit is not attempted (the observed partial
average is not on the edges; the window is too short for sigma to matter much there).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import Decimal

import attrs
import numpy as np
from scipy.optimize import minimize_scalar

from kbot.messages import Edge
from kbot.model.config import GateConfig
from kbot.model.dist import prob_ladder
from kbot.model.prob import strike_bounds


@attrs.frozen(slots=True)
class ImpliedFit:
    sigma: float
    rmse: float  # root mean square of (model - mid), unweighted
    n: int  # markets used
    at_bound: bool  # the optimum sits on the search bound (sigma outside the range)


def fit_implied_sigma(
    lo: np.ndarray,
    hi: np.ndarray,
    mids: np.ndarray,
    weights: np.ndarray,
    spot: float,
    horizon_s: float,
    *,
    window_s: float = 60.0,
    sigma_lo: float = 0.02,
    sigma_hi: float = 5.0,
    nu: float | None = None,
) -> ImpliedFit | None:
    """Best-fitting sigma for a ladder (bounds as in ``prob_between``), or None when there is
    nothing to fit or the inputs are invalid. ``nu``: Student-t tails (None: normal)."""
    if len(mids) == 0 or not (spot > 0 and horizon_s > 0 and horizon_s >= window_s):
        return None

    def loss(log_sigma: float) -> float:
        p = prob_ladder(lo, hi, spot, math.exp(log_sigma), horizon_s, nu=nu, window_s=window_s)
        return float(np.sum(weights * (p - mids) ** 2))

    a, b = math.log(sigma_lo), math.log(sigma_hi)
    res = minimize_scalar(loss, bounds=(a, b), method="bounded", options={"xatol": 1e-4})
    x = float(res.x)
    sigma = math.exp(x)
    if not math.isfinite(sigma):
        return None
    p = prob_ladder(lo, hi, spot, sigma, horizon_s, nu=nu, window_s=window_s)
    rmse = float(np.sqrt(np.mean((p - mids) ** 2)))
    at_bound = x - a < 1e-3 or b - x < 1e-3
    return ImpliedFit(sigma, rmse, len(mids), at_bound)


@attrs.frozen(slots=True)
class _Point:
    ts: float
    lo: float
    hi: float
    mid: float
    spread: float
    spot: float
    close_ts: float


class ImpliedVolBook:
    """Latest informative mid per market, grouped by event, with a cached fit per event."""

    def __init__(self, config: GateConfig, *, window_s: float = 60.0, sigma_lo: float = 0.02, sigma_hi: float = 5.0,
                 nu: float | None = None):
        self.config = config
        self.window_s = window_s
        self.sigma_lo = sigma_lo
        self.sigma_hi = sigma_hi
        self.nu = nu
        self.refresh_s = config.implied_refresh_s  # the decision actor raises it under a fast clock
        self._events: dict[str, dict[str, _Point]] = {}
        self._fits: dict[str, tuple[float, ImpliedFit | None]] = {}

    def update(self, edge: Edge) -> None:
        """Record an edge's mid (or forget the market's point when it is no longer informative)."""
        ok = "stale_quote" not in edge.reasons and "stale_spot" not in edge.reasons
        self.observe(edge.event_ticker, edge.ticker, edge.ts, edge.strike_type, edge.floor_strike, edge.cap_strike,
                     edge.yes_bid, edge.yes_ask, edge.spot, edge.close_ts, ok=ok)

    def observe(self, event_ticker: str, ticker: str, ts: float, strike_type: str | None, floor: float | None,
                cap: float | None, yes_bid: Decimal | None, yes_ask: Decimal | None, spot: float | None,
                close_ts: float | None, *, ok: bool = True) -> None:
        """Record one market's quote at ``ts`` (``ok=False``: stale inputs, forget its point)."""
        points = self._events.setdefault(event_ticker, {})
        point = self._point(ts, strike_type, floor, cap, yes_bid, yes_ask, spot, close_ts) if ok else None
        if point is None:
            points.pop(ticker, None)
        else:
            points[ticker] = point

    def _point(self, ts: float, strike_type: str | None, floor: float | None, cap: float | None,
               yes_bid: Decimal | None, yes_ask: Decimal | None, spot: float | None,
               close_ts: float | None) -> _Point | None:
        cfg = self.config
        if yes_bid is None or yes_ask is None or spot is None or close_ts is None:
            return None
        spread = yes_ask - yes_bid
        if spread < 0 or spread > cfg.implied_max_spread:
            return None
        mid = float(yes_bid + yes_ask) / 2.0
        if not cfg.implied_min_mid <= mid <= 1.0 - cfg.implied_min_mid:
            return None
        bounds = strike_bounds(strike_type, floor, cap)
        if isinstance(bounds, str):
            return None
        lo = 0.0 if bounds[0] is None else bounds[0]
        hi = math.inf if bounds[1] is None else bounds[1]
        return _Point(ts, lo, hi, mid, float(spread), spot, close_ts)

    def implied(self, event_ticker: str, now: float) -> ImpliedFit | None:
        """The event's fit, refitted once per ``refresh_s`` period of the clock (``implied_refresh_s``;
        the decision actor raises it under a fast clock). Periods are aligned on multiples of it, so
        when a refit happens does not drift with when the decision actor got to its edges: a replay
        of a recording refits at the same moments."""
        step = self.refresh_s
        period = math.floor(now / step) if step > 0 else now
        cached = self._fits.get(event_ticker)
        if cached is not None and cached[0] == period:
            return cached[1]
        fit = self._fit(event_ticker, now)
        self._fits[event_ticker] = (period, fit)
        return fit

    def _fit(self, event_ticker: str, now: float) -> ImpliedFit | None:
        points = self._events.get(event_ticker)
        if not points:
            return None
        fresh: Sequence[_Point] = [p for p in points.values() if now - p.ts <= self.config.implied_max_age_s]
        return self._fit_points(fresh, now)

    def _fit_points(self, fresh: Sequence[_Point], now: float) -> ImpliedFit | None:
        """The fit to these points at ``now`` (spot and close time of the newest one)."""
        if not fresh:
            return None
        latest = max(fresh, key=lambda p: p.ts)
        horizon = latest.close_ts - now
        lo = np.array([p.lo for p in fresh])
        hi = np.array([p.hi for p in fresh])
        mids = np.array([p.mid for p in fresh])
        weights = np.array([1.0 / max(p.spread, 0.01) ** 2 for p in fresh])
        return fit_implied_sigma(
            lo,
            hi,
            mids,
            weights,
            latest.spot,
            horizon,
            window_s=self.window_s,
            sigma_lo=self.sigma_lo,
            sigma_hi=self.sigma_hi,
            nu=self.nu,
        )

    def prune(self, now: float) -> None:
        """Forget events whose markets have all closed."""
        for ev in [ev for ev, pts in self._events.items() if all(p.close_ts <= now for p in pts.values())]:
            self._events.pop(ev, None)
            self._fits.pop(ev, None)


class PeriodStartImpliedBook(ImpliedVolBook):
    """An ``ImpliedVolBook`` whose fit for each ``refresh_s`` period is taken *as of the period's
    start*: from each market's newest point observed before it, with the horizon and the age
    limit at it. What the fit is no longer depends on which edges reached the book first within
    the period (how a decision actor's inbox happened to batch them), only on their event
    times: a replay of a recording gets the live run's fit.

    A point observed after its period's fit was taken (an edge priced before the period began,
    delivered after one priced within it) drops that fit, so the next request refits with it;
    ``late`` counts them. Each market keeps the points that fits of the current and the previous
    period can still need."""

    def __init__(self, config: GateConfig, *, window_s: float = 60.0, sigma_lo: float = 0.02, sigma_hi: float = 5.0,
                 nu: float | None = None):
        super().__init__(config, window_s=window_s, sigma_lo=sigma_lo, sigma_hi=sigma_hi, nu=nu)
        self._hist: dict[str, dict[str, list[tuple[float, _Point | None]]]] = {}
        self._period_fits: dict[str, dict[float, ImpliedFit | None]] = {}
        self.late = 0

    def _start(self, t: float) -> float:
        step = self.refresh_s
        return math.floor(t / step) * step if step > 0 else t

    def observe(self, event_ticker: str, ticker: str, ts: float, strike_type: str | None, floor: float | None,
                cap: float | None, yes_bid: Decimal | None, yes_ask: Decimal | None, spot: float | None,
                close_ts: float | None, *, ok: bool = True) -> None:
        point = self._point(ts, strike_type, floor, cap, yes_bid, yes_ask, spot, close_ts) if ok else None
        hist = self._hist.setdefault(event_ticker, {}).setdefault(ticker, [])
        i = len(hist)
        while i and hist[i - 1][0] > ts:
            i -= 1
        hist.insert(i, (ts, point))  # (None: the market is not informative from ts on)
        # keep the newest point before the previous period's start and everything after it
        keep_from = self._start(hist[-1][0]) - max(self.refresh_s, 0.0)
        k = 0
        while k + 1 < len(hist) and hist[k + 1][0] < keep_from:
            k += 1
        if k:
            del hist[:k]
        fits = self._period_fits.get(event_ticker)
        if fits:
            stale = [s for s in fits if ts < s]
            if stale:
                self.late += 1
                for s in stale:
                    del fits[s]

    def implied(self, event_ticker: str, now: float) -> ImpliedFit | None:
        """The fit of the period holding ``now``, as of the period's start (see the class doc)."""
        start = self._start(now)
        fits = self._period_fits.setdefault(event_ticker, {})
        if start in fits:
            return fits[start]
        fit = self._fit_as_of(event_ticker, start)
        fits[start] = fit
        for s in sorted(fits)[:-2]:  # the current and the previous period
            del fits[s]
        return fit

    def _fit_as_of(self, event_ticker: str, start: float) -> ImpliedFit | None:
        fresh: list[_Point] = []
        for _, hist in sorted(self._hist.get(event_ticker, {}).items()):  # (a fixed order: the same sums)
            before = [p for ts, p in hist if ts < start]
            p = before[-1] if before else None
            if p is not None and start - p.ts <= self.config.implied_max_age_s:
                fresh.append(p)
        return self._fit_points(fresh, start)

    def prune(self, now: float) -> None:
        """Forget events whose markets have all closed."""
        for ev, markets in list(self._hist.items()):
            if all(p is None or p.close_ts <= now for hist in markets.values() for _, p in hist):
                self._hist.pop(ev, None)
                self._period_fits.pop(ev, None)
        super().prune(now)
