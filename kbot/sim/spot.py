"""Simulated spot exchanges: each one's BTC price and its wire messages (pure).

Each exchange sees the index through its own lens: it lags it by a small latency, carries a
slowly mean-reverting basis (dollars, AR(1)) plus per-tick noise, quotes a tight spread and
ticks at its own rate (sim-time ticks per second). A ``feed_freeze`` fault pins the quote at
a stale value for a while, as a wedged venue that keeps sending the same last data.

Message shapes follow the spot-feed reference (§1A, §2A, §3A) and its simulator checklist:

- **Coinbase Advanced Trade**: envelope ``channel, client_id, timestamp, sequence_num, events``;
  ``ticker`` events ``snapshot`` then ``update`` with the 13 ticker fields as strings;
  ``heartbeats`` with an integer counter; ``subscriptions`` acks; ``sequence_num`` per
  connection; ``client_id`` emitted on some connections and omitted on others (production
  omits it, the prose docs show it).
- **Binance**: raw ``/ws/<stream>`` payloads or combined ``{"stream", "data"}``;
  ``btcusdt@bookTicker`` (no ``e``/``E`` on spot), ``@trade``, ``@aggTrade``, ``@ticker``;
  ``SUBSCRIBE`` -> ``{"result": null, "id"}``.
- **Kraken v2**: ``status`` on connect, one ack per symbol, ``ticker`` snapshot/update with
  JSON numbers (floats), ``heartbeat`` about once a second when nothing else was sent, ``ping``
  -> ``pong``.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from typing import Any

import attrs

from kbot.sim.pricepath import IndexPath


@attrs.frozen(slots=True)
class FeedSpec:
    name: str
    rate_hz: float  # ticks per sim second
    latency_s: tuple[float, float]  # how far behind the index it is
    basis_sd: float  # dollars, stationary sd of its premium/discount
    basis_reversion_s: float
    noise_sd: float  # dollars per tick
    half_spread: tuple[float, float]  # dollars


FEEDS: dict[str, FeedSpec] = {
    "coinbase": FeedSpec("coinbase", 4.0, (0.05, 0.25), 6.0, 90.0, 1.5, (0.005, 0.6)),
    "binance": FeedSpec("binance", 10.0, (0.02, 0.15), 12.0, 120.0, 2.0, (0.005, 0.5)),
    "kraken": FeedSpec("kraken", 2.0, (0.1, 0.5), 8.0, 90.0, 2.0, (0.05, 1.5)),
    # the perpetual's mark price (kbot.sim.funding): sampled at 1 Hz, the stream throttles
    "binance_usdm": FeedSpec("binance_usdm", 1.0, (0.05, 0.2), 15.0, 300.0, 1.0, (0.05, 0.5)),
}


@attrs.frozen(slots=True)
class SpotQuote:
    ts: float  # sim epoch seconds
    bid: float
    ask: float
    last: float
    last_size: float
    bid_qty: float
    ask_qty: float
    taker_buy: bool
    trade_id: int
    volume_24h: float
    open_24h: float
    low_24h: float
    high_24h: float
    frozen: bool = False


class SpotModel:
    """One exchange's price process over the index path."""

    def __init__(self, spec: FeedSpec, path: IndexPath, seed: int) -> None:
        self.spec = spec
        self.path = path
        self.rng = random.Random(f"{spec.name}-{seed}")
        self.basis = self.rng.gauss(0.0, spec.basis_sd)
        self.last_ts: float | None = None
        self.trade_id = self.rng.randint(10**8, 10**9)
        self.volume = 8000.0 + self.rng.random() * 4000.0
        self.frozen_until: float = -math.inf
        self.frozen_quote: SpotQuote | None = None

    def freeze(self, now: float, duration_s: float) -> None:
        self.frozen_until = now + duration_s

    def quote(self, now: float) -> SpotQuote:
        spec, rng = self.spec, self.rng
        if now < self.frozen_until and self.frozen_quote is not None:
            return attrs.evolve(self.frozen_quote, ts=now, frozen=True)
        dt_s = 1.0 if self.last_ts is None else max(0.0, now - self.last_ts)
        self.last_ts = now
        a = math.exp(-dt_s / spec.basis_reversion_s)
        self.basis = a * self.basis + spec.basis_sd * math.sqrt(1.0 - a * a) * rng.gauss(0.0, 1.0)
        seen = now - rng.uniform(*spec.latency_s)
        mid = self.path.price_at(seen) + self.basis + rng.gauss(0.0, spec.noise_sd)
        hs = rng.uniform(*spec.half_spread)
        bid, ask = round(mid - hs, 2), round(mid + hs, 2)
        if ask <= bid:
            ask = round(bid + 0.01, 2)
        taker_buy = rng.random() < 0.5
        size = round(min(5.0, rng.lognormvariate(math.log(0.01), 1.5)), 8)
        self.trade_id += 1 + int(rng.random() * 3)
        self.volume += size
        day = self.path.price(max(self.path.start + self.path._offset, int(now) - 3600))
        q = SpotQuote(
            ts=now,
            bid=bid,
            ask=ask,
            last=ask if taker_buy else bid,
            last_size=size,
            bid_qty=round(rng.lognormvariate(math.log(0.3), 1.0), 8),
            ask_qty=round(rng.lognormvariate(math.log(0.3), 1.0), 8),
            taker_buy=taker_buy,
            trade_id=self.trade_id,
            volume_24h=round(self.volume, 8),
            open_24h=day,
            low_24h=min(day, bid) - 150.0,
            high_24h=max(day, ask) + 150.0,
        )
        self.frozen_quote = q
        return q


