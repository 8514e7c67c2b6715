"""Kalshi WebSocket v2 protocol of the sim: per-connection sessions and the fan-out hub (sans-IO).

``KalshiSession`` holds one connection's subscriptions and turns client commands
(``subscribe``, ``unsubscribe``, ``update_subscription``, ``list_subscriptions``) and exchange
events into outgoing JSON texts; it never touches a socket. ``Hub`` is the exchange's
listener: it hands every event batch to every session. The ASGI adapter (``ws_server``) moves
texts between a session and its socket.

Protocol facts reproduced (reference §5, AsyncAPI 2.0.0):

- channels ``orderbook_delta`` (``orderbook_snapshot`` then signed ``orderbook_delta``),
  ``ticker``, ``trade``, ``fill``, ``user_orders``, ``market_positions``,
  ``market_lifecycle_v2`` (+ ``event_lifecycle``), ``cfbenchmarks_value`` and
  ``cfbenchmarks_value_5hz`` (BRTI);
- ``seq`` per subscription (sid), from 1, shared by all markets of the sid, on
  snapshots, deltas, trades, lifecycle and index messages; none on ``ticker``, ``fill``,
  ``user_order``, ``market_position``. ``ok``/``unsubscribed`` replies carry the sid's current
  ``seq`` without consuming a number (so a client that tracks only book messages sees no gap);
- ``use_yes_price``: NO levels/deltas in NO-leg prices (default) or YES-leg prices; both sides
  ascending by the price shown; an empty side is omitted from a snapshot;
- ``get_snapshot`` re-sends snapshots (with the command ``id``) without changing the
  subscription; ``add_markets``/``delete_markets``; subscribing again to a channel adds its
  new markets to the existing sid (Kalshi's behaviour since Oct 2025);
- error codes 1-15, 24 and 25 (a subscription whose outbound buffer overflows is ended with
  error 25, as on Kalshi when a reader is too slow).
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import trio

from kbot.sim import kalshi_json as kj
from kbot.sim.book import BID
from kbot.sim.events import (
    BookDelta,
    EventCreated,
    FillEvent,
    IndexTick,
    LifecycleEvent,
    OrderUpdate,
    PositionEvent,
    TickerEvent,
    TradeEvent,
)
from kbot.sim.exchange import TradeRecord
from kbot.sim.wire import count_str, iso, ms, price_str

if TYPE_CHECKING:
    from kbot.sim.venue import SimVenue

CHANNELS = (
    "orderbook_delta",
    "ticker",
    "trade",
    "fill",
    "market_positions",
    "market_lifecycle_v2",
    "multivariate_market_lifecycle",
    "communications",
    "order_group_updates",
    "user_orders",
    "cfbenchmarks_value",
    "cfbenchmarks_value_5hz",
    "pyth_value",
)
MARKET_CHANNELS = ("orderbook_delta", "ticker", "trade", "fill", "market_positions", "market_lifecycle_v2", "user_orders")
INDEX_CHANNELS = ("cfbenchmarks_value", "cfbenchmarks_value_5hz")
INDEX_IDS = ("BRTI",)

ERRORS = {
    1: "Unable to process message",
    2: "Params required",
    3: "Channels required",
    4: "Subscription IDs required",
    5: "Unknown command",
    7: "Unknown subscription ID",
    8: "Unknown channel name",
    11: "Invalid parameter",
    12: "Exactly one subscription ID is required",
    13: "Unsupported action",
    14: "Market Ticker required",
    15: "Action required",
    24: "Index IDs required",
    25: "Subscription buffer overflow",
}


def _dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"))


class Subscription:
    __slots__ = ("_set", "channel", "index_ids", "seq", "sid", "tickers", "use_yes_price")

    def __init__(self, sid: int, channel: str, tickers: list[str] | None, use_yes_price: bool, index_ids: list[str]) -> None:
        self.sid = sid
        self.channel = channel
        self.tickers: list[str] | None = tickers  # None: every market (in subscription order)
        self._set: set[str] | None = None  # the same as a set, rebuilt when the list changes
        self.use_yes_price = use_yes_price
        self.index_ids: set[str] = set(index_ids)
        self.seq = 0

    def wants(self, ticker: str) -> bool:
        if self.tickers is None:
            return True
        if self._set is None or len(self._set) != len(self.tickers):
            self._set = set(self.tickers)
        return ticker in self._set

    def changed(self) -> None:
        self._set = None

    def wants_index(self, index_id: str) -> bool:
        return "all" in self.index_ids or index_id in self.index_ids


class CommandError(Exception):
    def __init__(self, code: int, msg: str | None = None, sid: int | None = None) -> None:
        super().__init__(msg or ERRORS.get(code, "error"))
        self.code = code
        self.msg = msg or ERRORS.get(code, "error")
        self.sid = sid


class KalshiSession:
    """One authenticated WebSocket connection's subscriptions and outgoing messages."""

    def __init__(self, venue: SimVenue, user_id: str, queue: int) -> None:
        self.venue = venue
        self.user_id = user_id
        self.subs: dict[int, Subscription] = {}
        self.by_channel: dict[str, list[Subscription]] = {}
        self._next_sid = 1
        self.send, self.receive = trio.open_memory_channel[str](queue)
        self.control: deque[str] = deque()  # replies that did not fit the queue
        self.terminal_errors: deque[str] = deque()
        self.closed = False
        self.sent = 0

    # ------------------------------------------------------------------ output
    def _emit(self, text: str) -> bool:
        try:
            self.send.send_nowait(text)
            return True
        except trio.WouldBlock:
            return False
        except (trio.ClosedResourceError, trio.BrokenResourceError):
            self.closed = True
            return False

    def _reply(self, obj: dict[str, Any]) -> None:
        text = _dumps(obj)
        if not self._emit(text):
            self.control.append(text)

    def _next_seq(self, sub: Subscription) -> int:
        sub.seq += 1
        if self.venue.faults.roll("seq_skip", "kalshi") is not None:
            sub.seq += 1  # a gap, as after a lost message
        return sub.seq

    def _publish(self, sub: Subscription, mtype: str, body: str, *, seq: bool, extra: str = "") -> None:
        if sub.sid not in self.subs:
            return
        if seq:
            text = f'{{"type":"{mtype}","sid":{sub.sid},"seq":{self._next_seq(sub)}{extra},"msg":{body}}}'
        else:
            text = f'{{"type":"{mtype}","sid":{sub.sid}{extra},"msg":{body}}}'
        if not self._emit(text):
            self._overflow(sub)

    def _overflow(self, sub: Subscription) -> None:
        """The client reads too slowly: end the subscription with terminal error 25."""
        self._remove(sub.sid)
        self.terminal_errors.append(
            _dumps({"type": "error", "sid": sub.sid, "msg": {"code": 25, "msg": ERRORS[25]}})
        )
        self.venue.stats["ws_overflow"] += 1

    # ------------------------------------------------------------------ commands
    def handle_text(self, text: str) -> None:
        cmd_id: Any = 0
        try:
            try:
                msg = json.loads(text)
            except ValueError as exc:
                raise CommandError(1, "Unable to process message: invalid JSON") from exc
            if not isinstance(msg, dict):
                raise CommandError(1)
            cmd_id = msg.get("id", 0)
            if isinstance(cmd_id, bool) or not isinstance(cmd_id, int) or cmd_id < 0:
                cmd_id = 0
                raise CommandError(1, "Unable to process message: id must be a non-negative integer")
            cmd = msg.get("cmd")
            params = msg.get("params")
            if cmd == "list_subscriptions":
                self._reply({"id": cmd_id, "type": "ok", "msg": [{"channel": s.channel, "sid": s.sid} for s in self.subs.values()]})
                return
            if cmd not in ("subscribe", "unsubscribe", "update_subscription"):
                raise CommandError(5)
            if not isinstance(params, dict):
                raise CommandError(2)
            if cmd == "subscribe":
                self._subscribe(cmd_id, params)
            elif cmd == "unsubscribe":
                self._unsubscribe(cmd_id, params)
            else:
                self._update(cmd_id, params)
        except CommandError as exc:
            err: dict[str, Any] = {"id": cmd_id, "type": "error", "msg": {"code": exc.code, "msg": exc.msg}}
            if exc.sid is not None:
                err["sid"] = exc.sid
            self._reply(err)

    @staticmethod
    def _tickers(params: dict[str, Any]) -> list[str] | None:
        one, many = params.get("market_ticker"), params.get("market_tickers")
        if one is not None and many is not None:
            raise CommandError(11, "Invalid parameter: market_ticker and market_tickers are exclusive")
        if one is not None:
            if not isinstance(one, str) or not one:
                raise CommandError(11, "Invalid parameter: market_ticker")
            return [one]
        if many is not None:
            if not isinstance(many, list) or not many or not all(isinstance(t, str) and t for t in many):
                raise CommandError(11, "Invalid parameter: market_tickers")
            return list(dict.fromkeys(many))
        return None

    def _subscribe(self, cmd_id: int, params: dict[str, Any]) -> None:
        channels = params.get("channels")
        if not isinstance(channels, list) or not channels:
            raise CommandError(3)
        for ch in channels:
            if ch not in CHANNELS:
                raise CommandError(8, f"Unknown channel name: {ch}")
        tickers = self._tickers(params)
        use_yes = params.get("use_yes_price", False)
        if not isinstance(use_yes, bool):
            raise CommandError(11, "Invalid parameter: use_yes_price")
        index_ids = params.get("index_ids") or []
        if not isinstance(index_ids, list):
            raise CommandError(11, "Invalid parameter: index_ids")
        if "orderbook_delta" in channels and tickers is None:
            raise CommandError(14)
        for ch in channels:
            existing = self.by_channel.get(ch)
            if existing:
                sub = existing[0]
                added = self._add_markets(sub, tickers)
                sub.index_ids.update(index_ids)
                self._reply({"id": cmd_id, "type": "subscribed", "msg": {"channel": ch, "sid": sub.sid}})
            else:
                sid = self._next_sid
                self._next_sid += 1
                ch_tickers = tickers if ch in MARKET_CHANNELS else None
                sub = Subscription(sid, ch, ch_tickers, use_yes, index_ids if ch in INDEX_CHANNELS else [])
                self.subs[sid] = sub
                self.by_channel.setdefault(ch, []).append(sub)
                added = list(ch_tickers or [])
                self._reply({"id": cmd_id, "type": "subscribed", "msg": {"channel": ch, "sid": sid}})
            if ch == "orderbook_delta":
                self._snapshots(sub, added, None)
            elif ch == "ticker" and params.get("send_initial_snapshot"):
                self._ticker_snapshots(sub, added or None)

    def _add_markets(self, sub: Subscription, tickers: list[str] | None) -> list[str]:
        if sub.tickers is None or tickers is None:
            return []
        have = set(sub.tickers)
        new = [t for t in dict.fromkeys(tickers) if t not in have]
        sub.tickers.extend(new)
        sub.changed()
        return new

    def _unsubscribe(self, cmd_id: int, params: dict[str, Any]) -> None:
        sids = params.get("sids")
        if not isinstance(sids, list) or not sids:
            raise CommandError(4)
        for sid in sids:
            sub = self.subs.get(sid) if isinstance(sid, int) else None
            if sub is None:
                raise CommandError(7, sid=sid if isinstance(sid, int) else None)
            self._remove(sid)
            self._reply({"id": cmd_id, "sid": sid, "seq": max(1, sub.seq), "type": "unsubscribed"})

    def _remove(self, sid: int) -> None:
        sub = self.subs.pop(sid, None)
        if sub is not None:
            lst = self.by_channel.get(sub.channel, [])
            if sub in lst:
                lst.remove(sub)

    def _update(self, cmd_id: int, params: dict[str, Any]) -> None:
        action = params.get("action")
        if action in (None, ""):
            raise CommandError(15)
        sid, sids = params.get("sid"), params.get("sids")
        if (sid is None) == (sids is None) or (sids is not None and (not isinstance(sids, list) or len(sids) != 1)):
            raise CommandError(12)
        if sid is None and sids is not None:
            sid = sids[0]
        sub = self.subs.get(sid) if isinstance(sid, int) else None
        if sub is None:
            raise CommandError(7, sid=sid if isinstance(sid, int) else None)
        if sub.channel in INDEX_CHANNELS:
            self._update_indices(cmd_id, sub, action, params)
            return
        if action not in ("add_markets", "delete_markets", "get_snapshot"):
            raise CommandError(13, sid=sub.sid)
        tickers = self._tickers(params)
        if not tickers:
            raise CommandError(14, sid=sub.sid)
        if action == "get_snapshot":
            if sub.channel != "orderbook_delta":
                raise CommandError(13, "Unsupported action: get_snapshot is for orderbook_delta", sid=sub.sid)
            self._snapshots(sub, [t for t in tickers if sub.wants(t)], cmd_id)
            return
        if sub.tickers is None:
            raise CommandError(13, "Unsupported action: this subscription covers every market", sid=sub.sid)
        if action == "add_markets":
            added = self._add_markets(sub, tickers)
            if sub.channel == "orderbook_delta":
                self._snapshots(sub, added, None)
        else:
            drop = set(tickers)
            sub.tickers[:] = [t for t in sub.tickers if t not in drop]
            sub.changed()
        self._reply({"id": cmd_id, "sid": sub.sid, "seq": max(1, sub.seq), "type": "ok", "msg": {"market_tickers": list(sub.tickers)}})

    def _update_indices(self, cmd_id: int, sub: Subscription, action: Any, params: dict[str, Any]) -> None:
        if action == "indexlist":
            body = _dumps({"index_ids": list(INDEX_IDS)})
            self._publish(sub, f"{sub.channel}_indexlist", body, seq=True, extra=f',"id":{cmd_id}')
            return
        if action not in ("subscribe_indices", "unsubscribe_indices"):
            raise CommandError(13, sid=sub.sid)
        ids = params.get("index_ids")
        if not isinstance(ids, list) or not ids:
            raise CommandError(24, sid=sub.sid)
        if action == "subscribe_indices":
            sub.index_ids.update(ids)
        else:
            sub.index_ids.difference_update(ids)
        self._reply({"id": cmd_id, "sid": sub.sid, "seq": max(1, sub.seq), "type": "ok", "msg": {"index_ids": sorted(sub.index_ids)}})

    # ------------------------------------------------------------------ snapshots
    def _snapshots(self, sub: Subscription, tickers: Iterable[str], cmd_id: int | None) -> None:
        ex = self.venue.exchange
        extra = f',"id":{cmd_id}' if cmd_id is not None else ""
        for t in tickers:
            m = ex.markets.get(t)
            if m is None or t not in ex.engines:
                continue
            body = {"market_ticker": t, "market_id": m.market_id, **kj.ws_snapshot_levels(ex, t, sub.use_yes_price)}
            self._publish(sub, "orderbook_snapshot", _dumps(body), seq=True, extra=extra)

    def _ticker_snapshots(self, sub: Subscription, tickers: list[str] | None) -> None:
        ex = self.venue.exchange
        for m in list(ex.markets.values()):
            if tickers is None or m.ticker in tickers:
                self._publish(sub, "ticker", _dumps(kj.ws_ticker(ex, m, ex.now)), seq=False)

    # ------------------------------------------------------------------ events
    def on_events(self, events: list, cache: dict) -> None:
        if self.closed or not self.subs:
            return
        bc = self.by_channel
        for e in events:
            t = type(e)
            if t is BookDelta:
                for sub in bc.get("orderbook_delta", ()):
                    if sub.wants(e.ticker):
                        self._publish(sub, "orderbook_delta", self._delta_body(e, sub.use_yes_price, cache), seq=True)
            elif t is TickerEvent:
                for sub in bc.get("ticker", ()):
                    if sub.wants(e.ticker):
                        self._publish(sub, "ticker", _cached(cache, ("tk", e.ticker), lambda e=e: self._ticker_body(e)), seq=False)
            elif t is TradeEvent:
                for sub in bc.get("trade", ()):
                    if sub.wants(e.ticker):
                        self._publish(sub, "trade", _cached(cache, ("tr", id(e)), lambda e=e: _dumps(kj.ws_trade(_trade(e)))), seq=True)
            elif t is IndexTick:
                for ch, fmt in (("cfbenchmarks_value", kj.ws_cfbenchmarks), ("cfbenchmarks_value_5hz", kj.ws_cfbenchmarks_5hz)):
                    for sub in bc.get(ch, ()):
                        if sub.wants_index("BRTI"):
                            self._publish(sub, ch, _cached(cache, (ch, e.second), lambda e=e, fmt=fmt: _dumps(fmt(e))), seq=True)
            elif t is LifecycleEvent:
                for sub in bc.get("market_lifecycle_v2", ()):
                    if sub.wants(e.ticker):
                        body = _cached(cache, ("lc", id(e)), lambda e=e: _dumps({"market_ticker": e.ticker, "event_type": e.event_type, **e.fields}))
                        self._publish(sub, "market_lifecycle_v2", body, seq=True)
            elif t is EventCreated:
                for sub in bc.get("market_lifecycle_v2", ()):
                    if sub.tickers is None:
                        self._publish(sub, "event_lifecycle", _cached(cache, ("ev", id(e)), lambda e=e: _dumps(e.fields)), seq=True)
            elif t is FillEvent:
                if e.user_id == self.user_id:
                    for sub in bc.get("fill", ()):
                        if sub.wants(e.ticker):
                            self._publish(sub, "fill", _dumps(kj.ws_fill(e)), seq=False)
            elif t is OrderUpdate:
                if e.order.user_id == self.user_id:
                    for sub in bc.get("user_orders", ()):
                        if sub.wants(e.order.ticker):
                            self._publish(sub, "user_order", _dumps(kj.ws_user_order(e.order, e.reason)), seq=False)
            elif t is PositionEvent and e.user_id == self.user_id:
                for sub in bc.get("market_positions", ()):
                    if sub.wants(e.ticker):
                        acct = self.venue.exchange.accounts.get(self.user_id)
                        pos = acct.positions.get(e.ticker) if acct else None
                        if pos is not None:
                            self._publish(sub, "market_position", _dumps(kj.ws_market_position(self.user_id, pos)), seq=False)

    def _delta_body(self, e: BookDelta, use_yes: bool, cache: dict) -> str:
        own = e.order is not None and e.order.user_id == self.user_id and not e.order.is_agent
        if own:
            return _dumps(_delta_dict(self.venue, e, use_yes, own=True))
        return _cached(cache, ("d", id(e), use_yes), lambda: _dumps(_delta_dict(self.venue, e, use_yes, own=False)))

    def _ticker_body(self, e: TickerEvent) -> str:
        ex = self.venue.exchange
        m = ex.markets.get(e.ticker)
        return _dumps(kj.ws_ticker(ex, m, e.ts)) if m is not None else "{}"


