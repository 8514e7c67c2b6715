"""The orderbook_delta fast path accepts only what the general parser accepts, and returns the
same delta for it (it never decides a frame is bad: it falls back to the general path)."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from kbot.venues.kalshi import fastparse
from kbot.venues.kalshi import ws_parse as wp
from kbot.venues.wire import WireError

prices = st.one_of(st.sampled_from(["0.3000", "0.0010", "1.0000", " 0.25", "0", "-0.01", "1.5", "NaN", "abc", ""]),
                   st.decimals(min_value=0, max_value=1, places=4).map(str), st.floats(0, 1), st.integers(0, 2), st.none())
deltas = st.one_of(st.sampled_from(["-15.00", "3.50", "0", "Infinity", "x"]), st.integers(-100, 100), st.none())
msgs = st.fixed_dictionaries(
    {"market_ticker": st.sampled_from(["KXBTC15M-26MAY131800-00", "", 7]), "side": st.sampled_from(["yes", "no", "YES", None])},
    optional={"price_dollars": prices, "delta_fp": deltas, "ts_ms": st.one_of(st.integers(0, 2 * 10**12), st.floats(0, 1e12), st.booleans()),
              "ts": st.just("2026-05-13T21:51:32.708155Z"), "price": st.integers(0, 100), "delta": st.integers(-9, 9),
              "client_order_id": st.one_of(st.text(max_size=5), st.integers())})
frames = st.fixed_dictionaries({"type": st.sampled_from(["orderbook_delta", "orderbook_snapshot"]), "msg": msgs},
                               optional={"sid": st.one_of(st.integers(0, 9), st.booleans(), st.just(2.0)),
                                         "seq": st.one_of(st.integers(0, 9), st.none())})


def general(text: str, use_yes_price: bool):
    env = wp.parse_envelope(text)
    return env.sid, env.seq, wp.parse_orderbook_delta(env.msg, use_yes_price=use_yes_price, recv_ts=0.0)


@given(frame=frames, compact=st.booleans(), use_yes_price=st.booleans())
def test_fast_path_agrees_with_the_general_parser(frame, compact, use_yes_price):
    text = json.dumps(frame, separators=(",", ":") if compact else None)
    fast = fastparse.orderbook_delta(text, use_yes_price=use_yes_price, recv_ts=0.0)
    if fast is None:
        return  # the general path decides
    assert frame["type"] == "orderbook_delta" and fastparse.maybe_delta(text)
    try:
        slow = general(text, use_yes_price)
    except WireError as e:  # pragma: no cover - the fast path must never accept what this rejects
        raise AssertionError(f"fast path accepted a frame the parser rejects: {e}") from None
    assert fast == slow
    assert str(fast[2].price) == str(slow[2].price) and str(fast[2].delta) == str(slow[2].delta)


def test_the_common_frame_takes_the_fast_path():
    text = ('{"type":"orderbook_delta","sid":2,"seq":3,"msg":{"delta_fp":"15.00","market_ticker":"KXBTC15M-26MAY131800-00",'
            '"price_cents":29,"price_dollars":"0.2900","side":"no","ts":"2026-05-13T21:51:32.708155Z","ts_ms":1778709092708}}')
    fast = fastparse.orderbook_delta(text, use_yes_price=False, recv_ts=0.0)
    assert fast is not None and fast == general(text, False)
    assert not fastparse.maybe_delta('{"type":"orderbook_snapshot","sid":2,"seq":1,"msg":{}}')
