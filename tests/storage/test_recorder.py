"""The recorder actor: batching by size and by time, Flush acknowledgements, writes off the
Trio thread, restarts that neither lose nor duplicate records, lock retries, and a drain on
shutdown."""

from __future__ import annotations

import functools
import sqlite3
import threading
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
import trio
import trio.lowlevel

from actors.recorder import Flush, Recorder
from kbot.actorkit import ActorStats
from kbot.messages import LedgerEntry
from storage.config import StorageConfig
from storage.db import open_database
from storage.runs import start_run
from storage.writer import BatchWriter, WriteResult
from supervision import Backoff, ChildSpec, Mailbox, Supervisor
from tests.storage.records import T0, Distinct, edge


class FakeWriter:
    """Records batches in memory (thread and timing of each write)."""

    def __init__(self, log: list[list[Any]], threads: list[int]) -> None:
        self.log = log
        self.threads = threads

    def write(self, records: list[Any]) -> WriteResult:
        self.log.append(list(records))
        self.threads.append(threading.get_ident())
        return WriteResult(written=len(records), transactions=1)

    def close(self) -> None:
        pass


async def inline(fn: Any, *args: Any) -> Any:
    """Runs the write on the Trio thread, so autojump_clock tests are deterministic."""
    await trio.lowlevel.checkpoint()
    return fn(*args)


def fake_recorder(cfg: StorageConfig, *, threaded: bool = False) -> tuple[Recorder, list[list[Any]], list[int]]:
    log: list[list[Any]] = []
    threads: list[int] = []
    rec = Recorder(
        None, "run-1", cfg, writer_factory=lambda *_: FakeWriter(log, threads),  # type: ignore[arg-type]
        **({} if threaded else {"offload": inline}),
    )  # fmt: skip
    return rec, log, threads


def entries(n: int, start: int = 0) -> list[LedgerEntry]:
    return [
        LedgerEntry(entry_id=f"e{i}", ts=T0 + i, mode="paper", ticker=None, kind="fee", amount=Decimal("-0.0175"))
        for i in range(start, start + n)
    ]


def count(engine: sa.Engine, table: str) -> int:
    with engine.connect() as c:
        return c.execute(sa.text(f"SELECT COUNT(*) FROM {table}")).scalar_one()


async def test_batches_are_capped_at_batch_rows():
    rec, log, threads = fake_recorder(StorageConfig(batch_rows=100, batch_ms=10), threaded=True)
    for m in entries(250):
        rec.send_nowait(m)
    async with trio.open_nursery() as n:
        n.start_soon(rec.run)
        await rec.flush()
        n.cancel_scope.cancel()
    assert [len(b) for b in log] == [100, 100, 50]
    assert threading.get_ident() not in threads  # written in worker threads, never on the Trio thread


async def test_a_batch_waits_at_most_batch_ms_for_more(autojump_clock):
    rec, log, _ = fake_recorder(StorageConfig(batch_rows=1000, batch_ms=50))
    ms = entries(3)
    async with trio.open_nursery() as n:
        n.start_soon(rec.run)
        await rec.send(ms[0])
        await trio.sleep(0.010)
        await rec.send(ms[1])  # within 50 ms of the first: same batch
        await trio.sleep(0.200)
        assert log == [ms[:2]]
        await rec.send(ms[2])
        t0 = trio.current_time()
        while len(log) < 2:
            await trio.sleep(0.001)
        assert trio.current_time() - t0 == pytest.approx(0.050, abs=0.002)
        n.cancel_scope.cancel()
    assert log == [ms[:2], ms[2:]]


async def test_flush_writes_at_once_and_acknowledges(autojump_clock):
    rec, log, _ = fake_recorder(StorageConfig(batch_rows=1000, batch_ms=10_000))
    async with trio.open_nursery() as n:
        n.start_soon(rec.run)
        for m in entries(3):
            await rec.send(m)
        t0 = trio.current_time()
        await rec.flush()
        assert trio.current_time() - t0 < 1  # not the 10 s batch window
        assert [len(b) for b in log] == [3]
        await rec.flush()  # nothing pending: still acknowledged
        n.cancel_scope.cancel()


async def test_acknowledged_records_are_committed(sqlite_engine, sqlite_run_id):
    stats = ActorStats("recorder")
    rec = Recorder(sqlite_engine, sqlite_run_id, StorageConfig(batch_rows=500), actor_stats=stats)
    v = Distinct()
    async with trio.open_nursery() as n:
        n.start_soon(rec.run)
        for i, m in enumerate(entries(1200)):
            await rec.send(m)
            if i % 300 == 299:
                await rec.flush()
                assert count(sqlite_engine, "ledger_entries") == i + 1
        await rec.send(edge(v))
        await rec.flush()
        n.cancel_scope.cancel()
    assert count(sqlite_engine, "edges") == 1
    assert rec.stats.written == 1201 and rec.stats.rejected == 0
    assert stats.msgs_in == 1201 + 5  # records and flushes taken from the inbox


class FailingWriter(BatchWriter):
    """Fails once, after (or before) committing its first batch."""

    failures = {"after": 0, "before": 0}

    def __init__(self, *a: Any, when: str, **kw: Any) -> None:
        super().__init__(*a, **kw)
        self.when = when

    def write(self, records):  # type: ignore[override]
        if FailingWriter.failures[self.when] == 0 and len(records) > 1:
            FailingWriter.failures[self.when] += 1
            if self.when == "after":
                super().write(records)  # committed ...
            raise sa.exc.OperationalError("COMMIT", {}, sqlite3.OperationalError("disk I/O error"))  # ... not acked
        return super().write(records)


