"""Per-connection protocol state of the simulated spot feeds (sans-IO).

Each class takes client texts and price ticks and returns the texts to send; the ASGI adapter
(``kbot.sim.ws_server``) does the socket work. See ``kbot.sim.spot`` for the message shapes.
"""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import parse_qs

from kbot.sim import spot
from kbot.sim.spot import SpotQuote


def _dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"))


class FeedProtocol:
    name = "feed"
    subscribe_deadline_s: float | None = None  # close if no subscription by then (real s)

    def on_open(self, now: float) -> list[str]:
        return []

    def on_text(self, text: str, now: float, last: SpotQuote | None) -> list[str]:
        raise NotImplementedError

    def on_quote(self, q: SpotQuote) -> list[str]:
        raise NotImplementedError

    def on_idle(self, now: float, idle_s: float) -> list[str]:
        """Called about once per real second with the time since the last message sent."""
        return []

    @property
    def subscribed(self) -> bool:
        return True


# ---------------------------------------------------------------------------- Coinbase
class CoinbaseProtocol(FeedProtocol):
    """Coinbase Advanced Trade market data (``wss://advanced-trade-ws.coinbase.com``)."""

    name = "coinbase"
    subscribe_deadline_s = 5.0
    CHANNELS = ("ticker", "ticker_batch", "heartbeats", "market_trades")
    PRODUCTS = ("BTC-USD", "BTC-USDC")

    def __init__(self, client_id: bool, started: float | None = None) -> None:
        self.client_id = client_id
        self.subs: dict[str, set[str]] = {}
        self.seq = 0
        self.heartbeat_counter = 0
        self.started = time.monotonic() if started is None else started
        self.last_batch_ts = -1e18

    @property
    def subscribed(self) -> bool:
        return bool(self.subs)

    def _env(self, channel: str, ts: float, events: list[dict[str, Any]]) -> str:
        text = _dumps(spot.coinbase_envelope(channel, ts, self.seq, events, client_id=self.client_id))
        self.seq += 1
        return text

    def on_text(self, text: str, now: float, last: SpotQuote | None) -> list[str]:
        try:
            msg = json.loads(text)
        except ValueError:
            return [_dumps({"type": "error", "message": "failure to parse json"})]
        if not isinstance(msg, dict) or msg.get("type") not in ("subscribe", "unsubscribe"):
            return [_dumps({"type": "error", "message": "Failed to subscribe: unknown message type"})]
        if "channels" in msg:
            return [_dumps({"type": "error", "message": "Failed to subscribe: use one 'channel' per subscribe message"})]
        channel = msg.get("channel")
        if channel not in self.CHANNELS:
            return [_dumps({"type": "error", "message": f"Failed to subscribe: unknown channel {channel!r}"})]
        products = msg.get("product_ids") or []
        if not isinstance(products, list):
            return [_dumps({"type": "error", "message": "Failed to subscribe: product_ids must be a list"})]
        bad = [p for p in products if p not in self.PRODUCTS]
        if bad:
            return [_dumps({"type": "error", "message": f"Failed to subscribe: unknown product_ids {bad}"})]
        out = []
        if msg["type"] == "subscribe":
            new = set(products) - self.subs.get(channel, set())
            self.subs.setdefault(channel, set()).update(products)
            out.append(self._ack(now))
            if last is not None and new and channel in ("ticker", "ticker_batch"):
                out.append(self._ticker(channel, last, "snapshot", sorted(new)))
            if last is not None and new and channel == "market_trades":
                out.append(self._env("market_trades", now, [{"type": "snapshot", "trades": [spot.coinbase_trade(last, p) for p in sorted(new)]}]))
        else:
            if products:
                self.subs.get(channel, set()).difference_update(products)
            else:
                self.subs.pop(channel, None)
            if channel in self.subs and not self.subs[channel]:
                del self.subs[channel]
            out.append(self._ack(now))
        return out

    def _ack(self, now: float) -> str:
        return self._env("subscriptions", now, [{"subscriptions": {ch: sorted(p) for ch, p in self.subs.items()}}])

    def _ticker(self, channel: str, q: SpotQuote, kind: str, products: list[str]) -> str:
        tickers = []
        for p in products:
            t = spot.coinbase_ticker(q, "BTC-USD" if p == "BTC-USDC" else p)
            if channel == "ticker_batch":
                for k in ("best_bid", "best_bid_quantity", "best_ask", "best_ask_quantity"):
                    t.pop(k)
            tickers.append(t)
        return self._env(channel, q.ts, [{"type": kind, "tickers": tickers}])

    def on_quote(self, q: SpotQuote) -> list[str]:
        out = []
        if "ticker" in self.subs:
            out.append(self._ticker("ticker", q, "update", sorted(self.subs["ticker"])))
        if "market_trades" in self.subs:
            trades = [spot.coinbase_trade(q, "BTC-USD" if p == "BTC-USDC" else p) for p in sorted(self.subs["market_trades"])]
            out.append(self._env("market_trades", q.ts, [{"type": "update", "trades": trades}]))
        if "ticker_batch" in self.subs and q.ts - self.last_batch_ts >= 5.0:
            self.last_batch_ts = q.ts
            out.append(self._ticker("ticker_batch", q, "update", sorted(self.subs["ticker_batch"])))
        return out

    def heartbeat(self, now: float) -> list[str]:
        if "heartbeats" not in self.subs:
            return []
        self.heartbeat_counter += 1
        hb = spot.coinbase_heartbeat(now, self.heartbeat_counter, time.monotonic() - self.started)
        return [self._env("heartbeats", now, [hb])]

    def on_idle(self, now: float, idle_s: float) -> list[str]:
        return self.heartbeat(now)


