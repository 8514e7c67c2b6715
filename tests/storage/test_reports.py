"""Every SQL report against a database with known rows (SQLite and PostgreSQL), the report
file conventions, argument parsing, output formats and the `kbot report` command."""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from decimal import Decimal
from statistics import mean

import pytest
import sqlalchemy as sa

from kbot import cli
from kbot.messages import PortfolioState
from storage import report
from storage.db import open_reader
from tests.storage import dataset as ds
from tests.storage.records import T0


@pytest.fixture
def filled(engine):
    ds.build(engine)
    return engine


def run(engine: sa.Engine, name: str, since: float | None = None, run_id: str | None = None) -> list[dict]:
    with engine.connect() as c:
        return report.run_report(c, name, now=ds.NOW, since=since, run_id=run_id).dicts()


def num(x) -> float:
    return float(x) if x is not None else None


def test_reports_are_listed_with_descriptions():
    names = {r.name for r in report.list_reports()}
    assert {"positions", "pnl", "decisions", "model", "calibration", "restarts", "health", "coverage", "runs",
            "equity", "ledger"} <= names
    for r in report.list_reports():
        assert r.description and "\n" not in r.description
        assert r.params <= set(report.PARAMS)


def test_positions(filled):
    rows = run(filled, "positions")
    assert [(r["ticker"], r["status"]) for r in rows] == [
        ("M3", "open"), ("M5", "settled"), ("M2", "settled"), ("M1", "settled"),
    ]  # fmt: skip
    by = {r["ticker"]: r for r in rows}
    assert num(by["M3"]["unrealized_pnl"]) == 0.75 and num(by["M3"]["mark_price"]) == 0.65
    assert num(by["M1"]["realized_pnl"]) == 5.5 and num(by["M2"]["realized_pnl"]) == -4.0
    assert num(by["M1"]["avg_price"]) == 0.45
    # since: settled positions closed before it drop out, open ones stay
    rows = run(filled, "positions", since=T0 + 2000)
    assert [r["ticker"] for r in rows] == ["M3", "M5", "M2"]
    assert run(filled, "positions", run_id="run-0") == []


def test_pnl_by_day_and_series(filled):
    rows = run(filled, "pnl")
    got = {(r["day"], r["series_ticker"]): r for r in rows}
    assert set(got) == {(ds.DAY1, "KXBTCD"), (ds.DAY2, "KXBTC")}
    d1 = got[(ds.DAY1, "KXBTCD")]
    assert (d1["positions"], d1["winners"]) == (2, 1)
    assert num(d1["contracts"]) == 18 and num(d1["cost"]) == pytest.approx(8.5)
    assert num(d1["fees"]) == pytest.approx(0.63) and num(d1["realized_pnl"]) == pytest.approx(1.5)
    d2 = got[(ds.DAY2, "KXBTC")]
    assert (d2["positions"], num(d2["realized_pnl"])) == (1, 2.25)
    assert [r["day"] for r in run(filled, "pnl", since=T0 + 5000)] == [ds.DAY2]


def test_decisions_by_reason(filled):
    rows = run(filled, "decisions")
    got = {(r["action"], r["reason"]): (r["decisions"], r["markets"], pytest.approx(num(r["share"]))) for r in rows}
    expected: dict = {("TAKE", "(all)"): (2, 2, 1.0), ("TAKE", "(none)"): (2, 2, 1.0),
                      ("PASS", "(all)"): (4, 3, 1.0), ("PASS", "ev_below_min"): (2, 2, 0.5),
                      ("PASS", "spread_too_wide"): (1, 1, 0.25), ("PASS", "stale_spot"): (1, 1, 0.25),
                      ("PASS", "(none)"): (1, 1, 0.25)}  # fmt: skip
    assert got == expected
    assert [(r["action"], r["reason"]) for r in rows][:2] == [("TAKE", "(all)"), ("TAKE", "(none)")]
    assert run(filled, "decisions", since=T0 + 104) == [
        {"action": "PASS", "reason": "(all)", "decisions": 2, "markets": 2, "share": pytest.approx(1.0)},
        {"action": "PASS", "reason": "(none)", "decisions": 1, "markets": 1, "share": pytest.approx(0.5)},
        {"action": "PASS", "reason": "stale_spot", "decisions": 1, "markets": 1, "share": pytest.approx(0.5)},
    ]


