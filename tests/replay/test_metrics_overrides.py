"""Backtest rows (pure), configuration grids and overrides."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from kbot.config import AppConfig
from kbot.confload import ConfigError
from kbot.replay.metrics import DecisionRow, FillRow, max_drawdown, series_rows
from kbot.replay.overrides import apply, grid, nested, parse_set
from kbot.scoring import brier


def dec(i: int, action: str, side: str | None, p: float, mid: float | None, ticker: str = "A", series: str = "S") -> DecisionRow:
    return DecisionRow(decision_id=f"d{i}", ts=float(i), ticker=ticker, series=series, action=action, side=side,
                       prob_yes=p, market_mid=mid)


def test_rows_per_series_and_all():
    ds = [dec(1, "TAKE", "yes", 0.7, 0.6, "A"), dec(2, "PASS", "yes", 0.7, 0.6, "A"),
          dec(3, "TAKE", "no", 0.2, 0.3, "B", "T"), dec(4, "TAKE", "yes", 0.9, None, "C", "T")]
    fs = [FillRow(decision_id="d1", count=D(10), price=D("0.60"), fee=D("0.17")),
          FillRow(decision_id="d3", count=D(4), price=D("0.70"), fee=D("0.06")),
          FillRow(decision_id="d4", count=D(1), price=D("0.90"), fee=D("0.01"))]
    results = {"A": ("yes", 100.0), "B": ("yes", 50.0)}  # C has no result: open, not in PnL or scores
    rows = {r.series: r for r in series_rows(ds, fs, results)}
    s, t, a = rows["S"], rows["T"], rows["ALL"]
    assert (s.decisions, s.takes, s.contracts, s.settled, s.hit_rate) == (2, 1, D(10), 1, 1.0)
    assert s.pnl == D(10) - D("6.00") - D("0.17") and s.return_on_cost == pytest.approx(float(s.pnl / D("6.17")))
    assert (t.settled, t.open, t.hit_rate, t.pnl) == (1, 1, 0.0, -D("2.80") - D("0.06"))
    assert t.max_drawdown == D("2.86")
    assert s.brier == pytest.approx(brier(0.7, 1)) and s.market_brier == pytest.approx(brier(0.6, 1))
    assert s.brier_advantage == pytest.approx(brier(0.6, 1) - brier(0.7, 1))
    assert t.n_scored == 1 and t.n_market == 1  # C is not settled
    assert a.takes == 3 and a.pnl == s.pnl + t.pnl


def test_model_and_market_are_scored_on_the_same_decisions():
    """A decision without a market mid scored the model on a moment the market was not scored on
    (a replay of a kbot recording showed model Brier 0.3209 below the market's 0.3308 and yet a
    negative advantage)."""
    ds = [dec(1, "PASS", None, 0.7, 0.6), dec(2, "PASS", None, 0.1, None)]
    [s] = series_rows(ds, [], {"A": ("yes", 100.0)})
    assert (s.n_scored, s.n_market) == (1, 1)
    assert s.brier == pytest.approx(brier(0.7, 1)) and s.brier_advantage == pytest.approx(brier(0.6, 1) - brier(0.7, 1))
    assert s.market_brier - s.brier == pytest.approx(s.brier_advantage)


def test_max_drawdown_is_peak_to_trough_of_cumulative_pnl():
    assert max_drawdown([D(1), D(-3), D(2), D(-1)]) == D(3)
    assert max_drawdown([]) == D(0) and max_drawdown([D(-2)]) == D(2)


def test_grid_is_every_combination():
    sets = [parse_set("gates.min_ev=0.02,0.04"), parse_set("pricer.window_s=0, 60")]
    assert grid(sets) == [{"gates.min_ev": "0.02", "pricer.window_s": "0"}, {"gates.min_ev": "0.02", "pricer.window_s": "60"},
                          {"gates.min_ev": "0.04", "pricer.window_s": "0"}, {"gates.min_ev": "0.04", "pricer.window_s": "60"}]
    assert grid([]) == [{}]
    with pytest.raises(ConfigError):
        parse_set("gates.min_ev")
    with pytest.raises(ConfigError):
        grid([parse_set("a=1"), parse_set("a=2")])


def test_overrides_convert_validate_and_name_the_key():
    cfg = apply(AppConfig(), nested({"gates.min_ev": "0.04", "sizing.max_total_exposure": "500", "series": "KXBTC15M"}))
    assert cfg.gates.min_ev == 0.04 and cfg.sizing.max_total_exposure == D(500) and cfg.series == ("KXBTC15M",)
    with pytest.raises(ConfigError, match=r"gates\.nope"):
        apply(AppConfig(), nested({"gates.nope": "1"}))
    with pytest.raises(ConfigError, match=r"gates\.min_ev"):
        apply(AppConfig(), nested({"gates.min_ev": "lots"}))
