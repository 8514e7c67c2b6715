"""Fill quality of a run: spread captured, markouts, fees, inventory at settlement, PnL, drawdown
(``kbot report maker``, and the maker rows of ``kbot backtest``).

Markouts are computed at report time from the recorded quote stream (the ``quotes`` table the
recorder writes for every top-of-book change), not by an actor: the stream is on the record
anyway, a report can use other horizons or re-run on a replay's database, and the live path gets
no per-fill timers. ``fill_metrics`` and ``summarize`` are pure; ``read_run`` is the only I/O.

Definitions, per fill of ``count`` contracts of ``side`` at ``price`` (dollars of that side):

- ``mid(t)``: the newest recorded YES mid ``(yes_bid + yes_ask) / 2`` at or before ``t``; after the
  market's close, its settlement value when known (the mid no longer exists).
- value of the side at ``mid``: ``mid`` for YES, ``1 - mid`` for NO.
- spread captured: ``value(mid(t_fill)) - price`` (positive: bought below the mid);
- markout at ``h`` (1 s, 10 s, 60 s): ``value(mid(t_fill + h)) - price`` (``kbot.strategy.quotes.markout``);
  spread captured minus markout is what the market moved against the fill (adverse selection);
- fee: the fill's fee (negative would be a rebate);
- PnL: ``(settlement value of the side - price) * count - fee``, on settled markets only;
- inventory at settlement: the market's net YES contracts when it settled (|.| summed);
- max drawdown: of the cumulative PnL in order of settlement.

Bands are the time to close at the fill (``BANDS``). All dollar figures are per contract
(contract-weighted means) except fees, PnL and drawdown, which are totals.
"""

from __future__ import annotations

import bisect
import math
from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import attrs

from kbot.replay.metrics import max_drawdown
from kbot.strategy.quotes import markout

HORIZONS_S: tuple[float, ...] = (1.0, 10.0, 60.0)
BANDS: tuple[tuple[str, float, float], ...] = (
    ("0-2m", 0.0, 120.0), ("2-5m", 120.0, 300.0), ("5-10m", 300.0, 600.0), ("10-15m", 600.0, 900.0),
    (">15m", 900.0, math.inf),
)
ZERO = Decimal(0)


def band_of(ttc: float | None) -> str:
    if ttc is None:
        return "?"
    for name, lo, hi in BANDS:
        if lo <= ttc < hi:
            return name
    return "closed"


@attrs.frozen(kw_only=True)
class FillRow:
    ts: float
    ticker: str
    series: str
    side: str
    count: Decimal
    price: Decimal
    fee: Decimal
    is_taker: bool


@attrs.frozen(kw_only=True)
class MarketFacts:
    close_ts: float | None
    settled_ts: float | None = None
    value: Decimal | None = None  # settlement value of a YES contract


class MidSeries:
    """One market's YES mids over time (``add`` in time order, then ``at``)."""

    __slots__ = ("ts", "mid")

    def __init__(self) -> None:
        self.ts: list[float] = []
        self.mid: list[float] = []

    def add(self, ts: float, mid: float) -> None:
        if self.ts and ts < self.ts[-1]:
            raise ValueError("mids must be added in time order")
        self.ts.append(ts)
        self.mid.append(mid)

    def at(self, t: float) -> float | None:
        i = bisect.bisect_right(self.ts, t)
        return self.mid[i - 1] if i else None


def mid_at(series: MidSeries | None, facts: MarketFacts | None, t: float) -> float | None:
    """The YES mid at ``t``; past the close the settlement value when known."""
    if facts is not None and facts.close_ts is not None and t >= facts.close_ts:
        if facts.value is not None:
            return float(facts.value)
        t = facts.close_ts
    return series.at(t) if series is not None else None


@attrs.frozen(kw_only=True)
class FillMetrics:
    fill: FillRow
    band: str
    captured: float | None
    markouts: tuple[float | None, ...]
    pnl: Decimal | None  # to settlement, after the fee
    settled_ts: float | None


