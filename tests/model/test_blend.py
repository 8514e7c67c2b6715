"""The calibrated blend: features, prediction, fitting (deterministic, walk-forward), persistence."""

from __future__ import annotations

import json
import math
import random

import attrs
import numpy as np
import pytest

from kbot.model.blend import (
    FEATURES,
    MARKET_PRIOR,
    BlendInputs,
    BlendParams,
    FitRow,
    feature_vector,
    fit_blend,
    fit_row,
    informative,
    irls,
    logit,
    market_only,
    market_prob,
    model_only,
    shipped,
    sigmoid,
    thin,
)
from kbot.model.models import GBM_AVG60


def test_features_of_one_market():
    x = feature_vector(BlendInputs(p_model=0.3, slope=0.2, p_market=0.4, momentum=1.0, mean_reversion=-0.5,
                                   funding=2.0, imbalance=0.25, vol_regime=1), 1e-3)
    d = 0.2 / (0.3 * 0.7)
    assert x == pytest.approx((1.0, logit(0.4, 1e-3), logit(0.3, 1e-3), d, -0.5 * d, 2 * d, 0.25,
                               logit(0.3, 1e-3) - logit(0.4, 1e-3)))
    no_market = feature_vector(BlendInputs(p_model=0.3), 1e-3)
    assert no_market[1] == no_market[2] and no_market[3:] == (0.0,) * 5
    assert len(x) == len(FEATURES)


def test_the_prior_is_the_market_and_model_only_is_the_model():
    p = market_only(GBM_AVG60.spec())
    assert p.predict("KXBTC", 2000.0, BlendInputs(p_model=0.9, slope=0.1, p_market=0.37)) == pytest.approx(0.37)
    assert p.predict("KXBTC", 2000.0, BlendInputs(p_model=0.9)) == pytest.approx(0.9)  # no market price
    assert p.predict("KXBTC", 2000.0, BlendInputs(p_model=0.5, p_market=0.0)) == pytest.approx(1e-3)  # clipped
    m = model_only(GBM_AVG60.spec())
    assert m.predict("KXBTC15M", 60.0, BlendInputs(p_model=0.62, p_market=0.2)) == pytest.approx(0.62)


def test_coefficients_fall_back_from_series_to_band_to_prior():
    c1 = (0.1,) + (0.0,) * 7
    c2 = (0.2,) + (0.0,) * 7
    p = attrs.evolve(market_only(), coefs={"KXBTC|1": c1, "*|1": c2})
    assert p.coef("KXBTC", 2000.0) == c1 and p.coef("KXBTCD", 2000.0) == c2
    assert p.coef("KXBTC", 100.0) == MARKET_PRIOR


def _synthetic(n: int, theta: tuple[float, ...], seed: int = 1) -> list[FitRow]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        pm, pg = rng.uniform(0.05, 0.95), rng.uniform(0.05, 0.95)
        x = feature_vector(BlendInputs(p_model=pg, slope=rng.uniform(-0.3, 0.3), p_market=pm,
                                       momentum=rng.gauss(0, 1), imbalance=rng.uniform(-1, 1)), 1e-3)
        p = sigmoid(sum(a * b for a, b in zip(theta, x)))
        rows.append(FitRow(ts=float(i), series="KXBTC", horizon_s=2000.0, cluster=f"E{i // 10}", x=x,
                           y=1 if rng.random() < p else 0))
    return rows


def test_irls_recovers_known_coefficients():
    theta = (0.2, 0.6, 0.5, 0.3, 0.0, 0.0, 0.4, 0.0)
    rows = _synthetic(20000, theta)
    th = irls(np.array([r.x for r in rows]), np.array([r.y for r in rows], float), np.array(MARKET_PRIOR), 1.0)
    assert th is not None
    for i in (0, 1, 2, 3, 6):
        assert th[i] == pytest.approx(theta[i], abs=0.12), (FEATURES[i], th)
    # with no information a column stays at its prior (the ridge), with a huge penalty everything does
    assert th[5] == pytest.approx(0.0, abs=1e-6)
    stiff = irls(np.array([r.x for r in rows]), np.array([r.y for r in rows], float), np.array(MARKET_PRIOR), 1e9)
    assert stiff is not None and np.allclose(stiff, MARKET_PRIOR, atol=1e-3)


