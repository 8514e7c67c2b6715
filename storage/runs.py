"""The ``runs`` table: one row per ``kbot run`` (id, started/ended, mode, venue, config digest,
version, the process that owns it, how it ended).

``start_run`` is called once at start, before the recorder writes anything of the run (the
per-run tables reference ``runs``); ``end_run`` at shutdown. Both are short blocking calls:
from Trio, run them with ``trio.to_thread.run_sync``.

A process killed with ``kill -9`` (or a machine that lost power) never closes its row. So a run
records who owns it (host, pid and ``proc_start``: the boot id and start time of that pid, so a
reused pid is not mistaken for it) and beats a wall-clock heartbeat (``beat``, every
``HEARTBEAT_S`` real seconds, also when the run's own clock is simulated). ``liveness`` tells a
live run from a dead one from those alone, whatever the run's clock says; the next ``kbot run``
closes the dead ones (``close_dead_runs``): ``killed`` when its process is gone from this host,
``unknown`` when it cannot be seen (another host, or an old row) and has been silent for
``STALE_AFTER_S``. Their ``ended_ts`` is the run's last recorded activity, on its own clock.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import secrets
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import attrs
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from storage.schema import runs

EXIT_STATUSES = ("ok", "error", "interrupted")  # set by the run itself (end_run)
CLOSED_STATUSES = ("killed", "unknown")  # set by a later run that found the process gone (close_dead_runs)

HEARTBEAT_S = 10.0  # real seconds between heartbeats of a running run
STALE_AFTER_S = 90.0  # real seconds without a heartbeat after which a run that cannot be seen is presumed dead

BOOT_ID = Path("/proc/sys/kernel/random/boot_id")


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
    wall_now: float | None = None,
) -> str:
    """Insert this run's row (owned by this process; first heartbeat at ``wall_now``, the wall
    clock) and return its id."""
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
                proc_start=process_token(os.getpid()),
                heartbeat_ts=wall_now,
                exit_status="running",
            )
        )
    return rid


def beat(engine: Engine, run_id: str, *, wall_now: float) -> None:
    """Record that the run's process is alive at ``wall_now`` (wall clock, epoch seconds)."""
    with engine.connect().execution_options(kbot_begin="IMMEDIATE") as conn, conn.begin():
        conn.execute(runs.update().where(runs.c.run_id == run_id).values(heartbeat_ts=wall_now))


def end_run(
    engine: Engine, run_id: str, *, now: float, status: str = "ok", reason: str | None = None,
    wall_now: float | None = None,
) -> None:
    """Record how the run ended (``ok``, ``error`` or ``interrupted``)."""
    if status not in EXIT_STATUSES:
        raise ValueError(f"status must be one of {EXIT_STATUSES}")
    with engine.connect().execution_options(kbot_begin="IMMEDIATE") as conn, conn.begin():
        res = conn.execute(
            runs.update()
            .where(runs.c.run_id == run_id)
            .values(ended_ts=now, exit_status=status, exit_reason=reason,
                    **({"heartbeat_ts": wall_now} if wall_now is not None else {}))
        )
        if res.rowcount != 1:
            raise LookupError(f"no run {run_id!r} in the runs table")


def get_run(conn: sa.Connection, run_id: str) -> sa.Row | None:
    return conn.execute(sa.select(runs).where(runs.c.run_id == run_id)).first()


# ----------------------------------------------------------------------------- liveness


def process_token(pid: int) -> str | None:
    """What identifies process ``pid`` on this machine for as long as it lives: the boot id and
    the process's start time (clock ticks since boot, ``/proc/<pid>/stat`` field 22). A later
    process that reuses the pid has another token. None where ``/proc`` is not available."""
    try:
        boot = BOOT_ID.read_text().strip()
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the command name (field 2) is in parentheses and may hold spaces: split after it
    fields = stat[stat.rfind(")") + 2 :].split()
    if len(fields) < 20:
        return None
    return f"{boot}:{fields[19]}"


ProcState = Literal["alive", "gone", "unseen"]


def process_state(host: str | None, pid: int | None, token: str | None, *, this_host: str,
                  probe: Callable[[int], str | None] = process_token) -> ProcState:
    """Is the process that owns a run alive? ``unseen`` when this machine cannot tell (another
    host, no pid, or no ``/proc`` token to tell a reused pid from the original)."""
    if host != this_host or pid is None:
        return "unseen"
    now_token = probe(pid)
    if now_token is not None and token is not None:
        return "alive" if now_token == token else "gone"
    if now_token is None and token is not None and BOOT_ID.exists():
        return "gone"  # /proc works here and has no such process
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return "gone"
    except OSError:  # exists, owned by someone else
        return "unseen"
    return "unseen"  # a process with that pid exists, but nothing says it is the run's


