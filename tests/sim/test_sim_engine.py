"""The matching engine: V2 order semantics and property tests on the book."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kbot.sim.book import ASK, BID, CANCELED, EXECUTED, FOK, GTC, IOC, RESTING, STP_MAKER, STP_TAKER, Order
from kbot.sim.engine import MatchingEngine, OrderRejected
from kbot.sim.events import BookDelta, Match, OrderUpdate

_ids = itertools.count(1)


def order(user: str, side: str, cents: int, count: int, tif: str = GTC, **kw) -> Order:
    return Order(order_id=f"o{next(_ids)}", user_id=user, ticker="T", side=side, price=cents * 100, initial=count * 100, tif=tif, **kw)


def matches(out: list) -> list[Match]:
    return [e for e in out if isinstance(e, Match)]


def test_price_time_priority_and_maker_price():
    eng = MatchingEngine("T")
    out: list = []
    a1 = order("m1", ASK, 55, 5)
    a2 = order("m2", ASK, 55, 5)
    a0 = order("m3", ASK, 54, 2)
    for o in (a1, a2, a0):
        eng.submit(o, 1.0, out)
    out.clear()
    taker = order("t", BID, 56, 8, IOC)
    eng.submit(taker, 2.0, out)
    ms = matches(out)
    # best price first (54), then the older order at 55, at the makers' prices
    assert [(m.maker.order_id, m.price, m.count) for m in ms] == [(a0.order_id, 5400, 200), (a1.order_id, 5500, 500), (a2.order_id, 5500, 100)]
    assert taker.status == EXECUTED and taker.filled == 800
    assert a2.remaining == 400 and a2.status == RESTING
    assert eng.book.levels(ASK) == [(5500, 400)]


def test_ioc_remainder_cancelled_gtc_rests():
    eng = MatchingEngine("T")
    out: list = []
    eng.submit(order("m", ASK, 60, 3), 0, out)
    ioc = order("t", BID, 60, 5, IOC)
    eng.submit(ioc, 1, out)
    assert ioc.filled == 300 and ioc.remaining == 0 and ioc.status == CANCELED
    gtc = order("t", BID, 60, 5)
    eng.submit(gtc, 2, out)
    assert gtc.status == RESTING and eng.book.levels(BID) == [(6000, 500)]


def test_fok_all_or_nothing():
    eng = MatchingEngine("T")
    out: list = []
    eng.submit(order("m", ASK, 60, 3), 0, out)
    out.clear()
    fok = order("t", BID, 60, 5, FOK)
    eng.submit(fok, 1, out)
    assert fok.status == CANCELED and fok.filled == 0 and not matches(out)
    assert eng.book.levels(ASK) == [(6000, 300)]
    fok2 = order("t", BID, 61, 3, FOK)
    eng.submit(fok2, 2, out)
    assert fok2.status == EXECUTED and fok2.filled == 300


def test_post_only_cross_rejected_and_book_unchanged():
    eng = MatchingEngine("T")
    out: list = []
    eng.submit(order("m", ASK, 60, 3), 0, out)
    with pytest.raises(OrderRejected) as exc:
        eng.submit(order("t", BID, 60, 1, post_only=True), 1, out)
    assert exc.value.status == 400 and exc.value.code == "invalid_order" and exc.value.details == "post only cross"
    assert eng.book.levels(BID) == [] and eng.book.levels(ASK) == [(6000, 300)]
    ok = order("t", BID, 59, 1, post_only=True)
    eng.submit(ok, 2, out)
    assert ok.status == RESTING


def test_stp_taker_at_cross_stops_and_keeps_prior_fills():
    eng = MatchingEngine("T")
    out: list = []
    other = order("x", ASK, 50, 2)
    mine = order("me", ASK, 51, 2)
    behind = order("y", ASK, 52, 2)
    for o in (other, mine, behind):
        eng.submit(o, 0, out)
    taker = order("me", BID, 55, 6, stp=STP_TAKER)
    out.clear()
    eng.submit(taker, 1, out)
    assert taker.filled == 200 and taker.status == CANCELED
    assert mine.status == RESTING and behind.remaining == 200
    ups = [e for e in out if isinstance(e, OrderUpdate) and e.order is taker]
    assert ups[-1].reason == "SelfTradeCancel"


def test_stp_maker_cancels_resting_and_continues_then_cancels_remainder():
    eng = MatchingEngine("T")
    out: list = []
    mine = order("me", ASK, 50, 2)
    other = order("x", ASK, 51, 2)
    for o in (mine, other):
        eng.submit(o, 0, out)
    taker = order("me", BID, 55, 6, stp=STP_MAKER)
    eng.submit(taker, 1, out)
    assert mine.status == CANCELED and mine.last_update_reason == "SelfTradeCancel"
    assert taker.filled == 200 and taker.remaining == 0 and taker.status == CANCELED
    assert eng.book.levels(BID) == [] and eng.book.levels(ASK) == []


def test_decrease_keeps_priority_amend_up_loses_it():
    eng = MatchingEngine("T")
    out: list = []
    first = order("a", BID, 40, 5)
    second = order("b", BID, 40, 5)
    eng.submit(first, 0, out)
    eng.submit(second, 0, out)
    eng.decrease(first, 300, 1, out)
    assert [o.order_id for o in eng.book.queue(BID, 4000)] == [first.order_id, second.order_id]
    eng.amend(first, 4000, 200, 2, out)  # size-down by amend (count = new total): keeps priority
    assert [o.order_id for o in eng.book.queue(BID, 4000)] == [first.order_id, second.order_id]
    assert first.remaining == 200
    eng.amend(first, 4000, 900, 3, out)  # size-up: to the back
    assert [o.order_id for o in eng.book.queue(BID, 4000)] == [second.order_id, first.order_id]
    assert eng.book.size_at(BID, 4000) == 1400


def test_amend_price_change_can_trade():
    eng = MatchingEngine("T")
    out: list = []
    eng.submit(order("m", ASK, 45, 2), 0, out)
    bid = order("t", BID, 40, 5)
    eng.submit(bid, 0, out)
    out.clear()
    eng.amend(bid, 4500, 500, 1, out)
    assert bid.filled == 200 and bid.remaining == 300 and bid.status == RESTING
    assert eng.book.levels(BID) == [(4500, 300)]


def test_expiry_and_cancel_all():
    eng = MatchingEngine("T")
    out: list = []
    a = order("a", BID, 30, 1, expiration_ts=100)
    b = order("b", BID, 31, 1)
    eng.submit(a, 0, out)
    eng.submit(b, 0, out)
    assert eng.expire(99, out) == []
    assert eng.expire(100, out) == [a] and a.last_update_reason == "ExpiryCancel"
    assert eng.cancel_all(101, "CloseCancel", out) == [b] and b.status == CANCELED
    assert eng.book.levels(BID) == []
    assert eng.cancel(b, 102, out) == 0  # already done: reduced_by 0


# ---------------------------------------------------------------------------- properties
op = st.one_of(
    st.tuples(
        st.just("place"),
        st.sampled_from(["u1", "u2", "u3"]),
        st.sampled_from([BID, ASK]),
        st.integers(1, 99),
        st.integers(1, 20),
        st.sampled_from([GTC, GTC, IOC, FOK]),
        st.sampled_from([STP_TAKER, STP_MAKER]),
        st.booleans(),
    ),
    st.tuples(st.just("cancel"), st.integers(0, 50)),
    st.tuples(st.just("decrease"), st.integers(0, 50), st.integers(0, 20)),
    st.tuples(st.just("amend"), st.integers(0, 50), st.integers(1, 99), st.integers(1, 30)),
)


def _check_book(eng: MatchingEngine) -> None:
    book = eng.book
    assert not book.crossed()
    for side in (BID, ASK):
        for price, size in book.levels(side):
            q = book.queue(side, price)
            assert size == sum(o.remaining for o in q) > 0
            assert all(o.status == RESTING and o.remaining > 0 and o.price == price for o in q)
    assert set(eng.resting) == {o.order_id for o in book.orders()}


@settings(max_examples=1000, deadline=None)
@given(st.lists(op, max_size=60))
def test_engine_invariants(ops):
    eng = MatchingEngine("T")
    placed: list[Order] = []
    level_sizes: dict[tuple[str, int], int] = {}
    for i, o in enumerate(ops):
        out: list = []
        now = float(i)
        try:
            if o[0] == "place":
                _, user, side, cents, count, tif, stp, post = o
                new = order(user, side, cents, count, tif, stp=stp, post_only=post and tif == GTC)
                placed.append(new)
                eng.submit(new, now, out)
            elif placed:
                target = placed[o[1] % len(placed)]
                if o[0] == "cancel":
                    eng.cancel(target, now, out)
                elif o[0] == "decrease" and target.status == RESTING:
                    eng.decrease(target, min(o[2] * 100, target.remaining - 1), now, out)
                elif o[0] == "amend" and target.status == RESTING:
                    eng.amend(target, o[2] * 100, target.filled + o[3] * 100, now, out)
        except OrderRejected:
            assert not any(isinstance(e, (Match, BookDelta)) for e in out)
        for e in out:
            if isinstance(e, Match):
                # at the maker's price, never worse than the taker's limit, never a self-trade
                assert e.price == e.maker.price
                assert e.price <= e.taker.price if e.taker.side == BID else e.price >= e.taker.price
                assert e.taker.user_id != e.maker.user_id and e.taker.side != e.maker.side
                assert e.count > 0
            if isinstance(e, BookDelta):
                key = (e.side, e.price)
                level_sizes[key] = level_sizes.get(key, 0) + e.delta
        _check_book(eng)
        # the signed deltas rebuild the book exactly
        rebuilt = {k: v for k, v in level_sizes.items() if v}
        actual = {(side, p): s for side in (BID, ASK) for p, s in eng.book.levels(side)}
        assert rebuilt == actual
    for o in placed:
        assert o.filled + o.remaining <= o.initial or o.last_update_reason == "Amend"
        assert o.filled >= 0 and o.remaining >= 0
        if o.status != RESTING:
            assert o.remaining == 0
