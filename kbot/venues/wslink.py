"""One WebSocket connection, read continuously, shared by every kbot WebSocket client.

trio-websocket answers pings only while its background reader can hand messages to its internal
queue: when that queue is full it stops reading the socket, stops answering pings, and the server
drops the connection (Binance after 1 min without a pong, Kalshi after missed 10 s pings). So a
``WsLink`` runs its own reader task that takes every message off trio-websocket at once and puts it
into a large bounded queue of ``Frame``s (``WsLinkConfig.queue_frames``) without ever waiting. If the
consumer falls so far behind that this queue is full the frame is *dropped and counted*
(``dropped``): the socket keeps being read, pings keep being answered, and the loss is visible
(sequenced protocols see a gap and resynchronise). trio-websocket's own queue is set to
``ws_message_queue`` (default 256, not the library's 1) so scheduling jitter never stalls it.

A watchdog task probes a silent connection: no frame for ``silence_s`` -> send a ping and wait
``ping_timeout_s`` for the pong; none -> the link closes with reason "silent". ``max_age_s`` closes
it proactively (Binance ends connections at 24 h).

Every frame is handed to the optional recorder hook ``recorder(source, recv_ts, text)`` first (the
hook must not block; exceptions in it are logged and ignored).

``run_link`` connects, calls ``on_open(link)`` (send subscriptions), then feeds each frame to
``on_frame(frame)`` until the link ends, and raises ``LinkClosed(reason)``. Connection failures
raise ``LinkFailed`` (with the HTTP status when the upgrade was rejected).
"""

from __future__ import annotations

import json
import ssl
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, NamedTuple

import attrs
import trio
import trio_websocket
from loguru import logger

from kbot.clock import Clock
from kbot.messages import FeedStatus
from kbot.venues.backoff import Backoff, BackoffPolicy
from kbot.venues.config import WsLinkConfig

Recorder = Callable[[str, float, str], None]
"""``recorder(source, recv_ts, text)``: raw-frame hook. Must be fast and non-blocking."""


@attrs.define(slots=True)
class LinkHealth:
    """A feed's connection state, readable by other actors (e.g. the REST feed polls quotes while
    the Kalshi WebSocket is down). Times on the kbot clock."""

    connected: bool = False
    since_ts: float | None = None  # when the current state began (kbot clock)
    last_frame_ts: float | None = None  # kbot clock
    last_frame_rt: float | None = None  # Trio clock (real seconds): for liveness decisions

    def frame(self, recv_ts: float, rt: float) -> None:
        self.last_frame_ts, self.last_frame_rt = recv_ts, rt

    def is_live(self, rt: float, max_silence_s: float) -> bool:
        """Connected and a frame within ``max_silence_s`` real seconds of Trio time ``rt``."""
        return self.connected and self.last_frame_rt is not None and rt - self.last_frame_rt <= max_silence_s


class Reconnector:
    """What every reconnecting client does after a link ended: mark ``health`` down, reset the
    backoff when the link had stayed up ``stable_after_s``, wait the next backoff delay (or a
    given one), logging the retry and reporting ``FeedStatus("reconnecting")``."""

    def __init__(self, feed: str, policy: BackoffPolicy, stable_after_s: float, clock: Clock, health: LinkHealth) -> None:
        self.feed = feed
        self.backoff = Backoff(policy)
        self.stable_after_s = stable_after_s
        self.clock = clock
        self.health = health
        self.log = logger.bind(feed=feed)

    def down(self) -> float:
        now = self.clock.now()
        self.health.connected, self.health.since_ts = False, now
        return now

    async def wait(
        self, reason: str, opened_rt: float | None, emit: Callable[[Any], Awaitable[None]], *, delay: float | None = None
    ) -> None:
        now = self.down()
        if opened_rt is not None and trio.current_time() - opened_rt >= self.stable_after_s:
            self.backoff.reset()
        if delay is None:
            delay = self.backoff.next()
            self.log.bind(event="reconnect", delay_s=round(delay, 3), attempt=self.backoff.failures).warning(
                "{} link down ({}); reconnecting in {:.1f}s (attempt {})", self.feed, reason, delay, self.backoff.failures
            )
            await emit(FeedStatus(ts=now, feed=self.feed, status="reconnecting", detail=f"{reason}; in {delay:.1f}s"))
        await trio.sleep(delay)


