"""Member ledger: netting cash flows, fee rounding, settlement, conservation of money."""

from __future__ import annotations

import itertools
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from kbot.fees import trade_fee
from kbot.sim.accounts import Account
from kbot.sim.book import ASK, BID, Order

D = Decimal
_ids = itertools.count()


def _order(user: str, side: str, cents: int) -> Order:
    return Order(order_id=f"o{next(_ids)}", user_id=user, ticker="T", side=side, price=cents * 100, initial=10**6, exchange_index=2)


def test_buy_yes_then_sell_yes_realizes_pnl():
    a = Account("a", balances={2: D("100")})
    buy = _order("a", BID, 40)
    a.apply_fill(buy, "E", 4000, 1000, D("0"), 1.0)  # 10 @ 0.40
    assert a.balance(2) == D("96.0000")
    assert a.positions["T"].position == 1000 and a.positions["T"].yes_cost_u6 == 4_000_000
    sell = _order("a", ASK, 55)
    res = a.apply_fill(sell, "E", 5500, 400, D("0"), 2.0)  # sell 4 @ 0.55
    assert res.closed == 400 and res.opened == 0
    assert a.balance(2) == D("98.2000")
    assert a.positions["T"].position == 600
    assert a.positions["T"].realized_pnl == D("0.60")


def test_sell_yes_when_flat_opens_no_and_pair_redeems():
    a = Account("a", balances={2: D("100")})
    a.apply_fill(_order("a", ASK, 70), "E", 7000, 1000, D("0"), 1.0)  # buy 10 NO @ 0.30
    assert a.balance(2) == D("97.0000") and a.positions["T"].position == -1000
    # buying YES @ 0.20 closes NO: each pair is worth $1, so +0.80 per contract
    a.apply_fill(_order("a", BID, 20), "E", 2000, 1000, D("0"), 2.0)
    assert a.balance(2) == D("105.0000") and a.positions["T"].position == 0
    assert a.positions["T"].realized_pnl == D("5.00")


def test_settlement_pays_whole_dollars_and_closes():
    a = Account("a", balances={2: D("10")})
    a.apply_fill(_order("a", BID, 30), "E", 3000, 250, D("0"), 1.0)  # 2.5 YES @ 0.30
    rec = a.settle("T", "yes", 5.0)
    assert rec is not None and rec.revenue_cents == 250 and rec.value_cents == 100
    assert a.balance(2) == D("10") - D("0.75") + D("2.50")
    assert a.positions["T"].position == 0 and a.positions["T"].settled
    assert a.settle("T", "yes", 6.0) is None  # exactly once


def test_fee_rounding_accumulator_rebates():
    a = Account("a", balances={2: D("100")})
    o = _order("a", BID, 50)
    fee = trade_fee(D("0.01"), D("0.50"))  # 0.07*0.01*0.25 = 0.000175 -> 0.0002
    assert fee == D("0.0002")
    for i in range(5):
        a.apply_fill(o, "E", 5000, 1, fee, float(i))
    # each fill: -0.005 - 0.0002 = -0.0052 exactly at $0.0001 precision, no rounding fee
    assert a.balance(2) == D("100") - 5 * D("0.0052")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(1, 99), st.integers(1, 500), st.integers(0, 2)), max_size=40), st.sampled_from(["yes", "no"]))
def test_money_is_conserved(fills, result):
    """sum(balances) + fees kept + $1 per open contract pair == deposits, always."""
    users = [Account(u, balances={2: D("1000")}) for u in ("a", "b", "c")]
    deposited = sum(u.balance() for u in users)
    fees_kept = D(0)
    for buyer_first, cents, count, k in fills:
        buyer, seller = users[k], users[(k + 1) % 3]
        price = cents * 100
        fee = trade_fee(D(count) / 100, D(cents) / 100)
        for acct, side, f in ((buyer, BID, fee), (seller, ASK, D(0))):
            before = acct.balance()
            res = acct.apply_fill(_order(acct.user_id, side, cents), "E", price, count, f, 0.0)
            unit = price if side == BID else 10_000 - price
            revenue = D(res.closed * (10_000 - unit) - res.opened * unit) / 10**6
            fees_kept += revenue - (acct.balance() - before)
        longs = sum(max(u.positions["T"].position, 0) for u in users if "T" in u.positions)
        shorts = sum(max(-u.positions["T"].position, 0) for u in users if "T" in u.positions)
        assert longs == shorts
        assert sum(u.balance() for u in users) + fees_kept + D(longs) / 100 == deposited
    for u in users:
        u.settle("T", result, 1.0)
    assert sum(u.balance() for u in users) + fees_kept == deposited
