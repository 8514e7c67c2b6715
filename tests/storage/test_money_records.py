"""Money records across runs of one database (issue 12): ledger entries are keyed per run, a
run's cash is the sum of its cash entries, a fill's entries and its position are committed
together, and a money row whose key already holds a different row is a conflict that is
counted, alerted and kept, never silently ignored."""

from __future__ import annotations

from decimal import Decimal as D

import attrs
import sqlalchemy as sa
import trio

from actors.recorder import Recorder
from kbot.actorkit import ActorStats
from kbot.clock import ScaledClock
from kbot.ledger import Book
from kbot.messages import Fill, LedgerEntry, LedgerUpdate, MarketSettled, PortfolioState
from storage import queries
from storage.runs import start_run
from storage.writer import BatchWriter
from tests.storage.records import T0


def fill(fid: str, ticker: str = "M", price: str = "0.40", count: str = "10", fee: str = "0.17", ts: float = T0) -> Fill:
    return Fill(fill_id=fid, order_id="o" + fid, ts=ts, ticker=ticker, side="yes", action="buy", count=D(count),
                price=D(price), fee=D(fee), is_taker=True, mode="shadow", decision_id="d" + fid)


def run_books(engine: sa.Engine, run_id: str, fid: str, result: str = "yes") -> Book:
    """What one shadow run records: a deposit, a fill applied, its market settled."""
    book = Book("shadow", D(1000))
    recs: list = [book.deposit(T0)]
    f = fill(fid)
    recs.append(f)
    a = book.apply_fill(f, "d")
    recs.append(LedgerUpdate(ts=f.ts, entries=a.entries, position=a.position))
    s = book.settle(MarketSettled(ts=T0 + 60, ticker="M", result=result, settlement_value=D(result == "yes"),
                                  source="ws", final=True), "d")
    recs.append(LedgerUpdate(ts=T0 + 60, entries=s.entries, position=s.position))
    recs.append(PortfolioState(ts=T0 + 61, mode="shadow", balance=book.cash, exposure=D(0)))
    w = BatchWriter(engine, run_id)
    try:
        res = w.write(recs)
    finally:
        w.close()
    assert res.rejected == 0 and res.conflicts == []
    return book


def test_runs_sharing_a_database_keep_every_ledger_row(engine):
    """Before: entry ids were global, so the second run's deposit and its settlement of a
    ticker the first run also settled were silently dropped (1 deposit row for 2 runs) and the
    second run's ledger disagreed with its own portfolio snapshot."""
    books = {}
    for i, rid in enumerate(("run-a", "run-b")):
        start_run(engine, now=T0 + i, mode="shadow", venue="sim", run_id=rid)
        books[rid] = run_books(engine, rid, fid=f"f{i}", result="yes" if i == 0 else "no")
    with engine.connect() as c:
        deposits = c.execute(sa.text("SELECT run_id, entry_id FROM ledger_entries WHERE kind = 'deposit'")).all()
        assert sorted(r for r, _ in deposits) == ["run-a", "run-b"]
        assert {e for _, e in deposits} == {"shadow:initial:deposit"}  # same id, one per run
        settles = c.execute(sa.text("SELECT run_id, count(*) FROM ledger_entries WHERE ref = 'settle:M' "
                                    "GROUP BY run_id")).all()
        assert dict(settles) == {"run-a": 2, "run-b": 1}  # (b lost: payout 0, no settlement row)
        for rid, book in books.items():
            cash = queries.ledger_balance(c, run_id=rid, mode="shadow")
            assert cash == book.cash == queries.last_portfolio(c, run_id=rid).balance, rid
            flags = dict(c.execute(sa.text("SELECT kind, cash FROM ledger_entries WHERE run_id = :r"), {"r": rid}).all())
            assert not flags["realized_pnl"] and all(flags[k] for k in flags if k != "realized_pnl")


