"""Fill models: a taker walks the book's levels (partial when the depth runs out), a resting
order behind displayed size fills only after enough volume traded at its price, trades
through its price fill it, cancellations ahead shorten its queue, post-only crossing."""

from __future__ import annotations

from decimal import Decimal as D

from hypothesis import given, settings
from hypothesis import strategies as st

from kbot.execution.fills import BookView, QueuePosition, crosses, maker_fee, taker_fees, walk
from kbot.fees import trade_fee
from kbot.messages import Trade

BOOK = BookView(ticker="M",
                yes_asks=((D("0.44"), D(5)), (D("0.45"), D(10)), (D("0.47"), D(20))),
                no_asks=((D("0.58"), D(7)), (D("0.60"), D(30))))  # YES bids: 0.42 x 7, 0.40 x 30


def trade(yes_price: str, count: str, taker: str) -> Trade:
    return Trade(ts=1.0, ticker="M", trade_id="t", yes_price=D(yes_price), count=D(count), taker_side=taker, recv_ts=1.0)


def test_a_taker_walks_the_levels_up_to_its_limit():
    w = walk(BOOK, "yes", D(12), D("0.46"))
    assert w.fills == ((D("0.44"), D(5)), (D("0.45"), D(7))) and w.remaining == 0 and w.filled == 12
    w = walk(BOOK, "yes", D(40), D("0.45"))
    assert w.filled == 15 and w.remaining == 25  # the depth within the limit ran out: partial
    assert walk(BOOK, "yes", D(3), D("0.43")).fills == ()
    # what earlier simulated orders took is not there any more
    assert walk(BOOK, "yes", D(8), D("0.45"), consumed={D("0.44"): D(5)}).fills == ((D("0.45"), D(8)),)


def test_each_level_pays_its_own_fee():
    fees = taker_fees(((D("0.40"), D(5)), (D("0.41"), D(7))), multiplier=D(1))
    assert fees == (trade_fee(D(5), D("0.40")), trade_fee(D(7), D("0.41")))
    assert maker_fee(D("0.40"), D(5), charged=False) == 0
    assert maker_fee(D("0.40"), D(5), charged=True) == trade_fee(D(5), D("0.40"), maker=True) > 0


def test_bids_are_the_other_sides_asks_mirrored_and_post_only_crossing():
    assert BOOK.bids("yes") == ((D("0.42"), D(7)), (D("0.40"), D(30)))
    assert BOOK.displayed_bid("yes", D("0.42")) == 7 and BOOK.displayed_bid("yes", D("0.41")) == 0
    assert crosses(BOOK, "yes", D("0.44")) and not crosses(BOOK, "yes", D("0.43"))
    assert crosses(BOOK, "no", D("0.58")) and not crosses(BOOK, "no", D("0.57"))


def test_a_resting_order_behind_displayed_size_fills_only_after_the_queue_ahead_traded():
    q = QueuePosition.join(BOOK, "yes", D("0.42"), D(10))
    assert q.queue_ahead == 7
    assert q.on_trade(trade("0.42", "4", "yes")) == 0  # a YES buyer does not sell to our bid
    assert q.on_trade(trade("0.42", "4", "no")) == 0 and q.queue_ahead == 3  # eats the queue ahead
    assert q.on_trade(trade("0.43", "50", "no")) == 0  # a better bid than ours traded
    assert q.on_trade(trade("0.42", "5", "no")) == 2 and q.queue_ahead == 0 and q.remaining == 8
    assert q.on_trade(trade("0.41", "20", "no")) == 8 and q.remaining == 0  # traded through our price


def test_a_trade_through_our_price_means_the_queue_ahead_went_first():
    q = QueuePosition.join(BOOK, "yes", D("0.40"), D(10))
    assert q.queue_ahead == 30
    assert q.on_trade(trade("0.39", "4", "no")) == 4 and q.queue_ahead == 0


def test_cancellations_ahead_shorten_the_queue_unless_disabled():
    q = QueuePosition.join(BOOK, "yes", D("0.42"), D(10))
    thinner = BookView(ticker="M", yes_asks=BOOK.yes_asks, no_asks=((D("0.58"), D(2)),))
    q.on_book(thinner)
    assert q.queue_ahead == 2
    fixed = QueuePosition.join(BOOK, "yes", D("0.42"), D(10), shrink=False)
    fixed.on_book(thinner)
    assert fixed.queue_ahead == 7


def test_amend_keeps_priority_only_for_a_size_down_at_the_same_price():
    q = QueuePosition.join(BOOK, "yes", D("0.42"), D(10))
    q.on_trade(trade("0.42", "3", "no"))
    q.amend(BOOK, price=D("0.42"), remaining=D(6))
    assert (q.queue_ahead, q.remaining) == (4, 6)
    q.amend(BOOK, price=D("0.42"), remaining=D(9))
    assert q.queue_ahead == 7  # more size: to the back
    q.amend(BOOK, price=D("0.40"), remaining=D(9))
    assert q.queue_ahead == 30


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 60), st.lists(st.tuples(st.integers(37, 45), st.integers(1, 20), st.booleans()), max_size=30))
def test_property_a_queue_never_fills_more_than_traded_beyond_the_queue_ahead(size, trades):
    q = QueuePosition.join(BOOK, "yes", D("0.42"), D(size))
    ahead0 = q.queue_ahead
    reached = D(0)  # contracts traded at or through our price by sellers
    filled = D(0)
    for cents, n, seller in trades:
        t = trade(f"0.{cents}", str(n), "no" if seller else "yes")
        got = q.on_trade(t)
        filled += got
        if seller and cents <= 42:
            reached += n
        assert got >= 0 and filled <= size
    assert filled <= max(D(0), reached) and q.remaining == size - filled
    if all(c == 42 for c, _, s in trades if s):
        assert filled == min(D(size), max(D(0), reached - ahead0))


def test_an_order_joined_without_a_book_waits_for_the_first_book_or_a_trade_through():
    q = QueuePosition(side="yes", price=D("0.42"), remaining=D(5), queue_ahead=D("Infinity"), shrink=False)
    assert q.on_trade(trade("0.42", "100", "no")) == 0
    q.on_book(BOOK)
    assert q.queue_ahead == 7
    q2 = QueuePosition(side="yes", price=D("0.42"), remaining=D(5), queue_ahead=D("Infinity"))
    assert q2.on_trade(trade("0.41", "3", "no")) == 3