# ---------------------------------------------------------------------------- formats
def rfc3339_ns(ts: float) -> str:
    d = dt.datetime.fromtimestamp(ts, tz=dt.UTC)
    ns = int(round((ts - math.floor(ts)) * 1e9)) % 1_000_000_000
    return d.strftime("%Y-%m-%dT%H:%M:%S") + f".{ns:09d}Z"


def rfc3339_us(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _s(x: float, dp: int = 2) -> str:
    return f"{x:.{dp}f}"


def coinbase_envelope(channel: str, ts: float, seq: int, events: list[dict[str, Any]], *, client_id: bool) -> dict[str, Any]:
    env: dict[str, Any] = {"channel": channel}
    if client_id:
        env["client_id"] = ""
    env.update({"timestamp": rfc3339_ns(ts), "sequence_num": seq, "events": events})
    return env


def coinbase_ticker(q: SpotQuote, product: str = "BTC-USD") -> dict[str, Any]:
    chg = (q.last - q.open_24h) / q.open_24h * 100.0
    return {
        "type": "ticker",
        "product_id": product,
        "price": _s(q.last),
        "volume_24_h": _s(q.volume_24h, 8),
        "low_24_h": _s(q.low_24h),
        "high_24_h": _s(q.high_24h),
        "low_52_w": _s(q.low_24h * 0.55),
        "high_52_w": _s(q.high_24h * 1.15),
        "price_percent_chg_24_h": repr(chg),
        "best_bid": _s(q.bid),
        "best_bid_quantity": _s(q.bid_qty, 8),
        "best_ask": _s(q.ask),
        "best_ask_quantity": _s(q.ask_qty, 8),
    }


def coinbase_trade(q: SpotQuote, product: str = "BTC-USD") -> dict[str, Any]:
    return {
        "trade_id": str(q.trade_id),
        "product_id": product,
        "price": _s(q.last),
        "size": _s(q.last_size, 8),
        "side": "BUY" if q.taker_buy else "SELL",
        "time": rfc3339_us(q.ts),
    }


def coinbase_heartbeat(ts: float, counter: int, uptime_s: float) -> dict[str, Any]:
    d = dt.datetime.fromtimestamp(ts, tz=dt.UTC)
    ns = int((ts - math.floor(ts)) * 1e9)
    current = d.strftime("%Y-%m-%d %H:%M:%S") + f".{ns:09d} +0000 UTC m=+{uptime_s:.9f}"
    return {"current_time": current, "heartbeat_counter": counter}


def binance_symbol(stream: str) -> str:
    return stream.split("@", 1)[0].upper()


def binance_book_ticker(q: SpotQuote, symbol: str, update_id: int) -> dict[str, Any]:
    return {"u": update_id, "s": symbol, "b": _s(q.bid, 8), "B": _s(q.bid_qty, 8), "a": _s(q.ask, 8), "A": _s(q.ask_qty, 8)}


def binance_trade(q: SpotQuote, symbol: str) -> dict[str, Any]:
    t = int(q.ts * 1000)
    return {"e": "trade", "E": t + 1, "s": symbol, "t": q.trade_id, "p": _s(q.last, 8), "q": _s(q.last_size, 8), "T": t, "m": not q.taker_buy, "M": True}


def binance_agg_trade(q: SpotQuote, symbol: str) -> dict[str, Any]:
    t = int(q.ts * 1000)
    return {
        "e": "aggTrade",
        "E": t + 1,
        "s": symbol,
        "a": q.trade_id // 2,
        "p": _s(q.last, 8),
        "q": _s(q.last_size, 8),
        "f": q.trade_id,
        "l": q.trade_id,
        "T": t,
        "m": not q.taker_buy,
        "M": True,
    }


def binance_24h_ticker(q: SpotQuote, symbol: str) -> dict[str, Any]:
    t = int(q.ts * 1000)
    change = q.last - q.open_24h
    return {
        "e": "24hrTicker",
        "E": t,
        "s": symbol,
        "p": _s(change, 8),
        "P": _s(change / q.open_24h * 100.0, 3),
        "w": _s((q.high_24h + q.low_24h) / 2.0, 8),
        "x": _s(q.open_24h, 8),
        "c": _s(q.last, 8),
        "Q": _s(q.last_size, 8),
        "b": _s(q.bid, 8),
        "B": _s(q.bid_qty, 8),
        "a": _s(q.ask, 8),
        "A": _s(q.ask_qty, 8),
        "o": _s(q.open_24h, 8),
        "h": _s(q.high_24h, 8),
        "l": _s(q.low_24h, 8),
        "v": _s(q.volume_24h, 8),
        "q": _s(q.volume_24h * q.last, 8),
        "O": t - 86_400_000,
        "C": t,
        "F": q.trade_id - 1_000_000,
        "L": q.trade_id,
        "n": 1_000_000,
    }


def kraken_ticker(q: SpotQuote, symbol: str = "BTC/USD") -> dict[str, Any]:
    change = q.last - q.open_24h
    return {
        "symbol": symbol,
        "bid": round(q.bid, 1),
        "bid_qty": q.bid_qty,
        "ask": round(q.ask, 1),
        "ask_qty": q.ask_qty,
        "last": round(q.last, 1),
        "volume": round(q.volume_24h / 3.0, 8),
        "vwap": round((q.high_24h + q.low_24h) / 2.0, 1),
        "low": round(q.low_24h, 1),
        "high": round(q.high_24h, 1),
        "change": round(change, 1),
        "change_pct": round(change / q.open_24h * 100.0, 2),
        "timestamp": rfc3339_us(q.ts),
    }


def kraken_trade(q: SpotQuote, symbol: str = "BTC/USD") -> dict[str, Any]:
    return {
        "symbol": symbol,
        "side": "buy" if q.taker_buy else "sell",
        "price": round(q.last, 1),
        "qty": q.last_size,
        "ord_type": "market" if q.taker_buy else "limit",
        "trade_id": q.trade_id,
        "timestamp": rfc3339_us(q.ts),
    }
