"""Binance USD-M futures public mark-price stream: the BTC perpetual's funding rate.

``wss://fstream.binance.com``, stream ``<symbol>@markPrice@1s`` (every second; ``@markPrice``
every 3 s), raw (``/ws/<stream>``) or combined (``/stream?streams=...``: ``{"stream", "data"}``).
Payload (Binance's docs, ``reference/spot-feeds.md`` 2D)::

    {"e": "markPriceUpdate", "E": 1562305380000, "s": "BTCUSDT", "p": "11794.15000000" (mark),
     "i": "11784.62659091" (index), "P": "11784.25641265" (est. settle), "r": "0.00038167"
     (funding rate, per 8 h interval), "T": 1562306400000 (next funding time)}

One ``FundingRate`` per update. ``r`` may be negative (shorts pay); an unparseable frame is a
``WireError`` (counted by the feed, never passed on). Futures connections also end at 24 h and
Binance.com refuses US IPs with HTTP 451 (the feed then backs off for an hour; kbot prices
without the funding signal).
"""

from __future__ import annotations

from typing import Any

from kbot.messages import FundingRate
from kbot.venues.wire import (
    WireError,
    live_ts,
    loads,
    ms_ts,
    obj,
    opt_float,
    opt_ms_ts,
    req,
    req_float,
    req_str,
    spot_price,
)


def stream_url(base: str, symbol: str) -> str:
    return f"{base.rstrip('/')}/stream?streams={symbol.lower()}@markPrice@1s"


def parse_mark_price(d: dict[str, Any], recv_ts: float, mono: float = 0.0) -> FundingRate:
    rate = req_float(d, "r")
    if abs(rate) > 0.05:  # Binance caps funding far below 5 % per interval: not a funding rate
        raise WireError("out_of_range", f"funding rate {rate!r}")
    index = opt_float(d, "i")
    nxt = opt_ms_ts(d, "T")
    return FundingRate(
        source=BinanceUsdmProtocol.source,
        ts=live_ts(ms_ts(req(d, "E"), "E"), recv_ts, "E"),
        symbol=req_str(d, "s"),
        mark_price=spot_price(req(d, "p"), "p"),
        index_price=index if index is not None and index > 0 else None,
        funding_rate=rate,
        next_funding_ts=nxt if nxt else None,
        recv_ts=recv_ts,
        mono=mono,
    )


class BinanceUsdmProtocol:
    source = "binance_usdm"

    def __init__(self, base_url: str, symbol: str = "btcusdt") -> None:
        self.base_url = base_url
        self.symbol = symbol.lower()
        self.reconnect_reason: str | None = None

    def url(self) -> str:
        return stream_url(self.base_url, self.symbol)

    def subscribe_messages(self) -> list[dict[str, Any]]:
        self.reconnect_reason = None
        return []  # the stream is in the URL

    def parse(self, text: str, recv_ts: float, mono: float = 0.0) -> list[FundingRate]:
        d = obj(loads(text), "frame")
        if "stream" in d:
            data = obj(d.get("data"), "data")
        elif "result" in d and "id" in d:
            return []  # reply to a SUBSCRIBE/LIST command
        elif "code" in d and "msg" in d:
            raise WireError("error_frame", f"{d.get('code')}: {str(d.get('msg'))[:120]}")
        else:
            data = d
        kind = data.get("e")
        if kind == "serverShutdown":
            self.reconnect_reason = "server announced shutdown"
            return []
        if kind != "markPriceUpdate":
            raise WireError("unknown_type", f"e={kind!r}")
        f = parse_mark_price(data, recv_ts, mono)
        if f.symbol.lower() != self.symbol:
            return []
        return [f]
