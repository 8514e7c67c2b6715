"""The settlement distribution with tails, the pluggable model and its volatility sources."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import stdtr

from kbot.model.dist import prob_ladder, prob_slope_reason, tail
from kbot.model.models import GBM_AVG60, ModelInputs, SettlementModel, model_from_spec, rv_source
from kbot.model.prob import prob_between, prob_yes_reason


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from([("greater", 80_000.0, None), ("less", None, 80_500.0), ("between", 79_900.0, 80_099.99)]),
    st.floats(75_000, 85_000), st.floats(0.1, 2.0), st.floats(61.0, 86_400.0),
)
def test_normal_tails_are_exactly_the_gbm(kind, spot, sigma, horizon):
    p, _, why = prob_slope_reason(*kind, spot, sigma, horizon)
    q, why2 = prob_yes_reason(*kind, spot, sigma, horizon)
    assert why is None and why2 is None and p == pytest.approx(q, abs=1e-12)


def test_student_t_has_fatter_tails_and_the_same_scale():
    far = prob_slope_reason("greater", 84_000.0, None, 80_000.0, 0.5, 3600.0, nu=4.0)[0]
    far_n = prob_slope_reason("greater", 84_000.0, None, 80_000.0, 0.5, 3600.0)[0]
    assert far is not None and far_n is not None and far > 10 * far_n  # a 5 % move in an hour
    near = prob_slope_reason("greater", 80_000.0, None, 80_000.0, 0.5, 3600.0, nu=4.0)[0]
    assert near == pytest.approx(0.5, abs=0.01)
    t = tail(5.0)
    xs = np.linspace(-60, 60, 240001)
    dens = np.array([t.pdf(x) for x in xs])
    assert np.trapezoid(dens, xs) == pytest.approx(1.0, abs=1e-4)
    assert np.trapezoid(dens * xs * xs, xs) == pytest.approx(1.0, abs=0.02)  # unit variance
    with pytest.raises(ValueError):
        tail(2.0)


@pytest.mark.parametrize("nu", [None, 3.0, 10.0])
def test_slope_is_the_derivative_of_a_location_shift(nu):
    spot, sigma, h = 80_000.0, 0.4, 1800.0
    v = sigma * sigma * (h - 40.0) / (365.25 * 86400)
    for kind in (("greater", 80_200.0, None), ("less", None, 79_800.0), ("between", 79_900.0, 80_099.99)):
        _, slope, _ = prob_slope_reason(*kind, spot, sigma, h, nu=nu)
        d = 1e-4
        up = prob_slope_reason(*kind, spot * math.exp(d * math.sqrt(v)), sigma, h, nu=nu)[0]
        dn = prob_slope_reason(*kind, spot * math.exp(-d * math.sqrt(v)), sigma, h, nu=nu)[0]
        assert slope == pytest.approx((up - dn) / (2 * d), rel=1e-3, abs=1e-9)


@pytest.mark.parametrize("nu", [None, 5.0])
def test_brackets_telescope_and_ladders_agree(nu):
    edges = np.arange(78_000.0, 82_001.0, 100.0)
    lo = np.concatenate(([0.0], edges))
    hi = np.concatenate((edges, [np.inf]))
    p = prob_ladder(lo, hi, 80_050.0, 0.5, 2200.0, nu=nu)
    assert p.sum() == pytest.approx(1.0, abs=1e-9)
    scalar = prob_slope_reason("between", 80_000.0, 80_100.0, 80_050.0, 0.5, 2200.0, nu=nu)[0]
    i = int(np.searchsorted(lo, 80_000.0))
    assert p[i] == pytest.approx(scalar, abs=1e-9 if nu is None else 1e-5)  # t ladders interpolate a table
    if nu is None:
        assert np.allclose(p, prob_between(lo, hi, 80_050.0, 0.5, 2200.0))


def test_the_model_takes_the_first_usable_volatility_source():
    m = SettlementModel(name="t5-implied", version="v1", vol_sources=("implied", "rv_6h", "index"), nu=5.0)
    x = ModelInputs(strike_type="greater", floor_strike=80_000.0, cap_strike=None, spot=80_000.0, horizon_s=3600.0,
                    sigmas={"implied": 0.4, "rv_6h": 0.3, "index": 0.5}, index_sigma_source="ewma")
    out = m(x)
    assert (out.sigma, out.sigma_source) == (0.4, "implied") and out.prob is not None and out.slope > 0
    assert m(ModelInputs(**{**_args(x), "sigmas": {"implied": None, "rv_6h": 0.3}})).sigma_source == "rv_6h"
    # outside the range: not usable; the index's own guardrails apply to it
    o = m(ModelInputs(**{**_args(x), "sigmas": {"implied": 9.0, "rv_6h": 0.001, "index": 0.5},
                         "index_sigma_source": "default"}))
    assert (o.sigma, o.sigma_source) == (0.5, "default")
    none = m(ModelInputs(**{**_args(x), "sigmas": {}}))
    assert none.prob is None and none.reason == "invalid_sigma"
    bad = m(ModelInputs(**{**_args(x), "spot": -1.0}))
    assert bad.prob is None and bad.reason == "invalid_spot"


def _args(x: ModelInputs) -> dict:
    return {f: getattr(x, f) for f in ("strike_type", "floor_strike", "cap_strike", "spot", "horizon_s", "window_s",
                                       "observed_avg", "observed_s", "sigmas", "index_sigma_source")}


def test_specs_round_trip_and_validate():
    m = SettlementModel(name="t3-rv6h", version="v2", vol_sources=("rv_6h", "index"), nu=3.0)
    assert model_from_spec(m.spec()) == m
    assert model_from_spec(None) == GBM_AVG60 and GBM_AVG60.nu is None
    for bad in ({"name": "x", "vol_sources": ["cheap"]}, {"name": "x", "nu": 2.0}, {"name": "x", "kind": "nn"}):
        with pytest.raises(ValueError):
            model_from_spec(bad)
    assert (rv_source(3600.0), rv_source(21600.0), rv_source(900.0), rv_source(45.0)) == ("rv_1h", "rv_6h", "rv_15m",
                                                                                           "rv_45s")


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from([("greater", 80_000.0, None), ("less", None, 80_500.0), ("between", 79_900.0, 80_099.99)]),
    st.floats(76_000, 84_000), st.floats(61.0, 20_000.0), st.sampled_from([None, 3.0, 10.0]),
    st.floats(-3, 3), st.sampled_from([-1, 0, 1, None]), st.integers(1, 99),
)
def test_the_pricers_curve_is_exactly_the_prediction(kind, spot, horizon, nu, mom, regime, bid):
    """``Predictor.curve`` (the pricers' quiet band) gives what ``predict`` gives, to the last bits."""
    from decimal import Decimal as D

    import attrs

    from kbot.messages import SpotSignals
    from kbot.model.blend import BlendParams
    from kbot.model.predict import Predictor
    from tests.model.factories import index, market

    coefs = {"*|0": (0.1, 0.6, 0.5, 0.2, -0.1, 0.05, 0.3, 0.2), "*|1": (0.0, 0.9, 0.2, 0.1, 0.1, 0.0, 0.1, -0.1)}
    params = BlendParams(fit_id="x", fitted_ts=None, window_start=None, window_end=None,
                         model=SettlementModel(name="m", version="v", vol_sources=("index",), nu=nu).spec(),
                         coefs=coefs)
    pred = Predictor(params)
    m = market(strike_type=kind[0], floor_strike=kind[1], cap_strike=kind[2])
    ix = attrs.evolve(index(price=spot), signals=SpotSignals(ts=0.0, rv=(), momentum=mom, mean_reversion=-mom / 2,
                                                              vol_regime=regime, funding=0.5))
    yb, ya = D(bid) / 100, D(min(bid + 2, 100)) / 100
    p = pred.predict(m, spot, horizon, index=ix, yes_bid=yb, yes_ask=ya, yes_depth=D(30), no_depth=D(10)).prob
    f = pred.curve(m, index=ix, yes_bid=yb, yes_ask=ya, yes_depth=D(30), no_depth=D(10))
    assert p is not None and f(spot, horizon) == p


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([2.5, 3.0, 4.0, 10.0, 30.0]),
       st.one_of(st.floats(-50.0, 50.0), st.sampled_from([0.0, -0.0, math.inf, -math.inf, 1e-300, -1e300])))
def test_the_scalar_t_tail_is_the_ufuncs_to_the_bit(nu, d):
    """``Tail.sf`` calls scipy's typed ``stdtr`` (cheaper on Python floats): the same numbers as
    the ``stdtr`` ufunc it replaced, so probabilities did not move by a bit."""
    t = tail(nu)
    assert t.sf(d) == float(stdtr(nu, -d * t._c))
