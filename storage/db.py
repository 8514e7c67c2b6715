"""Opening the database: engines for the writer and for readers, and migrations at start.

- ``open_database(url)`` is what ``kbot run`` calls once at start: it creates the directory of
  a SQLite file, configures every connection (WAL, synchronous, busy timeout, foreign keys),
  and upgrades the schema to the migration head. It returns the ``Engine`` the recorder and
  the read-side queries use.
- ``open_reader(url)`` is for reports and ``kbot status``: no directory is created, nothing is
  migrated, and SQLite connections are ``query_only``. In WAL mode readers never block the
  writer and the writer never blocks readers.

SQLite transactions are managed explicitly (SQLAlchemy's documented recipe): the Python
driver's implicit BEGIN is turned off and the engine's ``begin`` event emits ``BEGIN``, or
``BEGIN IMMEDIATE`` on a connection with the execution option ``kbot_begin="IMMEDIATE"`` (the
writer and migrations). Taking the write lock at the start of the transaction means waiting
for it is handled by ``busy_timeout`` up front, instead of failing mid-transaction when a read
transaction cannot be upgraded.
"""

from __future__ import annotations

import datetime as _dt
import math
import sqlite3
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from loguru import logger
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url

from storage.config import StorageConfig, resolve_url

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
IMMEDIATE = {"kbot_begin": "IMMEDIATE"}


class DatabaseMissing(RuntimeError):
    """A reader was pointed at a SQLite file that does not exist."""


class SchemaOutOfDate(RuntimeError):
    """The database is not at the migration head (a reader never migrates)."""


def utc_day(ts: float | None) -> str | None:
    """``kbot_day(ts)`` in report SQL: the UTC date of an epoch time, ``YYYY-MM-DD``."""
    if ts is None:
        return None
    return _dt.datetime.fromtimestamp(float(ts), _dt.UTC).strftime("%Y-%m-%d")


def sql_floor(x: float | None) -> float | None:
    """``FLOOR(x)`` for SQLite builds without the math functions."""
    return None if x is None else float(math.floor(x))


def ensure_sqlite_floor(dbapi_conn: sqlite3.Connection, *, force: bool = False) -> None:
    """Reports use ``FLOOR`` (time buckets). PostgreSQL has it; SQLite only when compiled with
    ``SQLITE_ENABLE_MATH_FUNCTIONS`` (Python's usual builds are, some system libraries are not):
    register a Python one where it is missing (or when ``force``d, for tests)."""
    if not force:
        try:
            dbapi_conn.execute("SELECT floor(0.5)").fetchone()
            return
        except sqlite3.OperationalError:
            pass
    dbapi_conn.create_function("floor", 1, sql_floor, deterministic=True)


def sqlite_path(url: str | sa.URL) -> Path | None:
    """The file of a SQLite URL, or None (not SQLite, or in memory)."""
    u = make_url(url) if isinstance(url, str) else url
    if u.get_backend_name() != "sqlite":
        return None
    db = u.database
    if not db or db == ":memory:" or db.startswith("file:"):
        return None
    return Path(db)


def _configure_sqlite(engine: Engine, cfg: StorageConfig, *, read_only: bool) -> None:
    sync = cfg.synchronous.upper()
    busy = int(cfg.busy_timeout_ms)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves (see module docstring)
        cur = dbapi_conn.cursor()
        try:
            cur.execute(f"PRAGMA busy_timeout = {busy}")
            if not read_only:
                mode = cur.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                if str(mode).lower() not in ("wal", "memory"):
                    logger.bind(event="db").warning("SQLite refused WAL (journal_mode={})", mode)
            cur.execute(f"PRAGMA synchronous = {sync}")
            cur.execute("PRAGMA foreign_keys = ON")
            if read_only:
                cur.execute("PRAGMA query_only = ON")
        finally:
            cur.close()
        dbapi_conn.create_function("kbot_day", 1, utc_day, deterministic=True)
        ensure_sqlite_floor(dbapi_conn)

    @event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        mode = conn.get_execution_options().get("kbot_begin", "")
        conn.exec_driver_sql(f"BEGIN {mode}".strip())


