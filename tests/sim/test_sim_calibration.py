"""The calibration measurements (kbot.sim.calibrate) on known inputs, and the simulated KXBTC15M
book next to the real one (real data from ../shared/data; skipped when absent)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from kbot.sim import calibrate as cal
from kbot.sim.config import SimConfig


def test_spread_and_size_stats():
    out = cal.spread_stats([(0.5, 0.01), (0.5, 0.03), (0.2, 0.02), (0.05, 0.01), (0.01, 0.01)])
    assert out["middle"]["n"] == 2 and out["middle"]["mean"] == pytest.approx(2.0)
    assert out["wing"]["n"] == 1 and out["tail"]["n"] == 1  # 0.01 is within TAIL_CUT: left out
    assert cal.size_stats([1, 2, 3])["p50"] == 2


def test_change_rates_per_second():
    tops = {"m": [(s, (0.5, 10, 0.51, 10) if s % 2 else (0.5, 12, 0.51, 10)) for s in range(400)]}
    out = cal.change_rates(tops)
    assert out["top_change_share"] == pytest.approx(399 / 399, rel=0.01) and out["top_price_change_share"] == 0.0


def test_trade_stats():
    rows = [(1800.0 - 30.0, 10.0, "yes"), (1800.0 - 600.0, 100.0, "no")]
    out = cal.trade_stats({"m": rows})
    assert out["trades_per_s"] == pytest.approx(2 / 900) and out["size_median"] == pytest.approx(55.0)
    assert out["taker_yes_share"] == 0.5 and out["last_minute_share"] == 0.5


def test_outcome_stats_and_tilt():
    rng = np.random.default_rng(1)
    p = rng.uniform(0.05, 0.95, 4000)
    y = (rng.random(4000) < p).astype(float)
    timid = 1 / (1 + np.exp(-np.log(p / (1 - p)) / 1.3))  # a market that shrinks log-odds by 1.3
    assert cal.logistic_slope(p, y) == pytest.approx(1.0, abs=0.1)
    assert cal.logistic_slope(timid, y) == pytest.approx(1.3, abs=0.12)
    out = cal.outcome_stats([(60, float(a), float(b), float(a)) for a, b in zip(p, y, strict=True)])
    assert out["horizons"][60]["market_brier"] == out["horizons"][60]["true_brier"]


def test_lag_profile_finds_a_one_second_lag():
    rng = np.random.default_rng(2)
    logs = np.cumsum(rng.normal(0, 1e-4, 3000))
    mid = np.empty_like(logs)
    mid[0] = 0.5
    mid[1:] = 0.5 + 400 * (logs[:-1] - logs[0])  # the mid follows the spot one second late
    prof = cal.lag_profile([(np.clip(mid, 0.2, 0.8), logs)])
    assert prof[0] < 0.2 and prof[1] > 0.9


def test_path_stats_of_a_random_walk():
    rng = np.random.default_rng(3)
    prices = 100 * np.exp(np.cumsum(rng.normal(0, 0.3 / math.sqrt(cal.YEAR_S / 60), 20_000)))
    st = cal.path_stats(prices, 60)
    assert st["vol"] == pytest.approx(0.3, rel=0.05) and st["kurtosis"] == pytest.approx(3.0, abs=0.3)


@pytest.fixture(scope="module")
def real():
    data = cal.DEFAULT_DATA
    if not (data / "organics_kxbtc15m").exists() or not (data / "artyomderkach_kxbtc15m_trades").exists():
        pytest.skip(f"{data} is not available (real data lives outside the repository)")
    return cal.measure(cal.read_real(data, quick=True))


def test_simulated_kxbtc15m_book_looks_like_the_real_one(real):
    """An hour of simulated KXBTC15M against the real WebSocket stream and trade tape."""
    sim = cal.measure(cal.simulate(1.0, 3, SimConfig(series=("KXBTC15M",))))
    r, s = real, sim
    assert abs(s["spread_15m"]["middle"]["mean"] - r["spread_15m"]["middle"]["mean"]) < 0.5  # cents
    assert 0.5 < s["inside_size_15m"]["p50"] / r["inside_size_15m"]["p50"] < 2.0
    assert abs(s["book_changes_15m"]["top_price_change_share"] - r["book_changes_15m"]["top_price_change_share"]) < 0.15
    assert abs(s["trades_15m"]["trades_per_s"] / r["trades_15m"]["trades_per_s"] - 1.0) < 0.25
    assert s["trades_15m"]["size_median"] == r["trades_15m"]["size_median"]
    assert abs(s["trades_15m"]["size_log_sd"] - r["trades_15m"]["size_log_sd"]) < 0.3
    assert s["quote_lag_15m"][2] > 0.75 and r["quote_lag_15m"][2] > 0.75  # most of a spot move is in the book within 2 s
