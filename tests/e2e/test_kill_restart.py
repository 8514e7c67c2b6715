"""``kill -9`` and restart, against one database (issue 12): real ``kbot run --venue sim``
subprocesses killed with SIGKILL while they have money in flight (after their first TAKE),
then a clean run, then the money checked in SQL (``tests/e2e/killrun.money_report``):

- every run is closed (the killed ones as ``killed`` by the next start);
- every TAKE has exactly one outcome (an order, or an abandoned row), no order without its fill;
- no fill applied twice, none never applied;
- per run, ledger cash equals its last portfolio snapshot, and every run has its own deposit;
- no position of an earlier (simulated) run is left open.

The default suite kills two short runs; the storm (nine kills with venue faults) is behind
``--soak``. The in-process property test of the same invariants, with a kill at every possible
point of a run's record, is ``tests/kbot/test_repair.py``.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.killrun import ROOT, storm

pytestmark = pytest.mark.e2e


def assert_money_adds_up(rep: dict, *, runs: int) -> None:
    per_run = rep.pop("per_run")
    assert rep["runs"] == runs, rep
    assert rep["runs_not_closed"] == 0 and set(rep["run_status"]) <= {"killed", "ok"}, rep
    assert rep["run_status"].get("killed", 0) == runs - 1, rep
    assert rep["takes"] >= 1, rep  # there was money in flight
    for k in ("takes_without_outcome", "takes_with_several_outcomes", "orders_without_fill", "fills_applied_twice",
              "fills_not_applied", "cash_vs_snapshot_mismatches", "open_positions_in_earlier_runs"):
        assert rep[k] == 0, (k, rep, per_run)
    assert rep["deposit_rows"] == rep["runs_with_deposit"] == runs, rep


def test_kill_minus_nine_twice_then_a_clean_run(tmp_path: Path):
    runs, rep = storm(tmp_path, kills=2, seed=7, faults=False, speed=120.0, final_minutes=0.05,
                      rng=random.Random(7), extra_s=(0.0, 1.0))
    assert all(r["killed"] for r in runs[:-1]), runs
    assert runs[-1]["exit"] == 0, runs[-1]["stderr"]
    assert_money_adds_up(rep, runs=3)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    status = subprocess.run([sys.executable, "-m", "kbot", "status", "--format", "json"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=60)
    assert status.returncode == 0, status.stderr
    s = json.loads(status.stdout)
    assert s["run"]["exit_status"] == "ok" and s["run"]["liveness"]["verdict"] == "ended"


@pytest.mark.soak
def test_kill_storm_with_venue_faults(tmp_path: Path):
    """The issue's probe: nine kill -9 restarts on one database (with dropped sockets, sequence
    gaps, malformed frames and 500 bursts from the venue), then a clean run."""
    runs, rep = storm(tmp_path, kills=9, seed=11, faults=True, speed=120.0, final_minutes=0.3,
                      rng=random.Random(11), extra_s=(0.0, 4.0))
    assert runs[-1]["exit"] == 0, runs[-1]["stderr"]
    assert all(r["killed"] for r in runs[:-1]), runs
    assert_money_adds_up(rep, runs=10)
