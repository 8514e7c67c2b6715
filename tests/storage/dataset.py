"""A small database with known contents, written through the real batch writer, for the query
and report tests. The numbers the tests expect are derived in the tests from these rows."""

from __future__ import annotations

import math
from decimal import Decimal

import attrs
import sqlalchemy as sa

from kbot.messages import (
    Alert,
    Decision,
    FeedStatus,
    HealthSnapshot,
    IndexUpdate,
    LedgerEntry,
    MarketInfo,
    MarketSettled,
    PortfolioState,
    Position,
    Quote,
    Score,
    SpotTick,
)
from storage.runs import end_run, start_run
from storage.writer import BatchWriter
from supervision import SupervisionEvent
from tests.storage.records import T0, Distinct, edge

D = Decimal
NOW = T0 + 3600.0  # 2025-11-21 05:40 UTC: "now" for status and coverage
DAY1, DAY2 = "2025-11-21", "2025-11-22"


def market(ticker: str, series: str, status: str, close_ts: float, result: str | None = None, **kw) -> MarketInfo:
    return MarketInfo(
        ticker=ticker, event_ticker=f"{series}-E", series_ticker=series, status=status, open_ts=T0 - 3600,
        close_ts=close_ts, result=result, strike_type="greater", floor_strike=98000.0, updated_ts=T0, **kw,
    )  # fmt: skip


MARKETS = [
    market("M1", "KXBTCD", "finalized", T0 + 900, "yes", settlement_value=D(1)),
    market("M2", "KXBTCD", "finalized", T0 + 1800, "no", settlement_value=D(0)),
    market("M3", "KXBTC", "active", T0 + 7200),
    market("M4", "KXBTC", "active", T0 + 7200),  # never quoted
    market("M5", "KXBTC", "finalized", T0 + 86400, "yes", settlement_value=D(1)),
    market("MV", "KXBTC", "finalized", T0 + 900, "void"),
]


def position(ticker: str, status: str, count: str, cost: str, fees: str, realized: str, closed_ts: float | None,
             unrealized: str | None = None, result: str | None = None) -> Position:  # fmt: skip
    c = D(count)
    return Position(
        ts=closed_ts or T0 + 60, mode="paper", ticker=ticker, side="yes", count=c, avg_price=D(cost) / c,
        cost=D(cost), fees=D(fees), realized_pnl=D(realized), unrealized_pnl=D(unrealized) if unrealized else None,
        mark_price=D("0.65") if unrealized else None, status=status, opened_ts=T0 + 10, closed_ts=closed_ts,
        result=result,
    )  # fmt: skip


POSITIONS = [
    position("M1", "settled", "10", "4.50", "0.35", "5.50", T0 + 1000, result="yes"),
    position("M2", "settled", "8", "4.00", "0.28", "-4.00", T0 + 3000, result="no"),
    position("M3", "open", "5", "2.50", "0.18", "0", None, unrealized="0.75"),
    position("M5", "settled", "5", "2.75", "0.20", "2.25", T0 + 86500, result="yes"),
]

LEDGER = [
    ("deposit", "1000", T0 - 100),
    ("fee", "-0.35", T0 + 500),
    ("realized_pnl", "5.50", T0 + 1000),
    ("fee", "-0.28", T0 + 2000),
    ("realized_pnl", "-4.00", T0 + 3000),
    ("realized_pnl", "2.25", T0 + 86500),
]

# portfolio snapshots of run-1: (seconds after T0, balance, exposure, unrealized, equity, daily realized, open)
# (the first one as recorded before migration 0003: no unrealized PnL or equity)
PORTFOLIO = [
    (0, "1000", "0", None, None, "0", 0),
    (10, "995.15", "4.50", "0", "999.65", "0", 1),
    (50, "995.15", "4.50", "0.30", "999.95", "0", 1),
    (130, "990.97", "8.50", "-0.25", "999.22", "0", 2),
    (1000, "1000.97", "4.00", "0.40", "1005.37", "5.50", 1),
    (3000, "996.97", "2.50", "0.75", "1000.22", "1.50", 1),
]


