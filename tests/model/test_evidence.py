"""Evidence per bucket and the no_demonstrated_edge gate: the bound on known samples, events
as the unit of evidence, the would-be TAKE, pruning and the gate in decisions."""

from __future__ import annotations

import math
from decimal import Decimal as D

import pytest

from kbot.model.config import EvidenceConfig, GateConfig, RiskConfig, SizingConfig
from kbot.model.decide import decide
from kbot.model.evidence import (
    EMPTY,
    REASON,
    EvidenceBook,
    bucket_of,
    edge_bucket,
    evidence_gate,
    lower_bound,
    price_label,
    ttc_label,
    would_take,
)
from kbot.model.risk import RiskView
from tests.model.factories import T0, edge

CFG = EvidenceConfig()


def test_lower_bound_on_known_samples():
    mean, sd, lcb = lower_bound([0.1, 0.2, 0.3, 0.4], 1.645)
    assert mean == pytest.approx(0.25) and sd == pytest.approx(math.sqrt(0.05 / 3))
    assert lcb == pytest.approx(0.25 - 1.645 * math.sqrt(0.05 / 3) / 2)
    assert lower_bound([0.5], 1.645) == (0.5, None, None)
    assert lower_bound([], 1.645) == (None, None, None)
    assert EvidenceBook(CFG).z == pytest.approx(1.6448536, abs=1e-6)  # one-sided 95 %


def test_bands_and_buckets():
    assert [ttc_label(i, CFG.ttc_bands_s) for i in range(6)] == ["0-3m", "3m-10m", "10m-30m", "30m-1h", "1h-4h", "4h+"]
    assert [price_label(i, CFG.price_bands) for i in range(5)] == ["0.00-0.10", "0.10-0.30", "0.30-0.70",
                                                                  "0.70-0.90", "0.90-1.00"]
    assert bucket_of("KXBTC", 2200.0, 0.41, CFG) == "KXBTC|30m-1h|0.30-0.70"
    assert bucket_of("KXBTC", 300.0, 0.95, CFG) == "KXBTC|3m-10m|0.90-1.00"
    assert bucket_of("KXBTC", None, 0.5, CFG) is None and bucket_of("KXBTC", 60.0, None, CFG) is None
    assert edge_bucket(edge(market_mid=0.49), CFG) == "KXBTCD|1h-4h|0.30-0.70"


def _book(pnls_per_event: list[list[float]], cfg: EvidenceConfig = CFG, bucket: str = "B") -> EvidenceBook:
    book = EvidenceBook(cfg)
    for i, pnls in enumerate(pnls_per_event):
        for k, p in enumerate(pnls):
            book.add(bucket, f"E{i}", T0 + i * 3600 + k, brier_final=0.2, brier_market=0.25, brier_model=0.3,
                     take_pnl=p)
    return book


def test_events_not_snapshots_are_the_observations():
    # 40 events each with 50 identical snapshots: the bound is over 40 event means, not 2000 rows
    pnl = [[0.05 if i % 2 else -0.03] * 50 for i in range(40)]
    s = _book(pnl).stats("B")
    assert (s.n_obs, s.n_takes, s.n_events, s.n_snapshots) == (40, 2000, 40, 2000)
    mean, sd, lcb = lower_bound([0.05 if i % 2 else -0.03 for i in range(40)], EvidenceBook(CFG).z)
    assert (s.pnl, s.pnl_sd, s.pnl_lcb) == pytest.approx((mean, sd, lcb))
    assert s.pnl_lcb < 0 and not s.tradable  # mean +0.01, too noisy for a positive bound
    assert s.advantage == pytest.approx(0.05) and s.brier_final == pytest.approx(0.2) and s.brier_model == pytest.approx(0.3)


def test_tradable_needs_enough_events_and_a_positive_bound():
    steady = [[0.04 + 0.01 * (i % 3)] for i in range(30)]
    assert _book(steady).stats("B").tradable  # 30 events, clearly positive
    assert not _book(steady[:29]).stats("B").tradable  # one event short of min_obs
    assert _book(steady[:10], EvidenceConfig(min_obs=10)).stats("B").tradable
    losing = [[-0.02 + 0.01 * (i % 3)] for i in range(60)]
    assert not _book(losing).stats("B").tradable
    table = _book(steady).table()
    assert table.tradable("B") and not table.tradable("other") and not table.tradable(None)


