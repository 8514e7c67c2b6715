"""The Kalshi WebSocket protocol state machine, without I/O ("sans-I/O", like h11/wsproto).

``KalshiWsSession`` turns inputs into outputs:

    inputs:  on_connected / on_disconnected / watch / unwatch / on_text(frame) / tick
    outputs: ``drain()`` -> (domain messages, commands to send, reconnect reason or None)

It owns the subscriptions, the per-``sid`` sequence numbers and the local order books. The shell
(``kbot.venues.kalshi.ws.KalshiWsClient``) does the sockets. Times: ``now`` is kbot's clock (for
message timestamps, epoch seconds) and ``rt`` is Trio's clock (for deadlines, real seconds).

Subscriptions: one per channel. Market channels (``orderbook_delta``, ``ticker``, ``trade``) carry
the watched tickers; they are subscribed when the first market is watched, grown and shrunk with
``update_subscription`` ``add_markets``/``delete_markets``, and unsubscribed when empty. Global
channels (``market_lifecycle_v2``, ``fill``, ``user_orders``, ``market_positions``,
``cfbenchmarks_value``) are subscribed on connect. After a reconnect every ``sid`` is gone: the
session resubscribes everything and rebuilds books from fresh snapshots.

Sequence numbers are per ``sid`` (``ok``/``unsubscribed`` replies take part). On a gap in the order
book subscription every book of it turns stale (a stale ``Quote`` is emitted at once so pricers
stop), deltas are dropped, and fresh snapshots are requested with ``get_snapshot``; when they do
not come within ``resync_timeout_s`` (twice) the channel is resubscribed, and after repeated
failed resubscribes the session asks for a reconnect. Terminal errors 10 and 25 resubscribe the
channel. A book that goes inconsistent (negative level) or receives a malformed delta is resynced
the same way. Optional channels refused by the server (``cfbenchmarks_value`` without the
entitlement, private channels without scope) are switched off for the connection with one warning.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

import attrs
from loguru import logger

from kbot.actorkit import BadInputLog
from kbot.messages import FeedStatus, MarketSettled
from kbot.text import short
from kbot.venues.config import KalshiWsConfig
from kbot.venues.kalshi import fastparse
from kbot.venues.kalshi import ws_parse as wp
from kbot.venues.kalshi.book import BookError, OrderBook, stale_quote
from kbot.venues.wire import WireError

Command = dict[str, Any]
ONE = Decimal(1)

MARKET_CHANNELS = ("orderbook_delta", "ticker", "trade")
OPTIONAL_CHANNELS = frozenset({"cfbenchmarks_value", "fill", "user_orders", "market_positions"})
TERMINAL_CODES = frozenset({10, 25})
UNKNOWN_SID = 7
RATE_LIMITED = 27
IGNORED_TYPES = frozenset(
    {"multivariate_market_lifecycle", "order_group_updates", "cfbenchmarks_value_indexlist", "cfbenchmarks_value_5hz"}
)
MAX_RESUBSCRIBES = 3  # consecutive failed resubscribes of one channel before asking for a reconnect
SNAPSHOT_ATTEMPTS = 2  # get_snapshot requests for a stale book before resubscribing the channel
MAX_CROSSED = 50  # messages a book may stay locked/crossed (real streams: < 20) before a resync


@attrs.define(slots=True)
class _Sub:
    channel: str
    state: str = "idle"  # idle | subscribing | active | unavailable
    sid: int | None = None
    cmd_id: int | None = None
    tickers: set[str] = attrs.field(factory=set)  # markets in this subscription (our view)
    pending_add: set[str] = attrs.field(factory=set)  # watched while subscribing
    pending_del: set[str] = attrs.field(factory=set)
    last_seq: int | None = None
    sent_rt: float = 0.0
    failures: int = 0


@attrs.define(slots=True)
class _Book:
    book: OrderBook
    live: bool = False  # a snapshot has been applied since the last (re)subscribe/gap
    deadline: float | None = None  # rt by which a snapshot should have arrived
    attempts: int = 0  # get_snapshot requests made while stale
    key: tuple | None = None  # last emitted depth (change detection)
    seq: int | None = None
    snap_at: float = 0.0  # clock time of the last BookSnapshot for the record
    crossed_run: int = 0  # consecutive messages leaving the book locked/crossed


@attrs.frozen(kw_only=True)
class _Pending:
    """A command awaiting its reply."""

    kind: str  # subscribe | update_subscription | unsubscribe | get_snapshot
    channel: str
    detail: Any
    # the sid the command addressed: an error about an old sid after a resubscribe must not
    # trigger another one
    sid: int | None


@attrs.define(slots=True)
class WsCounters:
    frames: int = 0
    gaps: int = 0
    resyncs: int = 0
    resubscribes: int = 0
    dropped_deltas: int = 0
    stale_sid: int = 0
    duplicates: int = 0
    crossed: int = 0


class KalshiWsSession:
    def __init__(self, cfg: KalshiWsConfig, *, bad: BadInputLog | None = None, feed: str = "kalshi_ws") -> None:
        self.cfg = cfg
        self.feed = feed
        self.bad = bad or BadInputLog(feed)
        self.log = logger.bind(feed=feed)
        self.counters = WsCounters()
        self.connected = False
        self.watched: set[str] = set()
        self.books: dict[str, _Book] = {}
        self.subs: dict[str, _Sub] = {ch: _Sub(ch) for ch in self._channels()}
        self._by_sid: dict[int, _Sub] = {}
        self._pending: dict[int, _Pending] = {}  # cmd id -> what it was
        self._retry: list[tuple[float, str, str, Any]] = []  # (rt, kind, channel, detail) rate-limited
        self._next_id = 1
        self._results: OrderedDict[str, tuple[str, Decimal]] = OrderedDict()  # ticker -> determined outcome
        self._warned: set[str] = set()
        self._msgs: list[Any] = []
        self._cmds: list[Command] = []
        self._reconnect: str | None = None
        self._resyncing = False  # books were invalidated and are being recovered
        self._prefixes = tuple(f"{s}-" for s in cfg.lifecycle_series)

    # ------------------------------------------------------------------ plumbing

    _CHANNEL_FLAGS = (
        ("orderbook", "orderbook_delta"),
        ("ticker", "ticker"),
        ("trades", "trade"),
        ("lifecycle", "market_lifecycle_v2"),
        ("fills", "fill"),
        ("user_orders", "user_orders"),
        ("market_positions", "market_positions"),
        ("cfbenchmarks", "cfbenchmarks_value"),
    )

    def _channels(self) -> list[str]:
        return [ch for flag, ch in self._CHANNEL_FLAGS if getattr(self.cfg, flag)]

    def drain(self) -> tuple[list[Any], list[Command], str | None]:
        """Everything produced since the last drain: messages to send on, commands to write to
        the socket, and a reason when the connection should be dropped and re-opened."""
        msgs, cmds, rec = self._msgs, self._cmds, self._reconnect
        self._msgs, self._cmds, self._reconnect = [], [], None
        return msgs, cmds, rec

    def _cmd(self, cmd: str, params: dict[str, Any] | None, kind: str, channel: str, detail: Any = None) -> int:
        cid = self._next_id
        self._next_id += 1
        c: Command = {"id": cid, "cmd": cmd}
        if params is not None:
            c["params"] = params
        self._cmds.append(c)
        sids = (params or {}).get("sids") or ([params["sid"]] if params and "sid" in params else [])
        self._pending[cid] = _Pending(kind=kind, channel=channel, detail=detail, sid=sids[0] if sids else None)
        return cid

    def _status(self, now: float, status: str, detail: str | None = None) -> None:
        self._msgs.append(FeedStatus(ts=now, feed=self.feed, status=status, detail=detail))

    def _warn_once(self, key: str, text: str, *args: Any) -> None:
        if key not in self._warned:
            self._warned.add(key)
            self.log.warning(text, *args)

    # ------------------------------------------------------------------ connection

    def _reset_subscriptions(self) -> None:
        """A new or lost connection: every sid and pending command is gone."""
        self._resyncing = False
        self._next_id = 1
        self._pending.clear()
        self._retry.clear()
        self._by_sid.clear()
        for ch in list(self.subs):
            self.subs[ch] = _Sub(ch)

    def on_connected(self, now: float, rt: float) -> None:
        self.connected = True
        self._reset_subscriptions()
        self._warned.clear()
        for b in self.books.values():
            self._make_stale(b, now, rt, emit=False)
        self._status(now, "connected")
        for ch in self.subs:
            self._subscribe(ch, rt)

    def on_disconnected(self, now: float, reason: str) -> None:
        was = self.connected
        self.connected = False
        self._reset_subscriptions()
        for b in self.books.values():
            self._make_stale(b, now, None, emit=b.live or b.key is not None)
        if was:
            self._status(now, "disconnected", reason)

    # ------------------------------------------------------------------ watching markets

    def watch(self, tickers: Iterable[str], now: float, rt: float) -> None:
        new = set(tickers) - self.watched
        if not new:
            return
        self.watched |= new
        if "orderbook_delta" in self.subs:
            for t in new:
                self.books[t] = _Book(OrderBook(t), deadline=rt + self.cfg.resync_timeout_s)
        if not self.connected:
            return
        for ch in MARKET_CHANNELS:
            sub = self.subs.get(ch)
            if sub is None:
                continue
            if sub.state == "idle":
                self._subscribe(ch, rt)
            elif sub.state == "subscribing":
                sub.pending_add |= new
                sub.pending_del -= new
            elif sub.state == "active":
                self._update(sub, sorted(new), "add_markets")
                sub.tickers |= new

    def unwatch(self, tickers: Iterable[str], now: float, rt: float) -> None:
        gone = set(tickers) & self.watched
        if not gone:
            return
        self.watched -= gone
        for t in gone:
            self.books.pop(t, None)
        if not self.connected:
            return
        for ch in MARKET_CHANNELS:
            sub = self.subs.get(ch)
            if sub is None:
                continue
            if sub.state == "subscribing":
                sub.pending_del |= gone
                sub.pending_add -= gone
            elif sub.state == "active":
                drop = sub.tickers & gone
                sub.tickers -= gone
                if not sub.tickers:
                    self._unsubscribe(sub)
                elif drop:
                    self._update(sub, sorted(drop), "delete_markets")

    # ------------------------------------------------------------------ commands

    def _subscribe(self, channel: str, rt: float) -> None:
        sub = self.subs[channel]
        params: dict[str, Any] = {"channels": [channel]}
        if channel in MARKET_CHANNELS:
            if not self.watched:
                sub.state = "idle"
                return
            sub.tickers = set(self.watched)
            params["market_tickers"] = sorted(self.watched)
        if channel == "orderbook_delta":
            params["use_yes_price"] = self.cfg.use_yes_price
        if channel == "cfbenchmarks_value":
            params["index_ids"] = [self.cfg.cfbenchmarks_index]
        sub.state = "subscribing"
        sub.sid = None
        sub.last_seq = None
        sub.pending_add.clear()
        sub.pending_del.clear()
        sub.sent_rt = rt
        sub.cmd_id = self._cmd("subscribe", params, "subscribe", channel)

    def _unsubscribe(self, sub: _Sub) -> None:
        if sub.sid is not None:
            self._by_sid.pop(sub.sid, None)
            self._cmd("unsubscribe", {"sids": [sub.sid]}, "unsubscribe", sub.channel)
        sub.state, sub.sid, sub.cmd_id, sub.last_seq = "idle", None, None, None
        sub.tickers.clear()

    def _update(self, sub: _Sub, tickers: list[str], action: str) -> None:
        assert sub.sid is not None
        self._cmd(
            "update_subscription",
            {"sids": [sub.sid], "market_tickers": tickers, "action": action},
            action,
            sub.channel,
            tickers,
        )

    def _resubscribe(self, channel: str, now: float, rt: float, reason: str) -> None:
        sub = self.subs.get(channel)
        if sub is None or not self.connected:
            return
        self.counters.resubscribes += 1
        sub.failures += 1
        self.log.warning("resubscribing {} ({}; attempt {})", channel, reason, sub.failures)
        self._status(now, "resubscribing", f"{channel}: {reason}")
        if sub.failures > MAX_RESUBSCRIBES:
            self._reconnect = f"{channel} failed {sub.failures - 1} resubscribes ({reason})"
            return
        if channel == "orderbook_delta":
            for b in self.books.values():
                self._make_stale(b, now, rt, emit=b.live)
        if sub.sid is not None:
            self._by_sid.pop(sub.sid, None)
            self._cmd("unsubscribe", {"sids": [sub.sid]}, "unsubscribe", channel)
        self._subscribe(channel, rt)

    def _request_snapshots(self, tickers: list[str], now: float, rt: float) -> None:
        sub = self.subs.get("orderbook_delta")
        if sub is None or sub.state != "active" or sub.sid is None or not tickers:
            return
        self.counters.resyncs += 1
        for t in tickers:
            b = self.books.get(t)
            if b is not None:
                b.attempts += 1
                b.deadline = rt + self.cfg.resync_timeout_s
        self._cmd(
            "update_subscription",
            {"sids": [sub.sid], "market_tickers": sorted(tickers), "action": "get_snapshot"},
            "get_snapshot",
            "orderbook_delta",
            sorted(tickers),
        )

    # ------------------------------------------------------------------ books

    def _make_stale(self, b: _Book, now: float, rt: float | None, *, emit: bool) -> None:
        if emit:
            self._msgs.append(stale_quote(b.book.ticker, ts=now, recv_ts=now))
        b.live = False
        b.key = None
        b.attempts = 0
        b.crossed_run = 0
        b.deadline = None if rt is None else rt + self.cfg.resync_timeout_s

    def _invalidate(self, tickers: Iterable[str], now: float, rt: float, reason: str) -> None:
        stale = []
        for t in tickers:
            b = self.books.get(t)
            if b is not None and b.live:
                self._make_stale(b, now, rt, emit=True)
                stale.append(t)
        if stale:
            self._resyncing = True
            self.log.warning("books stale ({}): {}", reason, ", ".join(sorted(stale)[:10]))
            self._request_snapshots(stale, now, rt)

    def _emit_quote(self, b: _Book, ts: float, recv_ts: float, mono: float, rt: float | None = None) -> None:
        """Send the book's Quote when its top or depth changed. A locked/crossed book (YES bid >=
        YES ask) is a transient state between the deltas of one match in real streams: no Quote
        is sent until it uncrosses; if it stays crossed for ``MAX_CROSSED`` messages the book is
        treated as inconsistent and resynced."""
        book = b.book
        depth = self.cfg.book_depth
        yb, nb, key = book.quote_state(depth)
        if yb is not None and nb is not None and yb[0] + nb[0] >= ONE:  # ``book.crossed``
            self.counters.crossed += 1
            b.crossed_run += 1
            if b.crossed_run > MAX_CROSSED and rt is not None:
                self._invalidate([book.ticker], recv_ts, rt, f"crossed for {b.crossed_run} messages")
            return
        b.crossed_run = 0
        if key == b.key:
            return  # nothing a Quote carries changed (checked before building one)
        b.key = key
        self._msgs.append(book.quote(ts=ts, recv_ts=recv_ts, depth=depth, mono=mono, asks=key, tops=(yb, nb)))

    # ------------------------------------------------------------------ frames

    def on_frames_dropped(self, n: int, now: float, rt: float) -> None:
        """Our frame queue overflowed: sequenced channels will show the gap by themselves;
        unsequenced ones (ticker, fill, user_order) cannot, so say so loudly."""
        self._status(now, "frames_dropped", f"{n} frames dropped (consumer too slow)")

    def on_text(self, text: str, recv_ts: float, rt: float, mono: float = 0.0) -> None:
        """Take one frame. Never raises: a frame the parsers reject (``WireError``) is counted
        by kind and dropped; anything else a frame provokes is a bug in kbot, counted as
        ``<type>:internal_error``, logged with its traceback (once per type) and survived, so that
        no frame can restart the connection. A book frame that fails either way resyncs the books."""
        self.counters.frames += 1
        if fastparse.maybe_delta(text):  # the bulk of a book stream: typed decode, same rules
            fast = fastparse.decode_delta(text, use_yes_price=self.cfg.use_yes_price, recv_ts=recv_ts)
            if fast is not None:
                self._fast_delta(fast, recv_ts, rt, mono)
                return
        try:
            env = wp.parse_envelope(text)
        except WireError as e:
            self.bad.record(f"frame:{e.kind}", text, e.detail)
            return
        t = env.type
        handler = _HANDLERS.get(t)
        if handler is None:
            if t not in IGNORED_TYPES:
                self.bad.record("unknown_type", text, f"type={short(t)}")
            return
        try:
            handler(self, env, text, recv_ts, rt, mono)
        except WireError as e:
            self.bad.record(f"{t}:{e.kind}", text, e.detail)
        except Exception as e:
            self.bad.record(f"{t}:internal_error", text, f"{type(e).__name__}: {short(str(e))}")
            if f"bug:{t}" not in self._warned:
                self._warned.add(f"bug:{t}")
                self.log.opt(exception=e).error("a {} frame raised {} in the session (kbot bug); frame dropped", t, type(e).__name__)
        else:
            return
        if t in ("orderbook_delta", "orderbook_snapshot"):
            self._bad_book_frame(env, recv_ts, rt)

    def _bad_book_frame(self, env: wp.Envelope, now: float, rt: float) -> None:
        ticker = env.msg.get("market_ticker") if isinstance(env.msg, dict) else None
        if isinstance(ticker, str) and ticker in self.books:
            self._invalidate([ticker], now, rt, "malformed book message")
        else:
            self._invalidate(list(self.books), now, rt, "malformed book message")

    def _seq_ok(self, sub: _Sub, seq: int | None, now: float, rt: float) -> bool:
        """Advance ``sub``'s sequence; False when the frame is a duplicate/old one to drop."""
        if seq is None:
            raise WireError("missing_field", "seq")
        last = sub.last_seq
        if last is None or seq == last + 1:
            sub.last_seq = seq
            return True
        if seq <= last:
            self.counters.duplicates += 1
            return False
        sub.last_seq = seq
        self.counters.gaps += 1
        self.log.warning("seq gap on {} sid={}: {} -> {}", sub.channel, sub.sid, last, seq)
        self._status(now, "gap", f"{sub.channel} sid={sub.sid} seq {last}->{seq}")
        if sub.channel == "orderbook_delta":
            self._invalidate([t for t, b in self.books.items() if b.live], now, rt, f"seq gap {last}->{seq}")
        return True

    def _sub_for(self, env: wp.Envelope, channel: str) -> _Sub | None:
        return self._sub_of(env.sid, channel)

    def _sub_of(self, sid: int | None, channel: str) -> _Sub | None:
        """The subscription of ``sid`` on ``channel``, else None (counted as a stale sid)."""
        sub = self._by_sid.get(sid) if sid is not None else None
        if sub is None or sub.channel != channel:
            self.counters.stale_sid += 1
            return None
        return sub

    # -- control replies

    def _h_subscribed(self, env: wp.Envelope, text: str, now: float, rt: float, mono: float) -> None:
        channel, sid = wp.parse_subscribed(env)
        pending = self._pending.pop(env.id, None) if env.id is not None else None
        sub = self.subs.get(channel)
        if sub is None or (pending is not None and pending.channel != channel) or sub.state != "subscribing":
            self.log.warning("unexpected subscribed reply: {}", text[:200])
            return
        if env.id is not None and sub.cmd_id is not None and env.id != sub.cmd_id:
            return  # reply to a superseded subscribe
        sub.state, sub.sid = "active", sid
        self._by_sid[sid] = sub
        if channel in MARKET_CHANNELS:
            adds = sorted(sub.pending_add - sub.tickers)
            dels = sorted(sub.pending_del & sub.tickers)
            sub.tickers |= sub.pending_add
            sub.tickers -= sub.pending_del
            sub.pending_add.clear()
            sub.pending_del.clear()
            if not sub.tickers:
                self._unsubscribe(sub)
                return
            if adds:
                self._update(sub, adds, "add_markets")
            if dels:
                self._update(sub, dels, "delete_markets")
        if channel != "orderbook_delta":
            sub.failures = 0

    def _h_ok(self, env: wp.Envelope, text: str, now: float, rt: float, mono: float) -> None:
        if env.id is not None:
            self._pending.pop(env.id, None)
        if env.sid is not None and env.seq is not None:
            sub = self._by_sid.get(env.sid)
            if sub is not None:
                self._seq_ok(sub, env.seq, now, rt)

    def _h_unsubscribed(self, env: wp.Envelope, text: str, now: float, rt: float, mono: float) -> None:
        if env.id is not None:
            self._pending.pop(env.id, None)

    def _h_error(self, env: wp.Envelope, text: str, now: float, rt: float, mono: float) -> None:
        code, reason = wp.parse_error(env)
        pending = self._pending.pop(env.id, None) if env.id is not None else None
        kind, channel = (pending.kind, pending.channel) if pending else (None, None)
        sub = self._by_sid.get(env.sid) if env.sid is not None else None
        if sub is None and channel is None and env.id is not None:
            sub = next((s for s in self.subs.values() if s.cmd_id == env.id), None)  # error on an acked subscription
        if sub is None and channel is not None:
            sub = self.subs.get(channel)
        ch = sub.channel if sub is not None else channel
        if code in TERMINAL_CODES and ch is not None:
            self._resubscribe(ch, now, rt, f"terminal error {code}: {reason}")
        elif kind == "subscribe" and ch in OPTIONAL_CHANNELS:
            s = self.subs[ch]
            s.state = "unavailable"
            self._warn_once(f"unavail:{ch}", "{} unavailable on this connection ({} {}): continuing without it", ch, code, reason)
            self._status(now, "unavailable", f"{ch}: {code} {reason}")
        elif kind == "get_snapshot":
            self._resubscribe("orderbook_delta", now, rt, f"get_snapshot refused ({code} {reason})")
        elif code == UNKNOWN_SID and ch is not None:
            addressed = pending.sid if pending is not None else None
            current = self.subs[ch].sid if ch in self.subs else None
            if addressed is not None and addressed != current:
                self.log.debug("unknown sid {} for {} (already replaced by {}): ignored", addressed, ch, current)
            elif ch in self.subs and self.subs[ch].state == "subscribing":
                self.log.debug("unknown sid for {} while resubscribing: ignored", ch)
            else:
                self._resubscribe(ch, now, rt, f"unknown sid ({reason})")
        elif code == RATE_LIMITED and pending is not None:
            self._warn_once("rate", "WS command rate limited (27): retrying in 1 s")
            self._retry.append((rt + 1.0, pending.kind, pending.channel, pending.detail))
        else:
            self._warn_once(f"err:{code}:{kind}", "Kalshi WS error {} on {} {}: {}", code, kind or "-", ch or "-", reason)
            self._status(now, "error", f"{code} {reason}")
            if kind == "subscribe" and ch is not None and self.subs[ch].state == "subscribing":
                self.subs[ch].state = "unavailable" if ch not in MARKET_CHANNELS else "idle"

    # -- market data

    def _h_snapshot(self, env: wp.Envelope, text: str, now: float, rt: float, mono: float) -> None:
        sub = self._sub_for(env, "orderbook_delta")
        if sub is None or not self._seq_ok(sub, env.seq, now, rt):
            return
        lv = wp.parse_orderbook_snapshot(env.msg, use_yes_price=self.cfg.use_yes_price)
        b = self.books.get(lv.ticker)
        if b is None:
            return  # a market we stopped watching
        b.book.replace(lv.yes, lv.no)
        b.live, b.deadline, b.attempts, b.key, b.seq, b.crossed_run = True, None, 0, None, env.seq, 0
        self._emit_quote(b, now, now, mono, rt)
        b.snap_at = now
        self._msgs.append(b.book.snapshot(ts=now, recv_ts=now, depth=self.cfg.book_depth, seq=env.seq))
        if (sub.failures or self._resyncing) and all(x.live for x in self.books.values()):
            sub.failures = 0
            self._resyncing = False
            self._status(now, "resynced", "orderbook_delta")

    def _h_delta(self, env: wp.Envelope, text: str, now: float, rt: float, mono: float) -> None:
        sub = self._sub_for(env, "orderbook_delta")
        if sub is None or not self._seq_ok(sub, env.seq, now, rt):
            return
        d = wp.parse_orderbook_delta(env.msg, use_yes_price=self.cfg.use_yes_price, recv_ts=now)
        self._apply_delta((env.sid or 0, env.seq or 0, d.ticker, d.side, d.price, d.delta, d.ts, d.client_order_id),
                          now, rt, mono)

    def _fast_delta(self, f: fastparse.Fast, now: float, rt: float, mono: float) -> None:
        """``_h_delta`` for a delta the fast path already parsed (``fastparse.decode_delta``)."""
        sub = self._sub_of(f[0], "orderbook_delta")
        if sub is None:
            return
        last, seq = sub.last_seq, f[1]
        if last is not None and seq == last + 1:
            sub.last_seq = seq  # the common case of ``_seq_ok``, inline
        elif not self._seq_ok(sub, seq, now, rt):
            return
        self._apply_delta(f, now, rt, mono)

    def _apply_delta(self, f: fastparse.Fast, now: float, rt: float, mono: float) -> None:
        """A delta whose sequence was accepted, onto its book (``f``: ``fastparse.Fast``'s fields)."""
        _sid, seq, ticker, side, price, delta, ts, _coid = f
        b = self.books.get(ticker)
        if b is None:
            return
        if not b.live:
            self.counters.dropped_deltas += 1
            return
        try:
            rank = b.book.apply(side, price, delta)
        except BookError as e:
            self._invalidate([ticker], now, rt, f"book inconsistent: {e}")
            return
        b.seq = seq
        if rank >= self.cfg.book_depth and b.key is not None and not b.crossed_run:
            return  # below the quoted depth: the Quote would not change
        self._emit_quote(b, ts, now, mono, rt)

    def _h_ticker(self, env: wp.Envelope, text: str, now: float, rt: float, mono: float) -> None:
        q = wp.parse_ticker(env.msg, recv_ts=now, mono=mono)
        if q.ticker in self.watched:
            self._msgs.append(q)

    def _h_trade(self, env: wp.Envelope, text: str, now: float, rt: float, mono: float) -> None:
        sub = self._sub_for(env, "trade")
        if sub is None or not self._seq_ok(sub, env.seq, now, rt):
            return
        tr = wp.parse_trade(env.msg, recv_ts=now)
        if tr.ticker in self.watched:
            self._msgs.append(tr)

    def _relevant(self, ticker: str) -> bool:
        return ticker in self.watched or ticker.startswith(self._prefixes)

    def _h_lifecycle(self, env: wp.Envelope, text: str, now: float, rt: float, mono: float) -> None:
        sub = self._sub_for(env, "market_lifecycle_v2")
        if sub is None or not self._seq_ok(sub, env.seq, now, rt):
            return
        lc = wp.parse_market_lifecycle(env.msg, recv_ts=now)
        if not self._relevant(lc.ticker):
            return
        self._msgs.append(lc)
        settled: MarketSettled | None = wp.settled_from_lifecycle(lc, self._results.get(lc.ticker))
        if settled is not None:
            if lc.event_type == "determined":
                self._results[lc.ticker] = (settled.result, settled.settlement_value)
                while len(self._results) > 10_000:
                    self._results.popitem(last=False)
            self._msgs.append(settled)

    def _h_event_lifecycle(self, env: wp.Envelope, text: str, now: float, rt: float, mono: float) -> None:
        sub = self._sub_for(env, "market_lifecycle_v2")
        if sub is None or not self._seq_ok(sub, env.seq, now, rt):
            return
        ev = wp.parse_event_lifecycle(env.msg, recv_ts=now)
        if ev.series_ticker in self.cfg.lifecycle_series:
            self._msgs.append(ev)

    def _h_fee_update(self, env: wp.Envelope, text: str, now: float, rt: float, mono: float) -> None:
        sub = self._sub_for(env, "market_lifecycle_v2")
        if sub is None or not self._seq_ok(sub, env.seq, now, rt):
            return
        self._msgs.append(wp.parse_event_fee_update(env.msg, recv_ts=now))

    def _h_cfb(self, env: wp.Envelope, text: str, now: float, rt: float, mono: float) -> None:
        sub = self._sub_for(env, "cfbenchmarks_value")
        if sub is None or not self._seq_ok(sub, env.seq, now, rt):
            return
        iv = wp.parse_cfbenchmarks_value(env.msg, recv_ts=now, mono=mono)
        if iv.index_id == self.cfg.cfbenchmarks_index:
            self._msgs.append(iv.tick)

    def _h_fill(self, env: wp.Envelope, text: str, now: float, rt: float, mono: float) -> None:
        notes: list[str] = []
        self._msgs.append(wp.parse_fill(env.msg, recv_ts=now, notes=notes))
        for n in notes:
            self.bad.record("fill:ts_replaced", text, n)

    def _h_user_order(self, env: wp.Envelope, text: str, now: float, rt: float, mono: float) -> None:
        notes: list[str] = []
        self._msgs.append(wp.parse_user_order(env.msg, recv_ts=now, notes=notes))
        for n in notes:
            self.bad.record("user_order:ts_replaced", text, n)

    def _h_position(self, env: wp.Envelope, text: str, now: float, rt: float, mono: float) -> None:
        self._msgs.append(wp.parse_market_position(env.msg, recv_ts=now))

    # ------------------------------------------------------------------ housekeeping

    def tick(self, now: float, rt: float) -> None:
        """Deadlines (snapshots after a gap, unanswered subscribes, rate-limited retries) and the
        periodic ``BookSnapshot`` of every live book."""
        if not self.connected:
            return
        due = [r for r in self._retry if r[0] <= rt]
        self._retry = [r for r in self._retry if r[0] > rt]
        for _, kind, channel, detail in due:
            sub = self.subs.get(channel)
            if sub is None:
                continue
            if kind in ("add_markets", "delete_markets") and sub.state == "active":
                keep = [t for t in detail if (t in self.watched) == (kind == "add_markets")]
                if keep:
                    self._update(sub, keep, kind)
            elif kind == "get_snapshot":
                self._request_snapshots([t for t in detail if t in self.books], now, rt)
            elif kind == "subscribe" and sub.state == "subscribing":
                self._subscribe(channel, rt)
        for ch, sub in self.subs.items():
            if sub.state == "subscribing" and rt - sub.sent_rt > self.cfg.resync_timeout_s:
                self._resubscribe(ch, now, rt, "no reply to subscribe")
        ob = self.subs.get("orderbook_delta")
        if ob is not None and ob.state == "active":
            late = [t for t, b in self.books.items() if not b.live and b.deadline is not None and rt >= b.deadline]
            if late:
                if max(self.books[t].attempts for t in late) >= SNAPSHOT_ATTEMPTS:
                    self._resubscribe("orderbook_delta", now, rt, f"no snapshot for {', '.join(sorted(late)[:5])}")
                else:
                    self._request_snapshots(late, now, rt)
        every = self.cfg.book_snapshot_s
        for b in self.books.values():
            if b.live and now - b.snap_at >= every:
                b.snap_at = now
                self._msgs.append(b.book.snapshot(ts=now, recv_ts=now, depth=self.cfg.book_depth, seq=b.seq))

    def book(self, ticker: str) -> OrderBook | None:
        b = self.books.get(ticker)
        return b.book if b is not None and b.live else None


_HANDLERS = {
    "subscribed": KalshiWsSession._h_subscribed,
    "ok": KalshiWsSession._h_ok,
    "unsubscribed": KalshiWsSession._h_unsubscribed,
    "error": KalshiWsSession._h_error,
    "orderbook_snapshot": KalshiWsSession._h_snapshot,
    "orderbook_delta": KalshiWsSession._h_delta,
    "ticker": KalshiWsSession._h_ticker,
    "trade": KalshiWsSession._h_trade,
    "market_lifecycle_v2": KalshiWsSession._h_lifecycle,
    "event_lifecycle": KalshiWsSession._h_event_lifecycle,
    "event_fee_update": KalshiWsSession._h_fee_update,
    "cfbenchmarks_value": KalshiWsSession._h_cfb,
    "fill": KalshiWsSession._h_fill,
    "user_order": KalshiWsSession._h_user_order,
    "market_position": KalshiWsSession._h_position,
}

__all__ = ["Command", "KalshiWsSession", "WsCounters"]
