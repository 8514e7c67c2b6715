"""prob_yes: the settlement-aware GBM model. Properties (hypothesis), limits, continuity at
the window boundary, invalid inputs, ladder == scalar, and a Monte Carlo check of the
lognormal approximation of the 60 s average."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from kbot.model import YEAR_S, prob_between, prob_yes, prob_yes_ladder, prob_yes_reason
from kbot.model.prob import settlement_params

spots = st.floats(min_value=20_000, max_value=200_000)
sigmas = st.floats(min_value=0.05, max_value=3.0)
horizons = st.floats(min_value=0.5, max_value=7 * 86400)
rel = st.floats(min_value=-0.05, max_value=0.05)


def test_import_path_and_signature():
    p = prob_yes("greater", 80_000.0, None, 80_000.0, 0.5, 900.0, window_s=60.0, observed_avg=None, observed_s=0.0)
    assert p is not None and 0.49 < p < 0.5  # at the money, slightly below 1/2 (lognormal median < mean)


def test_matches_closed_form_gbm_before_window():
    s, k, sig, t, w = 80_000.0, 80_500.0, 0.6, 3600.0, 60.0
    v = sig * sig * (t - 2 * w / 3) / YEAR_S
    d2 = (math.log(s / k) - v / 2) / math.sqrt(v)
    expected = 0.5 * math.erfc(-d2 / math.sqrt(2))
    assert prob_yes("greater", k, None, s, sig, t, window_s=w) == pytest.approx(expected, rel=1e-12)
    assert prob_yes("less", None, k, s, sig, t, window_s=w) == pytest.approx(1 - expected, rel=1e-12)


def test_window_zero_is_plain_gbm_at_close():
    s, k, sig, t = 80_000.0, 79_000.0, 0.5, 600.0
    v = sig * sig * t / YEAR_S
    d2 = (math.log(s / k) - v / 2) / math.sqrt(v)
    assert prob_yes("greater", k, None, s, sig, t, window_s=0.0) == pytest.approx(0.5 * math.erfc(-d2 / math.sqrt(2)))


@given(spots, sigmas, horizons, rel, rel)
@settings(deadline=None)
def test_in_unit_interval_and_monotone_in_strike(s, sig, t, r1, r2):
    k1, k2 = sorted((s * (1 + r1), s * (1 + r2)))
    g1, g2 = prob_yes("greater", k1, None, s, sig, t), prob_yes("greater", k2, None, s, sig, t)
    l1, l2 = prob_yes("less", None, k1, s, sig, t), prob_yes("less", None, k2, s, sig, t)
    for p in (g1, g2, l1, l2):
        assert p is not None and 0.0 <= p <= 1.0
    assert g1 >= g2 - 1e-12
    assert l1 <= l2 + 1e-12
    assert g1 + l1 == pytest.approx(1.0, abs=1e-12)


@given(spots, sigmas, horizons, rel, rel, st.sampled_from(["greater", "greater_or_equal"]))
@settings(deadline=None)
def test_monotone_in_spot(s, sig, t, r1, r2, kind):
    k = s
    s1, s2 = sorted((s * (1 + r1), s * (1 + r2)))
    assert prob_yes(kind, k, None, s1, sig, t) <= prob_yes(kind, k, None, s2, sig, t) + 1e-12
    assert prob_yes("less_or_equal", None, k, s1, sig, t) >= prob_yes("less_or_equal", None, k, s2, sig, t) - 1e-12


@given(spots, sigmas, horizons, st.integers(min_value=2, max_value=60), st.floats(min_value=50, max_value=1000))
@settings(deadline=None)
def test_brackets_of_one_event_sum_to_one(s, sig, t, n, width):
    # An event's brackets: less than the first floor, n between-brackets, greater than the last.
    base = round(s / width) * width - (n // 2) * width
    assume(base > 0)
    floors = [base + i * width for i in range(n + 1)]

    def total(gap: float) -> float:
        caps = [f + width - gap for f in floors[:-1]]
        p = prob_yes("less", None, floors[0], s, sig, t)
        p += sum(prob_yes("between", f, c, s, sig, t) for f, c in zip(floors, caps, strict=False))
        return p + prob_yes("greater", floors[-1] - gap, None, s, sig, t)

    # Brackets that tile the line telescope to exactly 1.
    assert total(0.0) == pytest.approx(1.0, abs=1e-9)
    # Kalshi lists caps 0.01 below the next floor: those slivers hold a little probability.
    # Each holds at most 0.01 x the peak density of the settlement value.
    kalshi = total(0.01)
    sd_dollars = s * 0.9 * math.sqrt(settlement_params(s, sig, t)[3])
    slivers = (n + 1) * 0.01 / (sd_dollars * math.sqrt(2 * math.pi))
    assert 1.0 - slivers - 1e-9 <= kalshi <= 1.0 + 1e-9


@given(spots, sigmas, rel)
@settings(deadline=None)
def test_limit_t_to_zero_before_window_with_no_averaging(s, sig, r):
    k = s * (1 + r)
    assume(abs(r) > 1e-4)
    p = prob_yes("greater", k, None, s, sig, 1e-6, window_s=0.0)
    assert p == pytest.approx(1.0 if s > k else 0.0, abs=1e-9)


@given(spots, sigmas, rel, st.floats(min_value=-0.002, max_value=0.002))
@settings(deadline=None)
def test_limit_t_to_zero_inside_window_is_the_observed_average(s, sig, r, a):
    k = s * (1 + r)
    avg = s * (1 + a)
    assume(abs(avg - k) / k > 1e-5)
    p = prob_yes("greater", k, None, s, sig, 1e-6, window_s=60.0, observed_avg=avg, observed_s=60.0 - 1e-6)
    assert p == pytest.approx(1.0 if avg > k else 0.0, abs=1e-9)


@given(spots, sigmas, rel, st.sampled_from(["greater", "less", "between"]))
@settings(deadline=None)
def test_continuous_at_the_window_boundary(s, sig, r, kind):
    k = s * (1 + r / 10)
    floor, cap = (k, None) if kind == "greater" else (None, k) if kind == "less" else (k, k * 1.002)
    eps = 1e-7
    before = prob_yes(kind, floor, cap, s, sig, 60.0 + eps)
    inside = prob_yes(kind, floor, cap, s, sig, 60.0 - eps, observed_avg=s, observed_s=eps)
    unobserved = prob_yes(kind, floor, cap, s, sig, 60.0 - eps)
    assert before == pytest.approx(inside, abs=1e-5)
    assert before == pytest.approx(unobserved, abs=1e-5)


def test_inside_window_conditions_on_the_observed_part():
    s, sig = 80_000.0, 0.5
    # Half the window observed well above the strike: YES is very likely even with spot at it.
    hi = prob_yes("greater", 80_000, None, s, sig, 30.0, observed_avg=80_200.0, observed_s=30.0)
    lo = prob_yes("greater", 80_000, None, s, sig, 30.0, observed_avg=79_800.0, observed_s=30.0)
    assert hi > 0.99 and lo < 0.01
    # The observed part alone clears the strike: certain.
    assert prob_yes("greater", 80_000, None, 1.0, sig, 1.0, observed_avg=90_000.0, observed_s=59.0) == 1.0


def test_unobserved_gap_widens_the_distribution():
    s, sig, k = 80_000.0, 0.8, 80_050.0
    known = prob_yes("greater", k, None, s, sig, 20.0, observed_avg=s, observed_s=40.0)
    gap = prob_yes("greater", k, None, s, sig, 20.0, observed_avg=s, observed_s=10.0)
    unknown = prob_yes("greater", k, None, s, sig, 20.0)
    assert known < gap < unknown < 0.5  # more unknown mass -> more chance to exceed an OTM strike
    _, _, _, v_known = settlement_params(s, sig, 20.0, observed_avg=s, observed_s=40.0)
    assert v_known == pytest.approx(sig * sig * 20.0 / 3 / YEAR_S)


@pytest.mark.parametrize(
    "args,reason",
    [
        (("greater", 1.0, None, 0.0, 0.5, 10.0), "invalid_spot"),
        (("greater", 1.0, None, -5.0, 0.5, 10.0), "invalid_spot"),
        (("greater", 1.0, None, None, 0.5, 10.0), "invalid_spot"),
        (("greater", 1.0, None, float("nan"), 0.5, 10.0), "invalid_spot"),
        (("greater", 1.0, None, 1.0, 0.0, 10.0), "invalid_sigma"),
        (("greater", 1.0, None, 1.0, float("inf"), 10.0), "invalid_sigma"),
        (("greater", 1.0, None, 1.0, -0.1, 10.0), "invalid_sigma"),
        (("greater", 1.0, None, 1.0, 0.5, 0.0), "invalid_horizon"),
        (("greater", 1.0, None, 1.0, 0.5, -3.0), "invalid_horizon"),
        (("greater", None, None, 1.0, 0.5, 10.0), "missing_bounds"),
        (("less", 1.0, None, 1.0, 0.5, 10.0), "missing_bounds"),
        (("between", 1.0, None, 1.0, 0.5, 10.0), "missing_bounds"),
        (("between", 2.0, 1.0, 1.0, 0.5, 10.0), "invalid_strike"),
        (("greater", -1.0, None, 1.0, 0.5, 10.0), "invalid_strike"),
        (("structured", 1.0, None, 1.0, 0.5, 10.0), "unsupported_strike_type"),
        ((None, 1.0, None, 1.0, 0.5, 10.0), "unsupported_strike_type"),
    ],
)
def test_invalid_inputs_give_none_with_a_reason(args, reason):
    assert prob_yes(*args) is None
    assert prob_yes_reason(*args) == (None, reason)


def test_invalid_observed_inputs():
    assert prob_yes_reason("greater", 1.0, None, 1.0, 0.5, 30.0, observed_avg=-1.0, observed_s=10.0) == (
        None,
        "invalid_observed_avg",
    )
    # 45 s observed but only 30 s of the window elapsed
    assert prob_yes_reason("greater", 1.0, None, 1.0, 0.5, 30.0, observed_avg=1.0, observed_s=45.0) == (
        None,
        "invalid_observed_s",
    )
    # a second of grid rounding is tolerated
    assert prob_yes("greater", 1.0, None, 1.0, 0.5, 30.0, observed_avg=1.0, observed_s=30.5) is not None


@given(spots, sigmas, horizons, st.lists(rel, min_size=1, max_size=30))
@settings(deadline=None, max_examples=50)
def test_ladder_matches_scalar(s, sig, t, rels):
    kinds = (["greater", "less", "between"] * 10)[: len(rels)]
    floors = [s * (1 + r) if k != "less" else None for r, k in zip(rels, kinds, strict=True)]
    caps = [s * (1 + r) * 1.003 if k != "greater" else None for r, k in zip(rels, kinds, strict=True)]
    lad = prob_yes_ladder(kinds, floors, caps, s, sig, t)
    for i, k in enumerate(kinds):
        assert lad[i] == pytest.approx(prob_yes(k, floors[i], caps[i], s, sig, t), abs=1e-12)


def test_ladder_marks_invalid_rows_and_invalid_inputs_with_nan():
    lad = prob_yes_ladder(["greater", "weird", "between"], [1.0, 1.0, None], [None, None, 2.0], 1.0, 0.5, 60.0)
    assert not math.isnan(lad[0]) and math.isnan(lad[1]) and math.isnan(lad[2])
    assert np.isnan(prob_between(np.array([1.0]), np.array([np.inf]), 1.0, -1.0, 60.0)).all()


@pytest.mark.parametrize("horizon,observed", [(180.0, 0.0), (40.0, 20.0)])
def test_monte_carlo_agrees_with_the_lognormal_approximation(horizon, observed):
    """Simulate driftless GBM at 1 s steps and settle on the mean of the 60 one-second prints
    before close; the model's probabilities match within Monte Carlo error + 0.01."""
    rng = np.random.default_rng(7)
    s0, sig, w, n = 80_000.0, 1.5, 60, 40_000
    dt = 1.0 / YEAR_S
    steps = int(horizon)
    z = rng.standard_normal((n, steps))
    logp = np.cumsum(sig * math.sqrt(dt) * z - 0.5 * sig * sig * dt, axis=1)
    path = s0 * np.exp(logp)  # prints at t = 1..horizon
    remaining_prints = min(steps, w)
    future_part = path[:, steps - remaining_prints :].sum(axis=1)
    observed_avg = s0 * 1.0003 if observed else None
    known = observed * (observed_avg or 0.0)
    settle = (known + future_part) / (observed + remaining_prints)
    for k in np.linspace(s0 * 0.997, s0 * 1.004, 6):
        mc = float(np.mean(settle >= k))
        p = prob_yes(
            "greater", float(k), None, s0, sig, horizon, window_s=w, observed_avg=observed_avg, observed_s=observed
        )
        se = math.sqrt(max(mc * (1 - mc), 1e-4) / n)
        assert abs(p - mc) < 4 * se + 0.01, (k, p, mc)


@given(spots, sigmas, st.floats(0.5, 59.5), rel, st.floats(-0.003, 0.003), st.floats(-0.003, 0.003))
@settings(deadline=None)
def test_inside_window_monotone_in_spot_and_observed_average(s, sig, t, r, a1, a2):
    k = s * (1 + r / 20)
    elapsed = 60.0 - t
    lo, hi = sorted((s * (1 + a1), s * (1 + a2)))
    p_lo = prob_yes("greater", k, None, s, sig, t, observed_avg=lo, observed_s=elapsed)
    p_hi = prob_yes("greater", k, None, s, sig, t, observed_avg=hi, observed_s=elapsed)
    assert 0.0 <= p_lo <= p_hi + 1e-12 <= 1.0 + 1e-12
    p_spot_hi = prob_yes("greater", k, None, s * 1.001, sig, t, observed_avg=lo, observed_s=elapsed)
    assert p_spot_hi >= p_lo - 1e-12
