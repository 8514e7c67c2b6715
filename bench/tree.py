"""The real actor tree of ``kbot run`` for benchmarks, fed at the feed boundary (no sockets).

``running_tree`` builds ``kbot.tree.Tree`` exactly as ``kbot run`` does (recorder on a temporary
SQLite database with migrations, ledger, executor, decision, spot index, one pricer per market
with the pricing board, market registry, scorer, health, the same logging sinks), but its
``feeds`` supervisor runs the caller's children instead of the network feeds. Inputs go in
through ``tree.router``, the ``FeedRouter`` the real feeds send to.

``Workload`` generates the input stream of the benchmarks: ``MarketInfo`` for N open markets
(KXBTCD-style ladders, 50 strikes per hourly event, $100 apart around spot), ``SpotTick`` from
three exchanges around a GBM path, and book ``Quote``s (three ask levels per side) whose top
follows the fair value with some noise now and then and whose sizes change otherwise, as
order-book deltas do.
"""

from __future__ import annotations

import functools
import math
import random
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import trio

from actors.recorder import Recorder
from kbot.actorkit import StatsRegistry
from kbot.clock import Clock
from kbot.config import AppConfig
from kbot.logs import setup_logging
from kbot.messages import MarketInfo, Quote, SpotTick
from kbot.model import prob_yes
from kbot.process import freeze_startup_objects, settle_after_stop, shorten_gil_switch_interval
from kbot.statestore import inline
from kbot.tree import Tree, drain_control
from storage.config import StorageConfig
from storage.db import open_database
from storage.runs import end_run, start_run
from supervision import ChildSpec, Restart, Supervisor, SupervisorGaveUp

SPOT = 95_000.0
SIGMA = 0.5
CENT = Decimal("0.01")
SOURCES = ("coinbase", "binance", "kraken")


def bench_config(tmp: Path, **overrides: Any) -> AppConfig:
    """``kbot run``'s defaults with every path in ``tmp`` (``overrides``: AppConfig fields)."""
    storage = overrides.pop("storage", StorageConfig())
    return AppConfig(
        data_dir=str(tmp / "data"), log_dir=str(tmp / "logs"),
        storage=attrs.evolve(storage, url=f"sqlite:///{tmp / 'kbot.sqlite'}"), **overrides,
    )


@attrs.define
class RunningTree:
    tree: Tree
    root: Supervisor
    cfg: AppConfig
    tmp: Path
    engine: Any
    gave_up: BaseException | None = None


