"""The replay's feeds: recorded inputs through kbot's own venue code into the tree's router.

- ``KalshiReplay`` drives a fresh ``KalshiWsSession`` (the Kalshi WS protocol state machine of
  ``kbot run``: subscriptions, per-sid sequence checks, snapshots, local books) with the
  recorded session inputs, in recorded order, and sends what it produces (``Quote``, ``Trade``,
  lifecycle, settlements, BRTI ticks...) to the router, exactly as ``KalshiWsClient`` does.
  Its commands (subscribes...) go nowhere: the recorded replies follow in the recording. For
  imported recordings that lack kbot's control replies, ``answer_commands`` answers them the
  way the venue would (``subscribed`` with the recorded sid per channel, ``ok``,
  ``unsubscribed``; a ``get_snapshot`` cannot be answered from a recording: refused).
- ``SpotReplay``: each exchange's frames through that exchange's protocol parser.
- ``RestReplay`` + ``ReplayTransport``: the real REST feed actor and ``KalshiRestClient`` run in
  the replay; their HTTP requests are answered from the recording (see ``RestReplay.answer``).
- ``drive``: the feeds child. Sends each event when the virtual clock reaches its time; a
  wake mark (``A``: a live actor acted there) goes to ``marks``, which makes the replay's
  actor act there (``kbot.wakes``).

Nothing here reads the wall clock: times come from the records, the virtual clock and Trio's
(virtual) time.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Awaitable, Callable, Hashable, Iterable, Sequence
from decimal import Decimal
from typing import Any

import attrs
import httpx
import trio
from loguru import logger

from actors.feed_common import StatsBadInputLog
from kbot.actorkit import ActorStats, BadInputLog, Outbox
from kbot.clock import Clock
from kbot.messages import Quote
from kbot.replay import format as fmt
from kbot.venues.config import KalshiWsConfig, SpotFeedsConfig
from kbot.venues.kalshi.ws_session import KalshiWsSession
from kbot.venues.spot.common import SpotProtocol
from kbot.venues.spot.feed import make_protocol
from kbot.venues.wire import WireError
from kbot.venues.wslink import LinkHealth

Levels = Sequence[tuple[Decimal, Decimal]]


@attrs.frozen(slots=True)
class Msg:
    """An importer's domain message (``MarketInfo``, ``SpotTick``, ``MarketSettled``...) sent to
    the router at clock time ``t``."""

    t: float
    msg: Any


Event = fmt.Rec | Msg


# ----------------------------------------------------------------------------- Kalshi WebSocket


class KalshiReplay:
    def __init__(self, cfg: KalshiWsConfig, out: Outbox, stats: ActorStats, health: LinkHealth, *,
                 answer_commands: bool = False, sids: dict[str, int] | None = None) -> None:
        self.session = KalshiWsSession(cfg, bad=StatsBadInputLog("kalshi_ws", stats), feed="kalshi_ws")
        self.out = out
        self.stats = stats
        self.health = health
        self.answer = answer_commands
        self.sids = dict(sids or {})
        self.tickers: dict[str, Quote] = {}  # newest ticker-channel quote per market (top of book)

    async def apply(self, rec: fmt.Rec) -> None:
        s, k = self.session, rec.kind
        if k == fmt.FRAME:
            s.on_text(rec.payload, rec.t, rec.rt, 0.0)
            self.health.frame(rec.t, trio.current_time())
        elif k == fmt.WATCH:
            s.watch(json.loads(rec.payload), rec.t, rec.rt)
        elif k == fmt.UNWATCH:
            s.unwatch(json.loads(rec.payload), rec.t, rec.rt)
        elif k == fmt.TICK:
            s.tick(rec.t, rec.rt)
        elif k == fmt.OPEN:
            if self.answer and rec.payload:  # an importer says which channels this connection recorded
                self._channels(dict(json.loads(rec.payload).get("channels", self.sids)), rec)
                s = self.session
            self.health.connected, self.health.since_ts = True, rec.t
            self.health.frame(rec.t, trio.current_time())
            s.on_connected(rec.t, rec.rt)
        elif k == fmt.CLOSE:
            self.health.connected, self.health.since_ts = False, rec.t
            s.on_disconnected(rec.t, rec.payload)
        elif k == fmt.DROPPED:
            s.on_frames_dropped(int(rec.payload), rec.t, rec.rt)
        else:
            return
        await self._flush(rec)

    def _channels(self, sids: dict[str, int], rec: fmt.Rec) -> None:
        """An imported connection recorded these channels: a session that subscribes only to
        them (a connection without book deltas gets no book, rather than one frozen at its
        snapshot). The watched markets carry over, as after any reconnect."""
        self.sids = sids
        book = "orderbook_delta" in sids
        if self.session.cfg.orderbook != book:
            old = self.session
            self.session = KalshiWsSession(attrs.evolve(old.cfg, orderbook=book), bad=old.bad, feed=old.feed)
            self.session.counters.frames = old.counters.frames
            if old.watched:
                self.session.watch(sorted(old.watched), rec.t, rec.rt)

    async def _flush(self, rec: fmt.Rec) -> None:
        msgs, cmds, _reconnect = self.session.drain()
        if self.answer and cmds:
            for c in cmds:
                reply = self._reply(c)
                if reply is not None:
                    self.session.on_text(reply, rec.t, rec.rt, 0.0)
            more, _, _ = self.session.drain()
            msgs += more
        st = self.stats
        st.msgs_in = self.session.counters.frames
        st.last_msg_ts = rec.t
        for m in msgs:
            if type(m) is Quote and m.source == "ticker":
                self.tickers[m.ticker] = m
            await self.out.send(m)
            st.msgs_out += 1

    def _reply(self, c: dict[str, Any]) -> str | None:
        cid, cmd, params = c.get("id"), c.get("cmd"), c.get("params") or {}
        if cmd == "subscribe":
            ch = (params.get("channels") or [""])[0]
            sid = self.sids.get(ch)
            if sid is None:  # the recording has no such channel: refused like an unentitled one
                return json.dumps({"id": cid, "type": "error", "msg": {"code": 17, "msg": f"{ch} not recorded"}})
            return json.dumps({"id": cid, "type": "subscribed", "msg": {"channel": ch, "sid": sid}})
        if cmd == "unsubscribe":
            return json.dumps({"id": cid, "type": "unsubscribed", "sid": (params.get("sids") or [0])[0]})
        if cmd == "update_subscription":
            if params.get("action") == "get_snapshot":
                return json.dumps({"id": cid, "type": "error", "msg": {"code": 8, "msg": "no snapshot in the recording"}})
            return json.dumps({"id": cid, "type": "ok", "msg": {}})
        return None

    def asks(self, ticker: str, side: str) -> tuple[Levels, str] | None:
        """What a taker buying ``side`` of ``ticker`` can take now: the live local book's ask
        levels (full depth), else the newest ticker-channel top of book (one level, its size),
        else None."""
        book = self.session.book(ticker)
        if book is not None:
            return (book.yes_asks() if side == "yes" else book.no_asks()), "book"
        q = self.tickers.get(ticker)
        if q is None or q.stale:
            return None
        if side == "yes":
            price, size = q.yes_ask, q.yes_ask_size
        else:
            price, size = q.no_ask, q.yes_bid_size  # a NO ask at 1-b is the YES bid at b
        if price is None or size is None:
            return None
        return ((price, size),), "ticker"


# ----------------------------------------------------------------------------- spot exchanges


class SpotReplay:
    def __init__(self, cfg: SpotFeedsConfig, out: Outbox, stats: dict[str, ActorStats]) -> None:
        self.cfg = cfg
        self.out = out
        self.stats = stats
        self.protocols: dict[str, SpotProtocol] = {}
        self.bad: dict[str, BadInputLog] = {}

    def _protocol(self, source: str) -> SpotProtocol | None:
        p = self.protocols.get(source)
        if p is None and source in ("coinbase", "binance", "kraken"):
            p = self.protocols[source] = make_protocol(getattr(self.cfg, source))
            self.bad[source] = StatsBadInputLog(source, self.stats[source])
        return p

    async def apply(self, rec: fmt.Rec) -> None:
        if rec.kind != fmt.FRAME:
            return
        p = self._protocol(rec.source)
        if p is None:
            return
        try:
            ticks = p.parse(rec.payload, rec.t, 0.0)
        except WireError as e:
            self.bad[rec.source].record(e.kind, rec.payload, e.detail)
            return
        st = self.stats[rec.source]
        for t in ticks:
            st.msgs_in += 1
            st.last_msg_ts = t.recv_ts
            await self.out.send(t)
            st.msgs_out += 1


# ----------------------------------------------------------------------------- Kalshi REST

# Parameters that move with the time of the request (sweeps look back from "now"): left out of
# the match, so a replayed sweep a few milliseconds off the live one still finds its response.
VOLATILE_PARAMS = frozenset({"min_close_ts", "max_close_ts", "min_settled_ts", "max_settled_ts", "min_ts", "max_ts",
                             "min_created_ts", "max_created_ts", "min_updated_ts"})


def rest_key(method: str, path: str, params: dict[str, Any]) -> Hashable:
    return (method.upper(), path, tuple(sorted((k, str(v)) for k, v in params.items()
                                               if v is not None and k not in VOLATILE_PARAMS)))


class NotRecorded(Exception):
    pass


class RestReplay:
    """The recorded REST responses, per request, served to the replayed REST client.

    A request (method, path, parameters) is answered with the oldest response recorded for the
    same request that is not older than ``tolerance_s`` before the request (older ones belonged to
    requests the replay did not make); when there is none yet, the request waits until the
    recording reaches one (at most ``wait_s``), so the replayed REST feed follows the live
    one's schedule: it asks a little early and gets the answer at the time live got it."""

    def __init__(self, clock: Clock, *, tolerance_s: float, wait_s: float) -> None:
        self.clock = clock
        self.tolerance_s = tolerance_s
        self.wait_s = wait_s
        self.queues: dict[Hashable, deque[tuple[float, int, str]]] = {}
        self.events: dict[Hashable, trio.Event] = {}
        self.served = 0
        self.skipped = 0
        self.unanswered = 0
        self.bad = BadInputLog("kalshi_rest_replay")

    def push(self, rec: fmt.Rec) -> None:
        try:
            env = json.loads(rec.payload)
            key = rest_key(env["method"], env["path"], env.get("params") or {})
            item = (rec.t, int(env["status"]), str(env["body"]))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            self.bad.record("bad_rest_record", rec.payload, str(exc))
            return
        self.queues.setdefault(key, deque()).append(item)
        ev = self.events.pop(key, None)
        if ev is not None:
            ev.set()

    async def answer(self, method: str, path: str, params: dict[str, Any]) -> tuple[int, str]:
        key = rest_key(method, path, params)
        deadline = self.clock.now() + self.wait_s
        while True:
            q = self.queues.get(key)
            oldest = self.clock.now() - self.tolerance_s
            while q and q[0][0] < oldest:
                q.popleft()
                self.skipped += 1
            if q:
                _t, status, body = q.popleft()
                self.served += 1
                return status, body
            ev = self.events.setdefault(key, trio.Event())
            with trio.move_on_after(max(0.0, deadline - self.clock.now()) / self.clock.speed):
                await ev.wait()
                continue
            self.unanswered += 1
            raise NotRecorded(f"{method} {path} {params}")


