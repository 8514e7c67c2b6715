"""The simulated venue next to the real market: the same measurements on recorded Kalshi/BTC data
and on the sim, side by side.

    python -m kbot.sim.calibrate [--data ../shared/data] [--hours 6] [--seeds 1,2] [--json FILE]
                                 [--no-sim] [--no-real] [--mispricing X]

Real data (third-party recordings in ``../shared/data``, read in place, never copied into the
repository; each folder's SOURCE.md says what it is):

- ``organics_kxbtc15m``: KXBTC15M WebSocket ticker stream (spreads, inside sizes, mids),
  full order-book delta sessions (how often the top changes), Coinbase trade ticks (quote lag)
  and official results (market Brier, favourite-longshot tilt);
- ``kalshi_headless_kxbtc_hourly``: KXBTC hourly bracket books ~37 and ~5 minutes before the
  close with official results (spreads, market Brier, tilt);
- ``artyomderkach_kxbtc15m_trades``: the complete trade tape of 100 KXBTC15M markets (trade
  rate, sizes, taker side);
- ``ajgambino_coinbase_btc_1m`` (1-minute closes, 7 days) and ``optimizeforall_btc_5s`` (5 s,
  12 hours): the BTC path (volatility level, fat tails, regimes, clustering).

The sim side runs the pure exchange core (``kbot.sim.exchange.Exchange``) in virtual time with
the default configuration and records the same things: tops of book every second, trades,
mids and the sim's true probability at the same horizons before the close, outcomes. Each
measurement is one function used on both sides (``spread_stats``, ``change_rates``,
``trade_stats``, ``outcome_stats``, ``lag_profile``, ``path_stats``).

``kbot_shadow`` replays kbot's own pure pricing and decision functions (``kbot.model``) against
the simulated books, second by second: what kbot's shadow PnL on this market would be, with
the number of trades and a standard error clustered by event (the suite's efficiency check,
``tests/sim/test_sim_efficiency.py``).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import gzip
import json
import math
import sys
from collections import defaultdict
from collections.abc import Iterable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from kbot.sim.book import ASK, BID
from kbot.sim.calendar import SERIES_15M, SERIES_HOURLY_RANGE
from kbot.sim.config import SimConfig
from kbot.sim.events import TradeEvent
from kbot.sim.exchange import Exchange

YEAR_S = 365.25 * 86400.0
HORIZONS_15M = (600, 300, 120, 60, 30)  # seconds before the close the 15M mids are scored at
HORIZONS_HOURLY = (2220, 300)  # ~37 and ~5 minutes: when the real hourly captures were taken
DEFAULT_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


# ============================================================================ measurements (shared)
def _pct(values: Iterable[float], qs: Iterable[float]) -> list[float]:
    a = np.asarray(list(values), dtype=np.float64)
    return [float(x) for x in np.percentile(a, list(qs))] if len(a) else [math.nan for _ in qs]


def mid_bucket(mid: float) -> str:
    """``tail`` (< 10c or > 90c), ``wing`` (10-30c, 70-90c), ``middle`` (30-70c)."""
    if mid < 0.10 or mid > 0.90:
        return "tail"
    return "middle" if 0.30 <= mid <= 0.70 else "wing"


TAIL_CUT = 0.025  # mids closer than this to 0 or 1 are left out of spreads, Briers and tilts


def spread_stats(samples: Iterable[tuple[float, float]]) -> dict[str, dict[str, float]]:
    """``(mid, spread)`` in dollars -> per mid bucket: n, mean, p10/p50/p90 of the spread in cents.
    Mids within ``TAIL_CUT`` of 0 or 1 are left out on both sides: the sim's cent grid shows a
    1c/2c book there where real books rest sub-cent orders or show no bid at all."""
    by: dict[str, list[float]] = defaultdict(list)
    for mid, spread in samples:
        if not TAIL_CUT <= mid <= 1.0 - TAIL_CUT:
            continue
        by[mid_bucket(mid)].append(spread * 100.0)
        by["all"].append(spread * 100.0)
    out = {}
    for k, v in by.items():
        p10, p50, p90 = _pct(v, (10, 50, 90))
        out[k] = {"n": len(v), "mean": float(np.mean(v)), "p10": p10, "p50": p50, "p90": p90}
    return out


def size_stats(sizes: Iterable[float]) -> dict[str, float]:
    s = list(sizes)
    p10, p50, p90 = _pct(s, (10, 50, 90))
    return {"n": len(s), "p10": p10, "p50": p50, "p90": p90}


def change_rates(tops: dict[str, list[tuple[int, tuple]]]) -> dict[str, float]:
    """Per market a list of ``(second, (bid, bid_size, ask, ask_size))`` observed every second
    it changed -> the share of seconds in which the top of book changed, and in which its
    price changed (median over markets with at least 5 minutes)."""
    top_frac, price_frac = [], []
    for rows in tops.values():
        if len(rows) < 2:
            continue
        dur = rows[-1][0] - rows[0][0]
        if dur < 300:
            continue
        secs, psecs = set(), set()
        prev = None
        for s, top in rows:
            if prev is not None and top != prev:
                secs.add(s)
                if (top[0], top[2]) != (prev[0], prev[2]):
                    psecs.add(s)
            prev = top
        top_frac.append(len(secs) / dur)
        price_frac.append(len(psecs) / dur)
    return {
        "markets": len(top_frac),
        "top_change_share": float(np.median(top_frac)) if top_frac else math.nan,
        "top_price_change_share": float(np.median(price_frac)) if price_frac else math.nan,
    }


def trade_stats(trades: dict[str, list[tuple[float, float, str]]], window_s: float = 900.0) -> dict[str, float]:
    """Per market ``(ts, contracts, taker_side)`` -> trades per market-second (median), size
    median / log-sd, taker YES share, share of trades in the last minute."""
    per_s, sizes, yes, last_min, n = [], [], 0, 0, 0
    for rows in trades.values():
        if not rows:
            continue
        close = math.ceil(max(r[0] for r in rows) / 900.0) * 900.0
        per_s.append(len(rows) / window_s)
        for ts, count, side in rows:
            sizes.append(count)
            yes += side == "yes"
            last_min += close - ts <= 60
            n += 1
    s = np.asarray(sizes, dtype=np.float64)
    pos = s[s > 0]
    return {
        "markets": len(per_s),
        "trades_per_s": float(np.median(per_s)) if per_s else math.nan,
        "size_median": float(np.median(s)) if len(s) else math.nan,
        "size_log_sd": float(np.log(pos).std()) if len(pos) else math.nan,
        "taker_yes_share": yes / n if n else math.nan,
        "last_minute_share": last_min / n if n else math.nan,
    }


def logistic_slope(p: np.ndarray, y: np.ndarray) -> float:
    """Slope ``b`` of ``P(y) = expit(b * logit(p) + c)`` fitted by maximum likelihood: 1 for a
    calibrated forecast, above 1 when it is too timid (longshots rich, favourites cheap: a
    favourite-longshot tilt), below 1 when it is overconfident."""
    from scipy.optimize import minimize

    m = np.clip(p, 0.005, 0.995)
    lg = np.log(m / (1.0 - m))

    def nll(th: np.ndarray) -> float:
        z = th[0] * lg + th[1]
        return float(np.sum(np.logaddexp(0.0, z) - y * z))

    return float(minimize(nll, np.array([1.0, 0.0]), method="BFGS").x[0])


def outcome_stats(samples: Iterable[tuple[int, float, float, float | None]]) -> dict[str, Any]:
    """``(horizon, mid, outcome, truth or None)`` -> per horizon: n, market Brier (and the true
    probability's Brier where known); overall: the tilt (``logistic_slope`` of the mids). Mids
    within ``TAIL_CUT`` of 0 or 1 are left out (see ``spread_stats``)."""
    by: dict[int, list[tuple[float, float, float | None]]] = defaultdict(list)
    for h, m, outcome, truth in samples:
        if TAIL_CUT <= m <= 1.0 - TAIL_CUT:
            by[h].append((m, outcome, truth))
    out: dict[str, Any] = {"horizons": {}}
    mids, ys = [], []
    for h in sorted(by, reverse=True):
        rows = by[h]
        mid = np.array([r[0] for r in rows])
        y = np.array([r[1] for r in rows])
        entry: dict[str, float] = {"n": len(rows), "market_brier": float(np.mean((mid - y) ** 2))}
        tr = [r[2] for r in rows if r[2] is not None]
        if len(tr) == len(rows):
            t = np.array(tr, dtype=np.float64)
            entry["true_brier"] = float(np.mean((t - y) ** 2))
        out["horizons"][h] = entry
        mids.extend(mid.tolist())
        ys.extend(y.tolist())
    if len(mids) >= 30:
        out["tilt"] = logistic_slope(np.array(mids), np.array(ys))
    out["n"] = len(mids)
    return out


def lag_profile(series: Iterable[tuple[np.ndarray, np.ndarray]], max_lag: int = 8) -> list[float]:
    """How fast book mids follow spot: per market a pair of per-second arrays (mid, log spot,
    NaN where unknown). Regress the mid's one-second change on the log-spot changes of the same
    second and the ``max_lag`` before (seconds where the mid is 15-85c), and return the
    cumulative share of the total response reached by each lag (0 = within the same second)."""
    xs, ys = [], []
    for mid, logs in series:
        dm = np.diff(mid)
        ds = np.diff(logs)
        for j in range(max_lag, len(dm)):
            if not 0.15 < mid[j] < 0.85 or math.isnan(dm[j]):
                continue
            row = ds[j - max_lag : j + 1][::-1]
            if np.isnan(row).any():
                continue
            xs.append(row)
            ys.append(dm[j])
    if len(ys) < 100:
        return []
    x = np.asarray(xs)
    beta = np.linalg.lstsq(np.c_[x, np.ones(len(ys))], np.asarray(ys), rcond=None)[0][:-1]
    total = beta.sum()
    return [float(c) for c in np.cumsum(beta) / total] if total > 0 else []


def path_stats(prices: np.ndarray, step_s: int) -> dict[str, Any]:
    """Annualized volatility, kurtosis of the returns, hourly realized-volatility percentiles
    (the spread of regimes) and the autocorrelation of |returns| (clustering) and of hourly
    volatility (persistence)."""
    r = np.diff(np.log(np.asarray(prices, dtype=np.float64)))
    r = r[np.isfinite(r)]
    sd = r.std()
    per_hour = 3600 // step_s
    n = len(r) // per_hour * per_hour
    hourly = r[:n].reshape(-1, per_hour).std(axis=1) * math.sqrt(YEAR_S / step_s)
    a = np.abs(r)
    acf = {lag: float(np.corrcoef(a[:-lag], a[lag:])[0, 1]) for lag in (1, 10, 60) if lag < len(a) // 2}
    return {
        "n": len(r),
        "vol": float(sd * math.sqrt(YEAR_S / step_s)),
        "kurtosis": float(((r - r.mean()) ** 4).mean() / sd**4),
        "hourly_vol_p5_p50_p95": _pct(hourly, (5, 50, 95)),
        "abs_return_acf": acf,
        "hourly_vol_acf1": float(np.corrcoef(hourly[:-1], hourly[1:])[0, 1]) if len(hourly) > 3 else math.nan,
    }


# ============================================================================ real data
def _iso(s: str) -> float:
    return dt.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


def _lines(path: Path) -> Iterator[dict[str, Any]]:
    with gzip.open(path, "rt") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


@attrs.define
class Observed:
    """One side's raw observations, in the shapes the measurements take."""

    spreads_15m: list[tuple[float, float]] = attrs.field(factory=list)  # (mid, spread) dollars
    sizes_15m: list[float] = attrs.field(factory=list)  # inside sizes, contracts, mids 10-90c
    tops_15m: dict[str, list[tuple[int, tuple]]] = attrs.field(factory=dict)  # per second
    outcomes_15m: list[tuple[int, float, float, float | None]] = attrs.field(factory=list)
    spreads_hourly: list[tuple[float, float]] = attrs.field(factory=list)
    outcomes_hourly: list[tuple[int, float, float, float | None]] = attrs.field(factory=list)
    outcomes_ladder: list[tuple[int, float, float, float | None]] = attrs.field(factory=list)  # KXBTCD (sim only)
    samples: list[tuple[int, float, float, float | None]] = attrs.field(factory=list)  # every market, every N s (sim)
    trades_15m: dict[str, list[tuple[float, float, str]]] = attrs.field(factory=dict)
    lag_series: list[tuple[np.ndarray, np.ndarray]] = attrs.field(factory=list)
    paths: dict[str, tuple[np.ndarray, int]] = attrs.field(factory=dict)  # name -> (prices, step s)


def _quoted(bid: float, ask: float) -> bool:
    return 0.0 < bid < ask < 1.0


def _read_organics(root: Path, obs: Observed, quick: bool = False) -> None:
    base = root / "organics_kxbtc15m"
    results: dict[str, tuple[str, float]] = {}
    for f in base.glob("logs/**/market_results*.json.gz"):
        with gzip.open(f, "rt") as fh:
            for r in json.load(fh):
                results[r["market"]] = (r["result"], _iso(r["close_time"]))
    mids: dict[str, dict[int, float]] = defaultdict(dict)
    for f in sorted(base.glob("research_data/*/raw_events/type=ticker/*/*/*.gz")):
        for r in _lines(f):
            p = r["payload_json"]
            try:
                bid, ask = float(p["yes_bid_dollars"]), float(p["yes_ask_dollars"])
            except (KeyError, TypeError, ValueError):
                continue
            if not _quoted(bid, ask):
                continue
            mid = (bid + ask) / 2.0
            obs.spreads_15m.append((mid, ask - bid))
            if 0.1 <= mid <= 0.9:
                for k in ("yes_bid_size_fp", "yes_ask_size_fp"):
                    if p.get(k) is not None:
                        obs.sizes_15m.append(float(p[k]))
            mids[r["market_ticker"]][int(p["ts_ms"]) // 1000] = mid
    for ticker, m in mids.items():
        if ticker not in results:
            continue
        result, close = results[ticker]
        y = 1.0 if result == "yes" else 0.0
        secs = sorted(m)
        for h in HORIZONS_15M:
            target = int(close) - h
            i = np.searchsorted(secs, target, side="right") - 1
            if i >= 0 and target - secs[i] <= 5:
                obs.outcomes_15m.append((h, m[secs[i]], y, None))
    # order-book sessions with every delta: the top of book at the end of each second
    sessions = sorted({f.parts[-6] for f in base.glob("research_data/*/raw_events/type=orderbook_delta/*/*/*.gz")})
    for session in sessions[-1:] if quick else sessions:
        events = []
        for kind in ("orderbook_snapshot", "orderbook_delta"):
            for f in base.glob(f"research_data/{session}/raw_events/type={kind}/*/*/*.gz"):
                for r in _lines(f):
                    events.append((int(r["local_recv_ns"]), kind, r["market_ticker"], r["payload_json"]))
        events.sort(key=lambda e: e[0])
        books: dict[str, dict[str, dict[float, float]]] = {}
        last: dict[str, tuple[int, tuple]] = {}
        for ns, kind, ticker, p in events:
            if kind == "orderbook_snapshot":
                books[ticker] = {
                    side: {float(a): float(b) for a, b in p.get(f"{side}_dollars_fp") or []} for side in ("yes", "no")
                }
                continue
            b = books.get(ticker)
            if b is None:
                continue
            lv = b[p["side"]]
            price = float(p["price_dollars"])
            lv[price] = lv.get(price, 0.0) + float(p["delta_fp"])
            if lv[price] <= 1e-9:
                del lv[price]
            if not b["yes"] or not b["no"]:
                continue
            yb, nb = max(b["yes"]), max(b["no"])
            top = (yb, b["yes"][yb], round(1.0 - nb, 4), b["no"][nb])
            s = ns // 1_000_000_000
            key = f"{session}/{ticker}"
            prev = last.get(key)
            if prev is not None and prev[0] != s:
                obs.tops_15m.setdefault(key, []).append(prev)
            last[key] = (s, top)
        for key, v in last.items():
            obs.tops_15m.setdefault(key, []).append(v)
    # quote lag: book mids against Coinbase trades, per second
    spot: dict[str, tuple[float, float]] = {}
    for f in list(base.glob("logs/particle_research/real_shadow/*/independent_spot_ticks.ndjson.gz")) + list(
        base.glob("logs/particle_research/real_shadow/sidecar_spot_pairs/*/spot_ticks.ndjson.gz")
    ):
        for r in _lines(f):
            spot[r["trade_id"]] = (_iso(r["exchange_ts_utc"]), float(r["price"]))
    if spot:
        ticks = sorted(spot.values())
        st = np.array([t for t, _ in ticks])
        sp = np.array([p for _, p in ticks])
        for per_s in mids.values():
            if len(per_s) < 200:
                continue
            grid = np.arange(min(per_s) - 10, max(per_s) + 1)
            at = np.searchsorted(st, grid + 0.999, side="right") - 1
            ok = (at >= 0) & (grid - st[np.clip(at, 0, None)] < 5)
            logs = np.where(ok, np.log(sp[np.clip(at, 0, None)]), np.nan)
            obs.lag_series.append((_ffill(grid, per_s, 3), logs))


def _ffill(grid: np.ndarray, values: dict[int, float], max_age: int) -> np.ndarray:
    """Per-second values on ``grid``, carried forward at most ``max_age`` seconds."""
    out = np.full(len(grid), np.nan)
    last, age = math.nan, max_age + 1
    for j, s in enumerate(grid.tolist()):
        v = values.get(s)
        if v is None:
            age += 1
            out[j] = last if age <= max_age else math.nan
        else:
            last, age = v, 0
            out[j] = v
    return out


def _read_hourly(root: Path, obs: Observed, quick: bool = False) -> None:
    base = root / "kalshi_headless_kxbtc_hourly" / "crypto_hourly"
    caps, results = [], {}
    for f in sorted(base.glob("dt=*.jsonl.gz")):
        for d in _lines(f):
            if d.get("symbol") != "BTC" or d.get("series") != "KXBTC":
                continue
            caps.append(d)
            prev = d.get("previous_settlement") or {}
            if prev.get("results"):
                results[prev["event_ticker"]] = prev["results"]
    for d in caps:
        cur = d.get("current") or {}
        res = results.get(cur.get("event_ticker"))
        if not cur.get("outcomes") or res is None:
            continue
        h = _iso(cur["close_time"]) - _iso(d["captured_at"])
        horizon = HORIZONS_HOURLY[0] if h > 1200 else HORIZONS_HOURLY[1] if h < 900 else None
        if horizon is None:
            continue
        for o in cur["outcomes"]:
            bid, ask = o.get("yes_bid"), o.get("yes_ask")
            if bid is None or ask is None or not _quoted(float(bid), float(ask)):
                continue
            mid = (float(bid) + float(ask)) / 2.0
            obs.spreads_hourly.append((mid, float(ask) - float(bid)))
            obs.outcomes_hourly.append((horizon, mid, 1.0 if res.get(o["ticker"]) == "yes" else 0.0, None))


def _read_trades(root: Path, obs: Observed, quick: bool = False) -> None:
    files = sorted((root / "artyomderkach_kxbtc15m_trades" / "trades" / "raw").glob("*.csv.gz"))
    for f in files[:20] if quick else files:
        with gzip.open(f, "rt") as fh:
            rows = [(float(r["ts"]), float(r["count"]), r["taker_side"]) for r in csv.DictReader(fh)]
        if rows:
            obs.trades_15m[f.name.split(".")[0]] = rows


def _read_paths(root: Path, obs: Observed, quick: bool = False) -> None:
    f = root / "ajgambino_coinbase_btc_1m" / "btc_prices.csv.gz"
    if f.exists():
        with gzip.open(f, "rt") as fh:
            obs.paths["coinbase 1m, 7 days"] = (np.array([float(r["price"]) for r in csv.DictReader(fh)]), 60)
    f = root / "optimizeforall_btc_5s" / "btc_prices.csv.gz"
    if f.exists():
        with gzip.open(f, "rt") as fh:
            obs.paths["index 5s, 12 hours"] = (np.array([float(r["price"]) for r in csv.DictReader(fh)]), 5)


def read_real(root: Path, *, quick: bool = False) -> Observed:
    """Everything the calibration reads from ``root`` (``../shared/data``); folders that are
    missing are skipped. ``quick``: the KXBTC15M figures only, from one order-book session and
    20 of the 100 trade tapes (a few seconds instead of half a minute: the test suite)."""
    obs = Observed()
    readers = [(_read_organics, "organics_kxbtc15m"), (_read_trades, "artyomderkach_kxbtc15m_trades")]
    if not quick:
        readers += [(_read_hourly, "kalshi_headless_kxbtc_hourly"), (_read_paths, "ajgambino_coinbase_btc_1m")]
    for reader, folder in readers:
        if (root / folder).exists():
            reader(root, obs, quick)
    return obs


# ============================================================================ the sim
def _top(ex: Exchange, ticker: str) -> tuple[float | None, int, float | None, int]:
    book = ex.engines[ticker].book
    bid, ask = book.best_bid(), book.best_ask()
    return (
        None if bid is None else bid / 10_000.0,
        book.size_at(BID, bid) // 100 if bid is not None else 0,
        None if ask is None else ask / 10_000.0,
        book.size_at(ASK, ask) // 100 if ask is not None else 0,
    )


def simulate(
    hours: float,
    seed: int = 1,
    config: SimConfig | None = None,
    start: float = 1_787_003_000.0,
    *,
    books: bool = True,
    shadow: KbotShadow | None = None,
    sample_every_s: int = 0,
) -> Observed:
    """Run the sim's pure core for ``hours`` of virtual time and observe it like the real data
    (``books=False``: only the outcome samples); ``shadow``: let kbot's model trade it too;
    ``sample_every_s``: also sample every tradable market's mid and true probability that often
    (``Observed.samples``, scored when the market settles)."""
    cfg = attrs.evolve(config or SimConfig(), seed=seed)
    ex = Exchange(cfg, start)
    obs = Observed()
    if shadow is not None:
        ex.advance(start)
        shadow.warm(ex, int(start))
    trades: dict[str, list[tuple[float, float, str]]] = defaultdict(list)

    def listen(events: list) -> None:
        for e in events:
            if type(e) is TradeEvent and e.ticker.startswith(SERIES_15M):
                trades[e.ticker].append((e.ts, e.count / 100.0, "yes" if e.taker_side == BID else "no"))

    ex.listeners.append(listen)
    pending: dict[str, list[tuple[int, float, float | None]]] = defaultdict(list)  # ticker -> (h, mid, truth)
    sampled: dict[str, list[tuple[int, float, float | None]]] = defaultdict(list)
    series_mid: dict[str, dict[int, float]] = defaultdict(dict)
    log_index: dict[int, float] = {}
    end = int(start + hours * 3600)
    t0 = int(start)
    for s in range(t0 + 1, end + 1):
        ex.advance(float(s))
        log_index[s] = math.log(ex.path.price(s))
        if shadow is not None:
            shadow.step(ex, s)
            if s % 60 == 0:
                shadow.settle(ex)
        if sample_every_s and s % sample_every_s == 0:
            for m in ex.tradable_markets(s):
                if not m.floor_published:
                    continue
                bid, _, ask, _ = _top(ex, m.ticker)
                truth = ex.truth.now(m.ticker)
                if bid is not None and ask is not None and truth is not None:
                    sampled[m.ticker].append((int(m.close_ts) - s, (bid + ask) / 2.0, truth))
        for m in ex.tradable_markets(s):
            ttc = int(m.close_ts) - s
            is15 = m.series_ticker == SERIES_15M
            if is15 and not books:
                if ttc in HORIZONS_15M and m.floor_published:
                    bid, _, ask, _ = _top(ex, m.ticker)
                    if bid is not None and ask is not None:
                        pending[m.ticker].append((ttc, (bid + ask) / 2.0, ex.truth.now(m.ticker)))
            elif is15:
                bid, bsz, ask, asz = _top(ex, m.ticker)
                if bid is not None and ask is not None:
                    mid = (bid + ask) / 2.0
                    obs.tops_15m.setdefault(m.ticker, []).append((s, (bid, bsz, ask, asz)))
                    obs.spreads_15m.append((mid, ask - bid))
                    if 0.1 <= mid <= 0.9:
                        obs.sizes_15m.extend((bsz, asz))
                    series_mid[m.ticker][s] = mid
                    if ttc in HORIZONS_15M and m.floor_published:
                        pending[m.ticker].append((ttc, mid, ex.truth.now(m.ticker)))
            elif ttc in HORIZONS_HOURLY:
                bid, _, ask, _ = _top(ex, m.ticker)
                if bid is not None and ask is not None and _quoted(bid, ask):
                    mid = (bid + ask) / 2.0
                    if m.series_ticker == SERIES_HOURLY_RANGE:
                        obs.spreads_hourly.append((mid, ask - bid))
                    pending[m.ticker].append((ttc, mid, ex.truth.now(m.ticker)))
        for ticker in [t for t in sampled if ex.markets.get(t) is not None and ex.markets[t].result]:
            y = 1.0 if ex.markets[ticker].result == "yes" else 0.0
            obs.samples.extend((h, mid, y, truth) for h, mid, truth in sampled.pop(ticker))
        for ticker in [t for t in pending if ex.markets.get(t) is not None and ex.markets[t].result]:
            y = 1.0 if ex.markets[ticker].result == "yes" else 0.0
            series = ex.markets[ticker].series_ticker
            target = (
                obs.outcomes_15m if series == SERIES_15M else obs.outcomes_hourly if series == SERIES_HOURLY_RANGE else obs.outcomes_ladder
            )
            target.extend((h, mid, y, truth) for h, mid, truth in pending.pop(ticker))
    if shadow is not None:
        shadow.settle(ex)
    obs.trades_15m = {k: v for k, v in trades.items() if ex.markets.get(k) is None or ex.markets[k].result}
    grid_all = np.array(sorted(log_index))
    logs_all = np.array([log_index[s] for s in grid_all.tolist()])
    for per_s in series_mid.values():
        if len(per_s) < 200:
            continue
        lo, hi = min(per_s) - 10, max(per_s)
        sel = (grid_all >= lo) & (grid_all <= hi)
        obs.lag_series.append((_ffill(grid_all[sel], per_s, 3), logs_all[sel]))
    return obs


def simulate_path(days: float, seeds: tuple[int, ...] = (1, 2, 3, 4), start: int = 1_786_003_200) -> dict[str, tuple[np.ndarray, int]]:
    """The sim's index, ``days`` per seed (seeds one after the other), sampled like the real
    series: every minute, and every 5 s over the first 12 hours of each seed."""
    from kbot.sim.pricepath import IndexPath, PathParams

    minutes, fives = [], []
    for seed in seeds:
        path = IndexPath(seed, start, PathParams())
        cents = path.cents_range(start, start + int(days * 86400)).astype(np.float64) / 100.0
        minutes.append(cents[::60])
        fives.append(cents[: 12 * 3600 : 5])
    # stitched end to end in log space, so no seed boundary looks like a jump
    def stitch(parts: list[np.ndarray]) -> np.ndarray:
        out = [parts[0]]
        for p in parts[1:]:
            out.append(p * (out[-1][-1] / p[0]))
        return np.concatenate(out)

    return {"1m": (stitch(minutes), 60), "5s, 12 hours": (stitch(fives), 5)}


# ============================================================================ fitting the index path
PATH_TARGET_NAME = "coinbase 1m, 7 days"


def _path_loss(sim: dict[str, Any], real: dict[str, Any]) -> float:
    """Distance between two ``path_stats``: relative errors of the volatility level, the regime
    spread (hourly realized vol p5/p50/p95), the tails (log kurtosis) and the clustering
    (|return| autocorrelation at 1, 10, 60 steps and hour-to-hour volatility)."""
    loss = 4.0 * math.log(sim["vol"] / real["vol"]) ** 2
    loss += 0.5 * math.log(sim["kurtosis"] / real["kurtosis"]) ** 2
    for a, b in zip(sim["hourly_vol_p5_p50_p95"], real["hourly_vol_p5_p50_p95"], strict=True):
        loss += math.log(a / b) ** 2
    for lag in (1, 10, 60):
        loss += 4.0 * (sim["abs_return_acf"][lag] - real["abs_return_acf"][lag]) ** 2
    loss += 2.0 * (sim["hourly_vol_acf1"] - real["hourly_vol_acf1"]) ** 2
    return loss


def fit_path(real: dict[str, Any], *, days: float = 7.0, seeds: tuple[int, ...] = (1, 2, 3, 4)) -> list[tuple[float, dict[str, Any]]]:
    """Method of simulated moments on a small grid: for each candidate ``PathParams`` the
    statistics of ``len(seeds)`` simulated paths of ``days`` (1-minute samples, averaged) are
    compared with the real 1-minute series (``_path_loss``). Returns (loss, params) best first.
    The defaults in ``kbot.sim.pricepath.PathParams`` come from this fit (docs/SIM_CALIBRATION.md)."""
    import itertools

    from kbot.sim.pricepath import IndexPath, PathParams

    target = real["paths"][PATH_TARGET_NAME]
    grid = {
        "base_vol": (0.26, 0.29, 0.32),
        "logvol_reversion_s": (1800.0, 5400.0, 10800.0),
        "logvol_sd": (0.35, 0.45),
        "regime_scale": (1.0, 2.0),
        "jumps_per_day": (2.0, 4.0),
    }
    out = []
    start = 1_786_003_200
    for values in itertools.product(*grid.values()):
        kw = dict(zip(grid, values, strict=True))
        scale = kw.pop("regime_scale")
        params = PathParams(regime_mean_s=tuple(x * scale for x in PathParams().regime_mean_s), **kw)  # type: ignore[arg-type]
        stats = []
        for seed in seeds:
            cents = IndexPath(seed, start, params).cents_range(start, start + int(days * 86400))
            stats.append(path_stats(cents[::60].astype(np.float64), 60))
        avg = {
            "vol": float(np.mean([x["vol"] for x in stats])),
            "kurtosis": float(np.mean([x["kurtosis"] for x in stats])),
            "hourly_vol_p5_p50_p95": [float(np.mean([x["hourly_vol_p5_p50_p95"][i] for x in stats])) for i in range(3)],
            "abs_return_acf": {lag: float(np.mean([x["abs_return_acf"][lag] for x in stats])) for lag in (1, 10, 60)},
            "hourly_vol_acf1": float(np.mean([x["hourly_vol_acf1"] for x in stats])),
        }
        out.append((_path_loss(avg, target), {**attrs.asdict(params), "stats": avg}))
    out.sort(key=lambda x: x[0])
    return out


# ============================================================================ kbot against the sim
@attrs.frozen(slots=True)
class ShadowTrade:
    ticker: str
    event_ticker: str
    series: str
    ts: float
    side: str  # yes | no
    count: Decimal
    price: Decimal
    fee: Decimal
    prob: float  # kbot's probability of the side bought
    true_prob: float | None  # the sim's true probability of that side
    result: str = ""  # yes | no once settled

    @property
    def pnl(self) -> Decimal:
        won = (self.result == "yes") == (self.side == "yes")
        return self.count * (Decimal(1 if won else 0) - self.price) - self.fee


@attrs.define
class ShadowResult:
    trades: list[ShadowTrade] = attrs.field(factory=list)
    decisions: int = 0

    @property
    def settled(self) -> list[ShadowTrade]:
        return [t for t in self.trades if t.result]

    def summary(self) -> dict[str, float]:
        """Total PnL after fees, per contract, and a standard error clustered by event
        (trades in one event share one outcome; without clustering the noise is understated)."""
        tr = self.settled
        contracts = float(sum(t.count for t in tr))
        pnl = float(sum(t.pnl for t in tr))
        by_event: dict[str, float] = defaultdict(float)
        for t in tr:
            by_event[t.event_ticker] += float(t.pnl)
        e = np.array(list(by_event.values()))
        se = float(e.std(ddof=1) * math.sqrt(len(e))) if len(e) > 1 else math.nan
        fees = float(sum(t.fee for t in tr))
        true_ev = sum(float(t.count) * (t.true_prob - float(t.price)) - float(t.fee) for t in tr if t.true_prob is not None)
        return {
            "trades": len(tr), "events": len(e), "contracts": contracts, "pnl": pnl, "pnl_se": se, "fees": fees,
            "pnl_per_contract": pnl / contracts if contracts else math.nan, "true_ev": true_ev,
        }


class KbotShadow:
    """kbot's own pure pricing and decision functions (``kbot.model.pricing.price_market``,
    ``kbot.model.decide.evaluate``, its EWMA volatility and default gates and sizing) applied to
    the simulated books every second, in shadow mode: a TAKE buys at the ask it saw, pays the
    taker fee and is settled on the market's result. This is kbot at its best: it sees the index
    and the books with no latency at all. The implied-volatility gate is off (it needs the
    decision actor's event fit)."""

    def __init__(self, balance: Decimal = Decimal(1000)) -> None:
        from kbot.model.config import GateConfig, PricerConfig, RiskConfig, SizingConfig, VolConfig
        from kbot.model.vol import EwmaVol

        self.vol_cfg = VolConfig()
        self.vol = EwmaVol(self.vol_cfg)
        self.pricer = PricerConfig()
        self.gates = GateConfig()
        self.sizing = SizingConfig()
        self.risk = RiskConfig()
        self.balance = balance
        self.result = ShadowResult()
        self._open: dict[str, list[ShadowTrade]] = defaultdict(list)
        self._takes: dict[str, list[float]] = defaultdict(list)

    def warm(self, ex: Exchange, t: int) -> None:
        """The volatility estimate as a running kbot has it: an hour of index history."""
        step = int(self.vol_cfg.sample_interval_s)
        for s in range(t - 3600 - (t % step), t + 1, step):
            self.vol.add_sample(float(s), ex.path.price(s))

    def step(self, ex: Exchange, s: int) -> None:
        from kbot.messages import IndexUpdate, MarketInfo, Quote
        from kbot.model.decide import evaluate
        from kbot.model.pricing import price_market
        from kbot.model.prob import prob_yes
        from kbot.model.risk import RiskView
        from kbot.model.settlement import WindowObservation

        spot = ex.path.price(s)
        if s % int(self.vol_cfg.sample_interval_s) == 0:
            self.vol.add_sample(float(s), spot)
        est = self.vol.estimate(float(s))
        index = IndexUpdate(ts=float(s), price=spot, n_sources=1, sources=("brti",), stale=False, avg_60s=None,
                            sigma=est.sigma, sigma_source=est.source, sigma_reason=est.reason, method="brti")
        exposure = sum((t.count * t.price for ts in self._open.values() for t in ts), Decimal(0))
        for m in ex.tradable_markets(s):
            if not m.floor_published or m.strike.floor is None:
                continue
            bid, bsz, ask, asz = _top(ex, m.ticker)
            if bid is None or ask is None or not (0.03 <= ask <= 0.97 or 0.03 <= 1.0 - bid <= 0.97):
                continue
            takes = [x for x in self._takes.get(m.ticker, ()) if x > s - 86400]
            if sum(1 for x in takes if x > s - 3600) >= self.gates.max_takes_per_hour or len(takes) >= self.gates.max_takes_per_day:
                continue  # evaluate would PASS it on the cooldown
            close = int(m.close_ts)
            observed_avg, observed_s = None, 0.0
            if close - s < self.pricer.window_s:
                known_sum, known_n = ex.window_known(m, s)
                observed_avg, observed_s = (known_sum / known_n if known_n else None), float(known_n)
            # A screen that can only let more through than kbot's own EV gate: the EV of either
            # side before fees (fees are never negative) must reach min_ev.
            p = prob_yes(m.strike.strike_type, m.strike.floor, m.strike.cap, spot, est.sigma, close - s,
                         window_s=self.pricer.window_s, observed_avg=observed_avg, observed_s=observed_s)
            if p is None or max(p - ask, bid - p) < self.gates.min_ev:
                continue
            quote = Quote(ts=float(s), ticker=m.ticker, yes_bid=Decimal(str(bid)), yes_ask=Decimal(str(ask)),
                          yes_bid_size=Decimal(bsz), yes_ask_size=Decimal(asz), source="book", recv_ts=float(s))
            info = MarketInfo(ticker=m.ticker, event_ticker=m.event_ticker, series_ticker=m.series_ticker, status="active",
                              strike_type=m.strike.strike_type, floor_strike=m.strike.floor, cap_strike=m.strike.cap,
                              open_ts=m.open_ts, close_ts=m.close_ts, fee_multiplier=Decimal(1), updated_ts=float(s))
            window = None
            if observed_s:
                window = WindowObservation(avg=observed_avg, observed_s=observed_s, due_s=observed_s, complete=True)
            edge = price_market(info, index, quote, float(s), self.pricer, window=window)
            best = max((e for e in (edge.ev_yes, edge.ev_no) if e is not None), default=None)
            if best is None or best < self.gates.min_ev:
                continue
            self.result.decisions += 1
            self._takes[m.ticker] = takes
            market_exp = sum((t.count * t.price for t in self._open.get(m.ticker, ())), Decimal(0))
            view = RiskView(kill_reason=None, has_portfolio=True, balance=self.balance, total_exposure=exposure,
                            market_exposure=market_exp, open_orders_total=0, open_orders_market=0, pending=False,
                            takes_hour=sum(1 for x in takes if x > s - 3600), takes_day=len(takes), daily_pnl=Decimal(0))
            ev = evaluate(edge, now=float(s), risk=view, implied_sigma=None, gates=self.gates, sizing=self.sizing,
                          risk_config=self.risk)
            if ev.action != "TAKE" or ev.final is None or ev.side is None:
                continue
            truth = ex.truth.now(m.ticker)
            trade = ShadowTrade(
                ticker=m.ticker, event_ticker=m.event_ticker, series=m.series_ticker, ts=float(s), side=ev.side,
                count=ev.count, price=ev.final.price, fee=ev.final.fee, prob=ev.final.prob,
                true_prob=None if truth is None else (truth if ev.side == "yes" else 1.0 - truth),
            )
            self._open[m.ticker].append(trade)
            self._takes[m.ticker].append(float(s))
            self.balance -= trade.count * trade.price + trade.fee
            exposure += trade.count * trade.price

    def settle(self, ex: Exchange) -> None:
        """Close the positions of markets that have a result."""
        for ticker in list(self._open):
            m = ex.markets.get(ticker)
            if m is None or not m.result:
                continue
            for t in self._open.pop(ticker):
                done = attrs.evolve(t, result=m.result)
                self.result.trades.append(done)
                self.balance += done.count * done.price + done.fee + done.pnl


# ============================================================================ report
def measure(obs: Observed) -> dict[str, Any]:
    """Every figure of one side (real or simulated)."""
    table: tuple[tuple[str, Any, Any], ...] = (
        ("spread_15m", obs.spreads_15m, spread_stats),
        ("inside_size_15m", obs.sizes_15m, size_stats),
        ("book_changes_15m", obs.tops_15m, change_rates),
        ("trades_15m", obs.trades_15m, trade_stats),
        ("quote_lag_15m", obs.lag_series, lag_profile),
        ("outcomes_15m", obs.outcomes_15m, outcome_stats),
        ("spread_hourly", obs.spreads_hourly, spread_stats),
        ("outcomes_hourly", obs.outcomes_hourly, outcome_stats),
        ("outcomes_ladder", obs.outcomes_ladder, outcome_stats),
    )
    out: dict[str, Any] = {name: fn(data) for name, data, fn in table if data}
    if obs.paths:
        out["paths"] = {name: path_stats(p, step) for name, (p, step) in obs.paths.items()}
    return out


def _fmt(x: Any, nd: int = 2) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    if isinstance(x, float):
        return f"{x:.{nd}f}"
    return str(x)


def _rows(real: dict[str, Any], sim: dict[str, Any]) -> list[tuple[str, str, str]]:
    rows: list[tuple[str, str, str]] = []

    def get(d: dict[str, Any], *path: Any) -> Any:
        for k in path:
            if not isinstance(d, dict) or k not in d:
                return None
            d = d[k]
        return d

    def add(label: str, *path: Any, nd: int = 2) -> None:
        rows.append((label, _fmt(get(real, *path), nd), _fmt(get(sim, *path), nd)))

    for b in ("middle", "wing", "tail"):
        add(f"KXBTC15M spread, mid {b} (cents: mean)", "spread_15m", b, "mean")
        add(f"KXBTC15M spread, mid {b} (cents: p90)", "spread_15m", b, "p90", nd=1)
    for q in ("p10", "p50", "p90"):
        add(f"KXBTC15M inside size, mids 10-90c (contracts, {q})", "inside_size_15m", q, nd=0)
    add("KXBTC15M seconds in which the top of book changed", "book_changes_15m", "top_change_share")
    add("KXBTC15M seconds in which the top price changed", "book_changes_15m", "top_price_change_share")
    add("KXBTC15M trades per second per market", "trades_15m", "trades_per_s")
    add("KXBTC15M trade size median (contracts)", "trades_15m", "size_median", nd=1)
    add("KXBTC15M trade size log-sd", "trades_15m", "size_log_sd")
    add("KXBTC15M taker YES share", "trades_15m", "taker_yes_share")
    add("KXBTC15M trades in the last minute (share)", "trades_15m", "last_minute_share", nd=3)
    for lag in range(4):
        rows.append(
            (
                f"KXBTC15M mid response to spot within {lag} s (share)",
                _fmt((real.get("quote_lag_15m") or [None] * 9)[lag]),
                _fmt((sim.get("quote_lag_15m") or [None] * 9)[lag]),
            )
        )
    for h in HORIZONS_15M:
        add(f"KXBTC15M market Brier at {h} s (n)", "outcomes_15m", "horizons", h, "n", nd=0)
        add(f"KXBTC15M market Brier at {h} s", "outcomes_15m", "horizons", h, "market_brier", nd=4)
        add(f"KXBTC15M true-probability Brier at {h} s", "outcomes_15m", "horizons", h, "true_brier", nd=4)
    add("KXBTC15M favourite-longshot tilt (logit slope)", "outcomes_15m", "tilt")
    for b in ("middle", "wing", "tail"):
        add(f"KXBTC hourly bracket spread, mid {b} (cents: mean)", "spread_hourly", b, "mean")
    for h in HORIZONS_HOURLY:
        add(f"KXBTC bracket market Brier at {h // 60} min (n)", "outcomes_hourly", "horizons", h, "n", nd=0)
        add(f"KXBTC bracket market Brier at {h // 60} min", "outcomes_hourly", "horizons", h, "market_brier", nd=4)
        add(f"KXBTC bracket true-probability Brier at {h // 60} min", "outcomes_hourly", "horizons", h, "true_brier", nd=4)
    add("KXBTC bracket favourite-longshot tilt (logit slope)", "outcomes_hourly", "tilt")
    return rows


def _path_rows(real: dict[str, Any], sim: dict[str, Any]) -> list[tuple[str, str, str]]:
    rows = []
    pairs = (("coinbase 1m, 7 days", "1m"), ("index 5s, 12 hours", "5s, 12 hours"))
    for rname, sname in pairs:
        r = (real.get("paths") or {}).get(rname) or {}
        s = (sim.get("paths") or {}).get(sname) or {}
        step = "1 min" if "1m" in rname else "5 s"
        rows.append((f"BTC {step} returns: annualized vol", _fmt(r.get("vol")), _fmt(s.get("vol"))))
        rows.append((f"BTC {step} returns: kurtosis", _fmt(r.get("kurtosis"), 1), _fmt(s.get("kurtosis"), 1)))
        for i, q in enumerate(("p5", "p50", "p95")):
            rows.append(
                (
                    f"BTC {step}: hourly realized vol {q}",
                    _fmt((r.get("hourly_vol_p5_p50_p95") or [None] * 3)[i]),
                    _fmt((s.get("hourly_vol_p5_p50_p95") or [None] * 3)[i]),
                )
            )
        for lag in (1, 10, 60):
            rows.append(
                (
                    f"BTC {step}: |return| autocorrelation, lag {lag}",
                    _fmt((r.get("abs_return_acf") or {}).get(lag)),
                    _fmt((s.get("abs_return_acf") or {}).get(lag)),
                )
            )
        rows.append((f"BTC {step}: hour-to-hour vol autocorrelation", _fmt(r.get("hourly_vol_acf1")), _fmt(s.get("hourly_vol_acf1"))))
    return rows


def _int_keys(d: dict[str, Any]) -> dict[Any, Any]:
    """JSON turned the horizons' and lags' integer keys into strings: turn them back."""
    return {int(k) if k.isdigit() else k: v for k, v in d.items()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m kbot.sim.calibrate", description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the real recordings (default ../shared/data)")
    ap.add_argument("--hours", type=float, default=6.0, help="simulated hours per seed (default 6)")
    ap.add_argument("--seeds", default="1,2", help="simulation seeds (default 1,2)")
    ap.add_argument("--path-days", type=float, default=7.0, help="days of simulated index for the path figures")
    ap.add_argument("--mispricing", type=float, default=0.0, help="SimConfig.mispricing for the sim side")
    ap.add_argument("--kbot", action="store_true", help="also let kbot's model trade the sim (shadow PnL)")
    ap.add_argument("--no-real", action="store_true")
    ap.add_argument("--no-sim", action="store_true")
    ap.add_argument("--json", type=Path, help="write every figure to this file")
    ap.add_argument("--fit-path", action="store_true", help="fit the index path's parameters to the real 1-minute series")
    ap.add_argument("--markdown", action="store_true", help="print the table as markdown")
    ap.add_argument("--from-json", type=Path, help="print the table of a saved --json result instead of measuring")
    args = ap.parse_args(argv)
    if args.fit_path:
        fitted = fit_path(measure(read_real(args.data)))
        for loss, params in fitted[:10]:
            st = params.pop("stats")
            print(f"loss {loss:.4f}: {params}")
            print(f"    {st}")
        return 0
    real: dict[str, Any] = {}
    sim: dict[str, Any] = {}
    shadow_summary = None
    if args.from_json:
        saved = json.loads(args.from_json.read_text(), object_hook=_int_keys)
        real, sim, shadow_summary = saved["real"], saved["sim"], saved.get("kbot_shadow")
        args.no_real = args.no_sim = True
    if not args.no_real:
        if not args.data.exists():
            print(f"no real data at {args.data} (use --data)", file=sys.stderr)
            return 2
        real = measure(read_real(args.data))
    if not args.no_sim:
        merged = Observed()
        shadow = KbotShadow() if args.kbot else None
        for seed in (int(x) for x in args.seeds.split(",")):
            obs = simulate(args.hours, seed, SimConfig(mispricing=args.mispricing), shadow=shadow)
            merged.spreads_15m += obs.spreads_15m
            merged.sizes_15m += obs.sizes_15m
            merged.tops_15m.update({f"{seed}/{k}": v for k, v in obs.tops_15m.items()})
            merged.outcomes_15m += obs.outcomes_15m
            merged.spreads_hourly += obs.spreads_hourly
            merged.outcomes_hourly += obs.outcomes_hourly
            merged.outcomes_ladder += obs.outcomes_ladder
            merged.trades_15m.update({f"{seed}/{k}": v for k, v in obs.trades_15m.items()})
            merged.lag_series += obs.lag_series
        merged.paths = simulate_path(args.path_days)
        sim = measure(merged)
        if shadow is not None:
            shadow_summary = shadow.result.summary()
    width = 58
    rows = _rows(real, sim) + _path_rows(real, sim)
    if args.markdown:
        print("| figure | real | sim |\n| --- | --: | --: |")
        for label, r, s in rows:
            print(f"| {label} | {r} | {s} |")
    else:
        print(f"{'figure':<{width}} {'real':>10} {'sim':>10}")
        for label, r, s in rows:
            print(f"{label:<{width}} {r:>10} {s:>10}")
    if "outcomes_ladder" in sim:
        for h, e in sim["outcomes_ladder"]["horizons"].items():
            print(f"KXBTCD (sim only) at {h // 60} min: market Brier {_fmt(e['market_brier'], 4)}, true {_fmt(e.get('true_brier'), 4)} (n {e['n']})")
    if shadow_summary is not None:
        print("kbot's model trading the sim (shadow): " + ", ".join(f"{k} {_fmt(v)}" for k, v in shadow_summary.items()))
    if args.json:
        args.json.write_text(json.dumps({"real": real, "sim": sim, "kbot_shadow": shadow_summary}, indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
