"""The simulated market's true probabilities: what the sim's own index process implies (pure).

A market settles on the average ``A`` of the 60 one-second index values in ``(C - 60, C]``.
At second ``t`` the sim knows everything about its process (``kbot.sim.pricepath``): the
index ``S_t``, the window ticks already published, the parameters and the hidden volatility
state (regime ``R_t`` and OU log-volatility ``h_t``). The true probability is
``P(A >= K | all of that)``; the simulated market makers quote around it
(``kbot.sim.agents``), and the suite compares the market's mid against it.

Conditional on the future volatility path, the log of the future part of the average is
Gaussian: with ``k = t+1 .. C`` the future one-second returns and ``n_f`` the future window
ticks, ``ln(F / (n_f S_t))`` has variance

    V = sum_k w_k^2 sigma_k^2,   w_k = (future window ticks at or after k) / n_f

(``w_k = 1`` for returns before the window: they move every window tick). Like
``kbot.model.prob`` the average is taken as lognormal with its exact mean (the index is a
martingale), so given ``V``

    P(A >= K) = Phi((ln(S_t / K_eff) - V/2) / sqrt(V)),   K_eff = (60 K - known_sum) / n_f.

``V`` itself is random (regimes switch, the log-volatility wanders, jumps arrive). Its mean
and variance given ``(R_t, h_t)`` are exact up to a block discretization (``block_s``):

    E[sigma_k^2] = base^2/YEAR * season(k)^2 * E[m(R_k)^2 | R_t] * E[exp(2 h_k - s^2) | h_t]

with the regime chain's transition powers and the OU's Gaussian moments (regime and
log-volatility are independent in the generator). ``V`` is then taken as lognormal with
those two moments and integrated by Gauss-Hermite quadrature; jumps (compound Poisson,
Laplace sizes) add ``N * 2 b^2 * mean(w^2)`` for ``N = 0, 1, 2`` jumps with Poisson weights.
``tests/sim/test_sim_truth.py`` checks that these probabilities are calibrated against
outcomes drawn from the path itself.
"""

from __future__ import annotations

import math

import attrs
import numpy as np
from scipy.special import ndtr

from kbot.sim.pricepath import YEAR_S, PathParams, season

WINDOW = 60  # one-second ticks in the settlement average
HALF_CENT = 0.005  # the settlement average is rounded to the cent


@attrs.frozen(slots=True)
class VarianceMix:
    """The distribution of ``V`` (log-variance of the future part of the settlement average)
    as weighted nodes, and the number of future window ticks ``n_f``."""

    v: np.ndarray
    w: np.ndarray
    n_future: int

    @property
    def mean(self) -> float:
        return float(np.dot(self.v, self.w))