def test_refit_is_deterministic_and_order_free():
    rows = _synthetic(3000, (0.0, 0.8, 0.3, 0.0, 0.0, 0.0, 0.0, 0.0))
    prior = market_only()
    a = fit_blend(rows, prior, now=1e6, min_rows=100)
    shuffled = rows[:]
    random.Random(7).shuffle(shuffled)
    b = fit_blend(shuffled, prior, now=1e6, min_rows=100)
    assert a == b and a.fit_id == b.fit_id and a.fit_id.startswith("b-")
    assert a.coefs["*|1"] != MARKET_PRIOR and a.coefs["KXBTC|1"] == a.coefs["*|1"]
    assert (a.window_start, a.window_end) == (0.0, 2999.0) and a.n_rows["*|1"] == len(rows)
    few = fit_blend(rows[:50], prior, now=1e6, min_rows=100)
    assert dict(few.coefs) == dict(prior.coefs)  # too little data: the band keeps its prior


def test_only_informative_rows_are_fitted_and_snapshots_are_thinned():
    far = feature_vector(BlendInputs(p_model=1e-5, p_market=0.0), 1e-3)
    near = feature_vector(BlendInputs(p_model=0.3, p_market=0.2), 1e-3)
    assert not informative(far) and informative(near)
    r = [("M", FitRow(ts=float(t), series="S", horizon_s=100.0, cluster="E", x=near, y=0)) for t in (0, 10, 59, 60, 130)]
    assert [x.ts for x in thin(r + [("N", r[0][1])], 60.0)] == [0.0, 0.0, 60.0, 130.0]


def test_fit_rows_from_edges_carry_the_features_they_were_priced_with():
    from tests.model.factories import edge

    e = edge(prob=0.6, prob_model=0.55, model_slope=0.2, market_mid=0.5, sig_momentum=1.0, vol_regime=-1)
    fr = fit_row(e, 1, 1e-3)
    assert fr is not None and fr.y == 1 and fr.cluster == e.event_ticker and fr.horizon_s == e.horizon_s
    assert fr.x == feature_vector(BlendInputs(p_model=0.55, slope=0.2, p_market=0.5, momentum=1.0, vol_regime=-1), 1e-3)
    assert fit_row(edge(prob_model=None), 1, 1e-3) is None


def test_parameters_round_trip_and_the_shipped_ones_load(tmp_path):
    p = fit_blend(_synthetic(2000, (0.0, 1.0, 0.2) + (0.0,) * 5), market_only(), now=5.0, min_rows=100)
    again = BlendParams.from_json(p.to_json())
    assert again.fit_id == p.fit_id and again.window_end == p.window_end and again.model == p.model
    for k in p.coefs:
        assert again.coefs[k] == pytest.approx(p.coefs[k], abs=1e-9)
    s = shipped()
    assert s.model["name"] and s.fit_id and s.probability_model().name == s.model["name"]
    bad = json.loads(p.to_json())
    bad["features"] = ["intercept"]
    with pytest.raises(ValueError):
        BlendParams.from_dict(bad)
    bad = json.loads(p.to_json())
    bad["coefs"]["*|1"] = [math.nan] * 8
    with pytest.raises(ValueError):
        BlendParams.from_dict(bad)


def test_market_prob_conventions():
    from decimal import Decimal as D

    assert market_prob(D("0"), D("0.20")) == 0.0  # nobody bids for YES
    assert market_prob(D("0.97"), D("1")) == 1.0  # nobody bids for NO
    assert market_prob(D("0.40"), D("0.42")) == pytest.approx(0.41)
    assert market_prob(None, None) is None
