"""Kalshi WebSocket feed actor: live market data (and, in live mode, fills and orders).

Receives: ``Subscribe(tickers)`` / ``Unsubscribe(tickers)`` on its ``control`` mailbox, sent by the
          market registry as markets open and close. The set of watched tickers lives in a
          ``WatchState`` owned by the tree (like a mailbox), so a restarted incarnation resubscribes
          what the previous one watched.
Applies:  ``KalshiWsSession`` (subscriptions, per-sid sequence checks, local order books).
Sends:    to ``out``:
          - ``Quote(source="book")`` on every top-of-book/depth change of a watched market's local
            book (``yes_asks``/``no_asks`` depth, best first), and ``Quote(stale=True)`` with no
            prices the moment a book becomes unreliable (gap, resync, disconnect);
          - ``Quote(source="ticker")`` from the ticker channel (venue top of book, volume);
          - ``BookSnapshot`` after every fresh snapshot and every ``book_snapshot_s`` (record);
          - ``Trade``; ``MarketLifecycle`` for every ``market_lifecycle_v2`` event of watched or
            configured-series markets, plus ``MarketSettled`` (final=False on determined, True on
            settled); ``EventInfo`` (event_lifecycle) and ``EventFeeUpdate``;
          - ``SpotTick(source="brti", avg_60s=..., avg_60s_15min=...)`` from ``cfbenchmarks_value``;
          - ``Fill`` / ``OrderEvent`` / ``VenuePosition`` when the private channels are enabled;
          - ``FeedStatus`` (connected, disconnected, reconnecting, gap, resubscribing, resynced,
            unavailable, frames_dropped, error).
Fails:    network trouble, gaps and bad frames are handled inside (reconnect/resync/count);
          401/403 on the upgrade raises ``KalshiAuthError`` (fatal: fix the keys); bugs crash and
          the supervisor restarts it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import attrs
import trio

from actors.feed_common import StatsBadInputLog, sole_error
from kbot.actorkit import ActorStats, Outbox
from kbot.clock import Clock
from kbot.messages import FeedStatus
from kbot.venues.config import KalshiWsConfig
from kbot.venues.kalshi.auth import Credentials
from kbot.venues.kalshi.ws import KalshiWsClient
from kbot.venues.wslink import LinkHealth, Recorder
from supervision import Mailbox


def _tickers(v: Iterable[str] | str) -> tuple[str, ...]:
    return (v,) if isinstance(v, str) else tuple(v)


@attrs.frozen(slots=True)
class Subscribe:
    """Start watching these markets (idempotent)."""

    tickers: tuple[str, ...] = attrs.field(converter=_tickers)


@attrs.frozen(slots=True)
class Unsubscribe:
    """Stop watching these markets (idempotent)."""

    tickers: tuple[str, ...] = attrs.field(converter=_tickers)


@attrs.define(slots=True)
class WatchState:
    """The watched tickers; owned by the tree so it survives restarts of the actor."""

    watched: set[str] = attrs.field(factory=set)


async def run_kalshi_ws_feed(
    cfg: KalshiWsConfig,
    url: str,
    credentials: Credentials,
    out: Outbox,
    stats: ActorStats,
    clock: Clock,
    *,
    control: Mailbox[Subscribe | Unsubscribe] | None = None,
    state: WatchState | None = None,
    health: LinkHealth | None = None,
    recorder: Recorder | None = None,
    tap: Callable[[Any], Any] | None = None,
    name: str = "kalshi_ws",
) -> None:
    """``tap``: wraps the client's ``KalshiWsSession`` (``kbot run --record`` records its inputs)."""
    state = state if state is not None else WatchState()
    bad = StatsBadInputLog(name, stats)
    client = KalshiWsClient(url, credentials, cfg, clock, recorder=recorder, bad=bad, feed=name, health=health)
    if tap is not None:
        wrapped = tap(client.session)
        client.session = wrapped
        client.on_batch = wrapped.on_batch
    counters = client.session.counters

    async def emit(msg: Any) -> None:
        stats.msgs_in = counters.frames
        stats.last_msg_ts = client.health.last_frame_ts
        if isinstance(msg, FeedStatus):
            stats.state = msg.status
        await out.send(msg)
        stats.msgs_out += 1

    async def control_loop() -> None:
        assert control is not None
        while True:
            with control.processing(await control.receive_batch()) as work:  # a failure puts the rest back
                for cmd in work:
                    if isinstance(cmd, Subscribe):
                        state.watched.update(cmd.tickers)
                        await client.watch(cmd.tickers)
                    elif isinstance(cmd, Unsubscribe):
                        state.watched.difference_update(cmd.tickers)
                        await client.unwatch(cmd.tickers)
                    else:
                        bad.record("control:unknown", repr(cmd))

    if state.watched:
        await client.watch(sorted(state.watched))
    stats.state = "connecting"
    try:
        async with trio.open_nursery() as nursery:
            if control is not None:
                nursery.start_soon(control_loop)
            await client.run(emit)
    except BaseExceptionGroup as eg:
        sole = sole_error(eg)
        if sole is None:
            raise
        raise sole from None  # e.g. KalshiAuthError, readable as itself

