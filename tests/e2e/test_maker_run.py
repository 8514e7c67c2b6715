"""End to end: `kbot run --venue sim --mode paper --strategy maker` as a subprocess, then the
record is checked: quote changes and actions recorded with their reasons, every fill a maker fill
of a quote the maker placed, one ledger buy per fill, nothing left resting after the clean stop,
no reconciliation mismatch, and `kbot report maker` reads it."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.simconf import SMALL_SIM

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.e2e


def test_paper_maker_run_against_the_simulated_venue(tmp_path: Path) -> None:
    (tmp_path / "kbot.toml").write_text(SMALL_SIM.format(seed=11, faults="", model="", chaos=""))
    env = dict(os.environ, PYTHONPATH=str(ROOT), KBOT_LOGGING__CONSOLE_LEVEL="WARNING")
    env.pop("KBOT_DB_URL", None)
    run = subprocess.run(
        [sys.executable, "-m", "kbot", "run", "--venue", "sim", "--mode", "paper", "--strategy", "maker",
         "--speed", "60", "--minutes", "0.4"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, run.stderr[-3000:]
    db = sqlite3.connect(tmp_path / "data" / "kbot.sqlite")
    try:
        quotes = db.execute("select count(*), sum(yes_bid is not null), sum(no_bid is not null) "
                            "from maker_quotes").fetchone()
        assert quotes[0] > 0 and quotes[1] > 0 and quotes[2] > 0
        actions = dict(db.execute("select action, count(*) from maker_actions group by action").fetchall())
        assert actions.get("place", 0) > 0, actions
        assert db.execute("select count(*) from maker_actions where reason = ''").fetchone()[0] == 0
        # every order is a post-only quote of the maker's; nothing rests after the clean stop
        assert db.execute("select count(*) from orders where client_order_id not like 'kb-mq%'").fetchone()[0] == 0
        assert db.execute("select count(*) from orders where status in ('resting', 'pending', 'partially_filled')"
                          ).fetchone()[0] == 0
        fills = db.execute("select fill_id, order_id, is_taker from fills").fetchall()
        assert all(not taker for _, _, taker in fills)
        placed = {r[0] for r in db.execute("select client_order_id from maker_actions where action = 'place'")}
        for _, order_id, _ in fills:
            assert order_id.removeprefix("paper-") in placed
        per_fill = db.execute("select f.fill_id, count(l.entry_id) from fills f left join ledger_entries l "
                              "on l.ref = f.fill_id and l.kind = 'buy' group by f.fill_id").fetchall()
        assert all(n == 1 for _, n in per_fill)
        assert db.execute("select count(*) from maker_actions where action = 'fill'").fetchone()[0] == len(fills)
        assert db.execute("select count(*) from reconciliation where status = 'mismatch'").fetchone()[0] == 0
    finally:
        db.close()
    tape = (tmp_path / "logs" / "tape.log").read_text()
    assert "QUOTE KXBTC" in tape
    rep = subprocess.run([sys.executable, "-m", "kbot", "report", "maker", "--since", "all"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=120)
    assert rep.returncode == 0, rep.stderr[-2000:]
    assert ("maker" in rep.stdout) == bool(fills)
