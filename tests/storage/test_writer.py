"""The batch writer: every message type round-trips field by field, batches are idempotent,
state upserts only move forward, bad rows are isolated (the rest of the batch is written),
and database-level failures are reported, not mistaken for bad rows."""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from typing import Any

import attrs
import pytest
import sqlalchemy as sa

from kbot.messages import (
    BookSnapshot,
    Decision,
    Edge,
    Fill,
    LedgerEntry,
    LedgerUpdate,
    MarketInfo,
    MarketSettled,
    OrderEvent,
    PortfolioState,
    Score,
    SeriesInfo,
)
from storage.config import StorageConfig
from storage.mapping import ROUTES, TABLES, MapContext, columns_of, levels_text
from storage.schema import metadata
from storage.types import join_codes, money_to_sqlite
from storage.writer import BatchWriter, DatabaseBusy, is_locked, is_row_error
from supervision import SupervisionEvent
from tests.storage.records import T0, Distinct, all_records, decision, edge

RENAMED = {("series", "ticker"): "series_ticker"}


def rows_of(conn: sa.Connection, table: str) -> list[dict[str, Any]]:
    return [dict(r._mapping) for r in conn.execute(sa.select(metadata.tables[table]))]


def expected(value: Any) -> Any:
    if isinstance(value, tuple) and all(isinstance(x, str) for x in value):
        return join_codes(value)
    if isinstance(value, tuple):
        return levels_text(value)
    return value


def assert_fields_stored(msg: Any, row: dict[str, Any], table: str, skip: set[str] = frozenset()) -> int:
    """Every field of ``msg`` that has a column of the same name reads back equal."""
    checked = 0
    for f in attrs.fields(type(msg)):
        col = RENAMED.get((table, f.name), f.name)
        if col not in row or f.name in skip:
            continue
        want, got = expected(getattr(msg, f.name)), row[col]
        if isinstance(want, Decimal):
            assert isinstance(got, Decimal) and got == want, (table, col, got, want)
        elif isinstance(want, bool):
            assert bool(got) is want, (table, col)
        else:
            assert got == want, (table, col, got, want)
        checked += 1
    return checked


@pytest.fixture
def writer(engine, run_id):
    w = BatchWriter(engine, run_id)
    yield w
    w.close()


def test_every_message_type_has_a_route_to_a_real_table():
    for cls, routes in ROUTES.items():
        for r in routes:
            assert r.table in TABLES, (cls, r.table)


def test_mapping_tuples_match_table_columns(engine):
    cx = MapContext(run_id="r", money=money_to_sqlite)
    for rec in all_records():
        for r in ROUTES[type(rec)]:
            out = r.fn(rec, cx)
            for row in out if r.many else [out]:
                assert len(row) == len(columns_of(TABLES[r.table])), r.table


def test_every_record_type_round_trips(engine, writer, run_id):
    records = all_records()
    # (a Score needs an edge id first; a LedgerUpdate is LedgerEntry + Position rows: its own test)
    assert {type(r) for r in records} == set(ROUTES) - {Score, LedgerUpdate}
    res = writer.write(records)
    assert (res.written, res.rejected, res.skipped) == (len(records), 0, 0)
    with engine.connect() as c:
        for rec in records:
            route = ROUTES[type(rec)][0]
            rows = rows_of(c, route.table)
            assert len(rows) == 1, route.table
            skip = {"ts"} if isinstance(rec, OrderEvent) else set()
            if isinstance(rec, PortfolioState):
                skip = {"open_orders", "exposure_by_ticker"}  # derived: checked below
            n = assert_fields_stored(rec, rows[0], route.table, skip)
            assert n >= 3, route.table
            if "run_id" in rows[0]:
                assert rows[0]["run_id"] == run_id
        # the derived columns
        dec = next(r for r in records if isinstance(r, Decision))
        drow = rows_of(c, "decisions")[0]
        assert assert_fields_stored(dec.edge, drow, "decisions", skip={"ts", "ticker", "prob_yes", "reasons"}) >= 20
        assert drow["edge_ts"] == dec.edge.ts and drow["edge_reasons"] == "stale_spot,wide_spread"
        assert sorted(r["reason"] for r in rows_of(c, "decision_reasons")) == ["ev_below_min", "spread_too_wide"]
        order = rows_of(c, "orders")[0]
        oev = next(r for r in records if isinstance(r, OrderEvent))
        assert order["created_ts"] == order["updated_ts"] == oev.ts
        assert rows_of(c, "order_events")[0]["ts"] == oev.ts
        book = rows_of(c, "book_snapshots")[0]
        assert book["yes_bids"] == "0.4500:120.00,0.4400:35.00" and book["no_bids"] == "0.5300:10.00"
        pf = rows_of(c, "portfolio_snapshots")[0]
        assert pf["open_orders"] == 3 and pf["exposure_by_ticker"] == "KXBTCD-25NOV2117-T98000:4.5000"
        assert pf["open_positions"] == 4 and pf["equity"] is not None and pf["unrealized_pnl"] < 0
        assert rows_of(c, "venue_balances")[0]["by_exchange_index"] == "0:12.3400,3:0.0100"
        sup = rows_of(c, "supervision_events")[0]
        assert sup["child"] == "feeds" and len(sup["traceback_digest"]) == 12
        assert rows_of(c, "index_prices")[0]["sources"] == "binance,coinbase,kraken"
        edge_id = c.execute(sa.text("SELECT id FROM edges")).scalar_one()

    score = Score(
        edge_id=edge_id, ts=T0, ticker="KXBTCD-25NOV2117-T98000", series_ticker="KXBTCD", horizon_s=600.0,
        outcome=1, prob_yes=0.7, market_prob=0.6, brier=0.09, log_loss=0.3567, market_brier=0.16,
        market_log_loss=0.5108, pnl_yes=0.35, pnl_no=-0.65, prob_model=0.8, model_brier=0.04,
        model_log_loss=0.2231, take_side="yes", take_pnl=0.3412,
    )  # fmt: skip
    assert writer.write([score]).written == 1
    with engine.connect() as c:
        assert assert_fields_stored(score, rows_of(c, "scores")[0], "scores") == 19


