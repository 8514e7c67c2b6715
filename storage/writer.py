"""The batch writer: records in, one transaction per batch, idempotent upserts.

``BatchWriter.write(records)`` is synchronous and blocking; the recorder actor
(``actors/recorder.py``) calls it in a worker thread (``trio.to_thread``), one batch at a time,
on the one connection it owns. What it does with a batch:

1. Map every record to rows (``storage.mapping``), grouped per table. A record that cannot be
   mapped (unknown type, wrong field types) is rejected: counted and logged with its content.
2. Write the groups in foreign-key order inside one transaction, with one precompiled
   ``INSERT ... ON CONFLICT`` per table executed as ``executemany`` (no per-row SQLAlchemy
   processing: values are already in driver form). Conflicts on a table's natural key are
   ignored for append-only facts and update the row for state tables (``UPSERTS``), so
   writing a batch twice leaves the database as writing it once.
   Money facts that are ignored on a repeat (ledger entries, fills, portfolio snapshots,
   abandoned decisions: ``Upsert.same_except``) are checked first, in the same transaction: a
   repeat must be the same row (a re-delivery after a restart). A key that comes back with
   different content is a money conflict, never a silent ignore: the records carrying it are
   not written, each conflict is logged at ERROR with both rows and returned in
   ``WriteResult.conflicts`` (the recorder counts it, raises a critical alert and keeps both
   rows in ``bad_inputs``), and the rest of the batch is written.
3. If the database refuses a row (constraint, type), the transaction is rolled back and the
   batch is split in halves, each written in its own transaction, recursively: every good
   record is committed and each bad one is rejected alone (counted, logged with its content),
   after O(log n) extra transactions. The writer never crashes on the same bad row twice.
4. ``database is locked`` (another connection held the lock past ``busy_timeout``) raises
   ``DatabaseBusy``: nothing was committed and the caller retries later with backoff. Any other
   error (disk full, I/O error, schema missing) propagates: nothing of the batch is lost as
   long as the caller keeps it (the recorder puts it back in its inbox and crashes; its
   supervisor restarts it with backoff).

On SQLite a batch holding money rows (``schema.MONEY_TABLES``) is committed with
``money_synchronous`` (FULL: fsync of the WAL), ordinary batches with ``synchronous`` (NORMAL:
durable against a process crash, fsync at checkpoints). ``bench/writer.py`` measures both.
"""

from __future__ import annotations

import functools
import itertools
import re
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import attrs
import sqlalchemy as sa
from loguru import logger
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from kbot.actorkit import BadInputLog
from storage import schema
from storage.config import StorageConfig
from storage.db import IMMEDIATE
from storage.mapping import ROUTES, TABLE_ORDER, TABLES, MapContext, Row, columns_of
from storage.types import money_binder

SQLITE_MIN_MAX_VARIABLES = 999  # SQLITE_MAX_VARIABLE_NUMBER before SQLite 3.32


class DatabaseBusy(Exception):
    """The database stayed locked past the busy timeout; nothing of the batch was committed."""


@attrs.frozen(slots=True)
class Upsert:
    """What a repeat of a table's natural key does: ignore it (append-only facts) or update the
    row's other columns, only when the new row is at least as new by ``newer`` (and ``where``)."""

    update: bool = False
    newer: str | None = None
    keep: tuple[str, ...] = ("run_id",)  # columns an update never overwrites (first seen wins)
    where: Callable[[sa.Table, Any], Any] | None = None
    # Ignored repeats that must be the same fact: None = not checked; else the columns that may
    # differ in a legitimate repeat (the run that first saw a venue fact, ...).
    same_except: tuple[str, ...] | None = None


def _not_final_over_final(t: sa.Table, excluded: Any) -> Any:
    """A settlement that is final is never replaced by one that is only determined."""
    return sa.or_(excluded.final == sa.true(), t.c.final == sa.false())


UPSERTS: dict[str, Upsert] = {
    "series": Upsert(update=True, newer="updated_ts"),
    "events": Upsert(update=True, newer="updated_ts"),
    "markets": Upsert(update=True, newer="updated_ts"),
    "quotes": Upsert(update=True),  # the same (ticker, ts, source) twice: the later book state wins
    "settlements": Upsert(update=True, newer="ts", where=_not_final_over_final),
    "orders": Upsert(update=True, newer="updated_ts", keep=("run_id", "created_ts", "decision_id")),
    "positions": Upsert(update=True, newer="ts"),
    "scores": Upsert(update=True),  # a rescore replaces the previous one
    # money facts: a repeat is a re-delivery of the same row, anything else a MoneyConflict
    "ledger_entries": Upsert(same_except=()),
    "fills": Upsert(same_except=("run_id",)),  # a venue fill seen again by a later run
    "portfolio_snapshots": Upsert(same_except=()),
    "abandoned_decisions": Upsert(same_except=("ts", "reason")),  # found again: same outcome
}


