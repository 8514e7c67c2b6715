"""Kalshi REST feed actor: market discovery, quote polling while the WebSocket is down, and the
settlement sweep.

Receives: optional ``RefreshMarket(ticker)`` on ``control`` (e.g. routed from a WS
          ``metadata_updated`` lifecycle event: re-read that market now, for a 15M strike).
Applies:  ``kbot.venues.kalshi.discovery`` (which open markets are usable, effective fees) and the
          REST parsers, on the schedule of ``KalshiRestFeedConfig`` (market cadences in kbot-clock
          seconds with a real-time floor; the polling fallback in real seconds):
          - every ``series_refresh_s``: ``SeriesInfo`` per configured series (fee type/multiplier);
          - every ``discovery_s``: ``EventInfo`` of open events (fee overrides) and a ``MarketInfo``
            per usable open market carrying the *effective* fee_type/fee_multiplier; sent when it
            changed, and all of them again every ``full_refresh_s``. Markets missing a bound are
            re-read (15M ``floor_strike`` arrives late) and otherwise skipped with a logged reason;
          - every ``poll_s`` while the Kalshi WS is not live (``ws_health``; always when no WS is
            wired): ``Quote(source="rest")`` for every usable open market;
          - every ``settlement_s``: recently closed (``status=closed``) and settled
            (``status=settled``) markets -> updated ``MarketInfo`` and ``MarketSettled``
            (final=False when determined, True when finalized), each once per actor lifetime.
Sends:    ``SeriesInfo``, ``EventInfo``, ``MarketInfo``, ``Quote``, ``MarketSettled``, ``FeedStatus``.
Fails:    API/network errors after the client's retries are logged, counted (``stats.errors``) and
          retried next cycle (``FeedStatus("degraded")``); 401/403 and missing credentials raise
          (fatal: a human must fix the keys); bugs crash and the supervisor restarts it.
"""

from __future__ import annotations

from collections import OrderedDict
from decimal import Decimal
from typing import Any

import attrs
import trio
from loguru import logger

from actors.feed_common import StatsBadInputLog
from kbot.actorkit import ActorStats, Outbox
from kbot.clock import Clock
from kbot.messages import EventInfo, FeedStatus, MarketInfo, MarketSettled, SeriesInfo
from kbot.venues.config import KalshiRestFeedConfig
from kbot.venues.kalshi import discovery
from kbot.venues.kalshi.auth import CredentialsError
from kbot.venues.kalshi.errors import KalshiAuthError, KalshiError
from kbot.venues.kalshi.rest import KalshiRestClient
from kbot.venues.kalshi.types import ParsedMarket
from kbot.venues.wire import WireError
from kbot.venues.wslink import LinkHealth
from supervision import Mailbox

ONE = Decimal(1)
ZERO = Decimal(0)
_RESULT_VALUE = {"yes": ONE, "no": ZERO}


@attrs.frozen(slots=True)
class RefreshMarket:
    """Re-read one market now (e.g. after a WS ``metadata_updated``)."""

    ticker: str


def settled_from_market(m: MarketInfo, now: float) -> MarketSettled | None:
    """A ``MarketSettled`` for a determined/finalized market with a known outcome, else None."""
    if m.result is None:
        return None
    value = m.settlement_value if m.settlement_value is not None else _RESULT_VALUE.get(m.result)
    if value is None:
        return None
    return MarketSettled(ts=now, ticker=m.ticker, result=m.result, settlement_value=value, source="rest", final=m.status == "finalized")


def _same(a: Any, b: Any) -> bool:
    """Equal apart from ``updated_ts`` (the time we learned it)."""
    return a is not None and attrs.evolve(a, updated_ts=0.0) == attrs.evolve(b, updated_ts=0.0)


class _Bounded(OrderedDict[Any, Any]):
    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def put(self, key: Any, value: Any) -> None:
        self[key] = value
        self.move_to_end(key)
        while len(self) > self.limit:
            self.popitem(last=False)


