"""The simulated Binance USD-M mark-price stream: the BTC perpetual's funding rate (sans-IO).

Served at ``ws://HOST:PORT/binance-usdm/ws/<symbol>@markPrice[@1s]`` (raw) and
``/binance-usdm/stream?streams=...`` (combined ``{"stream", "data"}``), in Binance's
``markPriceUpdate`` shape (``reference/spot-feeds.md`` 2D). ``@markPrice@1s`` updates every sim
second, ``@markPrice`` every 3. The mark price is the feed hub's price process (a perpetual
trades at a small premium to spot); the funding rate is a smooth deterministic function of sim
time and the seed around Binance's usual 0.01 % per 8 h (it varies between about -0.005 % and
+0.035 %, with a three-day and a nine-hour cycle), settling every 8 h (00:00, 08:00, 16:00 UTC).
Added minimally beside the spot feeds (one ``FEEDS`` entry, one protocol, the routes).
"""

from __future__ import annotations

import json
import math
from typing import Any
from urllib.parse import parse_qs

from kbot.sim.feed_protocols import FeedProtocol
from kbot.sim.spot import SpotQuote

INTERVAL_S = 8 * 3600.0


def funding_rate_at(ts: float, seed: int = 0) -> float:
    """The simulated funding rate per 8 h at sim time ``ts``."""
    phase = (seed % 997) / 997.0 * 2.0 * math.pi
    slow = math.sin(2.0 * math.pi * ts / (3 * 86400.0) + phase)
    fast = math.sin(2.0 * math.pi * ts / (9 * 3600.0) + 2.0 * phase)
    return round(0.0001 + 0.0002 * slow + 0.00005 * fast, 8)


def mark_price_update(q: SpotQuote, symbol: str, seed: int = 0) -> dict[str, Any]:
    rate = funding_rate_at(q.ts, seed)
    mid = (q.bid + q.ask) / 2.0
    mark = mid * (1.0 + 0.5 * rate)  # the perpetual's premium follows funding
    t = int(q.ts * 1000)
    nxt = int((math.floor(q.ts / INTERVAL_S) + 1) * INTERVAL_S * 1000)
    return {
        "e": "markPriceUpdate",
        "E": t,
        "s": symbol,
        "p": f"{mark:.8f}",
        "i": f"{mid:.8f}",
        "P": f"{mid:.8f}",
        "r": f"{rate:.8f}",
        "T": nxt,
    }


class BinanceUsdmProtocol(FeedProtocol):
    """Binance USD-M futures streams (mark price only)."""

    name = "binance_usdm"

    def __init__(self, streams: list[str], combined: bool, seed: int = 0) -> None:
        self.streams = [s for s in dict.fromkeys(streams) if s]
        self.combined = combined
        self.seed = seed
        self.last_sent: dict[str, float] = {}

    @classmethod
    def from_path(cls, path: str, query: str, seed: int = 0) -> BinanceUsdmProtocol:
        """``/binance-usdm/ws/<stream>`` or ``/binance-usdm/stream?streams=a/b``."""
        rest = path.split("/binance-usdm", 1)[1].strip("/")
        if rest.startswith("stream"):
            return cls(parse_qs(query).get("streams", [""])[0].split("/"), combined=True, seed=seed)
        return cls([rest.removeprefix("ws").strip("/")], combined=False, seed=seed)

    def on_text(self, text: str, now: float, last: SpotQuote | None) -> list[str]:
        try:
            msg = json.loads(text)
        except ValueError:
            return [json.dumps({"code": 2, "msg": "Invalid JSON"})]
        if not isinstance(msg, dict):
            return [json.dumps({"code": 2, "msg": "Invalid request"})]
        method, params, mid = msg.get("method"), msg.get("params") or [], msg.get("id")
        if method == "SUBSCRIBE":
            self.streams += [s for s in params if isinstance(s, str) and s not in self.streams]
        elif method == "UNSUBSCRIBE":
            self.streams = [s for s in self.streams if s not in params]
        elif method == "LIST_SUBSCRIPTIONS":
            return [json.dumps({"result": list(self.streams), "id": mid})]
        else:
            return [json.dumps({"code": 2, "msg": f"Invalid request: unknown method {method!r}", "id": mid})]
        return [json.dumps({"result": None, "id": mid})]

    def on_quote(self, q: SpotQuote) -> list[str]:
        out = []
        for stream in self.streams:
            sym, _, kind = stream.partition("@")
            if kind not in ("markPrice", "markPrice@1s"):
                continue
            every = 1.0 if kind.endswith("@1s") else 3.0
            if q.ts - self.last_sent.get(stream, -math.inf) < every - 1e-9:
                continue
            self.last_sent[stream] = q.ts
            data = mark_price_update(q, sym.upper(), self.seed)
            out.append(json.dumps({"stream": stream, "data": data}) if self.combined else json.dumps(data))
        return out
