"""7. End to end over sockets: ``kbot run --venue sim`` and the simulated venue it starts.

    python -m bench.e2e [--quick] [--speeds 15,30,60,120] [--seconds S]

For each sim speed, two runs of the real command as a subprocess, each in its own directory,
the default market set (~180 markets), seed 1:

- kbot: ``kbot run --venue sim --speed S``: the simulated venue in its own process, started by
  kbot (``kbot.sim.process``; the default): bot and venue each have a core;
- baseline: the same with ``[sim] in_process = true`` (``KBOT_SIM__IN_PROCESS``): the venue
  embedded in kbot's process, sharing one interpreter and its GIL (the default before).

CPU: the bench samples the CPU time of kbot's process and of the venue's (its child) while the
run lasts and reports CPU milliseconds per simulated second: what a speed costs, independent of
what else the machine is doing (wall-clock keep-up is not, on a shared machine). One core's
worth is 1000 / speed ms per simulated second.

Latency: WebSocket frame received (``mono`` set when kbot's reader takes the frame off the
socket) -> Decision emitted, as ``kbot run`` logs it over the whole run (``kbot.latency``: the
``event="latency", scope="run"`` line of ``logs/kbot.jsonl``): every decision with a causing
input counts, start-up (discovery, first snapshots) included. It starts when kbot takes the
frame, so time a frame waited in the socket while kbot was busy is not in it; that is what the
second check below catches. Kept up: no feed trouble recorded (``feed_events`` other than
``connected``: gaps, resubscribes after the venue dropped a slow reader, frames dropped),
decisions kept coming, and the venue's event time -> kbot's receive time of book quotes stayed
under 0.5 s (p99, real time, plus one sim second: the sim publishes a second's events at once).
The highest speed that kept up is reported for both ways of running.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.suite import Row, run_alone

ROOT = Path(__file__).resolve().parent.parent


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), KBOT_LOGGING__CONSOLE_LEVEL="WARNING", **extra)
    for k in ("KBOT_DB_URL", "KALSHI_REST_URL", "KALSHI_WS_URL", "KALSHI_API_KEY_ID", "KALSHI_PRIVATE_KEY_PATH"):
        if k not in extra:
            env.pop(k, None)
    return env


def _cpu_s(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


def _children(pid: int) -> list[int]:
    """Child processes of ``pid``, whichever of its threads started them (Trio spawns from a
    worker thread)."""
    out: list[int] = []
    for f in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            out += [int(x) for x in f.read_text().split()]
        except (OSError, ValueError):
            continue
    return out


def _run_latency(cwd: Path) -> dict[str, Any] | None:
    out = None
    for f in sorted((cwd / "logs").glob("kbot*.jsonl")):
        for line in f.read_text().splitlines():
            if '"latency"' not in line:
                continue
            rec = json.loads(line)["record"]["extra"]
            if rec.get("event") == "latency" and rec.get("scope") == "run":
                out = rec
    return out


def _trouble(cwd: Path, speed: float) -> tuple[int, int, float]:
    """Feed trouble recorded, decisions, and the p99 of venue event -> receipt of book quotes in
    real seconds (the venue's event time and kbot's receive time are both on the sim clock): if
    kbot fell behind, frames would wait in the socket and this would grow."""
    db = sqlite3.connect(cwd / "data" / "kbot.sqlite")
    try:
        trouble = db.execute("select count(*) from feed_events where status not in ('connected')").fetchone()[0]
        decisions = db.execute("select count(*) from decisions").fetchone()[0]
        delays = sorted((r - t) / speed for t, r in db.execute("select ts, recv_ts from quotes where source = 'book'"))
    finally:
        db.close()
    p99 = delays[min(len(delays) - 1, int(0.99 * len(delays)))] if delays else float("nan")
    return trouble, decisions, p99


def run_once(speed: float, seconds: float, external: bool) -> dict[str, Any]:
    """``external``: the venue in its own process (the default); else in kbot's process."""
    with tempfile.TemporaryDirectory(prefix="kbot-bench-e2e-") as d:
        cwd = Path(d)
        # the same simulated morning every run: the market's state (volatility regime, how busy the
        # books are) changes what a simulated second costs
        env = _env(KBOT_SIM__START_EPOCH=str(START_EPOCH))
        if not external:
            env["KBOT_SIM__IN_PROCESS"] = "true"
        cmd = [sys.executable, "-m", "kbot", "run", "--venue", "sim", "--minutes", str(seconds / 60.0),
               "--speed", str(speed), "--seed", "1"]
        t0 = time.perf_counter()
        bot = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        cpu: dict[int, float] = {}
        measured: list[tuple[float, float, float]] = []  # (wall, kbot cpu, sim cpu) after warm-up
        try:
            while True:
                try:
                    _, err = bot.communicate(timeout=2.0)
                    break
                except subprocess.TimeoutExpired:
                    pass
                for pid in (bot.pid, *_children(bot.pid)):
                    v = _cpu_s(pid)
                    if v == v:
                        cpu[pid] = v
                wall = time.perf_counter() - t0
                if 20.0 <= wall <= seconds:  # steady state: after start-up, before the stop
                    measured.append((wall, cpu.get(bot.pid, 0.0), sum(v for p, v in cpu.items() if p != bot.pid)))
                if wall > seconds + 120:
                    bot.kill()  # the process we started, by its handle
        finally:
            if bot.poll() is None:
                bot.kill()
                bot.communicate()
        wall = time.perf_counter() - t0
        lat = _run_latency(cwd)
        try:
            trouble, decisions, delay_p99 = _trouble(cwd, speed)
        except sqlite3.Error:
            trouble, decisions, delay_p99 = -1, 0, float("nan")
        kbot_ms = sim_ms = float("nan")
        if len(measured) >= 2:
            (w0, k0, s0), (w1, k1, s1) = measured[0], measured[-1]
            sim_s = (w1 - w0) * speed
            kbot_ms, sim_ms = (k1 - k0) / sim_s * 1000.0, (s1 - s0) / sim_s * 1000.0
        if bot.returncode != 0:
            # an overloaded run may not even stop cleanly in time: that is a result, not a crash
            last = [line for line in err.splitlines() if line.strip()][-3:]
            print(f"   ({speed:g}x, {'own process' if external else 'embedded'} sim: kbot run exited {bot.returncode}: "
                  f"{' | '.join(last)[:400]})", flush=True)
    return {"speed": speed, "external": external, "latency": lat, "trouble": trouble, "decisions": decisions,
            "delay_p99": delay_p99, "wall": wall, "kbot_ms": kbot_ms, "sim_ms": sim_ms, "exit": bot.returncode}