def test_writing_a_batch_twice_is_a_no_op(engine, writer):
    records = all_records()
    writer.write(records)
    with engine.connect() as c:
        before = {t: rows_of(c, t) for t in TABLES if t != "runs"}
    res = writer.write(records)
    assert res.rejected == 0
    with engine.connect() as c:
        after = {t: rows_of(c, t) for t in TABLES if t != "runs"}
    assert after == before


def test_state_upserts_only_move_forward(engine, writer):
    v = Distinct()
    mk = dict(ticker="M1", event_ticker="E1", series_ticker="S1")
    writer.write([MarketInfo(**mk, status="active", updated_ts=T0 + 10)])
    writer.write([MarketInfo(**mk, status="initialized", updated_ts=T0 + 5)])  # stale: ignored
    with engine.connect() as c:
        assert rows_of(c, "markets")[0]["status"] == "active"
    writer.write([MarketInfo(**mk, status="determined", result="yes", settlement_value=Decimal(1), updated_ts=T0 + 20)])
    with engine.connect() as c:
        m = rows_of(c, "markets")[0]
        assert (m["status"], m["result"], m["settlement_value"]) == ("determined", "yes", Decimal(1))

    writer.write([MarketSettled(ts=T0 + 30, ticker="M1", result="yes", settlement_value=Decimal(1), source="ws", final=True)])
    writer.write([MarketSettled(ts=T0 + 40, ticker="M1", result="no", settlement_value=Decimal(0), source="rest")])
    with engine.connect() as c:
        s = rows_of(c, "settlements")[0]
        assert (s["result"], s["final"]) == ("yes", True)

    o = dict(order_id="o1", client_order_id="c1", decision_id="d1", ticker="M1", side="yes", action="buy",
             count=Decimal(10), price=Decimal("0.45"), mode="paper")  # fmt: skip
    writer.write([OrderEvent(ts=T0 + 1, status="resting", **o)])
    writer.write([OrderEvent(ts=T0 + 3, status="filled", filled_count=Decimal(10), **o)])
    writer.write([OrderEvent(ts=T0 + 2, status="partially_filled", filled_count=Decimal(4), **o)])  # late
    with engine.connect() as c:
        row = rows_of(c, "orders")[0]
        assert (row["status"], row["filled_count"], row["created_ts"], row["updated_ts"]) == (
            "filled", Decimal(10), T0 + 1, T0 + 3,
        )  # fmt: skip
        assert len(rows_of(c, "order_events")) == 3
    del v


def test_series_update_with_missing_updated_ts(engine, writer):
    writer.write([SeriesInfo(ticker="S", title="a")])
    writer.write([SeriesInfo(ticker="S", title="b")])
    with engine.connect() as c:
        assert rows_of(c, "series")[0]["title"] == "b"


