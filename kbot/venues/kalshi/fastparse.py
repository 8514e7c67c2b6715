"""A fast path for the frame that dominates the Kalshi WS stream: ``orderbook_delta``.

``orderbook_delta`` is about 99% of a book stream (667,050 of 675,000 messages in the recorded
KXBTC15M sessions). ``decode_delta(text)`` decodes its current wire shape straight into typed
structs with msgspec (no intermediate dicts) and applies exactly the rules of
``ws_parse.parse_envelope`` + ``ws_parse.parse_orderbook_delta`` for that shape: prices and
counts are strings turned into exact ``Decimal``s by ``wire.to_decimal`` itself (the price in
[0, 1] by ``wire.check_price``), ``side`` is ``yes``/``no``, ``market_ticker`` is non-empty text
``wire.check_text`` accepts, ``sid``/``seq`` are integers within 2**53, the event time is ``ts_ms``
under ``wire.ms_ts`` and ``wire.live_ts`` (within the live window of the receipt); NO-leg/YES-leg
as ``use_yes_price`` says. Anything else (a legacy or unusual shape, a wrong type, a value out of
range) returns None and the frame takes the general path, which parses it again and reports what
is wrong: the fast path never decides that input is bad, it only accepts the well-formed common
case faster.

Speed: a book stream repeats a few thousand distinct price and size strings, and a handful of
tickers, so each string's checked ``Decimal`` (and each ticker's text check) is remembered
(bounded memos): a repeated string costs a dict lookup instead of a parse and its checks. A memo
holds only what the wire rules accepted, computed by those rules, so it cannot change an answer.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

import msgspec

from kbot.venues import wire

ONE = Decimal(1)
MEMO_MAX = 50_000  # entries per memo (a few MB at most); past it, strings are parsed each time

Fast = tuple[int, int, str, str, Decimal, Decimal, float, "str | None"]
"""``(sid, seq, ticker, side, price, delta, ts, client_order_id)`` of an accepted delta frame."""


_Int = Annotated[int, msgspec.Meta(gt=-wire.INT_LIMIT, lt=wire.INT_LIMIT)]  # ``wire.opt_int``'s range


class _Msg(msgspec.Struct, gc=False):
    market_ticker: str
    side: Literal["yes", "no"]
    price_dollars: str
    delta_fp: str
    ts_ms: int | float
    client_order_id: str | None = None


class _Frame(msgspec.Struct, gc=False):
    type: Literal["orderbook_delta"]
    msg: _Msg
    sid: _Int
    seq: _Int
    id: _Int | None = None


_decode = msgspec.json.Decoder(_Frame).decode

# wire string -> its checked Decimal; price memos per leg convention (NO-leg prices mirrored)
_PRICE: dict[str, Decimal] = {}
_PRICE_NO_YES_LEG: dict[str, Decimal] = {}
_DELTA: dict[str, Decimal] = {}
_TICKERS: set[str] = set()
_EPOCH_MIN, _EPOCH_MAX, _PAST, _LEAD = wire.EPOCH_MIN, wire.EPOCH_MAX, wire.LIVE_PAST_S, wire.LIVE_LEAD_S


def maybe_delta(text: str) -> bool:
    """A cheap pre-filter: the frame names ``orderbook_delta`` near its start (its type, which
    Kalshi sends first). A false positive only costs a failed fast decode."""
    return text.find("orderbook_delta", 8, 40) >= 0


def _price(s: str, mirror: bool) -> Decimal | None:
    memo = _PRICE_NO_YES_LEG if mirror else _PRICE
    p = memo.get(s)
    if p is not None:
        return p
    try:
        p = wire.check_price(wire.to_decimal(s, "price_dollars"), "price_dollars")
    except wire.WireError:
        return None
    if mirror:
        p = ONE - p
    if len(memo) < MEMO_MAX:
        memo[s] = p
    return p


def _delta(s: str) -> Decimal | None:
    d = _DELTA.get(s)
    if d is not None:
        return d
    try:
        d = wire.to_decimal(s, "delta_fp")
    except wire.WireError:
        return None
    if len(_DELTA) < MEMO_MAX:
        _DELTA[s] = d
    return d


def _ticker_ok(t: str) -> bool:
    if t in _TICKERS:
        return True
    if not t:
        return False
    try:
        wire.check_text(t, "market_ticker")
    except wire.WireError:
        return False
    if len(_TICKERS) < MEMO_MAX:
        _TICKERS.add(t)
    return True


def decode_delta(text: str, *, use_yes_price: bool, recv_ts: float) -> Fast | None:
    """The fields of a well-formed current-shape delta frame (``Fast``), else None. (The
    decoder's types check ``type``, ``side``, ``sid``/``seq``/``id`` and that the event time is a
    number; the rest is checked here.)"""
    try:
        f = _decode(text)
    except (msgspec.MsgspecError, UnicodeError):  # (a lone surrogate in the text cannot be encoded)
        return None
    m = f.msg
    side, ps, ds, ticker = m.side, m.price_dollars, m.delta_fp, m.market_ticker
    price = (_PRICE_NO_YES_LEG if use_yes_price and side == "no" else _PRICE).get(ps)
    if price is None and (price := _price(ps, use_yes_price and side == "no")) is None:
        return None
    delta = _DELTA.get(ds)
    if delta is None and (delta := _delta(ds)) is None:
        return None
    if ticker not in _TICKERS and not _ticker_ok(ticker):
        return None
    ts = m.ts_ms / 1000.0  # ``wire.ms_ts`` + ``wire.live_ts``, inline (a NaN or inf fails the range too)
    if not (_EPOCH_MIN <= ts <= _EPOCH_MAX and recv_ts - _PAST <= ts <= recv_ts + _LEAD):
        return None
    coid = m.client_order_id
    return f.sid, f.seq, ticker, side, price, delta, ts, (None if coid is None else wire.loose_str(coid))

