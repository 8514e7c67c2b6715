"""7. End to end over sockets: ``kbot sim`` in its own process -> ``kbot run`` against it.

    python -m bench.e2e [--quick] [--speeds 15,30,60] [--seconds S]

For each sim speed, two runs of the real commands as subprocesses, each in its own directory,
the default market set (~180 markets), seed 1:

- kbot: ``kbot sim --port 0 --speed S`` in its own process, then ``kbot run --venue sim`` with
  ``KALSHI_REST_URL`` pointing at it (the run follows the sim's clock and uses its demo key;
  see ``kbot.process.connect_external_sim``): the bot has a core to itself;
- baseline: ``kbot run --venue sim --speed S``, the simulated venue embedded in kbot's process
  (the default way to run against the sim): venue and bot share one interpreter and its GIL.

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
import re
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


def _start_sim(cwd: Path, speed: float) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "kbot", "sim", "--port", "0", "--speed", str(speed), "--seed", "1",
         "--data-dir", "data/sim"], cwd=cwd, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        m = re.search(r"REST\s+(http://\S+)", line)
        if m:
            return proc, m.group(1)
        if not line and proc.poll() is not None:
            break
    proc.kill()
    raise RuntimeError("kbot sim did not start")


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
    with tempfile.TemporaryDirectory(prefix="kbot-bench-e2e-") as d:
        cwd = Path(d)
        sim = None
        env = _env()
        cmd = [sys.executable, "-m", "kbot", "run", "--venue", "sim", "--minutes", str(seconds / 60.0)]
        if external:
            sim, rest = _start_sim(cwd, speed)
            env = _env(KALSHI_REST_URL=rest)
        else:
            cmd += ["--speed", str(speed), "--seed", "1"]
        try:
            t0 = time.perf_counter()
            bot = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            try:
                _, err = bot.communicate(timeout=seconds + 120)
            except subprocess.TimeoutExpired:
                bot.kill()  # the process we started, by its handle
                _, err = bot.communicate()
            wall = time.perf_counter() - t0
            sim_cpu = _cpu_s(sim.pid) if sim is not None else float("nan")
        finally:
            if sim is not None:
                sim.terminate()
                try:
                    sim.wait(10)
                except subprocess.TimeoutExpired:
                    sim.kill()
        lat = _run_latency(cwd)
        try:
            trouble, decisions, delay_p99 = _trouble(cwd, speed)
        except sqlite3.Error:
            trouble, decisions, delay_p99 = -1, 0, float("nan")
        if bot.returncode != 0:
            # an overloaded run may not even stop cleanly in time: that is a result, not a crash
            last = [line for line in err.splitlines() if line.strip()][-3:]
            print(f"   ({speed:g}x, {'external' if external else 'embedded'} sim: kbot run exited {bot.returncode}: "
                  f"{' | '.join(last)[:400]})", flush=True)
    return {"speed": speed, "external": external, "latency": lat, "trouble": trouble, "decisions": decisions,
            "delay_p99": delay_p99, "wall": wall, "sim_cpu_s": sim_cpu, "exit": bot.returncode}


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
            f"{'kept up' if _kept_up(r) else 'DID NOT keep up'}" + (f" (exit {r['exit']})" if r["exit"] else ""))


def rows(quick: bool, speeds: list[float] | None = None, seconds: float | None = None) -> list[Row]:
    speeds = speeds or ([30.0] if quick else [15.0, 30.0, 60.0])
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
