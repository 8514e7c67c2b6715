"""Ledger accounting: worked examples, netting, settlement exactly once, and a property test
that cash always reconciles with realized PnL and open cost."""

from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kbot.ledger import Book
from kbot.messages import Fill, MarketSettled


def fill(fid, ticker, side, count, price, fee="0", action="buy", ts=100.0):
    return Fill(fill_id=fid, order_id="o" + fid, ts=ts, ticker=ticker, side=side, action=action,
                count=D(count), price=D(price), fee=D(fee), is_taker=True, mode="shadow")


def settled(ticker, result, ts=200.0):
    return MarketSettled(ts=ts, ticker=ticker, result=result,
                         settlement_value=D(1) if result == "yes" else D(0), source="ws", final=True)


def test_buy_then_settle_yes_wins():
    b = Book("shadow", D(100))
    b.deposit(0.0)
    a = b.apply_fill(fill("f1", "M", "yes", "10", "0.40", fee="0.1680"), "2026-11-21")
    assert b.cash == D("100") - D("4.00") - D("0.1680")
    pos = a.position
    assert (pos.count, pos.cost, pos.avg_price, pos.fees, pos.status) == (D(10), D("4.00"), D("0.40"), D("0.1680"), "open")
    assert [e.kind for e in a.entries] == ["buy", "fee"]
    assert sum(e.amount for e in a.entries) == D("-4.1680")
    assert b.exposure() == D("4.00")
    m = b.mark("M", yes_bid=D("0.45"), no_bid=D("0.53"), ts=150.0)
    assert m.unrealized_pnl == D("0.50") and m.mark_price == D("0.45")
    assert b.equity() == b.cash + D("4.50")
    s = b.settle(settled("M", "yes"), "2026-11-21")
    assert s.realized == D("10") - D("4.00") - D("0.1680")
    assert b.cash == D("100") + s.realized
    assert s.position.status == "settled" and s.position.result == "yes" and s.position.unrealized_pnl is None
    assert b.daily_realized("2026-11-21") == s.realized
    # exactly once
    again = b.settle(settled("M", "yes"), "2026-11-21")
    assert again.entries == () and b.cash == D("100") + s.realized
    assert b.exposure() == 0


def test_no_position_loses_when_yes():
    b = Book("shadow")
    b.apply_fill(fill("f1", "M", "no", "5", "0.30", fee="0.0735"), "d")
    s = b.settle(settled("M", "yes"), "d")
    assert s.realized == D("-1.50") - D("0.0735")
    assert b.cash == s.realized


def test_duplicate_fill_is_ignored():
    b = Book("shadow")
    b.apply_fill(fill("f1", "M", "yes", "1", "0.5"), "d")
    again = b.apply_fill(fill("f1", "M", "yes", "1", "0.5"), "d")
    assert again.entries == () and b.position("M").count == 1


def test_buying_other_side_nets_and_realizes():
    b = Book("shadow")
    b.apply_fill(fill("f1", "M", "yes", "10", "0.40"), "d")
    # buying NO at 0.50 == selling YES at 0.50: +0.10 per contract on 4 contracts
    a = b.apply_fill(fill("f2", "M", "no", "4", "0.50"), "d")
    assert a.realized == D("0.40")
    p = a.position
    assert (p.side, p.count, p.cost) == ("yes", D(6), D("2.40"))
    # flip: buy 10 NO at 0.70 -> closes 6 YES at 0.30 (loss 0.60) and opens 4 NO
    a = b.apply_fill(fill("f3", "M", "no", "10", "0.70"), "d")
    assert a.realized == D("6") * (D("0.30") - D("0.40"))
    p = a.position
    assert (p.side, p.count, p.cost) == ("no", D(4), D("2.80"))


def test_sell_is_buying_the_other_side():
    b = Book("shadow")
    b.apply_fill(fill("f1", "M", "yes", "2", "0.40"), "d")
    a = b.apply_fill(fill("f2", "M", "yes", "2", "0.55", action="sell"), "d")
    assert a.realized == D("0.30") and a.position.count == 0
    assert b.cash == D("0.30")


def test_void_returns_cost():
    b = Book("shadow")
    b.apply_fill(fill("f1", "M", "yes", "3", "0.20", fee="0.01"), "d")
    s = b.settle(MarketSettled(ts=1, ticker="M", result="void", settlement_value=D(0), source="rest"), "d")
    assert s.realized == D("-0.01") and b.cash == D("-0.01")


def test_invalid_fill_rejected():
    b = Book("shadow")
    with pytest.raises(ValueError):
        b.apply_fill(fill("f1", "M", "yes", "0", "0.5"), "d")
    with pytest.raises(ValueError):
        b.apply_fill(fill("f2", "M", "yes", "1", "1.5"), "d")


def test_restore_roundtrip():
    b = Book("shadow", D(50))
    b.deposit(0)
    b.apply_fill(fill("f1", "A", "yes", "3", "0.30", fee="0.02"), "d")
    b.apply_fill(fill("f2", "B", "no", "2", "0.60", fee="0.02"), "d")
    b.settle(settled("B", "no"), "d")
    c = Book("shadow")
    c.restore([b.position("A"), b.position("B")], b.cash, applied_fills=b.applied_fills, settled=b.settled,
              realized_by_day=b.realized_by_day)
    assert c.equity() == b.equity() and c.exposure() == b.exposure()
    assert c.settle(settled("B", "no"), "d").entries == ()
    assert c.apply_fill(fill("f1", "A", "yes", "3", "0.30"), "d").entries == ()


