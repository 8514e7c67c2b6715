"""Issue 12, ``BadInputLog`` records: no process-global sink (each run injects its own), records
stamped with the actors' clock (the simulated/replayed time axis, not ``time.time()``), the sink
closed and removed however the run ends, and nothing Trio touched from a worker thread (the
database writer rejects rows in its thread)."""

from __future__ import annotations

import threading

import pytest
import trio
import trio.lowlevel

from actors.recorder import Recorder
from kbot.actorkit import BadInputLog, BadInputSink, bad_inputs_to, current_bad_input_sink
from kbot.clock import ScaledClock
from kbot.messages import BadInput
from storage.db import open_database
from storage.runs import start_run
from supervision import Mailbox


class TrioOnly:
    """A send that fails loudly when called off the Trio thread (a Trio mailbox is not
    thread-safe: the old sink was called from the writer's worker thread)."""

    def __init__(self) -> None:
        self.thread = threading.get_ident()
        self.records: list[BadInput] = []

    def __call__(self, rec: BadInput) -> None:
        assert threading.get_ident() == self.thread, "called from another thread"
        self.records.append(rec)


async def test_records_are_stamped_with_the_run_clock():
    clock = ScaledClock(epoch0=1_700_000_000.0, speed=60.0)
    send = TrioOnly()
    with bad_inputs_to(BadInputSink(send, clock)):
        BadInputLog("feed").record("bad_json", "{oops", "Expecting value")
    [rec] = send.records
    assert (rec.source, rec.kind) == ("feed", "bad_json") and rec.sample.startswith("#1 Expecting value: {oops")
    assert abs(rec.ts - clock.now()) < 60.0  # the simulated clock (2023), not the wall clock


async def test_two_runs_in_one_process_keep_their_own_sinks():
    a, b = TrioOnly(), TrioOnly()

    async def run(send: TrioOnly, name: str) -> None:
        with bad_inputs_to(BadInputSink(send, ScaledClock(epoch0=1e9))):
            for _ in range(3):
                BadInputLog(name).record(f"k{name}", "x")
                await trio.lowlevel.checkpoint()  # let the other run log in between

    async with trio.open_nursery() as n:
        n.start_soon(run, a, "a")
        n.start_soon(run, b, "b")
    assert [r.source for r in a.records] == ["a"] * 3 and [r.source for r in b.records] == ["b"] * 3
    assert current_bad_input_sink.get() is None


async def test_the_sink_is_closed_and_removed_however_the_run_ends():
    send = TrioOnly()
    sink = BadInputSink(send, ScaledClock(epoch0=1e9))
    log = BadInputLog("feed", every=1)
    with pytest.raises(RuntimeError), bad_inputs_to(sink):
        raise RuntimeError("the run crashed")
    assert current_bad_input_sink.get() is None and sink.closed
    log.record("late", "after the run")  # nowhere to go: logged only
    sink("feed", "late", "x")  # a log still holding the sink: dropped, not sent
    assert send.records == []


async def test_worker_threads_never_touch_trio():
    box: Mailbox[BadInput] = Mailbox(10)
    send = TrioOnly()
    with bad_inputs_to(BadInputSink(lambda r: (send(r), box.send_nowait(r)), ScaledClock(epoch0=1e9))) as sink:
        log = BadInputLog("recorder", every=1)
        await trio.to_thread.run_sync(log.record, "unmappable:Edge", "row")  # the writer's thread
        assert send.records == [] and len(box) == 0  # queued, not sent from the thread
        sink.flush()  # on the Trio thread (the recorder does it after each write)
        assert [r.kind for r in send.records] == ["unmappable:Edge"] and len(box) == 1


async def test_a_row_the_writer_rejects_becomes_a_bad_inputs_record(tmp_path):
    sqlite_engine = open_database(f"sqlite:///{tmp_path / 'kbot.sqlite'}")
    run_id = start_run(sqlite_engine, now=1e9, mode="shadow", venue="sim", run_id="r")
    rec = Recorder(sqlite_engine, run_id)
    clock = ScaledClock(epoch0=1_800_000_000.0)
    async with trio.open_nursery() as n:
        with bad_inputs_to(BadInputSink(rec.send_nowait, clock)):
            n.start_soon(rec.run)
            await rec.send(object())  # no table records it: rejected by the writer, in its thread
            await rec.flush()
            await rec.flush()  # the rejection sample was queued by the first write
        n.cancel_scope.cancel()
    with sqlite_engine.connect() as c:
        rows = c.exec_driver_sql("select ts, source, kind from bad_inputs").fetchall()
    assert [(s, k) for _, s, k in rows] == [("recorder", "unknown_type")]
    assert abs(rows[0][0] - 1_800_000_000.0) < 60
    sqlite_engine.dispose()
