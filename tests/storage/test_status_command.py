"""`kbot status` against a database with known rows (tests/storage/dataset.py): JSON content
number by number (SQLite and PostgreSQL), the rich tables, the clock choice, actor grouping,
and the exit codes (called in-process with a fixed wall clock, and once as a subprocess)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from kbot import cli
from kbot.commands import status
from kbot.messages import HealthSnapshot
from storage.db import create_engine, open_database, upgrade
from storage.writer import BatchWriter
from tests.storage import dataset as ds
from tests.storage.records import T0

ROOT = Path(__file__).resolve().parents[2]


def kbot_status(capsys, *argv: str, now: float = ds.NOW) -> tuple[int, str, str]:
    args = cli.build_parser().parse_args(["status", *argv])
    code = status.main(args, now=now)
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def filled_url(engine, db_url) -> str:
    ds.build(engine)
    return db_url


@pytest.fixture
def sqlite_filled(sqlite_url) -> str:
    eng = open_database(sqlite_url)
    ds.build(eng)
    eng.dispose()
    return sqlite_url


def test_json_shows_the_latest_run(filled_url, capsys):
    code, out, _ = kbot_status(capsys, "--db", filled_url, "--format", "json", "--limit", "3")
    assert code == 0
    s = json.loads(out)
    assert (s["now"], s["clock"]) == (ds.NOW, "wall")
    run = s["run"]
    assert (run["run_id"], run["mode"], run["venue"], run["exit_status"], run["started_ts"]) == (
        "run-1", "paper", "sim", "running", T0 - 200,
    )  # fmt: skip
    assert run["age_s"] == 3800.0 and run["last_activity_ts"] == T0 + 3000
    # owned by this test process (it called start_run): alive, whatever the age of its records
    assert run["liveness"]["verdict"] == "alive" and run["silent_s"] is None
    assert s["money_conflicts"] == 0

    actors = {a["actor"]: a for a in s["actors"]}
    assert set(actors) == {"pricer", "recorder"}
    p = actors["pricer"]
    assert (p["inbox_depth"], p["inbox_peak"], p["msgs_in"], p["msgs_out"], p["restarts"], p["errors"]) == (
        7, 12, 250, 240, 1, 2,
    )  # fmt: skip
    assert (p["last_msg_age_s"], p["state"], p["ts"], p["seen_s"], p["current"]) == (
        4.0, "running", T0 + 20, ds.NOW - (T0 + 20), True,
    )  # fmt: skip
    assert actors["recorder"]["last_msg_age_s"] is None and actors["recorder"]["msgs_in"] == 9000

    assert [(e["kind"], e["child"], e["attempt"]) for e in s["supervision"]] == [
        ("started", "feeds", 0), ("restarting", "coinbase", 2), ("crashed", "coinbase", 2),
    ]  # fmt: skip
    feeds = {f["feed"]: f for f in s["feeds"]}
    assert feeds["spot:coinbase"]["age_s"] == ds.NOW - (T0 + 11)
    assert (feeds["kalshi_ws"]["status"], feeds["kalshi_ws"]["last_ts"]) == ("disconnected", T0 + 50)
    assert feeds["quotes:ticker"]["last_ts"] == T0 + 5

    assert s["open_markets"]["count"] == 2
    assert [m["ticker"] for m in s["open_markets"]["next"]] == ["M3", "M4"]

    [pos] = s["positions"]
    assert (pos["ticker"], pos["side"], pos["status"]) == ("M3", "yes", "open")
    assert Decimal(pos["count"]) == 5 and Decimal(pos["cost"]) == Decimal("2.5")
    assert Decimal(pos["unrealized_pnl"]) == Decimal("0.75") and Decimal(pos["mark_price"]) == Decimal("0.65")

    pnl = {k: Decimal(v) for k, v in s["pnl_today"].items()}
    assert pnl == {"realized_pnl": Decimal("1.5"), "fees": Decimal("-0.63"), "unrealized_pnl": Decimal("0.75")}

    pf = s["portfolio"]
    assert (pf["ts"], pf["age_s"], pf["open_positions"], pf["open_orders"]) == (T0 + 3000, 600.0, 1, 0)
    assert {k: Decimal(pf[k]) for k in ("equity", "balance", "exposure", "unrealized_pnl", "daily_realized_pnl")} == {
        "equity": Decimal("1000.22"), "balance": Decimal("996.97"), "exposure": Decimal("2.5"),
        "unrealized_pnl": Decimal("0.75"), "daily_realized_pnl": Decimal("1.5"),
    }  # fmt: skip
    assert [(a["kind"], a["severity"], a["subject"], a["message"]) for a in s["alerts"]] == [
        ("kill_switch", "critical", "", "daily loss limit"), ("spot_gap", "warning", "coinbase", "no tick for 8s"),
    ]  # fmt: skip


def test_a_simulated_clock_ahead_of_the_wall_clock(sqlite_filled, capsys):
    """The run's records are ahead of the wall clock (sim speed > 1): ages are from its newest
    record, and a run that is ahead is never flagged as silent."""
    code, out, _ = kbot_status(capsys, "--db", sqlite_filled, "--format", "json", now=T0 + 100)
    s = json.loads(out)
    assert code == 0 and (s["clock"], s["now"]) == ("run", T0 + 3000)
    assert s["run"]["silent_s"] is None and s["portfolio"]["age_s"] == 0.0
    assert {f["feed"]: f["age_s"] for f in s["feeds"]}["spot:kraken"] == 2997.0
    code, out, _ = kbot_status(capsys, "--db", sqlite_filled, now=T0 + 100)
    assert "simulated time" in out and "may be gone" not in out


def test_a_dead_run_is_told_from_a_live_one_whatever_the_clock(sqlite_filled, capsys):
    """Killed: its process is gone. Shown dead in red even though its simulated clock is far
    ahead of the wall clock (its records look 'recent'); before, a dead simulated run showed
    as running for as long as its clock stayed ahead."""
    from storage.schema import runs

    eng = create_engine(sqlite_filled)
    with eng.begin() as c:
        c.execute(runs.update().where(runs.c.run_id == "run-1").values(pid=999_999_999, proc_start="gone:1",
                                                                         heartbeat_ts=T0 + 40))
    eng.dispose()
    code, out, _ = kbot_status(capsys, "--db", sqlite_filled, "--format", "json", now=T0 + 100)
    s = json.loads(out)
    assert code == 0 and s["clock"] == "run"  # its records are ahead of the wall clock
    assert s["run"]["liveness"]["verdict"] == "dead" and s["run"]["silent_s"] == 60.0
    code, out, _ = kbot_status(capsys, "--db", sqlite_filled, now=T0 + 100)
    assert "process gone" in out and "this run is not alive" in out


def test_tables(sqlite_filled, capsys):
    code, out, err = kbot_status(capsys, "--db", sqlite_filled)
    assert code == 0 and err == ""
    for text in (
        "run run-1", "mode paper", "venue sim", "status running", "started 2025-11-21 04:36:40 UTC (1h03m ago)",
        "(process alive (pid",  # this test process owns it
        "actors (latest health snapshot)", "pricer", "recorder", "running",
        "last supervision events", "OSError: reset", "restarting",
        "spot:coinbase", "59m49s", "kalshi_ws", "disconnected",
        "open markets: 2", "M4", "greater 98,000.00",
        "open positions: 1 (paper)", "0.7500", "0.6500",
        "realized PnL today (UTC)", "1.5000", "-0.6300", "1,000.2200", "996.9700",
        "portfolio snapshot of 2025-11-21 05:30:00 UTC, 10m00s ago", "1 / 0",
        "kill_switch", "daily loss limit", "no tick for 8s",
    ):
        assert text in out, text


def test_actor_instances_are_grouped_and_stopped_actors_set_apart(sqlite_filled, capsys):
    eng = open_database(sqlite_filled)
    w = BatchWriter(eng, "run-1")
    hs = [
        HealthSnapshot(ts=T0 + 20, actor=f"pricer:M{i}", inbox_depth=i, inbox_peak=10 * i, msgs_in=100 * i,
                       msgs_out=i, last_msg_age_s=float(i), restarts=i % 2, errors=i, state="running")
        for i in range(1, 6)
    ]  # fmt: skip
    hs.append(HealthSnapshot(ts=T0 - 500, actor="pricer:OLD", inbox_depth=0, inbox_peak=0, msgs_in=1, msgs_out=1,
                             last_msg_age_s=None, restarts=0, errors=0, state="stopped"))  # fmt: skip
    assert w.write(hs).written == 6
    w.close()
    eng.dispose()
    code, out, _ = kbot_status(capsys, "--db", sqlite_filled)
    assert code == 0
    assert "pricer:* (5)" in out and "pricer:M3" not in out
    assert "stopped reporting" in out and "pricer:OLD" in out
    row = next(line for line in out.splitlines() if "pricer:* (5)" in line)
    cells = [c.strip() for c in row.replace("│", "|").split("|")]
    # depth max 5, peak max 50, msgs in 1500, msgs out 15, last msg 5.0s, restarts 3, errors 15
    assert cells[1:9] == ["running x5", "5", "50", "1500", "15", "5.0s", "3", "15"]
    code, out, _ = kbot_status(capsys, "--db", sqlite_filled, "--expand")
    assert "pricer:M3" in out and "pricer:* (5)" not in out
    code, out, _ = kbot_status(capsys, "--db", sqlite_filled, "--format", "json")
    actors = {a["actor"]: a["current"] for a in json.loads(out)["actors"]}
    assert actors["pricer:OLD"] is False and actors["pricer:M5"] is True and len(actors) == 8


def test_another_run(sqlite_filled, capsys):
    code, out, _ = kbot_status(capsys, "--db", sqlite_filled, "--run", "run-0")
    assert code == 0
    assert "run run-0" in out and "status error" in out and "SupervisorGaveUp" in out and "ended" in out
    assert "no health snapshot recorded" in out and "may be gone" not in out
    code, out, _ = kbot_status(capsys, "--db", sqlite_filled, "--run", "run-0", "--format", "json")
    s = json.loads(out)
    assert (s["run"]["exit_status"], s["run"]["ended_ts"], s["actors"], s["portfolio"]) == ("error", T0 - 4000, [], None)


def test_exit_codes(tmp_path, sqlite_filled, capsys):
    missing = f"sqlite:///{tmp_path / 'nope' / 'k.sqlite'}"
    code, out, err = kbot_status(capsys, "--db", missing)
    assert code == 2 and out == "" and "no database at" in err and "--db" in err
    assert not (tmp_path / "nope").exists()  # a reader never creates one

    code, _, err = kbot_status(capsys, "--db", sqlite_filled, "--run", "nope")
    assert code == 2 and "no run 'nope'" in err

    empty = f"sqlite:///{tmp_path / 'empty.sqlite'}"
    open_database(empty).dispose()
    code, _, err = kbot_status(capsys, "--db", empty)
    assert code == 1 and "no run recorded yet" in err

    old = f"sqlite:///{tmp_path / 'old.sqlite'}"
    eng = create_engine(old)
    upgrade(eng, "0002")
    eng.dispose()
    code, _, err = kbot_status(capsys, "--db", old)
    assert code == 2 and "kbot db upgrade" in err

    code, _, err = kbot_status(capsys, "--db", sqlite_filled, "--limit", "0")
    assert code == 2


def test_as_a_subprocess(sqlite_filled, tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("KBOT_DB_URL", None)

    def kbot(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "kbot", "status", *args], cwd=tmp_path, env=env, capture_output=True, text=True,
            timeout=60,
        )  # fmt: skip

    r = kbot("--db", sqlite_filled, "--format", "json")
    assert r.returncode == 0, r.stderr
    s = json.loads(r.stdout)
    assert s["run"]["run_id"] == "run-1" and s["clock"] == "wall" and s["open_markets"]["count"] == 0  # 2025 is past
    r = kbot()  # the default URL, relative to the working directory: no database there
    assert r.returncode == 2 and "no database at data/kbot.sqlite" in r.stderr
    assert not (tmp_path / "data").exists()


def test_pure_helpers():
    assert status.choose_now(100.0, None) == (100.0, "wall")
    assert status.choose_now(100.0, 99.0) == (100.0, "wall")
    assert status.choose_now(100.0, 150.0) == (150.0, "run")
    assert [status.fmt_age(x) for x in (None, 0.42, 42, 245, 3725, 2 * 86400 + 3 * 3600 + 5, -30)] == [
        "", "0.4s", "42s", "4m05s", "1h02m", "2d03h", "-30s",
    ]  # fmt: skip

