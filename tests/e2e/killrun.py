"""Kill harness: run ``kbot run --venue sim`` several times against one database, killing it
with SIGKILL in between, then check the money in SQL.

Used by ``test_kill_restart.py`` (a few short runs in the default suite, a longer storm behind
``--soak``) and as the probe of issue 12 from the command line::

    python -m tests.e2e.killrun --dir /tmp/kprobe --kills 9 [--faults] [--seed 5]

prints one line per run and the invariants' numbers (JSON on the last line). Nothing here
reads the clock for a decision that matters: kill points are chosen by what the database
shows (a TAKE recorded), plus a seeded random extra delay.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from tests.e2e.simconf import FAULTS, SMALL_SIM, TRADING

ROOT = Path(__file__).resolve().parents[2]

# What moves cash (kbot.ledger.CASH_KINDS); read from the code when it has it.
try:
    from kbot.ledger import CASH_KINDS
except ImportError:  # pragma: no cover - the code before issue 12
    CASH_KINDS = frozenset({"deposit", "buy", "sell", "fee", "settlement"})


def write_config(workdir: Path, *, seed: int, faults: bool) -> None:
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "kbot.toml").write_text(SMALL_SIM.format(seed=seed, faults=FAULTS if faults else "", chaos="", model=TRADING))


def _env() -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), KBOT_LOGGING__CONSOLE_LEVEL="ERROR")
    env.pop("KBOT_DB_URL", None)
    return env


def _count(db_path: Path, sql: str) -> int:
    if not db_path.exists():
        return 0
    try:
        with sqlite3.connect(db_path, timeout=1.0) as db:
            return int(db.execute(sql).fetchone()[0] or 0)
    except sqlite3.Error:
        return 0


TAKES = "select count(*) from decisions where action = 'TAKE'"


def killed_run(workdir: Path, *, speed: float, extra_s: float, timeout_s: float = 120.0) -> dict[str, Any]:
    """Start ``kbot run`` and SIGKILL it ``extra_s`` seconds after the database shows its first
    TAKE (so every run has money in flight when it dies)."""
    db_path = workdir / "data" / "kbot.sqlite"
    takes_before = _count(db_path, TAKES)
    t0 = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "kbot", "run", "--venue", "sim", "--speed", str(speed)],
        cwd=workdir, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = t0 + timeout_s
        while time.monotonic() < deadline and proc.poll() is None:
            if _count(db_path, TAKES) > takes_before:
                break
            time.sleep(0.25)
        end = time.monotonic() + extra_s
        while time.monotonic() < end and proc.poll() is None:
            time.sleep(0.05)
        early = proc.poll()
        proc.send_signal(signal.SIGKILL)
        _out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    return {"killed": early is None, "exit": proc.returncode, "wall_s": round(time.monotonic() - t0, 1),
            "stderr": err[-2000:] if early is not None else ""}


def clean_run(workdir: Path, *, speed: float, minutes: float) -> dict[str, Any]:
    t0 = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "kbot", "run", "--venue", "sim", "--speed", str(speed), "--minutes", str(minutes)],
        cwd=workdir, env=_env(), capture_output=True, text=True, timeout=minutes * 60 + 120,
    )
    return {"exit": proc.returncode, "wall_s": round(time.monotonic() - t0, 1), "stderr": proc.stderr[-3000:]}


def _rows(db: sqlite3.Connection, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    return db.execute(sql, args).fetchall()


def _dec(v: Any) -> Decimal:
    return Decimal(f"{v:.6f}") if isinstance(v, float) else Decimal(str(v))


def money_report(db_path: Path) -> dict[str, Any]:
    """The invariants of issue 12, counted (not asserted): the caller decides what must be 0."""
    db = sqlite3.connect(db_path)
    try:
        runs = [r[0] for r in _rows(db, "select run_id from runs order by started_ts")]
        takes = [r[0] for r in _rows(db, "select decision_id from decisions where action = 'TAKE'")]
        orders = dict(_rows(db, "select decision_id, count(*) from orders group by decision_id"))
        fills = dict(_rows(db, "select decision_id, count(*) from fills group by decision_id"))
        has_abandoned = bool(_rows(db, "select name from sqlite_master where name = 'abandoned_decisions'"))
        abandoned = dict(_rows(db, "select decision_id, count(*) from abandoned_decisions group by decision_id")) \
            if has_abandoned else {}
        outcomes = {d: orders.get(d, 0) + abandoned.get(d, 0) for d in takes}
        no_outcome = [d for d, n in outcomes.items() if n == 0]
        many_outcomes = [d for d, n in outcomes.items() if n > 1]
        filled_no_fill = [d for d in takes if orders.get(d, 0) and not fills.get(d, 0)]
        # a fill is applied once: exactly one 'buy' ledger entry refers to it
        applied = dict(_rows(db, "select f.fill_id, count(l.ref) from fills f left join ledger_entries l "
                                 "on l.ref = f.fill_id and l.kind = 'buy' group by f.fill_id"))
        applied_twice = [f for f, n in applied.items() if n > 1]
        unapplied = [f for f, n in applied.items() if n == 0]
        deposits = _rows(db, "select run_id, count(*) from ledger_entries where kind = 'deposit' group by run_id")
        mismatches = []
        per_run = {}
        for rid in runs:
            entries = _rows(db, "select kind, amount from ledger_entries where run_id = ?", rid)
            cash = sum((_dec(a) for k, a in entries if k in CASH_KINDS), Decimal(0))
            everything = sum((_dec(a) for _k, a in entries), Decimal(0))
            snap = _rows(db, "select balance from portfolio_snapshots where run_id = ? order by ts desc, id desc limit 1",
                         rid)
            balance = _dec(snap[0][0]) if snap else None
            per_run[rid] = {"entries": len(entries), "cash": str(cash), "sum_all_kinds": str(everything),
                            "last_snapshot": None if balance is None else str(balance)}
            if balance is None or abs(cash - balance) > Decimal("0.000001"):
                mismatches.append(rid)
        status = dict(_rows(db, "select exit_status, count(*) from runs group by exit_status"))
        open_runs = _rows(db, "select count(*) from runs where ended_ts is null")[0][0]
        open_positions = dict(_rows(
            db, "select r.run_id, count(*) from positions p join runs r on r.run_id = p.run_id "
                "where p.status = 'open' and r.run_id != (select run_id from runs order by started_ts desc limit 1) "
                "group by r.run_id"))
        return {
            "runs": len(runs), "run_status": status, "runs_not_closed": open_runs,
            "takes": len(takes), "takes_without_outcome": len(no_outcome), "takes_with_several_outcomes":
                len(many_outcomes), "orders_without_fill": len(filled_no_fill),
            "abandoned": sum(abandoned.values()),
            "fills": len(applied), "fills_applied_twice": len(applied_twice), "fills_not_applied": len(unapplied),
            "deposit_rows": sum(n for _r, n in deposits), "runs_with_deposit": len(deposits),
            "cash_vs_snapshot_mismatches": len(mismatches),
            "open_positions_in_earlier_runs": sum(open_positions.values()),
            "per_run": per_run,
        }
    finally:
        db.close()


def storm(workdir: Path, *, kills: int, seed: int, faults: bool, speed: float, final_minutes: float,
          rng: random.Random, extra_s: tuple[float, float] = (0.0, 4.0), log: Any = None,
          ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """``kills`` killed runs (each ``extra_s`` seconds, uniform in that range, after its first
    TAKE) then one clean run, all on one database; returns (runs, report)."""
    write_config(workdir, seed=seed, faults=faults)
    runs = []
    for i in range(kills):
        r = killed_run(workdir, speed=speed, extra_s=rng.uniform(*extra_s))
        runs.append(r)
        if log:
            log(f"run {i + 1}: killed={r['killed']} after {r['wall_s']}s {r['stderr'][-300:]}")
    r = clean_run(workdir, speed=speed, minutes=final_minutes)
    runs.append(r)
    if log:
        log(f"run {kills + 1}: clean exit {r['exit']} after {r['wall_s']}s {r['stderr'][-500:] if r['exit'] else ''}")
    return runs, money_report(workdir / "data" / "kbot.sqlite")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dir", required=True, type=Path)
    p.add_argument("--kills", type=int, default=9)
    p.add_argument("--seed", type=int, default=5)
    p.add_argument("--speed", type=float, default=120.0)
    p.add_argument("--final-minutes", type=float, default=0.3)
    p.add_argument("--faults", action="store_true")
    p.add_argument("--report-only", action="store_true", help="only print the report of an existing database")
    a = p.parse_args()
    if not a.report_only:
        storm(a.dir, kills=a.kills, seed=a.seed, faults=a.faults, speed=a.speed, final_minutes=a.final_minutes,
              rng=random.Random(a.seed), log=lambda s: print(s, flush=True))
    rep = money_report(a.dir / "data" / "kbot.sqlite")
    per_run = rep.pop("per_run")
    for rid, v in per_run.items():
        print(rid, json.dumps(v))
    print(json.dumps(rep))
    return 0


if __name__ == "__main__":
    sys.exit(main())
