"""price_market: horizon, probability, EV per side, every reason; the edge throttle."""

from __future__ import annotations

from decimal import Decimal as D

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kbot.model import prob_yes
from kbot.model.config import PricerConfig
from kbot.model.pricing import EdgeThrottle, positive_side, price_market
from kbot.model.settlement import WindowObservation
from tests.model.factories import GBM, MARKET, T0, edge, index, market, quote

CFG = PricerConfig()


def test_a_clean_edge():
    e = price_market(market(), index(), quote(), T0, CFG, predictor=GBM)
    assert e.reasons == ()
    assert e.horizon_s == 3600.0
    assert e.prob_yes == pytest.approx(prob_yes("greater", 80_249.99, None, 80_000.0, 0.5, 3600.0))
    assert e.prob_model == e.prob_yes and (e.model_name, e.model_version, e.blend_id) == ("gbm-avg60", "v1", "model-only")
    # NO derived from YES: no_ask = 1 - yes_bid, size = yes_bid_size
    assert (e.no_ask, e.no_bid, e.no_ask_size) == (D("0.60"), D("0.58"), D(500))
    assert e.market_mid == pytest.approx(0.41)
    fee = 0.0171  # ceil4(0.07 * 0.42 * 0.58) = ceil4(0.017052)
    assert e.fee_yes == pytest.approx(fee)
    assert e.ev_yes == pytest.approx(e.prob_yes - 0.42 - fee)
    assert e.ev_no == pytest.approx(1 - e.prob_yes - 0.60 - 0.0168)
    assert e.fee_multiplier == D(1)


def test_the_final_probability_is_the_blend_and_the_raw_model_travels_with_it():
    e = price_market(market(), index(), quote(), T0, CFG, predictor=MARKET)
    assert e.prob_yes == pytest.approx(0.41)  # no fit: the market's probability
    assert e.prob_model == pytest.approx(prob_yes("greater", 80_249.99, None, 80_000.0, 0.5, 3600.0))
    assert e.ev_yes == pytest.approx(0.41 - 0.42 - 0.0171)  # EVs from the final probability
    # the shipped parameters name their model on every edge
    shipped = price_market(market(), index(), quote(), T0, CFG)
    assert shipped.model_name and shipped.model_version and shipped.blend_id


def test_a_side_without_a_bid_is_worth_nothing_to_the_market():
    e = price_market(market(), index(), quote(yes_bid="0", yes_ask="0.20"), T0, CFG, predictor=MARKET)
    assert e.market_mid == 0.0 and e.prob_yes == pytest.approx(1e-3)


def test_book_levels_give_depth():
    q = quote(yes_asks=((D("0.42"), D(7)), (D("0.43"), D(100))), no_asks=((D("0.60"), D(3)),))
    e = price_market(market(), index(), q, T0, CFG)
    assert (e.yes_ask_size, e.no_ask_size) == (D(7), D(3))


def test_fallback_to_expected_expiration_and_missing_close():
    m = market(close_ts=None, expected_expiration_ts=T0 + 100.0)
    assert price_market(m, index(), quote(), T0, CFG).horizon_s == 100.0
    e = price_market(market(close_ts=None), index(), quote(), T0, CFG)
    assert "missing_close_time" in e.reasons and e.prob_yes is None


@pytest.mark.parametrize(
    "mk,ix,qt,now,reason",
    [
        (market(status="closed"), index(), quote(), T0, "market_not_open"),
        (market(strike_type="between", cap_strike=None), index(), quote(), T0, "missing_bounds"),
        (market(strike_type="custom"), index(), quote(), T0, "unsupported_strike_type"),
        (market(), None, quote(), T0, "stale_spot"),
        (market(), index(stale=True), quote(), T0, "stale_spot"),
        (market(), index(ts=T0 - 6), quote(), T0, "stale_spot"),
        (market(), index(), None, T0, "missing_quote"),
        (market(), index(), quote(stale=True), T0, "stale_quote"),
        (market(), index(), quote(ts=T0 - 3601), T0, "stale_quote"),
        (market(), index(), quote(ts=T0 - 31, source="rest"), T0, "stale_quote"),
        (market(), index(sigma=-1.0), quote(), T0, "invalid_sigma"),
        (market(close_ts=T0 - 1), index(), quote(), T0, "closed"),
    ],
)
def test_reasons(mk, ix, qt, now, reason):
    e = price_market(mk, ix, qt, now, CFG)
    assert reason in e.reasons