def test_snapshots_without_a_take_add_brier_only_and_old_events_are_forgotten():
    book = EvidenceBook(EvidenceConfig(window_s=86400.0))
    book.add("B", "E1", T0, brier_final=0.1, brier_market=None)
    book.add("B", "E2", T0 + 90000, brier_final=0.3, brier_market=0.2, take_pnl=0.1)
    s = book.stats("B")
    assert (s.n_events, s.n_obs, s.advantage) == (2, 1, pytest.approx(-0.1))
    assert book.prune(T0 + 90001) == 1 and book.stats("B").n_events == 1
    book.prune(T0 + 10**6)
    assert book.buckets() == [] and book.table().stats == {}


def test_aggregates_read_back_equal_the_rows_they_sum():
    rows = [(f"E{i % 5}", 0.1 * (i % 4), 0.05 * (i % 3), (i % 7 - 3) / 50 if i % 2 else None) for i in range(40)]
    a = EvidenceBook(CFG)
    for ev, bf, bm, pnl in rows:
        a.add("B", ev, T0, brier_final=bf, brier_market=bm, brier_model=bf, take_pnl=pnl)
    b = EvidenceBook(CFG)
    for ev in sorted({r[0] for r in rows}):
        mine = [r for r in rows if r[0] == ev]
        b.add_cluster("B", ev, last_ts=T0, n=len(mine), sum_brier=sum(r[1] for r in mine), n_market=len(mine),
                      sum_brier_market=sum(r[2] for r in mine), sum_brier_paired=sum(r[1] for r in mine),
                      n_model=len(mine), sum_brier_model=sum(r[1] for r in mine),
                      n_takes=sum(r[3] is not None for r in mine), sum_pnl=sum(r[3] or 0.0 for r in mine))
    sa, sb = a.stats("B"), b.stats("B")
    for f in ("n_events", "n_snapshots", "n_obs", "n_takes"):
        assert getattr(sa, f) == getattr(sb, f)
    for f in ("brier_final", "brier_market", "advantage", "advantage_lcb", "pnl", "pnl_lcb"):
        assert getattr(sa, f) == pytest.approx(getattr(sb, f))


def test_would_take():
    g = GateConfig()
    assert would_take(edge(prob=0.60, ev_yes=0.08, ev_no=-0.2), g) == ("yes", D("0.50"))
    assert would_take(edge(prob=0.60, ev_yes=0.01, ev_no=-0.2), g) is None  # below min_ev
    assert would_take(edge(prob=0.60, ev_yes=0.08, reasons=("stale_quote",)), g) is None
    assert would_take(edge(prob=0.99, yes_ask="0.97", ev_yes=0.03, ev_no=-0.9), g) is None  # price out of range
    assert would_take(edge(prob=0.2, yes_ask="0.70", no_ask="0.60", ev_yes=-0.5, ev_no=0.18), g) is None  # spread


def _view() -> RiskView:
    return RiskView(kill_reason=None, has_portfolio=True, balance=D(1000), total_exposure=D(0), market_exposure=D(0),
                    open_orders_total=0, open_orders_market=0, pending=False, takes_hour=0, takes_day=0,
                    daily_pnl=D(0))


def _decide(e, table, cfg=CFG):
    return decide(e, now=T0, risk=_view(), implied_sigma=None, gates=GateConfig(), sizing=SizingConfig(),
                  risk_config=RiskConfig(), evidence=table, evidence_config=cfg)


def test_the_gate_is_on_by_default_and_passes_without_evidence():
    e = edge(market_mid=0.51)
    assert evidence_gate(e, EMPTY, CFG) == [REASON]
    d = _decide(e, EMPTY)
    assert d.action == "PASS" and d.reasons == (REASON,)  # the only thing in the way
    assert _decide(e, EMPTY, EvidenceConfig(gate=False)).action == "TAKE"
    bucket = edge_bucket(e, CFG)
    table = _book([[0.05]] * 30, bucket=bucket).table()
    assert evidence_gate(e, table, CFG) == []
    assert _decide(e, table).action == "TAKE"
    other = edge(market_mid=0.95, horizon_s=100.0)  # another bucket: still no evidence there
    assert REASON in _decide(other, table).reasons
