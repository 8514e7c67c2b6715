"""The simulated BTC index path: seeded, reproducible, published at 1 s like BRTI (pure).

Model (per second ``t``, log-price increments):

    r_t = sigma_t * eps_t + J_t
    sigma_t = base_vol / sqrt(year_s) * regime(t) * exp(h_t - var_h / 2) * season(t)

- ``regime``: a three-state Markov chain (calm / normal / turbulent multipliers, mean
  durations of hours): volatility regimes.
- ``h_t``: an Ornstein-Uhlenbeck log-volatility (three hours mean reversion): volatility
  clustering within a regime.
- ``season``: an intraday multiplier by UTC time of day (busiest around the US open,
  quietest in the Asian night), as in real BTC data.
- ``J_t``: rare jumps (compound Poisson, Laplace sizes).

Defaults are fitted to real BTC-USD paths in ``../shared/data`` by the method of simulated
moments (``python -m kbot.sim.calibrate --fit-path``; the figures are in
docs/SIM_CALIBRATION.md): Coinbase 1-minute closes Dec 2025 (33 % annualized, 1-minute
kurtosis 17, hourly realized vol 9 % / 24 % / 64 % at p5/p50/p95, |return| autocorrelation
0.33/0.27/0.20 at 1/10/60 minutes, hour-to-hour volatility autocorrelation 0.70); the level also
matches the official hourly settlements of July 2026 (35.5 %). ``tests/sim/test_sim_pricepath.py``
checks the simulated statistics against the recordings when they are present.

The path is generated lazily in one-hour chunks. Chunk ``k`` draws from its own
``SeedSequence([seed, k])`` and continues the previous chunk's state, so the value at any second
depends only on ``(seed, start, params)``, never on when or how often it is queried. Values are
rounded to whole cents (BRTI's dissemination precision) and kept as integer cents, so settlement
averages are exact.
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_EVEN, Decimal

import attrs
import numpy as np
from scipy.signal import lfilter

YEAR_S = 365.25 * 86400.0
CHUNK_S = 3600


@attrs.frozen(slots=True)
class PathParams:
    s0: float = 95_000.0  # index at the start, dollars
    base_vol: float = 0.29  # annualized volatility of the normal regime (fit: long-run ~0.34 all regimes in)
    regime_mults: tuple[float, float, float] = (0.55, 1.0, 2.1)  # calm, normal, turbulent
    regime_mean_s: tuple[float, float, float] = (5 * 3600.0, 4 * 3600.0, 1.5 * 3600.0)
    logvol_reversion_s: float = 10800.0  # OU time constant of the log-volatility (fit)
    logvol_sd: float = 0.45  # stationary sd of the log-volatility
    seasonality: float = 0.35  # amplitude of the intraday multiplier (0 = flat)
    jumps_per_day: float = 4.0
    jump_scale: float = 0.0012  # Laplace scale of a jump's log size (~0.17 % sd)

    def __attrs_post_init__(self) -> None:
        if not self.s0 > 0 or not self.base_vol > 0:
            raise ValueError("s0 and base_vol must be > 0")
        if min(self.regime_mean_s) <= 0 or self.logvol_reversion_s <= 0:
            raise ValueError("regime durations and reversion time must be > 0")


def season(t: np.ndarray, amplitude: float) -> np.ndarray:
    """Intraday volatility multiplier by UTC time of day: peak ~14:30 UTC (US open), trough
    ~03:00 UTC; mean ~1."""
    hours = (t % 86400.0) / 3600.0
    main = np.cos(2 * np.pi * (hours - 14.5) / 24.0)
    second = 0.5 * np.cos(4 * np.pi * (hours - 14.5) / 24.0)
    return 1.0 + amplitude * (main + second) / 1.5


class IndexPath:
    """Index values (integer cents) at every whole second from ``start`` on."""

    def __init__(self, seed: int, start: int, params: PathParams | None = None) -> None:
        self.seed = int(seed)
        self.start = int(start)
        self.params = params or PathParams()
        self._cents = np.empty(0, dtype=np.int64)
        self._regimes = np.empty(0, dtype=np.int8)  # volatility regime per second (0 calm, 1 normal, 2 turbulent)
        self._logvol = np.empty(0, dtype=np.float64)  # OU log-volatility per second
        self._offset = 0  # seconds dropped from the front by ``trim``
        self._chunks = 0
        self._regime = 1
        self._h = 0.0
        self._logp = math.log(self.params.s0)

    # ------------------------------------------------------------------ generation
    @property
    def end(self) -> int:
        """First second not generated yet."""
        return self.start + self._offset + len(self._cents)

    def ensure(self, t: int) -> None:
        """Generate the path up to and including second ``t``."""
        while t >= self.end:
            self._gen_chunk()

    def _gen_chunk(self) -> None:
        p = self.params
        k = self._chunks
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, k]))
        n = CHUNK_S
        t0 = self.start + k * CHUNK_S
        times = t0 + np.arange(n, dtype=np.float64)

        # regime path: geometric stays, uniform jump to one of the other states
        regimes = np.empty(n, dtype=np.int64)
        i = 0
        state = self._regime
        while i < n:
            stay = int(rng.geometric(1.0 / p.regime_mean_s[state]))
            j = min(n, i + stay)
            regimes[i:j] = state
            i = j
            if i < n:
                state = (state + 1 + int(rng.integers(2))) % 3
        self._regime = state

        # OU log-volatility (AR(1) per second)
        a = math.exp(-1.0 / p.logvol_reversion_s)
        b = p.logvol_sd * math.sqrt(1.0 - a * a)
        eps_h = rng.standard_normal(n)
        h, _ = lfilter([b], [1.0, -a], eps_h, zi=[a * self._h])
        self._h = float(h[-1])

        sigma = (
            p.base_vol
            / math.sqrt(YEAR_S)
            * np.asarray(p.regime_mults)[regimes]
            * np.exp(h - 0.5 * p.logvol_sd**2)
            * season(times, p.seasonality)
        )
        r = sigma * rng.standard_normal(n) - 0.5 * sigma * sigma
        jumps = rng.random(n) < p.jumps_per_day / 86400.0
        if jumps.any():
            r[jumps] += rng.laplace(0.0, p.jump_scale, int(jumps.sum()))
        logp = self._logp + np.cumsum(r)
        self._logp = float(logp[-1])
        cents = np.round(np.exp(logp) * 100.0).astype(np.int64)
        self._cents = np.concatenate([self._cents, cents])
        self._regimes = np.concatenate([self._regimes, regimes.astype(np.int8)])
        self._logvol = np.concatenate([self._logvol, h])
        self._chunks += 1

    def trim(self, before: int) -> None:
        """Forget seconds before ``before`` (bounded memory on long runs)."""
        drop = min(len(self._cents), max(0, before - (self.start + self._offset)))
        if drop > 0:
            self._cents = self._cents[drop:]
            self._regimes = self._regimes[drop:]
            self._logvol = self._logvol[drop:]
            self._offset += drop

    # ------------------------------------------------------------------ queries
    def _idx(self, t: int) -> int:
        if t < self.start + self._offset:
            raise KeyError(f"second {t} is before the retained index path")
        self.ensure(t)
        return t - self.start - self._offset

    def cents(self, t: int) -> int:
        i = self._idx(t)  # may extend (and replace) the array: index it afterwards
        return int(self._cents[i])

    def state(self, t: int) -> tuple[int, float]:
        """The volatility state after second ``t``: (regime, OU log-volatility ``h``). What
        the simulated market knows about the process (``kbot.sim.truth``), never published."""
        i = self._idx(t)
        return int(self._regimes[i]), float(self._logvol[i])

    def sigma(self, t: int) -> float:
        """Annualized instantaneous volatility of second ``t``'s return (jumps aside)."""
        regime, h = self.state(t)
        p = self.params
        return float(p.base_vol * p.regime_mults[regime] * math.exp(h - 0.5 * p.logvol_sd**2) * season(np.asarray(float(t)), p.seasonality))

    def price(self, t: int) -> float:
        """Index value at whole second ``t`` (dollars, cent precision)."""
        return self.cents(t) / 100.0

    def cents_range(self, a: int, b: int) -> np.ndarray:
        """Integer cents for seconds ``a <= t < b``."""
        if b <= a:
            return np.empty(0, dtype=np.int64)
        self.ensure(b - 1)
        i = self._idx(a)
        return self._cents[i : i + (b - a)]

    def price_at(self, t: float) -> float:
        """Linear interpolation between whole seconds (exchange feeds sample between ticks)."""
        lo = math.floor(t)
        w = t - lo
        p0 = self.price(lo)
        return p0 if w == 0 else p0 + (self.price(lo + 1) - p0) * w

    def settlement_average(self, close: int) -> Decimal:
        """Kalshi's rule: the simple average of the 60 one-second index values in
        ``(close - 60, close]`` (the start-boundary tick excluded, the close tick included),
        rounded half-even to the index's cent precision."""
        window = self.cents_range(close - 59, close + 1)
        return (Decimal(int(window.sum())) / Decimal(6000)).quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)

    def realized_vol(self, t: int, window_s: int = 1800) -> float:
        """Annualized realized volatility of 1 s log returns over ``window_s`` before ``t``."""
        lo = max(self.start + self._offset, t - window_s)
        c = self.cents_range(lo, t + 1)
        if len(c) < 30:
            return self.params.base_vol
        r = np.diff(np.log(c.astype(np.float64)))
        return float(np.sqrt(np.mean(r * r) * YEAR_S))