def test_inside_the_window_uses_the_observed_average():
    m = market(close_ts=T0 + 30.0)
    obs = WindowObservation(avg=80_400.0, observed_s=30.0, due_s=30.0, complete=True)
    e = price_market(m, index(), quote(), T0, CFG, window=obs, predictor=GBM)
    expected = prob_yes("greater", 80_249.99, None, 80_000.0, 0.5, 30.0, observed_avg=80_400.0, observed_s=30.0)
    assert e.prob_yes == pytest.approx(min(max(expected, 1e-3), 1 - 1e-3)) and e.reasons == ()
    assert e.prob_model == pytest.approx(expected)
    assert (e.observed_avg, e.observed_s) == (80_400.0, 30.0)
    partial = attrs.evolve(obs, complete=False, observed_s=20.0)
    e2 = price_market(m, index(), quote(), T0, CFG, window=partial)
    assert "window_unobserved" in e2.reasons and e2.prob_yes is not None
    assert "window_unobserved" in price_market(m, index(), quote(), T0, CFG).reasons


def test_throttle_material_changes_and_snapshots():
    cfg = PricerConfig(prob_epsilon=0.01, snapshot_interval_s=10, max_emit_interval_s=5)
    th = EdgeThrottle(cfg)
    e0 = price_market(market(), index(), quote(), T0, cfg)
    assert th.material(e0) and th.snapshot_due(e0)
    th.sent(e0)
    th.snapped(e0)
    same = attrs.evolve(e0, ts=T0 + 1, prob_yes=e0.prob_yes + 0.005)
    assert not th.material(same) and not th.snapshot_due(same)
    assert th.material(attrs.evolve(same, prob_yes=e0.prob_yes + 0.02))
    assert th.material(attrs.evolve(same, yes_ask=D("0.43")))
    assert th.material(attrs.evolve(same, reasons=("stale_quote",)))
    assert th.snapshot_due(attrs.evolve(same, reasons=("stale_quote",)))
    assert th.material(attrs.evolve(same, ts=T0 + 5))  # keep-alive
    assert th.snapshot_due(attrs.evolve(same, ts=T0 + 10))
    # the side with positive EV changes: snapshot
    neutral = attrs.evolve(e0, ev_yes=-0.01, ev_no=-0.02)
    th2 = EdgeThrottle(cfg)
    th2.snapped(neutral)
    assert not th2.snapshot_due(attrs.evolve(neutral, ts=T0 + 1))
    assert th2.snapshot_due(attrs.evolve(neutral, ts=T0 + 1, ev_yes=0.03))
    assert th2.snapshot_due(attrs.evolve(neutral, ts=T0 + 1, ev_no=0.03))


def test_sigma_source_and_reason_travel_with_the_edge():
    e = price_market(market(), index(sigma_source="fallback_last", sigma_reason="ewma_above_max"), quote(), T0, CFG)
    assert (e.sigma_source, e.sigma_reason) == ("fallback_last", "ewma_above_max")


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.none(), st.floats(), st.sampled_from([0.0, -0.0, -1e9, 1e-12])),
       st.one_of(st.none(), st.floats(), st.sampled_from([0.0, -0.0, -1e9, 1e-12])))
def test_positive_side_is_the_better_positive_ev(ev_yes, ev_no):
    """``positive_side`` (every edge routed) answers as its first definition did: the larger EV,
    YES on ties, a missing EV counting as -1e9, and only when it is positive."""
    e = attrs.evolve(edge(), ev_yes=ev_yes, ev_no=ev_no)
    best = max(((ev_yes, "yes"), (ev_no, "no")), key=lambda t: -1e9 if t[0] is None else t[0])
    assert positive_side(e) == (best[1] if best[0] is not None and best[0] > 0 else None)
