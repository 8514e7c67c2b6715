"""``kbot backtest``: one replay per configuration point, in parallel worker processes.

The points are every combination of the ``--set key=v1,v2`` values (``kbot.replay.overrides``).
Each worker process rebuilds the source from its description (``SourceSpec``), replays it with
its point's settings into its own database (``<out>/point-<n>.sqlite``) and returns the metric
rows (``kbot.replay.metrics``); the parent shows a progress bar and collects one row per point and
series. A replay is deterministic, so the rows of a point do not depend on ``--jobs``.
"""

from __future__ import annotations

import multiprocessing as mp
import queue as queue_mod
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import Any

import attrs

from kbot.config import AppConfig
from kbot.replay.engine import ReplaySource
from kbot.replay.overrides import nested


@attrs.frozen(kw_only=True)
class SourceSpec:
    """How to build a ``ReplaySource`` again in a worker process (sources hold closures)."""

    fmt: str  # kbot | organics
    paths: tuple[str, ...]
    sessions: tuple[str, ...] | None = None

    def build(self) -> ReplaySource:
        if self.fmt == "organics":
            from kbot.replay.organics import organics

            return organics(self.paths, sessions=self.sessions)
        from kbot.replay.sources import kbot_recording

        return kbot_recording(self.paths)


@attrs.frozen(kw_only=True)
class PointResult:
    index: int
    point: dict[str, str]
    run_id: str
    db: str
    events: int
    wall_s: float
    takes: int
    rows: list[dict[str, Any]]
    error: str | None = None
    # fill quality per series and time to close (kbot.strategy.report): the maker's figures
    quality: list[dict[str, Any]] = attrs.field(factory=list)


def _worker(spec: SourceSpec, cfg: AppConfig, index: int, point: dict[str, str], db_url: str,
            t_from: float | None, t_to: float | None, progress: Any) -> PointResult:
    from loguru import logger

    from kbot.replay.engine import run_replay
    from kbot.replay.metrics import run_rows

    logger.remove()  # workers stay quiet; the parent reports
    try:
        source = spec.build()

        def report(p: Any) -> None:
            try:
                progress.put_nowait((index, p.events, p.last_t))
            except queue_mod.Full:
                pass

        r = run_replay(source, cfg, db_url=db_url, t_from=t_from, t_to=t_to, settings=nested(point),
                       on_progress=report, progress_every=20_000)
        progress.put_nowait((index, r.events, r.last_t))
        from kbot.strategy.report import run_report

        return PointResult(index=index, point=point, run_id=r.run_id, db=db_url, events=r.events, wall_s=r.wall_s,
                           takes=r.takes, rows=run_rows(db_url, r.run_id), quality=run_report(db_url, r.run_id))
    except Exception as exc:  # reported in the row, the other points go on
        return PointResult(index=index, point=point, run_id="", db=db_url, events=0, wall_s=0.0, takes=0, rows=[],
                           error=f"{type(exc).__name__}: {exc}")


def run_backtest(spec: SourceSpec, cfg: AppConfig, points: Sequence[dict[str, str]], out_dir: Path, *, jobs: int,
                 t_from: float | None = None, t_to: float | None = None, span: tuple[float, float] | None = None,
                 on_update: Callable[[dict[int, tuple[int, float]], int], None] | None = None) -> list[PointResult]:
    """Run every point (at most ``jobs`` at once); ``on_update(progress, done)`` is called about
    five times a second with ``index -> (events, market time)`` and the number of points done."""
    out_dir.mkdir(parents=True, exist_ok=True)
    ctx = mp.get_context("spawn")  # a clean interpreter per worker: no Trio state crosses a fork
    mgr = ctx.Manager()
    progress = mgr.Queue(maxsize=10_000)
    state: dict[int, tuple[int, float]] = {}
    results: list[PointResult] = []
    try:
        with ProcessPoolExecutor(max_workers=max(1, jobs), mp_context=ctx) as pool:
            futures: list[Future[PointResult]] = []
            for i, p in enumerate(points):
                db = f"sqlite:///{(out_dir / f'point-{i + 1}.sqlite').resolve()}"
                futures.append(pool.submit(_worker, spec, cfg, i, p, db, t_from, t_to, progress))
            pending = set(futures)
            while pending:
                deadline = time.monotonic() + 0.2
                while time.monotonic() < deadline:
                    try:
                        i, n, t = progress.get(timeout=max(0.0, deadline - time.monotonic()))
                        state[i] = (n, t)
                    except queue_mod.Empty:
                        break
                pending = {f for f in pending if not f.done()}
                if on_update is not None:
                    on_update(state, len(futures) - len(pending))
            results = [f.result() for f in futures]
    finally:
        mgr.shutdown()
    return sorted(results, key=lambda r: r.index)


def point_rows(results: Sequence[PointResult]) -> list[dict[str, Any]]:
    """One flat row per point and series: the point's settings, then the metrics."""
    out = []
    for r in results:
        if r.error is not None:
            out.append({"point": r.index + 1, **r.point, "series": "ERROR", "error": r.error})
            continue
        for row in r.rows:
            out.append({"point": r.index + 1, **r.point, **row, "run_id": r.run_id, "db": r.db})
    return out
