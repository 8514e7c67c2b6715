"""The ``runs`` table: one row per ``kbot run`` (id, started/ended, mode, venue, config digest,
version, how it ended).

``start_run`` is called once at start, before the recorder writes anything of the run (the
per-run tables reference ``runs``); ``end_run`` at shutdown. Both are short blocking calls:
from Trio, run them with ``trio.to_thread.run_sync``. A run that has no ``ended_ts`` was killed
(or is still running): ``kbot report restarts`` and ``kbot status`` show it.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import secrets
import socket
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from storage.schema import runs

EXIT_STATUSES = ("ok", "error", "interrupted")


def new_run_id(now: float) -> str:
    """Sortable and unique: ``20261121T210400Z-3fa2c1d4``."""
    stamp = _dt.datetime.fromtimestamp(now, _dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{secrets.token_hex(4)}"


def config_digest(config: Any) -> str:
    """A short stable digest of a configuration (any JSON-serialisable value; attrs classes
    and Decimals are converted), recorded with each run and each decision."""
    import attrs

    def default(o: Any) -> Any:
        if attrs.has(type(o)):
            return attrs.asdict(o)
        return str(o)

    text = json.dumps(config, default=default, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def start_run(
    engine: Engine,
    *,
    now: float,
    mode: str,
    venue: str,
    config_digest: str | None = None,
    version: str | None = None,
    run_id: str | None = None,
) -> str:
    """Insert this run's row and return its id."""
    rid = run_id or new_run_id(now)
    with engine.connect().execution_options(kbot_begin="IMMEDIATE") as conn, conn.begin():
        conn.execute(
            runs.insert().values(
                run_id=rid,
                started_ts=now,
                mode=mode,
                venue=venue,
                config_digest=config_digest,
                version=version,
                host=socket.gethostname(),
                pid=os.getpid(),
                exit_status="running",
            )
        )
    return rid


def end_run(engine: Engine, run_id: str, *, now: float, status: str = "ok", reason: str | None = None) -> None:
    """Record how the run ended (``ok``, ``error`` or ``interrupted``)."""
    if status not in EXIT_STATUSES:
        raise ValueError(f"status must be one of {EXIT_STATUSES}")
    with engine.connect().execution_options(kbot_begin="IMMEDIATE") as conn, conn.begin():
        res = conn.execute(
            runs.update()
            .where(runs.c.run_id == run_id)
            .values(ended_ts=now, exit_status=status, exit_reason=reason)
        )
        if res.rowcount != 1:
            raise LookupError(f"no run {run_id!r} in the runs table")


def get_run(conn: sa.Connection, run_id: str) -> sa.Row | None:
    return conn.execute(sa.select(runs).where(runs.c.run_id == run_id)).first()
