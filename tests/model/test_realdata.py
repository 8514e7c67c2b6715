"""The model against reality (../shared/data; skipped when absent).

- EWMA sigma on real BTC paths (Coinbase 1-minute, Yahoo 5-minute, an aggregated 5-second
  feed) lands in a sane annualized range and agrees with plain realized volatility.
- prob_yes a few minutes before close, from the real Coinbase path and the real KXBTC15M
  strikes, scored against Kalshi's official results: Brier well below 0.25 (coin flip) and
  sane calibration. Also the implied volatility of real market mids.
"""

from __future__ import annotations

import bisect
import math
import statistics

import numpy as np

from kbot.model import YEAR_S, prob_yes
from kbot.model.config import VolConfig
from kbot.model.implied import fit_implied_sigma
from kbot.model.prob import ladder_bounds
from kbot.model.vol import EWMA, EwmaVol, RealizedVol
from tests.model import realdata


def run_ewma(series, cfg: VolConfig, every_s: float):
    vol = EwmaVol(cfg)
    rv = RealizedVol((cfg.rv_horizons_s[0], cfg.rv_horizons_s[1]))
    samples = []
    next_check = series[0][0] + every_s
    for ts, px in series:
        out = vol.add_sample(ts, px)
        if out is not None:
            rv.add(ts, *out)
        if ts >= next_check:
            samples.append(vol.estimate(ts))
            next_check = ts + every_s
    return vol, rv, samples


def realized(series, max_gap: float) -> float:
    r2 = dt = 0.0
    for (t0, p0), (t1, p1) in zip(series, series[1:], strict=False):
        if 0 < t1 - t0 <= max_gap:
            r2 += math.log(p1 / p0) ** 2
            dt += t1 - t0
    return math.sqrt(r2 / dt * YEAR_S)


def test_ewma_sigma_on_coinbase_one_minute_closes():
    series = realdata.coinbase_1m()
    cfg = VolConfig(
        sample_interval_s=60, halflife_s=6 * 3600, min_samples=60, max_gap_s=180, rv_horizons_s=(3600, 86400)
    )
    _vol, rv, samples = run_ewma(series, cfg, every_s=3600)
    sigmas = [s.sigma for s in samples if s.source == EWMA]
    assert len(sigmas) > 150  # every hour of the week once warm
    assert all(0.05 < s < 2.0 for s in sigmas)
    whole = realized(series, 180)
    assert 0.15 < whole < 1.2
    assert 0.5 * whole < statistics.median(sigmas) < 2.0 * whole
    short, long_ = rv.all(series[-1][0])
    assert short is not None and long_ is not None and 0.05 < long_ < 2.0


def test_ewma_sigma_on_five_minute_bars():
    series = realdata.btc_5m_feb()
    cfg = VolConfig(sample_interval_s=300, halflife_s=12 * 3600, min_samples=30, max_gap_s=900)
    _, _, samples = run_ewma(series, cfg, every_s=6 * 3600)
    sigmas = [s.sigma for s in samples if s.source == EWMA]
    assert len(sigmas) > 100
    assert 0.1 < statistics.median(sigmas) < 2.0
    assert max(sigmas) <= cfg.sigma_max


def test_ewma_sigma_on_five_second_prices_resampled_to_a_grid():
    raw = realdata.btc_5s()
    # sample-and-hold onto a 10 s grid, as the spot index actor does
    grid = []
    t = math.ceil(raw[0][0] / 10) * 10
    i = 0
    while t <= raw[-1][0]:
        while i + 1 < len(raw) and raw[i + 1][0] <= t:
            i += 1
        grid.append((float(t), raw[i][1]))
        t += 10
    cfg = VolConfig(sample_interval_s=10, halflife_s=3600, min_samples=60, max_gap_s=60)
    _, _, samples = run_ewma(grid, cfg, every_s=1800)
    sigmas = [s.sigma for s in samples if s.source == EWMA]
    assert len(sigmas) > 15
    assert all(0.05 < s < 3.0 for s in sigmas)


def spot_at(data: realdata.Kxbtc15m, ts: float, max_age: float = 10.0) -> float | None:
    i = bisect.bisect_right(data.tick_ts, ts) - 1
    if i < 0 or ts - data.tick_ts[i] > max_age:
        return None
    return data.tick_px[i]


def sigma_before(data: realdata.Kxbtc15m, ts: float, lookback: float = 900.0, default: float = 0.35) -> float:
    """Realized volatility of the Coinbase path on a 10 s grid over the lookback (what the
    EWMA would carry), or a default when the recording does not cover it."""
    grid = []
    for k in range(int(lookback / 10), -1, -1):
        p = spot_at(data, ts - 10 * k, max_age=10.0)
        if p is not None:
            grid.append((ts - 10 * k, p))
    if len(grid) < 0.5 * lookback / 10:
        return default
    s = realized(grid, 10.0)
    return min(max(s, 0.1), 2.0)