# ---------------------------------------------------------------------------- Binance
class BinanceProtocol(FeedProtocol):
    """Binance spot streams: raw ``/ws/<stream>`` or combined ``/stream?streams=a/b``."""

    name = "binance"
    SYMBOLS = ("btcusdt", "btcusd")
    KINDS = ("bookTicker", "trade", "aggTrade", "ticker")

    def __init__(self, streams: list[str], combined: bool) -> None:
        self.streams: list[str] = []
        self.combined = combined
        self.update_id = 4_000_000_000
        self.last_ticker_ts = -1e18
        for s in streams:
            if s and s not in self.streams:
                self.streams.append(s)

    @classmethod
    def from_path(cls, path: str, query: str) -> BinanceProtocol:
        """``/binance[/ws[/<streams>]]`` or ``/binance/stream?streams=...``."""
        rest = path.split("/binance", 1)[1].strip("/")
        if rest.startswith("stream"):
            streams = parse_qs(query).get("streams", [""])[0].split("/")
            return cls(streams, combined=True)
        rest = rest[2:].strip("/") if rest.startswith("ws") else rest
        return cls(rest.split("/") if rest else [], combined=False)

    def on_text(self, text: str, now: float, last: SpotQuote | None) -> list[str]:
        try:
            msg = json.loads(text)
        except ValueError:
            return [_dumps({"code": 3, "msg": "Invalid JSON: expected value at line 1 column 1"})]
        if not isinstance(msg, dict):
            return [_dumps({"code": 3, "msg": "Invalid request"})]
        mid = msg.get("id")
        method = msg.get("method")
        params = msg.get("params", [])
        if method == "SUBSCRIBE" and isinstance(params, list):
            for s in params:
                if isinstance(s, str) and s not in self.streams:
                    self.streams.append(s)
            return [_dumps({"result": None, "id": mid})]
        if method == "UNSUBSCRIBE" and isinstance(params, list):
            self.streams = [s for s in self.streams if s not in params]
            return [_dumps({"result": None, "id": mid})]
        if method == "LIST_SUBSCRIPTIONS":
            return [_dumps({"result": list(self.streams), "id": mid})]
        if method == "SET_PROPERTY" and isinstance(params, list) and len(params) == 2 and params[0] == "combined":
            self.combined = bool(params[1])
            return [_dumps({"result": None, "id": mid})]
        if method == "GET_PROPERTY" and params == ["combined"]:
            return [_dumps({"result": self.combined, "id": mid})]
        return [_dumps({"code": 2, "msg": f"Invalid request: unknown method {method!r}", "id": mid})]

    def on_quote(self, q: SpotQuote) -> list[str]:
        out = []
        ticker_due = q.ts - self.last_ticker_ts >= 1.0
        for stream in self.streams:
            sym, _, kind = stream.partition("@")
            if sym not in self.SYMBOLS:
                continue
            symbol = sym.upper()
            if kind == "bookTicker":
                self.update_id += 1
                data: dict[str, Any] | None = spot.binance_book_ticker(q, symbol, self.update_id)
            elif kind == "trade":
                data = spot.binance_trade(q, symbol)
            elif kind == "aggTrade":
                data = spot.binance_agg_trade(q, symbol)
            elif kind == "ticker" and ticker_due:
                data = spot.binance_24h_ticker(q, symbol)
            else:
                data = None
            if data is not None:
                out.append(_dumps({"stream": stream, "data": data}) if self.combined else _dumps(data))
        if ticker_due:
            self.last_ticker_ts = q.ts
        return out


