"""The taker walk against a recorded book (pure) and the replay executor's latency."""

from __future__ import annotations

from decimal import Decimal as D

import attrs
import trio
from hypothesis import given
from hypothesis import strategies as st

from kbot.clock import ScaledClock
from kbot.fees import trade_fee
from kbot.replay.executor import ReplayTakerExecutor
from kbot.replay.fills import BookWalk, TakerOrder, walk
from tests.model.factories import edge

ASKS = ((D("0.40"), D("10")), (D("0.41"), D("5")), (D("0.43"), D("100")))


def order(count: str, limit: str | None = "0.41") -> TakerOrder:
    return TakerOrder(ticker="T", side="yes", count=D(count), limit=None if limit is None else D(limit))


def test_walks_levels_best_first_with_a_fee_per_fill():
    r = walk(order("12"), ASKS)
    assert [(f.price, f.count) for f in r.fills] == [(D("0.40"), D("10")), (D("0.41"), D("2"))]
    assert [f.fee for f in r.fills] == [trade_fee(D("10"), D("0.40")), trade_fee(D("2"), D("0.41"))]
    assert (r.filled, r.unfilled, r.reason) == (D("12"), D("0"), None)
    assert r.cost == D("4.82")


def test_partial_fill_when_depth_up_to_the_limit_runs_out():
    r = walk(order("20"), ASKS)
    assert (r.filled, r.unfilled, r.reason) == (D("15"), D("5"), "depth")  # 0.43 is above the limit


def test_no_fill_above_the_limit_or_without_a_book():
    assert walk(order("5", "0.39"), ASKS).reason == "above_limit"
    assert walk(order("5"), None).reason == "no_book"
    assert walk(order("5"), ()).reason == "no_book"
    assert walk(order("200", None), ASKS).filled == D("115")  # no limit: all the book shows, no more


levels = st.lists(st.tuples(st.integers(1, 99), st.integers(1, 500)), max_size=8, unique_by=lambda x: x[0]).map(
    lambda xs: tuple((D(p) / 100, D(q)) for p, q in sorted(xs)))


@given(asks=levels, count=st.integers(1, 1000), limit=st.integers(1, 99))
def test_never_a_price_the_book_did_not_show(asks, count, limit):
    r = walk(order(str(count), str(D(limit) / 100)), asks)
    shown = dict(asks)
    assert r.filled + r.unfilled == count
    for f in r.fills:
        assert f.price in shown and f.price <= D(limit) / 100 and 0 < f.count <= shown[f.price]
        assert f.fee == trade_fee(f.count, f.price)
    assert r.filled == sum(f.count for f in r.fills)
    # cheapest first: a level is taken only when every cheaper one was taken whole
    taken = [f.price for f in r.fills]
    assert taken == sorted(taken)


class Book:
    """Ask levels that change at given clock times."""

    def __init__(self, clock: ScaledClock, changes: list[tuple[float, tuple]]) -> None:
        self.clock, self.changes = clock, changes

    def asks(self, ticker: str, side: str):
        now = self.clock.now()
        current = None
        for t, lv in self.changes:
            if t <= now:
                current = lv
        return None if current is None else (current, "book")


async def test_a_take_fills_against_the_book_as_it_stood_latency_after_the_decision(autojump_clock):
    from tests.model.factories import T0

    clock = ScaledClock(epoch0=T0)
    # at the decision the ask is 0.40 x 10; 50 ms later it moved to 0.42 (above the limit), at
    # 150 ms back to 0.41 x 3
    book = Book(clock, [(T0, ((D("0.40"), D("10")),)), (T0 + 0.05, ((D("0.42"), D("10")),)),
                        (T0 + 0.15, ((D("0.41"), D("3")),))])
    e = edge()
    from kbot.messages import Decision

    def take(latency: float):
        d = Decision(decision_id=f"d-{latency}", ts=T0, ticker=e.ticker, action="TAKE", side="yes", count=D("5"),
                     limit_price=D("0.41"), prob_yes=0.6, ev=0.1, fee=D("0.1"), reasons=(), edge=e)
        return ReplayTakerExecutor(book, clock, BookWalk(), latency_s=latency).execute(d, clock.now())

    now_fills = await take(0.0)
    assert [(x.price, x.count) for x in now_fills if hasattr(x, "fill_id")] == [(D("0.40"), D("5"))]
    later = await take(0.1)  # the book at T0 + 0.1: nothing at or under 0.41
    assert not [x for x in later if hasattr(x, "fill_id")]
    assert later[-1].status == "canceled" and "above_limit" in later[-1].reason
    assert clock.now() >= T0 + 0.1
    last = await take(0.2)  # clock at T0 + 0.1 already: waits until T0 + 0.2, takes the 3 shown
    fills = [x for x in last if hasattr(x, "fill_id")]
    assert [(x.price, x.count, x.ts) for x in fills] == [(D("0.41"), D("3"), T0 + 0.2)]
    assert last[-1].status == "canceled" and last[-1].filled_count == D("3")
    assert attrs.has(type(last[-1]))
    await trio.lowlevel.checkpoint()
