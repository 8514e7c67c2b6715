"""`kbot top`: the dashboard's data (storage.dashboard) and screen (kbot.dashboard) on a database
with known rows (tests/storage/dataset.py), printed with rich's recording console; the one-shot
print when stdout is not a terminal; and the live screen in a real terminal under tmux
(capture-pane), refreshing while another connection writes, quitting on q."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from decimal import Decimal
from pathlib import Path

import pytest
from rich.console import Console

from kbot import cli
from kbot.commands import top
from kbot.dashboard import Limits, TopView, banner, render
from kbot.messages import Alert, Decision
from kbot.model.killswitch import request_kill
from storage import queries
from storage.dashboard import open_alerts, top_snapshot
from storage.db import open_database
from storage.queries import AlertRow
from storage.writer import BatchWriter
from tests.storage import dataset as ds
from tests.storage.records import T0, edge

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def config(tmp_path: Path) -> Path:
    p = tmp_path / "kbot.toml"
    p.write_text(f'[risk]\nmax_daily_loss = 50\nmax_open_orders = 7\nkill_file = "{tmp_path / "KILL"}"\n'
                 "[sizing]\nmax_total_exposure = 10\n")  # fmt: skip
    return p


def snapshot(url: str):
    eng = open_database(url)
    with eng.connect() as conn:
        run = queries.latest_run(conn)
        snap = top_snapshot(conn, now=ds.NOW, run=run, limit=5)
    eng.dispose()
    return snap


def text_of(view: TopView, width: int = 160) -> str:
    console = Console(record=True, width=width, force_terminal=False)
    console.print(render(view, width=width))
    return console.export_text()


def test_snapshot_holds_what_the_dashboard_adds(db):
    s = snapshot(db)
    assert s.status.run.run_id == "run-1"
    assert (s.index.price, s.index.n_sources, s.index.ts) == (98000.0, 2, T0 + 4)
    assert {(p.source, p.price) for p in s.spot} == {("coinbase", 98011.0), ("kraken", 98003.0)}
    assert [t.ticker for t in s.takes] == ["M2", "M1"]  # newest first
    assert s.restarts == 2
    assert (s.latency.p50_ms, s.latency.p99_ms, s.latency.n) == (1.25, 9.5, 42)
    assert [(a.kind, a.severity) for a in open_alerts(s.alerts)] == [("kill_switch", "critical"), ("spot_gap", "warning")]


def test_screen_shows_every_panel(db):
    view = TopView(snap=snapshot(db), clock="wall", wall=ds.NOW, rows=5,
                   limits=Limits(max_daily_loss=Decimal(50), max_total_exposure=Decimal(10), max_open_orders=7))
    out = text_of(view)
    for expected in (
        "SIMULATED VENUE", "run run-1", "paper/sim", "running", "uptime 1h03m", "restarts 2",
        "tick->decision p50 1.25 ms p99 9.5 ms",
        "BTC 98,000.00", "2 sources", "coinbase", "98,011.00", "kraken",  # index and sources
        "feeds", "kalshi_ws", "disconnected",  # the feed's last status
        "actors", "pricer", "recorder",  # inbox depth and errors per actor
        "realized today", "$+1.50", "fees today", "$-0.63", "equity", "$1,000.22", "exposure", "[#####", "25%",
        "max 7", "daily loss limit", "$-50.00",
        "open positions: 1", "M3", "$+0.75",
        "last TAKEs", "M2", "10 @ 0.4500", "0.600", "+0.0200",
        "open alerts: 2", "critical", "kill_switch", "daily loss limit", "spot_gap",
    ):  # fmt: skip
        assert expected in out, expected
    # no kill file and no decision actor reporting, but the newest kill-switch alert tripped it
    assert "kill switch  ON?   last alert: daily loss limit" in out


def test_a_run_whose_process_is_gone_is_flagged(db):
    alive = text_of(TopView(snap=snapshot(db), clock="wall", wall=ds.NOW))
    assert "not alive" not in alive  # the dataset's run belongs to this (live) test process
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()  # a pid that no longer runs anything of ours
    eng = open_database(db)
    with eng.begin() as conn:
        conn.exec_driver_sql("UPDATE runs SET pid = ?, proc_start = 'gone-token', heartbeat_ts = NULL", (proc.pid,))
    eng.dispose()
    dead = text_of(TopView(snap=snapshot(db), clock="wall", wall=ds.NOW))
    assert "this run is not alive" in dead


def test_kill_switch_from_the_kill_file_and_the_decision_actor(db):
    s = snapshot(db)
    out = text_of(TopView(snap=s, clock="wall", wall=ds.NOW, kill_file="maintenance"))
    assert "kill switch  ON   kill file: maintenance" in out


def test_narrow_terminal_stacks_money_first(db):
    out = text_of(TopView(snap=snapshot(db), clock="wall", wall=ds.NOW), width=90)
    assert out.index("money") < out.index("BTC 98,000.00") < out.index("feeds")


def test_banners():
    assert banner("prod", "live").plain.strip() == "LIVE MONEY"
    assert banner("sim", "shadow").plain.strip() == "SIMULATED VENUE"
    assert banner("demo", "paper").plain.strip() == "DEMO PAPER"
    assert banner("replay", "shadow").plain.strip() == "REPLAY"


def test_open_alerts_drop_resolved_and_information():
    def a(ts: float, kind: str, sev: str, subject: str = "", message: str = "m") -> AlertRow:
        return AlertRow(ts=ts, kind=kind, severity=sev, subject=subject, message=message)

    rows = [  # newest first
        a(9, "kill_switch", "info", message="operator kill file removed"),
        a(8, "resolved", "info", "kraken", "feed_gap cleared"),
        a(7, "feed_gap", "warning", "kraken"),
        a(6, "kill_switch", "critical", message="tripped by operator: x"),
        a(5, "quote_gap", "warning", "markets"),
        a(4, "quote_gap", "warning", "markets"),
        a(3, "resolved", "info", "markets", "quote_gap cleared"),  # older than the alert: it came back
    ]
    assert [(r.kind, r.ts) for r in open_alerts(rows)] == [("quote_gap", 5)]


def kbot_top(capsys, *argv: str) -> tuple[int, str, str]:
    args = cli.build_parser().parse_args(["top", *argv])
    code = top.main(args, now=ds.NOW)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_one_shot_when_stdout_is_not_a_terminal(db, config, capsys):
    request_kill(config.parent / "KILL", "maintenance", ts=0.0)
    code, out, err = kbot_top(capsys, "--db", db, "--config", str(config))
    assert code == 0, err
    assert "SIMULATED VENUE" in out and "kill switch  ON   kill file: maintenance" in out
    assert "[#####...............] 25%" in out  # exposure 2.50 of max 10
    assert "\x1b[" not in out  # no escape codes in a pipe


def test_exit_codes(tmp_path, db, config, capsys):
    assert kbot_top(capsys, "--db", db, "--run", "nope", "--config", str(config))[0] == 2
    assert kbot_top(capsys, "--db", f"sqlite:///{tmp_path / 'missing.sqlite'}")[0] == 2
    empty = f"sqlite:///{tmp_path / 'empty.sqlite'}"
    open_database(empty).dispose()
    code, _, err = kbot_top(capsys, "--db", empty, "--config", str(config))
    assert code == 1 and "no run recorded yet" in err
    assert kbot_top(capsys, "--db", db, "--refresh", "0")[0] == 2


# ----------------------------------------------------------------------------- a real terminal


def _pane(session: str) -> str:
    return subprocess.run(["tmux", "capture-pane", "-p", "-t", session], capture_output=True, text=True,
                          check=True).stdout  # fmt: skip


def _wait_for(session: str, needle: str, timeout: float = 60.0) -> str:
    deadline = time.monotonic() + timeout
    while True:
        screen = _pane(session)
        if needle in screen:
            return screen
        if time.monotonic() > deadline:
            raise AssertionError(f"{needle!r} never appeared; the screen:\n{screen}")
        time.sleep(0.2)


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_live_in_tmux_refreshes_beside_a_writer_and_quits_on_q(db, config, tmp_path):
    session = f"kbot-top-{uuid.uuid4().hex[:8]}"
    env = f"-u COLUMNS -u LINES PYTHONPATH={ROOT} KBOT_DB_URL="  # the pane decides the size
    cmd = (f"cd {tmp_path} && env {env} {sys.executable} -m kbot top --db {db} --config {config} --refresh 0.2; "
           "echo EXITED $?; sleep 60")
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "200", "-y", "60", cmd], check=True)
    try:
        screen = _wait_for(session, "last TAKEs")
        assert "SIMULATED VENUE" in screen and "refresh 0.2s; q or Ctrl-C quits" in screen
        assert "M3" in screen and "kill_switch" in screen
        # another connection writes, as a running kbot does: the screen follows
        eng = open_database(db)
        w = BatchWriter(eng, "run-1")
        w.write([
            Decision(decision_id="d-live", ts=T0 + 3500, ticker="M-LIVE-NEW", action="TAKE", side="no",
                     count=Decimal(3), limit_price=Decimal("0.2100"), prob_yes=0.1, ev=0.05, fee=Decimal("0.01"),
                     reasons=(), edge=edge(ticker="M-LIVE-NEW", snapshot=False)),
            Alert(ts=T0 + 3501, kind="feed_gap", severity="warning", subject="kraken", message="feed kraken silent 45s"),
        ])  # fmt: skip
        w.close()
        eng.dispose()
        screen = _wait_for(session, "M-LIVE-NEW")
        assert "3 @ 0.2100" in screen and "feed kraken silent 45s" in screen
        subprocess.run(["tmux", "send-keys", "-t", session, "q"], check=True)
        screen = _wait_for(session, "EXITED")
        assert "EXITED 0" in screen and "last TAKEs" not in screen  # the alternate screen is gone
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
    assert os.path.exists(db.removeprefix("sqlite:///"))