class Frame(NamedTuple):
    text: str
    recv_ts: float  # kbot clock, epoch seconds
    rt: float  # trio clock (deadlines)
    mono: float  # perf_counter (latency metrics)


class LinkClosed(Exception):
    """An established link ended (server close, network error, silence, max age)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class LinkFailed(Exception):
    """Could not connect. ``status`` is the HTTP status when the server refused the upgrade."""

    def __init__(self, reason: str, status: int | None = None, body: bytes | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.body = body


class WsLink:
    """The open connection as seen by a client: ``send``, counters, ``close``."""

    def __init__(self, ws: trio_websocket.WebSocketConnection, source: str) -> None:
        self._ws = ws
        self.source = source
        self.frames = 0
        self.dropped = 0
        self.opened_rt = trio.current_time()
        self.last_rx_rt = self.opened_rt
        self.close_reason: str | None = None

    async def send(self, payload: Any) -> None:
        """Send a JSON-able object (or text). A dead socket is noticed by the reader; here it is
        only logged."""
        text = payload if isinstance(payload, str) else json.dumps(payload, separators=(",", ":"))
        try:
            await self._ws.send_message(text)
        except trio_websocket.ConnectionClosed:
            logger.bind(feed=self.source).debug("send on closed link dropped")

    async def close(self, reason: str) -> None:
        if self.close_reason is None:
            self.close_reason = reason
        with trio.move_on_after(2):
            await self._ws.aclose()


async def _reader(
    link: WsLink,
    ws: trio_websocket.WebSocketConnection,
    out: trio.MemorySendChannel[Frame],
    clock: Clock,
    recorder: Recorder | None,
    batch: int = 1000,
) -> None:
    log = logger.bind(feed=link.source)
    async with out:
        while True:
            try:
                msgs = await _get_messages(ws, batch)
            except trio_websocket.ConnectionClosed as exc:
                if link.close_reason is None:
                    r = exc.reason
                    link.close_reason = f"closed by peer ({r.code} {r.name}{': ' + r.reason if r.reason else ''})" if r else "closed"
                return
            rt = trio.current_time()
            link.last_rx_rt = rt
            recv_ts = clock.now()
            for msg in msgs:
                link.frames += 1
                text = msg if isinstance(msg, str) else msg.decode("utf-8", "replace")
                if recorder is not None:
                    try:
                        recorder(link.source, recv_ts, text)
                    except Exception as exc:
                        log.opt(exception=exc).error("recorder hook failed")
                try:
                    out.send_nowait(Frame(text, recv_ts, rt, time.perf_counter()))
                except trio.WouldBlock:
                    link.dropped += 1
                    if link.dropped == 1 or link.dropped % 1000 == 0:
                        log.error("frame queue full: {} frames dropped so far (consumer too slow)", link.dropped)


async def _get_messages(ws: trio_websocket.WebSocketConnection, batch: int) -> list[str | bytes]:
    """The next message, plus every message trio-websocket has already queued (up to
    ``batch``), with one scheduler pass instead of one per message. Reaches into the
    connection's receive channel (not public API); without it, one message per call."""
    msgs = [await ws.get_message()]
    chan = getattr(ws, "_recv_channel", None)
    if chan is not None:
        while len(msgs) < batch:
            try:
                msgs.append(chan.receive_nowait())
            except (trio.WouldBlock, trio.EndOfChannel, trio.ClosedResourceError):
                break  # closed: the next get_message() raises ConnectionClosed
    return msgs


async def _consume(recv: trio.MemoryReceiveChannel[Frame], on_frame: Callable[[Frame], Awaitable[None]],
                   batch: int, on_batch: Callable[[], None] | None = None) -> None:
    """Hand frames on in batches: wait for one, then take every frame already queued (up to
    ``batch``) without a scheduler pass per frame. With hundreds of other tasks runnable (one
    pricer per market), one frame per pass would starve the feed. ``on_batch()`` is called as
    each batch begins (``kbot run --record`` marks it: a replay hands the batch on as one)."""
    while True:
        try:
            frame = await recv.receive()
        except trio.EndOfChannel:
            return
        if on_batch is not None:
            on_batch()
        await on_frame(frame)
        for _ in range(batch):
            try:
                frame = recv.receive_nowait()
            except trio.WouldBlock:
                break
            except trio.EndOfChannel:
                return
            await on_frame(frame)