def mid_at(data: realdata.Kxbtc15m, ticker: str, ts: float, max_age: float = 30.0) -> float | None:
    quotes = data.quotes.get(ticker)
    if not quotes:
        return None
    i = bisect.bisect_right(quotes, (ts, 2.0, 2.0)) - 1
    if i < 0 or ts - quotes[i][0] > max_age:
        return None
    return (quotes[i][1] + quotes[i][2]) / 2


def test_prob_yes_before_close_against_official_results():
    data = realdata.kxbtc15m()
    preds: list[tuple[float, int]] = []
    versus: list[tuple[float, float, int]] = []  # (model, market mid, outcome) where quoted
    per_h: dict[int, list[tuple[float, int]]] = {}
    for ticker, strike, close, outcome in data.settled():
        for h in (30, 60, 120, 180, 300):
            t = close - h
            spot = spot_at(data, t)
            if spot is None:
                continue
            sigma = sigma_before(data, t)
            observed_avg = observed_s = None
            if h < 60:  # inside the window: the Coinbase prints of the elapsed part
                secs = [spot_at(data, close - 60 + k, max_age=5.0) for k in range(1, 61 - h)]
                if any(p is None for p in secs):
                    continue
                observed_avg, observed_s = sum(secs) / len(secs), float(len(secs))
            p = prob_yes(
                "greater_or_equal",
                strike,
                None,
                spot,
                sigma,
                float(h),
                observed_avg=observed_avg,
                observed_s=observed_s or 0.0,
            )
            assert p is not None and 0.0 <= p <= 1.0
            preds.append((p, outcome))
            per_h.setdefault(h, []).append((p, outcome))
            mid = mid_at(data, ticker, t)
            if mid is not None:
                versus.append((p, mid, outcome))
    assert len({len(v) for v in per_h.values()}) >= 1 and len(preds) >= 60, len(preds)
    brier = statistics.fmean((p - y) ** 2 for p, y in preds)
    print(f"\nKXBTC15M: {len(preds)} predictions over {len(per_h.get(120, []))} markets, Brier {brier:.4f}")
    for h, v in sorted(per_h.items()):
        print(f"  h={h:>3}s n={len(v):>3} Brier={statistics.fmean((p - y) ** 2 for p, y in v):.4f}")
    if versus:
        bm = statistics.fmean((p - y) ** 2 for p, _, y in versus)
        bk = statistics.fmean((m - y) ** 2 for _, m, y in versus)
        print(f"  where quoted (n={len(versus)}): model Brier {bm:.4f}, market mid Brier {bk:.4f}")
    assert brier < 0.25
    assert brier < 0.15  # minutes before close the model is far better than a coin flip
    # calibration: confident predictions are right most of the time; mean matches base rate
    confident = [(p, y) for p, y in preds if p > 0.8 or p < 0.2]
    hit = statistics.fmean((p > 0.5) == bool(y) for p, y in confident)
    assert len(confident) > 20 and hit > 0.8
    assert abs(statistics.fmean(p for p, _ in preds) - statistics.fmean(y for _, y in preds)) < 0.1
    # later is better: the last minute beats five minutes out
    if len(per_h.get(30, [])) >= 10 and len(per_h.get(300, [])) >= 10:
        b30 = statistics.fmean((p - y) ** 2 for p, y in per_h[30])
        b300 = statistics.fmean((p - y) ** 2 for p, y in per_h[300])
        assert b30 <= b300 + 0.02


def test_implied_sigma_of_real_kxbtc15m_mids():
    data = realdata.kxbtc15m()
    implied = []
    for ticker, strike, close, _ in data.settled():
        quotes = data.quotes.get(ticker)
        if not quotes:
            continue
        t = close - 300
        i = bisect.bisect_right(quotes, (t, 2.0, 2.0)) - 1
        spot = spot_at(data, t)
        if i < 0 or spot is None or t - quotes[i][0] > 30:
            continue
        _, bid, ask = quotes[i]
        mid = (bid + ask) / 2
        if ask - bid > 0.05 or not 0.1 <= mid <= 0.9:
            continue
        lo, hi, _ = ladder_bounds(["greater_or_equal"], [strike], [None])
        fit = fit_implied_sigma(lo, hi, np.array([mid]), np.ones(1), spot, 300.0)
        if fit is not None and not fit.at_bound:
            implied.append(fit.sigma)
    print(
        f"\nimplied sigma of {len(implied)} KXBTC15M mids 5 min before close: median {statistics.median(implied):.3f}"
    )
    assert len(implied) >= 5
    assert 0.05 < statistics.median(implied) < 2.0