def fill_metrics(fill: FillRow, mids: MidSeries | None, facts: MarketFacts | None,
                 horizons: Sequence[float] = HORIZONS_S) -> FillMetrics:
    close = facts.close_ts if facts is not None else None
    m0 = mid_at(mids, facts, fill.ts)
    captured = markout(fill.side, fill.price, m0) if m0 is not None else None
    outs = []
    for h in horizons:
        m = mid_at(mids, facts, fill.ts + h)
        outs.append(markout(fill.side, fill.price, m) if m is not None else None)
    pnl = None
    if facts is not None and facts.value is not None:
        v = facts.value if fill.side == "yes" else 1 - facts.value
        pnl = (v - fill.price) * fill.count - fill.fee
    return FillMetrics(fill=fill, band=band_of(close - fill.ts if close is not None else None), captured=captured,
                       markouts=tuple(outs), pnl=pnl, settled_ts=facts.settled_ts if facts is not None else None)


def _wmean(pairs: list[tuple[float | None, Decimal]]) -> float | None:
    num = sum(float(n) * v for v, n in pairs if v is not None)
    den = sum(float(n) for v, n in pairs if v is not None)
    return num / den if den else None


def summarize(metrics: Sequence[FillMetrics], facts: dict[str, MarketFacts], *, by: str = "band",
              horizons: Sequence[float] = HORIZONS_S) -> list[dict[str, Any]]:
    """Rows per series and band (``by="band"``, plus an ``all`` row per series) or per market
    (``by="market"``), and per liquidity (``maker``/``taker``)."""
    groups: dict[tuple[str, str, str], list[FillMetrics]] = defaultdict(list)
    for m in metrics:
        liq = "taker" if m.fill.is_taker else "maker"
        if by == "market":
            groups[(m.fill.series, m.fill.ticker, liq)].append(m)
        else:
            groups[(m.fill.series, m.band, liq)].append(m)
            groups[(m.fill.series, "all", liq)].append(m)
    order = {name: i for i, (name, _, _) in enumerate(BANDS)} | {"all": 99}
    rows = []
    for (series, key, liq), ms in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][2], order.get(kv[0][1], 50), kv[0][1])):
        contracts = sum((m.fill.count for m in ms), ZERO)
        settled = [m for m in ms if m.pnl is not None]
        pnl = sum((m.pnl for m in settled if m.pnl is not None), ZERO)
        ordered = sorted(settled, key=lambda m: (m.settled_ts or m.fill.ts, m.fill.ts))
        # inventory at settlement: net YES per settled market among these fills
        net: dict[str, Decimal] = defaultdict(lambda: ZERO)
        for m in settled:
            net[m.fill.ticker] += m.fill.count if m.fill.side == "yes" else -m.fill.count
        row: dict[str, Any] = {
            "series": series, ("market" if by == "market" else "band"): key, "liquidity": liq, "fills": len(ms),
            "contracts": contracts, "captured": _wmean([(m.captured, m.fill.count) for m in ms]),
        }
        for i, h in enumerate(horizons):
            row[f"markout_{h:g}s"] = _wmean([(m.markouts[i], m.fill.count) for m in ms])
        row |= {
            "fees": sum((m.fill.fee for m in ms), ZERO), "settled_contracts": sum((m.fill.count for m in settled), ZERO),
            # a market's inventory is a whole-market figure: not split by band
            "inventory_at_settlement": sum((abs(v) for v in net.values()), ZERO) if key == "all" or by == "market" else None,
            "markets": len({m.fill.ticker for m in ms}),
            "pnl": pnl, "max_drawdown": max_drawdown(m.pnl for m in ordered if m.pnl is not None),
        }
        rows.append(row)
    return rows


# ----------------------------------------------------------------------------- reading a run


