"""Loaders for the real recordings under ../shared/data (never copied into the repository).

Each loader skips the calling test when its data is absent (``tests.conftest.shared_path``)
and caches what it parsed for the session.
"""

from __future__ import annotations

import csv
import functools
import glob
import gzip
import json
from datetime import datetime
from pathlib import Path

from tests.conftest import shared_path


def iso_ts(s: str) -> float:
    return datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


def csv_series(path: Path, ts_col: str, px_col: str) -> list[tuple[float, float]]:
    out = []
    with gzip.open(path, "rt") as f:
        for row in csv.DictReader(f):
            ts = row[ts_col]
            if "+" not in ts[10:] and not ts.endswith("Z"):
                ts += "+00:00"
            out.append((iso_ts(ts.replace(" ", "T")), float(row[px_col])))
    out.sort()
    return out


@functools.cache
def _coinbase_1m() -> tuple[tuple[float, float], ...]:
    p = shared_path("data", "ajgambino_coinbase_btc_1m", "btc_prices.csv.gz")
    return tuple(csv_series(p, "timestamp", "price"))


def coinbase_1m() -> tuple[tuple[float, float], ...]:
    """Coinbase BTC-USD one-minute closes, 7 days (Dec 2025)."""
    shared_path("data", "ajgambino_coinbase_btc_1m", "btc_prices.csv.gz")
    return _coinbase_1m()


def btc_5m_feb() -> list[tuple[float, float]]:
    """Yahoo BTC-USD 5-minute closes, February 2026."""
    p = shared_path("data", "stockdatasave_btc_usd", "BTC-USD", "2026-02_5m.csv.gz")
    return csv_series(p, "dt", "close")


def btc_5s() -> list[tuple[float, float]]:
    """An aggregated BTC/USD price every ~5 s for 12 hours (Feb 2026)."""
    p = shared_path("data", "optimizeforall_btc_5s", "btc_prices.csv.gz")
    return csv_series(p, "timestamp", "price")


class Kxbtc15m:
    """KXBTC15M strikes, official results, Coinbase trade ticks and Kalshi ticker quotes."""

    def __init__(self, root: Path) -> None:
        self.strikes: dict[str, tuple[float, float]] = {}  # ticker -> (strike, close_ts)
        for f in glob.glob(str(root / "research_data/*/raw_events/type=watch_market/**/*.gz"), recursive=True):
            with gzip.open(f, "rt") as fh:
                for line in fh:
                    p = json.loads(line)["payload_json"]
                    if p.get("strike") is not None:
                        self.strikes[p["market_ticker"]] = (float(p["strike"]), iso_ts(p["close_time"]))
        self.results: dict[str, str] = {}
        for f in glob.glob(str(root / "logs/**/market_results*.json.gz"), recursive=True):
            with gzip.open(f, "rt") as fh:
                for d in json.load(fh):
                    if d.get("result") in ("yes", "no"):
                        self.results[d["market"]] = d["result"]
        ticks: dict[float, float] = {}
        for f in glob.glob(str(root / "logs/**/*spot_ticks*.ndjson.gz"), recursive=True):
            with gzip.open(f, "rt") as fh:
                for line in fh:
                    d = json.loads(line)
                    ticks[iso_ts(d["exchange_ts_utc"])] = float(d["price"])
        self.tick_ts = sorted(ticks)
        self.tick_px = [ticks[t] for t in self.tick_ts]
        self.quotes: dict[str, list[tuple[float, float, float]]] = {}  # ticker -> [(ts, bid, ask)]
        for f in glob.glob(str(root / "research_data/*/raw_events/type=ticker/**/*.gz"), recursive=True):
            with gzip.open(f, "rt") as fh:
                for line in fh:
                    w = json.loads(line)
                    p = w["payload_json"]
                    bid, ask = p.get("yes_bid_dollars"), p.get("yes_ask_dollars")
                    if bid is None or ask is None or w["market_ticker"] not in self.strikes:
                        continue
                    self.quotes.setdefault(w["market_ticker"], []).append((p["ts_ms"] / 1000.0, float(bid), float(ask)))
        for q in self.quotes.values():
            q.sort()

    def settled(self) -> list[tuple[str, float, float, int]]:
        """(ticker, strike, close_ts, outcome) for markets with a strike and an official result."""
        return sorted(
            (t, k, c, 1 if self.results[t] == "yes" else 0) for t, (k, c) in self.strikes.items() if t in self.results
        )


@functools.cache
def _kxbtc15m() -> Kxbtc15m:
    return Kxbtc15m(shared_path("data", "organics_kxbtc15m"))


def kxbtc15m() -> Kxbtc15m:
    shared_path("data", "organics_kxbtc15m")
    return _kxbtc15m()
