"""Runs one spot exchange feed forever: connect, subscribe, parse, reconnect.

- Liveness: the link probes silence with a ping (``wslink``); on top, a feed that delivers no
  *price* for ``stale_after_s`` (while heartbeats may still flow, the known "silent stale socket"
  failure) is reconnected.
- Reconnects use exponential backoff with jitter, reset after ``link.stable_after_s`` connected.
- A refused upgrade (HTTP 4xx, e.g. Binance's 451 for US IPs) is not a network blip: the feed
  reports ``unavailable`` once and waits ``rejected_retry_s`` before trying again.
- Bad frames are counted per kind in ``bad`` and dropped; the connection stays up.

Each feed is its own client (and actor), so one failing feed never disturbs the others.
"""

from __future__ import annotations

import ssl
from collections.abc import Awaitable, Callable
from typing import Any, NoReturn

import trio
from loguru import logger

from kbot.actorkit import BadInputLog
from kbot.clock import Clock
from kbot.messages import FeedStatus
from kbot.text import short
from kbot.venues.config import SpotFeedConfig
from kbot.venues.spot.binance import BinanceProtocol
from kbot.venues.spot.binance_usdm import BinanceUsdmProtocol
from kbot.venues.spot.coinbase import CoinbaseProtocol
from kbot.venues.spot.common import SpotProtocol
from kbot.venues.spot.kraken import KrakenProtocol
from kbot.venues.wire import WireError
from kbot.venues.wslink import Frame, LinkClosed, LinkFailed, LinkHealth, Reconnector, Recorder, WsLink, run_link

Emit = Callable[[Any], Awaitable[None]]


def make_protocol(cfg: SpotFeedConfig) -> SpotProtocol:
    url, sym = cfg.effective_url, cfg.effective_symbol
    if cfg.exchange == "coinbase":
        return CoinbaseProtocol(url, sym)
    if cfg.exchange == "binance":
        return BinanceProtocol(url, sym)
    if cfg.exchange == "kraken":
        return KrakenProtocol(url, sym, cfg.kraken_event_trigger)
    if cfg.exchange == "binance_usdm":
        return BinanceUsdmProtocol(url, sym)
    raise ValueError(f"unknown spot exchange {cfg.exchange!r}")


class SpotFeedClient:
    def __init__(
        self,
        cfg: SpotFeedConfig,
        clock: Clock,
        *,
        recorder: Recorder | None = None,
        bad: BadInputLog | None = None,
        health: LinkHealth | None = None,
        ssl_context: ssl.SSLContext | None = None,
        protocol: SpotProtocol | None = None,
    ) -> None:
        self.cfg = cfg
        self.clock = clock
        self.recorder = recorder
        self.protocol = protocol or make_protocol(cfg)
        self.source = self.protocol.source
        self.bad = bad or BadInputLog(self.source)
        self.health = health or LinkHealth()
        self.ssl_context = ssl_context
        self.connects = 0
        self.ticks = 0
        self.log = logger.bind(feed=self.source)
        self._emit: Emit | None = None
        self._link: WsLink | None = None
        self._last_data_rt = 0.0
        self._opened_rt = 0.0  # trio time the current link opened
        self._bug_logged = False
        # called as each batch of frames begins, with (kbot clock, trio time): kbot run --record
        self.on_batch: Callable[[float, float], None] | None = None

    async def run(self, emit: Emit) -> NoReturn:
        self._emit = emit
        again = Reconnector(self.source, self.cfg.backoff, self.cfg.link.stable_after_s, self.clock, self.health)
        while True:
            opened: float | None = None
            delay: float | None = None
            try:
                await run_link(
                    self.protocol.url(),
                    source=self.source,
                    cfg=self.cfg.link,
                    clock=self.clock,
                    on_open=self._on_open,
                    on_frame=self._on_frame,
                    recorder=self.recorder,
                    ssl_context=self.ssl_context,
                    tasks=(self._staleness,),
                    on_batch=self._batch,
                )
            except LinkFailed as e:
                reason = e.reason
                if e.status is not None and 400 <= e.status < 500 and e.status != 429:
                    delay = self.cfg.rejected_retry_s
                    self.log.warning(
                        "{} refused the connection (HTTP {}); feed unavailable, next try in {:.0f}s", self.source, e.status, delay
                    )
                    await emit(FeedStatus(ts=self.clock.now(), feed=self.source, status="unavailable", detail=reason))
            except LinkClosed as e:
                reason = e.reason
                opened = self._opened_rt
            self._link = None
            await again.wait(reason, opened, emit, delay=delay)

    def _batch(self) -> None:
        if self.on_batch is not None:
            self.on_batch(self.clock.now(), trio.current_time())

    async def _on_open(self, link: WsLink) -> None:
        self._link = link
        self._opened_rt = self._last_data_rt = trio.current_time()
        self.connects += 1
        now = self.clock.now()
        self.health.connected, self.health.since_ts = True, now
        for m in self.protocol.subscribe_messages():
            await link.send(m)
        self.log.info("{} connected ({})", self.source, self.protocol.url())
        assert self._emit is not None
        await self._emit(FeedStatus(ts=now, feed=self.source, status="connected"))

    async def _on_frame(self, frame: Frame) -> None:
        try:
            ticks = self.protocol.parse(frame.text, frame.recv_ts, frame.mono)
        except WireError as e:
            self.bad.record(e.kind, frame.text, e.detail)
            ticks = []
        except Exception as e:  # a kbot bug a frame provoked: counted, logged once, survived
            self.bad.record("internal_error", frame.text, f"{type(e).__name__}: {short(str(e))}")
            if not self._bug_logged:
                self._bug_logged = True
                self.log.opt(exception=e).error("{} parser raised {} (kbot bug); frame dropped", self.source, type(e).__name__)
            ticks = []
        assert self._emit is not None
        if ticks:
            self._last_data_rt = frame.rt
            self.health.frame(frame.recv_ts, frame.rt)
            for t in ticks:
                self.ticks += 1
                await self._emit(t)
        if self.protocol.reconnect_reason and self._link is not None:
            reason, self.protocol.reconnect_reason = self.protocol.reconnect_reason, None
            await self._link.close(reason)

    async def _staleness(self, link: WsLink) -> None:
        limit = self.cfg.stale_after_s
        while True:
            await trio.sleep_until(self._last_data_rt + limit)
            if trio.current_time() - self._last_data_rt >= limit:
                assert self._emit is not None
                await self._emit(FeedStatus(ts=self.clock.now(), feed=self.source, status="stale", detail=f"no price for {limit:g}s"))
                await link.close(f"stale: no price for {limit:g}s")
                return
