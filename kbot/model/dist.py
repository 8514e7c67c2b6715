r"""Settlement distributions with a choice of tails (pure functions).

``kbot.model.prob`` prices a contract under driftless GBM: the log of the settlement value
(the 60 s average, handled there by an effective time and strike) is normal,

    ln A = ln S_0 - v/2 + sqrt(v) * e,      e ~ N(0, 1),

with ``v`` and the effective strike from ``prob.settlement_params``. Real BTC log returns over
minutes to hours have fatter tails than a normal. This module keeps the same placement and
variance and lets ``e`` be a *standardized Student-t* with ``nu`` degrees of freedom (unit
variance: ``e = T * sqrt((nu - 2) / nu)``, ``T`` a plain t variate, ``nu > 2``); ``nu=None`` is
the normal, i.e. exactly ``prob``. So for one strike

    P(A >= K) = 1 - F(d),   d = (ln K_eff - ln S_0 + v/2) / sqrt(v),

``F`` the standardized t cdf, and brackets telescope as in ``prob``. (The t has no moment
generating function, so "driftless" cannot mean E[A] = S_0 here; the placement keeps the
GBM's median, which is what matters for the probabilities of strikes near the money.)

``slope``: the derivative of a contract's probability with respect to a shift of the location
by ``delta * sqrt(v)`` (one standard deviation of the log settlement value per unit):

    dP/d delta = f(d_lo) - f(d_hi)     (f the standardized density; 0 for a missing bound)

Directional signals enter the calibrated blend through it (``kbot.model.blend``): a signal that
moves the expected log price by ``delta`` standard deviations moves each contract's
probability by ``slope * delta`` to first order, so one coefficient serves a whole ladder.

Which ``nu`` (or the normal) is chosen by out-of-sample score (``kbot model fit``), not by
taste; the choice travels in the blend parameters.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy.special import cython_special, ndtr, stdtr

from kbot.model.prob import settlement_params, strike_bounds

# The scalar t cdf for ``Tail.sf``: scipy's typed entry point to the same routine as the ``stdtr``
# ufunc (identical results; ~0.2 us a call instead of ~0.6 us for the ufunc's dispatch on
# Python floats, and a pricer's edge and quiet band make 10-20 such calls).
_stdtr_scalar = cython_special.stdtr

_SQRT2 = math.sqrt(2.0)
_INV_SQRT2PI = 1.0 / math.sqrt(2.0 * math.pi)


# Array evaluations of the t survival function (the implied-volatility fit: hundreds of strikes,
# tens of iterations) interpolate a table of it on [-GRID, GRID] (step GRID_STEP): stdtr is ~20x
# slower than ndtr and the table's linear interpolation error is below 1e-5. Scalars (every
# edge) stay exact.
GRID = 40.0
GRID_STEP = 0.004


class Tail:
    """The standardized (unit variance) distribution of ``e``: normal (``nu=None``) or Student-t."""

    __slots__ = ("_c", "_grid", "_logk", "_table", "nu")

    def __init__(self, nu: float | None) -> None:
        if nu is not None and not (math.isfinite(nu) and nu > 2.0):
            raise ValueError(f"Student-t tails need nu > 2 (finite variance), got {nu!r}")
        self.nu = nu
        if nu is None:
            self._c = 1.0
            self._logk = 0.0
        else:
            self._c = math.sqrt(nu / (nu - 2.0))  # e = T / c
            self._logk = math.lgamma((nu + 1.0) / 2.0) - math.lgamma(nu / 2.0) - 0.5 * math.log(nu * math.pi)
        self._grid: np.ndarray | None = None
        self._table: np.ndarray | None = None

    def sf(self, d: float) -> float:
        """P(e >= d)."""
        if self.nu is None:
            return 0.5 * math.erfc(d / _SQRT2)
        return float(_stdtr_scalar(self.nu, -d * self._c))

    def pdf(self, d: float) -> float:
        if self.nu is None:
            return _INV_SQRT2PI * math.exp(-0.5 * d * d)
        t = d * self._c
        return self._c * math.exp(self._logk - 0.5 * (self.nu + 1.0) * math.log1p(t * t / self.nu))

    def sf_array(self, d: np.ndarray) -> np.ndarray:
        if self.nu is None:
            return np.asarray(ndtr(-d))
        if self._grid is None:
            n = int(round(2 * GRID / GRID_STEP)) + 1
            self._grid = np.linspace(-GRID, GRID, n)
            self._table = np.asarray(stdtr(self.nu, -self._grid * self._c))
        assert self._table is not None
        out = np.interp(d, self._grid, self._table)  # beyond the table: its ends (~0 and ~1)
        return np.where(np.isposinf(d), 0.0, np.where(np.isneginf(d), 1.0, out))  # no bound: exactly

    @property
    def name(self) -> str:
        return "normal" if self.nu is None else f"t{self.nu:g}"


_TAILS: dict[float | None, Tail] = {}


def tail(nu: float | None) -> Tail:
    """A cached ``Tail`` (they are immutable)."""
    t = _TAILS.get(nu)
    if t is None:
        t = _TAILS[nu] = Tail(nu)
    return t


def prob_slope_reason(
    strike_type: Any,
    floor: Any,
    cap: Any,
    spot: Any,
    sigma: Any,
    horizon_s: Any,
    *,
    nu: float | None = None,
    window_s: Any = 60.0,
    observed_avg: Any = None,
    observed_s: Any = 0.0,
) -> tuple[float | None, float, str | None]:
    """``(probability, slope, None)`` or ``(None, 0.0, reason)``; never raises. With ``nu=None``
    the probability equals ``prob.prob_yes_reason`` (same settlement rule, same reasons)."""
    bounds = strike_bounds(strike_type, floor, cap)
    if isinstance(bounds, str):
        return None, 0.0, bounds
    params = settlement_params(
        spot, sigma, horizon_s, window_s=window_s, observed_avg=observed_avg, observed_s=observed_s
    )
    if isinstance(params, str):
        return None, 0.0, params
    s0, a, b, v = params
    sd = math.sqrt(v)
    tl = tail(nu)
    lo, hi = bounds

    def ge(k: float | None) -> tuple[float, float]:
        """(P(A >= k), density term at k) with the conventions of a missing bound."""
        if k is None:
            return 1.0, 0.0
        k_eff = a * k - b
        if k_eff <= 0:
            return 1.0, 0.0  # the observed part of the window already clears the strike
        d = (math.log(k_eff / s0) + 0.5 * v) / sd
        return tl.sf(d), tl.pdf(d)

    g_lo, f_lo = ge(lo)
    if hi is None:
        g_hi, f_hi = 0.0, 0.0
    else:
        g_hi, f_hi = ge(hi)
    p = min(1.0, max(0.0, g_lo - g_hi))
    return p, f_lo - f_hi, None


def prob_ladder(
    lo: np.ndarray,
    hi: np.ndarray,
    spot: float,
    sigma: float,
    horizon_s: float,
    *,
    nu: float | None = None,
    window_s: float = 60.0,
    valid: np.ndarray | None = None,
) -> np.ndarray:
    """``P(lo <= A <= hi)`` for arrays of bounds (``lo = 0``: none; ``hi = inf``: none), before
    the settlement window (the implied-volatility fit's fast path). NaN on invalid inputs."""
    params = settlement_params(spot, sigma, horizon_s, window_s=window_s)
    if isinstance(params, str):
        return np.full(np.shape(lo), np.nan)
    s0, a, b, v = params
    sd = math.sqrt(v)
    k = np.concatenate((lo, hi)) * a - b
    with np.errstate(divide="ignore", invalid="ignore"):
        d = (np.log(np.where(k > 0, k, 0.0) / s0) + 0.5 * v) / sd  # k <= 0 -> -inf -> sf = 1
    g = tail(nu).sf_array(d)
    n = len(lo)
    p = np.clip(g[:n] - g[n:], 0.0, 1.0)
    if valid is not None:
        p = np.where(valid, p, np.nan)
    return p