Verdict = Literal["ended", "alive", "dead", "silent"]


@attrs.frozen(kw_only=True)
class Liveness:
    verdict: Verdict  # ended (closed row) | alive | dead (process gone) | silent (unseen, no heartbeat)
    reason: str
    heartbeat_age_s: float | None = None  # wall seconds since the last heartbeat


def liveness(row: Any, *, wall_now: float, this_host: str, stale_after_s: float = STALE_AFTER_S,
             probe: Callable[[int], str | None] = process_token) -> Liveness:
    """Whether the run of ``row`` (a ``runs`` row or ``storage.queries.RunInfo``) is alive,
    from its process and its wall-clock heartbeat: never from its own clock's timestamps (a
    simulated clock runs ahead of the wall clock, so "its last record is recent" says nothing)."""
    hb = row.heartbeat_ts
    age = None if hb is None else wall_now - hb
    if row.exit_status != "running":
        return Liveness(verdict="ended", reason=f"ended: {row.exit_status}", heartbeat_age_s=age)
    where = f"pid {row.pid} on {row.host}"
    state = process_state(row.host, row.pid, row.proc_start, this_host=this_host, probe=probe)
    if state == "alive":
        return Liveness(verdict="alive", reason=f"process alive ({where})", heartbeat_age_s=age)
    if state == "gone":
        return Liveness(verdict="dead", reason=f"process gone ({where} no longer runs it)", heartbeat_age_s=age)
    if age is not None and age <= stale_after_s:
        return Liveness(verdict="alive", reason=f"heartbeat {age:.0f}s ago ({where})", heartbeat_age_s=age)
    if age is None and row.host == this_host and row.pid is not None:
        # a row from before heartbeats, whose pid exists: cannot tell; never close a live run
        return Liveness(verdict="alive", reason=f"no heartbeat recorded and {where} exists: presumed alive",
                        heartbeat_age_s=age)
    silent = "never" if age is None else f"not for {age:.0f}s"
    return Liveness(verdict="silent", reason=f"no heartbeat {silent} ({where})", heartbeat_age_s=age)


@attrs.frozen(kw_only=True)
class ClosedRun:
    run_id: str
    venue: str
    mode: str
    status: str  # killed | unknown
    ended_ts: float
    reason: str


def close_dead_runs(engine: Engine, *, wall_now: float, closer: str, this_host: str | None = None,
                    stale_after_s: float = STALE_AFTER_S,
                    probe: Callable[[int], str | None] = process_token) -> list[ClosedRun]:
    """Close every run still marked ``running`` whose process is gone (``killed``) or that has
    been silent for ``stale_after_s`` without being seen (``unknown``). ``ended_ts`` is the
    run's last recorded activity (its own clock); ``closer`` names who closed it (the reason
    says). Live runs are left alone. Returns what was closed."""
    from storage.queries import last_record_ts

    host = this_host if this_host is not None else socket.gethostname()
    closed: list[ClosedRun] = []
    with engine.connect() as conn:
        rows = conn.execute(sa.select(runs).where(runs.c.exit_status == "running")).all()
    for row in rows:
        live = liveness(row, wall_now=wall_now, this_host=host, stale_after_s=stale_after_s, probe=probe)
        if live.verdict not in ("dead", "silent"):
            continue
        status = "killed" if live.verdict == "dead" else "unknown"
        with engine.connect().execution_options(kbot_begin="IMMEDIATE") as conn, conn.begin():
            last = last_record_ts(conn, run_id=row.run_id)
            ended = max(row.started_ts, last) if last is not None else row.started_ts
            reason = f"{live.reason}; closed at the start of {closer}"
            res = conn.execute(
                runs.update()
                .where(runs.c.run_id == row.run_id, runs.c.exit_status == "running")
                .values(ended_ts=ended, exit_status=status, exit_reason=reason)
            )
        if res.rowcount == 1:  # (another starting kbot may have closed it first)
            closed.append(ClosedRun(run_id=row.run_id, venue=row.venue, mode=row.mode, status=status, ended_ts=ended,
                                    reason=reason))
    return closed
