"""A run's life in the database, around the tree: what ``kbot run`` does before it starts its
own run (close the runs whose process is gone, settle the books runs left behind) and while
it runs (a wall-clock heartbeat, so anyone can tell a live run from a dead one).

At start (``settle_earlier_runs``, before the new run's row exists):

1. ``storage.runs.close_dead_runs``: every run still marked ``running`` whose process is gone
   from this host is closed as ``killed``; one that cannot be seen (another host, an old row)
   and has not beaten its heartbeat for ``storage.runs.STALE_AFTER_S`` as ``unknown``. A live run
   (another kbot on the same database) is left alone.
2. For every ended run that needs it (just closed; a TAKE without an outcome; a fill its ledger
   never applied; a simulated run with open positions), ``kbot.repair.plan_repair`` says what to
   record and a ``storage.writer.BatchWriter`` writes it under that run's id, money conflicts
   checked like any other write. What was done is logged per run (``event="repair"``).

While running: ``heartbeat`` records the wall-clock time every ``storage.runs.HEARTBEAT_S``.

Blocking database work runs in worker threads (``trio.to_thread``).
"""

from __future__ import annotations

import functools
import os
import socket
import time
from collections.abc import Callable

import attrs
import trio
from loguru import logger
from sqlalchemy.engine import Engine

from kbot.repair import RepairPlan, ShadowExecution, plan_repair
from storage import queries
from storage.config import StorageConfig
from storage.runs import HEARTBEAT_S, ClosedRun, beat, close_dead_runs
from storage.writer import BatchWriter


@attrs.frozen(kw_only=True)
class StartupRepair:
    closed: tuple[ClosedRun, ...]  # runs closed as killed/unknown
    repaired: tuple[RepairPlan, ...]  # runs whose books were settled (plans with records)
    latest_sim_end: float | None  # the latest end of a simulated run (its clock), after closing

    def summary(self) -> str:
        if not self.closed and not self.repaired:
            return "no earlier run needed closing or repair"
        return (f"{len(self.closed)} runs closed ({', '.join(f'{c.run_id} {c.status}' for c in self.closed) or '-'}); "
                f"{len(self.repaired)} runs' books settled")


def repair_ended_runs(engine: Engine, *, shadow_execution: ShadowExecution | None, also: tuple[str, ...] = (),
                      storage_cfg: StorageConfig | None = None) -> list[RepairPlan]:
    """Settle the books of every ended run that needs it (module docstring, step 2); ``also``:
    run ids to look at in any case (those just closed). Blocking."""
    with engine.connect() as conn:
        ended = queries.ended_run_ids(conn)
        orphans: dict[str, list[queries.OrphanTake]] = {}
        for o in queries.orphan_takes(conn, run_ids=ended):
            orphans.setdefault(o.run_id, []).append(o)
        unapplied = queries.unapplied_fills(conn, run_ids=ended)
        sim_open = queries.runs_with_open_positions(conn, run_ids=ended, venue="sim")
        targets = list(dict.fromkeys([*also, *orphans, *unapplied, *sim_open]))
        work = []
        for rid in targets:
            run = queries.get_run(conn, rid)
            if run is None or run.exit_status == "running":
                continue
            books = queries.recorded_books(conn, run)
            simulated = run.venue == "sim"
            open_tickers = [p.ticker for p in books.positions if p.status == "open"]
            settled = queries.known_settlements(conn, tickers=open_tickers) if simulated and open_tickers else {}
            work.append((books, simulated, settled))
    plans = []
    for books, simulated, settled in work:
        plan = plan_repair(books, orphans=orphans.get(books.run_id, ()), unapplied=unapplied.get(books.run_id, ()),
                           settlements=settled, shadow_execution=shadow_execution, simulated=simulated)
        if not plan.records:
            continue
        writer = BatchWriter(engine, books.run_id, storage_cfg)
        try:
            res = writer.write(list(plan.records))
        finally:
            writer.close()
        log = logger.bind(event="repair", run_id=books.run_id)
        if res.conflicts or res.rejected:
            log.error("run {}: repair records refused ({} money conflicts, {} rejected): see the log lines above",
                      books.run_id, len(res.conflicts), res.rejected)
        log.warning("run {} ({} {}) ended with its books open; settled: {}", books.run_id, books.venue, books.mode,
                    plan.summary())
        if plan.refused_fills:
            log.error("run {}: {} recorded fills are refused by its book (their market had settled): {}",
                      books.run_id, len(plan.refused_fills), ", ".join(plan.refused_fills[:10]))
        plans.append(plan)
    return plans


async def settle_earlier_runs(engine: Engine, *, shadow_execution: ShadowExecution | None,
                              storage_cfg: StorageConfig | None = None,
                              wall: Callable[[], float] = time.time) -> StartupRepair:
    """Close the runs whose process is gone, then settle the books earlier runs left open.
    Call it at start, before this run's own row exists."""
    closer = f"a kbot run (pid {os.getpid()} on {socket.gethostname()})"
    closed = await trio.to_thread.run_sync(functools.partial(close_dead_runs, engine, wall_now=wall(), closer=closer))
    for c in closed:
        logger.bind(event="run_closed", run_id=c.run_id, status=c.status).warning(
            "run {} ({} {}) was still marked running: closed as {} at its last activity ({})", c.run_id, c.venue,
            c.mode, c.status, c.reason)
    plans = await trio.to_thread.run_sync(functools.partial(
        repair_ended_runs, engine, shadow_execution=shadow_execution, also=tuple(c.run_id for c in closed),
        storage_cfg=storage_cfg,
    ))

    def latest() -> float | None:
        with engine.connect() as conn:
            return queries.latest_end(conn, venue="sim")

    return StartupRepair(closed=tuple(closed), repaired=tuple(plans), latest_sim_end=await trio.to_thread.run_sync(latest))


async def heartbeat(engine: Engine, run_id: str, *, every_s: float = HEARTBEAT_S,
                    wall: Callable[[], float] = time.time) -> None:
    """Beat the run's wall-clock heartbeat every ``every_s`` real seconds, until cancelled. A
    failed beat (database locked past its timeout) is logged and the next one tried."""
    failures = 0
    while True:
        await trio.sleep(every_s)
        try:
            await trio.to_thread.run_sync(functools.partial(beat, engine, run_id, wall_now=wall()))
        except Exception as exc:
            failures += 1
            if failures == 1 or failures % 60 == 0:
                logger.bind(event="heartbeat_failed", failures=failures).warning(
                    "could not record the run's heartbeat ({}: {}); `kbot status` may call the run silent",
                    type(exc).__name__, exc)
        else:
            failures = 0