@pytest.mark.parametrize("when", ["before", "after"])
async def test_a_restart_neither_loses_nor_duplicates(sqlite_engine, sqlite_run_id, when):
    FailingWriter.failures[when] = 0
    inbox: Mailbox = Mailbox(10_000)
    rec = Recorder(
        sqlite_engine, sqlite_run_id, StorageConfig(batch_rows=200), inbox=inbox,
        writer_factory=functools.partial(FailingWriter, when=when),
    )  # fmt: skip
    v = Distinct()
    edges = [edge(v, ts=T0 + i) for i in range(600)]
    events = []
    sup = Supervisor("root", [ChildSpec("recorder", rec.run, backoff=Backoff.none())], on_event=events.append)
    async with trio.open_nursery() as n:
        await n.start(sup.run)
        for e in edges:
            await rec.send(e)
        with trio.fail_after(10):
            await rec.flush()
        n.cancel_scope.cancel()
    assert FailingWriter.failures[when] == 1
    assert [e.kind for e in events].count("crashed") == 1
    with sqlite_engine.connect() as c:
        rows = c.execute(sa.text("SELECT ts FROM edges ORDER BY ts")).scalars().all()
    assert rows == [e.ts for e in edges]  # every record exactly once
    assert rec.stats.failures == 1


async def test_locked_database_is_retried_with_backoff(tmp_path):
    url = f"sqlite:///{tmp_path / 'lock.sqlite'}"
    cfg = StorageConfig(busy_timeout_ms=20, lock_retry_initial_s=0.02, lock_retry_max_s=0.05)
    eng = open_database(url, cfg)
    rid = start_run(eng, now=T0, mode="paper", venue="sim")
    rec = Recorder(eng, rid, cfg)
    holder = sqlite3.connect(tmp_path / "lock.sqlite", isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    async with trio.open_nursery() as n:
        n.start_soon(rec.run)
        for m in entries(10):
            await rec.send(m)
        flushed = trio.Event()

        async def flush() -> None:
            await rec.flush()
            flushed.set()

        n.start_soon(flush)
        while rec.stats.lock_waits < 2:
            await trio.sleep(0.01)
        assert not flushed.is_set()
        holder.execute("ROLLBACK")
        with trio.fail_after(5):
            await flushed.wait()
        n.cancel_scope.cancel()
    holder.close()
    assert count(eng, "ledger_entries") == 10 and rec.stats.failures == 0
    eng.dispose()


async def test_shutdown_drains_the_inbox(sqlite_engine, sqlite_run_id):
    rec = Recorder(sqlite_engine, sqlite_run_id, StorageConfig(batch_rows=100, batch_ms=1000))
    async with trio.open_nursery() as n:
        n.start_soon(rec.run)
        await trio.lowlevel.checkpoint()
        for m in entries(1000):
            rec.send_nowait(m)
        n.cancel_scope.cancel()
    assert count(sqlite_engine, "ledger_entries") == 1000
    assert len(rec.inbox) == 0


async def test_cancel_while_collecting_puts_the_batch_back():
    rec, _log, _ = fake_recorder(StorageConfig(batch_rows=1000, batch_ms=60_000, drain_s=0.001))
    rec.writer_factory = lambda *_: _BlockedWriter()  # type: ignore[assignment]
    async with trio.open_nursery() as n:
        n.start_soon(rec.run)
        for m in entries(5):
            await rec.send(m)
        await trio.sleep(0.01)  # the recorder holds the 5 records, waiting for more
        n.cancel_scope.cancel()
    assert len(rec.inbox) == 5  # nothing lost: back in the inbox for the next incarnation


class _BlockedWriter(FakeWriter):
    def __init__(self) -> None:
        super().__init__([], [])

    def write(self, records: list[Any]) -> WriteResult:
        raise sa.exc.OperationalError("BEGIN", {}, sqlite3.OperationalError("disk I/O error"))


async def test_flush_marker_is_never_written(sqlite_engine, sqlite_run_id):
    rec = Recorder(sqlite_engine, sqlite_run_id)
    f = Flush()
    rec.send_nowait(f)
    async with trio.open_nursery() as n:
        n.start_soon(rec.run)
        with trio.fail_after(5):
            await f.done.wait()
        n.cancel_scope.cancel()
    assert rec.stats.rejected == 0 and rec.stats.written == 0


async def test_supervision_events_sink_never_blocks(sqlite_engine, sqlite_run_id):
    from supervision import SupervisionEvent

    rec = Recorder(sqlite_engine, sqlite_run_id, StorageConfig(inbox_capacity=2))
    evs = [SupervisionEvent(ts=T0 + i, supervisor="root", child="x", kind="started") for i in range(5)]
    for e in evs:
        rec.on_event(e)  # the inbox holds 2: the rest wait aside, nothing raises
    async with trio.open_nursery() as n:
        n.start_soon(rec.run)
        await rec.flush()
        n.cancel_scope.cancel()
    assert count(sqlite_engine, "supervision_events") == 5