async def _watchdog(link: WsLink, ws: trio_websocket.WebSocketConnection, cfg: WsLinkConfig) -> None:
    probed_ok = link.opened_rt  # when a ping last came back (or the link opened)
    while True:
        due = max(link.last_rx_rt, probed_ok) + cfg.silence_s
        if cfg.max_age_s is not None:
            due = min(due, link.opened_rt + cfg.max_age_s)
        await trio.sleep_until(due)
        now = trio.current_time()
        if cfg.max_age_s is not None and now >= link.opened_rt + cfg.max_age_s:
            await link.close("max connection age reached")
            return
        if now - max(link.last_rx_rt, probed_ok) < cfg.silence_s:
            continue
        pong = False
        with trio.move_on_after(cfg.ping_timeout_s):
            try:
                await ws.ping()
                pong = True
            except (trio_websocket.ConnectionClosed, trio.BrokenResourceError):
                return
        if not pong:
            await link.close(f"silent for {now - link.last_rx_rt:.0f}s and no pong")
            return
        probed_ok = trio.current_time()  # alive but quiet: probe again after another silence period


async def run_link(
    url: str,
    *,
    source: str,
    cfg: WsLinkConfig,
    clock: Clock,
    on_open: Callable[[WsLink], Awaitable[None]],
    on_frame: Callable[[Frame], Awaitable[None]],
    headers: list[tuple[str, str]] | None = None,
    recorder: Recorder | None = None,
    ssl_context: ssl.SSLContext | None = None,
    on_connected: Callable[[WsLink], None] | None = None,
    tasks: Sequence[Callable[[WsLink], Awaitable[None]]] = (),
    on_batch: Callable[[], None] | None = None,
) -> None:
    """Connect once and run until the link ends. Raises ``LinkFailed`` (could not connect) or
    ``LinkClosed`` (was connected, now is not); never returns normally."""
    extra = [(k.encode(), v.encode()) for k, v in (headers or [])]
    link: WsLink | None = None
    try:
        async with trio_websocket.open_websocket_url(
            url,
            ssl_context=ssl_context,
            extra_headers=extra,
            message_queue_size=cfg.ws_message_queue,
            max_message_size=cfg.max_message_bytes,
            connect_timeout=cfg.connect_timeout_s,
            disconnect_timeout=2.0,
        ) as ws:
            link = WsLink(ws, source)
            if on_connected is not None:
                on_connected(link)
            send, recv = trio.open_memory_channel[Frame](cfg.queue_frames)
            async with trio.open_nursery() as nursery:
                nursery.start_soon(_reader, link, ws, send, clock, recorder, cfg.drain_batch)
                nursery.start_soon(_watchdog, link, ws, cfg)
                for task in tasks:
                    nursery.start_soon(task, link)
                await on_open(link)
                async with recv:
                    await _consume(recv, on_frame, cfg.drain_batch, on_batch)
                nursery.cancel_scope.cancel()
    except trio_websocket.ConnectionRejected as exc:
        if link is None:
            raise LinkFailed(f"upgrade refused: HTTP {exc.status_code}", exc.status_code, exc.body) from None
        raise
    except trio_websocket.HandshakeError as exc:  # incl. ConnectionTimeout, DisconnectionTimeout
        if link is None:
            raise LinkFailed(f"connect failed: {exc!r}{f' ({exc.__cause__!r})' if exc.__cause__ else ''}") from None
    except (OSError, trio.TooSlowError) as exc:
        if link is None:
            raise LinkFailed(f"connect failed: {exc!r}") from None
        link.close_reason = link.close_reason or f"network error: {exc!r}"
    except trio_websocket.ConnectionClosed as exc:
        if link is None:
            raise LinkFailed(f"closed during connect: {exc!r}") from None
        link.close_reason = link.close_reason or "closed"
    assert link is not None
    raise LinkClosed(link.close_reason or "closed")
