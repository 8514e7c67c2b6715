"""Volatility: EWMA of log returns on a regular time grid, with guardrails and fallbacks.

Why a grid: per-tick returns of exchange prints are dominated by bid/ask bounce and by how
often a venue happens to publish; the variance *rate* (per second) of returns sampled every
``sample_interval_s`` is a stable estimate of the diffusion, whatever the tick rate. The
estimator stores that rate, so its state survives a change of grid step.

Update for a return r over dt seconds (dt is the grid step, longer after a missed sample):

    lambda = 0.5 ** (dt / halflife_s)
    rate   = lambda * rate + (1 - lambda) * r^2 / dt      (normalized by the total weight
    sigma  = sqrt(rate * YEAR_S)                            so the first returns are not
                                                            biased; 365.25-day year)

No return is taken across a gap longer than ``max_gap_s`` (the index was stale or the process
restarted): the estimator re-anchors on the next sample. A return beyond ``clip_sigmas``
current standard deviations is clipped to that size (a single bad print must not inflate the
variance for hours; a real move still raises it quickly over the following samples).

``estimate(now)`` returns the sigma to price with and where it came from:

- ``ewma``: at least ``min_samples`` returns and the EWMA sigma passes the guardrails
  (finite, > 0, within ``[sigma_min, sigma_max]``);
- ``fallback_last``: otherwise the last EWMA sigma that passed, if at most
  ``fallback_max_age_s`` old (persisted across restarts through ``to_state``/``from_state``);
- ``default``: otherwise ``sigma_default``.

The reason (``warming_up``, ``ewma_nonfinite``, ``ewma_nonpositive``, ``ewma_below_min``,
``ewma_above_max``, ``no_data``; plus ``; last_good_too_old``) travels with every price.

``RealizedVol`` is a diagnostic: the plain root-mean-square of the same grid returns over two
trailing horizons, annualized.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any

import attrs

from kbot.model.config import VolConfig
from kbot.model.prob import YEAR_S

EWMA = "ewma"
FALLBACK_LAST = "fallback_last"
DEFAULT = "default"


@attrs.frozen(slots=True)
class SigmaEstimate:
    sigma: float
    source: str  # ewma | fallback_last | default
    reason: str | None  # why not ewma (None when source is ewma)
    ewma_sigma: float | None  # the raw EWMA value, guarded or not (diagnostics)
    n: int  # returns in the EWMA


def _finite_pos(x: Any) -> float | None:
    try:
        f = float(x)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) and f > 0 else None


class EwmaVol:
    def __init__(self, config: VolConfig) -> None:
        self.config = config
        self.rate: float | None = None  # variance of log returns per second
        self.weight = 0.0  # total EWMA weight so far (1 - prod lambda): normalizes the start
        self.n = 0
        self.anchor_ts: float | None = None
        self.anchor_px: float | None = None
        self.last_good: float | None = None
        self.last_good_ts: float | None = None
        self.clipped = 0
        self.rejected_samples = 0

    # ------------------------------------------------------------------ updates

    def add_sample(self, ts: float, price: float) -> tuple[float, float] | None:
        """A grid sample of the index. Returns ``(log return, dt)`` it produced (after
        clipping), or None (first sample, gap, bad input)."""
        px = _finite_pos(price)
        if px is None or not math.isfinite(ts):
            self.rejected_samples += 1
            return None
        prev_ts, prev_px = self.anchor_ts, self.anchor_px
        if prev_ts is not None and ts <= prev_ts:
            self.rejected_samples += 1
            return None
        self.anchor_ts, self.anchor_px = ts, px
        if prev_ts is None or prev_px is None or ts - prev_ts > self.config.max_gap_s:
            return None
        dt = ts - prev_ts
        r = math.log(px / prev_px)
        cfg = self.config
        if self.rate is not None and cfg.clip_sigmas > 0 and self.n >= cfg.min_samples:
            bound = cfg.clip_sigmas * math.sqrt(self.rate * dt)
            if abs(r) > bound:
                r = math.copysign(bound, r)
                self.clipped += 1
        lam = 0.5 ** (dt / cfg.halflife_s)
        inst = r * r / dt
        # Normalized EWMA (weights sum to one from the first return on): no start-up bias
        # toward the first return, whatever the half-life.
        w = lam * self.weight + (1.0 - lam)
        prev = self.rate if self.rate is not None else 0.0
        self.rate = (lam * self.weight * prev + (1.0 - lam) * inst) / w
        self.weight = w
        self.n += 1
        sigma = self.raw_sigma()
        if self.n >= cfg.min_samples and self._guard(sigma) is None:
            self.last_good, self.last_good_ts = sigma, ts
        return r, dt

    def raw_sigma(self) -> float | None:
        if self.rate is None:
            return None
        try:
            return math.sqrt(self.rate * YEAR_S)
        except ValueError:  # negative rate cannot happen, but never raise here
            return float("nan")

    def _guard(self, sigma: float | None) -> str | None:
        cfg = self.config
        if sigma is None:
            return "no_data"
        if not math.isfinite(sigma):
            return "ewma_nonfinite"
        if sigma <= 0:
            return "ewma_nonpositive"
        if sigma < cfg.sigma_min:
            return "ewma_below_min"
        if sigma > cfg.sigma_max:
            return "ewma_above_max"
        return None

    # ------------------------------------------------------------------ the price's sigma

    def estimate(self, now: float) -> SigmaEstimate:
        cfg = self.config
        raw = self.raw_sigma()
        if self.n >= cfg.min_samples:
            reason = self._guard(raw)
            if reason is None:
                assert raw is not None
                return SigmaEstimate(raw, EWMA, None, raw, self.n)
        else:
            reason = "warming_up" if self.n else "no_data"
        if self.last_good is not None and self.last_good_ts is not None:
            if now - self.last_good_ts <= cfg.fallback_max_age_s:
                return SigmaEstimate(self.last_good, FALLBACK_LAST, reason, raw, self.n)
            reason += "; last_good_too_old"
        return SigmaEstimate(cfg.sigma_default, DEFAULT, reason, raw, self.n)

    # ------------------------------------------------------------------ persistence

    def to_state(self) -> dict[str, Any]:
        """A JSON-safe snapshot (non-finite values are dropped, never persisted)."""
        rate = self.rate if self.rate is not None and math.isfinite(self.rate) else None
        return {
            "version": 1,
            "rate": rate,
            "weight": self.weight,
            "n": self.n,
            "anchor_ts": self.anchor_ts,
            "last_good": self.last_good,
            "last_good_ts": self.last_good_ts,
        }

    @classmethod
    def from_state(cls, config: VolConfig, state: dict[str, Any] | None, now: float) -> EwmaVol:
        """Restore a persisted estimator. The EWMA itself is resumed only when the state is at
        most ``resume_max_age_s`` old (else it starts again, warm-up included); the last good
        sigma is kept as the fallback either way (``estimate`` applies its age limit). Values
        that fail validation are ignored, never trusted."""
        vol = cls(config)
        if not isinstance(state, dict):
            return vol
        good = _finite_pos(state.get("last_good"))
        good_ts = state.get("last_good_ts")
        if (
            good is not None
            and isinstance(good_ts, (int, float))
            and math.isfinite(good_ts)
            and vol._guard(good) is None
        ):
            vol.last_good, vol.last_good_ts = good, float(good_ts)
        rate = _finite_pos(state.get("rate"))
        anchor_ts = state.get("anchor_ts")
        n = state.get("n")
        if (
            rate is not None
            and isinstance(n, int)
            and n >= 0
            and isinstance(anchor_ts, (int, float))
            and 0 <= now - anchor_ts <= config.resume_max_age_s
        ):
            weight = state.get("weight")
            vol.rate, vol.n = rate, n
            vol.weight = float(weight) if isinstance(weight, (int, float)) and 0 < weight <= 1 else 1.0
        return vol


class RealizedVol:
    """Root-mean-square of grid log returns over trailing horizons, annualized. A horizon
    less than half covered by returns reports None."""

    def __init__(self, horizons_s: tuple[float, ...]) -> None:
        self.horizons_s = tuple(horizons_s)
        self._keep = max(self.horizons_s)
        self._ret: deque[tuple[float, float, float]] = deque()  # (ts, r^2, dt)

    def add(self, ts: float, r: float, dt: float) -> None:
        self._ret.append((ts, r * r, dt))
        cutoff = ts - self._keep
        while self._ret and self._ret[0][0] <= cutoff:
            self._ret.popleft()

    def sigma(self, horizon_s: float, now: float) -> float | None:
        cutoff = now - horizon_s
        ss = 0.0
        tt = 0.0
        for ts, r2, dt in reversed(self._ret):
            if ts <= cutoff:
                break
            ss += r2
            tt += dt
        if tt < 0.5 * horizon_s or tt <= 0:
            return None
        return math.sqrt(ss / tt * YEAR_S)

    def all(self, now: float) -> tuple[float | None, ...]:
        return tuple(self.sigma(h, now) for h in self.horizons_s)
