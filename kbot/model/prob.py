r"""Settlement-aware probabilities for Kalshi's BTC contracts (pure functions).

Model
=====
Driftless geometric Brownian motion in log price, sigma annualized (year = 365.25 days):

    S_u = S_0 exp(sigma W_u - sigma^2 u / 2),   so E[S_u] = S_0 and
    ln(S_T / S_0) ~ N(-sigma^2 T / 2, sigma^2 T).

Kalshi settles every BTC market on the simple average of the index over the ``W = window_s``
seconds before close (60 one-second BRTI prints), not on the index at close:

    A = (1/W) * integral_{T-W}^{T} S_u du          (T = horizon_s, now = 0).

The distribution of an arithmetic average of GBM has no closed form. We use the standard
lognormal approximation (Levy 1992; Turnbull & Wakeman 1991): A is taken to be lognormal with
its exact mean and a log-variance ``v`` matched to the variance of the log of the average.

Before the window (T >= W)
--------------------------
E[A] = S_0 exactly (driftless). For the log-variance use the geometric average
(1/W) integral ln S_u du, whose variance is exact:

    Var = sigma^2 [ (T - W) + W/3 ] = sigma^2 (T - 2W/3)

because the Brownian path up to the window start contributes its full variance T - W and the
average of a Brownian motion over an interval of length W has variance W/3. This is also the
first-order term of exact moment matching: E[A^2]/S_0^2 = e^{s(T-W)} 2(e^b - 1 - b)/b^2 with
s = sigma^2, b = sW, and ln(2(e^b - 1 - b)/b^2) = b/3 + O(b^2). For BTC (sigma ~ 0.5, W = 60 s,
b ~ 5e-7) the neglected terms are ~1e-13 in log-variance: far below anything that matters. So

    ln A ~ N(ln S_0 - v/2, v),   v = sigma^2 (T - 2W/3) / YEAR,

i.e. plain GBM pricing at the *effective time* T - 2W/3.

Inside the window (0 < T < W)
-----------------------------
Let e = W - T be the elapsed part of the window. Of it, ``observed_s`` = o seconds are known
with mean ``observed_avg`` = Abar (the running partial average); the rest u = e - o (a gap, or
all of it when nothing was observed) lies between the observed part and now. Then

    W * A = o * Abar + u * G + T * B

where G is the (unknown) average over the unobserved past gap and B the average over the
remaining future. Given S_0 (now), the gap is a Brownian path run backwards from now and the
future one run forwards: independent, each averaging to S_0 in expectation, with relative
variances sigma^2 u/3 and sigma^2 T/3. Their weighted sum Y = u G + T B is approximated as
lognormal with mean (u + T) S_0 and relative log-variance

    v = sigma^2 (u^3 + T^3) / (3 (u + T)^2) / YEAR.

The settlement condition A >= K becomes Y/(u+T) >= K_eff with

    K_eff = (W K - o Abar) / (u + T).

When K_eff <= 0 the condition already holds for every path (the observed part alone clears
the strike): P = 1. With everything observed (u = 0) this is exactly "price only the remaining
part": v = sigma^2 T/3, K_eff = (W K - o Abar)/T.

Continuity at the boundary T = W (e = 0): both branches give v = sigma^2 W/3 and K_eff = K.
Limit T -> 0 with the window observed: v -> 0 and K_eff -> +/-inf according to the sign of
Abar - K, so P -> 1{Abar >= K} (the settlement value is known). With ``window_s = 0`` the
model is plain GBM at the close.

Probability of a strike
-----------------------
With G(K) = P(A >= K) = Phi((ln(S_0 / K_eff) - v/2) / sqrt(v)) (and G(no lower bound) = 1,
G(no upper bound) = 0):

    greater, greater_or_equal:  P = G(floor)              (continuous: > and >= coincide)
    less, less_or_equal:        P = 1 - G(cap)
    between:                    P = G(floor) - G(cap)

so brackets that tile the line telescope to exactly 1. ``Phi`` is ``scipy.special.ndtr`` on
arrays (the ladder functions) and ``0.5 * erfc(-x / sqrt 2)`` for one strike (the same
function, without numpy's per-call overhead).

Invalid inputs never raise: they give ``None`` (scalar) or NaN (ladder) with a reason code:
``invalid_spot``, ``invalid_sigma``, ``invalid_horizon``, ``invalid_window``,
``unsupported_strike_type``, ``missing_bounds``, ``invalid_strike``, ``invalid_observed_avg``,
``invalid_observed_s``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.special import ndtr

YEAR_S = 365.25 * 86400.0
STRIKE_TYPES = frozenset({"greater", "greater_or_equal", "less", "less_or_equal", "between"})
# observed_s may exceed the elapsed part of the window by this much (one-second grid rounding).
OBSERVED_SLACK_S = 1.0
_SQRT2 = math.sqrt(2.0)


def _finite(x: Any) -> float | None:
    """``x`` as a finite float, or None (None, NaN, inf, non-numbers)."""
    if x is None or isinstance(x, bool):
        return None
    try:
        f = float(x)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def strike_bounds(strike_type: Any, floor: Any, cap: Any) -> tuple[float | None, float | None] | str:
    """The settlement interval ``[lo, hi]`` of a market (None = unbounded), or a reason code.
    Bounds come only from ``strike_type``/``floor_strike``/``cap_strike``, never from tickers."""
    if strike_type not in STRIKE_TYPES:
        return "unsupported_strike_type"
    lo = hi = None
    if strike_type in ("greater", "greater_or_equal", "between"):
        if floor is None:
            return "missing_bounds"
        lo = _finite(floor)
        if lo is None or lo <= 0:
            return "invalid_strike"
    if strike_type in ("less", "less_or_equal", "between"):
        if cap is None:
            return "missing_bounds"
        hi = _finite(cap)
        if hi is None or hi <= 0:
            return "invalid_strike"
    if lo is not None and hi is not None and lo > hi:
        return "invalid_strike"
    return lo, hi


def settlement_params(
    spot: Any,
    sigma: Any,
    horizon_s: Any,
    *,
    window_s: Any = 60.0,
    observed_avg: Any = None,
    observed_s: Any = 0.0,
) -> tuple[float, float, float, float] | str:
    """``(spot, a, b, v)`` such that P(settlement >= K) = Phi((ln(spot/(aK - b)) - v/2)/sqrt v)
    with 1 where aK - b <= 0 (see the module docstring), or a reason code."""
    s0 = _finite(spot)
    if s0 is None or s0 <= 0:
        return "invalid_spot"
    sig = _finite(sigma)
    if sig is None or sig <= 0:
        return "invalid_sigma"
    t = _finite(horizon_s)
    if t is None or t <= 0:
        return "invalid_horizon"
    w = _finite(window_s)
    if w is None or w < 0:
        return "invalid_window"
    var_rate = sig * sig / YEAR_S  # per second
    if t >= w:
        return s0, 1.0, 0.0, var_rate * (t - 2.0 * w / 3.0)
    elapsed = w - t
    o = _finite(observed_s) if observed_avg is not None else 0.0
    if o is None or o < 0 or o > elapsed + OBSERVED_SLACK_S:
        return "invalid_observed_s"
    o = min(o, elapsed)
    abar = 0.0
    if o > 0:
        abar_f = _finite(observed_avg)
        if abar_f is None or abar_f <= 0:
            return "invalid_observed_avg"
        abar = abar_f
    u = elapsed - o
    rest = u + t
    v = var_rate * (u**3 + t**3) / (3.0 * rest * rest)
    return s0, w / rest, o * abar / rest, v


def _ge_scalar(k: float, s0: float, a: float, b: float, sd: float) -> float:
    """P(settlement >= k) for one strike."""
    k_eff = a * k - b
    if k_eff <= 0:
        return 1.0
    d = (math.log(s0 / k_eff) - 0.5 * sd * sd) / sd
    return 0.5 * math.erfc(-d / _SQRT2)


def prob_yes_reason(
    strike_type: Any,
    floor: Any,
    cap: Any,
    spot: Any,
    sigma: Any,
    horizon_s: Any,
    *,
    window_s: Any = 60.0,
    observed_avg: Any = None,
    observed_s: Any = 0.0,
) -> tuple[float | None, str | None]:
    """``(probability, None)`` or ``(None, reason)``; never raises. See ``prob_yes``."""
    bounds = strike_bounds(strike_type, floor, cap)
    if isinstance(bounds, str):
        return None, bounds
    params = settlement_params(
        spot, sigma, horizon_s, window_s=window_s, observed_avg=observed_avg, observed_s=observed_s
    )
    if isinstance(params, str):
        return None, params
    s0, a, b, v = params
    sd = math.sqrt(v)
    lo, hi = bounds
    p = (1.0 if lo is None else _ge_scalar(lo, s0, a, b, sd)) - (0.0 if hi is None else _ge_scalar(hi, s0, a, b, sd))
    return min(1.0, max(0.0, p)), None


def prob_yes(
    strike_type: str | None,
    floor: float | None,
    cap: float | None,
    spot: float,
    sigma: float,
    horizon_s: float,
    *,
    window_s: float = 60.0,
    observed_avg: float | None = None,
    observed_s: float = 0.0,
) -> float | None:
    """The probability that a Kalshi BTC market settles YES.

    ``strike_type``: Kalshi's string (``greater``, ``greater_or_equal``, ``less``,
    ``less_or_equal``, ``between``; anything else -> None). ``floor``/``cap``: the market's
    strikes (None where Kalshi gives none). ``spot``: the current index level. ``sigma``:
    annualized volatility (year = 365.25 days). ``horizon_s``: seconds until ``close_time``.
    The settlement value is the mean of the index over the last ``window_s`` seconds before
    close; inside that window ``observed_avg`` is the mean over the ``observed_s`` seconds of it
    already elapsed (omit it and the elapsed part is treated as unknown). Returns None on
    invalid input (``prob_yes_reason`` says why). The maths are in the module docstring.
    """
    return prob_yes_reason(
        strike_type,
        floor,
        cap,
        spot,
        sigma,
        horizon_s,
        window_s=window_s,
        observed_avg=observed_avg,
        observed_s=observed_s,
    )[0]


# ----------------------------------------------------------------------------- ladders


def ladder_bounds(
    strike_types: Sequence[Any], floors: Sequence[Any], caps: Sequence[Any]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Arrays ``(lo, hi, valid)`` for a ladder of markets: ``lo = 0`` when there is no lower
    bound, ``hi = inf`` when there is no upper bound, ``valid`` False where the market's
    bounds are unusable (its probability comes out NaN). Compute once per event, reuse."""
    n = len(strike_types)
    lo = np.zeros(n)
    hi = np.full(n, np.inf)
    valid = np.ones(n, dtype=bool)
    for i, (st, f, c) in enumerate(zip(strike_types, floors, caps, strict=True)):
        b = strike_bounds(st, f, c)
        if isinstance(b, str):
            valid[i] = False
            continue
        if b[0] is not None:
            lo[i] = b[0]
        if b[1] is not None:
            hi[i] = b[1]
    return lo, hi, valid