def test_a_fill_applied_records_its_entries_and_position_together(engine, run_id):
    book = Book("paper")
    f = fill("f1")
    a = book.apply_fill(attrs.evolve(f, mode="paper"), "d")
    w = BatchWriter(engine, run_id)
    res = w.write([LedgerUpdate(ts=f.ts, entries=a.entries, position=a.position)])
    w.close()
    assert (res.written, res.rejected) == (1, 0) and res.transactions == 1
    with engine.connect() as c:
        kinds = [k for (k,) in c.execute(sa.text("SELECT kind FROM ledger_entries ORDER BY entry_id"))]
        assert kinds == ["buy", "fee"]
        assert [p.ticker for p in queries.open_positions(c, run_id=run_id, mode="paper")] == ["M"]


def test_a_repeat_is_a_no_op_and_a_different_row_under_the_same_key_is_a_conflict(engine, run_id):
    e = LedgerEntry(entry_id="paper:f1:buy", ts=T0, mode="paper", ticker="M", kind="buy", amount=D("-4.00"), ref="f1")
    w = BatchWriter(engine, run_id)
    try:
        assert w.write([e]).conflicts == []
        again = w.write([e])  # a re-delivery after an actor restart: the same row
        assert again.conflicts == [] and again.rejected == 0
        other = LedgerEntry(entry_id="paper:f2:buy", ts=T0, mode="paper", ticker="M", kind="buy", amount=D("-1"))
        changed = attrs.evolve(e, amount=D("-5.00"))
        res = w.write([changed, other])
        assert len(res.conflicts) == 1 and res.written == 1  # the other record of the batch is written
        c0 = res.conflicts[0]
        assert c0.table == "ledger_entries" and c0.key == (run_id, "paper:f1:buy") and c0.record == changed
        assert "amount" in c0.describe()
        # two different rows for one key inside one batch: the first is written, the second refused
        a = LedgerEntry(entry_id="paper:f3:fee", ts=T0, mode="paper", ticker="M", kind="fee", amount=D("-0.1"))
        res = w.write([a, attrs.evolve(a, amount=D("-0.2"))])
        assert res.written == 1 and len(res.conflicts) == 1 and float(res.conflicts[0].refused[6]) == -0.2
        # fills: a venue fact; the same fill seen by another run is not a conflict, a different one is
        f = fill("v1")
        assert w.write([f]).conflicts == []
        start_run(engine, now=T0 + 5, mode="paper", venue="sim", run_id="run-2")
        w2 = BatchWriter(engine, "run-2")
        assert w2.write([f]).conflicts == []
        assert len(w2.write([attrs.evolve(f, price=D("0.41"))]).conflicts) == 1
        w2.close()
    finally:
        w.close()
    with engine.connect() as c:
        amounts = dict(c.execute(sa.text("SELECT entry_id, amount FROM ledger_entries")).all())
        assert float(amounts["paper:f1:buy"]) == -4.0 and float(amounts["paper:f3:fee"]) == -0.1
        assert float(c.execute(sa.text("SELECT price FROM fills")).scalar_one()) == 0.40


async def test_the_recorder_makes_a_money_conflict_impossible_to_miss(sqlite_engine, sqlite_run_id):
    stats = ActorStats("recorder")
    clock = ScaledClock(epoch0=T0 + 100)
    rec = Recorder(sqlite_engine, sqlite_run_id, actor_stats=stats, clock=clock)
    e = LedgerEntry(entry_id="paper:f1:buy", ts=T0, mode="paper", ticker="M", kind="buy", amount=D("-4.00"))
    async with trio.open_nursery() as n:
        n.start_soon(rec.run)
        await rec.send(e)
        await rec.flush()
        await rec.send(attrs.evolve(e, amount=D("-9.99")))
        await rec.flush()
        await rec.flush()  # the alert and the bad input the conflict produced
        n.cancel_scope.cancel()
    assert rec.stats.money_conflicts == 1 and stats.errors == 1 and "MONEY CONFLICT" in (stats.state or "")
    with sqlite_engine.connect() as c:
        alerts = c.execute(sa.text("SELECT kind, severity, subject FROM alerts")).all()
        assert alerts == [("money_conflict", "critical", "ledger_entries")]
        kind, sample = c.execute(sa.text("SELECT kind, sample FROM bad_inputs")).one()
        assert kind == "money_conflict:ledger_entries" and "-9.99" in sample and "'amount': -4" in sample
        assert c.execute(sa.text("SELECT amount FROM ledger_entries")).scalar_one() == -4.0