def test_a_bad_row_is_isolated_and_the_rest_is_written(engine, writer, loguru_lines):
    v = Distinct()
    good = [edge(v, ts=T0 + i) for i in range(50)]
    bad_fk = Score(edge_id=999_999, ts=T0, ticker="X", series_ticker="S", horizon_s=1.0, outcome=1, prob_yes=0.5,
                   market_prob=None, brier=0.25, log_loss=0.69, market_brier=None, market_log_loss=None,
                   pnl_yes=None, pnl_no=None)  # fmt: skip
    bad_check = attrs.evolve(bad_fk, edge_id=1, prob_yes=1.5)  # violates the CHECK constraint
    batch = good[:20] + [bad_fk] + good[20:35] + [bad_check] + good[35:]
    res = writer.write(batch)
    assert (res.written, res.rejected) == (50, 2)
    with engine.connect() as c:
        assert c.execute(sa.text("SELECT COUNT(*) FROM edges")).scalar() == 50
        assert c.execute(sa.text("SELECT COUNT(*) FROM scores")).scalar() == 0
    assert writer.bad.total == 2
    logged = "\n".join(loguru_lines)
    assert "edge_id=999999" in logged  # logged with its content
    # the same bad rows again: counted again, never a crash; good rows are not duplicated
    res = writer.write(batch)
    assert (res.written, res.rejected) == (50, 2)
    with engine.connect() as c:
        assert c.execute(sa.text("SELECT COUNT(*) FROM edges")).scalar() == 50


def test_unmappable_and_unknown_records_are_rejected(engine, writer):
    v = Distinct()
    broken = attrs.evolve(edge(v), reasons=("a,b",))  # separator inside a code
    wrong_money = Fill(fill_id="f", order_id="o", ts=T0, ticker="M", side="yes", action="buy", count="lots",
                       price=Decimal("0.5"), fee=Decimal(0), is_taker=True, mode="paper")  # fmt: skip
    res = writer.write([broken, object(), wrong_money, edge(v)])
    assert (res.written, res.rejected) == (1, 3)
    assert set(writer.bad.counts) == {"unmappable:Edge", "unknown_type", "unmappable:Fill"}


def test_non_snapshot_edges_follow_the_policy(engine, run_id):
    v = Distinct()
    e = edge(v, snapshot=False)
    w = BatchWriter(engine, run_id)
    assert w.write([e]).skipped == 1
    w_all = BatchWriter(engine, run_id, StorageConfig(record_edges="all"))
    assert w_all.write([e]).written == 1
    w.close()
    w_all.close()


def test_money_is_exact(engine, writer):
    amounts = [Decimal("0.0001"), Decimal("-123456.7891"), Decimal("999999999.999999"), Decimal("0.123456")]
    writer.write([
        LedgerEntry(entry_id=f"e{i}", ts=T0, mode="paper", ticker=None, kind="fee", amount=a)
        for i, a in enumerate(amounts)
    ])  # fmt: skip
    with engine.connect() as c:
        got = [r["amount"] for r in sorted(rows_of(c, "ledger_entries"), key=lambda r: r["entry_id"])]
    assert got == amounts and all(isinstance(g, Decimal) for g in got)


