"""Read-side queries against a database with known rows (SQLite and PostgreSQL)."""

from __future__ import annotations

import os
import socket
from decimal import Decimal

import pytest

from kbot.ledger import CASH_KINDS
from kbot.messages import Position
from storage import queries as q
from tests.storage import dataset as ds
from tests.storage.records import T0


@pytest.fixture
def filled(engine):
    ids = ds.build(engine)
    return engine, ids


def test_unscored_edges_for_the_scorer(filled):
    engine, ids = filled
    with engine.connect() as c:
        got = q.unscored_edges(c)
        assert [e.edge_id for e in got] == [ids["unscored"]]  # not open, not without prob, not void
        e = got[0]
        assert (e.ticker, e.result, e.outcome, e.prob_yes, e.run_id) == ("M1", "yes", 1, 0.9, "run-1")
        assert isinstance(e.yes_ask, Decimal)
        assert q.unscored_edges(c, after_id=ids["unscored"]) == []
        assert q.unscored_edges(c, run_id="run-0") == []


def test_outcome_from_settlements_wins_over_markets(filled):
    engine, ids = filled
    from kbot.messages import MarketInfo, MarketSettled
    from storage.writer import BatchWriter

    w = BatchWriter(engine, "run-1")
    # M3's market row still says active, but a settlement arrived: it is scorable now
    w.write([MarketSettled(ts=T0 + 7200, ticker="M3", result="no", settlement_value=Decimal(0), source="ws")])
    # M2's market row changes its mind: the settlement (no) still decides
    w.write([MarketInfo(ticker="M2", event_ticker="KXBTCD-E", series_ticker="KXBTCD", status="finalized",
                        result="yes", updated_ts=T0 + 9999)])  # fmt: skip
    w.close()
    with engine.connect() as c:
        got = {e.edge_id: e.outcome for e in q.unscored_edges(c)}
    assert got == {ids["unscored"]: 1, ids["open"]: 0}


def test_ledger_recovery(filled):
    engine, _ = filled
    with engine.connect() as c:
        run = q.latest_run(c, mode="paper")
        assert run is not None and run.run_id == "run-1" and run.exit_status == "running"
        assert q.latest_run(c, exclude="run-1").run_id == "run-0"
        assert q.latest_run(c, mode="live") is None
        pos = q.open_positions(c, run_id="run-1", mode="paper")
        assert [p.ticker for p in pos] == ["M3"]
        assert pos[0] == next(p for p in ds.POSITIONS if p.ticker == "M3")  # the domain object, exactly
        assert isinstance(pos[0], Position)
        bal = q.ledger_balance(c, run_id="run-1", mode="paper")
        # cash only: realized_pnl rows are bookkeeping (summing them gave 1003.12, issue 12)
        assert bal == sum((Decimal(a) for k, a, _ in ds.LEDGER if k in CASH_KINDS), Decimal(0)) == Decimal("999.37")
        assert q.ledger_balance(c, run_id="run-1", mode="live") == 0


def test_recent_decisions_for_dedup(filled):
    engine, _ = filled
    with engine.connect() as c:
        all_ = q.recent_decisions(c, since_ts=T0)
        assert [d.decision_id for d in all_] == ["d1", "d2", "d3", "d4", "d5", "d6"]
        takes = q.recent_decisions(c, since_ts=T0, action="TAKE", run_id="run-1")
        assert [(d.ticker, d.count, d.limit_price) for d in takes] == [("M1", 10, Decimal("0.45")), ("M2", 10, Decimal("0.45"))]
        assert [d.decision_id for d in q.recent_decisions(c, since_ts=T0 + 103)] == ["d4", "d5", "d6"]
        assert [d.decision_id for d in q.recent_decisions(c, since_ts=T0, tickers=["M3"])] == ["d4", "d5"]
        last = q.last_decision_by_market(c, since_ts=T0)
        assert {t: d.decision_id for t, d in last.items()} == {"M1": "d3", "M2": "d2", "M3": "d5", "M4": "d6"}
        assert last["M3"].reasons == "stale_spot"


def test_status_snapshot(filled):
    engine, _ = filled
    with engine.connect() as c:
        s = q.status_snapshot(c, now=ds.NOW)
    assert s.run.run_id == "run-1"
    assert [(h.actor, h.msgs_in, h.state) for h in s.health] == [("pricer", 250, "running"), ("recorder", 9000, None)]
    assert [(e.kind, e.child) for e in s.supervision][:2] == [("started", "feeds"), ("restarting", "coinbase")]
    feeds = {f.feed: f for f in s.feeds}
    assert feeds["spot:coinbase"].age_s == pytest.approx(ds.NOW - (T0 + 11))
    assert feeds["spot:kraken"].last_ts == T0 + 3
    assert feeds["quotes:ticker"].last_ts == T0 + 5
    assert feeds["kalshi_ws"].status == "disconnected" and feeds["kalshi_ws"].last_ts == T0 + 50
    assert [m.ticker for m in s.open_markets] == ["M3", "M4"]
    assert [p.ticker for p in s.positions] == ["M3"]
    assert s.pnl == q.DayPnl(realized=Decimal("1.5"), unrealized=Decimal("0.75"), fees=Decimal("-0.63"))
    assert [(a.kind, a.subject) for a in s.alerts] == [("kill_switch", ""), ("spot_gap", "coinbase")]
    pf = s.portfolio
    assert (pf.ts, pf.mode, pf.balance, pf.exposure, pf.unrealized_pnl, pf.equity, pf.daily_realized_pnl) == (
        T0 + 3000, "paper", Decimal("996.97"), Decimal("2.5"), Decimal("0.75"), Decimal("1000.22"), Decimal("1.5"),
    )  # fmt: skip
    assert (pf.open_positions, pf.open_orders, pf.exposure_by_ticker) == (1, 0, "")
    assert s.last_activity_ts == T0 + 3000  # the newest of health, portfolio, supervision, index
    assert (s.run.host, s.run.pid, s.run.exit_reason) == (socket.gethostname(), os.getpid(), None)


def test_status_of_another_run(filled):
    engine, _ = filled
    with engine.connect() as c:
        s = q.status_snapshot(c, now=ds.NOW, run_id="run-0")
        assert (s.run.run_id, s.run.exit_status, s.run.exit_reason) == ("run-0", "error", "SupervisorGaveUp")
        assert s.health == [] and s.portfolio is None and s.last_activity_ts is None and s.pnl == q.DayPnl(
            realized=Decimal(0), unrealized=Decimal(0), fees=Decimal(0)
        )
        assert q.status_snapshot(c, now=ds.NOW, run_id="nope").run is None
        assert q.get_run(c, "nope") is None
        assert q.last_portfolio(c, run_id="run-1", mode="live") is None


def test_status_of_an_empty_database(engine):
    with engine.connect() as c:
        s = q.status_snapshot(c, now=T0)
    assert s.run is None and s.health == [] and s.feeds == [] and s.positions == [] and s.pnl is None
    assert s.portfolio is None and s.last_activity_ts is None


def test_utc_midnight():
    assert q.utc_midnight(T0) == 1763683200.0
