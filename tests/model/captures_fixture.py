"""A small synthetic folder of KXBTC hourly captures in the ``crypto_hourly.v1`` layout (written
by the tests; no real data): a GBM spot path, ladders of $100 brackets quoted around the GBM
probability with noise, two captures per event (~37 and ~5 min before the close) and each
event's official results in the next event's first capture."""

from __future__ import annotations

import gzip
import json
import math
import random
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from kbot.model.prob import prob_between

T0 = datetime(2026, 8, 1, tzinfo=UTC).timestamp()


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


def write_captures(folder: Path, *, events: int = 12, seed: int = 3, sigma: float = 0.4, width: int = 12,
                   noise: float = 0.02) -> Path:
    rng = random.Random(seed)
    spot = 100_000.0
    path: dict[float, float] = {}
    t = T0 - 3600.0
    while t <= T0 + 3600.0 * (events + 1):
        path[t] = spot
        spot *= math.exp(sigma * math.sqrt(60.0 / (365.25 * 86400)) * rng.gauss(0, 1))
        t += 60.0
    times = sorted(path)

    def at(ts: float) -> float:
        return path[max(x for x in times if x <= ts)]

    lines: dict[str, list[str]] = {}
    prev: dict | None = None
    for k in range(events):
        close = T0 + 3600.0 * (k + 1)
        ev = f"KXBTC-26AUG01{k:02d}"
        center = round(at(close - 2220.0) / 100.0) * 100.0
        floors = [center + 100.0 * i for i in range(-width, width)]
        settle_value = sum(at(close - s) for s in range(60, 0, -1)) / 60.0
        results = {}
        outcomes_for = []
        for i, f in enumerate(floors):
            if i == 0:
                tk, st, lo, hi = f"{ev}-T{f:.0f}", "less", None, f
            elif i == len(floors) - 1:
                tk, st, lo, hi = f"{ev}-T{f - 0.01:.2f}", "greater", f - 0.01, None
            else:
                tk, st, lo, hi = f"{ev}-B{f + 50:.0f}", "between", f, f + 99.99
            won = (lo is None or settle_value >= lo) and (hi is None or settle_value <= hi)
            results[tk] = "yes" if won else "no"
            outcomes_for.append((tk, st, lo, hi))
        for before in (2220.0, 300.0):
            ts = close - before + rng.uniform(-20, 20)
            s = at(ts)
            outs = []
            for tk, st, lo, hi in outcomes_for:
                p = float(prob_between(np.array([lo or 0.0]), np.array([hi if hi is not None else np.inf]), s, sigma,
                                       close - ts)[0])
                mid = min(0.99, max(0.0, p + rng.gauss(0, noise)))
                bid = max(0.0, math.floor(mid * 100 - 1) / 100)
                ask = min(1.0, max(bid + 0.01, math.ceil(mid * 100 + 1) / 100))
                outs.append({"ticker": tk, "strike_type": st, "floor_strike": lo, "cap_strike": hi,
                             "yes_bid": round(bid, 2), "yes_ask": round(ask, 2), "no_bid": round(1 - ask, 2),
                             "no_ask": round(1 - bid, 2), "title": "Bitcoin price range"})
            doc = {
                "schema_version": "crypto_hourly.v1", "symbol": "BTC", "series": "KXBTC", "venue": "kalshi",
                "captured_at": datetime.fromtimestamp(ts, UTC).isoformat(),
                "spot": {"price": round(s, 2), "bid": round(s - 0.01, 2), "ask": round(s + 0.01, 2),
                         "source": "coinbase", "product": "BTC-USD"},
                "current": {"event_ticker": ev, "open_time": _iso(close - 3600), "close_time": _iso(close),
                            "outcomes": outs, "status": "ok"},
                "previous_settlement": prev if before == 2220.0 and prev else {"status": "no_current_group"},
            }
            day = datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d")
            lines.setdefault(day, []).append(json.dumps(doc))
        prev = {"event_ticker": ev, "expiration_value": f"{settle_value:.2f}", "results": results,
                "status": "settled"}
    # one more capture carrying the last results, and an ETH line to be ignored
    tail_ts = T0 + 3600.0 * events + 1380.0
    tail = {"schema_version": "crypto_hourly.v1", "symbol": "BTC", "series": "KXBTC",
            "captured_at": datetime.fromtimestamp(tail_ts, UTC).isoformat(),
            "spot": {"price": round(at(tail_ts), 2)}, "current": {"status": "no_hourly_group_found"},
            "previous_settlement": prev}
    day = datetime.fromtimestamp(tail_ts, UTC).strftime("%Y-%m-%d")
    lines.setdefault(day, []).extend([json.dumps(tail), json.dumps({"symbol": "ETH", "captured_at": _iso(tail_ts)})])
    out = folder / "crypto_hourly"
    out.mkdir(parents=True, exist_ok=True)
    for day, ls in lines.items():
        with gzip.open(out / f"dt={day}.jsonl.gz", "wt", encoding="utf-8") as fh:
            fh.write("\n".join(ls) + "\n")
    return folder
