"""6. Memory: resident set size of the real tree with 1,000 open markets, and an opt-in soak.

    python -m bench.memory [--quick]                  # RSS after start and after 1M events
    python -m bench.memory --soak [--minutes 30]      # 2,000 msgs/s for 30 min: does it grow?

Each measurement runs in a fresh Python process (the figures of one benchmark must not carry
the garbage of another):

- kbot: the tree of ``kbot run`` (``bench.tree.running_tree``) with 1,000 open markets (20
  hourly KXBTCD-style ladders of 50 strikes), so 1,000 pricers, their mailboxes and the board;
  RSS once every pricer runs ("after start"), then after 1,000,000 inputs (book quotes with 6%
  spot ticks, fed through ``tree.router`` in bursts as in bench.saturation; quick: 250,000),
  after a full garbage collection. Target < 300 MB.
- baseline: a fresh interpreter that imported everything the tree imports and nothing else (the
  floor any kbot process starts from).

The soak feeds 2,000 msgs/s in real time (open loop) into the 1,000-market tree and samples RSS
every 30 s; it reports the growth over the second half (least-squares slope, MB/hour) and the
spread. No growth: the slope's total over the second half stays within a few MB.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.suite import Row, run_alone

N_MARKETS = 1_000
TARGET_MB = 300.0


def rss_mb() -> float:
    """Current resident set size (Linux /proc), else the peak (getrusage)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024.0 * 1024.0) if sys.platform == "darwin" else peak / 1024.0


# ----------------------------------------------------------------------------- child processes


async def _tree_child(events: int, soak_minutes: float, rate: float) -> dict[str, Any]:
    import trio

    from bench.saturation import BURST, FastStream
    from bench.tree import Workload, make_markets, open_markets, running_tree
    from kbot.clock import WallClock

    clock = WallClock()
    markets = make_markets(N_MARKETS, clock.now())
    out: dict[str, Any] = {}
    async with running_tree(clock) as rt:
        t = rt.tree
        await open_markets(t, markets, timeout_s=300.0)
        await trio.sleep(2.0)
        gc.collect()
        out["start_mb"] = rss_mb()
        stream = FastStream(Workload(markets, clock, seed=31), states=8)
        send = t.router.send
        if soak_minutes <= 0:
            sent = 0
            t0 = time.perf_counter()
            while sent < events:
                for k in range(BURST):
                    await send(stream.tick() if k % 16 == 0 else stream.quote())
                sent += BURST
                await trio.lowlevel.checkpoint()
            await t.recorder.flush()
            out["seconds"] = time.perf_counter() - t0
            await trio.sleep(2.0)
            gc.collect()
            out["after_mb"] = rss_mb()
            out["events"] = sent
        else:
            samples = []
            t0 = time.perf_counter()
            end = t0 + soak_minutes * 60.0
            next_sample = t0
            due = t0
            sent = 0
            while True:
                now = time.perf_counter()
                if now >= end:
                    break
                if now >= next_sample:
                    samples.append((now - t0, rss_mb()))
                    print(f"   soak {now - t0:6.0f} s  RSS {samples[-1][1]:7.1f} MB  sent {sent:,}", flush=True)
                    next_sample += 30.0
                while due <= now:
                    await send(stream.tick() if sent % 16 == 0 else stream.quote())
                    sent += 1
                    due += 1.0 / rate
                await trio.sleep(0.002)
            out["samples"] = samples
            out["events"] = sent
            out["seconds"] = time.perf_counter() - t0
        out["pricers"] = len(t.pricers.supervisor.children())
    return out


def _floor_child() -> dict[str, Any]:
    import bench.tree  # noqa: F401 - everything the tree imports
    import kbot.process  # noqa: F401

    gc.collect()
    return {"floor_mb": rss_mb()}


def _spawn(*args: str) -> dict[str, Any]:
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parent.parent))
    proc = subprocess.run([sys.executable, "-m", "bench.memory", "--child", *args], env=env, capture_output=True,
                          text=True, timeout=7200)
    for line in proc.stdout.splitlines():
        if line.startswith("   soak"):
            print(line, flush=True)
    last = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    if proc.returncode != 0 or not last:
        raise RuntimeError(f"memory child {args} failed: {proc.stderr[-2000:]}")
    return json.loads(last[-1][len("RESULT "):])