def _bucket(h: float) -> str:
    for limit, name in ((300, "0-5m"), (900, "5-15m"), (3600, "15-60m"), (14400, "1-4h"), (86400, "4-24h")):
        if h < limit:
            return name
    return "24h+"


def test_model_vs_market_by_series_and_horizon(filled):
    rows = run(filled, "model")
    groups: dict = defaultdict(list)
    for t, s, h, p, mp, o in ds.SCORED:
        groups[(s, _bucket(h))].append((p, mp, o))
    assert [(r["series_ticker"], r["horizon"]) for r in rows] == [
        ("KXBTC", "1-4h"), ("KXBTCD", "0-5m"), ("KXBTCD", "15-60m"),
    ]  # fmt: skip
    for r in rows:
        g = groups[(r["series_ticker"], r["horizon"])]
        with_mkt = [(p, mp, o) for p, mp, o in g if mp is not None]
        assert r["n"] == len(g) and r["n_market"] == len(with_mkt)
        assert num(r["brier"]) == pytest.approx(mean(ds.brier(p, o) for p, _, o in g))
        assert num(r["log_loss"]) == pytest.approx(mean(ds.log_loss(p, o) for p, _, o in g))
        assert num(r["market_brier"]) == pytest.approx(mean(ds.brier(mp, o) for _, mp, o in with_mkt))
        assert num(r["market_log_loss"]) == pytest.approx(mean(ds.log_loss(mp, o) for _, mp, o in with_mkt))
        assert num(r["brier_minus_market"]) == pytest.approx(
            mean(ds.brier(p, o) - ds.brier(mp, o) for p, mp, o in with_mkt)
        )
    assert run(filled, "model", run_id="run-0") == []


def test_calibration_deciles(filled):
    rows = run(filled, "calibration")
    assert [(r["decile"], r["n"]) for r in rows] == [(0, 1), (3, 1), (5, 1), (8, 1)]
    by = {r["decile"]: r for r in rows}
    assert num(by[8]["predicted"]) == pytest.approx(0.8) and num(by[8]["observed"]) == 1.0
    assert num(by[3]["observed"]) == 0.0 and by[3]["market_predicted"] is None
    assert num(by[5]["gap"]) == pytest.approx(0.45)
    assert num(by[0]["market_predicted"]) == pytest.approx(0.1)


def test_restarts(filled):
    rows = run(filled, "restarts")
    got = {(r["supervisor"], r["child"], r["kind"]): r for r in rows}
    assert set(got) == {("feeds", "coinbase", "crashed"), ("feeds", "coinbase", "restarting")}  # "started" is not
    crashed = got[("feeds", "coinbase", "crashed")]
    assert (crashed["events"], crashed["tracebacks"], crashed["max_attempt"]) == (2, 2, 2)
    assert crashed["reason"] == "OSError: reset" and num(crashed["first_ts"]) == T0 + 30
    assert num(got[("feeds", "coinbase", "restarting")]["total_delay_s"]) == 1.5
    assert rows[0]["kind"] == "restarting"  # newest first


def test_health(filled):
    rows = run(filled, "health")
    by = {r["actor"]: r for r in rows}
    p = by["pricer"]
    assert (p["snapshots"], p["max_depth"], p["inbox_peak"], p["msgs_in"], p["restarts"], p["errors"]) == (
        2, 7, 12, 250, 1, 2,
    )  # fmt: skip
    assert num(p["max_msg_age_s"]) == 4.0 and num(p["last_ts"]) == T0 + 20
    assert by["recorder"]["max_msg_age_s"] is None and by["recorder"]["inbox_peak"] == 500


def test_coverage(filled):
    rows = run(filled, "coverage")
    feeds = {r["subject"]: r for r in rows if r["kind"] == "feed"}
    assert set(feeds) == {"spot:coinbase", "spot:kraken", "quotes:ticker", "index"}
    cb = feeds["spot:coinbase"]
    assert (cb["n"], num(cb["longest_gap_s"]), num(cb["gap_end_ts"])) == (5, 8.0, T0 + 10)
    assert num(cb["silent_s"]) == pytest.approx(ds.NOW - (T0 + 11))
    assert num(feeds["spot:kraken"]["longest_gap_s"]) == 3.0
    assert num(feeds["index"]["longest_gap_s"]) == 3.0
    assert feeds["quotes:ticker"]["n"] == 6 and num(feeds["quotes:ticker"]["longest_gap_s"]) == 1.0
    assert [r["subject"] for r in rows if r["kind"] == "market_without_quotes"] == ["M4"]
    later = run(filled, "coverage", since=T0 + 3)  # the M2 and M1/T0 quotes fall out of the window
    assert [r["subject"] for r in later if r["kind"] == "market_without_quotes"] == ["M2", "M3", "M4"]


