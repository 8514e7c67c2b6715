"""The benchmark suite: ``python -m bench [--quick] [NAME ...]`` (also ``kbot bench``).

Runs the benchmarks (all, or those named), prints one table of kbot's figures beside the
baselines measured in the same run, and writes it with the machine's description to
``bench/results/latest.json`` (all benchmarks: replaced; a selection: merged into the rows
already there). Each benchmark also runs alone: ``python -m bench.<name> [--quick]``.
``--quick`` is a smoke run of a few minutes for the whole suite that still writes every figure.
The memory soak is separate and opt-in: ``python -m bench.memory --soak``.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time
import traceback
from pathlib import Path

from bench.suite import Row, machine, markdown, now_iso, save, table

# name -> what it measures (issue 8's numbering)
BENCHMARKS: dict[str, str] = {
    "latency": "1. tick -> decision latency in the real tree vs the seed design's polling",
    "saturation": "2. sustained input rate of the real tree vs a bare Trio channel chain",
    "writer": "3. recorder rows/s vs raw sqlite3 executemany",
    "pricing": "4. ladder probabilities vs a norm.cdf loop; pricer+decision per update",
    "replay": "5. a recorded session through the tree on a virtual clock, events/s",
    "memory": "6. RSS with 1,000 markets, after start and after 1M inputs",
    "e2e": "7. kbot sim -> kbot run over sockets: WS frame -> decision latency",
    "venues": "venue clients: frames parsed/s vs json.loads",
    "sim_ws": "simulated venue: WS msgs/s to one client vs bare push loops",
    "replay_real": "8. real recorded KXBTC15M sessions through the tree vs the replay driver alone, events/s",
}


def run(names: list[str], quick: bool, *, out: object = sys.stdout) -> tuple[list[Row], list[str]]:
    from kbot.progress import progress

    rows: list[Row] = []
    failed: list[str] = []
    info: dict[str, dict[str, object]] = {}
    # The bar (stderr, on a terminal only) moves between benchmarks: no refresh thread may
    # disturb what they measure; their prints go above it.
    with progress("kbot bench", total=len(names), unit="benchmarks", redirect=True) as bar:
        for name in names:
            bar.update(description=f"bench: {name}")
            mod = importlib.import_module(f"bench.{name}")
            t0 = time.perf_counter()
            print(f"\n=== {name}: {BENCHMARKS[name]}", flush=True)
            try:
                got = mod.rows(quick)
            except Exception:
                traceback.print_exc()
                failed.append(name)
                bar.advance()
                continue
            secs = time.perf_counter() - t0
            info[name] = {"date": now_iso(), "quick": quick, "seconds": round(secs, 1)}
            rows.extend(got)
            print(f"=== {name}: {secs:.0f} s", flush=True)
            bar.advance()
    path = save(rows, benches=info, quick=quick, merge=set(names) != set(BENCHMARKS))
    print(f"\nkbot benchmark suite ({'quick' if quick else 'full'}), {now_iso()}, {_machine_line()}")
    print("ratio: how many times better kbot's figure is than the baseline's (baselines that are ceilings, e.g. raw "
          "sqlite3, give < 1 by design)\n")
    print(table(rows))
    print(f"\nwritten to {path}")
    if failed:
        print(f"FAILED: {', '.join(failed)} (tracebacks above)")
    return rows, failed


def _machine_line() -> str:
    m = machine()
    return f"{m['cores']} cores ({m['cpu_model'] or m['processor']}), Python {m['python']}, load {m['loadavg_at_start']}"


def build_parser(prog: str = "python -m bench") -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0],
                                 epilog="benchmarks: " + "; ".join(f"{k}: {v}" for k, v in BENCHMARKS.items()))
    ap.add_argument("names", nargs="*", metavar="NAME", help=f"benchmarks to run (default: all): {', '.join(BENCHMARKS)}")
    ap.add_argument("--quick", action="store_true", help="smoke run: a few minutes for the whole suite, every figure")
    ap.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    ap.add_argument("--markdown", action="store_true", help="also print the table as Markdown (docs/PERFORMANCE.md)")
    return ap


def main(argv: list[str] | None = None, prog: str = "python -m bench") -> int:
    args = build_parser(prog).parse_args(argv)
    return run_from_args(args)


def run_from_args(args: argparse.Namespace) -> int:
    if args.list:
        for k, v in BENCHMARKS.items():
            print(f"{k:<11} {v}")
        return 0
    unknown = [n for n in args.names if n not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}", file=sys.stderr)
        return 2
    names = args.names or list(BENCHMARKS)
    # benchmarks spawn `python -m bench.x` / `python -m kbot` children: they need the repo on the path
    root = str(Path(__file__).resolve().parent.parent)
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)
    rows, failed = run(names, args.quick)
    if args.markdown:
        print()
        print(markdown(rows))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