def portfolio(x: int, balance: str, exposure: str, unrealized: str | None, equity: str | None, daily: str,
              n_open: int) -> PortfolioState:  # fmt: skip
    return PortfolioState(
        ts=T0 + x, mode="paper", balance=D(balance), exposure=D(exposure),
        unrealized_pnl=None if unrealized is None else D(unrealized), equity=None if equity is None else D(equity),
        daily_realized_pnl=D(daily), open_positions=n_open, open_orders=(("M3", 1),) if n_open > 1 else (),
    )  # fmt: skip


# (decision_id, action, ticker, reasons)
DECISIONS = [
    ("d1", "TAKE", "M1", ()),
    ("d2", "TAKE", "M2", ()),
    ("d3", "PASS", "M1", ("ev_below_min",)),
    ("d4", "PASS", "M3", ("ev_below_min", "spread_too_wide")),
    ("d5", "PASS", "M3", ("stale_spot",)),
    ("d6", "PASS", "M4", ()),
]

# scored edges: (ticker, series, horizon_s, prob_yes, market_prob, outcome)
SCORED = [
    ("M1", "KXBTCD", 120.0, 0.8, 0.7, 1),
    ("M2", "KXBTCD", 200.0, 0.3, None, 0),
    ("M1", "KXBTCD", 1800.0, 0.55, 0.5, 1),
    ("M5", "KXBTC", 7200.0, 0.05, 0.1, 0),
]

SPOT = {"coinbase": [0, 1, 2, 10, 11], "kraken": [0, 3]}  # seconds after T0
QUOTES = {"M1": [0, 5], "M2": [2], "M3": [1], "M5": [4], "MV": [3]}  # source "ticker"
INDEX = [0, 1, 4]


def brier(p: float, o: int) -> float:
    return (p - o) ** 2


def log_loss(p: float, o: int) -> float:
    return -math.log(p if o else 1 - p)