class ReplayTransport(httpx.AsyncBaseTransport):
    """An httpx transport that answers from a ``RestReplay`` (no sockets)."""

    def __init__(self, rest: RestReplay, base_path: str) -> None:
        self.rest = rest
        self.base_path = base_path.rstrip("/")

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path.startswith(self.base_path):
            path = path[len(self.base_path):]
        params = dict(request.url.params.multi_items())
        try:
            status, body = await self.rest.answer(request.method, path, params)
        except NotRecorded as exc:
            raise httpx.ConnectError(f"not in the recording: {exc}", request=request) from None
        return httpx.Response(status, content=body.encode(), headers={"content-type": "application/json"},
                              request=request)


# ----------------------------------------------------------------------------- the loop


@attrs.define
class Progress:
    events: int = 0
    last_t: float = 0.0
    done: bool = False


async def drive(events: Iterable[Event], clock: Clock, out: Outbox, *, kalshi: KalshiReplay | None,
                spot: SpotReplay | None, rest: RestReplay | None, progress: Progress, done: trio.Event,
                marks: Callable[[fmt.Rec], Awaitable[None]] | None = None) -> None:
    """Send each event when ``clock`` reaches its time (the replay's feeds child), then set
    ``done`` and wait to be cancelled. Records of sources without a handler are skipped (wake
    marks without ``marks``)."""
    now = clock.now
    n = 0
    try:
        for ev in events:
            t = ev.t
            if t > now():
                progress.events, progress.last_t = n, t
                await clock.sleep_until(t)
            if isinstance(ev, Msg):
                await out.send(ev.msg)
            else:
                src = ev.source
                if src == "kalshi_ws":
                    if kalshi is not None:
                        await kalshi.apply(ev)
                elif src == "kalshi_rest":
                    if rest is not None and ev.kind == fmt.REST:
                        rest.push(ev)
                elif ev.kind == fmt.WAKE:
                    if marks is not None:
                        await marks(ev)
                elif ev.kind == fmt.FRAME and spot is not None:
                    await spot.apply(ev)
            n += 1
    finally:
        progress.events = n
    progress.done = True
    done.set()
    logger.debug("replay driver: {} events sent", n)
    await trio.sleep_forever()