def test_runs(filled):
    rows = run(filled, "runs")
    assert [r["run_id"] for r in rows] == ["run-1", "run-0"]
    assert rows[1]["exit_status"] == "error" and num(rows[1]["duration_s"]) == 1000.0
    assert rows[0]["ended_ts"] is None and num(rows[0]["duration_s"]) == pytest.approx(ds.NOW - (T0 - 200))


def test_ledger_cash_is_the_cash_entries_not_realized_pnl(filled):
    rows = run(filled, "ledger")
    assert [(r["run_id"], r["mode"]) for r in rows] == [("run-1", "paper")]
    r = rows[0]
    # deposit 1000, fees -0.35 and -0.28: realized_pnl rows (5.50 - 4.00 + 2.25) are not cash
    assert num(r["cash_balance"]) == pytest.approx(999.37) and r["entries"] == len(ds.LEDGER)
    assert num(r["realized_pnl"]) == pytest.approx(3.75) and num(r["fees"]) == pytest.approx(-0.63)
    assert num(r["snapshot_balance"]) == pytest.approx(996.97)  # the dataset's last snapshot
    assert num(r["balance_difference"]) == pytest.approx(999.37 - 996.97)
    assert run(filled, "ledger", run_id="run-0") == []


def test_equity_last_snapshot_per_bucket(filled):
    rows = run(filled, "equity")
    # run-1's snapshots span 3000 s: one-minute buckets, only those holding a snapshot
    assert [(r["run_id"], r["mode"], num(r["ts"]), r["bucket_s"], r["snapshots"], num(r["snapshot_ts"])) for r in rows] == [
        ("run-1", "paper", T0, 60, 3, T0 + 50),
        ("run-1", "paper", T0 + 120, 60, 1, T0 + 130),
        ("run-1", "paper", T0 + 960, 60, 1, T0 + 1000),
        ("run-1", "paper", T0 + 3000, 60, 1, T0 + 3000),
    ]  # fmt: skip
    first, second, third, last = rows
    # the last snapshot of the first minute, with the range of equity over the minute (the
    # snapshot recorded without equity does not count)
    assert (num(first["equity"]), num(first["min_equity"]), num(first["max_equity"])) == (999.95, 999.65, 999.95)
    assert (num(first["balance"]), num(first["exposure"]), num(first["unrealized_pnl"])) == (995.15, 4.5, 0.3)
    assert first["equity_change"] is None
    assert num(second["equity_change"]) == pytest.approx(999.22 - 999.95)
    assert (num(second["unrealized_pnl"]), second["open_positions"], second["open_orders"]) == (-0.25, 2, 1)
    assert num(third["daily_realized_pnl"]) == 5.5 and num(third["equity_change"]) == pytest.approx(1005.37 - 999.22)
    assert (num(last["equity"]), num(last["daily_realized_pnl"]), last["open_positions"]) == (1000.22, 1.5, 1)
    # since: the first minute drops out, and the first bucket shown has no change
    later = run(filled, "equity", since=T0 + 100)
    assert [num(r["ts"]) for r in later] == [T0 + 120, T0 + 960, T0 + 3000]
    assert later[0]["equity_change"] is None
    assert run(filled, "equity", run_id="run-0") == []