@attrs.frozen(slots=True)
class Conflict:
    """A money row refused because its key is already taken by a different row."""

    table: str
    key: tuple[Any, ...]
    refused: Row  # the new row (driver form, in the table's column order)
    existing: Row  # what the key already holds (in the database, or earlier in the batch)
    record: Any = None  # the record that carried the refused row

    def describe(self) -> str:
        cols = columns_of(TABLES[self.table])
        diff = {c: (a, b) for c, a, b in zip(cols, self.existing, self.refused) if a != b}
        return f"{self.table} {self.key}: kept {dict(zip(cols, self.existing))}; refused, differing in {diff}"


class MoneyConflict(Exception):
    """Raised inside the transaction (which then rolls back) when money rows conflict."""

    def __init__(self, conflicts: list[Conflict]) -> None:
        super().__init__(f"{len(conflicts)} money conflicts")
        self.conflicts = conflicts


@attrs.frozen(slots=True)
class RepeatCheck:
    """How to check a table's repeats (``Upsert.same_except``): which columns are the key, which
    must be equal, and the driver-level SELECT of the rows holding given keys (no per-row
    SQLAlchemy processing: values come back as the writer binds them)."""

    table: str
    key_idx: tuple[int, ...]
    compare_idx: tuple[int, ...]
    head: str  # "SELECT <columns> FROM <table> WHERE <key> IN ("
    one: str  # one key's placeholders: "?" or "(VALUES (?, ?))"-style row

    def key(self, row: Row) -> tuple[Any, ...]:
        return tuple(row[i] for i in self.key_idx)

    def same(self, a: Row, b: Row) -> bool:
        return all(a[i] == b[i] for i in self.compare_idx)

    def sql(self, n: int) -> str:
        return _in_sql(self.head, self.one, n)


@functools.lru_cache(maxsize=256)
def _in_sql(head: str, one: str, n: int) -> str:
    return head + ", ".join([one] * n) + ")"


def repeat_check(table: sa.Table, dialect: sa.Dialect) -> RepeatCheck | None:
    policy = UPSERTS.get(table.name, Upsert())
    if policy.same_except is None:
        return None
    mark = {"qmark": "?", "format": "%s", "pyformat": "%s"}.get(dialect.paramstyle)
    if mark is None:  # pragma: no cover - SQLite and psycopg use one of these
        raise NotImplementedError(f"the batch writer's repeat check needs qmark or format parameters, not {dialect.paramstyle}")
    cols = columns_of(table)
    key = schema.natural_key(table)
    q = dialect.identifier_preparer.quote
    head = f"SELECT {', '.join(q(c) for c in cols)} FROM {q(table.name)} WHERE "
    if len(key) == 1:
        head += f"{q(key[0])} IN ("
        one = mark
    else:  # a row value against a VALUES list: SQLite >= 3.15 and PostgreSQL
        head += f"({', '.join(q(k) for k in key)}) IN (VALUES "
        one = "(" + ", ".join([mark] * len(key)) + ")"
    return RepeatCheck(
        table=table.name, key_idx=tuple(cols.index(k) for k in key),
        compare_idx=tuple(i for i, c in enumerate(cols) if c not in key and c not in policy.same_except),
        head=head, one=one,
    )


@attrs.frozen(slots=True)
class TableStatement:
    table: str
    sql: str  # one row
    columns: tuple[str, ...]
    positional: bool  # driver takes tuples (qmark/format) rather than dicts (pyformat/named)
    head: str = ""  # sql = head + row + tail; multi-row: head + row, row, ... + tail
    row: str = ""
    tail: str = ""

    def sql_for(self, k: int) -> str:
        """The statement inserting ``k`` rows at once (``VALUES (...), (...), ...``)."""
        return _multi_sql(self.head, self.row, self.tail, k)


@functools.lru_cache(maxsize=1024)
def _multi_sql(head: str, row: str, tail: str, k: int) -> str:
    return head + ", ".join([row] * k) + tail


