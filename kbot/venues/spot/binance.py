"""Binance spot public streams (``wss://data-stream.binance.vision`` or ``stream.binance.com:9443``).

Combined stream ``/stream?streams=btcusdt@bookTicker/btcusdt@trade``; frames are wrapped as
``{"stream": name, "data": payload}``. ``bookTicker`` (spot: ``u, s, b, B, a, A``, no time) gives the
best bid/ask; ``trade`` (``e, E, s, t, p, q, T, m``) the last price with its trade time. A tick is
emitted for both: the last trade price (the mid until a trade is seen) with the latest bid/ask.

The server pings every 20 s and drops connections that do not pong within a minute (trio-websocket
answers while the link reads continuously); every connection ends at 24 h (the feed reconnects a
little before); a ``serverShutdown`` event announces a server restart (the feed reconnects at
once). Binance.com refuses US IPs with HTTP 451: the feed backs off for an hour and the others are
unaffected. Raw (non-combined) frames and ``aggTrade`` are accepted too.
"""

from __future__ import annotations

from typing import Any

from kbot.messages import SpotTick
from kbot.text import short
from kbot.venues.spot.common import check_quote
from kbot.venues.wire import SPOT_RANGE, WireError, live_ts, loads, ms_ts, obj, req, req_str, spot_price


def stream_url(base: str, symbol: str) -> str:
    s = symbol.lower()
    return f"{base.rstrip('/')}/stream?streams={s}@bookTicker/{s}@trade"


def parse_book_ticker(
    d: dict[str, Any], price_range: tuple[float, float] = SPOT_RANGE
) -> tuple[str, float, float, float | None]:
    """(symbol, bid, ask, exchange ts or None). Spot has no time; futures add ``T``/``E``."""
    bid = spot_price(req(d, "b"), "b", price_range)
    ask = spot_price(req(d, "a"), "a", price_range)
    check_quote(bid, ask)
    t = d.get("T") or d.get("E")
    return req_str(d, "s"), bid, ask, None if t is None else ms_ts(t, "T")


def parse_trade(d: dict[str, Any], price_range: tuple[float, float] = SPOT_RANGE) -> tuple[str, float, float]:
    """(symbol, price, trade ts) of a ``trade`` or ``aggTrade`` payload."""
    return req_str(d, "s"), spot_price(req(d, "p"), "p", price_range), ms_ts(req(d, "T"), "T")


class BinanceProtocol:
    source = "binance"

    def __init__(self, base_url: str, symbol: str = "btcusdt", price_range: tuple[float, float] = SPOT_RANGE) -> None:
        self.base_url = base_url
        self.symbol = symbol.lower()
        self.price_range = price_range
        self.last: float | None = None
        self.bid: float | None = None
        self.ask: float | None = None
        self.reconnect_reason: str | None = None

    def url(self) -> str:
        return stream_url(self.base_url, self.symbol)

    def subscribe_messages(self) -> list[dict[str, Any]]:
        self.reconnect_reason = None
        return []  # the streams are in the URL

    def parse(self, text: str, recv_ts: float, mono: float = 0.0) -> list[SpotTick]:
        d = obj(loads(text), "frame")
        if "stream" in d:
            stream = d.get("stream")
            data = obj(d.get("data"), "data")
        elif "result" in d and "id" in d:
            return []  # reply to a SUBSCRIBE/LIST command
        elif "code" in d and "msg" in d:
            raise WireError("error_frame", f"{short(d.get('code'))}: {short(d.get('msg'))[:120]}")
        else:
            stream, data = None, d
        kind = data.get("e")
        if kind == "serverShutdown" or stream == "!serverShutdown":
            self.reconnect_reason = "server announced shutdown"
            return []
        if kind in ("trade", "aggTrade") or (isinstance(stream, str) and stream.endswith(("@trade", "@aggTrade"))):
            sym, price, ts = parse_trade(data, self.price_range)
            if sym.lower() != self.symbol:
                return []
            live_ts(ts, recv_ts, "T")
            self.last = price
            return [SpotTick(source=self.source, ts=ts, price=price, bid=self.bid, ask=self.ask, recv_ts=recv_ts, mono=mono)]
        if kind == "bookTicker" or (isinstance(stream, str) and stream.endswith("@bookTicker")) or (kind is None and "u" in data and "b" in data):
            sym, bid, ask, book_ts = parse_book_ticker(data, self.price_range)
            if sym.lower() != self.symbol:
                return []
            if book_ts is not None:
                live_ts(book_ts, recv_ts, "T")
            self.bid, self.ask = bid, ask
            price = self.last if self.last is not None else (bid + ask) / 2.0
            return [SpotTick(source=self.source, ts=book_ts or recv_ts, price=price, bid=bid, ask=ask, recv_ts=recv_ts, mono=mono)]
        raise WireError("unknown_type", f"stream={short(stream)} e={short(kind)}")