def test_equity_buckets_widen_with_the_span(engine):
    """A run of three days of snapshots every 7 minutes gets one-hour buckets (72 rows): each
    the last snapshot of its hour, checked against a plain Python grouping."""
    from storage.runs import start_run
    from storage.writer import BatchWriter

    start_run(engine, now=T0, mode="shadow", venue="sim", run_id="long")
    snaps = [
        ds.portfolio(i * 420, str(1000 + i), "1", "0.5", str(Decimal(1001) + i + Decimal("0.5")), "0", 1)
        for i in range(3 * 86400 // 420)
    ]
    w = BatchWriter(engine, "long")
    assert w.write(snaps).written == len(snaps)
    w.close()
    rows = run(engine, "equity", run_id="long")
    last_of_hour: dict[float, PortfolioState] = {}
    for sn in snaps:
        last_of_hour[sn.ts // 3600 * 3600] = sn  # in time order: the last one wins
    assert len(rows) == len(last_of_hour) == 72 + (T0 % 3600 != 0)
    for r, (hour, sn) in zip(rows, sorted(last_of_hour.items())):
        assert (num(r["ts"]), r["bucket_s"], num(r["snapshot_ts"])) == (hour, 3600, sn.ts)
        assert num(r["equity"]) == float(sn.equity) and num(r["balance"]) == float(sn.balance)
    assert sum(r["snapshots"] for r in rows) == len(snaps)


# ----------------------------------------------------------------------------- plumbing


def test_parse_since():
    now = 1_000_000.0
    assert report.parse_since("24h", now) == now - 86400
    assert report.parse_since("90m", now) == now - 5400
    assert report.parse_since("2w", now) == now - 14 * 86400
    assert report.parse_since("all", now) is None
    assert report.parse_since("2025-11-21", now) == 1763683200.0
    assert report.parse_since("2025-11-21T04:40:00", now) == T0
    assert report.parse_since("1763700000", now) == T0
    with pytest.raises(ValueError, match="24h"):
        report.parse_since("yesterday", now)


def test_formatting():
    assert report.format_value("close_ts", T0) == "2025-11-21 04:40:00"
    assert report.format_value("realized_pnl", 1.5) == "1.5000"
    assert report.format_value("realized_pnl", Decimal("-4.000000")) == "-4.0000"
    assert report.format_value("brier", 0.0625) == "0.0625"
    assert report.format_value("n", 3) == "3"
    assert report.format_value("x", None) == ""
    res = report.ReportResult("t", ("ts", "amount"), [(T0, Decimal("1.5"))])
    assert list(csv.reader(io.StringIO(report.to_csv(res)))) == [["ts", "amount"], ["2025-11-21 04:40:00", "1.5000"]]
    assert json.loads(report.to_json(res))["rows"] == [{"ts": T0, "amount": "1.5"}]


def test_report_files_must_declare_themselves():
    with pytest.raises(ValueError, match="must start with"):
        report._parse("x", "SELECT 1")
    with pytest.raises(ValueError, match="unknown parameters"):
        report._parse("x", "-- x: y\nSELECT :nope")
    assert report._parse("x", "-- x: y\nSELECT 'a:b', CAST(:run_id AS TEXT)").params == {"run_id"}


def test_kbot_report_cli(sqlite_url, capsys):
    from storage.db import open_database

    eng = open_database(sqlite_url)
    ds.build(eng)
    eng.dispose()
    assert cli.main(["report", "--list"]) == 0
    assert "calibration" in capsys.readouterr().out
    assert cli.main(["report", "decisions", "--db", sqlite_url, "--since", "all", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["report"] == "decisions" and {"action": "TAKE", "reason": "(all)", "decisions": 2, "markets": 2,
                                              "share": 1.0} in data["rows"]  # fmt: skip
    assert cli.main(["report", "positions", "--db", sqlite_url, "--since", "all", "--run", "run-1", "--format", "csv"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("run_id,mode,ticker") and len(out) == 5
    assert cli.main(["report", "pnl", "--db", sqlite_url, "--since", "all"]) == 0
    assert "2025-11-21" in capsys.readouterr().out
    assert cli.main(["report", "nope", "--db", sqlite_url]) == 2
    assert "no report named" in capsys.readouterr().err
    assert cli.main(["report", "pnl", "--db", sqlite_url.replace("kbot.sqlite", "missing.sqlite")]) == 1
    assert "no database" in capsys.readouterr().err


def test_reports_run_on_a_read_only_connection(sqlite_url):
    from storage.db import open_database

    eng = open_database(sqlite_url)
    ds.build(eng)
    eng.dispose()
    reader = open_reader(sqlite_url)
    with reader.connect() as c:
        for r in report.list_reports():
            report.run_report(c, r.name, now=ds.NOW)
    reader.dispose()
