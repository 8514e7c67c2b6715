"""Storage fixtures: a migrated SQLite database per test, and a throwaway PostgreSQL server on
loopback when this machine has one (``initdb``/``pg_ctl`` and the psycopg driver); tests using
``pg_url`` skip cleanly otherwise."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from storage.db import open_database
from storage.runs import start_run
from tests.storage.records import T0

PG_BIN_DIRS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)


def _pg_bin(name: str) -> str | None:
    for d in PG_BIN_DIRS:
        if (d / name).exists():
            return str(d / name)
    return shutil.which(name)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """The URL of a fresh PostgreSQL cluster on 127.0.0.1 (trust auth, fsync off), or skip."""
    if os.environ.get("KBOT_TEST_PG_URL"):
        yield os.environ["KBOT_TEST_PG_URL"]
        return
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.skip("psycopg is not installed")
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if not (initdb and pg_ctl):
        pytest.skip("no PostgreSQL server binaries (initdb, pg_ctl) on this machine")
    tmp = Path(tempfile.mkdtemp(prefix="kbot-pg-"))
    run_as: list[str] = []
    if os.geteuid() == 0:  # postgres refuses to run as root
        if shutil.which("runuser") is None:
            pytest.skip("running as root without runuser: cannot start PostgreSQL")
        try:
            import pwd

            pw = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no 'postgres' user")
        os.chown(tmp, pw.pw_uid, pw.pw_gid)
        run_as = ["runuser", "-u", "postgres", "--"]
    data, port = tmp / "data", _free_port()
    try:
        subprocess.run(
            [*run_as, initdb, "-D", str(data), "-A", "trust", "-U", "kbot", "--no-sync"],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip
        opts = f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories={tmp} -c fsync=off"
        subprocess.run(
            [*run_as, pg_ctl, "-D", str(data), "-o", opts, "-w", "-t", "30", "-l", str(tmp / "log"), "start"],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip
    except (subprocess.SubprocessError, OSError) as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        pytest.skip(f"could not start PostgreSQL: {exc}")
    try:
        yield f"postgresql+psycopg://kbot@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*run_as, pg_ctl, "-D", str(data), "-m", "immediate", "stop"], capture_output=True, timeout=60)
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture
def pg_url(pg_server: str) -> Iterator[str]:
    """A fresh, empty database on the test server for each test."""
    admin = sa.create_engine(pg_server, isolation_level="AUTOCOMMIT")
    name = f"kbot_{os.getpid()}_{next(_counter)}"
    with admin.connect() as c:
        c.exec_driver_sql(f"CREATE DATABASE {name}")
    url = pg_server.rsplit("/", 1)[0] + f"/{name}"
    try:
        yield url
    finally:
        with admin.connect() as c:
            c.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.dispose()


_counter = iter(range(1, 1_000_000))


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'kbot.sqlite'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each test using it runs on SQLite and on PostgreSQL (skipped when no server)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'kbot.sqlite'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def engine(db_url: str) -> Iterator[sa.Engine]:
    eng = open_database(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def sqlite_engine(sqlite_url: str) -> Iterator[sa.Engine]:
    eng = open_database(sqlite_url)
    yield eng
    eng.dispose()


@pytest.fixture
def run_id(engine: sa.Engine) -> str:
    return start_run(engine, now=T0, mode="paper", venue="sim", config_digest="cfg123", version="0.1.0", run_id="run-1")


@pytest.fixture
def sqlite_run_id(sqlite_engine: sa.Engine) -> str:
    return start_run(sqlite_engine, now=T0, mode="paper", venue="sim", run_id="run-1")
