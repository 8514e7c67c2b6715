"""Spot feed actor: one exchange's BTC price stream (Coinbase, Binance or Kraken), or the
Binance USD-M mark-price stream (``binance_usdm``: the perpetual's funding rate).

Receives: nothing (it reads its exchange's public WebSocket).
Applies:  the exchange's parse functions (``kbot.venues.spot``) to every frame.
Sends:    ``SpotTick(source=<exchange>, ts, price, bid, ask, recv_ts)`` for every price update
          (``FundingRate`` for every mark-price update of ``binance_usdm``) and
          ``FeedStatus`` on connect / reconnect / stale / unavailable, to ``out``.
Fails:    never on network trouble or bad frames (reconnects with backoff, counts bad input);
          only bugs escape, and the supervisor restarts it. One feed's trouble never touches the
          other feeds: each runs as its own actor.

Wire it as one child per enabled feed::

    ChildSpec(f"spot:{cfg.exchange}", partial(run_spot_feed, cfg, out, stats.get(f"spot:{cfg.exchange}"), clock))
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import trio
from loguru import logger

from actors.feed_common import StatsBadInputLog
from kbot.actorkit import ActorStats, Outbox
from kbot.clock import Clock
from kbot.messages import FeedStatus, FundingRate, SpotTick
from kbot.venues.config import SpotFeedConfig
from kbot.venues.spot.feed import SpotFeedClient
from kbot.venues.wslink import LinkHealth, Recorder


async def run_spot_feed(
    cfg: SpotFeedConfig,
    out: Outbox,
    stats: ActorStats,
    clock: Clock,
    *,
    recorder: Recorder | None = None,
    health: LinkHealth | None = None,
    tap: Callable[[Any], Any] | None = None,
) -> None:
    """``tap``: wraps the client's protocol parser (``kbot run --record`` records the frames it
    parses, as it parses them)."""
    if not cfg.enabled:
        stats.state = "disabled"
        logger.bind(feed=cfg.exchange).info("spot feed {} disabled in config", cfg.exchange)
        await trio.sleep_forever()
    bad = StatsBadInputLog(cfg.exchange, stats)
    client = SpotFeedClient(cfg, clock, recorder=recorder, bad=bad, health=health)
    if tap is not None:
        wrapped = tap(client.protocol)
        client.protocol = wrapped
        client.on_batch = wrapped.on_batch

    async def emit(msg: Any) -> None:
        if isinstance(msg, (SpotTick, FundingRate)):
            stats.msgs_in += 1
            stats.last_msg_ts = msg.recv_ts
        elif isinstance(msg, FeedStatus):
            stats.state = msg.status
        await out.send(msg)
        stats.msgs_out += 1

    stats.state = "connecting"
    await client.run(emit)