START_EPOCH = 1_796_300_000.0  # 2026-12-02 20:53 UTC on the simulated clock (a calm regime for seed 1)
MAX_DELAY_S = 0.5  # venue event -> kbot receipt, p99, real seconds (the sim publishes once per sim second)


def _kept_up(r: dict[str, Any]) -> bool:
    return (r["exit"] == 0 and r["trouble"] == 0 and r["decisions"] > 0 and r["latency"] is not None
            and r["delay_p99"] < MAX_DELAY_S + 1.0 / r["speed"])


def _fmt(r: dict[str, Any]) -> str:
    lat = r["latency"] or {}
    how = "sim in its own process" if r["external"] else "sim embedded"
    return (f"   {r['speed']:>5g}x {how:<23} p50 {lat.get('p50_ms', float('nan')):8.3f} ms  p99 "
            f"{lat.get('p99_ms', float('nan')):8.2f} ms  p99.9 {lat.get('p999_ms', float('nan')):8.2f} ms  max "
            f"{lat.get('max_ms', float('nan')):8.1f} ms  n={lat.get('n', 0):,}  decisions {r['decisions']:,}  "
            f"feed trouble {r['trouble']}  event->receipt p99 {r['delay_p99'] * 1e3:.0f} ms  "
            f"cpu/sim s: kbot {r['kbot_ms']:.1f} ms, sim {r['sim_ms']:.1f} ms  "
            f"{'kept up' if _kept_up(r) else 'DID NOT keep up'}" + (f" (exit {r['exit']})" if r["exit"] else ""))


def rows(quick: bool, speeds: list[float] | None = None, seconds: float | None = None) -> list[Row]:
    speeds = speeds or ([30.0] if quick else [15.0, 30.0, 60.0, 120.0])
    secs = seconds or (40.0 if quick else 90.0)
    print(f"7. end to end: kbot sim -> kbot run over loopback sockets, default market set, {secs:g} s per run, "
          f"speeds {', '.join(f'{s:g}x' for s in speeds)}", flush=True)
    results: dict[tuple[float, bool], dict[str, Any]] = {}
    for s in speeds:
        for external in (True, False):
            r = results[(s, external)] = run_once(s, secs, external)
            print(_fmt(r), flush=True)
    best_ext = max((s for s in speeds if _kept_up(results[(s, True)])), default=None)
    best_emb = max((s for s in speeds if _kept_up(results[(s, False)])), default=None)
    at = best_ext if best_ext is not None else speeds[0]
    k, b = results[(at, True)]["latency"] or {}, results[(at, False)]["latency"] or {}
    wl = f"default sim markets, {at:g}x, {secs:g}s"
    out = []
    for label, key in (("p50", "p50_ms"), ("p99", "p99_ms"), ("p99.9", "p999_ms"), ("max", "max_ms")):
        out.append(Row(bench="e2e", what=f"WS frame -> Decision {label}", workload=wl,
                       kbot=float(k.get(key, float("nan"))), baseline=float(b.get(key, float("nan"))) if b else None,
                       unit="ms", better="lower", baseline_what="sim embedded in kbot's process"))
    out.append(Row(bench="e2e", what="highest sim speed kept up", workload=f"tried {', '.join(f'{s:g}x' for s in speeds)}",
                   kbot=best_ext or 0.0, baseline=best_emb or 0.0, unit="x", better="higher",
                   baseline_what="sim embedded in kbot's process"))
    # CPU per simulated second at the lowest speed (where both keep up): what limits the speed
    lo = speeds[0]
    ext, emb = results[(lo, True)], results[(lo, False)]
    out.append(Row(bench="e2e", what="kbot CPU per simulated second", workload=f"default sim markets, {lo:g}x",
                   kbot=ext["kbot_ms"], baseline=emb["kbot_ms"] + emb["sim_ms"], unit="ms", better="lower",
                   baseline_what="kbot + venue in one process"))
    out.append(Row(bench="e2e", what="venue CPU per simulated second", workload=f"default sim markets, {lo:g}x",
                   kbot=ext["sim_ms"], baseline=None, unit="ms", better="lower", baseline_what="-"))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.e2e", description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="one speed (30x), 40 s runs")
    ap.add_argument("--speeds", help="comma-separated sim speeds (default 15,30,60; quick 30)")
    ap.add_argument("--seconds", type=float, help="wall seconds per run (default 90, quick 40)")
    args = ap.parse_args(argv)
    speeds = [float(x) for x in args.speeds.split(",")] if args.speeds else None
    run_alone("e2e", lambda q: rows(q, speeds, args.seconds), args.quick)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
