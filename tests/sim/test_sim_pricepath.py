"""The simulated index: reproducibility, the settlement rule, calibration against real BTC."""

from __future__ import annotations

import csv
import gzip
import math
from decimal import Decimal

import numpy as np
import pytest

from kbot.sim.pricepath import IndexPath

START = 1_786_000_000 - 1_786_000_000 % 86400


def test_same_seed_same_path_regardless_of_query_order():
    a = IndexPath(7, START)
    b = IndexPath(7, START)
    late = START + 3 * 3600 + 17
    va = a.price(late)  # generates three chunks at once
    vb = [b.price(START + k) for k in range(0, 3 * 3600 + 18, 3601)][-1]  # piecemeal
    assert va == b.price(late) and vb == b.price(START + 3 * 3601)
    assert np.array_equal(a.cents_range(START, START + 4 * 3600), b.cents_range(START, START + 4 * 3600))
    assert IndexPath(8, START).price(late) != va


def test_values_are_whole_cents_and_interpolate():
    p = IndexPath(1, START)
    t = START + 100
    assert p.price(t) == p.cents(t) / 100
    mid = p.price_at(t + 0.5)
    assert min(p.price(t), p.price(t + 1)) <= mid <= max(p.price(t), p.price(t + 1))


def test_settlement_average_is_the_60_ticks_ending_at_close():
    p = IndexPath(3, START)
    close = START + 1800
    ticks = [p.cents(t) for t in range(close - 59, close + 1)]  # (close-60, close]
    assert len(ticks) == 60
    expected = (Decimal(sum(ticks)) / 6000).quantize(Decimal("0.01"))
    assert p.settlement_average(close) == expected


def test_trim_bounds_memory():
    p = IndexPath(1, START)
    p.ensure(START + 5 * 3600)
    p.trim(START + 4 * 3600)
    assert p.price(START + 4 * 3600) > 0
    with pytest.raises(KeyError):
        p.price(START + 10)


def _stats(cents: np.ndarray, step_s: int) -> tuple[float, float, np.ndarray, float]:
    r = np.diff(np.log(cents.astype(np.float64)))
    sd = r.std()
    ann = sd * math.sqrt(365.25 * 86400 / step_s)
    kurt = float(((r - r.mean()) ** 4).mean() / sd**4)
    per_hour = 3600 // step_s
    hourly = r[: len(r) // per_hour * per_hour].reshape(-1, per_hour).std(axis=1) * math.sqrt(365.25 * 86400 / step_s)
    a = np.abs(r)
    ac10 = float(np.corrcoef(a[:-10], a[10:])[0, 1])
    return ann, kurt, hourly, ac10


def test_calibrated_against_real_btc_minutes(shared_data):
    """One simulated week at 1 s, sampled at 1 minute, next to 7 days of Coinbase 1-minute
    closes: similar volatility level, fat tails, regime spread and clustering."""
    path = shared_data / "ajgambino_coinbase_btc_1m" / "btc_prices.csv.gz"
    if not path.exists():
        pytest.skip(f"{path} is not available")
    with gzip.open(path, "rt") as f:
        real = np.array([round(float(row["price"]) * 100) for row in csv.DictReader(f)])
    r_ann, r_kurt, r_hourly, r_ac = _stats(real, 60)
    sims = []
    for seed in (1, 2):
        p = IndexPath(seed, START)
        sims.append(_stats(p.cents_range(START, START + 7 * 86400)[::60], 60))
    for s_ann, s_kurt, s_hourly, s_ac in sims:
        assert r_ann / 2 < s_ann < r_ann * 2, (s_ann, r_ann)
        assert s_kurt > 5 and r_kurt > 5  # fat tails in both
        spread_sim = np.percentile(s_hourly, 95) / np.percentile(s_hourly, 5)
        spread_real = np.percentile(r_hourly, 95) / np.percentile(r_hourly, 5)
        assert spread_sim > 3 and spread_real > 3  # volatility regimes
        assert s_ac > 0.1 and r_ac > 0.1  # volatility clustering
