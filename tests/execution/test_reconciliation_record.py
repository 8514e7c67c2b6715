"""Reconciliation findings on the record: the ``reconciliation`` table, ``kbot report
reconciliation`` (with ``still_open``), and the open mismatches ``kbot status`` shows."""

from __future__ import annotations

from kbot.messages import Reconciliation
from storage import queries, report
from storage.config import StorageConfig
from storage.db import open_database
from storage.runs import start_run
from storage.writer import BatchWriter

T0 = 1_790_000_000.0


def finding(ts: float, kind: str, ticker: str | None, status: str) -> Reconciliation:
    return Reconciliation(ts=T0 + ts, mode="live", kind=kind, ticker=ticker, status=status, ledger="5", venue="3",
                          detail="d")


def test_findings_are_recorded_reported_and_open_ones_listed(tmp_path):
    engine = open_database(f"sqlite:///{tmp_path / 'k.sqlite'}", StorageConfig())
    start_run(engine, now=T0, mode="live", venue="demo", config_digest="t", version="t", run_id="r1")
    w = BatchWriter(engine, "r1")
    w.write([finding(1, "start", None, "ok"), finding(2, "position", "A", "mismatch"),
             finding(3, "balance", None, "mismatch"), finding(4, "position", "B", "mismatch"),
             finding(5, "position", "A", "cleared"), finding(6, "position", "B", "adopted"),
             finding(6, "position", "B", "adopted")])  # a repeat is a no-op
    with engine.connect() as c:
        rows = report.run_report(c, "reconciliation", now=T0 + 10, since=0.0).dicts()
        assert [(r["kind"], r["ticker"], r["status"], r["still_open"]) for r in rows] == [
            ("position", "B", "adopted", 0), ("position", "A", "cleared", 0), ("position", "B", "mismatch", 0),
            ("balance", "", "mismatch", 1), ("position", "A", "mismatch", 0), ("start", "", "ok", 0)]
        [m] = queries.open_mismatches(c, run_id="r1")
        assert (m.kind, m.ticker, m.ledger, m.venue) == ("balance", "", "5", "3")
    w.close()
    engine.dispose()
