"""Durability contract: what the recorder acknowledged survives ``kill -9`` of the process, and
a restarted process re-sending the same records duplicates nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

from storage.db import open_reader

ROOT = Path(__file__).resolve().parents[2]
TABLES = {"fills": "fill_id", "ledger_entries": "entry_id", "edges": "ts"}


def child(url: str, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.storage.durability_child", url, "run-1", *extra],
        cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        text=True,
    )  # fmt: skip


def counts(url: str) -> dict[str, tuple[int, int]]:
    eng = open_reader(url)
    try:
        with eng.connect() as c:
            assert c.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
            return {
                t: tuple(c.execute(sa.text(f"SELECT COUNT(*), COUNT(DISTINCT {k}) FROM {t}")).one())
                for t, k in TABLES.items()
            }
    finally:
        eng.dispose()


def test_acknowledged_records_survive_kill_9_and_replay_adds_no_duplicates(tmp_path):
    url = f"sqlite:///{tmp_path / 'dur.sqlite'}"
    p = child(url)
    acked = -1
    assert p.stdout is not None
    for line in p.stdout:
        acked = int(line)
        if acked >= 1500:
            break
    os.kill(p.pid, signal.SIGKILL)  # mid-stream: the child is still sending and writing
    rest, _ = p.communicate(timeout=30)
    for line in rest.split():
        acked = max(acked, int(line))  # acknowledged before the kill, read after it
    assert p.returncode == -signal.SIGKILL
    assert acked >= 1500

    got = counts(url)
    for table, (n, distinct) in got.items():
        assert n == distinct, f"{table}: duplicates"
        assert n >= acked + 1, f"{table}: {n} rows but records 0..{acked} were acknowledged"
    eng = open_reader(url)
    with eng.connect() as c:
        ids = set(c.execute(sa.text("SELECT fill_id FROM fills")).scalars())
    eng.dispose()
    assert {f"f{i}" for i in range(acked + 1)} <= ids

    # restart: a new process sends everything again from the start, then more
    total = acked + 201
    p2 = child(url, "--until", str(total))
    out, _ = p2.communicate(timeout=60)
    assert p2.returncode == 0 and int(out.split()[-1]) == total - 1
    for table, (n, distinct) in counts(url).items():
        assert (n, distinct) == (total, total), table
