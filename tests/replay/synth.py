"""Synthetic recordings in the organics recorder layout, written by the tests themselves (the
shapes follow ``../shared/data/organics_kxbtc15m/SOURCE.md``; no real data is copied).

One KXBTC15M market per session: a book (snapshot, then a size change at the best YES bid every
second), ticker frames every 5 s, Coinbase trade ticks every second from 15 minutes before the
session (volatility warm-up), and an official result. ``after``: from ``switch_ts`` on the book
and the spot move to ``after`` ("up": YES at 0.96/0.98, "down": YES at 0.02/0.04), so the
future holds an obvious signal.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import math
import random
from pathlib import Path
from typing import Any

CLOSE = 1_790_001_000.0  # a quarter hour (2026-09-21 14:30 UTC)
STRIKE = 95_000.0


def iso(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def ticker_for(close: float) -> str:
    et = dt.datetime.fromtimestamp(close, dt.UTC) - dt.timedelta(hours=4)  # EDT
    return f"KXBTC15M-{et:%y%b%d%H%M}-{et:%M}".upper()


def _gz(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.writelines(line + "\n" for line in lines)


def _wrap(t: float, event_type: str, ticker: str, payload: Any, seq: int | None = None, channel: str = "control") -> dict[str, Any]:
    return {"channel": channel, "connection_id": "synth-1", "event_type": event_type, "local_recv_ns": int(round(t * 1e9)),
            "local_recv_ts": iso(t), "market_ticker": ticker, "payload_json": payload, "sequence_number": seq}


def write_session(root: Path, name: str, *, close: float = CLOSE, after: str = "up", switch_before_close_s: float = 200.0,
                  result: str | None = "yes", deltas: bool = True, seed: int = 1, length_s: float = 420.0,
                  warmup_s: float = 120.0) -> dict[str, Any]:
    """Write one session covering the last ``length_s`` of the market (spot ticks from
    ``warmup_s`` before it); returns what a test needs to know about it."""
    ticker = ticker_for(close)
    start = close - length_s
    switch = close - switch_before_close_s
    rng = random.Random(seed)
    events: dict[str, list[dict[str, Any]]] = {}

    def add(kind: str, row: dict[str, Any]) -> None:
        events.setdefault(kind, []).append(row)

    add("watch_market", _wrap(start, "watch_market", ticker, {"close_time": iso(close), "market_ticker": ticker,
                                                              "status": "active", "strike": STRIKE}))
    add("ws_connected", _wrap(start + 0.1, "ws_connected", ticker, {"market_ticker": ticker}))
    add("ws_subscribed", _wrap(start + 0.15, "ws_subscribed", ticker,
                               {"id": 1, "msg": {"channel": "ticker", "sid": 1}, "type": "subscribed"}))
    yes_bid, no_bid = 0.38, 0.60  # YES 0.38 / 0.40
    book: dict[str, dict[float, float]] = {
        "yes": {round(yes_bid - k * 0.01, 2): 100.0 * (k + 1) for k in range(3)},
        "no": {round(no_bid - k * 0.01, 2): 100.0 * (k + 1) for k in range(3)},
    }
    seq = 1
    add("orderbook_snapshot", _wrap(start + 0.2, "orderbook_snapshot", ticker, {
        "market_ticker": ticker,
        "yes_dollars_fp": [[f"{p:.4f}", f"{q:.2f}"] for p, q in sorted(book["yes"].items())],
        "no_dollars_fp": [[f"{p:.4f}", f"{q:.2f}"] for p, q in sorted(book["no"].items())]}, seq, "orderbook_delta"))

    def delta(t: float, side: str, price: float, qty: float) -> None:
        nonlocal seq
        seq += 1
        price = round(price, 2)
        book[side][price] = book[side].get(price, 0.0) + qty
        if book[side][price] <= 0:
            del book[side][price]
        add("orderbook_delta", _wrap(t, "orderbook_delta", ticker, {
            "market_ticker": ticker, "price_dollars": f"{price:.4f}", "delta_fp": f"{qty:.2f}", "side": side,
            "ts": iso(t), "ts_ms": int(t * 1000)}, seq, "orderbook_delta"))

    sign = 1
    t = start + 1.0
    moved = False
    while t < close - 1.0:
        if not moved and t >= switch and after in ("up", "down"):
            new_yes, new_no = (0.96, 0.02) if after == "up" else (0.02, 0.96)
            k = 0
            for side in ("yes", "no"):
                for price, qty in sorted(book[side].items()):
                    k += 1
                    delta(t + 0.001 * k, side, price, -qty)
            for side, best in (("yes", new_yes), ("no", new_no)):
                for j in range(3):
                    k += 1
                    delta(t + 0.001 * k, side, best - j * 0.01, 100.0 * (j + 1))
            yes_bid, no_bid, moved = new_yes, new_no, True
        else:
            delta(t, "yes", yes_bid, 5.0 * sign)
            sign = -sign
        if int(t - start) % 5 == 0:
            add("ticker", _wrap(t + 0.05, "ticker", ticker, {
                "market_ticker": ticker, "yes_bid_dollars": f"{yes_bid:.4f}", "yes_ask_dollars": f"{1 - no_bid:.4f}",
                "yes_bid_size_fp": "100.00", "yes_ask_size_fp": "100.00", "price_dollars": f"{yes_bid:.4f}",
                "volume_fp": "1000.00", "open_interest_fp": "500.00", "ts": int(t), "ts_ms": int(t * 1000),
                "time": iso(t)}, None, "ticker"))
        t += 1.0
    base = root / "research_data" / name / "raw_events"
    day = dt.datetime.fromtimestamp(start, dt.UTC)
    for kind, rows in events.items():
        if kind in ("orderbook_delta",) and not deltas:
            continue
        _gz(base / f"type={kind}" / f"day={day:%Y-%m-%d}" / f"hour={day:%H}" / "part-synth.ndjson.gz",
            [json.dumps(r) for r in rows])
    logs = root / "logs" / "particle_research" / "real_shadow" / name
    ticks = []
    px = STRIKE - 5.0
    for k in range(int(start - warmup_s), int(close)):
        px *= math.exp(0.5 * math.sqrt(1.0 / 31_557_600.0) * rng.gauss(0.0, 1.0))
        level = px if k < switch else px + (1000.0 if after == "up" else -1000.0)
        ticks.append(json.dumps({"exchange_ts_utc": iso(k + 0.2), "local_recv_ns": int((k + 0.3) * 1e9),
                                 "local_recv_ts_utc": iso(k + 0.3), "price": round(level, 2), "raw_event_type": "match",
                                 "schema_version": "spot-tick-v1", "source": "coinbase_btcusd_matches",
                                 "symbol": "BTC-USD", "trade_id": f"{name}-{k}"}))
    _gz(logs / "independent_spot_ticks.ndjson.gz", ticks)
    if result is not None:
        rows = [{"close_time": iso(close).replace(".000000", ""), "market": ticker, "result": result,
                 "source": "kalshi_public_market", "status": "finalized"}]
        logs.mkdir(parents=True, exist_ok=True)
        (logs / "market_results_full_refresh.json.gz").write_bytes(gzip.compress(json.dumps(rows).encode()))
    return {"ticker": ticker, "start": start, "close": close, "switch": switch, "deltas": seq - 1}


REPLAY_SETTINGS: dict[str, Any] = {
    # no cross-market implied vol in a one-market session; a warm volatility after 5 samples
    "gates": {"max_vol_ratio": 0.0},
    "vol": {"min_samples": 5},
    "replay": {"tail_s": 30.0},
    # the trading path under test: the raw GBM, without the evidence gate (a one-market synthetic
    # session has no record to show an edge from)
    "model": {"params_file": "gbm-raw"},
    "evidence": {"gate": False},
}
