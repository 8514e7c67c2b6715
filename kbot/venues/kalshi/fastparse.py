"""A fast path for the frame that dominates the Kalshi WS stream: ``orderbook_delta``.

``orderbook_delta`` is about 99% of a book stream (667,050 of 675,000 messages in the recorded
KXBTC15M sessions). ``orderbook_delta(text)`` decodes its current wire shape straight into typed
structs with msgspec (no intermediate dicts) and applies exactly the rules of
``ws_parse.parse_envelope`` + ``ws_parse.parse_orderbook_delta`` for that shape: prices and
counts are strings turned into exact ``Decimal``s by ``wire.to_decimal`` (length, finiteness and
magnitude rules), the price lies in [0, 1] (``wire.check_price``), ``side`` is ``yes``/``no``,
``market_ticker`` is non-empty storable text (``wire.check_text``), sid and seq are within 2**53,
the event time is ``ts_ms`` within the live window of the receipt (``wire.ms_ts``,
``wire.live_ts``); NO-leg/YES-leg as ``use_yes_price`` says. The value rules are the wire
module's own functions, so the two paths cannot drift apart. Anything else (a
legacy or unusual shape, a wrong type, a value out of range) returns None and the frame takes the
general path, which parses it again and reports what is wrong: the fast path never decides that
input is bad, it only accepts the well-formed common case faster.
"""

from __future__ import annotations

from decimal import Decimal

import msgspec

from kbot.venues.kalshi.ws_parse import BookDelta
from kbot.venues.wire import INT_LIMIT, WireError, check_price, check_text, live_ts, loose_str, ms_ts, to_decimal

ZERO, ONE = Decimal(0), Decimal(1)


class _Msg(msgspec.Struct):
    market_ticker: str
    side: str
    price_dollars: str
    delta_fp: str
    ts_ms: int | float | None = None
    client_order_id: str | None = None


class _Frame(msgspec.Struct):
    type: str
    msg: _Msg
    sid: int | None = None
    seq: int | None = None
    id: int | None = None


_decode = msgspec.json.Decoder(_Frame).decode


def maybe_delta(text: str) -> bool:
    """A cheap pre-filter: the frame names ``orderbook_delta`` near its start (its type, which
    Kalshi sends first). A false positive only costs a failed fast decode."""
    return text.find("orderbook_delta", 8, 40) >= 0


def orderbook_delta(text: str, *, use_yes_price: bool, recv_ts: float) -> tuple[int | None, int | None, BookDelta] | None:
    """``(sid, seq, delta)`` for a well-formed current-shape delta frame, else None."""
    try:
        f = _decode(text)
    except (msgspec.DecodeError, msgspec.ValidationError, UnicodeEncodeError):  # lone surrogates: not UTF-8
        return None
    m = f.msg
    if f.type != "orderbook_delta" or f.sid is None or f.seq is None or m.ts_ms is None:
        return None
    if not (-INT_LIMIT < f.sid < INT_LIMIT and -INT_LIMIT < f.seq < INT_LIMIT) or m.side not in ("yes", "no"):
        return None
    try:  # the general parser's value rules, from the same functions
        price = check_price(to_decimal(m.price_dollars, "price_dollars"), "price_dollars")
        delta = to_decimal(m.delta_fp, "delta_fp")
        ts = live_ts(ms_ts(m.ts_ms, "ts_ms"), recv_ts)
        ticker = check_text(m.market_ticker, "market_ticker") if m.market_ticker else None
    except WireError:
        return None
    if ticker is None:
        return None
    if use_yes_price and m.side == "no":
        price = ONE - price
    return f.sid, f.seq, BookDelta(ticker=ticker, side=m.side, price=price, delta=delta, ts=ts,
                                   client_order_id=loose_str(m.client_order_id))
