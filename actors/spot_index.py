"""Spot index actor: exchange ticks in, one index with volatility out.

Receives
    ``SpotTick`` from the spot feeds (coinbase, binance, kraken) and Kalshi's CF Benchmarks
    stream (source ``brti``), and ``FundingRate`` from the Binance USD-M mark-price feed.
    Inbox: a ``LatestMailbox`` keyed by ``spot_tick_key`` (the source): the index only ever
    needs the newest observation per source.

Applies (pure, ``kbot.model``)
    ``SpotIndex`` (median of fresh sources, BRTI preferred when fresh), ``TrailingAverage``
    (60 s settlement-rule average on the one-second grid), ``EwmaVol`` (EWMA of grid log
    returns with guardrails and fallbacks), ``RealizedVol`` (two diagnostic horizons), and on
    the volatility grid the market-wide model signals (``kbot.model.signals.spot_signals`` over
    a ``PriceHistory`` of the grid samples: realized volatility at ``SignalConfig.rv_horizons_s``,
    momentum, mean reversion, volatility regime, funding).

Sends
    ``IndexUpdate`` to ``out`` at every grid point (``IndexConfig.grid_s``, a regular cadence
    that lets pricers age their inputs) and between grid points on a material change (the
    price moved ``min_move_bps``, or the stale flag, source set or method changed). Every
    update carries sigma with its source and reason, and the latest signals (``signals``).

Wake marks (``kbot.wakes``)
    Recording, each wake-up is announced; a replay following the marks wakes this actor exactly
    there (at the mark's time, on the ticks its inbox holds then) and at no other time.

Fails
    A message that is not a usable ``SpotTick`` is counted and logged once per kind
    (``BadInputLog``), never passed on. The volatility state is persisted through the
    ``StateStore`` every ``VolConfig.persist_interval_s`` (in a worker thread); a failed save
    or an unreadable state is logged and never stops pricing (start cold: last good sigma,
    else the default, with the reason on every update).
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from typing import Any

import attrs
import trio
from loguru import logger

from kbot.actorkit import ActorStats, BadInputLog, Outbox
from kbot.clock import Clock
from kbot.messages import FundingRate, IndexUpdate, SpotSignals, SpotTick
from kbot.model.config import IndexConfig, SignalConfig, VolConfig
from kbot.model.history import PriceHistory
from kbot.model.index import IndexValue, SpotIndex, TrailingAverage
from kbot.model.signals import spot_signals
from kbot.model.vol import EwmaVol, RealizedVol
from kbot.statestore import BlockingIO, StateStore, StateStoreError, in_thread
from kbot.wakes import Wakes, announcer, marks_of, next_mark

# Grid points the actor back-fills (sample-and-hold) after it was busy or descheduled.
MAX_BACKFILL = 5


def spot_tick_key(tick: Any) -> Hashable:
    """Inbox conflation key: one pending tick per source."""
    return getattr(tick, "source", type(tick).__name__)


class SpotIndexCore:
    """The actor's state and its pure steps (no I/O, time passed in): tested directly."""

    def __init__(self, config: IndexConfig, vol_config: VolConfig, vol: EwmaVol | None = None,
                 signal_config: SignalConfig | None = None) -> None:
        self.config = config
        self.vol_config = vol_config
        self.signal_config = signal_config or SignalConfig()
        self.history = PriceHistory(self.signal_config.keep_s, self.signal_config.history_max_gap_s)
        self.signals: SpotSignals | None = None
        self.funding: FundingRate | None = None
        self.index = SpotIndex(config)
        self.avg = TrailingAverage(config.avg_window_s, config.grid_s, config.avg_min_coverage)
        self.vol = vol if vol is not None else EwmaVol(vol_config)
        self.rv = RealizedVol(vol_config.rv_horizons_s)
        self.last_price: float | None = None
        self._emitted: IndexValue | None = None
        self._next_vol: float | None = None

    @property
    def stale(self) -> bool:
        return self._emitted is None or self._emitted.stale

    def material(self, v: IndexValue) -> bool:
        last = self._emitted
        if last is None or v.stale != last.stale or v.sources != last.sources or v.method != last.method:
            return True
        if v.price is None or last.price is None:
            return v.price != last.price
        return abs(v.price / last.price - 1.0) * 1e4 >= self.config.min_move_bps

    def grid_sample(self, g: float, v: IndexValue) -> None:
        """Grid point ``g``: feed the trailing average and, on its own grid, the volatility."""
        if v.stale or v.price is None:
            return
        self.avg.add(g, v.price)
        step = self.vol_config.sample_interval_s
        if self._next_vol is None:
            self._next_vol = math.ceil(g / step) * step
        if g + 1e-9 >= self._next_vol:
            out = self.vol.add_sample(g, v.price)
            if out is not None:
                self.rv.add(g, *out)
            self.history.add(g, v.price)
            self._refresh_signals(g)
            self._next_vol = (math.floor(g / step + 1e-9) + 1) * step

    def on_funding(self, f: FundingRate) -> str | None:
        """The newest funding rate (used from the next volatility grid sample on); a reason
        when it is not taken (``bad_funding_rate``, ``out_of_order``)."""
        if not (math.isfinite(f.funding_rate) and math.isfinite(f.ts)):
            return "bad_funding_rate"
        if self.funding is not None and f.ts < self.funding.ts:
            return "out_of_order"
        self.funding = f
        return None

    def _refresh_signals(self, now: float) -> None:
        f = self.funding
        prev = self.signals
        new = spot_signals(self.history, now, self.signal_config, funding_rate=f.funding_rate if f else None,
                           funding_ts=f.ts if f else None, seq=prev.seq if prev is not None else 0)
        if prev is None or (new.rv, new.momentum, new.mean_reversion, new.vol_regime, new.funding) != (
            prev.rv, prev.momentum, prev.mean_reversion, prev.vol_regime, prev.funding
        ):
            new = attrs.evolve(new, seq=new.seq + 1)
            self.signals = new

    def event_time(self, t: float, now: float) -> float:
        """``t`` kept within [the last update's time, ``now``]: updates never go back in time."""
        last = self._emitted.ts if self._emitted is not None else float("-inf")
        return min(max(t, last), now)

    def update(self, v: IndexValue, mono: float = 0.0) -> IndexUpdate:
        if v.price is not None:
            self.last_price = v.price
        est = self.vol.estimate(v.ts)
        short, long_ = self.rv.all(v.ts)
        self._emitted = v
        return IndexUpdate(
            ts=v.ts,
            price=v.price if v.price is not None else (self.last_price or 0.0),
            n_sources=v.n_sources,
            sources=v.sources,
            stale=v.stale or v.price is None,
            avg_60s=self.avg.mean(v.ts),
            sigma=est.sigma,
            sigma_source=est.source,
            sigma_reason=est.reason,
            mono=mono,
            method=v.method,
            rv_short=short,
            rv_long=long_,
            signals=self.signals,
        )