def create_engine(url: str, cfg: StorageConfig | None = None, *, read_only: bool = False) -> Engine:
    """An engine configured for kbot (no directory creation, no migration)."""
    cfg = cfg or StorageConfig()
    u = make_url(url)
    kwargs: dict[str, Any] = {}
    if u.get_backend_name() == "sqlite":
        # the writer's connection is used from trio worker threads (one at a time)
        # cached_statements: the writer's multi-row INSERTs (a few sizes per table, see
        # storage.writer) stay prepared; preparing one costs ~7 us per row
        kwargs["connect_args"] = {"check_same_thread": False, "cached_statements": 512}
        if sqlite_path(u) is None:  # in-memory: one shared connection or every connection is empty
            kwargs["poolclass"] = sa.pool.StaticPool
    else:
        kwargs["pool_pre_ping"] = True
    engine = sa.create_engine(u, **kwargs)
    if u.get_backend_name() == "sqlite":
        _configure_sqlite(engine, cfg, read_only=read_only)
    elif read_only and u.get_backend_name() == "postgresql":
        engine = engine.execution_options(postgresql_readonly=True)
    return engine


# ----------------------------------------------------------------------------- migrations


def alembic_config(connection: sa.Connection | None = None) -> AlembicConfig:
    """Alembic configured in code: works from any working directory and from an installed
    package (no alembic.ini). Migrations run on the ``connection`` given (``env.py``)."""
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    if len(heads) != 1:
        raise RuntimeError(f"migrations must have exactly one head, found {heads}")
    return heads[0]


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply migrations up to ``revision`` in one transaction holding the write lock, so two
    processes starting together upgrade once."""
    with engine.connect().execution_options(**IMMEDIATE) as conn:
        command.upgrade(alembic_config(conn), revision)
        conn.commit()


def downgrade(engine: Engine, revision: str) -> None:
    with engine.connect().execution_options(**IMMEDIATE) as conn:
        command.downgrade(alembic_config(conn), revision)
        conn.commit()


# ----------------------------------------------------------------------------- entry points


def open_database(url: str | None = None, cfg: StorageConfig | None = None, *, migrate: bool = True) -> Engine:
    """The writer's engine: creates a SQLite file's directory, configures connections and
    upgrades the schema to the head."""
    cfg = cfg or StorageConfig()
    resolved = resolve_url(url, cfg)
    path = sqlite_path(resolved)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(resolved, cfg)
    if migrate:
        before = current_revision(engine)
        upgrade(engine)
        after = current_revision(engine)
        if before != after:
            logger.bind(event="db_migrated", frm=before, to=after).info(
                "database {} upgraded from {} to {}", engine.url.render_as_string(), before, after
            )
    return engine


def open_reader(url: str | None = None, cfg: StorageConfig | None = None, *, check_schema: bool = True) -> Engine:
    """A read-only engine for reports and status. Raises ``DatabaseMissing`` for a SQLite file
    that does not exist and ``SchemaOutOfDate`` when the schema is not at the head."""
    cfg = cfg or StorageConfig()
    resolved = resolve_url(url, cfg)
    path = sqlite_path(resolved)
    if path is not None and not path.exists():
        raise DatabaseMissing(f"no database at {path} (kbot run creates it; or pass --db URL / set KBOT_DB_URL)")
    engine = create_engine(resolved, cfg, read_only=True)
    if check_schema:
        cur, head = current_revision(engine), head_revision()
        if cur != head:
            engine.dispose()
            raise SchemaOutOfDate(
                f"database {engine.url.render_as_string()} is at revision {cur}, the code expects {head}: "
                "run `kbot db upgrade`"
            )
    return engine
