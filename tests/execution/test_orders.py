"""The order manager: client order ids from decision ids, the order state machine (property
tests: no illegal transition, filled never beyond the order, each fill once), fills in and
position deltas out, fills after settlement refused."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kbot.execution.orders import (
    OPEN,
    TERMINAL,
    TRANSITIONS,
    IllegalTransition,
    OrderManager,
    OrderSpec,
    OrderState,
    client_order_id,
    decision_of,
)
from kbot.messages import Fill, OrderEvent

S = OrderState


def spec(count: str = "10", price: str = "0.40", side: str = "yes", tif: str = "immediate_or_cancel") -> OrderSpec:
    return OrderSpec(ticker="M", side=side, count=D(count), price=D(price), time_in_force=tif)  # type: ignore[arg-type]


def fill(fid: str, count: str, order_id: str = "v1", ticker: str = "M", price: str = "0.40", side: str = "yes") -> Fill:
    return Fill(fill_id=fid, order_id=order_id, ts=1.0, ticker=ticker, side=side, action="buy",  # type: ignore[arg-type]
                count=D(count), price=D(price), fee=D("0.01"), is_taker=True, mode="live")


def venue(status: str, filled: str, order_id: str = "v1", cid: str = "kb-d1", count: str = "10",
          reason: str | None = None) -> OrderEvent:
    return OrderEvent(ts=2.0, order_id=order_id, client_order_id=cid, decision_id=None, ticker="M", side="yes",
                      action="buy", count=D(count), price=D("0.40"), status=status, mode="live",
                      filled_count=D(filled), reason=reason)


def test_client_order_ids_derive_from_decisions_and_back():
    assert client_order_id("kb", "d-abc") == "kb-d-abc"
    assert decision_of("kb", "kb-d-abc") == "d-abc"
    assert decision_of("kb", "kb-d-abc~r2") == "d-abc"
    assert decision_of("kb", "someone-else") is None and decision_of("kb", "kb-") is None


def test_a_decision_gets_one_order_ever():
    m = OrderManager("live")
    o = m.open("d1", spec(), 0.0)
    assert o is not None and o.client_order_id == "kb-d1" and o.state is S.PENDING
    assert m.open("d1", spec(), 1.0) is None


def test_nothing_is_recorded_before_the_venue_names_the_order_except_a_refusal():
    m = OrderManager("live")
    o = m.open("d1", spec(), 0.0)
    assert o is not None
    assert m.pending_event(o, 0.0) == []
    [ev] = m.reject(o, "close_cutoff", 0.0)
    assert (ev.status, ev.order_id, ev.reason) == ("rejected", "kb-d1", "close_cutoff")
    with pytest.raises(IllegalTransition):
        m.reject(o, "again", 1.0)


def test_ioc_partial_fill_then_remainder_canceled_waits_for_its_fills():
    m = OrderManager("live")
    o = m.open("d1", spec("10"), 0.0)
    assert o is not None
    [ev] = m.on_ack(o, order_id="v1", now=1.0, filled=D(4), remaining=D(0))
    # the venue says 4 filled and the rest canceled; the fills are still on their way
    assert o.state is S.PENDING and ev.status == "pending" and o.is_open
    r = m.on_fill(fill("f1", "3"), 1.1)
    assert r.fill is not None and r.fill.decision_id == "d1" and r.delta is not None and r.delta.yes == D(3)
    assert o.state is S.PARTIALLY_FILLED
    r = m.on_fill(fill("f2", "1"), 1.2)
    assert o.state is S.CANCELED and o.filled == D(4) and r.events[-1].status == "canceled"
    assert m.positions == {"M": D(4)}


def test_fills_once_never_beyond_the_order_never_after_settlement():
    m = OrderManager("live")
    o = m.open("d1", spec("5"), 0.0)
    assert o is not None
    m.on_ack(o, order_id="v1", now=1.0, filled=D(0), remaining=D(5))
    assert o.state is S.RESTING
    assert m.on_fill(fill("f1", "5"), 2.0).fill is not None and o.state is S.FILLED
    assert m.on_fill(fill("f1", "5"), 2.0).duplicate
    assert m.on_fill(fill("f2", "1"), 2.0).refused == "overfill"
    m.on_settled("M")
    r = m.on_fill(fill("f3", "1", order_id="v9"), 3.0)
    assert r.refused == "market_settled" and r.fill is None and "f3" not in m.seen_fills


def test_a_fill_that_overtakes_its_orders_answer_is_counted_when_the_order_is_named():
    m = OrderManager("live")
    o = m.open("d1", spec("10"), 0.0)
    assert o is not None
    r = m.on_fill(fill("f1", "10"), 0.5)  # the WS fill before the create's answer
    assert r.fill is not None and r.order is None and r.fill.decision_id is None
    m.on_ack(o, order_id="v1", now=1.0, filled=D(10), remaining=D(0))
    assert o.filled == D(10) and o.state is S.FILLED


def test_no_no_position_deltas_net_as_the_venue():
    m = OrderManager("live")
    o = m.open("d1", spec("3", side="no"), 0.0)
    assert o is not None
    m.on_ack(o, order_id="v1", now=1.0)
    assert m.on_fill(fill("f1", "3", side="no"), 1.0).delta.yes == D(-3)  # type: ignore[union-attr]


def test_venue_cancel_with_reason_expired_ends_expired():
    m = OrderManager("live")
    o = m.open("d1", spec(tif="good_till_canceled"), 0.0)
    assert o is not None
    m.on_ack(o, order_id="v1", now=1.0, filled=D(0), remaining=D(10))
    m.on_venue_order(venue("canceled", "0", reason="Expired"), 5.0)
    assert o.state is S.EXPIRED


def test_adopting_an_order_of_an_earlier_process():
    m = OrderManager("live")
    o, evs = m.adopt(venue("resting", "2", order_id="v7", cid="kb-d-old"), 1.0)
    assert o.decision_id == "d-old" and o.adopted and o.state is S.PARTIALLY_FILLED
    assert evs and evs[-1].decision_id == "d-old"
    assert m.on_fill(fill("f1", "2", order_id="v7"), 2.0).fill.decision_id == "d-old"  # type: ignore[union-attr]


# ----------------------------------------------------------------------------- properties

ops = st.lists(st.one_of(
    st.tuples(st.just("ack"), st.integers(0, 12), st.integers(0, 12)),
    st.tuples(st.just("accepted"), st.just(0), st.just(0)),
    st.tuples(st.just("fill"), st.integers(0, 6), st.integers(1, 6)),  # (fill id, count)
    st.tuples(st.just("venue"), st.sampled_from(["resting", "canceled", "filled", "expired", "rejected"]),
              st.integers(0, 12)),
    st.tuples(st.just("settle"), st.just(0), st.just(0)),
    st.tuples(st.just("replace"), st.integers(1, 14), st.just(0)),
), max_size=25)


@settings(max_examples=400, deadline=None)
@given(ops)
def test_property_no_illegal_transition_and_filled_never_exceeds_ordered(seq):
    m = OrderManager("live")
    o = m.open("d1", spec("10"), 0.0)
    assert o is not None
    states = [o.state]
    applied: set[str] = set()
    for i, (kind, a, b) in enumerate(seq):
        now = 1.0 + i
        if kind == "ack":
            m.on_ack(o, order_id="v1", now=now, filled=D(a), remaining=D(b))
        elif kind == "accepted":
            m.on_accepted(o, order_id="v1", now=now)
        elif kind == "fill":
            r = m.on_fill(fill(f"f{a}", str(b)), now)
            if r.fill is not None:
                assert f"f{a}" not in applied
                applied.add(f"f{a}")
        elif kind == "venue":
            m.on_venue_order(venue(a, str(b)), now)
        elif kind == "settle":
            m.on_settled("M")
        elif kind == "replace" and o.is_open and D(a) > o.filled:
            m.replace(o, price=o.price, count=D(a), now=now)
        assert o.filled <= o.count
        if o.state is not states[-1]:
            assert o.state in TRANSITIONS[states[-1]], (states[-1], o.state)
            states.append(o.state)
    # terminal states are final; an open order is in an open state
    for earlier, later in zip(states, states[1:], strict=False):
        assert earlier not in TERMINAL, (earlier, later)
    assert (o.state in OPEN) == o.is_open
    assert len(applied) == len(o.fill_ids | {f.fill_id for fs in m.orphans.values() for f in fs})


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 9), st.integers(1, 4)), max_size=30))
def test_property_filled_is_the_sum_of_distinct_fills_up_to_the_size(fills):
    m = OrderManager("paper")
    o = m.open("d1", spec("12"), 0.0, order_id="p1")
    assert o is not None
    total = D(0)
    seen: set[int] = set()
    for fid, n in fills:
        r = m.on_fill(fill(f"f{fid}", str(n), order_id="p1"), 1.0)
        if fid in seen:
            assert r.duplicate
        elif total + n > 12:
            assert r.refused == "overfill"
        else:
            seen.add(fid)
            total += n
            assert r.fill is not None and r.fill.mode == "paper"
        assert o.filled == total <= o.count
    assert (o.state is S.FILLED) == (total == 12)