def build(engine: sa.Engine) -> dict[str, int]:
    """Fill ``engine``'s database; returns edge ids by role."""
    start_run(engine, now=T0 - 200, mode="paper", venue="sim", config_digest="cfg1", version="0.1.0", run_id="run-1")
    start_run(engine, now=T0 - 5000, mode="shadow", venue="sim", run_id="run-0")
    end_run(engine, "run-0", now=T0 - 4000, status="error", reason="SupervisorGaveUp")
    w = BatchWriter(engine, "run-1")
    v = Distinct(7000)
    records: list = list(MARKETS)
    records += [MarketSettled(ts=m.close_ts, ticker=m.ticker, result=m.result, settlement_value=m.settlement_value or D(0),
                              source="rest", final=True) for m in MARKETS if m.ticker in ("M1", "M2")]  # fmt: skip
    records += POSITIONS
    records += [portfolio(*p) for p in PORTFOLIO]
    records += [
        LedgerEntry(entry_id=f"l{i}", ts=ts, mode="paper", ticker=None, kind=k, amount=D(a))
        for i, (k, a, ts) in enumerate(LEDGER)
    ]
    for i, (did, action, ticker, reasons) in enumerate(DECISIONS):
        records.append(
            Decision(
                decision_id=did, ts=T0 + 100 + i, ticker=ticker, action=action, side="yes",
                count=D(10) if action == "TAKE" else D(0), limit_price=D("0.45"), prob_yes=0.6, ev=0.02,
                fee=D("0.18"), reasons=reasons, edge=edge(v, ticker=ticker, snapshot=False),
            )  # fmt: skip
        )
    scored = [edge(v, ticker=t, series_ticker=s, horizon_s=h, prob_yes=p, ts=T0 + 200 + i)
              for i, (t, s, h, p, _mp, _o) in enumerate(SCORED)]  # fmt: skip
    unscored = edge(v, ticker="M1", prob_yes=0.9, ts=T0 + 300)  # settled yes, no score yet
    open_edge = edge(v, ticker="M3", ts=T0 + 301)  # no outcome yet
    no_prob = edge(v, ticker="M2", prob_yes=None, ts=T0 + 302)
    void = edge(v, ticker="MV", ts=T0 + 303)
    records += [*scored, unscored, open_edge, no_prob, void]
    records += [SpotTick(source=s, ts=T0 + x, price=98000.0 + x, recv_ts=T0 + x + 0.1) for s, xs in SPOT.items() for x in xs]
    records += [Quote(ts=T0 + x, ticker=t, yes_bid=D("0.45"), yes_ask=D("0.47"), source="ticker", recv_ts=T0 + x)
                for t, xs in QUOTES.items() for x in xs]  # fmt: skip
    records += [IndexUpdate(ts=T0 + x, price=98000.0, n_sources=2, sources=("coinbase", "kraken"), stale=False,
                            avg_60s=None, sigma=0.5, sigma_source="ewma") for x in INDEX]  # fmt: skip
    records += [
        FeedStatus(ts=T0 + 5, feed="kalshi_ws", status="connected"),
        FeedStatus(ts=T0 + 50, feed="kalshi_ws", status="disconnected", detail="eof"),
        HealthSnapshot(ts=T0 + 10, actor="pricer", inbox_depth=3, inbox_peak=10, msgs_in=100, msgs_out=90,
                       last_msg_age_s=0.5, restarts=0, errors=0),  # fmt: skip
        HealthSnapshot(ts=T0 + 20, actor="pricer", inbox_depth=7, inbox_peak=12, msgs_in=250, msgs_out=240,
                       last_msg_age_s=4.0, restarts=1, errors=2, state="running"),  # fmt: skip
        HealthSnapshot(ts=T0 + 20, actor="recorder", inbox_depth=0, inbox_peak=500, msgs_in=9000, msgs_out=0,
                       last_msg_age_s=None, restarts=0, errors=0),  # fmt: skip
        SupervisionEvent(ts=T0 + 30, supervisor="feeds", child="coinbase", kind="crashed", reason="OSError: reset",
                         traceback="tb-a", attempt=1),  # fmt: skip
        SupervisionEvent(ts=T0 + 31, supervisor="feeds", child="coinbase", kind="restarting", reason="OSError: reset",
                         attempt=1, delay_s=0.5),  # fmt: skip
        SupervisionEvent(ts=T0 + 40, supervisor="feeds", child="coinbase", kind="crashed", reason="OSError: reset",
                         traceback="tb-b", attempt=2),  # fmt: skip
        SupervisionEvent(ts=T0 + 41, supervisor="feeds", child="coinbase", kind="restarting", reason="OSError: reset",
                         attempt=2, delay_s=1.0),  # fmt: skip
        SupervisionEvent(ts=T0 + 45, supervisor="root", child="feeds", kind="started", attempt=0),
        Alert(ts=T0 + 60, kind="spot_gap", severity="warning", subject="coinbase", message="no tick for 8s"),
        Alert(ts=T0 + 70, kind="kill_switch", severity="critical", subject=None, message="daily loss limit"),
    ]
    res = w.write(records)
    assert res.rejected == 0, w.bad.counts
    with engine.connect() as c:
        ids = list(c.execute(sa.text("SELECT id FROM edges WHERE ts >= :a ORDER BY ts"), {"a": T0 + 200}).scalars())
    scores = [
        Score(edge_id=eid, ts=e.ts, ticker=e.ticker, series_ticker=s, horizon_s=h, outcome=o, prob_yes=p,
              market_prob=mp, brier=brier(p, o), log_loss=log_loss(p, o),
              market_brier=None if mp is None else brier(mp, o),
              market_log_loss=None if mp is None else log_loss(mp, o), pnl_yes=None, pnl_no=None)
        for eid, e, (_t, s, h, p, mp, o) in zip(ids, scored, SCORED)
    ]  # fmt: skip
    assert w.write(scores).written == len(scores)
    w.close()
    return {"unscored": ids[4], "open": ids[5], "no_prob": ids[6], "void": ids[7], "first_scored": ids[0]}


def evolve_all(items: list, **kw) -> list:
    return [attrs.evolve(x, **kw) for x in items]
