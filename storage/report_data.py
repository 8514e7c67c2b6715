"""Read-side queries for ``kbot report html``: the series behind its figures.

Every function takes a ``Connection``, ``since`` (epoch seconds; 0 = everything) and ``run_id``
(None = every run), never the clock, and returns plain rows. They complement the SQL reports
(``storage/reports/*.sql``, which the HTML report also runs for its tables): where a figure
needs every point (equity), a distribution (latency, gaps) or a column that may not exist yet
(probability kinds), the query lives here.

Aggregation happens in SQL where a table can be large (scores, spot ticks, quotes): a month of
a 24/7 record is millions of rows, and the report reads bins and the largest gaps, not rows.
Portable SQL (SQLite and PostgreSQL).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import attrs
import sqlalchemy as sa

from storage.schema import edges, latency, portfolio_snapshots, positions, scores, supervision_events

BINS = 10  # reliability bins of width 0.1


@attrs.frozen(kw_only=True)
class ProbKind:
    """A recorded probability the reliability diagram can show: ``label`` and where it lives
    (``table`` is ``scores`` or ``edges``, joined on the scored edge). The first of ``columns``
    present in the database is used; a kind none of whose columns exists is skipped."""

    label: str
    table: str
    columns: tuple[str, ...]
    title: str


# Scores carry the three probabilities (issue 15): ``prob_model`` the raw model's, ``prob_yes``
# the final (blended) one decisions use, ``market_prob`` the market mid's. A kind whose column is
# absent (a database from before migration 0006) or empty is simply not drawn.
PROB_KINDS: tuple[ProbKind, ...] = (
    ProbKind(label="model", table="scores", columns=("prob_model",), title="raw model probability"),
    ProbKind(label="final", table="scores", columns=("prob_yes",),
             title="final probability (the one decisions use)"),
    ProbKind(label="market", table="scores", columns=("market_prob", "market_mid"), title="market mid"),
)


def _run_filter(col: sa.ColumnElement, run_id: str | None) -> sa.ColumnElement[bool]:
    return col == run_id if run_id is not None else sa.true()


def column_present(conn: sa.Connection, table: str, names: Sequence[str]) -> str | None:
    """The first of ``names`` that ``table`` has in this database (not in our schema module:
    a database migrated by a newer or older kbot may differ)."""
    have = {c["name"] for c in sa.inspect(conn).get_columns(table)}
    return next((n for n in names if n in have), None)


# ----------------------------------------------------------------------------- equity


@attrs.frozen(kw_only=True)
class EquityPoint:
    run_id: str
    ts: float
    equity: Decimal


def equity_points(conn: sa.Connection, *, since: float, run_id: str | None) -> list[EquityPoint]:
    """Every portfolio snapshot with an equity (recorded since migration 0003), by run and time."""
    p = portfolio_snapshots
    q = (
        sa.select(p.c.run_id, p.c.ts, p.c.equity)
        .where(p.c.ts >= since, p.c.equity.is_not(None), _run_filter(p.c.run_id, run_id))
        .order_by(p.c.run_id, p.c.ts)
    )
    return [EquityPoint(run_id=r.run_id, ts=r.ts, equity=r.equity) for r in conn.execute(q)]


def realized_total(conn: sa.Connection, *, since: float, run_id: str | None) -> Decimal:
    """Exact realized PnL of the positions closed since ``since`` (Decimal addition in Python:
    SQLite's SUM of decimals is a float)."""
    p = positions
    q = sa.select(p.c.realized_pnl).where(p.c.status != "open", p.c.closed_ts >= since, _run_filter(p.c.run_id, run_id))
    return sum((v for (v,) in conn.execute(q) if v is not None), Decimal(0))


# ----------------------------------------------------------------------------- reliability


@attrs.frozen(kw_only=True)
class ProbBin:
    bin: int  # 0 .. BINS-1: [bin/BINS, (bin+1)/BINS)
    n: int
    mean_prob: float
    freq_yes: float


def reliability_bins(conn: sa.Connection, kind: ProbKind, *, since: float, run_id: str | None) -> list[ProbBin] | None:
    """Scored snapshots binned by ``kind``'s probability: count, mean probability and observed
    frequency of YES per bin. None when the kind's column does not exist in this database."""
    column = column_present(conn, kind.table, kind.columns)
    if column is None:
        return None
    table = scores if kind.table == "scores" else edges
    # a column a newer migration added is not in our schema module: name it (it was checked above)
    prob = table.c[column] if column in table.c else sa.literal_column(f"{table.name}.{column}", sa.Float)
    raw = sa.cast(sa.func.floor(prob * BINS), sa.Integer)
    b = sa.case((raw >= BINS, BINS - 1), (raw < 0, 0), else_=raw).label("bin")
    q = (
        sa.select(b, sa.func.count().label("n"), sa.func.avg(prob).label("mean_prob"),
                  sa.func.avg(1.0 * scores.c.outcome).label("freq_yes"))  # fmt: skip
        .select_from(scores.join(edges, edges.c.id == scores.c.edge_id))
        .where(scores.c.ts >= since, prob.is_not(None), _run_filter(edges.c.run_id, run_id))
        .group_by(b)
        .order_by(b)
    )
    return [ProbBin(bin=int(r.bin), n=int(r.n), mean_prob=float(r.mean_prob), freq_yes=float(r.freq_yes))
            for r in conn.execute(q)]  # fmt: skip


# ----------------------------------------------------------------------------- latency


@attrs.frozen(kw_only=True)
class LatencyPoint:
    run_id: str
    ts: float
    n: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float


def latency_points(conn: sa.Connection, *, since: float, run_id: str | None) -> list[LatencyPoint]:
    """Tick-to-decision percentiles per health interval (table ``latency``, migration 0004)."""
    t = latency
    q = (
        sa.select(t.c.run_id, t.c.ts, t.c.n, t.c.p50_ms, t.c.p90_ms, t.c.p99_ms, t.c.max_ms)
        .where(t.c.ts >= since, t.c.scope == "tick_to_decision", _run_filter(t.c.run_id, run_id))
        .order_by(t.c.ts)
    )
    return [LatencyPoint(**r._asdict()) for r in conn.execute(q)]


@attrs.frozen(kw_only=True)
class FeedLag:
    feed: str  # spot:<source> | quotes:<source>
    lags_s: tuple[float, ...]  # receipt time - venue event time of the newest rows


def feed_lags(conn: sa.Connection, *, since: float, sample: int = 5000) -> list[FeedLag]:
    """Receipt minus venue event time of the newest ``sample`` spot ticks and quotes of each
    source since ``since`` (on the run's clock; includes clock skew against the venue)."""
    out: list[FeedLag] = []
    for table, prefix in (("spot_ticks", "spot"), ("quotes", "quotes")):
        sources = [s for (s,) in conn.execute(sa.text(f"SELECT DISTINCT source FROM {table} WHERE ts >= :s"),
                                              {"s": since})]  # fmt: skip
        for source in sorted(sources):
            rows = conn.execute(
                sa.text(f"SELECT recv_ts - ts FROM {table} WHERE source = :src AND ts >= :s ORDER BY ts DESC LIMIT :n"),
                {"src": source, "s": since, "n": sample},
            )
            lags = tuple(float(x) for (x,) in rows if x is not None)
            if lags:
                out.append(FeedLag(feed=f"{prefix}:{source}", lags_s=lags))
    return out


# ----------------------------------------------------------------------------- gaps


@attrs.frozen(kw_only=True)
class Gap:
    feed: str
    ts: float  # when the data came back
    gap_s: float


# Per run (a venue fact carries the run that first recorded it): the time between two runs is
# not a feed gap.
_GAPS = """
WITH ticks AS (
    SELECT 'spot:' || source AS feed, run_id, ts FROM spot_ticks
    WHERE ts >= :since AND (CAST(:run_id AS VARCHAR(64)) IS NULL OR run_id = :run_id)
    UNION ALL
    SELECT 'quotes:' || source, run_id, ts FROM quotes
    WHERE ts >= :since AND (CAST(:run_id AS VARCHAR(64)) IS NULL OR run_id = :run_id)
    UNION ALL
    SELECT 'index', run_id, ts FROM index_prices
    WHERE ts >= :since AND (CAST(:run_id AS VARCHAR(64)) IS NULL OR run_id = :run_id)
),
gaps AS (
    SELECT feed, ts, ts - LAG(ts) OVER (PARTITION BY feed, run_id ORDER BY ts) AS gap_s FROM ticks
),
ranked AS (
    SELECT feed, ts, gap_s, ROW_NUMBER() OVER (PARTITION BY feed ORDER BY gap_s DESC, ts) AS rn
    FROM gaps WHERE gap_s IS NOT NULL
)
SELECT feed, ts, gap_s FROM ranked WHERE rn <= :per_feed ORDER BY feed, ts
"""


def largest_gaps(conn: sa.Connection, *, since: float, run_id: str | None, per_feed: int = 50) -> list[Gap]:
    """The ``per_feed`` longest silences of each feed (spot sources, quote sources, the index)
    within each run."""
    rows = conn.execute(sa.text(_GAPS), {"since": since, "run_id": run_id, "per_feed": per_feed})
    return [Gap(feed=f, ts=float(ts), gap_s=float(g)) for f, ts, g in rows]


# ----------------------------------------------------------------------------- restarts


@attrs.frozen(kw_only=True)
class RestartEvent:
    ts: float
    supervisor: str
    child: str
    kind: str  # crashed | restarting | gave_up | shutdown_timeout
    reason: str | None


def restart_events(conn: sa.Connection, *, since: float, run_id: str | None, limit: int = 5000) -> list[RestartEvent]:
    s = supervision_events
    q = (
        sa.select(s.c.ts, s.c.supervisor, s.c.child, s.c.kind, s.c.reason)
        .where(s.c.ts >= since, s.c.kind.in_(("crashed", "restarting", "gave_up", "shutdown_timeout")),
               _run_filter(s.c.run_id, run_id))  # fmt: skip
        .order_by(s.c.ts)
        .limit(limit)
    )
    return [RestartEvent(**r._asdict()) for r in conn.execute(q)]
