"""Retention (``kbot db prune``): old market data, PASS decisions and unscored edges go; money,
TAKEs, scored edges, markets and the restart log stay; recent rows are never touched."""

from __future__ import annotations

import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import attrs
import pytest
import sqlalchemy as sa

from storage.retention import MARKET_DATA, prune
from storage.schema import edges, scores
from storage.writer import BatchWriter
from tests.storage.records import T0, all_records, decision, edge

NOW = T0 + 300 * 86_400.0  # 2026-09-17: the records of all_records() are ~300 days older
RECENT = NOW - 3_600.0
ROOT = Path(__file__).resolve().parents[2]

KEPT_ALWAYS = ("orders", "order_events", "fills", "positions", "ledger_entries", "settlements", "portfolio_snapshots",
               "markets", "series", "events", "market_events", "runs", "supervision_events", "alerts")


def _count(engine: sa.Engine, table: str, where: str = "1=1") -> int:
    with engine.connect() as c:
        return int(c.execute(sa.text(f"SELECT count(*) FROM {table} WHERE {where}")).scalar_one())


def _fill(engine: sa.Engine, run_id: str) -> None:
    """One old record of every type, recent copies of the market data and a recent PASS, an old
    TAKE, and two old edge snapshots of which one is scored."""
    w = BatchWriter(engine, run_id)
    recent = []
    for r in all_records():
        if type(r).__name__ in ("Quote", "SpotTick", "IndexUpdate", "Trade", "FeedStatus", "HealthSnapshot",
                                "LatencySample", "BadInput", "BookSnapshot", "FundingRate"):
            extra = {"trade_id": "t-2"} if type(r).__name__ == "Trade" else {}
            recent.append(attrs.evolve(r, ts=RECENT, **extra))
    recent.append(decision(decision_id="d-recent", ts=RECENT))
    old = [
        decision(decision_id="d-take", action="TAKE", count=Decimal(1), reasons=()),
        decision(decision_id="d-pass-2"),
        edge(ticker="KXBTCD-25NOV2117-T99000", ts=T0 + 50.5),
        edge(ticker="KXBTCD-25NOV2117-T99500", ts=T0 + 60.5),
    ]
    w.write([*all_records(), *old, *recent])
    w.close()
    with engine.begin() as c:
        eid = c.execute(sa.select(edges.c.id).where(edges.c.ticker == "KXBTCD-25NOV2117-T99000")).scalar_one()
        c.execute(scores.insert().values(edge_id=eid, ts=T0 + 50.5, ticker="KXBTCD-25NOV2117-T99000",
                                         series_ticker="KXBTCD", horizon_s=600.0, outcome=1, prob_yes=0.6, brier=0.16,
                                         log_loss=0.51))


def test_prune_deletes_old_market_data_passes_and_unscored_edges_only(engine, run_id):
    _fill(engine, run_id)
    before = {t: _count(engine, t) for t in (*MARKET_DATA, *KEPT_ALWAYS, "decisions", "decision_reasons", "edges",
                                              "scores")}
    assert all(before[t] >= 2 for t in MARKET_DATA), before  # an old and a recent row each
    dry = prune(engine, NOW - 30 * 86_400.0, dry_run=True, now=NOW)
    assert dry.dry_run and {t: _count(engine, t) for t in before} == before  # nothing deleted
    res = prune(engine, NOW - 30 * 86_400.0, now=NOW, batch=2)  # tiny batches: the loop is exercised
    assert res.rows == dry.rows
    for t in MARKET_DATA:
        assert _count(engine, t) == _count(engine, t, f"ts >= {RECENT}") >= 1, t  # only the recent rows left
        assert res.rows[t] == before[t] - _count(engine, t)
    for t in KEPT_ALWAYS:
        assert _count(engine, t) == before[t], t
    # decisions: old PASSes (and their reasons) gone, the TAKE and the recent PASS kept
    with engine.connect() as c:
        left = {r[0] for r in c.execute(sa.text("SELECT decision_id FROM decisions"))}
    assert left == {"d-take", "d-recent"}
    assert _count(engine, "decision_reasons", "decision_id NOT IN ('d-take', 'd-recent')") == 0
    assert _count(engine, "decision_reasons", "decision_id = 'd-recent'") >= 1
    # edges: the scored one kept (the reports join scores to edges), the unscored old ones gone
    assert _count(engine, "edges") == 1 and _count(engine, "scores") == 1
    # again: nothing left to do
    assert prune(engine, NOW - 30 * 86_400.0, now=NOW).total == 0


def test_prune_with_scores_also_deletes_old_scores_and_their_edges(engine, run_id):
    _fill(engine, run_id)
    res = prune(engine, NOW - 30 * 86_400.0, scores=True, now=NOW)
    assert res.rows["scores"] == 1
    assert _count(engine, "scores") == 0 and _count(engine, "edges") == 0


def test_prune_refuses_anything_younger_than_a_day(engine, run_id):
    with pytest.raises(ValueError, match="younger than a day"):
        prune(engine, NOW - 3_600.0, now=NOW)


def test_kbot_db_prune_command(sqlite_url, sqlite_engine, sqlite_run_id, tmp_path):
    _fill(sqlite_engine, sqlite_run_id)
    quotes = _count(sqlite_engine, "quotes")
    sqlite_engine.dispose()
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("KBOT_DB_URL", None)

    def kbot(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "kbot", "db", "prune", "--db", sqlite_url, *args], cwd=tmp_path,
                              env=env, capture_output=True, text=True, timeout=120)

    bad = kbot("--older-than", "2h")
    assert bad.returncode == 2 and "younger than a day" in bad.stderr
    dry = kbot("--older-than", "30d", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "would delete" in dry.stdout and "quotes" in dry.stdout
    assert _count(sqlite_engine, "quotes") == quotes
    done = kbot("--older-than", "30d", "--vacuum")
    assert done.returncode == 0, done.stderr
    assert "deleted" in done.stdout and "VACUUM" in done.stdout
    # NOW is in the past of the wall clock: by it, the 'recent' rows are old too
    assert _count(sqlite_engine, "quotes") == 0
    assert _count(sqlite_engine, "fills") == 1
