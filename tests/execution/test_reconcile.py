"""Reconciliation (pure): a difference must be seen twice before it is a mismatch; nothing is
concluded from an incomplete listing or a missing row; a mismatch halts its market (the whole
account for cash) until it clears; adoption hands the ledger a change; settlements checked."""

from __future__ import annotations

from decimal import Decimal as D

from kbot.execution.reconcile import (
    ALL,
    LedgerView,
    Reconciler,
    VenueSnapshot,
    balance_diff,
    check_orders,
    missing_rows,
    position_diffs,
    settlement_diffs,
)
from kbot.messages import OrderEvent, VenueSettlement


def ledger(positions=None, cash="100") -> LedgerView:
    return LedgerView(ts=1.0, positions=positions or {}, cash=D(cash))


def snap(positions=None, balance="100", confirmed=None, settlements=None) -> VenueSnapshot:
    return VenueSnapshot(ts=1.0, positions=positions, balance=None if balance is None else D(balance),
                         confirmed=confirmed or {}, settlements=settlements or {})


def judge(r: Reconciler, led: LedgerView, v: VenueSnapshot, now: float):
    diffs, checked = position_diffs(led, v)
    keys = {("position", t) for t in checked}
    b = balance_diff(led, v)
    if v.balance is not None:
        keys.add(("balance", None))
    return r.judge(diffs + ([b] if b else []), keys, now, ref=f"r{now}")


def test_a_difference_seen_once_is_not_a_mismatch_twice_it_is_and_it_halts_until_it_clears():
    r = Reconciler("live")
    led = ledger({"A": D(5)})
    v = snap({"A": D(3)})
    assert judge(r, led, v, 1.0) == ([], [])  # first sighting: the venue may lag a fill
    findings, adjust = judge(r, led, v, 2.0)
    assert [(f.kind, f.ticker, f.status, f.ledger, f.venue) for f in findings] == [("position", "A", "mismatch", "5", "3")]
    assert adjust == [] and r.is_halted("A") and not r.is_halted("B")
    assert judge(r, led, v, 3.0) == ([], [])  # reported once, not every pass
    findings, _ = judge(r, led, snap({"A": D(5)}), 4.0)
    assert [f.status for f in findings] == ["cleared"] and not r.is_halted("A")


def test_a_difference_that_changes_between_passes_is_not_confirmed():
    r = Reconciler("live")
    judge(r, ledger({"A": D(5)}), snap({"A": D(3)}), 1.0)
    assert judge(r, ledger({"A": D(5)}), snap({"A": D(4)}), 2.0) == ([], [])


def test_nothing_is_concluded_from_an_incomplete_listing_or_a_missing_row():
    led = ledger({"A": D(5)})
    assert position_diffs(led, snap(None)) == ([], set())
    assert missing_rows(led, snap({})) == ["A"]
    assert position_diffs(led, snap({})) == ([], set())  # missing: not flat
    diffs, checked = position_diffs(led, snap({}, confirmed={"A": D(0)}))
    assert checked == {"A"} and [(d.ledger, d.venue) for d in diffs] == [(D(5), D(0))]
    diffs, _ = position_diffs(led, snap({}, confirmed={"A": None}))
    assert diffs[0].venue is None and not diffs[0].adoptable


def test_adoption_hands_the_ledger_the_change_and_clears():
    r = Reconciler("live", adopt=True)
    led, v = ledger({"A": D(5)}, cash="100"), snap({"A": D(3)}, balance="97.5")
    judge(r, led, v, 1.0)
    findings, adjust = judge(r, led, v, 2.0)
    assert sorted(f.status for f in findings) == ["adopted", "adopted"]
    assert {(a.kind, a.ticker, a.change) for a in adjust} == {("position", "A", D(-2)), ("cash", None, D("-2.5"))}
    assert not r.halted


def test_a_cash_mismatch_halts_the_whole_account():
    r = Reconciler("paper")
    judge(r, ledger(cash="100"), snap({}, balance="99"), 1.0)
    judge(r, ledger(cash="100"), snap({}, balance="99"), 2.0)
    assert r.is_halted("ANY") and ALL in r.halted


def test_settlements_are_checked_against_the_venues_records():
    vs = VenueSettlement(ts=1.0, ticker="A", event_ticker=None, result="yes", yes_count=D(5), no_count=D(0),
                         yes_cost=D(2), no_cost=D(0), revenue=D(5), fee=D(0))
    assert settlement_diffs({"A": ("yes", D(5))}, {"A": vs}) == ([], {"A"})
    diffs, _ = settlement_diffs({"A": ("yes", D(3))}, {"A": vs})
    assert diffs[0].kind == "settlement" and diffs[0].ledger == "3 yes" and diffs[0].venue == "5 yes"
    diffs, _ = settlement_diffs({"A": ("no", D(5))}, {"A": vs})
    assert diffs and not diffs[0].adoptable


def test_orders_kbot_knows_the_venue_does_not_list_are_misses_not_cancels():
    ev = OrderEvent(ts=1.0, order_id="v2", client_order_id="kb-d2", decision_id=None, ticker="A", side="yes",
                    action="buy", count=D(1), price=D("0.5"), status="resting", mode="live")
    foreign = OrderEvent(ts=1.0, order_id="v3", client_order_id="manual", decision_id=None, ticker="B",
                         side="no", action="buy", count=D(1), price=D("0.5"), status="resting", mode="live")
    oc = check_orders({"v1": "kb-d1"}, {"v2": ev, "v3": foreign}, ours={"v1"}, is_ours=lambda c: c.startswith("kb-"))
    assert oc.missing == ("v1",) and oc.adopt == (ev,) and oc.foreign == (foreign,)
    assert check_orders({"v1": "kb-d1"}, None, ours={"v1"}, is_ours=lambda c: True).missing == ()
