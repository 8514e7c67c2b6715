"""Coinbase Advanced Trade market data (``wss://advanced-trade-ws.coinbase.com``), no auth.

Subscribe one channel per frame within 5 s of connecting: ``ticker`` for prices and
``heartbeats`` (1/s) so the connection stays open when the market is quiet (channels close after
60-90 s without updates otherwise). Envelope: ``channel``, ``client_id`` (optional in production),
``timestamp`` (RFC 3339 ns), ``sequence_num`` (connection-wide), ``events``. A ticker event
(``snapshot`` first, then ``update``) has ``tickers`` with string fields ``price``, ``best_bid``,
``best_ask``; the ticker has no time of its own, so ``ts`` is the envelope timestamp.

Frames of the legacy Coinbase Exchange feed (``{"type": "ticker", "product_id", "price",
"best_bid", "best_ask", "time"}``) are parsed too, for old recordings.
"""

from __future__ import annotations

from typing import Any

from loguru import logger

from kbot.messages import SpotTick
from kbot.text import short
from kbot.venues.spot.common import check_quote
from kbot.venues.wire import SPOT_RANGE, WireError, iso_ts, live_ts, loads, obj, opt_str, req, req_str, spot_price

IGNORED_CHANNELS = frozenset({"heartbeats", "subscriptions", "l2_data", "market_trades", "candles", "status", "ticker_batch"})


def subscribe_messages(product: str) -> list[dict[str, Any]]:
    return [
        {"type": "subscribe", "product_ids": [product], "channel": "ticker"},
        {"type": "subscribe", "product_ids": [product], "channel": "heartbeats"},
    ]


def _opt_px(d: dict[str, Any], key: str, rng: tuple[float, float]) -> float | None:
    v = d.get(key)
    return None if v is None or v == "" else spot_price(v, key, rng)


def parse_ticker(
    frame: dict[str, Any], *, product: str, recv_ts: float, mono: float = 0.0, price_range: tuple[float, float] = SPOT_RANGE
) -> list[SpotTick]:
    """An Advanced Trade ``ticker`` envelope -> one SpotTick per ticker of ``product``."""
    ts = live_ts(iso_ts(req(frame, "timestamp"), "timestamp"), recv_ts, "timestamp")
    events = req(frame, "events")
    if not isinstance(events, list):
        raise WireError("wrong_type", "events is not a list")
    out = []
    for ev in events:
        tickers = obj(ev, "event").get("tickers") or []
        if not isinstance(tickers, list):
            raise WireError("wrong_type", "tickers is not a list")
        for t in tickers:
            t = obj(t, "ticker")
            if t.get("product_id") != product:
                continue
            bid, ask = _opt_px(t, "best_bid", price_range), _opt_px(t, "best_ask", price_range)
            check_quote(bid, ask)
            out.append(
                SpotTick(source="coinbase", ts=ts, price=spot_price(req(t, "price"), "price", price_range), bid=bid, ask=ask, recv_ts=recv_ts, mono=mono)
            )
    return out


def parse_heartbeat(frame: dict[str, Any]) -> int | None:
    """The heartbeat counter (int in production, a string in the prose docs)."""
    events = frame.get("events")
    for ev in events if isinstance(events, list) else ():
        if isinstance(ev, dict):
            c = ev.get("heartbeat_counter")
            if isinstance(c, int) and not isinstance(c, bool):
                return c
            if isinstance(c, str) and c.isascii() and c.isdigit() and len(c) < 16:
                return int(c)
    return None


def parse_exchange_ticker(
    d: dict[str, Any], *, product: str, recv_ts: float, mono: float = 0.0, price_range: tuple[float, float] = SPOT_RANGE
) -> list[SpotTick]:
    """Legacy Coinbase Exchange ``ticker`` (old recordings)."""
    if req_str(d, "product_id") != product:
        return []
    bid, ask = _opt_px(d, "best_bid", price_range), _opt_px(d, "best_ask", price_range)
    check_quote(bid, ask)
    t = opt_str(d, "time")
    return [
        SpotTick(
            source="coinbase",
            ts=live_ts(iso_ts(t, "time"), recv_ts, "time") if t else recv_ts,
            price=spot_price(req(d, "price"), "price", price_range),
            bid=bid,
            ask=ask,
            recv_ts=recv_ts,
            mono=mono,
        )
    ]


class CoinbaseProtocol:
    source = "coinbase"

    def __init__(self, url: str, product: str = "BTC-USD", price_range: tuple[float, float] = SPOT_RANGE) -> None:
        self._url = url
        self.product = product
        self.price_range = price_range
        self.reconnect_reason: str | None = None
        self.last_sequence: int | None = None
        self.sequence_gaps = 0
        self._warned: set[str] = set()

    def url(self) -> str:
        return self._url

    def subscribe_messages(self) -> list[dict[str, Any]]:
        self.last_sequence = None
        return subscribe_messages(self.product)

    def _sequence(self, d: dict[str, Any]) -> None:
        seq = d.get("sequence_num")
        if isinstance(seq, int) and not isinstance(seq, bool):
            if self.last_sequence is not None and seq > self.last_sequence + 1:
                self.sequence_gaps += 1  # connection-wide; a ticker index just takes the next tick
            self.last_sequence = seq

    def parse(self, text: str, recv_ts: float, mono: float = 0.0) -> list[SpotTick]:
        d = obj(loads(text), "frame")
        channel = d.get("channel")
        if channel is not None:
            if not isinstance(channel, str):
                raise WireError("wrong_type", f"channel is {type(channel).__name__}, expected string")
            self._sequence(d)
            if channel == "ticker":
                return parse_ticker(d, product=self.product, recv_ts=recv_ts, mono=mono, price_range=self.price_range)
            if channel in IGNORED_CHANNELS:
                return []
            raise WireError("unknown_type", f"channel={short(channel)}")
        t = d.get("type")
        if t == "error":
            msg = short(d.get("message") or d.get("reason") or d)[:200]
            if msg not in self._warned:
                self._warned.add(msg)
                logger.bind(feed=self.source).warning("Coinbase error frame: {}", msg)
            return []
        if t == "ticker":
            return parse_exchange_ticker(d, product=self.product, recv_ts=recv_ts, mono=mono, price_range=self.price_range)
        if t in ("subscriptions", "heartbeat", "last_match", "match", "l2update", "snapshot"):
            return []
        raise WireError("unknown_type", f"type={short(t)}")
