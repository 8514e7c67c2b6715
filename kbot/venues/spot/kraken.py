"""Kraken spot WebSocket v2 (``wss://ws.kraken.com/v2``), public ``ticker`` channel.

Subscribe ``{"method": "subscribe", "params": {"channel": "ticker", "symbol": ["BTC/USD"],
"event_trigger": "bbo"|"trades", "snapshot": true}}``; one ack per symbol. Ticker messages
(``type`` snapshot|update) carry ``data[0]`` with ``bid``, ``ask``, ``last`` as JSON *numbers* and an
optional RFC 3339 ``timestamp``. ``heartbeat`` arrives ~1/s when nothing else does; ``status``
reports the engine state (online|cancel_only|maintenance|post_only) on connect and on change.
"""

from __future__ import annotations

from typing import Any

from loguru import logger

from kbot.messages import SpotTick
from kbot.text import clean_text, short
from kbot.venues.spot.common import check_quote
from kbot.venues.wire import SPOT_RANGE, WireError, iso_ts, live_ts, loads, obj, req, spot_price


def subscribe_messages(symbol: str, event_trigger: str = "bbo") -> list[dict[str, Any]]:
    return [
        {
            "method": "subscribe",
            "params": {"channel": "ticker", "symbol": [symbol], "event_trigger": event_trigger, "snapshot": True},
            "req_id": 1,
        }
    ]


def parse_ticker(
    d: dict[str, Any], *, symbol: str, recv_ts: float, mono: float = 0.0, price_range: tuple[float, float] = SPOT_RANGE
) -> list[SpotTick]:
    data = req(d, "data")
    if not isinstance(data, list):
        raise WireError("wrong_type", "data is not a list")
    out = []
    for item in data:
        item = obj(item, "ticker")
        if item.get("symbol") != symbol:
            continue
        bid = spot_price(req(item, "bid"), "bid", price_range)
        ask = spot_price(req(item, "ask"), "ask", price_range)
        check_quote(bid, ask)
        last = item.get("last")
        price = spot_price(last, "last", price_range) if last is not None else (bid + ask) / 2.0
        t = item.get("timestamp")
        out.append(
            SpotTick(
                source="kraken",
                ts=live_ts(iso_ts(t, "timestamp"), recv_ts, "timestamp") if t else recv_ts,
                price=price,
                bid=bid,
                ask=ask,
                recv_ts=recv_ts,
                mono=mono,
            )
        )
    return out


def parse_status(d: dict[str, Any]) -> str | None:
    data = d.get("data")
    for item in data if isinstance(data, list) else ():
        if isinstance(item, dict) and isinstance(item.get("system"), str):
            return clean_text(item["system"])[:40]
    return None


class KrakenProtocol:
    source = "kraken"

    def __init__(
        self, url: str, symbol: str = "BTC/USD", event_trigger: str = "bbo", price_range: tuple[float, float] = SPOT_RANGE
    ) -> None:
        self._url = url
        self.symbol = symbol
        self.price_range = price_range
        self.event_trigger = event_trigger
        self.reconnect_reason: str | None = None
        self.system: str | None = None
        self._log = logger.bind(feed=self.source)

    def url(self) -> str:
        return self._url

    def subscribe_messages(self) -> list[dict[str, Any]]:
        return subscribe_messages(self.symbol, self.event_trigger)

    def parse(self, text: str, recv_ts: float, mono: float = 0.0) -> list[SpotTick]:
        d = obj(loads(text), "frame")
        channel = d.get("channel")
        if channel == "ticker":
            return parse_ticker(d, symbol=self.symbol, recv_ts=recv_ts, mono=mono, price_range=self.price_range)
        if channel == "heartbeat":
            return []
        if channel == "status":
            system = parse_status(d)
            if system != self.system:
                (self._log.info if system == "online" else self._log.warning)("Kraken engine status: {}", system)
                self.system = system
            return []
        method = d.get("method")
        if method in ("subscribe", "unsubscribe", "pong"):
            if d.get("success") is False:
                self._log.error("Kraken {} refused: {}", method, short(d.get("error")))
            return []
        if "error" in d:
            raise WireError("error_frame", short(d.get("error"))[:120])
        raise WireError("unknown_type", f"channel={short(channel)} method={short(method)}")