def _cached(cache: dict, key: Any, make: Any) -> str:
    v = cache.get(key)
    if v is None:
        v = cache[key] = make()
    return v


def _trade(e: TradeEvent) -> TradeRecord:
    return TradeRecord(e.trade_id, e.ticker, e.price, e.count, e.taker_side, e.ts)


def _delta_dict(venue: SimVenue, e: BookDelta, use_yes: bool, *, own: bool) -> dict[str, Any]:
    m = venue.exchange.markets.get(e.ticker)
    if e.side == BID:
        side, price = "yes", e.price
    else:
        side, price = "no", (e.price if use_yes else 10_000 - e.price)
    out: dict[str, Any] = {
        "market_ticker": e.ticker,
        "market_id": m.market_id if m else "",
        "price_dollars": price_str(price),
        "delta_fp": count_str(e.delta),
        "side": side,
        "ts": iso(int(e.ts)),
        "ts_ms": ms(e.ts),
    }
    if own and e.order is not None:
        if e.order.client_order_id:
            out["client_order_id"] = e.order.client_order_id
        out["subaccount"] = e.order.subaccount
    return out


class Hub:
    """The exchange's listener: fans every event batch out to the live sessions."""

    def __init__(self) -> None:
        self.sessions: set[KalshiSession] = set()

    def __call__(self, events: list) -> None:
        if not self.sessions:
            return
        cache: dict = {}
        for s in list(self.sessions):
            s.on_events(events, cache)
