"""The tree of ``kbot run --mode paper`` fed at the feed boundary on a virtual clock: books with
depth and trades in, TAKEs become paper orders (one per decision) that fill on the book after the
latency, the ledger takes the fills, reconciliation finds the ledger and the paper account in
agreement, and everything is on the record."""

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
from kbot.execution.config import ExecutionConfig, ReconcileConfig
from kbot.execution.trading import TradingExecutor
from kbot.messages import MarketInfo, Quote, SpotTick
from kbot.model import prob_yes
from kbot.model.config import GateConfig
from kbot.process import settle_after_stop
from kbot.statestore import inline
from kbot.tree import Tree, drain_control
from storage.config import StorageConfig
from storage.db import open_database
from storage.runs import start_run
from supervision import ChildSpec, Restart

T0 = 1_790_000_000.0
SPOT = 95_000.0
C = Decimal("0.01")


def markets(now: float) -> list[MarketInfo]:
    close = math.floor(now / 3600.0) * 3600.0 + 7200.0
    return [MarketInfo(ticker=f"KXBTCD-T{k}", event_ticker="KXBTCD-E", series_ticker="KXBTCD", status="active",
                       strike_type="greater", floor_strike=float(k), open_ts=now - 60.0, close_ts=close,
                       fee_multiplier=Decimal(1), fee_type="quadratic", updated_ts=now)
            for k in (94_900, 95_000, 95_100)]


def cheap_book(m: MarketInfo, now: float) -> Quote:
    """YES offered well under the model's fair value, with depth."""
    p = prob_yes("greater", m.floor_strike, None, SPOT, 0.5, (m.close_ts or now) - now) or 0.5
    ask = max(5, min(90, round(p * 100) - 12))
    return Quote(ts=now, ticker=m.ticker, yes_bid=(ask - 2) * C, yes_ask=ask * C, no_bid=(100 - ask) * C,
                 no_ask=(102 - ask) * C, yes_bid_size=Decimal(40), yes_ask_size=Decimal(30), recv_ts=now,
                 yes_asks=((ask * C, Decimal(30)), ((ask + 1) * C, Decimal(50))),
                 no_asks=(((102 - ask) * C, Decimal(40)),), mono=time.perf_counter())


async def test_paper_tree_orders_fill_on_the_book_and_the_ledger_agrees(tmp_path, autojump_clock):
    clock = ScaledClock(epoch0=T0)
    cfg = AppConfig(
        mode="paper", data_dir=str(tmp_path / "data"), log_dir=str(tmp_path / "logs"),
        storage=StorageConfig(url=f"sqlite:///{tmp_path / 'kbot.sqlite'}"),
        gates=GateConfig(block_sigma_default=False, max_takes_per_hour=1),
        execution=ExecutionConfig(reconcile=ReconcileConfig(every_s=5.0)),
    )
    engine = open_database(cfg.db_url, cfg.storage)
    run_id = start_run(engine, now=T0, mode="paper", venue="sim", config_digest="t", version="t")
    stats = StatsRegistry()
    recorder = Recorder(engine, run_id, cfg.storage, actor_stats=stats.get("recorder"), clock=clock, offload=inline)
    tree = Tree(cfg, clock=clock, recorder=recorder, endpoints=None, rest_client=None, engine=engine, run_id=run_id,
                started_ts=T0, stats=stats, open_ledger=True, io=inline)
    ms = markets(T0)
    fed = trio.Event()

    async def feed() -> None:
        for m in ms:
            await tree.router.send(m)
        for _ in range(60):
            now = clock.now()
            for src in ("coinbase", "binance", "kraken"):
                await tree.router.send(SpotTick(source=src, ts=now, price=SPOT, recv_ts=now, mono=time.perf_counter()))
            for m in ms:
                await tree.router.send(cheap_book(m, now))
            await clock.sleep(0.5)
        fed.set()
        await trio.sleep_forever()

    root = tree.root(feeds=[
        ChildSpec("control", functools.partial(drain_control, tree), restart=Restart.PERMANENT),
        ChildSpec("feed", feed, restart=Restart.TEMPORARY),
    ])
    async with trio.open_nursery() as n:
        n.start_soon(root.run)
        await fed.wait()
        await trio.sleep(12.0)  # reconciliation passes after the last fill
        await recorder.flush()
        n.cancel_scope.cancel()
    assert await settle_after_stop(tree)
    ex = tree.executor
    assert isinstance(ex, TradingExecutor) and ex.ready
    account = ex.gw.venue.account  # type: ignore[attr-defined]
    ledger = tree.ledger_state.book
    assert ledger.signed_positions() == account.signed_positions() != {}
    assert ledger.cash == account.cash < Decimal(1000)
    assert not ex.reconciler.mismatched and ex.counts["orders"] >= 1
    with engine.connect() as c:
        q = lambda sql: c.exec_driver_sql(sql).fetchall()
        takes = {r[0] for r in q("select decision_id from decisions where action = 'TAKE'")}
        per_decision = dict(q("select decision_id, count(*) from orders group by decision_id"))
        assert takes and set(per_decision) == takes and set(per_decision.values()) == {1}
        assert q("select distinct mode from fills") == [("paper",)]
        fills = q("select fill_id, decision_id from fills")
        assert fills and all(d in takes for _, d in fills)
        assert q("select kind, status from reconciliation") == [("start", "ok")]
        buys = q("select count(*) from ledger_entries where kind = 'buy'")[0][0]
        assert buys == len(fills)
    engine.dispose()
