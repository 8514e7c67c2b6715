"""The HTML report's queries (storage.report_data) and the whole report on SQLite and PostgreSQL,
number by number against tests/storage/dataset.py."""

from __future__ import annotations

from decimal import Decimal

import pytest

from storage import report_data as rd
from tests.storage import dataset as ds
from tests.storage.records import T0


@pytest.fixture
def filled(engine):
    ds.build(engine)
    return engine


def test_queries(filled):
    with filled.connect() as c:
        eq = rd.equity_points(c, since=0.0, run_id=None)
        assert [(p.ts - T0, p.equity) for p in eq] == [
            (10, Decimal("999.65")), (50, Decimal("999.95")), (130, Decimal("999.22")), (1000, Decimal("1005.37")),
            (3000, Decimal("1000.22")),
        ]  # fmt: skip
        assert rd.equity_points(c, since=0.0, run_id="run-0") == []
        assert rd.realized_total(c, since=0.0, run_id=None) == Decimal("3.75")
        assert rd.realized_total(c, since=T0 + 2000, run_id="run-1") == Decimal("-1.75")

        model, final, market = rd.PROB_KINDS
        bins = rd.reliability_bins(c, final, since=0.0, run_id=None)
        assert [(b.bin, b.n, b.freq_yes) for b in bins] == [(0, 1, 0.0), (3, 1, 0.0), (5, 1, 1.0), (8, 1, 1.0)]
        assert bins[2].mean_prob == pytest.approx(0.55)
        assert rd.reliability_bins(c, model, since=0.0, run_id=None) == []  # no raw model probability recorded
        bins = rd.reliability_bins(c, market, since=0.0, run_id="run-1")
        assert [(b.bin, b.n) for b in bins] == [(1, 1), (5, 1), (7, 1)]  # the unpriced snapshot is left out

        gaps = {(g.feed, round(g.ts - T0, 3), round(g.gap_s, 3)) for g in rd.largest_gaps(c, since=0.0, run_id=None,
                                                                                             per_feed=1)}
        assert gaps == {("spot:coinbase", 10, 8), ("spot:kraken", 3, 3), ("index", 4, 3), ("quotes:ticker", 1, 1)}
        lags = {f.feed: f.lags_s for f in rd.feed_lags(c, since=0.0)}
        assert lags["spot:coinbase"] == pytest.approx((0.1,) * 5) and lags["quotes:ticker"] == (0.0,) * 6
        ev = rd.restart_events(c, since=0.0, run_id="run-1")
        assert [(e.child, e.kind) for e in ev] == [("coinbase", "crashed"), ("coinbase", "restarting")] * 2
        assert rd.latency_points(c, since=0.0, run_id=None) == []


def test_the_whole_report_runs_on_postgresql(pg_url):
    """(On SQLite: tests/ops/test_report_html.py.)"""
    from kbot.htmlreport import STEPS, build_report
    from storage.db import open_database

    eng = open_database(pg_url)
    ds.build(eng)
    steps: list[str] = []
    with eng.connect() as c:
        page = build_report(c, now=ds.NOW, since=None, run_id=None, step=steps.append)
    eng.dispose()
    assert sorted(steps) == sorted(STEPS)
    assert page.count('<figure class="chart"') == 9 and page.count('data-points="0"') == 1  # latency: none here