class Truth:
    """True settlement probabilities under a path's parameters (see the module docstring)."""

    def __init__(self, params: PathParams, *, block_s: int = 60, max_blocks: int = 32, nodes: int = 5) -> None:
        p = params
        self.params = p
        q = 1.0 / np.asarray(p.regime_mean_s, dtype=np.float64)
        trans = np.empty((3, 3))
        for i in range(3):
            trans[i, :] = q[i] / 2.0
            trans[i, i] = 1.0 - q[i]
        self._trans = trans  # one-second regime transition matrix (geometric stays, uniform jumps)
        self._m2 = np.asarray(p.regime_mults, dtype=np.float64) ** 2
        self._a = math.exp(-1.0 / p.logvol_reversion_s)
        self._s2 = p.logvol_sd**2
        self._c = p.base_vol**2 / YEAR_S
        self._jump_rate = p.jumps_per_day / 86400.0
        self._jump_var = 2.0 * p.jump_scale**2
        x, w = np.polynomial.hermite.hermgauss(nodes)
        self._gh_z = x * math.sqrt(2.0)
        self._gh_w = w / math.sqrt(math.pi)
        self.block_s = block_s
        self.max_blocks = max_blocks
        self._grids: dict[tuple[int, int], tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        self._regimes: dict[tuple[int, int, int], tuple[np.ndarray, np.ndarray]] = {}
        self._kernels: dict[tuple[int, int], tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

    # ------------------------------------------------------------------ variance
    def _grid(self, step: int, nb: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per block grid ``(step, nb)``: the regime transition powers ``(T^step)^m``, the lags
        ``l - j`` (0 below the diagonal) and the upper-triangle mask (cached)."""
        key = (step, nb)
        got = self._grids.get(key)
        if got is None:
            if len(self._grids) > 512:
                self._grids.clear()
            tb = np.linalg.matrix_power(self._trans, step)
            powers = np.empty((nb, 3, 3))
            powers[0] = np.eye(3)
            for m in range(1, nb):
                powers[m] = powers[m - 1] @ tb
            lag = np.subtract.outer(np.arange(nb), np.arange(nb)).T  # lag[j, l] = l - j
            upper = lag >= 0
            got = self._grids[key] = (powers, np.clip(lag, 0, None), upper)
        return got

    def _regime_moments(self, regime: int, step: int, nb: int) -> tuple[np.ndarray, np.ndarray]:
        """``E[m^2(R_j)]`` at the block midpoints and ``E[m^2(R_j) m^2(R_l)]`` (upper triangle)
        given ``R_t = regime`` (cached: they depend on the grid and the regime only)."""
        key = (regime, step, nb)
        got = self._regimes.get(key)
        if got is None:
            if len(self._regimes) > 512:
                self._regimes.clear()
            powers, lag, upper = self._grid(step, nb)
            half = np.linalg.matrix_power(self._trans, max(1, int(round(step / 2))))
            pi = half[regime] @ powers  # (nb, 3): P(R at block j's midpoint | R_t)
            u = powers @ self._m2  # (nb, 3): E[m^2 after m blocks | state]
            g = np.einsum("ji,jli->jl", pi * self._m2, u[lag])
            got = self._regimes[key] = (pi @ self._m2, np.where(upper, g, 0.0))
        return got

    def _logvol_kernel(self, step: int, nb: int, d: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The parts of the OU moments that do not depend on ``h``: ``a^d``, ``Var h`` at the
        midpoints and ``exp(2 (var_j + var_l + 2 cov_jl) - 2 s^2)`` (cached per grid)."""
        key = (step, nb)
        got = self._kernels.get(key)
        if got is None:
            if len(self._kernels) > 512:
                self._kernels.clear()
            _, lag, upper = self._grid(step, nb)
            ad = self._a**d
            var = self._s2 * (1.0 - ad * ad)
            cov = self._a**lag * var[:, None]
            k = np.exp(2.0 * (var[:, None] + var[None, :] + 2.0 * cov) - 2.0 * self._s2)
            got = self._kernels[key] = (ad, var, np.where(upper, k, 0.0))
        return got

    def variance_mix(self, t: int, close: int, regime: int, h: float) -> VarianceMix:
        """Distribution of ``V`` at second ``t`` (tick ``t`` published) for a market closing at
        ``close``, given the volatility state after second ``t``."""
        n = close - t
        if n <= 0:
            return VarianceMix(v=np.zeros(1), w=np.ones(1), n_future=0)
        n_future = min(WINDOW, n)
        nb = min(self.max_blocks, -(-n // self.block_s))
        step = -(-n // nb)
        nb = -(-n // step)
        starts = np.arange(nb) * step
        ends = np.minimum(starts + step, n)
        d = 0.5 * (starts + ends)  # block midpoints, seconds after t
        # sum of w_k^2 per block: 1 before the window, a ramp inside it (the last n_future seconds)
        wwin = (np.arange(n_future, 0, -1, dtype=np.float64) / n_future) ** 2  # seconds close-n_future+1 .. close
        cum = np.concatenate(([0.0], np.cumsum(wwin)))
        lo_w = np.clip(starts - (n - n_future), 0, n_future)
        hi_w = np.clip(ends - (n - n_future), 0, n_future)
        w2b = (np.minimum(ends, n - n_future) - np.minimum(starts, n - n_future)) + (cum[hi_w] - cum[lo_w])
        wb = w2b * season(t + d, self.params.seasonality) ** 2
        r1, g = self._regime_moments(regime, step, nb)
        ad, var, kern = self._logvol_kernel(step, nb, d)
        e = np.exp(2.0 * ad * h)
        h1 = e * np.exp(2.0 * var - self._s2)
        mean_v = self._c * float(np.dot(wb, r1 * h1))
        x = wb * e
        cross = g * kern
        second = 2.0 * float(x @ cross @ x) - float(np.dot(x * x, np.diag(cross)))
        var_v = max(0.0, self._c**2 * second - mean_v**2)
        if mean_v <= 0.0:
            return VarianceMix(v=np.zeros(1), w=np.ones(1), n_future=n_future)
        sig2 = math.log1p(var_v / (mean_v * mean_v))
        v_diff = np.exp(math.log(mean_v) - 0.5 * sig2 + math.sqrt(sig2) * self._gh_z)
        # jumps: 0, 1 or 2 (or more) in the horizon, each adding its variance at a random time
        lam = self._jump_rate * n
        if lam > 0.0:
            jump_v = self._jump_var * float(w2b.sum()) / n
            pj = np.array([math.exp(-lam), lam * math.exp(-lam), 0.0])
            pj[2] = max(0.0, 1.0 - pj[0] - pj[1])
            v = (v_diff[None, :] + (np.arange(3) * jump_v)[:, None]).ravel()
            wts = (pj[:, None] * self._gh_w[None, :]).ravel()
        else:
            v, wts = v_diff, self._gh_w
        return VarianceMix(v=v, w=wts, n_future=n_future)

    # ------------------------------------------------------------------ probabilities
    @staticmethod
    def p_at_least(mix: VarianceMix, spot: float, known_sum: float, strikes: np.ndarray) -> np.ndarray:
        """``P(A >= K)`` for each level ``K`` (dollars; the window's known ticks sum to
        ``known_sum`` dollars, the index is ``spot`` now)."""
        strikes = np.asarray(strikes, dtype=np.float64)
        if mix.n_future == 0:
            return (known_sum / WINDOW >= strikes).astype(np.float64)
        k_eff = (WINDOW * strikes - known_sum) / mix.n_future
        out = np.ones_like(k_eff)
        pos = k_eff > 0
        if pos.any():
            x = np.log(spot / k_eff[pos])[:, None]
            v = mix.v[None, :]
            with np.errstate(divide="ignore", invalid="ignore"):
                z = np.where(v > 0, (x - 0.5 * v) / np.sqrt(np.where(v > 0, v, 1.0)), np.where(x >= 0, np.inf, -np.inf))
            out[pos] = ndtr(z) @ mix.w
        return out

    @classmethod
    def prob_yes(
        cls,
        mix: VarianceMix,
        spot: float,
        known_sum: float,
        strike_type: str,
        floor: np.ndarray | float | None,
        cap: np.ndarray | float | None = None,
    ) -> np.ndarray:
        """P(YES) for one strike type over arrays of floors/caps (Kalshi's comparisons on the
        cent-rounded average: ``greater`` A > floor, ``greater_or_equal`` A >= floor,
        ``between`` floor <= A <= cap)."""
        if floor is None:
            return np.full(1, 0.5)
        f = np.atleast_1d(np.asarray(floor, dtype=np.float64))
        if strike_type == "greater":
            return cls.p_at_least(mix, spot, known_sum, f + HALF_CENT)
        if strike_type == "greater_or_equal":
            return cls.p_at_least(mix, spot, known_sum, f - HALF_CENT)
        if strike_type == "between":
            c = np.atleast_1d(np.asarray(cap, dtype=np.float64))
            lo = cls.p_at_least(mix, spot, known_sum, f - HALF_CENT)
            hi = cls.p_at_least(mix, spot, known_sum, c + HALF_CENT)
            return np.clip(lo - hi, 0.0, 1.0)
        raise ValueError(f"unsupported strike_type {strike_type!r}")