def test_database_locked_is_busy_not_bad_rows(tmp_path):
    from storage.db import open_database
    from storage.runs import start_run

    eng = open_database(f"sqlite:///{tmp_path / 'l.sqlite'}", StorageConfig(busy_timeout_ms=50))
    rid = start_run(eng, now=T0, mode="paper", venue="sim")
    holder = sqlite3.connect(tmp_path / "l.sqlite", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    w = BatchWriter(eng, rid, StorageConfig(busy_timeout_ms=50))
    with pytest.raises(DatabaseBusy):
        w.write([edge(Distinct())])
    assert w.bad.total == 0
    holder.execute("ROLLBACK")
    assert w.write([edge(Distinct())]).written == 1
    holder.close()
    w.close()
    eng.dispose()


def test_a_broken_database_raises_instead_of_rejecting_rows(engine, writer):
    with engine.begin() as c:
        c.exec_driver_sql("DROP TABLE decision_reasons")
    with pytest.raises(sa.exc.DBAPIError):
        writer.write([decision()])
    assert writer.bad.total == 0


def test_error_classification():
    locked = sa.exc.OperationalError("INSERT", {}, sqlite3.OperationalError("database is locked"))
    assert is_locked(locked) and not is_row_error(locked)
    assert is_row_error(sa.exc.IntegrityError("INSERT", {}, sqlite3.IntegrityError("NOT NULL constraint failed")))
    binding = sa.exc.ProgrammingError("INSERT", {}, sqlite3.ProgrammingError("Error binding parameter 3"))
    assert is_row_error(binding)
    missing = sa.exc.OperationalError("INSERT", {}, sqlite3.OperationalError("no such table: edges"))
    assert not is_row_error(missing) and not is_locked(missing)
    assert not is_row_error(sa.exc.OperationalError("INSERT", {}, sqlite3.OperationalError("disk I/O error")))


def test_money_batches_commit_with_full_sync_and_restore_normal(sqlite_engine, sqlite_run_id):
    w = BatchWriter(sqlite_engine, sqlite_run_id)
    seen: list[str] = []
    orig = w._pragma

    def spy(sql: str) -> None:
        seen.append(sql)
        orig(sql)

    w._pragma = spy  # type: ignore[method-assign]
    w.write([edge(Distinct())])
    assert seen == []
    w.write([LedgerEntry(entry_id="x", ts=T0, mode="paper", ticker=None, kind="fee", amount=Decimal("-0.01"))])
    assert seen == ["PRAGMA synchronous = FULL", "PRAGMA synchronous = NORMAL"]
    raw = w.conn.connection.driver_connection
    assert raw.execute("PRAGMA synchronous").fetchone()[0] == 1
    w.close()


def test_supervision_event_without_child(engine, writer):
    ev = SupervisionEvent(ts=T0, supervisor="root", child=None, kind="gave_up", reason="too many restarts")
    assert writer.write([ev, ev]).written == 2
    with engine.connect() as c:
        rows = rows_of(c, "supervision_events")
    assert len(rows) == 1 and rows[0]["child"] == "" and rows[0]["traceback_digest"] is None


def test_portfolio_and_book_edge_cases(engine, writer):
    writer.write([
        PortfolioState(ts=T0, mode="shadow", balance=Decimal(100), exposure=Decimal(0)),
        BookSnapshot(ts=T0, ticker="M", yes_bids=(), no_bids=(), recv_ts=T0),
    ])  # fmt: skip
    with engine.connect() as c:
        pf = rows_of(c, "portfolio_snapshots")[0]
        assert (pf["open_orders"], pf["open_positions"], pf["equity"], pf["unrealized_pnl"]) == (0, 0, None, None)
        assert rows_of(c, "book_snapshots")[0]["yes_bids"] == ""


def _unused(_: Edge) -> None:  # keep the import used for type readers
    pass


def test_an_open_reader_never_blocks_the_writer(sqlite_url):
    from storage.db import open_database, open_reader
    from storage.runs import start_run

    cfg = StorageConfig(busy_timeout_ms=10)
    eng = open_database(sqlite_url, cfg)
    rid = start_run(eng, now=T0, mode="paper", venue="sim")
    w = BatchWriter(eng, rid, cfg)
    w.write([edge(Distinct(), ts=T0)])
    reader = open_reader(sqlite_url, cfg)
    with reader.connect() as rc:
        rc.begin()
        assert rc.execute(sa.text("SELECT COUNT(*) FROM edges")).scalar() == 1  # holds a read snapshot
        v = Distinct(100)
        assert w.write([edge(v, ts=T0 + i) for i in range(1, 1001)]).written == 1000  # no DatabaseBusy
        assert rc.execute(sa.text("SELECT COUNT(*) FROM edges")).scalar() == 1  # its snapshot is stable
        rc.rollback()
        assert rc.execute(sa.text("SELECT COUNT(*) FROM edges")).scalar() == 1001
    reader.dispose()
    w.close()
    eng.dispose()


def test_values_the_driver_cannot_bind_are_bad_rows(engine, writer):
    from kbot.messages import HealthSnapshot

    huge = HealthSnapshot(ts=T0, actor="a", inbox_depth=0, inbox_peak=0, msgs_in=2**70, msgs_out=0,
                          last_msg_age_s=None, restarts=0, errors=0)  # fmt: skip
    ok = HealthSnapshot(ts=T0, actor="b", inbox_depth=0, inbox_peak=0, msgs_in=1, msgs_out=0,
                        last_msg_age_s=None, restarts=0, errors=0)  # fmt: skip
    res = writer.write([huge, ok])
    assert (res.written, res.rejected) == (1, 1)
    with engine.connect() as c:
        assert [r["actor"] for r in rows_of(c, "health")] == ["b"]


def test_sqlite_uses_few_statement_sizes(sqlite_engine, sqlite_run_id):
    """Preparing a multi-row INSERT is expensive: whatever the batch size, only chunks of
    ``rows_per_statement`` and powers of two below it are used (and stay cached)."""
    from storage.writer import TableStatement

    sizes: set[int] = set()
    orig = TableStatement.sql_for

    def spy(self, k):
        sizes.add(k)
        return orig(self, k)

    w = BatchWriter(sqlite_engine, sqlite_run_id, rows_per_statement=64)
    v = Distinct()
    TableStatement.sql_for = spy  # type: ignore[method-assign]
    try:
        ts = T0
        for n in (1, 7, 63, 64, 65, 200, 129):
            w.write([edge(v, ts=(ts := ts + 1)) for _ in range(n)])
    finally:
        TableStatement.sql_for = orig  # type: ignore[method-assign]
    assert sizes <= {64, 32, 16, 8, 4, 2, 1}
    with sqlite_engine.connect() as c:
        assert c.execute(sa.text("SELECT COUNT(*) FROM edges")).scalar() == 1 + 7 + 63 + 64 + 65 + 200 + 129
    w.close()


def test_the_same_key_twice_in_one_batch(engine, writer):
    q = dict(ts=T0, ticker="M", source="book", recv_ts=T0, yes_ask=Decimal("0.50"))
    from kbot.messages import Quote

    writer.write([Quote(yes_bid=Decimal("0.40"), **q), Quote(yes_bid=Decimal("0.41"), **q)])
    mk = dict(ticker="M1", event_ticker="E1", series_ticker="S1")
    writer.write([MarketInfo(**mk, status="active", updated_ts=T0 + 1), MarketInfo(**mk, status="closed", updated_ts=T0 + 2)])
    with engine.connect() as c:
        assert [r["yes_bid"] for r in rows_of(c, "quotes")] == [Decimal("0.41")]  # the later book state
        assert rows_of(c, "markets")[0]["status"] == "closed"


def test_every_message_class_is_recorded():
    """A message class added to kbot.messages without a table would be rejected as unknown_type."""
    import kbot.messages as messages

    classes = {v for v in vars(messages).values() if isinstance(v, type) and attrs.has(v) and v.__module__ == messages.__name__}
    parts = {messages.SpotSignals}  # carried inside IndexUpdate (the model's inputs), not a record of its own
    assert classes - set(ROUTES) - parts == set()
    assert SupervisionEvent in ROUTES


def test_venue_account_state_is_per_run_and_idempotent(engine, writer, run_id):
    from kbot.messages import EventFeeUpdate, VenueBalance, VenuePosition, VenueSettlement
    from storage.runs import start_run

    bal = VenueBalance(ts=T0, balance=Decimal("100.1234"))
    pos = VenuePosition(ts=T0, ticker="M", position=Decimal("-3"), source="rest")
    pos_ws = attrs.evolve(pos, source="ws", position=Decimal("-4"))  # same instant, other source: its own row
    stl = VenueSettlement(ts=T0, ticker="M", event_ticker=None, result="void", yes_count=Decimal(0),
                          no_count=Decimal(3), yes_cost=Decimal(0), no_cost=Decimal("1.2"), revenue=Decimal("1.2"),
                          fee=Decimal(0))  # fmt: skip
    fee = EventFeeUpdate(ts=T0, event_ticker="E", fee_type_override=None, fee_multiplier_override=None, recv_ts=T0)
    batch = [bal, pos, pos_ws, stl, fee]
    assert writer.write(batch).written == 5
    # a repeated poll of the same state (same venue timestamp) is a no-op; a settlement is never rewritten
    assert writer.write([*batch, attrs.evolve(stl, ts=T0 + 60, revenue=Decimal(0))]).rejected == 0
    with engine.connect() as c:
        assert [r["balance"] for r in rows_of(c, "venue_balances")] == [Decimal("100.1234")]
        assert rows_of(c, "venue_balances")[0]["by_exchange_index"] == ""
        assert sorted((r["source"], r["position"]) for r in rows_of(c, "venue_positions")) == [
            ("rest", Decimal(-3)), ("ws", Decimal(-4)),
        ]  # fmt: skip
        s = rows_of(c, "venue_settlements")
        assert len(s) == 1 and (s[0]["revenue"], s[0]["ts"], s[0]["value"]) == (Decimal("1.2"), T0, None)
        f = rows_of(c, "event_fee_updates")
        assert len(f) == 1 and (f[0]["fee_type_override"], f[0]["fee_multiplier_override"]) == (None, None)
    # another run (another account, perhaps) sees the same account state: recorded under its own id
    other = start_run(engine, now=T0, mode="live", venue="kalshi", run_id="run-2")
    w2 = BatchWriter(engine, other)
    assert w2.write(batch).written == 5
    w2.close()
    with engine.connect() as c:
        for table in ("venue_balances", "venue_positions", "venue_settlements"):
            assert {r["run_id"] for r in rows_of(c, table)} == {run_id, other}, table
        # event fee updates are venue facts: one row, the run that saw it first
        assert [r["run_id"] for r in rows_of(c, "event_fee_updates")] == [run_id]