def read_run(db_url: str, run_id: str | None, *, since: float | None = None) -> tuple[list[FillRow], dict[str, MidSeries], dict[str, MarketFacts]]:
    """The fills of a run (all runs when None), the recorded mids of their markets and the
    markets' close and settlement."""
    import sqlalchemy as sa

    engine = sa.create_engine(db_url)
    where = " where 1=1" + (" and run_id = :r" if run_id else "") + (" and ts >= :s" if since is not None else "")
    params: dict[str, Any] = {"r": run_id, "s": since}
    fills: list[FillRow] = []
    mids: dict[str, MidSeries] = {}
    facts: dict[str, MarketFacts] = {}
    try:
        with engine.connect() as conn:
            series: dict[str, str] = {}
            close: dict[str, float | None] = {}
            for t, s, c in conn.execute(sa.text("select ticker, series_ticker, close_ts from markets")):
                series[t] = s
                close[t] = c
            for r in conn.execute(sa.text("select ts, ticker, side, count, price, fee, is_taker from fills" + where
                                          + " order by ts, fill_id"), params):
                fills.append(FillRow(ts=r[0], ticker=r[1], series=series.get(r[1], r[1].split("-")[0]), side=r[2],
                                     count=Decimal(str(r[3])), price=Decimal(str(r[4])), fee=Decimal(str(r[5])),
                                     is_taker=bool(r[6])))
            tickers = sorted({f.ticker for f in fills})
            for t in tickers:
                ms = MidSeries()
                last = -math.inf
                for ts, b, a in conn.execute(sa.text(
                        "select ts, yes_bid, yes_ask from quotes where ticker = :t and yes_bid is not null "
                        "and yes_ask is not null order by ts"), {"t": t}):
                    if ts >= last:
                        ms.add(ts, (float(b) + float(a)) / 2.0)
                        last = ts
                mids[t] = ms
                row = conn.execute(sa.text("select ts, settlement_value from settlements where ticker = :t "
                                           "order by ts limit 1"), {"t": t}).first()
                facts[t] = MarketFacts(close_ts=close.get(t), settled_ts=row[0] if row else None,
                                       value=Decimal(str(row[1])) if row and row[1] is not None else None)
    finally:
        engine.dispose()
    return fills, mids, facts


def run_report(db_url: str, run_id: str | None, *, by: str = "band", since: float | None = None) -> list[dict[str, Any]]:
    fills, mids, facts = read_run(db_url, run_id, since=since)
    return summarize([fill_metrics(f, mids.get(f.ticker), facts.get(f.ticker)) for f in fills], facts, by=by)


COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("series", "series", "{}"), ("band", "ttc", "{}"), ("market", "market", "{}"), ("liquidity", "liq", "{}"),
    ("fills", "fills", "{:,}"), ("contracts", "contracts", "{}"), ("captured", "spread $/c", "{:+.4f}"),
    ("markout_1s", "mk1s", "{:+.4f}"), ("markout_10s", "mk10s", "{:+.4f}"), ("markout_60s", "mk60s", "{:+.4f}"),
    ("fees", "fees $", "{}"), ("inventory_at_settlement", "inv@settle", "{}"), ("pnl", "PnL $", "{}"),
    ("max_drawdown", "maxDD $", "{}"),
)


def render(rows: Sequence[dict[str, Any]], lead: Sequence[tuple[str, str]] = ()) -> str:
    if not rows:
        return "(no fills)"
    keys = set().union(*(r.keys() for r in rows))
    cols = [(k, t, "{}") for k, t in lead] + [c for c in COLUMNS if c[0] in keys]

    def cell(v: Any, f: str) -> str:
        if v is None:
            return "-"
        if isinstance(v, Decimal):
            return f"{v.normalize():f}" if f == "{}" else f.format(float(v))
        return f.format(v)

    table = [[t for _, t, _ in cols]] + [[cell(r.get(k), f) for k, _, f in cols] for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(cols))]
    left = [f == "{}" and k not in ("contracts", "fees", "inventory_at_settlement", "pnl", "max_drawdown")
            for k, _, f in cols]
    return "\n".join("  ".join(c.ljust(w) if lft else c.rjust(w) for c, w, lft in zip(row, widths, left, strict=True))
                     for row in table)


__all__ = ["BANDS", "HORIZONS_S", "FillMetrics", "FillRow", "MarketFacts", "MidSeries", "band_of", "fill_metrics",
           "max_drawdown", "mid_at", "read_run", "render", "run_report", "summarize"]
