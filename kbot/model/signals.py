"""The signals of the systems kbot descends from, each a small pure function (no I/O, no clock).

Every signal is a number known at decision time, ``None`` when its inputs are missing (a
missing signal contributes nothing: the blend treats it as 0). Units are chosen so that one
coefficient of the calibrated blend (``kbot.model.blend``) has a plain meaning:

- ``momentum(zs)``: recent returns agree. ``zs`` are the moves over a few lookbacks in
  standard deviations (``PriceHistory.move_z``); when all available ones have the same sign,
  their mean (clipped to +-``clip``), else 0. Directional, in sigma units.
- ``mean_reversion(z)``: the z-score of the move over a longer lookback, sign flipped
  (``-clip(z)``): a large move up predicts some give-back if the signal earns a positive
  coefficient. Directional, in sigma units.
- ``book_imbalance(yes_depth, no_depth)``: ``(Y - N) / (Y + N)`` of the displayed depth near
  the touch: YES bids (buyers of YES) against NO bids (buyers of NO, i.e. the YES asks), in
  [-1, 1]; None without depth on either side or below ``min_depth`` in total. Per market, in
  logit units of that market.
- ``vol_regime(rv_short, rv_long)``: -1 (low), 0 (medium), +1 (high) by the ratio of short-
  to long-horizon realized volatility against ``low``/``high``. It scales how far the blend
  moves from the market toward the model (see the blend).
- ``funding_signal(rate)``: the BTC perpetual funding rate (Binance USD-M, per 8 h) against
  its usual level: ``(rate - neutral) / scale``, clipped. Positive: longs pay more than usual
  (crowded longs). Directional, in sigma units.

``spot_signals`` assembles the market-wide ones from a ``PriceHistory`` and the latest funding
rate; the spot index actor and ``kbot evaluate`` both call it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from kbot.messages import SpotSignals
from kbot.model.config import SignalConfig
from kbot.model.history import PriceHistory


def _clip(x: float, c: float) -> float:
    return max(-c, min(c, x))


def momentum(zs: Sequence[float | None], clip: float = 3.0) -> float | None:
    vals = [z for z in zs if z is not None and math.isfinite(z)]
    if not vals:
        return None
    if all(z > 0 for z in vals) or all(z < 0 for z in vals):
        return _clip(sum(vals) / len(vals), clip)
    return 0.0


def mean_reversion(z: float | None, clip: float = 3.0) -> float | None:
    if z is None or not math.isfinite(z):
        return None
    return -_clip(z, clip)


def book_imbalance(yes_depth: float | None, no_depth: float | None, min_depth: float = 1.0) -> float | None:
    if yes_depth is None or no_depth is None:
        return None
    y, n = float(yes_depth), float(no_depth)
    if not (math.isfinite(y) and math.isfinite(n)) or y < 0 or n < 0 or y + n < min_depth or y + n <= 0:
        return None
    return (y - n) / (y + n)


def vol_regime(rv_short: float | None, rv_long: float | None, low: float = 0.75, high: float = 1.33) -> int | None:
    if rv_short is None or rv_long is None or not rv_long > 0 or not math.isfinite(rv_short):
        return None
    ratio = rv_short / rv_long
    if ratio < low:
        return -1
    if ratio > high:
        return 1
    return 0


def funding_signal(rate: float | None, neutral: float = 0.0001, scale: float = 0.0002, clip: float = 3.0) -> float | None:
    if rate is None or not math.isfinite(rate) or not scale > 0:
        return None
    return _clip((rate - neutral) / scale, clip)


def spot_signals(
    history: PriceHistory,
    now: float,
    cfg: SignalConfig,
    *,
    funding_rate: float | None = None,
    funding_ts: float | None = None,
    seq: int = 0,
) -> SpotSignals:
    """The market-wide features at ``now``: realized volatility at ``cfg.rv_horizons_s``,
    momentum, mean reversion, volatility regime and the funding signal (a funding rate older
    than ``cfg.funding_max_age_s`` is not used)."""
    rv = tuple(history.rv(h, now) for h in cfg.rv_horizons_s)
    ref = next((s for s in reversed(rv) if s is not None), None)  # longest available horizon
    mom = momentum([history.move_z(lb, now, ref) for lb in cfg.momentum_lookbacks_s], cfg.z_clip)
    mr = mean_reversion(history.move_z(cfg.mean_reversion_lookback_s, now, ref), cfg.z_clip)
    regime = vol_regime(rv[0], rv[-1], cfg.vol_regime_low, cfg.vol_regime_high)
    fresh = funding_rate is not None and funding_ts is not None and now - funding_ts <= cfg.funding_max_age_s
    rate = funding_rate if fresh else None
    return SpotSignals(
        ts=now,
        rv=rv,
        momentum=mom,
        mean_reversion=mr,
        vol_regime=regime,
        funding_rate=rate,
        funding=funding_signal(rate, cfg.funding_neutral, cfg.funding_scale, cfg.z_clip),
        seq=seq,
    )