@asynccontextmanager
async def running_tree(clock: Clock, *, feeds: Sequence[ChildSpec] = (), log: bool = True,
                       tmp: Path | None = None, warm_vol: bool = True, inline_writes: bool = False,
                       console_level: str = "WARNING",
                       **cfg_overrides: Any) -> AsyncIterator[RunningTree]:
    """Start the tree; on exit stop it the way ``kbot run`` does (cancel, settle lossless
    mailboxes, flush the recorder, end the run). ``warm_vol``: start like a restart after a
    long run (the volatility estimator's persisted state is warm: sigma from the EWMA, not the
    cold-start default that blocks every trade). ``inline_writes``: the recorder writes on the
    Trio thread instead of a worker thread (replays on a virtual clock: a thread's work takes
    no virtual time, so timeouts around it would fire at once)."""
    with tempfile.TemporaryDirectory(prefix="kbot-bench-") as d:
        tmp = tmp or Path(d)
        cfg = bench_config(tmp, **cfg_overrides)
        if log:
            # kbot run's sinks (JSON log, tape, restart log), console at WARNING
            setup_logging(cfg.log_dir, console_level=console_level, file_level="DEBUG", console_tape=False)
        engine = await trio.to_thread.run_sync(open_database, cfg.db_url, cfg.storage)
        started = clock.now()
        run_id = await trio.to_thread.run_sync(functools.partial(
            start_run, engine, now=started, mode=cfg.mode, venue="bench", config_digest="bench", version="bench"))
        stats = StatsRegistry()
        recorder = Recorder(engine, run_id, cfg.storage, actor_stats=stats.get("recorder"), clock=clock,
                            offload=inline if inline_writes else trio.to_thread.run_sync)
        if warm_vol:
            warm_vol_state(cfg, started)
        tree = Tree(cfg, clock=clock, recorder=recorder, endpoints=None, rest_client=None, engine=engine,
                    run_id=run_id, started_ts=started, stats=stats)
        tree.ledger_state.pending.append(("out", tree.ledger_state.book.deposit(started)))
        children = [ChildSpec("control", functools.partial(drain_control, tree), restart=Restart.PERMANENT), *feeds]
        root = tree.root(feeds=children)
        freeze_startup_objects()  # as kbot run does
        shorten_gil_switch_interval()
        rt = RunningTree(tree=tree, root=root, cfg=cfg, tmp=tmp, engine=engine)
        try:
            async with trio.open_nursery() as n:
                async def supervise() -> None:
                    try:
                        await root.run()
                    except SupervisorGaveUp as exc:
                        rt.gave_up = exc
                        raise

                n.start_soon(supervise)
                yield rt
                n.cancel_scope.cancel()
            await settle_after_stop(tree)
            await trio.to_thread.run_sync(functools.partial(end_run, engine, run_id, now=clock.now(), status="ok"))
        finally:
            engine.dispose()
            if log:
                from loguru import logger

                logger.remove()


def warm_vol_state(cfg: AppConfig, now: float, sigma: float = SIGMA, seed: int = 3) -> None:
    """Persist a warmed-up EWMA (an hour of 10 s samples of a GBM with ``sigma``) where the spot
    index actor loads it from at start."""
    from kbot.model.vol import EwmaVol
    from kbot.statestore import JsonFileStateStore

    rng = random.Random(seed)
    vol = EwmaVol(cfg.vol)
    step = cfg.vol.sample_interval_s
    px = SPOT
    n = int(3600 / step)
    for k in range(n + 1):
        vol.add_sample(now - (n - k) * step, px)
        px *= math.exp(sigma * math.sqrt(step / 31_557_600.0) * rng.gauss(0.0, 1.0))
    JsonFileStateStore(cfg.state_dir).save("vol", vol.to_state())


async def open_markets(tree: Tree, markets: Sequence[MarketInfo], timeout_s: float = 60.0) -> None:
    """Announce ``markets`` at the feed boundary and wait until each has its pricer."""
    for m in markets:
        await tree.router.send(m)
    with trio.fail_after(timeout_s):
        while len(tree.pricers.supervisor.children()) < len(markets):
            await trio.sleep(0.01)


# ----------------------------------------------------------------------------- workload


def make_markets(n: int, now: float, spot: float = SPOT) -> list[MarketInfo]:
    """``n`` open KXBTCD-style markets: hourly events of 50 'greater' strikes $100 apart."""
    out = []
    per = 50
    for ev in range(math.ceil(n / per)):
        close = (math.floor(now / 3600.0) + 2 + ev) * 3600.0
        event = f"KXBTCD-B{ev:03d}"
        for i in range(min(per, n - ev * per)):
            k = round(spot - per * 50 + 100 * i) - 0.01
            out.append(MarketInfo(
                ticker=f"{event}-T{k:.2f}", event_ticker=event, series_ticker="KXBTCD", status="active",
                strike_type="greater", floor_strike=k, open_ts=now - 600.0, close_ts=close,
                expected_expiration_ts=close + 300.0, fee_type="quadratic", fee_multiplier=Decimal(1),
                updated_ts=now,
            ))
    return out


class _Book:
    """The top of one market's book: YES bid/ask in cents with sizes, three levels per side."""

    __slots__ = ("bid", "ask", "sizes")

    def __init__(self, mid_c: int, rng: random.Random) -> None:
        self.bid = max(1, min(97, mid_c - 1))
        self.ask = self.bid + 2
        self.sizes = [Decimal(rng.randint(5, 500)) for _ in range(6)]


