"""The orderbook_delta fast path accepts only what the general parser accepts, and returns the
same delta for it (it never decides a frame is bad: it falls back to the general path)."""

from __future__ import annotations

import json

from hypothesis import event, given, settings
from hypothesis import strategies as st

from kbot.venues.kalshi import fastparse
from kbot.venues.kalshi import ws_parse as wp
from kbot.venues.wire import WireError

prices = st.one_of(st.sampled_from(["0.3000", "0.0010", "1.0000", " 0.25", "0", "-0.01", "1.5", "NaN", "abc", "", "0.2_5",
                                    "0." + "0" * 70 + "1", "1e-9999"]),
                   st.decimals(min_value=0, max_value=1, places=4).map(str), st.floats(0, 1), st.integers(0, 2), st.none())
deltas = st.one_of(st.sampled_from(["-15.00", "3.50", "0", "Infinity", "x", "1e999999", "5" * 70]), st.integers(-100, 100), st.none())
msgs = st.fixed_dictionaries(
    {"market_ticker": st.sampled_from(["KXBTC15M-26MAY131800-00", "", 7, "KX\ud800"]), "side": st.sampled_from(["yes", "no", "YES", None])},
    optional={"price_dollars": prices, "delta_fp": deltas, "ts_ms": st.one_of(st.integers(0, 2 * 10**12), st.floats(0, 1e12), st.booleans(),
                                                     st.integers(1778709000000, 1778709500000), st.just(2**63 + 1)),
              "ts": st.just("2026-05-13T21:51:32.708155Z"), "price": st.integers(0, 100), "delta": st.integers(-9, 9),
              "client_order_id": st.one_of(st.text(max_size=5), st.integers())})
frames = st.fixed_dictionaries({"type": st.sampled_from(["orderbook_delta", "orderbook_snapshot"]), "msg": msgs},
                               optional={"sid": st.one_of(st.integers(0, 9), st.booleans(), st.just(2.0), st.just(2**53), st.just(2**63)),
                                         "seq": st.one_of(st.integers(0, 9), st.none(), st.just(-(2**53))),
                                         "id": st.one_of(st.integers(0, 9), st.just(2**53), st.just("1"))})


RECV = 1778709093.0  # just after the common frame's ts_ms


def fast_delta(text: str, *, use_yes_price: bool, recv_ts: float):
    """The fast path's answer in the general path's shape: ``(sid, seq, BookDelta)`` or None."""
    f = fastparse.decode_delta(text, use_yes_price=use_yes_price, recv_ts=recv_ts)
    if f is None:
        return None
    sid, seq, ticker, side, price, delta, ts, coid = f
    return sid, seq, wp.BookDelta(ticker=ticker, side=side, price=price, delta=delta, ts=ts, client_order_id=coid)


def general(text: str, use_yes_price: bool, recv_ts: float = RECV):
    env = wp.parse_envelope(text)
    return env.sid, env.seq, wp.parse_orderbook_delta(env.msg, use_yes_price=use_yes_price, recv_ts=recv_ts)


# receipts that put ts_ms inside, before and after the live window (wire.live_ts)
receipts = st.one_of(st.sampled_from([0.0, RECV, RECV + 86_400.5, RECV - 300.5, 1e12 / 1000 + 10, 2e12 / 1000 - 400, 1e9]), st.floats(9e8, 2.1e9))


@settings(max_examples=300, deadline=None)
@given(frame=frames, compact=st.booleans(), use_yes_price=st.booleans(), recv_ts=receipts)
def test_fast_path_agrees_with_the_general_parser(frame, compact, use_yes_price, recv_ts):
    text = json.dumps(frame, separators=(",", ":") if compact else None)
    fast = fast_delta(text, use_yes_price=use_yes_price, recv_ts=recv_ts)
    if fast is None:
        event("general path")
        return  # the general path decides
    event("fast path")
    assert frame["type"] == "orderbook_delta" and fastparse.maybe_delta(text)
    try:
        slow = general(text, use_yes_price, recv_ts)
    except WireError as e:  # pragma: no cover - the fast path must never accept what this rejects
        raise AssertionError(f"fast path accepted a frame the parser rejects: {e}") from None
    assert fast == slow
    assert str(fast[2].price) == str(slow[2].price) and str(fast[2].delta) == str(slow[2].delta)


def test_the_common_frame_takes_the_fast_path():
    text = ('{"type":"orderbook_delta","sid":2,"seq":3,"msg":{"delta_fp":"15.00","market_ticker":"KXBTC15M-26MAY131800-00",'
            '"price_cents":29,"price_dollars":"0.2900","side":"no","ts":"2026-05-13T21:51:32.708155Z","ts_ms":1778709092708}}')
    fast = fast_delta(text, use_yes_price=False, recv_ts=RECV)
    assert fast is not None and fast == general(text, False)
    # an event time outside the live window of its receipt (received a day later, or before it
    # happened): the general path decides (and rejects)
    assert fast_delta(text, use_yes_price=False, recv_ts=RECV + 2 * 86400) is None
    assert fast_delta(text, use_yes_price=False, recv_ts=0.0) is None
    assert not fastparse.maybe_delta('{"type":"orderbook_snapshot","sid":2,"seq":1,"msg":{}}')


# Mostly well-formed frames, with values at the edges of each rule: most take the fast path.
near = st.one_of(st.integers(int(RECV * 1000) - 86_400_000 - 2, int(RECV * 1000) + 300_001), st.just(int(RECV * 1000)))
good = st.fixed_dictionaries(
    {"type": st.just("orderbook_delta"), "sid": st.one_of(st.integers(1, 3), st.just(2**53 - 1), st.just(2**53)),
     "seq": st.integers(1, 10**6),
     "msg": st.fixed_dictionaries({
         "market_ticker": st.sampled_from(["KXBTC15M-26MAY131800-00", "KXBTCD-26MAY1318-T104999.99"]),
         "side": st.sampled_from(["yes", "no"]),
         "price_dollars": st.one_of(st.decimals(min_value=0, max_value=1, places=4).map(str),
                                    st.sampled_from(["1.0001", "-0.0000", "0.50 ", "5E-1", "1E+0"])),
         "delta_fp": st.one_of(st.decimals(min_value=-10**6, max_value=10**6, places=2).map(str), st.just("-0")),
         "ts_ms": st.one_of(near, near.map(float))}, optional={"client_order_id": st.sampled_from(["abc", "", "\ud800"])})})


@settings(max_examples=300, deadline=None)
@given(frame=good, use_yes_price=st.booleans())
def test_fast_path_agrees_on_well_formed_frames(frame, use_yes_price):
    text = json.dumps(frame, separators=(",", ":"))
    fast = fast_delta(text, use_yes_price=use_yes_price, recv_ts=RECV)
    try:
        slow = general(text, use_yes_price)
    except WireError:
        assert fast is None, "the fast path accepted a frame the general parser rejects"
        return
    if fast is not None:
        event("fast path")
        assert fast == slow
        assert str(fast[2].price) == str(slow[2].price) and str(fast[2].delta) == str(slow[2].delta)
