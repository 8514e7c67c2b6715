"""Fee-aware EV (worked examples, both roundings, size dependence, maker) and Kelly sizing
with every cap."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kbot.fees import FeeRounding
from kbot.model.config import SizingConfig
from kbot.model.ev import maker_ev, side_ev, taker_ev_values, taker_evs
from kbot.model.sizing import kelly_full, ramp, size_order


def test_taker_ev_worked_examples():
    # p = 0.60, YES ask 0.50, 1 contract: fee ceil4(0.07*0.25) = 0.0175 -> EV 0.10 - 0.0175
    yes, no = taker_evs(0.60, D("0.50"), D("0.52"), D(1))
    assert yes.fee == D("0.0175") and yes.ev == pytest.approx(0.0825)
    # NO at 0.52 with q = 0.40: fee ceil4(0.07*0.52*0.48) = ceil4(0.017472) = 0.0175
    assert no.fee == D("0.0175") and no.ev == pytest.approx(0.40 - 0.52 - 0.0175)
    # classic cent rounding: 1 contract pays a whole 2 cents
    yes_c, _ = taker_evs(0.60, D("0.50"), None, D(1), rounding=FeeRounding.CENT)
    assert yes_c.fee == D("0.02") and yes_c.ev == pytest.approx(0.08)


def test_ev_depends_on_size_through_rounding():
    one = side_ev("yes", 0.5, D("0.10"), D(1), rounding=FeeRounding.CENT)  # 0.0063 -> 0.01
    hundred = side_ev("yes", 0.5, D("0.10"), D(100), rounding=FeeRounding.CENT)  # 0.63 -> 0.63
    assert one.fee_per_contract == pytest.approx(0.01)
    assert hundred.fee_per_contract == pytest.approx(0.0063)
    assert hundred.ev > one.ev


def test_multiplier_and_missing_or_degenerate_sides():
    half = side_ev("yes", 0.5, D("0.50"), D(10), multiplier=D("0.5"))
    assert half.fee == D("0.0875")
    yes, no = taker_evs(0.5, None, D("1"), D(1))
    assert yes is None and no is None


def test_maker_ev_only_charges_where_maker_fees_apply():
    free = maker_ev("yes", 0.6, D("0.55"), D(2), fee_type="quadratic")
    assert free.fee == 0 and free.ev == pytest.approx(0.05)
    paid = maker_ev("yes", 0.6, D("0.67"), D(2), fee_type="quadratic_with_maker_fees")
    assert paid.fee == D("0.0078")  # matches live maker fills (fees reference)


@given(st.floats(0.01, 0.99), st.integers(1, 99), st.integers(1, 500))
@settings(deadline=None)
def test_yes_and_no_ev_are_mirror_images_at_complementary_prices(p, cents, n):
    price = D(cents) / 100
    yes, no = taker_evs(p, price, D(1) - price, D(n))
    # same fee (P(1-P) symmetric), EVs of opposite bets at a zero-spread book sum to -2 fees
    assert yes.fee == no.fee
    assert yes.ev + no.ev == pytest.approx(-2 * yes.fee_per_contract, abs=1e-12)


def test_kelly_binary_contract():
    assert kelly_full(0.6, 0.5) == pytest.approx(0.2)
    assert kelly_full(0.4, 0.5) == 0.0
    assert kelly_full(0.9, 1.0) == 0.0
    # the fee folded into the price shrinks the bet
    assert kelly_full(0.6, 0.5175) < kelly_full(0.6, 0.5)


def test_ramp():
    assert ramp(0.02, 0.02, 0.10) == 0.0
    assert ramp(0.06, 0.02, 0.10) == pytest.approx(0.5)
    assert ramp(0.5, 0.02, 0.10) == 1.0


def base_size(**kw):
    args = dict(
        prob_side=0.70,
        price=D("0.50"),
        fee_per_contract=0.0175,
        ev=0.1825,
        min_ev=0.02,
        balance=D(1000),
        total_exposure=D(0),
        market_exposure=D(0),
        depth=D(10_000),
        liquidity_fraction=0.5,
        config=SizingConfig(kelly_fraction=0.25, full_kelly_edge=0.10, max_contracts_per_order=D(10_000)),
    )
    args.update(kw)
    return size_order(**args)


def test_kelly_count_uncapped():
    r = base_size()
    # f* = (0.7 - 0.5175)/(1 - 0.5175) = 0.378238..., f = 0.25 * f*; 1000 * f / 0.5175 = 182.7 -> 182
    assert r.kelly_full == pytest.approx((0.7 - 0.5175) / 0.4825)
    assert r.count == D(182) and str(r.count) == "182"
    assert dict(r.caps)["risk_market_exposure"] == D(200)  # 100 / 0.50, not binding
    assert r.reasons == ()
    assert base_size(config=SizingConfig(max_market_exposure=D(50))).count == D(100)


def test_every_binding_cap_is_reported():
    cfg = SizingConfig(max_market_exposure=D(10), max_total_exposure=D(50))
    r = base_size(config=cfg, market_exposure=D(10), total_exposure=D(50), balance=D("0.40"), depth=D(1))
    assert r.count == 0
    assert set(r.reasons) == {"risk_market_exposure", "risk_total_exposure", "insufficient_balance", "liquidity"}
    caps = dict(r.caps)
    assert caps["liquidity"] == 0 and caps["max_order"] == 100


def test_unknown_depth_allows_nothing_and_small_edge_sizes_zero():
    assert "liquidity" in base_size(depth=None).reasons
    tiny = base_size(ev=0.0201, prob_side=0.5376)
    assert tiny.count == 0 and tiny.reasons == ("size_zero",)
    below = base_size(ev=0.01, prob_side=0.53)
    assert below.count == 0 and "size_zero" not in below.reasons


@given(
    st.floats(0.05, 0.95),
    st.integers(5, 95),
    st.integers(0, 5000),
    st.integers(0, 500),
    st.integers(0, 200),
)
@settings(deadline=None)
def test_size_never_breaches_a_cap(p, cents, balance, exposure, depth):
    cfg = SizingConfig()
    price = D(cents) / 100
    ev = p - float(price) - 0.02
    r = base_size(
        prob_side=p,
        price=price,
        fee_per_contract=0.02,
        ev=ev,
        balance=D(balance),
        total_exposure=D(exposure),
        market_exposure=D(exposure) / 10,
        depth=D(depth),
        config=cfg,
    )
    assert r.count >= 0 and r.count == r.count.to_integral_value()
    if r.count:
        assert r.count <= cfg.max_contracts_per_order
        assert D(exposure) / 10 + r.count * price <= cfg.max_market_exposure
        assert D(exposure) + r.count * price <= cfg.max_total_exposure
        assert r.count * (price + D("0.02")) <= D(balance) + D("0.000001")
        assert r.count <= D(depth) / 2


@settings(max_examples=300, deadline=None)
@given(
    st.floats(0.0, 1.0),
    st.one_of(st.none(), st.integers(-5, 105).map(lambda c: D(c) / 100),
              st.integers(0, 10000).map(lambda c: D(c) / 10000)),
    st.one_of(st.none(), st.integers(-5, 105).map(lambda c: D(c) / 100)),
    st.integers(1, 500).map(D),
    st.sampled_from([None, D("0.5"), D(1), D("1.75")]),
    st.sampled_from(list(FeeRounding)),
)
def test_taker_ev_values_are_taker_evs_to_the_bit(p, yes_ask, no_ask, count, mult, rounding):
    """The pricers' record-free EVs give exactly what ``taker_evs`` gives (``ev``, ``fee_per_contract``)."""
    y, n = taker_evs(p, yes_ask, no_ask, count, multiplier=mult, rounding=rounding)
    assert taker_ev_values(p, yes_ask, no_ask, count, mult, rounding) == (
        None if y is None else y.ev, None if y is None else y.fee_per_contract,
        None if n is None else n.ev, None if n is None else n.fee_per_contract)