def _child_main(args: argparse.Namespace) -> int:
    import trio

    if args.child == "floor":
        res = _floor_child()
    else:
        res = trio.run(_tree_child, args.events, args.minutes if args.soak else 0.0, args.rate)
    print("RESULT " + json.dumps(res), flush=True)
    return 0


# ----------------------------------------------------------------------------- rows


def rows(quick: bool, events: int | None = None) -> list[Row]:
    n = events or (250_000 if quick else 1_000_000)
    print(f"6. memory: real tree, {N_MARKETS:,} markets, RSS after start and after {n:,} inputs (fresh processes)",
          flush=True)
    floor = _spawn("floor")["floor_mb"]
    k = _spawn("tree", "--events", str(n))
    print(f"   interpreter + kbot's imports: {floor:.0f} MB; tree after start ({k['pricers']} pricers): "
          f"{k['start_mb']:.0f} MB; after {k['events']:,} inputs in {k['seconds']:.0f} s: {k['after_mb']:.0f} MB",
          flush=True)
    wl = f"{N_MARKETS:,} markets"
    return [
        Row(bench="memory", what="RSS after start", workload=wl, kbot=k["start_mb"], baseline=floor, unit="MB",
            better="lower", baseline_what="interpreter + imports", target=TARGET_MB),
        Row(bench="memory", what=f"RSS after {k['events'] / 1e6:g}M inputs", workload=wl, kbot=k["after_mb"],
            baseline=floor, unit="MB", better="lower", baseline_what="interpreter + imports", target=TARGET_MB),
    ]


def soak(minutes: float, rate: float) -> list[Row]:
    print(f"memory soak: {N_MARKETS:,} markets, {rate:,.0f} msgs/s for {minutes:g} min (RSS every 30 s)", flush=True)
    res = _spawn("tree", "--soak", "--minutes", str(minutes), "--rate", str(rate))
    samples = res["samples"]
    half = [s for s in samples if s[0] >= samples[-1][0] / 2.0] or samples
    xs, ys = [s[0] for s in half], [s[1] for s in half]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    var = sum((x - mx) ** 2 for x in xs)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / var if var > 0 else 0.0
    per_hour = slope * 3600.0
    grew = slope * (xs[-1] - xs[0]) if len(xs) > 1 else 0.0
    print(f"   first {samples[0][1]:.0f} MB, last {samples[-1][1]:.0f} MB, second half: slope {per_hour:+.1f} MB/h "
          f"({grew:+.1f} MB over it), spread {max(ys) - min(ys):.1f} MB; {res['events']:,} inputs", flush=True)
    return [
        Row(bench="soak", what="RSS growth, second half", workload=f"{N_MARKETS:,} mkts, {rate:,.0f} msg/s, {minutes:g} min",
            kbot=per_hour, baseline=None, unit="MB/h", better="lower",
            note=f"first {samples[0][1]:.0f} MB, last {samples[-1][1]:.0f} MB"),
        Row(bench="soak", what="RSS at the end", workload=f"{N_MARKETS:,} mkts, {rate:,.0f} msg/s, {minutes:g} min",
            kbot=samples[-1][1], baseline=samples[0][1], unit="MB", better="lower", baseline_what="at the start",
            target=TARGET_MB),
    ]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.memory", description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="250,000 inputs instead of 1,000,000")
    ap.add_argument("--events", type=int, default=None, help="inputs to feed (default 1,000,000; quick 250,000)")
    ap.add_argument("--soak", action="store_true", help="the opt-in soak instead (real time, see --minutes)")
    ap.add_argument("--minutes", type=float, default=30.0, help="soak length (default 30)")
    ap.add_argument("--rate", type=float, default=2_000.0, help="soak input rate, msgs/s (default 2,000)")
    ap.add_argument("--child", choices=("floor", "tree"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        if args.events is None:
            args.events = 1_000_000
        return _child_main(args)
    if args.soak:
        run_alone("soak", lambda q: soak(args.minutes, args.rate), False)
    else:
        run_alone("memory", lambda q: rows(q, args.events), args.quick)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
