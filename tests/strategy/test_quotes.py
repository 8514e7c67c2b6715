"""Maker quote maths (kbot.strategy.quotes): skew, widening, never crossing, never inside the cutoff."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from kbot.strategy.quotes import (
    MakerConfig,
    QuoteInputs,
    digital_fair_sd,
    markout,
    needs_replace,
    plan_quotes,
)

D = Decimal
CFG = MakerConfig()

probs = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)
cents = st.integers(min_value=1, max_value=99).map(lambda c: D(c) / 100)
inventories = st.integers(min_value=-12, max_value=12).map(D)
ttc = st.floats(min_value=0.0, max_value=7200.0, allow_nan=False)


def inputs(**kw: object) -> QuoteInputs:
    base: dict[str, object] = dict(fair=0.5, time_to_close_s=600.0, inventory=D(0), best_yes_bid=D("0.45"),
                                   best_yes_ask=D("0.55"))
    base.update(kw)
    return QuoteInputs(**base)  # type: ignore[arg-type]


@settings(max_examples=400)
@given(fair=probs, t=ttc, inv=inventories, bid=cents, ask=cents,
       tick=st.sampled_from([D("0.01"), D("0.001")]), fee=st.floats(0.0, 0.02))
def test_quotes_never_cross_the_book_or_each_other(fair, t, inv, bid, ask, tick, fee):
    assume(bid < ask)
    plan = plan_quotes(inputs(fair=fair, time_to_close_s=t, inventory=inv, best_yes_bid=bid, best_yes_ask=ask,
                              tick=tick, maker_fee_per_contract=fee), CFG)
    if t <= CFG.cutoff_s:
        assert not plan.quoting and plan.reasons == ("cutoff",)
        return
    for p in (plan.yes_bid, plan.no_bid):
        if p is not None:
            assert tick <= p <= 1 - tick
            assert p % tick == 0  # on the grid
    if plan.yes_bid is not None:
        assert plan.yes_bid < ask  # post-only: never takes the YES ask
        assert plan.yes_bid <= D(repr(plan.reservation))  # buys YES only below the reservation price
    if plan.no_bid is not None:
        assert plan.no_bid < 1 - bid  # never takes the NO ask (= 1 - YES bid)
        assert plan.no_bid <= 1 - D(repr(plan.reservation))
    if plan.yes_bid is not None and plan.no_bid is not None:
        assert plan.yes_bid + plan.no_bid < 1
    # a side that would take the position past the limit is never quoted
    if inv + CFG.size > CFG.max_position:
        assert plan.yes_bid is None
    if -inv + CFG.size > CFG.max_position:
        assert plan.no_bid is None


@given(fair=st.floats(0.05, 0.95), inv=st.integers(1, 9).map(D))
def test_long_yes_lowers_both_quotes_long_no_raises_them(fair, inv):
    wide = dict(best_yes_bid=D("0.01"), best_yes_ask=D("0.99"))
    flat = plan_quotes(inputs(fair=fair, **wide), CFG)
    long_yes = plan_quotes(inputs(fair=fair, inventory=inv, **wide), CFG)
    long_no = plan_quotes(inputs(fair=fair, inventory=-inv, **wide), CFG)
    assert long_yes.reservation < flat.reservation < long_no.reservation
    # YES offer = 1 - no_bid; both the YES bid and the YES offer move down when long YES
    if flat.yes_bid is not None and long_yes.yes_bid is not None:
        assert long_yes.yes_bid <= flat.yes_bid
    if flat.no_bid is not None and long_yes.no_bid is not None:
        assert 1 - long_yes.no_bid <= 1 - flat.no_bid
    if flat.yes_bid is not None and long_no.yes_bid is not None:
        assert long_no.yes_bid >= flat.yes_bid


@given(fair=st.floats(0.05, 0.95), t1=st.floats(61.0, 7200.0), t2=st.floats(61.0, 7200.0), inv=st.integers(0, 9))
def test_half_spread_widens_toward_the_close_and_with_inventory(fair, t1, t2, inv):
    assume(t1 < t2)
    near = plan_quotes(inputs(fair=fair, time_to_close_s=t1), CFG)
    far = plan_quotes(inputs(fair=fair, time_to_close_s=t2), CFG)
    assert near.half_spread >= far.half_spread
    flat = plan_quotes(inputs(fair=fair), CFG)
    loaded = plan_quotes(inputs(fair=fair, inventory=D(inv)), CFG)
    assert loaded.half_spread >= flat.half_spread


def test_half_spread_widens_with_fair_value_volatility():
    calm = plan_quotes(inputs(fair_sd=0.001), CFG)
    wild = plan_quotes(inputs(fair_sd=0.05), CFG)
    assert wild.half_spread == pytest.approx(calm.half_spread + CFG.vol_coef * 0.049)
    assert wild.yes_bid < calm.yes_bid and wild.no_bid < calm.no_bid


def test_no_quotes_when_stale_without_fair_value_or_inside_cutoff():
    assert plan_quotes(inputs(stale=True), CFG).reasons == ("stale_inputs",)
    assert plan_quotes(inputs(fair=None), CFG).reasons == ("no_fair_value",)
    assert plan_quotes(inputs(fair=float("nan")), CFG).reasons == ("no_fair_value",)
    assert plan_quotes(inputs(time_to_close_s=CFG.cutoff_s), CFG).reasons == ("cutoff",)
    assert plan_quotes(inputs(time_to_close_s=CFG.cutoff_s + 1), CFG).quoting


def test_spread_that_does_not_cover_the_maker_fee_is_not_quoted():
    cfg = MakerConfig(base_half_spread=0.001, vol_coef=0.0, time_coef=0.0, inventory_coef=0.0)
    plan = plan_quotes(inputs(maker_fee_per_contract=0.0044), cfg)
    assert not plan.quoting and plan.reasons == ("spread_too_thin",)
    zero = MakerConfig(base_half_spread=0.0, vol_coef=0.0, time_coef=0.0, inventory_coef=0.0)
    assert plan_quotes(inputs(), zero).reasons == ("spread_too_thin",)


def test_a_worked_example():
    # fair 0.50, 10 min to close, flat: h = 0.02 + phi(0) * sqrt(10/600) + 0 + 0 = 0.0715
    plan = plan_quotes(inputs(fair=0.5, time_to_close_s=600.0, best_yes_bid=D("0.30"), best_yes_ask=D("0.70")), CFG)
    assert plan.half_spread == pytest.approx(0.02 + 0.3989423 * (10 / 600) ** 0.5, abs=1e-6)
    assert plan.yes_bid == D("0.42") and plan.no_bid == D("0.42")
    # a tight book: the YES bid joins one tick under the ask instead of crossing
    tight = plan_quotes(inputs(fair=0.9, best_yes_bid=D("0.60"), best_yes_ask=D("0.62")), CFG)
    assert tight.yes_bid == D("0.61")


def test_digital_fair_sd():
    assert digital_fair_sd(0.5, 10.0, 600.0) == pytest.approx(0.3989423 * (10 / 600) ** 0.5, rel=1e-6)
    assert digital_fair_sd(0.99, 10.0, 600.0) < digital_fair_sd(0.5, 10.0, 600.0)
    assert digital_fair_sd(0.5, 10.0, 60.0) > digital_fair_sd(0.5, 10.0, 600.0)
    assert digital_fair_sd(0.0, 10.0, 600.0) == 0.0 and digital_fair_sd(0.5, 10.0, 0.0) == 0.0


def test_needs_replace_has_hysteresis():
    cfg = MakerConfig(requote_threshold=0.01)
    assert not needs_replace(D("0.40"), D("0.41"), cfg)
    assert needs_replace(D("0.40"), D("0.42"), cfg)
    assert needs_replace(None, D("0.40"), cfg) and needs_replace(D("0.40"), None, cfg)
    assert not needs_replace(None, None, cfg)


def test_markout_sign():
    assert markout("yes", D("0.40"), 0.45) == pytest.approx(0.05)
    assert markout("no", D("0.40"), 0.45) == pytest.approx(0.15)
    assert markout("yes", D("0.40"), 0.30) == pytest.approx(-0.10)


def test_config_rejects_nonsense():
    with pytest.raises(ValueError):
        MakerConfig(max_position=D(0))
    with pytest.raises(ValueError):
        MakerConfig(base_half_spread=-0.01)
