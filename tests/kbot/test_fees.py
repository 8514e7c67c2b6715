"""Fee formula: worked examples for both roundings, maker fees, the per-order accumulator."""

from decimal import Decimal as D

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kbot.fees import FeeRounding, OrderFeeAccumulator, maker_fees_apply, raw_fee, trade_fee


@pytest.mark.parametrize(
    "count,price,mult,maker,centicent,cent",
    [
        # 0.07 * 100 * 0.45 * 0.55 = 1.7325
        ("100", "0.45", "1", False, "1.7325", "1.74"),
        # 0.07 * 10 * 0.5 * 0.5 = 0.175
        ("10", "0.50", "1", False, "0.1750", "0.18"),
        # 0.07 * 1 * 0.01 * 0.99 = 0.000693 -> a longshot still pays a whole cent classically
        ("1", "0.01", "1", False, "0.0007", "0.01"),
        # maker: 0.0175 * 2 * 0.67 * 0.33 = 0.0077385 -> 0.0078 (matches live maker fills)
        ("2", "0.67", "1", True, "0.0078", "0.01"),
        # multiplier 0.5 halves the model before rounding: 0.035*3*0.2*0.8 = 0.0168
        ("3", "0.20", "0.5", False, "0.0168", "0.02"),
        # fractional count: 0.07 * 0.30 * 0.5 * 0.5 = 0.00525
        ("0.30", "0.50", "1", False, "0.0053", "0.01"),
        ("5", "1", "1", False, "0.0000", "0.00"),
    ],
)
def test_worked_examples(count, price, mult, maker, centicent, cent):
    kw = dict(multiplier=D(mult), maker=maker)
    assert trade_fee(D(count), D(price), **kw) == D(centicent)
    assert trade_fee(D(count), D(price), rounding=FeeRounding.CENT, **kw) == D(cent)


def test_symmetric_in_yes_and_no_price():
    assert trade_fee(D(7), D("0.23")) == trade_fee(D(7), D("0.77"))


def test_invalid_inputs():
    with pytest.raises(ValueError):
        raw_fee(D(1), D("1.2"))
    with pytest.raises(ValueError):
        raw_fee(D(-1), D("0.5"))


@given(
    st.integers(min_value=0, max_value=10_000),
    st.integers(min_value=0, max_value=100),
)
def test_rounding_is_up_and_within_one_step(count, cents):
    p = D(cents) / 100
    raw = raw_fee(D(count), p)
    cc = trade_fee(D(count), p)
    c = trade_fee(D(count), p, rounding=FeeRounding.CENT)
    assert raw <= cc < raw + D("0.0001")
    assert raw <= c < raw + D("0.01")
    assert cc <= c


def test_maker_fee_types():
    assert maker_fees_apply("quadratic_with_maker_fees")
    assert not maker_fees_apply("quadratic")
    assert not maker_fees_apply(None)


def test_accumulator_direct_member_has_no_rounding_fee_on_cent_prices():
    acc = OrderFeeAccumulator()
    fee = trade_fee(D(10), D("0.45"))
    cash = acc.apply_fill(-D(10) * D("0.45"), fee)
    assert cash.balance_change == D("-4.5") - fee
    assert cash.rounding_fee == 0 and cash.rebate == 0


def test_accumulator_cent_precision_collects_and_rebates():
    acc = OrderFeeAccumulator(precision=D("0.01"))
    # each fill: -0.45 - 0.0173 = -0.4673 -> floored to -0.47, rounding fee 0.0027
    total_rounding = D(0)
    rebates = D(0)
    for _ in range(4):
        cash = acc.apply_fill(D("-0.45"), D("0.0173"))
        total_rounding += cash.rounding_fee
        rebates += cash.rebate
        assert cash.rounding_fee == D("0.0027")
    # 4 * 0.0027 = 0.0108 >= 0.01: one cent paid back, 0.0008 carried
    assert rebates == D("0.01") and acc.accumulated == D("0.0008")
    assert total_rounding - rebates >= 0
