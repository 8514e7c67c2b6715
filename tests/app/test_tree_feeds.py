"""The tree of ``kbot run`` with feeds supplied by the caller (``Tree.root(feeds=...)``): what a
replay or a benchmark runs. Inputs sent to ``tree.router`` (what the network feeds call) reach
every actor, a decision is emitted and measured, the registry's watch commands are drained, and
everything lands in the database."""

from __future__ import annotations

import functools
import math
import time
from decimal import Decimal

import trio

from actors.recorder import Recorder
from kbot.actorkit import StatsRegistry
from kbot.clock import ScaledClock
from kbot.config import AppConfig
from kbot.messages import MarketInfo, Quote, SpotTick
from kbot.model import prob_yes
from kbot.process import settle_after_stop
from kbot.statestore import inline
from kbot.tree import Tree, drain_control
from storage.config import StorageConfig
from storage.db import open_database
from storage.runs import start_run
from supervision import ChildSpec, Restart

T0 = 1_790_000_000.0
SPOT = 95_000.0


def markets(now: float, n: int = 5) -> list[MarketInfo]:
    close = math.floor(now / 3600.0) * 3600.0 + 7200.0
    return [MarketInfo(ticker=f"KXBTCD-T{k}", event_ticker="KXBTCD-E", series_ticker="KXBTCD", status="active",
                       strike_type="greater", floor_strike=float(k), open_ts=now - 60.0, close_ts=close,
                       fee_multiplier=Decimal(1), updated_ts=now)
            for k in range(94_800, 94_800 + 100 * n, 100)]


def book(m: MarketInfo, now: float, offset_c: int = 0) -> Quote:
    p = prob_yes("greater", m.floor_strike, None, SPOT, 0.5, m.close_ts - now) or 0.5
    bid = max(1, min(97, round(p * 100) - 1 + offset_c))
    c = Decimal("0.01")
    return Quote(ts=now, ticker=m.ticker, yes_bid=bid * c, yes_ask=(bid + 2) * c, no_bid=(98 - bid) * c,
                 no_ask=(100 - bid) * c, yes_bid_size=Decimal(50), yes_ask_size=Decimal(50), recv_ts=now,
                 mono=time.perf_counter())


async def test_a_tree_without_network_feeds_decides_and_records(tmp_path, autojump_clock):
    clock = ScaledClock(epoch0=T0)
    cfg = AppConfig(data_dir=str(tmp_path / "data"), log_dir=str(tmp_path / "logs"),
                    storage=StorageConfig(url=f"sqlite:///{tmp_path / 'kbot.sqlite'}"))
    engine = open_database(cfg.db_url, cfg.storage)
    run_id = start_run(engine, now=T0, mode="shadow", venue="sim", config_digest="t", version="t")
    stats = StatsRegistry()
    recorder = Recorder(engine, run_id, cfg.storage, actor_stats=stats.get("recorder"), clock=clock, offload=inline)
    tree = Tree(cfg, clock=clock, recorder=recorder, endpoints=None, rest_client=None, engine=engine, run_id=run_id,
                started_ts=T0, stats=stats)
    fed = trio.Event()
    ms = markets(T0)

    async def feed() -> None:
        for m in ms:
            await tree.router.send(m)
        for step in range(40):
            now = clock.now()
            for src in ("coinbase", "binance", "kraken"):
                await tree.router.send(SpotTick(source=src, ts=now, price=SPOT + step, recv_ts=now,
                                                mono=time.perf_counter()))
            for i, m in enumerate(ms):
                await tree.router.send(book(m, now, offset_c=(step + i) % 3))
            await clock.sleep(0.5)
        fed.set()
        await trio.sleep_forever()

    root = tree.root(feeds=[
        ChildSpec("control", functools.partial(drain_control, tree), restart=Restart.PERMANENT),
        ChildSpec("bench_feed", feed, restart=Restart.TEMPORARY),
    ])
    async with trio.open_nursery() as n:
        n.start_soon(root.run)
        await fed.wait()
        await recorder.flush()
        # no network feed was built, and the registry's watch commands did not pile up
        feeds = next(s for s in tree.supervisors if s.name == "feeds")
        assert {c.name for c in feeds.children()} == {"control", "bench_feed"}
        assert len(tree.ws_control) == 0 and tree.ws_control.stats().sent >= 1
        assert len(tree.pricers.supervisor.children()) == len(ms)
        n.cancel_scope.cancel()
    assert await settle_after_stop(tree)
    assert tree.latency_run.n > 0 and tree.latency_run.max < 5.0  # perf_counter seconds: the meter saw decisions
    with engine.connect() as c:
        count = lambda t: c.exec_driver_sql(f"select count(*) from {t}").scalar()
        assert count("markets") == len(ms)
        assert count("quotes") == 40 * len(ms)
        assert count("spot_ticks") == 40 * 3
        assert count("decisions") >= 1 and count("edges") >= len(ms)
    engine.dispose()


async def test_network_feeds_without_endpoints_is_a_clear_error(tmp_path):
    import pytest

    cfg = AppConfig(data_dir=str(tmp_path / "data"), storage=StorageConfig(url=f"sqlite:///{tmp_path / 'k.sqlite'}"))
    engine = open_database(cfg.db_url, cfg.storage)
    recorder = Recorder(engine, "r", cfg.storage, offload=inline)
    tree = Tree(cfg, clock=ScaledClock(epoch0=T0), recorder=recorder, endpoints=None, rest_client=None, engine=engine,
                run_id="r", started_ts=T0)
    with pytest.raises(ValueError, match="endpoints"):
        tree.root()
    engine.dispose()