def prob_between(
    lo: np.ndarray,
    hi: np.ndarray,
    spot: float,
    sigma: float,
    horizon_s: float,
    *,
    window_s: float = 60.0,
    observed_avg: float | None = None,
    observed_s: float = 0.0,
    valid: np.ndarray | None = None,
) -> np.ndarray:
    """P(lo <= settlement <= hi) for arrays of bounds (``lo = 0``: no lower bound, ``hi = inf``:
    no upper bound), vectorized with ``ndtr``. All NaN on invalid model inputs; NaN where
    ``valid`` is False. The fast path for a ladder whose bounds were prepared once."""
    params = settlement_params(
        spot, sigma, horizon_s, window_s=window_s, observed_avg=observed_avg, observed_s=observed_s
    )
    if isinstance(params, str):
        return np.full(np.shape(lo), np.nan)
    s0, a, b, v = params
    sd = math.sqrt(v)
    k = np.concatenate((lo, hi))
    k_eff = a * k - b
    with np.errstate(divide="ignore", invalid="ignore"):
        # k_eff <= 0 -> log(+inf) -> Phi(+inf) = 1; k = inf -> Phi(-inf) = 0.
        d = (np.log(s0 / np.where(k_eff > 0, k_eff, 0.0)) - 0.5 * v) / sd
    g = ndtr(d)
    n = len(lo)
    p = np.clip(g[:n] - g[n:], 0.0, 1.0)
    if valid is not None:
        p = np.where(valid, p, np.nan)
    return p


def prob_yes_ladder(
    strike_types: Sequence[Any] | str,
    floors: Sequence[Any],
    caps: Sequence[Any],
    spot: float,
    sigma: float,
    horizon_s: float,
    *,
    window_s: float = 60.0,
    observed_avg: float | None = None,
    observed_s: float = 0.0,
) -> np.ndarray:
    """``prob_yes`` over a ladder of markets of one event (same close, spot and sigma).
    ``strike_types`` is one string for the whole ladder or one per market. NaN marks a market
    (or, for invalid model inputs, every market) without a probability."""
    if isinstance(strike_types, str):
        strike_types = [strike_types] * len(floors)
    lo, hi, valid = ladder_bounds(strike_types, floors, caps)
    return prob_between(
        lo,
        hi,
        spot,
        sigma,
        horizon_s,
        window_s=window_s,
        observed_avg=observed_avg,
        observed_s=observed_s,
        valid=valid,
    )