async def _load_vol(store: StateStore | None, key: str, config: VolConfig, now: float, io: BlockingIO) -> EwmaVol:
    if store is None:
        return EwmaVol(config)
    try:
        state = await io(store.load, key)
    except (StateStoreError, OSError, ValueError) as e:
        logger.bind(event="state", key=key).error("volatility state unreadable, starting cold: {}", e)
        return EwmaVol(config)
    vol = EwmaVol.from_state(config, state, now)
    logger.bind(event="state", key=key).info(
        "volatility state loaded: resumed={} n={} last_good={}", vol.rate is not None, vol.n, vol.last_good
    )
    return vol


async def _save_vol(store: StateStore, key: str, vol: EwmaVol, bad: BadInputLog, io: BlockingIO) -> None:
    try:
        await io(store.save, key, vol.to_state())
    except (OSError, ValueError, TypeError) as e:
        bad.record("state_save_failed", repr(e))


async def run_spot_index(
    inbox: Any,
    out: Outbox,
    *,
    clock: Clock,
    config: IndexConfig | None = None,
    vol_config: VolConfig | None = None,
    signal_config: SignalConfig | None = None,
    store: StateStore | None = None,
    state_key: str = "vol",
    stats: ActorStats | None = None,
    io: BlockingIO = in_thread,
    wakes: Wakes | None = None,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run until cancelled. ``inbox``: a mailbox of ``SpotTick`` (``LatestMailbox(spot_tick_key)``).
    ``store``: where the volatility state persists (key ``state_key``), through ``io``.
    Reports started (``nursery.start``) once the persisted state is loaded."""
    config = config or IndexConfig()
    vol_config = vol_config or VolConfig()
    stats = stats or ActorStats("spot_index")
    bad = BadInputLog("spot_index")
    core = SpotIndexCore(config, vol_config, await _load_vol(store, state_key, vol_config, clock.now(), io),
                         signal_config)
    grid = config.grid_s
    next_grid = math.floor(clock.now() / grid + 1e-9) * grid + grid
    next_persist = clock.now() + vol_config.persist_interval_s
    late = 0
    follow = marks_of(wakes, "spot_index")
    wake_mark = announcer(wakes)
    task_status.started()
    try:
        while True:
            batch: list[Any] = []
            if follow is not None:  # a replay of wake marks: wake where the live actor did
                now = (await next_mark(follow))[0]
                batch = inbox.take_ready()
            else:
                with trio.move_on_after(max(0.0, next_grid - clock.now()) / clock.speed):
                    batch = await inbox.receive_batch()
                if not batch:  # the grid timer: what arrived since it fired is taken too, as a replay does
                    batch = inbox.take_ready()
                now = clock.now()  # (the batch is applied as of when it was taken)
                if wake_mark is not None:
                    wake_mark("spot_index", "", now, "")
            mono = 0.0
            received = float("-inf")  # newest receipt time of a tick taken in this batch
            for tick in batch:
                stats.msgs_in += 1
                if isinstance(tick, FundingRate):
                    if core.on_funding(tick) == "bad_funding_rate":
                        bad.record("bad_funding_rate", tick)
                    continue
                if not isinstance(tick, SpotTick):
                    bad.record("not_a_spot_tick", tick)
                    continue
                why = core.index.observe(tick)
                if why == "out_of_order":
                    late += 1  # late delivery happens on busy feeds: dropped, not bad input
                    continue
                if why is not None:
                    bad.record(why, tick)
                    continue
                mono = max(mono, tick.mono)
                received = max(received, tick.recv_ts)
            if batch:
                stats.last_msg_ts = now
            # An update is stamped with its event time, not the moment this task got to it: the
            # grid point it is due at, or the receipt of the newest tick it includes. So the same
            # inputs give the same update (and decision ids) live and in a replay of the recording.
            if now + 1e-9 >= next_grid:
                missed = int((now - next_grid) // grid)
                if missed > MAX_BACKFILL:
                    next_grid += (missed - MAX_BACKFILL) * grid
                while next_grid <= now + 1e-9:
                    core.grid_sample(next_grid, core.index.compute(next_grid))
                    next_grid += grid
                v = core.index.compute(core.event_time(max(next_grid - grid, received), now))
                await out.send(core.update(v, mono))
                stats.msgs_out += 1
            elif batch and received > float("-inf"):
                v = core.index.compute(core.event_time(received, now))
                if core.material(v):
                    await out.send(core.update(v, mono))
                    stats.msgs_out += 1
            if store is not None and now >= next_persist:
                next_persist = now + vol_config.persist_interval_s
                await _save_vol(store, state_key, core.vol, bad, io)
            stats.state = ("stale" if core.stale else "ok") + (f" late={late}" if late else "")
    finally:
        if store is not None:
            with trio.CancelScope(shield=True):
                await _save_vol(store, state_key, core.vol, bad, io)