class RestFeed:
    """The actor's state and steps (each step is one pass; ``run`` schedules them)."""

    def __init__(self, cfg: KalshiRestFeedConfig, client: KalshiRestClient, out: Outbox, stats: ActorStats, clock: Clock,
                 ws_health: LinkHealth | None) -> None:
        self.cfg, self.client, self.out, self.stats, self.clock, self.ws_health = cfg, client, out, stats, clock, ws_health
        self.series: dict[str, SeriesInfo] = {}
        self.events: dict[str, EventInfo] = {}
        self.markets: dict[str, MarketInfo] = {}  # last sent
        self.series_of: dict[str, str] = {}  # ticker -> series
        self.settled = _Bounded(50_000)  # (ticker, final) sent
        self.skip_log = discovery.SkipLog()
        self.log = logger.bind(feed="kalshi_rest")
        self.degraded = False

    async def send(self, msg: Any) -> None:
        await self.out.send(msg)
        self.stats.msgs_out += 1

    def ws_live(self) -> bool:
        return self.ws_health is not None and self.ws_health.is_live(trio.current_time(), self.cfg.ws_stale_s)

    async def _update(self, cache: dict[str, Any], fresh: dict[str, Any]) -> None:
        for key, info in fresh.items():
            if not _same(cache.get(key), info):
                await self.send(info)
            cache[key] = info

    async def refresh_series(self) -> None:
        await self._update(self.series, await discovery.fetch_series(self.client, self.cfg.series))

    async def refresh_events(self) -> None:
        await self._update(self.events, await discovery.fetch_events(self.client, self.cfg.series))

    async def send_market(self, info: MarketInfo, *, force: bool = False) -> None:
        self.series_of[info.ticker] = info.series_ticker
        if force or not _same(self.markets.get(info.ticker), info):
            self.markets[info.ticker] = info
            await self.send(info)

    async def discover(self, *, full: bool, quotes: bool) -> list[ParsedMarket]:
        now = self.clock.now()
        usable, _skipped, pending = await discovery.open_markets(
            self.client, self.cfg.series, now, reread_max=self.cfg.reread_max,
            series_info=self.series, events=self.events, skip_log=self.skip_log,
        )
        for pm in usable:
            await self.send_market(pm.info, force=full)
            if quotes:
                await self.send(pm.quote)
        self.stats.state = f"{len(usable)} markets" + (f", {len(pending)} pending strike" if pending else "")
        return usable

    async def poll_quotes(self) -> None:
        now = self.clock.now()
        usable, _, _ = await discovery.open_markets(
            self.client, self.cfg.series, now, reread_max=0, series_info=self.series, events=self.events
        )
        for pm in usable:
            await self.send(pm.quote)

    async def sweep_settlements(self) -> None:
        now = self.clock.now()
        since = int(now - self.cfg.settlement_lookback_s)
        for s in self.cfg.series:
            closed = await self.client.list_markets(series_ticker=s, status="closed", min_close_ts=since)
            settled = await self.client.list_markets(series_ticker=s, status="settled", min_settled_ts=since)
            for pm in [*closed, *settled]:
                info = discovery.with_fees(pm.info, self.series.get(s), self.events.get(pm.info.event_ticker))
                if info.ticker in self.markets:
                    await self.send_market(info)
                # Stamped when the listing arrived, not when the sweep began: retries under a
                # fast simulated clock can take minutes of market time, and a settlement must
                # never look older than the fills it closes.
                ms = settled_from_market(info, self.clock.now())
                if ms is not None and (ms.ticker, ms.final) not in self.settled:
                    self.settled.put((ms.ticker, ms.final), None)
                    await self.send(ms)

    async def refresh_market(self, ticker: str) -> None:
        pm = await self.client.get_market(ticker, series_ticker=self.series_of.get(ticker))
        info = discovery.with_fees(pm.info, self.series.get(pm.info.series_ticker), self.events.get(pm.info.event_ticker))
        problem = discovery.market_problem(info, self.clock.now())
        if problem is not None:
            self.skip_log.note(discovery.Skipped(ticker=ticker, series_ticker=info.series_ticker, reason=problem))
            if info.ticker not in self.markets:
                return
        await self.send_market(info)

    async def guarded(self, what: str, step: Any) -> bool:
        """Run one step; API/network/wire failures are logged and counted, not fatal."""
        try:
            await step()
        except (KalshiAuthError, CredentialsError):
            raise
        except (KalshiError, WireError) as e:
            self.stats.errors += 1
            self.log.warning("{} failed: {}", what, e)
            if not self.degraded:
                self.degraded = True
                await self.send(FeedStatus(ts=self.clock.now(), feed="kalshi_rest", status="degraded", detail=f"{what}: {e}"))
            return False
        if self.degraded:
            self.degraded = False
            await self.send(FeedStatus(ts=self.clock.now(), feed="kalshi_rest", status="ok"))
        return True


async def run_kalshi_rest_feed(
    cfg: KalshiRestFeedConfig,
    client: KalshiRestClient,
    out: Outbox,
    stats: ActorStats,
    clock: Clock,
    *,
    ws_health: LinkHealth | None = None,
    control: Mailbox[RefreshMarket] | None = None,
) -> None:
    client.bad = StatsBadInputLog("kalshi_rest", stats)  # malformed items count in this actor's health
    feed = RestFeed(cfg, client, out, stats, clock, ws_health)

    def period(clock_s: float) -> float:  # a market cadence in real seconds, floored
        return max(clock_s / max(clock.speed, 1e-9), cfg.min_period_real_s)

    rt = trio.current_time()
    next_series = next_discovery = next_full = next_poll = next_settle = rt
    while True:
        rt = trio.current_time()
        stats.last_msg_ts = clock.now()
        if rt >= next_series:
            ok = await feed.guarded("series refresh", feed.refresh_series)
            next_series = rt + period(cfg.series_refresh_s if ok else cfg.discovery_s)
        if rt >= next_discovery:
            full = rt >= next_full
            ws_down = not feed.ws_live()

            async def step(full: bool = full, ws_down: bool = ws_down) -> None:
                await feed.refresh_events()
                await feed.discover(full=full, quotes=ws_down)

            if await feed.guarded("discovery", step) and full:
                next_full = rt + period(cfg.full_refresh_s)
            next_discovery = rt + period(cfg.discovery_s)
            next_poll = rt + cfg.poll_s
        elif rt >= next_poll:
            if not feed.ws_live():
                await feed.guarded("quote poll", feed.poll_quotes)
            next_poll = rt + cfg.poll_s
        if rt >= next_settle:
            await feed.guarded("settlement sweep", feed.sweep_settlements)
            next_settle = rt + period(cfg.settlement_s)
        stats.msgs_in = client.requests
        delay = max(0.0, min(next_series, next_discovery, next_poll, next_settle) - trio.current_time())
        if control is None:
            await trio.sleep(delay)
            continue
        cmds: list[Any] = []
        with trio.move_on_after(delay):
            cmds = await control.receive_batch()
        with control.processing(cmds):  # cancelled mid-way (shutdown): the requests stay queued
            for ticker in dict.fromkeys(c.ticker for c in cmds if isinstance(c, RefreshMarket)):
                await feed.guarded(f"refresh {ticker}", lambda t=ticker: feed.refresh_market(t))