# ---------------------------------------------------------------------------- Kraken
class KrakenProtocol(FeedProtocol):
    """Kraken spot WebSocket v2 (``wss://ws.kraken.com/v2``) public ticker/trade channels."""

    name = "kraken"
    SYMBOLS = ("BTC/USD",)

    def __init__(self, connection_id: int) -> None:
        self.connection_id = connection_id
        self.subs: dict[str, dict[str, str]] = {}  # channel -> {symbol: event_trigger}

    def on_open(self, now: float) -> list[str]:
        return [
            _dumps(
                {
                    "channel": "status",
                    "data": [{"api_version": "v2", "connection_id": self.connection_id, "system": "online", "version": "2.0.0"}],
                    "type": "update",
                }
            )
        ]

    def on_text(self, text: str, now: float, last: SpotQuote | None) -> list[str]:
        t_in = spot.rfc3339_us(now)
        try:
            msg = json.loads(text)
        except ValueError:
            return [_dumps({"error": "Malformed request", "method": "", "success": False, "time_in": t_in, "time_out": t_in})]
        if not isinstance(msg, dict):
            return [_dumps({"error": "Malformed request", "success": False, "time_in": t_in, "time_out": t_in})]
        method, req_id = msg.get("method"), msg.get("req_id")
        if method == "ping":
            pong = {"method": "pong", "time_in": t_in, "time_out": t_in}
            if req_id is not None:
                pong["req_id"] = req_id
            return [_dumps(pong)]
        if method not in ("subscribe", "unsubscribe"):
            return [_dumps({"error": f"Method not found: {method}", "method": method, "success": False, "time_in": t_in, "time_out": t_in, "req_id": req_id})]
        params = msg.get("params") or {}
        channel = params.get("channel")
        symbols = params.get("symbol") or []
        if channel not in ("ticker", "trade") or not isinstance(symbols, list):
            return [_dumps({"error": f"Channel {channel} not found", "method": method, "success": False, "time_in": t_in, "time_out": t_in, "req_id": req_id})]
        trigger = params.get("event_trigger", "trades")
        snapshot = params.get("snapshot", True)
        out: list[str] = []
        for sym in symbols:
            ack: dict[str, Any] = {"method": method, "result": {"channel": channel, "symbol": sym}, "time_in": t_in, "time_out": t_in}
            if sym not in self.SYMBOLS:
                ack.update({"success": False, "error": f"Currency pair not supported {sym}"})
            else:
                if method == "subscribe":
                    self.subs.setdefault(channel, {})[sym] = trigger
                    ack["result"].update({"snapshot": bool(snapshot)} if channel == "trade" else {"event_trigger": trigger, "snapshot": bool(snapshot)})
                else:
                    self.subs.get(channel, {}).pop(sym, None)
                ack["success"] = True
            if req_id is not None:
                ack["req_id"] = req_id
            out.append(_dumps(ack))
            if method == "subscribe" and sym in self.SYMBOLS and snapshot and last is not None:
                data = spot.kraken_ticker(last, sym) if channel == "ticker" else spot.kraken_trade(last, sym)
                out.append(_dumps({"channel": channel, "type": "snapshot", "data": [data]}))
        return out

    def on_quote(self, q: SpotQuote) -> list[str]:
        out = []
        for sym in self.subs.get("ticker", {}):
            out.append(_dumps({"channel": "ticker", "type": "update", "data": [spot.kraken_ticker(q, sym)]}))
        for sym in self.subs.get("trade", {}):
            out.append(_dumps({"channel": "trade", "type": "update", "data": [spot.kraken_trade(q, sym)]}))
        return out

    def on_idle(self, now: float, idle_s: float) -> list[str]:
        if self.subs and idle_s >= 1.0:
            return [_dumps({"channel": "heartbeat"})]
        return []
