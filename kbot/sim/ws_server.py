"""WebSocket endpoints of the sim (ASGI): Kalshi WS v2 and the three spot-exchange feeds.

Each connection runs a reader (client texts -> protocol object) and a writer (protocol's
bounded outbound queue -> socket). The writer is where transport faults happen
(``ws_drop``, ``ws_silent``, ``bad_json``, ``wrong_type``; see ``kbot.sim.faults``).

Kalshi WS needs a valid signature on the upgrade request (``GET /trade-api/ws/v2``), else the
handshake is refused with HTTP 401 and a Kalshi-shaped error body. Keep-alive pings are sent
by Hypercorn every ``ws_ping_interval_s`` real seconds (10 s, as Kalshi).

Spot feeds are produced by one ``FeedHub`` task per exchange: at the exchange's tick rate in
sim time (capped at ``feed_max_rate`` messages per real second, conflating ticks at high sim
speed), it samples that exchange's ``SpotModel`` and hands the quote to every connection.
A connection whose queue is full is a slow consumer and is closed (1008), as exchanges do.
"""

from __future__ import annotations

import itertools
import json
import random
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import trio
from loguru import logger
from starlette.responses import Response
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from kbot.sim.auth import AuthError
from kbot.sim.feed_protocols import BinanceProtocol, CoinbaseProtocol, FeedProtocol, KrakenProtocol
from kbot.sim.funding import BinanceUsdmProtocol
from kbot.sim.http_util import dumps, error_body
from kbot.sim.spot import FEEDS, SpotModel, SpotQuote
from kbot.sim.ws_kalshi import KalshiSession

if TYPE_CHECKING:
    from kbot.sim.venue import SimVenue

_DISCONNECTS = (WebSocketDisconnect, trio.BrokenResourceError, trio.ClosedResourceError, RuntimeError)


def wrong_type(text: str) -> str:
    """The same message with one field of the wrong JSON type (numbers <-> strings)."""
    try:
        obj = json.loads(text)
    except ValueError:
        return text
    if not isinstance(obj, dict):
        return text
    target: dict[str, Any] = obj
    if "seq" in obj and isinstance(obj["seq"], int):
        obj["seq"] = str(obj["seq"])
        return json.dumps(obj, separators=(",", ":"))
    inner = obj.get("msg") if isinstance(obj.get("msg"), dict) else obj.get("data") if isinstance(obj.get("data"), dict) else None
    if isinstance(inner, dict):
        target = inner
    for k, v in target.items():
        if isinstance(v, str):
            try:
                target[k] = float(v)
                return json.dumps(obj, separators=(",", ":"))
            except ValueError:
                continue
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            target[k] = str(v)
            return json.dumps(obj, separators=(",", ":"))
    obj["type" if "type" in obj else "_"] = 1
    return json.dumps(obj, separators=(",", ":"))


class _Dropped(Exception):
    """The fault injector dropped the connection."""