def compile_upsert(table: sa.Table, dialect: sa.Dialect) -> TableStatement:
    """``INSERT ... ON CONFLICT (natural key) DO NOTHING | DO UPDATE`` for ``dialect``."""
    if dialect.name == "sqlite":
        insert: Callable[[sa.Table], Any] = sqlite.insert
    elif dialect.name == "postgresql":
        insert = postgresql.insert
    else:
        raise NotImplementedError(
            f"the batch writer needs INSERT ... ON CONFLICT (SQLite or PostgreSQL), not {dialect.name}"
        )
    cols = columns_of(table)
    key = schema.natural_key(table)
    stmt = insert(table).values({c: sa.bindparam(c) for c in cols})
    policy = UPSERTS.get(table.name, Upsert())
    updatable = [c for c in cols if c not in key and c not in policy.keep]
    if policy.update and updatable:
        conds = []
        if policy.newer:
            zero: sa.ColumnElement[Any] = sa.literal_column("0")  # a literal: a bind parameter would shift positional order
            conds.append(
                sa.func.coalesce(stmt.excluded[policy.newer], zero) >= sa.func.coalesce(table.c[policy.newer], zero)
            )
        if policy.where is not None:
            conds.append(policy.where(table, stmt.excluded))
        stmt = stmt.on_conflict_do_update(
            index_elements=list(key),
            set_={c: stmt.excluded[c] for c in updatable},
            where=sa.and_(*conds) if conds else None,
        )
    else:
        stmt = stmt.on_conflict_do_nothing(index_elements=list(key))
    compiled = stmt.compile(dialect=dialect)
    sql = str(compiled)
    if not compiled.positional:
        return TableStatement(table.name, sql, cols, False)
    order = tuple(compiled.positiontup or ())
    if order != cols:
        raise RuntimeError(f"{table.name}: compiled parameter order {order} differs from {cols}")
    start = sql.index(" VALUES (") + len(" VALUES ")
    end = sql.index(")", start) + 1
    return TableStatement(table.name, sql, cols, True, head=sql[:start], row=sql[start:end], tail=sql[end:])


# ----------------------------------------------------------------------------- error classes

_LOCKED = re.compile(r"database (table )?is locked|database is busy", re.I)
_BINDING = re.compile(r"binding parameter|not supported|cannot adapt|invalid input|out of range|overflow", re.I)


def is_locked(exc: BaseException) -> bool:
    orig = getattr(exc, "orig", exc)
    return isinstance(orig, sqlite3.OperationalError) and bool(_LOCKED.search(str(orig)))


def is_row_error(exc: BaseException) -> bool:
    """An error caused by the rows themselves (so splitting the batch isolates it), as opposed
    to the database being unavailable (locked, full, broken, schema missing)."""
    if isinstance(exc, (sa.exc.IntegrityError, sa.exc.DataError)):
        return True
    if isinstance(exc, (sa.exc.ProgrammingError, sa.exc.InterfaceError)):
        return bool(_BINDING.search(str(getattr(exc, "orig", exc))))
    if isinstance(exc, sa.exc.StatementError) and not isinstance(exc, sa.exc.DBAPIError):
        return isinstance(exc.orig, (TypeError, ValueError, OverflowError))
    return isinstance(exc, (TypeError, ValueError, OverflowError))


# ----------------------------------------------------------------------------- the writer


@attrs.define(slots=True)
class WriteResult:
    written: int = 0  # records committed (all their rows)
    rejected: int = 0  # records refused (mapping or database), logged and counted
    skipped: int = 0  # records not recorded by policy (non-snapshot edges)
    transactions: int = 0
    conflicts: list[Conflict] = attrs.field(factory=list)  # money conflicts (their records are not written)

    def add(self, other: WriteResult) -> None:
        self.written += other.written
        self.rejected += other.rejected
        self.skipped += other.skipped
        self.transactions += other.transactions
        self.conflicts.extend(other.conflicts)


