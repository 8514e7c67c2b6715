"""A fast path for the frame that dominates the Kalshi WS stream: ``orderbook_delta``.

``orderbook_delta`` is about 99% of a book stream (667,050 of 675,000 messages in the recorded
KXBTC15M sessions). ``orderbook_delta(text)`` decodes its current wire shape straight into typed
structs with msgspec (no intermediate dicts) and applies exactly the rules of
``ws_parse.parse_envelope`` + ``ws_parse.parse_orderbook_delta`` for that shape: prices and
counts are strings turned into exact ``Decimal``s (``wire.to_decimal``'s string rule: stripped,
finite), the price lies in [0, 1], ``side`` is ``yes``/``no``, ``market_ticker`` is a non-empty
string, the event time is ``ts_ms``; NO-leg/YES-leg as ``use_yes_price`` says. Anything else (a
legacy or unusual shape, a wrong type, a value out of range) returns None and the frame takes the
general path, which parses it again and reports what is wrong: the fast path never decides that
input is bad, it only accepts the well-formed common case faster.
"""

from __future__ import annotations

import math
from decimal import Decimal, InvalidOperation

import msgspec

from kbot.venues.kalshi.ws_parse import BookDelta

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


def _dec(s: str) -> Decimal | None:
    try:
        d = Decimal(s.strip())
    except InvalidOperation:
        return None
    return d if d.is_finite() else None


def orderbook_delta(text: str, *, use_yes_price: bool, recv_ts: float) -> tuple[int | None, int | None, BookDelta] | None:
    """``(sid, seq, delta)`` for a well-formed current-shape delta frame, else None."""
    try:
        f = _decode(text)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
    m = f.msg
    if (f.type != "orderbook_delta" or f.sid is None or f.seq is None or not m.market_ticker or m.side not in ("yes", "no")
            or m.ts_ms is None):
        return None
    if isinstance(m.ts_ms, float) and not math.isfinite(m.ts_ms):
        return None
    try:
        price, delta = Decimal(m.price_dollars.strip()), Decimal(m.delta_fp.strip())
    except InvalidOperation:
        return None
    if not (price.is_finite() and delta.is_finite()) or price < ZERO or price > ONE:
        return None
    if use_yes_price and m.side == "no":
        price = ONE - price
    return f.sid, f.seq, BookDelta(ticker=m.market_ticker, side=m.side, price=price, delta=delta,
                                   ts=float(m.ts_ms) / 1000.0, client_order_id=m.client_order_id)
