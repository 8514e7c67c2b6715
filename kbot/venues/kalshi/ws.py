"""Kalshi WebSocket v2 client: the I/O shell around ``KalshiWsSession``.

``run(emit)`` connects (signed upgrade: ``GET`` + the URL's path, i.e. ``/trade-api/ws/v2``), lets
the session subscribe, feeds it every frame, sends the commands it produces, passes its domain
messages to ``emit``, and reconnects with exponential backoff + jitter when the link ends (server
close, network error, silence without pong, or the session asking for it). Pings from Kalshi (every
10 s) are answered by trio-websocket as long as the link keeps reading (see ``wslink``); a link
that answers pings but delivers no frame for ``max_quiet_s`` while markets are watched is
dropped too. The backoff resets once a connection has stayed up ``link.stable_after_s``.

A refused upgrade with 401/403 raises ``KalshiAuthError`` (fatal: keys, not the network).

Control API (call from any task, also while disconnected): ``await watch(tickers)`` /
``await unwatch(tickers)``; the session turns them into ``add_markets``/``delete_markets``.
"""

from __future__ import annotations

import ssl
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, NoReturn

import trio
from loguru import logger

from kbot.actorkit import BadInputLog
from kbot.clock import Clock
from kbot.venues.config import KalshiWsConfig
from kbot.venues.kalshi.auth import Credentials, CredentialsError, signing_path
from kbot.venues.kalshi.errors import KalshiAuthError
from kbot.venues.kalshi.ws_session import KalshiWsSession
from kbot.venues.wslink import Frame, LinkClosed, LinkFailed, LinkHealth, Reconnector, Recorder, WsLink, run_link

Emit = Callable[[Any], Awaitable[None]]


class KalshiWsClient:
    def __init__(
        self,
        url: str,
        credentials: Credentials | None,
        cfg: KalshiWsConfig,
        clock: Clock,
        *,
        recorder: Recorder | None = None,
        bad: BadInputLog | None = None,
        feed: str = "kalshi_ws",
        ssl_context: ssl.SSLContext | None = None,
        health: LinkHealth | None = None,
    ) -> None:
        if credentials is None:
            raise CredentialsError(
                "the Kalshi WebSocket requires authentication: set KALSHI_API_KEY_ID and KALSHI_PRIVATE_KEY_PATH"
            )
        self.url = url
        self.credentials = credentials
        self.cfg = cfg
        self.clock = clock
        self.recorder = recorder
        self.feed = feed
        self.ssl_context = ssl_context
        self.session = KalshiWsSession(cfg, bad=bad or BadInputLog(feed), feed=feed)
        self.health = health or LinkHealth()
        self.connects = 0
        self.log = logger.bind(feed=feed)
        self._link: WsLink | None = None
        self._emit: Emit | None = None
        self._dropped_seen = 0
        self._opened_rt = 0.0  # trio time the current link opened
        # called as each batch of frames begins, with (kbot clock, trio time): kbot run --record
        self.on_batch: Callable[[float, float], None] | None = None

    # ------------------------------------------------------------------ control API

    async def watch(self, tickers: Iterable[str]) -> None:
        self.session.watch(tickers, self.clock.now(), trio.current_time())
        await self._flush()

    async def unwatch(self, tickers: Iterable[str]) -> None:
        self.session.unwatch(tickers, self.clock.now(), trio.current_time())
        await self._flush()

    @property
    def watched(self) -> set[str]:
        return set(self.session.watched)

    # ------------------------------------------------------------------ loop

    async def run(self, emit: Emit) -> NoReturn:
        self._emit = emit
        again = Reconnector(self.feed, self.cfg.backoff, self.cfg.link.stable_after_s, self.clock, self.health)
        while True:
            opened_rt: float | None = None
            headers = list(self.credentials.headers("GET", signing_path(self.url)).items())
            try:
                await run_link(
                    self.url,
                    source=self.feed,
                    cfg=self.cfg.link,
                    clock=self.clock,
                    on_open=self._on_open,
                    on_frame=self._on_frame,
                    headers=headers,
                    recorder=self.recorder,
                    ssl_context=self.ssl_context,
                    tasks=(self._tick_loop,),
                    on_batch=self._batch,
                )
            except LinkFailed as e:
                if e.status in (401, 403):
                    body = (e.body or b"")[:200].decode("utf-8", "replace")
                    raise KalshiAuthError(e.status, "ws_upgrade_refused", e.reason, body, path=self.url) from None
                reason = e.reason
            except LinkClosed as e:
                reason = e.reason
                opened_rt = self._opened_rt
            self._link = None
            self.session.on_disconnected(again.down(), reason)
            await self._flush()
            await again.wait(reason, opened_rt, emit)

    def _batch(self) -> None:
        if self.on_batch is not None:
            self.on_batch(self.clock.now(), trio.current_time())

    async def _on_open(self, link: WsLink) -> None:
        self._link = link
        self._opened_rt = trio.current_time()
        self._dropped_seen = 0
        self.connects += 1
        now = self.clock.now()
        self.health.connected, self.health.since_ts = True, now
        self.health.frame(now, self._opened_rt)
        self.log.info("Kalshi WS connected to {} (connection {})", self.url, self.connects)
        self.session.on_connected(now, trio.current_time())
        await self._flush()

    async def _on_frame(self, frame: Frame) -> None:
        self.health.frame(frame.recv_ts, frame.rt)
        link = self._link
        if link is not None and link.dropped != self._dropped_seen:
            self.session.on_frames_dropped(link.dropped - self._dropped_seen, frame.recv_ts, frame.rt)
            self._dropped_seen = link.dropped
        self.session.on_text(frame.text, frame.recv_ts, frame.rt, frame.mono)
        await self._flush()

    async def _tick_loop(self, link: WsLink) -> None:
        while True:
            await trio.sleep(self.cfg.tick_s)
            rt = trio.current_time()
            self.session.tick(self.clock.now(), rt)
            await self._flush()
            quiet = rt - link.last_rx_rt
            if self.session.watched and quiet >= self.cfg.max_quiet_s:
                await link.close(f"no data for {quiet:.0f}s while watching {len(self.session.watched)} markets")
                return

    async def _flush(self) -> None:
        msgs, cmds, reconnect = self.session.drain()
        link = self._link
        if link is not None:
            for c in cmds:
                await link.send(c)
        if self._emit is not None:
            for m in msgs:
                await self._emit(m)
        if reconnect is not None and link is not None:
            self.log.warning("dropping the connection: {}", reconnect)
            await link.close(reconnect)
