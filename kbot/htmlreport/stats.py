"""The report's arithmetic (pure): drawdown, reliability intervals, percentiles, thinning.

Money stays ``Decimal`` (equity and drawdown are exact); probabilities and latencies are floats.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import Decimal

import attrs
import numpy as np

Z95 = 1.959963984540054  # two-sided 95 %


@attrs.frozen(kw_only=True)
class Drawdown:
    """Equity below its running peak: per point (<= 0), and the worst, with when it happened."""

    series: tuple[Decimal, ...]  # equity - running max, per point
    max_dd: Decimal  # the most negative value (0 when equity never fell)
    max_dd_frac: float  # max_dd / the peak it fell from (0 when no drawdown)
    peak_ts: float | None  # the peak before the worst drawdown
    trough_ts: float | None


def drawdown(ts: Sequence[float], equity: Sequence[Decimal]) -> Drawdown:
    peak = None
    peak_at = None
    out: list[Decimal] = []
    worst, worst_peak, worst_peak_ts, worst_ts = Decimal(0), None, None, None
    for t, e in zip(ts, equity, strict=True):
        if peak is None or e > peak:
            peak, peak_at = e, t
        dd = e - peak
        out.append(dd)
        if dd < worst:
            worst, worst_peak, worst_peak_ts, worst_ts = dd, peak, peak_at, t
    frac = float(worst / worst_peak) if worst_peak else 0.0
    return Drawdown(series=tuple(out), max_dd=worst, max_dd_frac=frac, peak_ts=worst_peak_ts, trough_ts=worst_ts)


def wilson(successes: float, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a proportion (for a reliability bin's observed frequency)."""
    if n <= 0:
        return (0.0, 1.0)
    p = successes / n
    denom = 1 + z * z / n
    center = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(max(0.0, p * (1 - p)) / n + z * z / (4 * n * n)) / denom
    # the interval contains p; rounding must not push a bound past it (p = 0 or 1)
    return (max(0.0, min(p, center - half)), min(1.0, max(p, center + half)))


def percentiles(xs: Sequence[float], qs: Sequence[float] = (50, 90, 99)) -> tuple[float, ...]:
    """Percentiles (``numpy.percentile``, linear); NaNs when empty."""
    if not xs:
        return tuple(math.nan for _ in qs)
    return tuple(float(v) for v in np.percentile(np.asarray(xs, dtype=float), qs))


def thin(n: int, keep: int, must: Sequence[int] = ()) -> list[int]:
    """Indices of about ``keep`` points spread evenly over ``n`` (first and last kept), plus
    ``must`` (e.g. the trough of the worst drawdown): a figure a thousand pixels wide gains
    nothing from a million points."""
    if n <= keep:
        return list(range(n))
    step = (n - 1) / (keep - 1)
    return sorted({round(i * step) for i in range(keep)} | {i for i in must if 0 <= i < n})