class Workload:
    """A seeded input stream (see the module docstring). Messages are built on demand, with
    ``ts``/``recv_ts`` from ``clock`` and ``mono`` = ``time.perf_counter()`` at creation (the
    feed boundary)."""

    def __init__(self, markets: list[MarketInfo], clock: Clock, seed: int = 1, spot: float = SPOT,
                 move_p: float = 0.25) -> None:
        self.markets = markets
        self.clock = clock
        self.rng = random.Random(seed)
        self.spot = spot
        self.move_p = move_p  # probability that a book update moves the top (else sizes change)
        now = clock.now()
        self.books = []
        for m in markets:
            p = prob_yes("greater", m.floor_strike, None, spot, SIGMA, (m.close_ts or now) - now) or 0.5
            self.books.append(_Book(int(round(p * 100)), self.rng))
        self._last_spot_ts = now

    def spot_tick(self, source: str) -> SpotTick:
        now = self.clock.now()
        dt = max(0.0, now - self._last_spot_ts)
        self._last_spot_ts = now
        self.spot *= math.exp(SIGMA * math.sqrt(dt / 31_557_600.0) * self.rng.gauss(0.0, 1.0))
        px = round(self.spot + self.rng.uniform(-3.0, 3.0), 2)
        return SpotTick(source=source, ts=now, price=px, bid=px - 0.5, ask=px + 0.5, recv_ts=now,
                        mono=time.perf_counter())

    def quote(self, i: int | None = None) -> Quote:
        """The next book update of market ``i`` (random if None): with probability ``move_p``
        the top moves (market makers re-center on the fair value at the current spot, with a
        noise of ~1.5 cents, so a taker edge appears now and then), otherwise a size changes
        at one of the three levels of a side."""
        rng = self.rng
        if i is None:
            i = rng.randrange(len(self.markets))
        b = self.books[i]
        if rng.random() < self.move_p:
            m = self.markets[i]
            now = self.clock.now()
            p = prob_yes("greater", m.floor_strike, None, self.spot, SIGMA, (m.close_ts or now) - now) or 0.5
            b.bid = max(1, min(97, int(round(p * 100 + rng.gauss(0.0, 1.5))) - 1))
            b.ask = b.bid + 2
        else:
            b.sizes[rng.randrange(6)] = Decimal(rng.randint(5, 500))
        s = b.sizes
        ya = [(Decimal(b.ask + k) * CENT, s[k]) for k in range(3) if b.ask + k <= 99]
        na = [(Decimal(100 - b.bid + k) * CENT, s[3 + k]) for k in range(3) if 100 - b.bid + k <= 99]
        now = self.clock.now()
        return Quote(
            ts=now, ticker=self.markets[i].ticker, yes_bid=Decimal(b.bid) * CENT, yes_ask=Decimal(b.ask) * CENT,
            no_bid=Decimal(100 - b.ask) * CENT, no_ask=Decimal(100 - b.bid) * CENT, yes_bid_size=s[3],
            yes_ask_size=s[0], yes_asks=tuple(ya), no_asks=tuple(na), source="book", recv_ts=now,
            mono=time.perf_counter(),
        )


def mailbox_report(tree: Tree) -> dict[str, Any]:
    """Peak depth per mailbox (pricers folded) and whether every bounded one stayed within its
    capacity."""
    peaks: dict[str, int] = {}
    bounded_ok = True
    for name, box in tree.registry.items():
        st = box.stats()
        key = "pricers" if name.startswith("pricer:") else name
        peaks[key] = max(peaks.get(key, 0), st.peak)
        if st.capacity is not None and st.peak > st.capacity:
            bounded_ok = False
    return {"peaks": peaks, "bounded_ok": bounded_ok}
