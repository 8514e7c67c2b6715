"""Telling a live run from a dead one whatever its clock (issue 12): the owning process (pid +
start token on this host) and a wall-clock heartbeat decide, never the run's own timestamps;
the next start closes dead runs as killed or unknown at their last activity."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import attrs
import sqlalchemy as sa

from storage import queries
from storage.runs import beat, close_dead_runs, end_run, liveness, process_state, process_token, start_run
from storage.schema import runs
from tests.storage.records import T0

HOST = "here"


@attrs.frozen(kw_only=True)
class Row:
    exit_status: str = "running"
    host: str | None = HOST
    pid: int | None = 4242
    proc_start: str | None = "boot:100"
    heartbeat_ts: float | None = 1000.0


def probe(alive: dict[int, str]):
    return lambda pid: alive.get(pid)


def test_the_process_decides_on_this_host():
    assert liveness(Row(), wall_now=5000.0, this_host=HOST, probe=probe({4242: "boot:100"})).verdict == "alive"
    # the pid is reused by another process: dead, whatever the heartbeat says
    v = liveness(Row(heartbeat_ts=4999.0), wall_now=5000.0, this_host=HOST, probe=probe({4242: "boot:777"}))
    assert v.verdict == "dead" and "gone" in v.reason
    assert liveness(Row(exit_status="ok"), wall_now=0, this_host=HOST, probe=probe({})).verdict == "ended"


def test_elsewhere_the_wall_clock_heartbeat_decides():
    """A simulated run's own clock runs far ahead of the wall clock: only the heartbeat (wall
    clock) counts, so a dead simulated run is not shown alive for hours."""
    other = Row(host="elsewhere")
    assert liveness(other, wall_now=1030.0, this_host=HOST, stale_after_s=90).verdict == "alive"
    v = liveness(other, wall_now=1091.0, this_host=HOST, stale_after_s=90)
    assert v.verdict == "silent" and v.heartbeat_age_s == 91.0
    assert liveness(Row(host="elsewhere", heartbeat_ts=None), wall_now=1.0, this_host=HOST).verdict == "silent"


def test_real_processes():
    me = os.getpid()
    token = process_token(me)
    if token is None:  # no /proc here: the heartbeat decides (tested above)
        return
    assert process_state(HOST, me, token, this_host=HOST) == "alive"
    assert process_state(HOST, me, token + "x", this_host=HOST) == "gone"
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert process_state(HOST, child.pid, "boot:1", this_host=HOST) == "gone"
    assert process_state("elsewhere", me, token, this_host=HOST) == "unseen"


def test_the_next_start_closes_dead_runs_at_their_last_activity(sqlite_engine):
    from kbot.messages import HealthSnapshot
    from storage.writer import BatchWriter

    host = socket.gethostname()
    eng = sqlite_engine
    # a killed run (its process is gone), an old run of another host that went silent, a live
    # run of another host, a run that ended by itself
    for rid, started in (("killed", T0), ("silent", T0 + 1), ("live", T0 + 2), ("done", T0 + 3)):
        start_run(eng, now=started, mode="shadow", venue="sim", run_id=rid, wall_now=1000.0)
    with eng.begin() as c:
        c.execute(runs.update().where(runs.c.run_id == "killed").values(pid=999_999_999, proc_start="gone:1"))
        c.execute(runs.update().where(runs.c.run_id.in_(["silent", "live"])).values(host="elsewhere"))
    beat(eng, "live", wall_now=1950.0)
    end_run(eng, "done", now=T0 + 50, status="ok", wall_now=1010.0)
    w = BatchWriter(eng, "killed")
    w.write([HealthSnapshot(ts=T0 + 3600, actor="ledger", inbox_depth=0, inbox_peak=0, msgs_in=1, msgs_out=1,
                            last_msg_age_s=None, restarts=0, errors=0, state=None)])  # its clock: an hour later
    w.close()
    closed = close_dead_runs(eng, wall_now=2000.0, closer="test", this_host=host, stale_after_s=90.0)
    assert {(c.run_id, c.status) for c in closed} == {("killed", "killed"), ("silent", "unknown")}
    with eng.connect() as c:
        got = {r.run_id: r for r in (queries.get_run(c, rid) for rid in ("killed", "silent", "live", "done")) if r}
    assert got["killed"].ended_ts == T0 + 3600 and "process gone" in (got["killed"].exit_reason or "")
    assert got["silent"].ended_ts == T0 + 1 and got["silent"].exit_status == "unknown"
    assert got["live"].exit_status == "running" and got["done"].exit_status == "ok"
    assert close_dead_runs(eng, wall_now=2000.0, closer="again", this_host=host) == []  # nothing left to close
    with eng.connect() as c:
        assert c.execute(sa.select(sa.func.count()).select_from(runs).where(runs.c.ended_ts.is_(None))).scalar() == 1
