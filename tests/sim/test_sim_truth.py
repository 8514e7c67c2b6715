"""The sim's true probabilities (kbot.sim.truth): coherent, and calibrated against outcomes drawn
from the sim's own index path, which is what makes them the truth the market is scored against."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from kbot.sim.calibrate import logistic_slope
from kbot.sim.pricepath import IndexPath, PathParams
from kbot.sim.truth import Truth

START = 1_786_000_000 - 1_786_000_000 % 86400
TRUTH = Truth(PathParams())


@settings(max_examples=60, deadline=None)
@given(
    horizon=st.integers(1, 4 * 3600),
    regime=st.integers(0, 2),
    h=st.floats(-1.5, 1.5),
    spot=st.floats(50_000, 150_000),
    offsets=st.lists(st.floats(-0.02, 0.02), min_size=2, max_size=8),
)
def test_probabilities_are_coherent(horizon, regime, h, spot, offsets):
    t = START + 7 * 3600
    mix = TRUTH.variance_mix(t, t + horizon, regime, h)
    assert mix.w.sum() == pytest.approx(1.0) and (mix.v >= 0).all() and mix.n_future == min(60, horizon)
    known = 0.0 if horizon >= 60 else spot * (60 - horizon)
    strikes = np.sort(spot * np.exp(np.asarray(offsets)))
    # brackets [lo, hi - 0.01] tile the line only when strikes are more than a cent apart (equal
    # offsets made inverted brackets whose float residue, ~1e-9, broke the tolerance)
    assume(bool((np.diff(strikes) > 0.02).all()))
    p = Truth.prob_yes(mix, spot, known, "greater", strikes)
    assert ((p >= 0.0) & (p <= 1.0)).all()
    assert (np.diff(p) <= 1e-12).all()  # higher strike, lower probability
    # brackets that tile the line telescope: their probabilities sum to the ladder's ends
    lo, hi = strikes[:-1], strikes[1:]
    between = Truth.prob_yes(mix, spot, known, "between", lo, hi - 0.01)
    assert between.sum() == pytest.approx(
        Truth.prob_yes(mix, spot, known, "greater_or_equal", lo[:1])[0]
        - Truth.prob_yes(mix, spot, known, "greater", hi[-1:] - 0.01)[0], abs=1e-9)


def test_a_known_window_settles_the_market():
    t = START + 5000
    mix = TRUTH.variance_mix(t, t, 1, 0.0)  # closed: nothing left to happen
    assert Truth.prob_yes(mix, 95_000.0, 60 * 95_000.0, "greater", np.array([94_999.99, 95_000.01])).tolist() == [1.0, 0.0]
    # 59 of 60 ticks known far above the strike: yes whatever the last tick does
    mix = TRUTH.variance_mix(t, t + 1, 2, 1.0)
    assert Truth.prob_yes(mix, 90_000.0, 59 * 100_000.0, "greater", np.array([99_000.0]))[0] == 1.0


def test_more_volatility_spreads_the_distribution():
    t = START + 12 * 3600
    calm = TRUTH.variance_mix(t, t + 1800, 0, -0.5)
    wild = TRUTH.variance_mix(t, t + 1800, 2, 0.8)
    assert wild.mean > 5 * calm.mean
    k = np.array([95_300.0])
    assert Truth.prob_yes(wild, 95_000.0, 0.0, "greater", k)[0] > Truth.prob_yes(calm, 95_000.0, 0.0, "greater", k)[0]


def test_calibrated_against_the_paths_own_outcomes():
    """Twelve simulated days, every quarter hour: strikes around spot at horizons from 30 s
    to an hour; outcomes from the path's own settlement averages. A calibrated forecast has a
    logistic slope of 1 and a Brier score equal to the mean of p (1 - p)."""
    rng = np.random.default_rng(3)
    rows = []
    for seed in (11, 12, 13):
        path = IndexPath(seed, START, PathParams())
        truth = Truth(path.params)
        path.ensure(START + 4 * 86400 + 4000)
        for close in range(START + 3600, START + 4 * 86400, 900):
            for horizon in (3600, 900, 300, 60, 20):
                t = close - horizon
                regime, h = path.state(t)
                spot = path.price(t)
                known = float(path.cents_range(close - 59, t + 1).sum()) / 100.0 if horizon < 60 else 0.0
                mix = truth.variance_mix(t, close, regime, h)
                sd = math.sqrt(mix.mean)
                strikes = np.round(spot * np.exp(rng.uniform(-2.0, 2.0, 4) * sd), 2)
                p = Truth.prob_yes(mix, spot, known, "greater", strikes)
                y = (float(path.settlement_average(close)) > strikes).astype(float)
                rows.extend(zip(p.tolist(), y.tolist(), strict=True))
    a = np.array(rows)
    p, y = a[:, 0], a[:, 1]
    brier, expected = float(np.mean((p - y) ** 2)), float(np.mean(p * (1 - p)))
    slope = logistic_slope(p, y)
    assert abs(brier - expected) < 0.01, (brier, expected)
    assert 0.9 < slope < 1.1, slope
    for lo, hi in ((0.05, 0.3), (0.3, 0.7), (0.7, 0.95)):
        sel = (p >= lo) & (p < hi)
        assert abs(p[sel].mean() - y[sel].mean()) < 0.05, (lo, hi, p[sel].mean(), y[sel].mean())
