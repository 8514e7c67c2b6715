"""Captured KXBTC hourly ladders (``crypto_hourly.v1``) as time-ordered ``Capture`` records.

Layout (as ``../shared/data/kalshi_headless_kxbtc_hourly``): ``DIR/crypto_hourly/dt=*.jsonl.gz``
(``DIR`` itself may be the ``crypto_hourly`` folder), one JSON object per line and capture:

- ``captured_at`` (RFC 3339), ``symbol`` (``BTC`` lines only are read), ``spot`` (Coinbase
  BTC-USD at capture time: ``price``),
- ``current``: ``event_ticker``, ``open_time``, ``close_time``, ``outcomes`` (one per bracket:
  ``ticker``, ``strike_type``, ``floor_strike``, ``cap_strike``, ``yes_bid``, ``yes_ask``,
  ``no_bid``, ``no_ask`` in dollars);
- ``previous_settlement``: the event that settled last (``event_ticker``, ``expiration_value``,
  ``results`` {ticker: yes|no}).

A line that cannot be used (not JSON, no time, a malformed bracket...) is counted per kind in
the ``BadInputLog`` with a sample and skipped; a capture without a current ladder still gives
its spot and settlement. Files are read in name order and captures returned in capture-time
order.
"""

from __future__ import annotations

import gzip
import json
import math
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import attrs

from kbot.actorkit import BadInputLog


@attrs.frozen(kw_only=True)
class CapturedMarket:
    ticker: str
    strike_type: str | None
    floor_strike: float | None
    cap_strike: float | None
    yes_bid: Decimal | None
    yes_ask: Decimal | None
    no_bid: Decimal | None
    no_ask: Decimal | None


@attrs.frozen(kw_only=True)
class CapturedSettlement:
    event_ticker: str
    expiration_value: float | None
    results: dict[str, str]  # ticker -> yes | no


@attrs.frozen(kw_only=True)
class Capture:
    captured_at: str  # as captured (echoed on the output lines)
    ts: float
    series: str  # the line's series (KXBTC for the hourly brackets)
    spot: float | None
    event_ticker: str | None
    open_ts: float | None
    close_ts: float | None
    markets: tuple[CapturedMarket, ...]
    settlement: CapturedSettlement | None


def capture_files(folder: Path) -> list[Path]:
    sub = folder / "crypto_hourly"
    base = sub if sub.is_dir() else folder
    return sorted(base.glob("dt=*.jsonl.gz"))


def _ts(v: Any) -> float | None:
    if not isinstance(v, str) or not v:
        return None
    try:
        return datetime.fromisoformat(v.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _num(v: Any) -> float | None:
    if v is None or isinstance(v, bool):
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _price(v: Any) -> Decimal | None:
    f = _num(v)
    if f is None or not 0.0 <= f <= 1.0:
        return None
    try:
        return Decimal(repr(f)).quantize(Decimal("0.0001"))
    except InvalidOperation:
        return None


def _market(o: Any) -> CapturedMarket | None:
    if not isinstance(o, dict) or not isinstance(o.get("ticker"), str):
        return None
    return CapturedMarket(
        ticker=o["ticker"],
        strike_type=o.get("strike_type") if isinstance(o.get("strike_type"), str) else None,
        floor_strike=_num(o.get("floor_strike")),
        cap_strike=_num(o.get("cap_strike")),
        yes_bid=_price(o.get("yes_bid")),
        yes_ask=_price(o.get("yes_ask")),
        no_bid=_price(o.get("no_bid")),
        no_ask=_price(o.get("no_ask")),
    )


def parse_line(line: str, bad: BadInputLog) -> Capture | None:
    """One capture, or None (another symbol, or unusable: counted in ``bad``)."""
    try:
        d = json.loads(line)
    except ValueError:
        bad.record("not_json", line[:200])
        return None
    if not isinstance(d, dict):
        bad.record("not_an_object", line[:200])
        return None
    if d.get("symbol") != "BTC":
        return None
    ts = _ts(d.get("captured_at"))
    if ts is None:
        bad.record("no_capture_time", line[:200])
        return None
    spot_obj: dict[str, Any] = d["spot"] if isinstance(d.get("spot"), dict) else {}
    spot = _num(spot_obj.get("price"))
    if spot is not None and spot <= 0:
        spot = None
    cur: dict[str, Any] = d["current"] if isinstance(d.get("current"), dict) else {}
    event = cur.get("event_ticker") if isinstance(cur.get("event_ticker"), str) else None
    markets: list[CapturedMarket] = []
    outs = cur.get("outcomes")
    if event is not None and isinstance(outs, list):
        for o in outs:
            m = _market(o)
            if m is None:
                bad.record("bad_outcome", str(o)[:200])
                continue
            markets.append(m)
    settlement = None
    ps = d.get("previous_settlement")
    if isinstance(ps, dict) and isinstance(ps.get("event_ticker"), str) and isinstance(ps.get("results"), dict):
        results = {str(k): str(v).lower() for k, v in ps["results"].items() if str(v).lower() in ("yes", "no")}
        if results:
            settlement = CapturedSettlement(event_ticker=ps["event_ticker"],
                                            expiration_value=_num(ps.get("expiration_value")), results=results)
    series = d.get("series") if isinstance(d.get("series"), str) and d.get("series") else "KXBTC"
    return Capture(
        captured_at=str(d["captured_at"]),
        ts=ts,
        series=str(series),
        spot=spot,
        event_ticker=event,
        open_ts=_ts(cur.get("open_time")),
        close_ts=_ts(cur.get("close_time")),
        markets=tuple(markets),
        settlement=settlement,
    )


def read_captures(folder: Path, bad: BadInputLog, *, until: float | None = None) -> list[Capture]:
    """Every BTC capture of ``folder`` (before ``until``, when given), in capture-time order."""
    out: list[Capture] = []
    for f in capture_files(folder):
        try:
            with gzip.open(f, "rt", encoding="utf-8") as fh:
                for line in fh:
                    if not line.strip():
                        continue
                    c = parse_line(line, bad)
                    if c is not None and (until is None or c.ts < until):
                        out.append(c)
        except (OSError, EOFError, UnicodeDecodeError) as exc:
            bad.record("unreadable_file", str(f), str(exc))
    out.sort(key=lambda c: c.ts)
    seen: set[tuple[float, str | None]] = set()
    unique = []
    for c in out:  # the same capture twice (a file copied twice): once
        key = (c.ts, c.event_ticker)
        if key in seen:
            bad.record("duplicate_capture", c.captured_at)
            continue
        seen.add(key)
        unique.append(c)
    return unique
