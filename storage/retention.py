"""Retention: delete what the record no longer needs, older than a cutoff (``kbot db prune``).

A 24/7 ``kbot run`` records every quote, tick, index update, edge snapshot and decision; on
the full simulated market set that is ~1.4 GB per simulated day. What can go, and what never
does:

- **market data** (``MARKET_DATA``: quotes, spot ticks, index prices, book snapshots, trades,
  feed events, health snapshots, latency samples, bad inputs, funding rates): rows with ``ts`` before the cutoff.
- **PASS decisions** (and their ``decision_reasons``): the audit of what was *not* traded.
  TAKEs are kept (fills and orders refer to them).
- **edge snapshots that no score refers to** (the scorer scores snapshots of settled markets;
  an unscored snapshot older than the cutoff will never be scored). With ``scores=True``, the
  scores before the cutoff and their edges go too: the model-vs-market history of that period
  is then gone from ``kbot report model``/``calibration``.
- **never**: money (orders, fills, positions, ledger entries, settlements, portfolio
  snapshots, abandoned decisions), markets/series/events, runs, supervision events, alerts,
  lifecycle events, the blend's fits (``model_fits``: small, and the record of what decided).
  (A money conflict's ``bad_inputs`` row goes with the market data; its ``money_conflict`` alert stays.)

Deletes run in small transactions (``batch`` rows, ``BEGIN IMMEDIATE`` on SQLite) so a running
``kbot run`` keeps writing between them (its writer waits out ``busy_timeout``). SQLite reuses
the freed pages; the file shrinks only with ``vacuum=True`` (``VACUUM``: stop kbot first, it
needs the database to itself for as long as it takes).
"""

from __future__ import annotations

from collections.abc import Callable

import attrs
import sqlalchemy as sa

MARKET_DATA: tuple[str, ...] = (
    "quotes", "spot_ticks", "index_prices", "book_snapshots", "trades", "feed_events", "health", "latency",
    "bad_inputs", "funding_rates",
)  # fmt: skip
MIN_AGE_S = 86_400.0  # nothing younger than a day: the scorer and the reports read the last day


@attrs.frozen(slots=True)
class PruneResult:
    cutoff: float
    rows: dict[str, int]  # table -> rows deleted (or that would be, in a dry run)
    dry_run: bool
    vacuumed: bool = False

    @property
    def total(self) -> int:
        return sum(self.rows.values())


def _targets(scores: bool) -> list[tuple[str, str, str | None]]:
    """``(table, where, child)``: the rows of ``table`` to delete (``:c`` is the cutoff), and a
    table whose rows point at them by ``decision_id`` to delete first."""
    out: list[tuple[str, str, str | None]] = [(t, "ts < :c", None) for t in MARKET_DATA]
    out.append(("decisions", "ts < :c AND action = 'PASS'", "decision_reasons"))
    if scores:
        out.append(("scores", "ts < :c", None))
    out.append(("edges", "ts < :c AND NOT EXISTS (SELECT 1 FROM scores s WHERE s.edge_id = edges.id)", None))
    return out


def prune(
    engine: sa.Engine,
    cutoff: float,
    *,
    scores: bool = False,
    dry_run: bool = False,
    vacuum: bool = False,
    batch: int = 5_000,
    now: float,
    progress: Callable[[str, int], None] | None = None,
) -> PruneResult:
    """Delete (or with ``dry_run`` count) what the module docstring lists, before ``cutoff``
    (epoch seconds, at least ``MIN_AGE_S`` before ``now``)."""
    if cutoff > now - MIN_AGE_S:
        raise ValueError("refusing to prune anything younger than a day (the scorer and reports still read it)")
    if batch < 1:
        raise ValueError("batch must be >= 1")
    sqlite = engine.dialect.name == "sqlite"
    present = set(sa.inspect(engine).get_table_names())
    rows: dict[str, int] = {}
    for table, where, child in _targets(scores):
        if table not in present:
            continue
        if dry_run:
            with engine.connect() as conn:
                rows[table] = int(conn.execute(sa.text(f"SELECT count(*) FROM {table} WHERE {where}"), {"c": cutoff})
                                  .scalar_one())
            continue
        rows[table] = _delete(engine, table, where, child, cutoff, batch, sqlite, progress)
    vacuumed = False
    if sqlite and not dry_run:
        with engine.connect() as conn:
            raw = conn.connection.driver_connection  # outside any transaction (VACUUM refuses one)
            assert raw is not None
            raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            if vacuum:
                raw.execute("VACUUM")
                vacuumed = True
    return PruneResult(cutoff=cutoff, rows=rows, dry_run=dry_run, vacuumed=vacuumed)


def _delete(engine: sa.Engine, table: str, where: str, child: str | None, cutoff: float, batch: int, sqlite: bool,
            progress: Callable[[str, int], None] | None) -> int:
    key = "rowid" if sqlite else "ctid"  # physical row ids: batches need no index on ts
    pick = f"SELECT {key} FROM {table} WHERE {where} LIMIT :n"
    total = 0
    while True:
        with engine.connect().execution_options(kbot_begin="IMMEDIATE") as conn, conn.begin():
            params = {"c": cutoff, "n": batch}
            if child is not None:
                conn.execute(sa.text(f"DELETE FROM {child} WHERE decision_id IN "
                                     f"(SELECT decision_id FROM {table} WHERE {key} IN ({pick}))"), params)
            n = conn.execute(sa.text(f"DELETE FROM {table} WHERE {key} IN ({pick})"), params).rowcount
        total += n
        if progress is not None and n:
            progress(table, total)
        if n < batch:
            return total
