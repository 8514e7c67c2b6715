"""`kbot backtest SOURCE... --set KEY=V1,V2 ...`: one replay per configuration point, in parallel.

Every combination of the `--set` values is a point (`--set gates.min_ev=0.02,0.04 --set
pricer.window_s=0,60` is four points). Each point is replayed in its own worker process into
its own database under `--out` (default `data/backtest-<time>/point-<n>.sqlite`). Prints one row
per point and series: decisions, TAKEs, contracts, hit rate, PnL after fees, return on cost, max
drawdown, Brier/log loss of the model and of the market mid at decision times (settled markets
only) and the Brier advantage (market minus model). `--format csv|json` for plotting.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from kbot.commands.replay import add_source_arguments, add_strategy_argument, prepare


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_source_arguments(parser, "--input")
    parser.add_argument("--config", metavar="TOML", help="configuration file (default: ./kbot.toml when present)")
    parser.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=V1,V2",
                        help="a configuration key and the values to try (repeatable; the grid is every combination)")
    parser.add_argument("--jobs", type=int, default=None, metavar="N", help="worker processes (default: CPU count)")
    parser.add_argument("--format", dest="output", choices=("table", "csv", "json"), default="table")
    parser.add_argument("--out", metavar="DIR", help="where the point databases go (default data/backtest-<time>)")
    parser.add_argument("--from", dest="t_from", metavar="T", help="start at this time (ISO 8601 UTC or epoch seconds)")
    parser.add_argument("--to", dest="t_to", metavar="T", help="stop at this time (ISO 8601 UTC or epoch seconds)")
    parser.add_argument("--latency-ms", type=float, metavar="N", help="fill latency after the decision (default 100)")
    parser.add_argument("--fills", choices=("book", "shadow"), help="book (default) or shadow fills")
    parser.add_argument("--seed", type=int, help="scheduler seed (default 0)")
    add_strategy_argument(parser)


def main(args: argparse.Namespace) -> int:
    import csv
    import datetime as dt
    import io
    import json
    import os
    from pathlib import Path

    from kbot.replay import overrides
    from kbot.replay.backtest import SourceSpec, point_rows
    from kbot.replay.metrics import render_rows

    points: list[dict[str, str]] = []

    def check(cfg: Any) -> None:  # the grid fails now, not in a worker (ConfigError is a ValueError)
        points.extend(overrides.grid([overrides.parse_set(s) for s in args.sets]))
        for p in points:
            overrides.apply(cfg, overrides.nested(p))

    prepared = prepare(args, "backtest", check)
    if prepared is None:
        return 2
    cfg, source, t_from, t_to = prepared
    fmt = str(source.notes.get("format", "kbot"))
    spec = SourceSpec(fmt=fmt, paths=tuple(args.sources), sessions=tuple(args.sessions) if args.sessions else None)
    jobs = args.jobs or min(len(points), os.cpu_count() or 1)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    out = Path(args.out) if args.out else Path(cfg.data_dir) / f"backtest-{stamp}"
    print(f"backtest: {len(points)} point(s) of {source.name}, {jobs} worker(s), databases in {out}", file=sys.stderr)
    results = _run_with_bar(spec, cfg, points, out, jobs, t_from, t_to, source.span)
    rows = point_rows(results)
    keys = list(points[0]) if points and points[0] else []
    if args.output == "json":
        print(json.dumps({"points": rows, "fill_quality": [{"point": r.index + 1, **r.point, **q} for r in results
                                                            for q in r.quality]}, indent=2, default=str))
    elif args.output == "csv":
        buf = io.StringIO()
        fields = list(dict.fromkeys(k for r in rows for k in r))
        w = csv.DictWriter(buf, fieldnames=fields)
        w.writeheader()
        w.writerows(rows)
        print(buf.getvalue(), end="")
    else:
        print(render_rows(rows, lead=[("point", "point"), *((k, k) for k in keys)]))
        from kbot.strategy.report import render as render_quality

        quality = [{"point": r.index + 1, **r.point, **q} for r in results for q in r.quality]
        if quality:
            print()
            print("fill quality (kbot report maker: per contract, markouts against the recorded mid):")
            print(render_quality(quality, lead=[("point", "point"), *((k, k) for k in keys)]))
        for r in results:
            if r.error:
                print(f"point {r.index + 1} FAILED: {r.error}", file=sys.stderr)
    return 1 if any(r.error for r in results) else 0


def _run_with_bar(spec: Any, cfg: Any, points: list[dict[str, str]], out: Any, jobs: int, t_from: float | None,
                  t_to: float | None, span: tuple[float, float] | None) -> Any:
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from kbot.replay.backtest import run_backtest

    lo, hi = span if span is not None else (None, None)
    if lo is not None and t_from is not None:
        lo = max(lo, t_from)
    if hi is not None and t_to is not None:
        hi = min(hi, t_to)
    total = (hi - lo) * len(points) if lo is not None and hi is not None and hi > lo else None
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                  TimeElapsedColumn(), transient=False, console=Console(stderr=True)) as bar:
        task = bar.add_task("replaying", total=total)

        def update(state: dict[int, tuple[int, float]], done: int) -> None:
            events = sum(n for n, _ in state.values())
            desc = f"{done}/{len(points)} points, {events:,} events"
            if total is not None and lo is not None and hi is not None:
                covered = sum(min(max(t - lo, 0.0), hi - lo) for _, t in state.values())
                bar.update(task, completed=covered, description=desc)
            else:
                bar.update(task, description=desc)

        results = run_backtest(spec, cfg, points, out, jobs=jobs, t_from=t_from, t_to=t_to, on_update=update)
        bar.update(task, completed=total or 1, total=total or 1)
    return results
