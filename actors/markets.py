"""Market registry actor: keeps one pricer per open market and the WebSocket watch list.

Receives: ``MarketInfo``, ``MarketLifecycle`` and ``MarketSettled`` (bounded, lossless mailbox);
          wakes at least every ``tick_s`` of the clock to notice opens and closes by time.
Applies:  ``kbot.markets.MarketRegistry`` (pure): which markets deserve a pricer now.
Sends:    starts/stops/updates pricers through a ``PricerPool`` (the dynamic ``pricers``
          supervisor and the pricers' mailboxes); ``Subscribe``/``Unsubscribe`` to the Kalshi WS
          feed's control mailbox; ``RefreshMarket`` to the REST feed when a market's strike is
          updated (the REST record is the complete one).
Fails:    the registry object is owned by the tree, so a restarted incarnation knows every
          market; it first reconciles the running pricers and the watch list with the
          registry, so actions lost in a crash are redone and nothing runs twice.
"""

from __future__ import annotations

from typing import Any, Protocol

import trio
from loguru import logger

from kbot.actorkit import ActorStats, Outbox
from kbot.clock import Clock
from kbot.markets import (
    Action,
    MarketRegistry,
    Skipped,
    StartPricer,
    StopPricer,
    Subscribe,
    Unsubscribe,
    UpdatePricer,
)
from kbot.messages import MarketInfo, MarketLifecycle
from supervision import Mailbox


class PricerPool(Protocol):
    """The tree's side of the pricers: start/stop children of the dynamic supervisor."""

    def running(self) -> set[str]: ...

    async def start(self, market: MarketInfo) -> None: ...

    async def stop(self, ticker: str) -> None: ...

    def update(self, market: MarketInfo) -> None: ...


class WatchCommands(Protocol):
    """How to tell the WS feed what to watch (its Subscribe/Unsubscribe control messages)."""

    def subscribe(self, tickers: tuple[str, ...]) -> Any: ...

    def unsubscribe(self, tickers: tuple[str, ...]) -> Any: ...


async def _execute(action: Action, pool: PricerPool, ws_control: Outbox | None, cmds: WatchCommands | None,
                   stats: ActorStats) -> None:
    if isinstance(action, StartPricer):
        await pool.start(action.market)
    elif isinstance(action, StopPricer):
        await pool.stop(action.ticker)
        logger.bind(event="market", ticker=action.ticker).debug("pricer stopped: {}", action.reason)
    elif isinstance(action, UpdatePricer):
        pool.update(action.market)
    elif isinstance(action, Subscribe):
        if ws_control is not None and cmds is not None:
            await ws_control.send(cmds.subscribe(action.tickers))
    elif isinstance(action, Unsubscribe):
        if ws_control is not None and cmds is not None:
            await ws_control.send(cmds.unsubscribe(action.tickers))
    elif isinstance(action, Skipped):
        logger.bind(event="market", ticker=action.ticker).info("market {} not priced: {}", action.ticker, action.reason)
    stats.msgs_out += 1


async def reconcile(registry: MarketRegistry, pool: PricerPool, ws_control: Outbox | None,
                    cmds: WatchCommands | None) -> None:
    running = pool.running()
    for ticker in sorted(running - registry.priced):
        await pool.stop(ticker)
    for ticker in sorted(registry.priced - running):
        await pool.start(registry.markets[ticker])
    if ws_control is not None and cmds is not None and registry.subscribed:
        await ws_control.send(cmds.subscribe(tuple(sorted(registry.subscribed))))  # idempotent


async def run_markets(
    inbox: Mailbox[Any],
    registry: MarketRegistry,
    pool: PricerPool,
    *,
    clock: Clock,
    stats: ActorStats,
    ws_control: Outbox | None = None,
    watch_commands: WatchCommands | None = None,
    refresh: Outbox | None = None,
    refresh_command: Any = None,
    tick_s: float = 1.0,
) -> None:
    await reconcile(registry, pool, ws_control, watch_commands)
    next_tick = clock.now()
    while True:
        batch: list[Any] = []
        with trio.move_on_after(tick_s / clock.speed):
            batch = await inbox.receive_batch()
        now = clock.now()
        actions: list[Action] = []
        if batch:
            stats.msgs_in += len(batch)
            stats.last_msg_ts = now
        with inbox.processing(batch) as work:  # a failure hands the unapplied rest on, none is lost
            for msg in work:
                actions.extend(registry.apply(msg, now))
                if (refresh is not None and refresh_command is not None and isinstance(msg, MarketLifecycle)
                        and msg.event_type == "metadata_updated"):
                    refresh.send_nowait(refresh_command(msg.ticker))
        if now >= next_tick:
            actions.extend(registry.tick(now))
            next_tick = now + tick_s
        for action in actions:
            try:
                await _execute(action, pool, ws_control, watch_commands, stats)
            except Exception:
                stats.errors += 1
                raise  # the next incarnation reconciles from the registry
        stats.state = f"{len(registry.priced)} priced / {len(registry.markets)} known"