prices = st.integers(min_value=1, max_value=99).map(lambda c: D(c) / 100)
counts = st.integers(min_value=1, max_value=50).map(D)
fees = st.integers(min_value=0, max_value=200).map(lambda c: D(c) / 10000)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from(["A", "B"]), st.sampled_from(["yes", "no"]), counts, prices, fees,
                       st.sampled_from(["buy", "sell"])), min_size=1, max_size=25),
    st.sampled_from(["yes", "no"]),
)
def test_cash_reconciles_with_realized_and_open_cost(trades, result):
    b = Book("shadow")
    for i, (t, side, c, p, f, action) in enumerate(trades):
        b.apply_fill(fill(str(i), t, side, c, p, f, action=action), "d")
        open_cost = sum((q.cost + q.fees for q in b.positions.values() if q.status == "open"), D(0))
        realized = sum((q.realized_pnl for q in b.positions.values()), D(0))
        assert b.cash == realized - open_cost
        for q in b.positions.values():
            assert q.count >= 0 and q.cost >= 0
    for t in ("A", "B"):
        b.settle(settled(t, result), "d")
    total_realized = sum((q.realized_pnl for q in b.positions.values()), D(0))
    assert b.cash == total_realized == b.daily_realized("d")
    assert b.exposure() == 0


def test_a_settlement_stamped_before_the_last_fill_still_closes_the_position_record():
    """The positions table keeps the newest ts per position: a settlement reported with an
    older ts than the last fill (a REST sweep that began before the fill) must produce a
    record at least as new as the fill's, or the open record would win."""
    b = Book("shadow", D(100))
    b.deposit(0.0)
    opened = b.apply_fill(fill("f1", "M", "no", "44", "0.57", ts=300.0), "2026-11-21").position
    s = b.settle(settled("M", "no", ts=250.0), "2026-11-21")
    assert s.position.status == "settled"
    assert s.position.ts >= opened.ts
    assert all(e.ts >= opened.ts for e in s.entries)


def test_a_fill_for_a_settled_market_is_refused_without_touching_the_book():
    """Validate first, mutate after: the refused fill leaves cash, the position and the set of
    applied fills as they were (before the fix, cash was debited and the fill marked applied)."""
    b = Book("shadow", D(100))
    b.deposit(0.0)
    b.apply_fill(fill("f1", "M", "yes", "2", "0.40", fee="0.02"), "d")
    b.settle(settled("M", "yes"), "d")
    cash, pos, applied = b.cash, b.position("M"), set(b.applied_fills)
    with pytest.raises(ValueError, match="already settled"):
        b.apply_fill(fill("f2", "M", "yes", "3", "0.50", fee="0.03"), "d")
    assert (b.cash, b.position("M"), b.applied_fills) == (cash, pos, applied)
    # and a market settled while flat cannot be reopened either (it would stay open forever)
    b.settle(settled("N", "no"), "d")
    with pytest.raises(ValueError, match="already settled"):
        b.apply_fill(fill("f3", "N", "no", "1", "0.50"), "d")
    assert b.position("N") is None and b.cash == cash
    # the refused fill was not marked applied: nothing to "re-apply" later either
    assert "f2" not in b.applied_fills and "f3" not in b.applied_fills


def test_cash_kinds_are_the_one_definition_of_cash():
    from kbot.ledger import CASH_KINDS, KINDS, cash_balance, moves_cash

    assert "realized_pnl" not in CASH_KINDS and moves_cash("buy") and not moves_cash("realized_pnl")
    b = Book("shadow", D(100))
    entries = [b.deposit(0.0)]
    entries += b.apply_fill(fill("f1", "M", "yes", "10", "0.40", fee="0.17"), "d").entries
    entries += b.apply_fill(fill("f2", "M", "no", "4", "0.55", fee="0.05"), "d").entries  # nets 4
    entries += b.settle(settled("M", "yes"), "d").entries
    assert {e.kind for e in entries} <= KINDS
    assert {e.kind for e in entries} >= {"deposit", "buy", "fee", "sell", "settlement", "realized_pnl"}
    assert cash_balance(entries) == b.cash
    assert sum(e.amount for e in entries) != b.cash  # realized_pnl is not cash


def test_unwind_returns_the_cost_once_and_keeps_the_fees_lost():
    b = Book("shadow", D(100))
    b.deposit(0.0)
    b.apply_fill(fill("f1", "M", "no", "5", "0.30", fee="0.07", ts=120.0), "d")
    u = b.unwind("M", 110.0, "d", "the simulated world ended")
    assert [e.kind for e in u.entries] == ["unwind", "realized_pnl"]
    assert u.realized == D("-0.07") and b.cash == D(100) - D("0.07")
    assert u.position.status == "unwound" and u.position.closed_ts == 120.0 and u.position.ts == 120.0
    assert b.exposure() == 0 and b.open_positions() == []
    assert b.unwind("M", 130.0, "d", "again").entries == ()
    assert b.settle(settled("M", "yes"), "d").entries == ()  # closed for good
    with pytest.raises(ValueError):
        b.apply_fill(fill("f2", "M", "no", "1", "0.30"), "d")
    assert b.unwind("X", 1.0, "d", "no position").entries == ()


def test_a_late_fill_still_updates_the_position_record():
    b = Book("shadow")
    b.apply_fill(fill("f1", "M", "yes", "1", "0.40", ts=200.0), "d")
    late = b.apply_fill(fill("f0", "M", "yes", "1", "0.40", ts=150.0), "d")
    assert late.position.ts == 200.0 and late.position.count == 2
