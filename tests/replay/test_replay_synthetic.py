"""Replays of synthetic organics-layout recordings (written by ``tests/replay/synth.py``):
determinism, no look-ahead, settlement from results only, reference data from the importer."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from kbot.config import load_config
from kbot.replay.engine import run_replay
from kbot.replay.organics import organics
from tests.replay.synth import REPLAY_SETTINGS, STRIKE, write_session

TABLES = {  # table -> its natural order
    "decisions": "decision_id", "decision_reasons": "decision_id, reason", "orders": "order_id",
    "order_events": "order_id, ts, status", "fills": "fill_id", "ledger_entries": "entry_id",
    "positions": "ticker", "settlements": "ticker",
}


def _replay(root: Path, db: Path):
    cfg = load_config(None, environ={}, dotenv=None)
    return run_replay(organics([root]), cfg, db_url=f"sqlite:///{db}", settings=REPLAY_SETTINGS)


def _dump(db: Path) -> dict[str, list[tuple]]:
    con = sqlite3.connect(db)
    try:
        return {t: con.execute(f"select * from {t} order by {o}").fetchall() for t, o in TABLES.items()}
    finally:
        con.close()


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, Path, object]:
    """A synthetic session replayed once: (folder, session facts, database, ReplayResult)."""
    root = tmp_path_factory.mktemp("up")
    info = write_session(root, "s1", after="up", result="yes")
    db = root / "up.sqlite"
    return root, info, db, _replay(root, db)


def test_same_source_same_config_identical_records(up, tmp_path):
    root, _, db_a, a = up
    b = _replay(root, tmp_path / "b.sqlite")
    assert a.run_id == b.run_id and a.takes > 0
    da, db = _dump(db_a), _dump(tmp_path / "b.sqlite")
    for table in TABLES:
        assert da[table] == db[table], table
    assert da["fills"] and da["ledger_entries"] and da["settlements"]


def test_decisions_do_not_see_the_future(up, tmp_path):
    """Two recordings identical until ``switch`` (200 s before the close), then one market
    runs to YES (book at 0.96/0.98, spot +$1000, result yes) and the other to NO. Every decision
    made before the switch, and every fill, is the same in both: nothing of the later book, spot
    or the official result reached them. After the switch they differ (the data is used once it
    is the present)."""
    _, info, db_up, _ = up
    root_down = tmp_path / "down"
    write_session(root_down, "s1", after="down", result="no")
    _replay(root_down, tmp_path / "down.sqlite")
    dbs = (db_up, tmp_path / "down.sqlite")
    q = "select decision_id, ts, action, side, count, limit_price, prob_yes, reasons from decisions where ts < ? order by ts, decision_id"
    before = [sqlite3.connect(f).execute(q, (info["switch"],)).fetchall() for f in dbs]
    assert before[0] == before[1]
    takes = [r for r in before[0] if r[2] == "TAKE"]
    assert takes, "the synthetic market offers a TAKE before the switch"
    fq = "select f.fill_id, f.ts, f.count, f.price, f.fee from fills f where f.ts < ? order by f.fill_id"
    fills = [sqlite3.connect(f).execute(fq, (info["switch"],)).fetchall() for f in dbs]
    assert fills[0] == fills[1] and fills[0]
    after = [sqlite3.connect(f).execute(
        "select prob_yes from decisions where ts > ? and prob_yes is not null order by ts desc limit 1",
        (info["switch"] + 60,)).fetchone()[0] for f in dbs]
    assert after[0] > 0.9 > 0.1 > after[1]
    # the result settles the position only after the close
    settle = sqlite3.connect(db_up).execute("select ts, result from settlements").fetchall()
    assert settle and all(ts > info["close"] for ts, _ in settle)


def test_reference_data_from_the_importer_and_markets_without_result(tmp_path):
    root = tmp_path / "org"
    a = write_session(root, "s1", result="yes")
    b = write_session(root, "s2", close=a["close"] + 900.0, result=None, seed=2)
    src = organics([root])
    assert src.notes["no_result"] == [b["ticker"]]
    assert src.notes["settled_from_results"] == 1
    r = run_replay(src, load_config(None, environ={}, dotenv=None), db_url=f"sqlite:///{tmp_path / 'r.sqlite'}",
                   settings=REPLAY_SETTINGS)
    con = sqlite3.connect(tmp_path / "r.sqlite")
    rows = con.execute("select ticker, series_ticker, event_ticker, strike_type, floor_strike, close_ts, open_ts "
                       "from markets order by ticker").fetchall()
    assert rows == [
        (a["ticker"], "KXBTC15M", a["ticker"].rsplit("-", 1)[0], "greater_or_equal", STRIKE, a["close"], a["close"] - 900),
        (b["ticker"], "KXBTC15M", b["ticker"].rsplit("-", 1)[0], "greater_or_equal", STRIKE, b["close"], b["close"] - 900),
    ]
    assert con.execute("select ticker from settlements").fetchall() == [(a["ticker"],)]  # nothing guessed
    assert r.notes["no_result"] == [b["ticker"]]