class BatchWriter:
    """Writes batches of records for one run on one connection (see the module docstring).
    Not thread-safe: one batch at a time (the recorder guarantees it)."""

    def __init__(
        self, engine: Engine, run_id: str, cfg: StorageConfig | None = None, *, rows_per_statement: int = 512
    ) -> None:
        self.engine = engine
        self.cfg = cfg or StorageConfig()
        self.dialect = engine.dialect
        self.is_sqlite = self.dialect.name == "sqlite"
        self.cx = MapContext(
            run_id=run_id, money=money_binder(self.dialect), record_all_edges=self.cfg.record_edges == "all"
        )
        self.statements = {name: compile_upsert(TABLES[name], self.dialect) for name in TABLE_ORDER}
        self.checks = {name: c for name in TABLE_ORDER if (c := repeat_check(TABLES[name], self.dialect)) is not None}
        self.bad = BadInputLog("recorder", every=1000, sample_chars=2000)
        self._conn: sa.Connection | None = None
        self.rows_per_statement = rows_per_statement
        self.max_variables = SQLITE_MIN_MAX_VARIABLES

    # -- connection

    @property
    def conn(self) -> sa.Connection:
        if self._conn is None:
            self._conn = self.engine.connect().execution_options(**IMMEDIATE)
            if self.is_sqlite:
                raw = self._conn.connection.driver_connection
                getlimit = getattr(raw, "getlimit", None)  # Python >= 3.11
                if getlimit is not None:
                    self.max_variables = getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None

    # -- mapping

    def map_records(self, records: Iterable[Any]) -> tuple[dict[str, list[Row]], WriteResult, list[Any]]:
        """Rows per table for ``records``, the result so far, and the records that mapped
        (those that cannot be mapped are rejected here, once)."""
        groups: dict[str, list[Row]] = {}
        res = WriteResult()
        mapped: list[Any] = []
        cx = self.cx
        for rec in records:
            routes = ROUTES.get(type(rec))
            if routes is None:
                self._reject(rec, "unknown_type", f"no table records {type(rec).__qualname__}")
                res.rejected += 1
                continue
            try:
                if len(routes) == 1 and not routes[0].many:  # the common case, kept cheap
                    row = routes[0].fn(rec, cx)
                    if row is None:
                        res.skipped += 1
                        continue
                    rows: list[tuple[str, Row]] = [(routes[0].table, row)]
                else:
                    rows = []
                    for r in routes:
                        out = r.fn(rec, cx)
                        if r.many:
                            rows.extend((r.table, x) for x in out)
                        elif out is not None:
                            rows.append((r.table, out))
            except Exception as exc:
                self._reject(rec, f"unmappable:{type(rec).__name__}", f"{type(exc).__name__}: {exc}")
                res.rejected += 1
                continue
            for table, row in rows:
                g = groups.get(table)
                if g is None:
                    groups[table] = [row]
                else:
                    g.append(row)
            mapped.append(rec)
            res.written += 1
        return groups, res, mapped

    # -- writing

    def write(self, records: Sequence[Any]) -> WriteResult:
        """Write ``records`` (see the module docstring). Raises ``DatabaseBusy`` when locked
        (nothing committed) and any error that is not caused by the rows."""
        groups, res, mapped = self.map_records(records)
        if not groups:
            return res
        try:
            self._commit(groups)
        except MoneyConflict as mc:
            return self._write_without_conflicts(mapped, mc, WriteResult(rejected=res.rejected, skipped=res.skipped))
        except Exception as exc:
            self._raise_unless_row_error(exc)
            # debug: the bad record itself is logged (once per kind, with content) by self.bad
            logger.bind(event="recorder_split", records=len(mapped)).debug(
                "recorder: a batch of {} records was refused ({}); splitting it to isolate the bad rows",
                len(mapped),
                _short(exc),
            )
            split = self._write_split(mapped)
            res.written = split.written
            res.rejected += split.rejected
            res.transactions += split.transactions
            return res
        res.transactions += 1
        return res

    def _write_split(self, records: Sequence[Any]) -> WriteResult:
        """Write records that all map (mapping is pure: the same rows as before) by halves."""
        if len(records) > 1:
            mid = len(records) // 2
            out = self._write_split_half(records[:mid])
            out.add(self._write_split_half(records[mid:]))
            return out
        return self._write_split_half(records)

    def _write_split_half(self, records: Sequence[Any]) -> WriteResult:
        groups, res, _ = self.map_records(records)
        res.skipped = 0  # counted by the first pass
        if not groups:
            return WriteResult()
        try:
            self._commit(groups)
        except MoneyConflict as mc:
            return self._write_without_conflicts(records, mc, WriteResult())
        except Exception as exc:
            self._raise_unless_row_error(exc)
            if len(records) == 1:
                self._reject(records[0], f"refused:{type(records[0]).__name__}", _short(exc))
                return WriteResult(rejected=1, transactions=1)
            return self._write_split(records)
        res.transactions = 1
        return res

    def _write_without_conflicts(self, records: Sequence[Any], mc: MoneyConflict, res: WriteResult) -> WriteResult:
        """Set aside the records that carry a conflicting money row, write the others."""
        refused = {(c.table, c.refused): c for c in mc.conflicts}
        keep = []
        for rec in records:
            groups, _, _ = self.map_records([rec])
            hits = [refused[(t, r)] for t, rows in groups.items() for r in rows if (t, r) in refused]
            if not hits:
                keep.append(rec)
                continue
            for c in hits:
                c = attrs.evolve(c, record=rec)
                res.conflicts.append(c)
                logger.bind(event="money_conflict", table=c.table, key=repr(c.key)).error(
                    "MONEY CONFLICT: a {} row was refused because its key is taken by a different row; the "
                    "record is not written (kept in bad_inputs): {} | record {!r}", c.table, c.describe(), rec,
                )
        if keep:
            res.add(self.write(keep))
        return res

    def _check_repeats(self, conn: sa.Connection, groups: dict[str, list[Row]]) -> None:
        """Raise ``MoneyConflict`` when a checked money row repeats a key with other content
        (within the batch or against the database). Identical repeats pass (the insert ignores them)."""
        conflicts: list[Conflict] = []
        for name, check in self.checks.items():
            rows = groups.get(name)
            if not rows:
                continue
            first: dict[tuple[Any, ...], Row] = {}
            for r in rows:
                k = check.key(r)
                prev = first.setdefault(k, r)
                if prev is not r and not check.same(prev, r):
                    conflicts.append(Conflict(name, k, r, prev))
            for k, old in self._existing(conn, check, list(first)).items():
                r = first[k]
                if not check.same(old, r):
                    conflicts.append(Conflict(name, k, r, old))
        if conflicts:
            raise MoneyConflict(conflicts)

    def _existing(self, conn: sa.Connection, check: RepeatCheck, keys: list[tuple[Any, ...]]) -> dict[tuple[Any, ...], Row]:
        """The rows the database holds for ``keys``, as the driver returns them."""
        per_query = max(1, self.max_variables // len(check.key_idx) - 1)
        out: dict[tuple[Any, ...], Row] = {}
        for i in range(0, len(keys), per_query):
            chunk = keys[i : i + per_query]
            params = tuple(itertools.chain.from_iterable(chunk))
            for row in conn.exec_driver_sql(check.sql(len(chunk)), params):
                r = tuple(row)
                out[check.key(r)] = r
        return out

    def _raise_unless_row_error(self, exc: Exception) -> None:
        if is_row_error(exc):
            return
        if is_locked(exc):
            raise DatabaseBusy(str(getattr(exc, "orig", exc))) from exc
        if isinstance(exc, sa.exc.DBAPIError) and exc.connection_invalidated:
            self.close()
        raise exc

    def _commit(self, groups: dict[str, list[Row]]) -> None:
        conn = self.conn
        money = self.is_sqlite and any(t in schema.MONEY_TABLES for t in groups)
        sync = self.cfg.money_synchronous.upper() if money else None
        if sync and sync != self.cfg.synchronous.upper():
            self._pragma(f"PRAGMA synchronous = {sync}")
        try:
            with conn.begin():
                if self.checks.keys() & groups.keys():
                    self._check_repeats(conn, groups)
                for name in TABLE_ORDER:
                    rows = groups.get(name)
                    if rows:
                        self._insert(conn, self.statements[name], rows)
        finally:
            if sync and sync != self.cfg.synchronous.upper():
                self._pragma(f"PRAGMA synchronous = {self.cfg.synchronous.upper()}")

    def _insert(self, conn: sa.Connection, st: TableStatement, rows: list[Row]) -> None:
        if not self.is_sqlite:
            params: Any = rows if st.positional else [dict(zip(st.columns, r)) for r in rows]
            conn.exec_driver_sql(st.sql, params)
            return
        # SQLite: many rows per statement. executemany of one-row statements releases and
        # re-takes the GIL around every row's sqlite3_step; while the Trio thread is busy each
        # re-take can wait for a switch interval (5 ms): measured 5k rows/s instead of 180k.
        # Preparing a statement costs ~7 us per row of VALUES (measured), so only a few sizes are
        # ever used: chunks of k rows, then the rest by powers of two (256, 128, ..., 1), all of
        # which stay in the driver's statement cache.
        k = max(1, min(self.rows_per_statement, self.max_variables // len(st.columns)))
        n = len(rows)
        full = n - n % k
        chain = itertools.chain.from_iterable
        if full:
            conn.exec_driver_sql(st.sql_for(k), [tuple(chain(rows[i : i + k])) for i in range(0, full, k)])
        i = full
        while i < n:
            size = 1 << ((n - i).bit_length() - 1)
            conn.exec_driver_sql(st.sql_for(size), tuple(chain(rows[i : i + size])))
            i += size

    def _pragma(self, sql: str) -> None:
        """Runs outside any transaction, directly on the driver connection."""
        cur = self.conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cur.execute(sql)
        finally:
            cur.close()

    def _reject(self, rec: Any, kind: str, detail: str) -> None:
        self.bad.record(kind, rec, detail)


def _short(exc: BaseException, limit: int = 300) -> str:
    text = f"{type(exc).__name__}: {getattr(exc, 'orig', None) or exc}"
    return text if len(text) <= limit else text[:limit] + "..."
