"""Migrations: the head matches the models, an old database upgrades keeping its rows, the
engine is configured as documented, and `kbot db` works from any directory."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from storage import db as storage_db
from storage.config import DEFAULT_URL, ENV_URL, StorageConfig, resolve_url
from storage.db import (
    DatabaseMissing,
    SchemaOutOfDate,
    alembic_config,
    create_engine,
    current_revision,
    downgrade,
    head_revision,
    open_database,
    open_reader,
    upgrade,
)
from storage.schema import metadata, natural_key

ROOT = Path(__file__).resolve().parents[2]


def diff(engine: sa.Engine) -> list:
    with engine.connect() as conn:
        return compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)


def test_head_matches_models(engine):
    assert current_revision(engine) == head_revision()
    assert diff(engine) == []


def test_at_least_two_revisions_in_one_line():
    script = ScriptDirectory.from_config(alembic_config())
    revs = list(script.walk_revisions())
    assert len(revs) >= 2
    assert len(script.get_heads()) == 1


def test_every_table_has_a_natural_key():
    for t in metadata.sorted_tables:
        assert natural_key(t), t.name


def test_upgrade_from_old_revision_keeps_rows(db_url):
    eng = create_engine(db_url)
    upgrade(eng, "0001")
    assert current_revision(eng) == "0001"
    with eng.begin() as c:
        c.exec_driver_sql(
            "INSERT INTO runs (run_id, started_ts, mode, venue) VALUES ('old-run', 1700000000.5, 'shadow', 'sim')"
        )
        c.exec_driver_sql(
            "INSERT INTO markets (ticker, event_ticker, series_ticker, status, updated_ts, fee_multiplier) "
            "VALUES ('KXBTC-OLD', 'KXBTC-E', 'KXBTC', 'active', 1700000000.0, 1)"
        )
        c.exec_driver_sql(
            "INSERT INTO ledger_entries (entry_id, run_id, ts, mode, kind, amount) "
            "VALUES ('e1', 'old-run', 1700000001.0, 'shadow', 'deposit', 1000.5)"
        )
        tables_before = set(sa.inspect(c).get_table_names())
    assert "alerts" not in tables_before
    eng.dispose()

    eng = open_database(db_url)  # what kbot run does at start
    assert current_revision(eng) == head_revision()
    assert diff(eng) == []
    with eng.connect() as c:
        run = c.exec_driver_sql("SELECT run_id, mode, exit_status FROM runs").all()
        assert run == [("old-run", "shadow", None)]
        assert c.exec_driver_sql("SELECT ticker, status FROM markets").all() == [("KXBTC-OLD", "active")]
        amount = c.execute(sa.text("SELECT amount FROM ledger_entries WHERE entry_id = 'e1'")).scalar_one()
        assert float(amount) == 1000.5
        assert c.exec_driver_sql("SELECT COUNT(*) FROM alerts").scalar() == 0
    eng.dispose()


def test_upgrade_from_0002_keeps_portfolio_snapshots(db_url):
    eng = create_engine(db_url)
    upgrade(eng, "0002")
    with eng.begin() as c:
        c.exec_driver_sql("INSERT INTO runs (run_id, started_ts, mode, venue) VALUES ('r', 1700000000.0, 'shadow', 'sim')")
        c.exec_driver_sql(
            "INSERT INTO portfolio_snapshots (run_id, ts, mode, balance, exposure, daily_realized_pnl, open_orders, "
            "exposure_by_ticker) VALUES ('r', 1700000001.0, 'shadow', 1000.25, 12.5, -1.75, 2, 'M:12.5')"
        )
    eng.dispose()
    eng = open_database(db_url)
    assert current_revision(eng) == head_revision() and diff(eng) == []
    snap = sa.text(
        "SELECT balance, exposure, daily_realized_pnl, open_orders, equity, unrealized_pnl, open_positions "
        "FROM portfolio_snapshots"
    )
    with eng.connect() as c:
        row = c.execute(snap).one()
    assert [float(x) for x in row[:3]] == [1000.25, 12.5, -1.75]
    assert tuple(row[3:]) == (2, None, None, 0)  # recorded before 0003: no equity, 0 open positions
    downgrade(eng, "0002")  # and back: the rows stay (SQLite copies the table)
    with eng.connect() as c:
        assert c.exec_driver_sql("SELECT open_orders, exposure_by_ticker FROM portfolio_snapshots").all() == [(2, "M:12.5")]
        assert "venue_balances" not in sa.inspect(c).get_table_names()
    eng.dispose()


def test_downgrade_to_base_and_back(db_url):
    eng = open_database(db_url)
    downgrade(eng, "base")
    with eng.connect() as c:
        assert set(sa.inspect(c).get_table_names()) <= {"alembic_version"}
    upgrade(eng)
    assert diff(eng) == []
    eng.dispose()


def test_sqlite_connections_are_configured(tmp_path):
    cfg = StorageConfig(busy_timeout_ms=1234)
    eng = open_database(f"sqlite:///{tmp_path / 'x.sqlite'}", cfg)
    with eng.connect() as c:
        assert c.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert c.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
        assert c.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert c.exec_driver_sql("PRAGMA busy_timeout").scalar() == 1234
        assert c.exec_driver_sql("SELECT kbot_day(1763700000.0)").scalar() == "2025-11-21"
    reader = open_reader(f"sqlite:///{tmp_path / 'x.sqlite'}")
    with reader.connect() as c:
        assert c.exec_driver_sql("PRAGMA query_only").scalar() == 1
        with pytest.raises(sa.exc.OperationalError):
            c.exec_driver_sql("INSERT INTO runs (run_id, started_ts, mode, venue) VALUES ('x', 1, 'shadow', 'sim')")
    eng.dispose()
    reader.dispose()


def test_sqlite_floor_where_the_build_lacks_it():
    import sqlite3

    from storage.db import ensure_sqlite_floor

    conn = sqlite3.connect(":memory:")
    ensure_sqlite_floor(conn, force=True)  # the Python function replaces any built-in
    got = conn.execute("SELECT floor(2.5), floor(-2.5), floor(NULL), floor(1763700059 / 60.0) * 60").fetchone()
    assert got == (2.0, -3.0, None, 1763700000.0)
    conn.close()


def test_reader_refuses_missing_or_old_database(tmp_path):
    with pytest.raises(DatabaseMissing):
        open_reader(f"sqlite:///{tmp_path / 'missing.sqlite'}")
    assert not (tmp_path / "missing.sqlite").exists()
    eng = create_engine(f"sqlite:///{tmp_path / 'old.sqlite'}")
    upgrade(eng, "0001")
    with pytest.raises(SchemaOutOfDate, match="kbot db upgrade"):
        open_reader(f"sqlite:///{tmp_path / 'old.sqlite'}")
    eng.dispose()


def test_default_url_creates_data_dir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(ENV_URL, raising=False)
    assert resolve_url() == DEFAULT_URL
    eng = open_database()
    assert (tmp_path / "data" / "kbot.sqlite").exists()
    assert current_revision(eng) == head_revision()
    eng.dispose()


def test_url_resolution_order(monkeypatch):
    monkeypatch.setenv(ENV_URL, "sqlite:///env.sqlite")
    assert resolve_url("sqlite:///cli.sqlite") == "sqlite:///cli.sqlite"
    assert resolve_url(None, StorageConfig(url="sqlite:///cfg.sqlite")) == "sqlite:///env.sqlite"
    monkeypatch.delenv(ENV_URL)
    assert resolve_url(None, StorageConfig(url="sqlite:///cfg.sqlite")) == "sqlite:///cfg.sqlite"


def test_money_type_emits_no_decimal_warning(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        eng = open_database(f"sqlite:///{tmp_path / 'w.sqlite'}")
        with eng.connect() as c:
            c.execute(sa.select(metadata.tables["markets"])).all()
            c.execute(sa.select(sa.cast(sa.literal("1.5"), metadata.tables["fills"].c.price.type))).all()
        eng.dispose()


def _kbot(*args: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    e = dict(os.environ, PYTHONPATH=str(ROOT))
    e.pop(ENV_URL, None)
    e.update(env or {})
    return subprocess.run([sys.executable, "-m", "kbot", *args], cwd=cwd, env=e, capture_output=True, text=True, timeout=60)


def test_kbot_db_commands_from_any_directory(tmp_path):
    url = f"sqlite:///{tmp_path / 'sub' / 'cli.sqlite'}"
    r = _kbot("db", "current", "--db", url, cwd=tmp_path)
    assert r.returncode == 1 and "no database" in r.stderr
    r = _kbot("db", "upgrade", "--db", url, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"{head_revision()} (head)"
    r = _kbot("db", "current", cwd=tmp_path, env={ENV_URL: url})
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"{head_revision()} (head)"


def test_migrations_ship_with_the_package():
    """pyproject's package data covers every file the migrations need."""
    import tomllib

    data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["storage"]
    mig = storage_db.MIGRATIONS_DIR
    for f in [*mig.glob("*.py"), *mig.glob("versions/*.py"), *(ROOT / "storage" / "reports").glob("*.sql")]:
        rel = f.relative_to(ROOT / "storage")
        assert any(rel.match(pattern) for pattern in data), f"{rel} is not package data"


def test_readers_are_read_only_on_postgresql(pg_url):
    eng = open_database(pg_url)
    eng.dispose()
    reader = open_reader(pg_url)
    with reader.connect() as c:
        assert c.exec_driver_sql("SELECT COUNT(*) FROM runs").scalar() == 0
        with pytest.raises(sa.exc.DBAPIError, match="read-only"):
            c.exec_driver_sql("INSERT INTO runs (run_id, started_ts, mode, venue) VALUES ('x', 1, 'shadow', 'sim')")
    reader.dispose()
