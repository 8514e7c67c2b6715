"""End to end: `kbot run --venue sim --speed 120` for a few simulated hours, as a subprocess,
then the database, the logs and the reports are checked. A second run injects faults in the
simulated venue (dropped sockets, sequence gaps, malformed messages, 500 bursts) and crashes
actors on purpose; it must complete, log the restarts, and lose or duplicate nothing.

The simulated venue lists a reduced set of markets here (a few strikes per event) so that the
whole run fits a CI budget on two cores; the full default set is exercised by `kbot run`. It runs
in its own process, as `kbot run --venue sim` does by default, and with a deliberate mispricing:
at default settings the simulated market is as efficient as the real one and kbot may well take
nothing in a few hours (tests/sim/test_sim_efficiency.py); these runs must show positions opening
and settling.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.simconf import CHAOS, FAULTS, SMALL_SIM, TRADING

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.e2e


def run_kbot(tmp: Path, config: str, minutes: float) -> subprocess.CompletedProcess[str]:
    (tmp / "kbot.toml").write_text(config)
    env = dict(os.environ, PYTHONPATH=str(ROOT), KBOT_LOGGING__CONSOLE_LEVEL="WARNING")
    env.pop("KBOT_DB_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "kbot", "run", "--venue", "sim", "--speed", "120", "--minutes", str(minutes)],
        cwd=tmp, env=env, capture_output=True, text=True, timeout=minutes * 60 + 120,
    )


def kbot(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "kbot", *args], cwd=tmp, env=env, capture_output=True, text=True,
                          timeout=120)


def q(db: sqlite3.Connection, sql: str, *args: object) -> list[tuple]:
    return db.execute(sql, args).fetchall()


def check_money_invariants(db: sqlite3.Connection) -> dict[str, int]:
    """Nothing lost, nothing duplicated, every position settled once."""
    takes = {r[0] for r in q(db, "select decision_id from decisions where action = 'TAKE'")}
    fills = q(db, "select decision_id, count(*) from fills group by decision_id")
    assert all(n == 1 for _, n in fills), "a decision was filled twice"
    assert {d for d, _ in fills} == takes, "a TAKE without its fill, or a fill without its TAKE"
    # one buy (and one fee) ledger entry per fill
    per_fill = q(db, "select f.fill_id, count(l.entry_id) from fills f left join ledger_entries l "
                     "on l.ref = f.fill_id and l.kind = 'buy' group by f.fill_id")
    assert all(n == 1 for _, n in per_fill)
    # every filled market that settled has a settled position, closed exactly once
    settled_markets = {r[0] for r in q(db, "select ticker from settlements where result in ('yes', 'no')")}
    filled_markets = {r[0] for r in q(db, "select distinct ticker from fills")}
    for t in settled_markets & filled_markets:
        rows = q(db, "select status from positions where ticker = ?", t)
        assert rows == [("settled",)], (t, rows)
        n = q(db, "select count(*) from ledger_entries where ticker = ? and kind = 'realized_pnl' "
                  "and ref = ?", t, f"settle:{t}")[0][0]
        assert n == 1, (t, n)
    # the ledger's cash reconciles: deposit + every cash movement = last recorded balance
    # (ledger_entries.cash: kbot.ledger.CASH_KINDS, the one definition of cash)
    cash = q(db, "select sum(amount) from ledger_entries where cash")[0][0]
    last_balance = q(db, "select balance from portfolio_snapshots order by ts desc, id desc limit 1")[0][0]
    assert abs(cash - last_balance) < 1e-6
    return {"takes": len(takes), "settled_positions": len(settled_markets & filled_markets)}


@pytest.fixture(scope="module")
def normal_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    tmp = tmp_path_factory.mktemp("run")
    proc = run_kbot(tmp, SMALL_SIM.format(seed=5, faults="", chaos="", model=TRADING), minutes=1.6)
    return tmp, proc


def test_run_completes_cleanly(normal_run):
    _tmp, proc = normal_run
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr


def test_markets_pricers_edges_decisions(normal_run):
    tmp, _ = normal_run
    db = sqlite3.connect(tmp / "data" / "kbot.sqlite")
    _run_id, started, ended, status = q(db, "select run_id, started_ts, ended_ts, exit_status from runs")[0]
    assert status == "ok" and ended - started > 2.5 * 3600  # a few simulated hours
    assert {r[0] for r in q(db, "select distinct series_ticker from markets")} == {"KXBTC", "KXBTCD", "KXBTC15M"}
    # one pricer per open market, started and stopped with the market
    started_p = {r[0] for r in q(db, "select child from supervision_events where supervisor = 'pricers' and kind = 'started'")}
    stopped_p = dict(q(db, "select child, max(ts) from supervision_events where supervisor = 'pricers' and kind = 'stopped' group by child"))
    closed = q(db, "select ticker, close_ts from markets where close_ts < ? and status != 'initialized'", ended - 60)
    assert len(started_p) >= 10
    for ticker, close_ts in closed:
        name = f"pricer:{ticker}"
        if name in started_p:
            assert name in stopped_p, name
            assert close_ts - 5 <= stopped_p[name] <= close_ts + 120, (name, close_ts, stopped_p[name])
    assert q(db, "select count(*) from edges")[0][0] > 100
    assert q(db, "select count(*) from decisions")[0][0] > 10
    assert q(db, "select count(distinct ticker) from edges")[0][0] >= 10


def test_shadow_positions_open_and_settle_exactly_once(normal_run):
    tmp, _ = normal_run
    db = sqlite3.connect(tmp / "data" / "kbot.sqlite")
    counts = check_money_invariants(db)
    assert counts["takes"] >= 1
    assert counts["settled_positions"] >= 1


def test_scores_and_reports(normal_run):
    tmp, _ = normal_run
    db = sqlite3.connect(tmp / "data" / "kbot.sqlite")
    n, brier, mbrier = q(db, "select count(*), avg(brier), avg(market_brier) from scores")[0]
    assert n > 50 and 0.0 <= brier <= 0.3 and 0.0 <= mbrier <= 0.3
    for name in ("model", "calibration", "pnl", "positions", "decisions", "restarts", "health", "coverage", "equity"):
        r = kbot(tmp, "report", name, "--since", "all", "--format", "json")
        assert r.returncode == 0, (name, r.stderr[-2000:])
        out = json.loads(r.stdout)
        # a clean run has nothing in the restart report; every other report has rows
        assert out["report"] == name and (out["rows"] or name == "restarts"), name
    model = json.loads(kbot(tmp, "report", "model", "--since", "all", "--format", "json").stdout)["rows"]
    assert {r["series_ticker"] for r in model} >= {"KXBTCD", "KXBTC15M"}
    assert sum(r["n"] for r in model) == n
    assert all(0.0 <= r["brier"] <= 1.0 for r in model)
    status = kbot(tmp, "status")
    assert status.returncode == 0, status.stderr[-2000:]


def test_logs(normal_run):
    tmp, _ = normal_run
    lines = (tmp / "logs" / "restarts.jsonl").read_text().splitlines()
    events = [json.loads(line) for line in lines]
    assert any(e["kind"] == "started" and e["child"] == "recorder" for e in events)
    assert (tmp / "logs" / "tape.log").exists()
    assert (tmp / "logs" / "kbot.jsonl").stat().st_size > 0


def test_run_with_faults_and_crashes_loses_nothing(tmp_path: Path):
    proc = run_kbot(tmp_path, SMALL_SIM.format(seed=9, faults=FAULTS, chaos=CHAOS, model=TRADING), minutes=1.3)
    assert proc.returncode == 0, proc.stderr[-3000:]
    db = sqlite3.connect(tmp_path / "data" / "kbot.sqlite")
    crashes = q(db, "select child, count(*) from supervision_events where kind = 'crashed' and reason like '%chaos%' "
                    "group by child")
    crashed = {c for c, _ in crashes}
    assert {"decision", "ledger", "executor"} <= crashed, crashes
    assert any(c.startswith("pricer:") for c in crashed)
    restarts = q(db, "select count(*) from supervision_events where kind = 'restarting'")[0][0]
    assert restarts >= sum(n for _, n in crashes)
    # the faults were felt and survived
    feed_trouble = q(db, "select count(*) from feed_events where status != 'connected'")[0][0]
    assert feed_trouble >= 1
    bad = {r[0] for r in q(db, "select kind from bad_inputs")}
    assert any("bad_json" in k for k in bad) and any("wrong_type" in k or "type" in k for k in bad), bad
    counts = check_money_invariants(db)
    assert counts["takes"] >= 1
    restart_log = [json.loads(x) for x in (tmp_path / "logs" / "restarts.jsonl").read_text().splitlines()]
    assert sum(1 for e in restart_log if e["kind"] == "crashed") >= len(crashed)
    report = kbot(tmp_path, "report", "restarts", "--since", "all", "--format", "json")
    assert report.returncode == 0
    rows = json.loads(report.stdout)["rows"]
    assert {"decision", "ledger", "executor"} <= {r.get("child") for r in rows}


def test_sigterm_stops_cleanly_within_seconds(tmp_path: Path):
    import signal
    import time

    (tmp_path / "kbot.toml").write_text(SMALL_SIM.format(seed=3, faults="", chaos="", model=""))
    env = dict(os.environ, PYTHONPATH=str(ROOT), KBOT_LOGGING__CONSOLE_LEVEL="WARNING")
    env.pop("KBOT_DB_URL", None)
    proc = subprocess.Popen([sys.executable, "-m", "kbot", "run", "--speed", "60"], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    db_path = tmp_path / "data" / "kbot.sqlite"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            time.sleep(1)
            if db_path.exists():
                try:
                    with sqlite3.connect(db_path) as db:
                        if q(db, "select count(*) from edges")[0][0] > 20:
                            break
                except sqlite3.OperationalError:
                    pass
        else:
            pytest.fail("kbot never recorded edges")
        sent = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=30)
        took = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err[-3000:]
    assert took < 15  # "within a few seconds" (generous for a loaded CI machine)
    db = sqlite3.connect(db_path)
    status, reason, ended = q(db, "select exit_status, exit_reason, ended_ts from runs")[0]
    assert status == "interrupted" and "SIGTERM" in reason and ended is not None
    stops = {r[0] for r in q(db, "select child from supervision_events where kind = 'stopped' and supervisor = 'root'")}
    assert {"health", "feeds", "pricers", "decision", "ledger"} <= stops
    check_money_invariants(db)
    # kbot's defaults: no evidence of edge in a fresh record, so it says so and trades nothing
    assert q(db, "select count(*) from decisions where action = 'TAKE'")[0][0] == 0
    assert q(db, "select count(*) from decision_reasons where reason = 'no_demonstrated_edge'")[0][0] >= 1
    assert q(db, "select count(*) from edges where prob_model is not null and model_name = 't10-implied'")[0][0] >= 1