async def _send_with_faults(venue: SimVenue, ws: WebSocket, text: str, target: str) -> None:
    f = venue.faults
    if f.quiet:
        await ws.send_text(text)
        return
    if f.roll("ws_drop", target) is not None:
        venue.stats[f"ws_drop_{target}"] += 1
        raise _Dropped
    silent = f.roll("ws_silent", target)
    if silent is not None:
        venue.stats[f"ws_silent_{target}"] += 1
        if silent.duration_s > 0:
            await trio.sleep(silent.duration_s)
        else:
            await trio.sleep_forever()
    if f.roll("bad_json", target) is not None:
        text = text[: max(1, len(text) // 2)]
    elif f.roll("wrong_type", target) is not None:
        text = wrong_type(text)
    await ws.send_text(text)


# ---------------------------------------------------------------------------- Kalshi
def kalshi_endpoint(venue: SimVenue) -> Callable[[WebSocket], Awaitable[None]]:
    async def endpoint(ws: WebSocket) -> None:
        try:
            _, user = venue.keys.verify(
                ws.headers, "GET", ws.url.path, wall_now=venue.wall_time(), skew_s=venue.config.auth_skew_s
            )
        except AuthError as exc:
            venue.stats["ws_401"] += 1
            body = dumps(error_body(exc.code, exc.message, style=venue.config.error_style))
            await ws.send_denial_response(Response(body, status_code=401, media_type="application/json"))
            return
        await ws.accept()
        venue.sync()
        session = KalshiSession(venue, user, venue.config.ws_queue)
        venue.hub.sessions.add(session)
        venue.stats["ws_connections"] += 1
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(_kalshi_reader, venue, ws, session, nursery.cancel_scope)
                await _kalshi_writer(venue, ws, session)
                nursery.cancel_scope.cancel()
        # The nursery wraps whatever its body or tasks raise in an exception group.
        except* _Dropped:
            await _close(ws, 1011)
        except* _DISCONNECTS:
            pass
        finally:
            session.closed = True
            venue.hub.sessions.discard(session)

    return endpoint


async def _receive_text(ws: WebSocket) -> str | None:
    """The next client frame as text (a binary frame gives ``""``); None once disconnected."""
    message = await ws.receive()
    if message["type"] == "websocket.disconnect":
        return None
    text = message.get("text")
    return text if isinstance(text, str) else ""


async def _kalshi_reader(venue: SimVenue, ws: WebSocket, session: KalshiSession, scope: trio.CancelScope) -> None:
    try:
        while (text := await _receive_text(ws)) is not None:
            venue.sync()
            try:
                session.handle_text(text)  # a binary or garbled frame is answered with error 1
            except Exception as exc:
                venue.bad_input.record(f"kalshi_ws:{type(exc).__name__}", text, str(exc))
                session.handle_text("\x00")
    except _DISCONNECTS:
        pass
    finally:
        scope.cancel()


async def _kalshi_writer(venue: SimVenue, ws: WebSocket, session: KalshiSession) -> None:
    recv = session.receive
    while True:
        text = await recv.receive()
        await _send_with_faults(venue, ws, text, "kalshi")
        session.sent += 1
        while True:
            try:
                text = recv.receive_nowait()
            except trio.WouldBlock:
                break
            await _send_with_faults(venue, ws, text, "kalshi")
            session.sent += 1
        while session.control:
            await _send_with_faults(venue, ws, session.control.popleft(), "kalshi")
        while session.terminal_errors:
            await ws.send_text(session.terminal_errors.popleft())


async def _close(ws: WebSocket, code: int) -> None:
    try:
        await ws.close(code)
    except _DISCONNECTS:
        pass


# ---------------------------------------------------------------------------- spot feeds
class FeedConn:
    def __init__(self, proto: FeedProtocol, queue: int) -> None:
        self.proto = proto
        self.send, self.receive = trio.open_memory_channel[str](queue)
        self.slow = False
        self.last_sent = trio.current_time()

    def push(self, texts: list[str]) -> None:
        for t in texts:
            try:
                self.send.send_nowait(t)
            except trio.WouldBlock:
                self.slow = True
                return
            except (trio.ClosedResourceError, trio.BrokenResourceError):
                return


class FeedHub:
    """One spot exchange: its price model and the task that ticks it for all connections."""

    def __init__(self, venue: SimVenue, name: str) -> None:
        self.venue = venue
        self.name = name
        self.spec = FEEDS[name]
        self.model = SpotModel(self.spec, venue.exchange.path, venue.config.seed)
        self.conns: set[FeedConn] = set()
        self.last: SpotQuote | None = None
        self.ticks = 0

    def interval_real(self) -> float:
        speed = self.venue.clock.speed
        return max(1.0 / (self.spec.rate_hz * speed), 1.0 / self.venue.config.feed_max_rate)

    def sample(self) -> SpotQuote:
        now = self.venue.clock.now()
        fault = self.venue.faults.roll("feed_freeze", self.name)
        if fault is not None:
            self.model.freeze(now, fault.duration_s)
            self.venue.stats[f"feed_freeze_{self.name}"] += 1
        q = self.model.quote(now)
        self.last = q
        self.ticks += 1
        return q

    async def run(self) -> None:
        jitter = random.Random(f"feedjitter-{self.name}-{self.venue.config.seed}")
        while True:
            await trio.sleep(self.interval_real() * jitter.uniform(0.6, 1.4))
            if not self.conns:
                continue
            q = self.sample()
            for c in list(self.conns):
                if c.proto.subscribed:
                    c.push(c.proto.on_quote(q))


def feed_routes(venue: SimVenue) -> list[WebSocketRoute]:
    counter = itertools.count(1)

    def make(name: str, factory: Callable[[WebSocket], FeedProtocol]) -> Callable[[WebSocket], Awaitable[None]]:
        async def endpoint(ws: WebSocket) -> None:
            hub = venue.feeds[name]
            await ws.accept()
            proto = factory(ws)
            conn = FeedConn(proto, 4096)
            venue.stats[f"feed_connections_{name}"] += 1
            conn.push(proto.on_open(venue.clock.now()))
            hub.conns.add(conn)
            try:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(_feed_reader, venue, ws, hub, conn, nursery.cancel_scope)
                    nursery.start_soon(_feed_idle, venue, conn)
                    await _feed_writer(venue, ws, conn, name)
                    nursery.cancel_scope.cancel()
            # The nursery wraps whatever its body or tasks raise in an exception group.
            except* _Dropped:
                await _close(ws, 1011)
            except* _SlowConsumer:
                await _close(ws, 1008)
            except* _DISCONNECTS:
                pass
            finally:
                hub.conns.discard(conn)

        return endpoint

    def coinbase(ws: WebSocket) -> FeedProtocol:
        return CoinbaseProtocol(client_id=next(counter) % 2 == 1)

    def binance(ws: WebSocket) -> FeedProtocol:
        return BinanceProtocol.from_path(ws.url.path, ws.url.query)

    def kraken(ws: WebSocket) -> FeedProtocol:
        return KrakenProtocol(connection_id=random.getrandbits(64))

    def binance_usdm(ws: WebSocket) -> FeedProtocol:
        return BinanceUsdmProtocol.from_path(ws.url.path, ws.url.query, venue.config.seed)

    cb, bn, kr = make("coinbase", coinbase), make("binance", binance), make("kraken", kraken)
    bu = make("binance_usdm", binance_usdm)
    return [
        WebSocketRoute("/coinbase", cb),
        WebSocketRoute("/binance", bn),
        WebSocketRoute("/binance/ws", bn),
        WebSocketRoute("/binance/ws/{streams:path}", bn),
        WebSocketRoute("/binance/stream", bn),
        WebSocketRoute("/kraken/v2", kr),
        WebSocketRoute("/binance-usdm/ws/{streams:path}", bu),
        WebSocketRoute("/binance-usdm/stream", bu),
    ]


class _SlowConsumer(Exception):
    pass


async def _feed_reader(venue: SimVenue, ws: WebSocket, hub: FeedHub, conn: FeedConn, scope: trio.CancelScope) -> None:
    deadline = conn.proto.subscribe_deadline_s
    try:
        while True:
            if deadline is not None and not conn.proto.subscribed:
                with trio.move_on_after(deadline) as timeout:
                    text = await _receive_text(ws)
                if timeout.cancelled_caught:
                    logger.bind(feed=hub.name).debug("no subscribe within {} s: closing", deadline)
                    await _close(ws, 1000)
                    return
            else:
                text = await _receive_text(ws)
            if text is None:
                return
            try:
                replies = conn.proto.on_text(text, venue.clock.now(), hub.last or hub.sample())
            except Exception as exc:
                venue.bad_input.record(f"{hub.name}:{type(exc).__name__}", text, str(exc))
                replies = [json.dumps({"type": "error", "message": "invalid request"})]
            conn.push(replies)
    except _DISCONNECTS:
        pass
    finally:
        scope.cancel()


async def _feed_idle(venue: SimVenue, conn: FeedConn) -> None:
    while True:
        await trio.sleep(1.0)
        idle = trio.current_time() - conn.last_sent
        conn.push(conn.proto.on_idle(venue.clock.now(), idle))


async def _feed_writer(venue: SimVenue, ws: WebSocket, conn: FeedConn, name: str) -> None:
    while True:
        if conn.slow:
            raise _SlowConsumer
        text = await conn.receive.receive()
        await _send_with_faults(venue, ws, text, name)
        conn.last_sent = trio.current_time()
