"""EWMA volatility: annualization, grid/gap handling, clipping, guardrails and fallbacks,
persistence round trips; realized volatility."""

from __future__ import annotations

import math

import numpy as np
import pytest

from kbot.model import YEAR_S
from kbot.model.config import VolConfig
from kbot.model.vol import DEFAULT, EWMA, FALLBACK_LAST, EwmaVol, RealizedVol


def gbm_samples(sigma: float, n: int, dt: float, seed: int = 1, s0: float = 80_000.0):
    rng = np.random.default_rng(seed)
    r = sigma * math.sqrt(dt / YEAR_S) * rng.standard_normal(n)
    return s0 * np.exp(np.cumsum(r))


def test_recovers_the_sigma_of_a_simulated_path():
    cfg = VolConfig(sample_interval_s=10, halflife_s=6 * 3600, min_samples=30)
    vol = EwmaVol(cfg)
    for i, p in enumerate(gbm_samples(0.6, 20_000, 10.0)):
        vol.add_sample(i * 10.0, float(p))
    est = vol.estimate(20_000 * 10.0)
    assert est.source == EWMA and est.reason is None
    assert est.sigma == pytest.approx(0.6, rel=0.08)


def test_grid_step_does_not_change_the_scale():
    """Same diffusion sampled every 5 s or every 60 s: same annualized sigma."""
    for dt in (5.0, 60.0):
        vol = EwmaVol(VolConfig(halflife_s=1e7, min_samples=10, max_gap_s=120))
        for i, p in enumerate(gbm_samples(0.4, 8000, dt, seed=3)):
            vol.add_sample(i * dt, float(p))
        assert vol.estimate(8000 * dt).sigma == pytest.approx(0.4, rel=0.06)


def test_warm_up_then_ewma_and_default_before():
    vol = EwmaVol(VolConfig(min_samples=5))
    est = vol.estimate(0.0)
    assert (est.source, est.reason, est.sigma) == (DEFAULT, "no_data", 0.5)
    vol.add_sample(0.0, 100.0)
    vol.add_sample(10.0, 100.1)
    assert vol.estimate(10.0).reason == "warming_up" and vol.estimate(10.0).source == DEFAULT
    for i in range(2, 7):
        vol.add_sample(i * 10.0, 100.0 + (0.1 if i % 2 else 0.0))
    assert vol.estimate(60.0).source == EWMA


def test_no_return_across_a_gap():
    vol = EwmaVol(VolConfig(max_gap_s=60))
    vol.add_sample(0.0, 100.0)
    assert vol.add_sample(10.0, 100.0) is not None
    assert vol.add_sample(200.0, 150.0) is None  # gap: re-anchor, the 50 % jump is not a return
    assert vol.n == 1
    r, dt = vol.add_sample(210.0, 150.0)
    assert r == 0.0 and dt == 10.0


def test_bad_samples_rejected():
    vol = EwmaVol(VolConfig())
    vol.add_sample(10.0, 100.0)
    for ts, p in ((11.0, float("nan")), (12.0, -1.0), (5.0, 100.0), (float("inf"), 100.0)):
        assert vol.add_sample(ts, p) is None
    assert vol.rejected_samples == 4 and vol.n == 0


def test_one_bad_print_is_clipped():
    cfg = VolConfig(min_samples=20, clip_sigmas=10, halflife_s=3600)
    vol = EwmaVol(cfg)
    px = gbm_samples(0.5, 200, 10.0, seed=5)
    for i, p in enumerate(px):
        vol.add_sample(i * 10.0, float(p))
    before = vol.estimate(2000.0).sigma
    vol.add_sample(2000.0, float(px[-1]) * 1.2)  # a 20 % print in 10 s
    after = vol.estimate(2000.0).sigma
    assert vol.clipped == 1
    assert after < before * 1.5


@pytest.mark.parametrize(
    "prices,reason",
    [
        ([1.0] * 40, "ewma_below_min"),  # flat feed: sigma 0 -> rejected
        ([1.0, 1.3] * 20, "ewma_above_max"),
    ],
)
def test_guardrails_fall_back_to_last_good_then_default(prices, reason):
    cfg = VolConfig(min_samples=5, clip_sigmas=0, halflife_s=60, sigma_default=0.5, fallback_max_age_s=1000)
    vol = EwmaVol(cfg)
    good = gbm_samples(0.5, 20, 10.0)
    for i, p in enumerate(good):
        vol.add_sample(i * 10.0, float(p))
    assert vol.last_good == vol.estimate(200.0).sigma
    for j, p in enumerate(prices):
        vol.add_sample(200.0 + j * 10.0, p * float(good[-1]))
    now = 200.0 + len(prices) * 10.0
    est = vol.estimate(now)
    # the fallback is the last EWMA value that passed the guardrails (on the way out of range)
    assert (est.source, est.reason, est.sigma) == (FALLBACK_LAST, reason, vol.last_good)
    assert cfg.sigma_min <= vol.last_good <= cfg.sigma_max and vol.last_good_ts >= 200.0
    late = vol.estimate(vol.last_good_ts + 1001)
    assert late.source == DEFAULT and late.reason == f"{reason}; last_good_too_old"


def test_nonfinite_is_rejected():
    vol = EwmaVol(VolConfig(min_samples=1))
    vol.rate, vol.n = float("nan"), 5
    assert vol.estimate(0.0).reason == "ewma_nonfinite"
    vol.rate = 0.0
    assert vol.estimate(0.0).reason == "ewma_nonpositive"


def test_persistence_round_trip_resumes_warm():
    cfg = VolConfig(min_samples=10)
    vol = EwmaVol(cfg)
    for i, p in enumerate(gbm_samples(0.5, 100, 10.0)):
        vol.add_sample(i * 10.0, float(p))
    state = vol.to_state()
    restored = EwmaVol.from_state(cfg, state, now=1000.0 + 300)
    assert restored.rate == vol.rate and restored.n == vol.n
    assert restored.estimate(1300.0).source == EWMA
    # too old to resume: starts cold but keeps the last good sigma as fallback
    cold = EwmaVol.from_state(cfg, state, now=1000.0 + cfg.resume_max_age_s + 1)
    assert cold.n == 0 and cold.rate is None
    est = cold.estimate(1000.0 + cfg.resume_max_age_s + 1)
    assert est.source == FALLBACK_LAST and est.sigma == vol.last_good


@pytest.mark.parametrize(
    "state",
    [
        None,
        [],
        {"rate": "x"},
        {"rate": float("nan"), "n": 3, "anchor_ts": 1.0},
        {"last_good": 99.0, "last_good_ts": 1.0},
    ],
)
def test_garbage_state_is_ignored(state):
    vol = EwmaVol.from_state(VolConfig(), state, now=2.0)
    assert vol.rate is None and vol.last_good is None
    assert vol.estimate(2.0).source == DEFAULT


def test_to_state_is_json_safe():
    import json

    vol = EwmaVol(VolConfig())
    vol.rate = float("inf")
    json.dumps(vol.to_state(), allow_nan=False)


def test_realized_vol_two_horizons():
    rv = RealizedVol((900.0, 14400.0))
    px = gbm_samples(0.7, 1440, 10.0, seed=11)
    for i in range(1, len(px)):
        rv.add(i * 10.0, math.log(px[i] / px[i - 1]), 10.0)
    short, long_ = rv.all(14400.0)
    assert short is not None and long_ == pytest.approx(0.7, rel=0.1)
    assert RealizedVol((900.0, 14400.0)).sigma(900.0, 0.0) is None
