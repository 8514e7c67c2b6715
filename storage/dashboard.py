"""Read-side queries for ``kbot top``: ``status_snapshot`` plus what a live dashboard adds.

- the run's newest spot index (price, sources, staleness, sigma) and each spot source's newest
  price;
- the run's last TAKEs, its restart count, its recent alerts (``open_alerts`` keeps those not
  yet resolved) and its newest tick-to-decision latency sample.

Pure functions of a ``Connection`` and explicit arguments (never the clock), portable SQL; each
query reads a handful of rows through an index, so a refresh every second stays cheap beside a
running ``kbot run`` (WAL readers never block the writer).
"""

from __future__ import annotations

from decimal import Decimal

import attrs
import sqlalchemy as sa

from storage.queries import AlertRow, RunInfo, StatusSnapshot, last_alerts, status_snapshot
from storage.schema import decisions, index_prices, latency, spot_ticks, supervision_events

ALERT_HISTORY = 200  # recent alerts read to work out which are still open


@attrs.frozen(kw_only=True)
class IndexRow:
    ts: float
    price: float
    n_sources: int
    sources: str
    stale: bool
    sigma: float
    sigma_source: str


@attrs.frozen(kw_only=True)
class SpotPrice:
    source: str
    ts: float
    price: float


@attrs.frozen(kw_only=True)
class TakeRow:
    ts: float
    ticker: str
    side: str | None
    count: Decimal
    limit_price: Decimal | None
    prob_yes: float | None
    ev: float | None
    fee: Decimal | None


@attrs.frozen(kw_only=True)
class LatencyRow:
    ts: float
    n: int
    p50_ms: float
    p99_ms: float
    max_ms: float


@attrs.frozen(kw_only=True)
class TopSnapshot:
    status: StatusSnapshot
    index: IndexRow | None
    spot: list[SpotPrice]
    takes: list[TakeRow]
    restarts: int
    alerts: list[AlertRow]  # the run's recent alerts, newest first (``open_alerts`` filters)
    latency: LatencyRow | None


def latest_index(conn: sa.Connection, *, run_id: str) -> IndexRow | None:
    i = index_prices
    q = (
        sa.select(i.c.ts, i.c.price, i.c.n_sources, i.c.sources, i.c.stale, i.c.sigma, i.c.sigma_source)
        .where(i.c.run_id == run_id)
        .order_by(i.c.ts.desc())
        .limit(1)
    )
    row = conn.execute(q).first()
    return IndexRow(**row._asdict()) if row else None


def spot_prices(conn: sa.Connection, sources: list[str]) -> list[SpotPrice]:
    """The newest tick of each named source (one index probe each)."""
    out = []
    for source in sources:
        q = (
            sa.select(spot_ticks.c.ts, spot_ticks.c.price)
            .where(spot_ticks.c.source == source)
            .order_by(spot_ticks.c.ts.desc())
            .limit(1)
        )
        row = conn.execute(q).first()
        if row is not None:
            out.append(SpotPrice(source=source, ts=row.ts, price=row.price))
    return out


def last_takes(conn: sa.Connection, *, run_id: str, limit: int = 10) -> list[TakeRow]:
    d = decisions
    q = (
        sa.select(d.c.ts, d.c.ticker, d.c.side, d.c.count, d.c.limit_price, d.c.prob_yes, d.c.ev, d.c.fee)
        .where(d.c.run_id == run_id, d.c.action == "TAKE")
        .order_by(d.c.ts.desc())
        .limit(limit)
    )
    return [TakeRow(**r._asdict()) for r in conn.execute(q)]


def restart_count(conn: sa.Connection, *, run_id: str) -> int:
    s = supervision_events
    q = sa.select(sa.func.count()).select_from(s).where(s.c.run_id == run_id, s.c.kind == "restarting")
    return int(conn.execute(q).scalar_one())


def latest_latency(conn: sa.Connection, *, run_id: str) -> LatencyRow | None:
    t = latency
    q = (
        sa.select(t.c.ts, t.c.n, t.c.p50_ms, t.c.p99_ms, t.c.max_ms)
        .where(t.c.run_id == run_id, t.c.scope == "tick_to_decision")
        .order_by(t.c.ts.desc())
        .limit(1)
    )
    row = conn.execute(q).first()
    return LatencyRow(**row._asdict()) if row else None


def top_snapshot(conn: sa.Connection, *, now: float, run: RunInfo, limit: int = 10) -> TopSnapshot:
    """Everything ``kbot top`` shows about ``run`` as of ``now``."""
    status = status_snapshot(conn, now=now, run=run, limit=limit)
    index = latest_index(conn, run_id=run.run_id)
    names = [f.feed.removeprefix("spot:") for f in status.feeds if f.feed.startswith("spot:")]
    return TopSnapshot(
        status=status,
        index=index,
        spot=spot_prices(conn, names),
        takes=last_takes(conn, run_id=run.run_id, limit=limit),
        restarts=restart_count(conn, run_id=run.run_id),
        alerts=last_alerts(conn, run_id=run.run_id, limit=ALERT_HISTORY),
        latency=latest_latency(conn, run_id=run.run_id),
    )


def open_alerts(rows: list[AlertRow]) -> list[AlertRow]:
    """The alerts still on, newest first: the latest alert of each (kind, subject) unless a
    later ``resolved`` alert for that subject names its kind (health writes ``"<kind>
    cleared"``), and unless it is only information (``info``: a kill switch reset, a
    resolution). ``rows``: newest first, as ``last_alerts`` returns them."""
    cleared: set[tuple[str, str]] = set()
    seen: set[tuple[str, str]] = set()
    out: list[AlertRow] = []
    for a in rows:
        if a.kind == "resolved":
            kind = a.message.split(" ", 1)[0]
            cleared.add((kind, a.subject))
            continue
        key = (a.kind, a.subject)
        if key in seen:
            continue
        seen.add(key)
        if key in cleared or a.severity == "info":
            continue
        out.append(a)
    return out
