"""Health actor: periodic snapshots of the tree, data-gap and spike detection, alerts.

Receives: nothing; wakes every ``interval_s`` real seconds and samples ``HealthSources``
          (provided by the tree: mailbox stats, actor counters, supervisor restart counts,
          feed/spot/quote freshness, and whether kbot keeps up with its venue: ``keepup``).
Applies:  ``kbot.health.HealthMonitor.check`` (pure).
Sends:    ``HealthSnapshot`` and ``Alert`` records to ``out`` (the recorder); every alert also
          goes to the ``AlertSink`` (loguru ``event="alert"`` line; queued for the webhook, which
          the sink's own task delivers: a slow chat service never holds this loop). With a
          ``latency`` meter: one DEBUG line per interval (``event="latency"``, fields in
          milliseconds) with the tick-to-decision percentiles of the interval, and the same as a
          ``LatencySample`` record (table ``latency``), then a new interval.
Fails:    a failing source sample is counted and re-raised (the supervisor restarts the actor);
          webhook failures are logged by the sink and never raised.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Protocol

import trio
from loguru import logger

from kbot.actorkit import ActorStats, Outbox
from kbot.alerts import AlertSink
from kbot.clock import Clock
from kbot.health import ActorSample, HealthMonitor
from kbot.keepup import KeepUp
from kbot.latency import LatencyMeter
from kbot.messages import LatencySample


class HealthSources(Protocol):
    def samples(self) -> list[ActorSample]: ...

    def feed_last(self) -> Mapping[str, float | None]: ...

    def spot_last(self) -> float | None: ...

    def quote_last(self) -> Mapping[str, float | None]: ...

    def total_restarts(self) -> int: ...

    def daily_pnl(self) -> tuple[float, Decimal] | None:
        """``(ts, realized PnL of ts's UTC day)`` of the ledger's last portfolio state."""
        ...

    def keepup(self) -> KeepUp | None:
        """The interval's keep-up figures (``kbot.keepup``), None when not measured; resets them."""
        ...

    def summary(self) -> str: ...

    # optional: ``keepup() -> kbot.keepup.KeepUp | None`` (the interval's receipt lag and stale
    # decisions; the falling_behind alert). Sources without it never raise that alert.


async def run_health(
    sources: HealthSources,
    out: Outbox,
    monitor: HealthMonitor,
    sink: AlertSink,
    *,
    clock: Clock,
    stats: ActorStats,
    started_ts: float,
    summary_every_s: float = 0.0,
    latency: LatencyMeter | None = None,
) -> None:
    """``summary_every_s`` > 0: also log a one-line status summary (INFO, ``event="summary"``)
    that often (real seconds), for whoever watches the console."""
    interval = monitor.cfg.interval_s
    last_summary = trio.current_time()
    while True:
        await trio.sleep(interval)  # real seconds: see kbot.health
        if summary_every_s > 0 and trio.current_time() - last_summary >= summary_every_s:
            last_summary = trio.current_time()
            logger.bind(event="summary").info(sources.summary())
        now = clock.now()
        try:
            keepup = sources.keepup()
            samples = sources.samples()
            snaps, alerts = monitor.check(
                now, samples, feed_last=sources.feed_last(), spot_last=sources.spot_last(),
                quote_last=sources.quote_last(), total_restarts=sources.total_restarts(), started_ts=started_ts,
                speed=clock.speed, daily_pnl=sources.daily_pnl(), keepup=keepup,
            )
        except Exception:
            stats.errors += 1
            raise
        stats.msgs_in += 1
        stats.last_msg_ts = now
        for rec in [*snaps, *alerts]:
            await out.send(rec)
            stats.msgs_out += 1
        for a in alerts:
            sink.send_nowait(a)
        if latency is not None and latency.n:
            s = latency.take()
            fields = s.as_ms()
            logger.bind(event="latency", interval_s=interval, **fields).debug(
                "tick-to-decision over the last {:g}s: p50 {} ms, p99 {} ms, max {} ms ({} decisions)",
                interval, fields["p50_ms"], fields["p99_ms"], fields["max_ms"], s.n)
            await out.send(LatencySample(
                ts=now, scope="tick_to_decision", interval_s=interval, n=s.n, mean_ms=fields["mean_ms"],
                p50_ms=fields["p50_ms"], p90_ms=fields["p90_ms"], p99_ms=fields["p99_ms"],
                p999_ms=fields["p999_ms"], max_ms=fields["max_ms"],
            ))  # fmt: skip
            stats.msgs_out += 1
