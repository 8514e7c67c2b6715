"""Spot index actor with a fake conflating inbox, a Collect outbox and autojump_clock."""

from __future__ import annotations

import math
from functools import partial

import numpy as np
import pytest
import trio

from actors.spot_index import SpotIndexCore, run_spot_index, spot_tick_key
from kbot.actorkit import ActorStats, Collect
from kbot.clock import ScaledClock
from kbot.messages import IndexUpdate, SpotTick
from kbot.model import YEAR_S
from kbot.model.config import IndexConfig, VolConfig
from kbot.model.index import IndexValue
from kbot.statestore import MemoryStateStore, inline
from supervision import LatestMailbox

T0 = 1_780_000_000.0


def tick(source: str, ts: float, price: float) -> SpotTick:
    return SpotTick(source=source, ts=ts, price=price, recv_ts=ts)


async def feed(inbox, clock, prices: dict[str, float], every: float, until: float) -> None:
    while clock.now() < until:
        for src, p in prices.items():
            inbox.send_nowait(tick(src, clock.now(), p))
        await clock.sleep(every)


async def test_grid_updates_median_staleness_and_bad_input(autojump_clock):
    clock = ScaledClock(epoch0=T0)
    inbox = LatestMailbox(spot_tick_key)
    out = Collect()
    stats = ActorStats("spot_index")
    async with trio.open_nursery() as n:
        await n.start(partial(run_spot_index, inbox, out, clock=clock, stats=stats))
        n.start_soon(feed, inbox, clock, {"coinbase": 80_000.0, "binance": 80_010.0, "kraken": 80_030.0}, 0.5, T0 + 5)
        await clock.sleep(2.2)
        inbox.send_nowait("garbage")
        await clock.sleep(7.8)
        n.cancel_scope.cancel()
    ups = out.of(IndexUpdate)
    assert ups and all(isinstance(u, IndexUpdate) for u in ups)
    live = [u for u in ups if u.ts < T0 + 5]
    assert all(u.price == 80_010.0 and not u.stale and u.n_sources == 3 for u in live)
    # at least one update per grid second
    seconds = {math.floor(u.ts) for u in ups}
    assert set(range(int(T0) + 1, int(T0) + 10)) <= seconds
    # feeds stopped at T0+5: stale after max_age (3 s), price held
    late = [u for u in ups if u.ts > T0 + 8.6]
    assert late and all(u.stale and u.price == 80_010.0 for u in late)
    assert ups[0].sigma_source == "default" and ups[0].sigma_reason == "no_data"
    assert stats.msgs_in >= 10 and stats.state == "stale"


async def test_material_change_between_grid_points(autojump_clock):
    clock = ScaledClock(epoch0=T0 + 0.1)
    inbox = LatestMailbox(spot_tick_key)
    out = Collect()
    async with trio.open_nursery() as n:
        await n.start(partial(run_spot_index, inbox, out, clock=clock, config=IndexConfig(min_sources=1)))
        await clock.sleep(0.1)
        inbox.send_nowait(tick("brti", clock.now(), 80_000.0))
        await clock.sleep(0.2)
        inbox.send_nowait(tick("brti", clock.now(), 80_001.0))  # 0.125 bp: not material
        await clock.sleep(0.2)
        inbox.send_nowait(tick("brti", clock.now(), 80_010.0))  # 1.25 bp: material
        await clock.sleep(0.2)
        n.cancel_scope.cancel()
    ups = out.of(IndexUpdate)
    assert [u.price for u in ups] == [80_000.0, 80_010.0]
    assert ups[0].method == "brti" and ups[0].ts < T0 + 1


async def test_sigma_from_the_ewma_and_persisted_across_restart(autojump_clock):
    clock = ScaledClock(epoch0=T0)
    store = MemoryStateStore()
    vol_cfg = VolConfig(sample_interval_s=10, min_samples=30, halflife_s=1800, persist_interval_s=60)
    rng = np.random.default_rng(2)
    sigma = 0.6

    async def gbm_feed(inbox, seconds: int) -> None:
        p = 80_000.0
        for _ in range(seconds):
            p *= math.exp(sigma * math.sqrt(1 / YEAR_S) * rng.standard_normal())
            for src in ("coinbase", "kraken"):
                inbox.send_nowait(tick(src, clock.now(), p))
            await clock.sleep(1.0)

    inbox = LatestMailbox(spot_tick_key)
    out = Collect()
    async with trio.open_nursery() as n:
        await n.start(partial(run_spot_index, inbox, out, clock=clock, vol_config=vol_cfg, store=store, io=inline))
        await gbm_feed(inbox, 3600)
        n.cancel_scope.cancel()
    last = out.of(IndexUpdate)[-1]
    assert last.sigma_source == "ewma" and 0.35 < last.sigma < 0.9
    assert last.avg_60s is not None and abs(last.avg_60s / last.price - 1) < 0.01
    assert 0.35 < last.rv_short < 0.9
    assert last.rv_long is None  # 1 h of data covers less than half of the 4 h horizon
    assert store.saves >= 50
    saved = store.load("vol")
    assert saved["n"] >= 300

    # A restart 10 minutes later resumes the EWMA: sigma is "ewma" from the first update.
    await clock.sleep(600)
    inbox2 = LatestMailbox(spot_tick_key)
    out2 = Collect()
    async with trio.open_nursery() as n:
        await n.start(partial(run_spot_index, inbox2, out2, clock=clock, vol_config=vol_cfg, store=store, io=inline))
        await gbm_feed(inbox2, 3)
        n.cancel_scope.cancel()
    first = out2.of(IndexUpdate)[0]
    assert first.sigma_source == "ewma" and first.sigma == pytest.approx(saved_sigma(saved), rel=1e-9)


def saved_sigma(state) -> float:
    return math.sqrt(state["rate"] * YEAR_S)


async def test_unreadable_state_starts_cold(autojump_clock):
    clock = ScaledClock(epoch0=T0)
    store = MemoryStateStore()
    store.data["vol"] = "{broken"
    inbox = LatestMailbox(spot_tick_key)
    out = Collect()
    async with trio.open_nursery() as n:
        await n.start(partial(run_spot_index, inbox, out, clock=clock, store=store, io=inline))
        inbox.send_nowait(tick("brti", clock.now(), 80_000.0))
        await clock.sleep(1.5)
        n.cancel_scope.cancel()
    assert out.of(IndexUpdate)[0].sigma_source == "default"
    assert store.load("vol")["version"] == 1  # overwritten with a good state on the way out


def test_core_grid_feeds_vol_on_its_own_grid():
    core = SpotIndexCore(IndexConfig(), VolConfig(sample_interval_s=10, max_gap_s=60))
    for s in range(0, 101):
        core.grid_sample(T0 + s, IndexValue(T0 + s, 80_000.0 + s, 2, ("a", "b"), False, "median"))
    assert core.vol.n == 10  # returns at T0+10 ... T0+100
    core.grid_sample(T0 + 101, IndexValue(T0 + 101, None, 0, (), True, "none"))
    assert core.vol.n == 10
