"""The recorder: the single writer of the database.

Receives: every record kbot keeps (any message type of ``kbot.messages`` and
``supervision.SupervisionEvent``), through a bounded, lossless ``supervision.Mailbox``
(senders wait when it is full: backpressure, never loss), plus ``Flush`` markers.

Applies: ``storage.writer.BatchWriter.write`` to batches of up to ``batch_rows`` records,
collected until the batch is full or its first record has waited ``batch_ms``, whichever
comes first (a ``Flush`` closes the batch at once). Each batch is one transaction, written
in a worker thread (``trio.to_thread``), so the Trio loop never waits on the disk.

Sends: nothing. A ``Flush`` is acknowledged (its ``done`` event set) once every record sent
before it is durable, i.e. committed, or rejected as bad input (counted, logged). With SQLite
in WAL mode, a committed transaction survives ``kill -9`` of the process.

Fails: a batch that cannot be written for a reason other than bad rows (locked past all
retries, disk full, I/O error) is put back at the front of the inbox and the recorder raises;
its supervisor restarts it with backoff and the next incarnation writes the same batch again.
A batch whose commit succeeded but whose acknowledgement was lost is simply written again:
upserts on natural keys make that a no-op, so a restart neither loses nor duplicates records.
Bad rows never crash it (see ``storage.writer``). On shutdown (cancellation) it keeps writing
what is already in its inbox for up to ``drain_s`` seconds, shielded.

The ``Recorder`` object is owned by the tree (like the mailbox): ``Recorder.run`` is one
incarnation, the ``run`` of the recorder's ``ChildSpec``. The recorder is also an ``Outbox``:
other actors ``await recorder.send(msg)`` (or ``send_many`` for a burst), supervisors report to
``on_event`` (a synchronous sink that never blocks), and ``await recorder.flush()`` returns
once everything sent before it is durable.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import attrs
import trio
from loguru import logger
from sqlalchemy.engine import Engine

from kbot.actorkit import ActorStats, current_bad_input_sink
from kbot.clock import Clock
from kbot.messages import Alert, BadInput
from storage.config import StorageConfig
from storage.writer import BatchWriter, Conflict, DatabaseBusy, WriteResult
from supervision import Batch, Mailbox, SupervisionEvent


@attrs.define(eq=False, slots=True)
class Flush:
    """Put in the recorder's inbox; ``done`` is set once every record sent before it is durable."""

    done: trio.Event = attrs.field(factory=trio.Event)


@attrs.define(slots=True)
class RecorderStats:
    """Counters that outlive incarnations (read by health/status and tests)."""

    written: int = 0  # records committed
    rejected: int = 0  # records refused as bad input (logged with content)
    skipped: int = 0  # records not kept by policy (non-snapshot edges)
    batches: int = 0
    transactions: int = 0
    lock_waits: int = 0  # "database is locked" retries
    failures: int = 0  # batches put back after an error (each followed by a restart)
    last_batch: int = 0
    max_batch: int = 0
    money_conflicts: int = 0  # money rows refused because their key held a different row (never expected)


WriterFactory = Callable[[Engine, str, StorageConfig], BatchWriter]
Offload = Callable[..., Awaitable[Any]]


class Recorder:
    def __init__(
        self,
        engine: Engine,
        run_id: str,
        cfg: StorageConfig | None = None,
        *,
        inbox: Mailbox | None = None,
        actor_stats: ActorStats | None = None,
        clock: Clock | None = None,
        writer_factory: WriterFactory = BatchWriter,
        offload: Offload = trio.to_thread.run_sync,
    ) -> None:
        self.engine = engine
        self.run_id = run_id
        self.cfg = cfg or StorageConfig()
        self.inbox: Mailbox[Any] = inbox if inbox is not None else Mailbox(self.cfg.inbox_capacity, name="recorder")
        self.stats = RecorderStats()
        self.actor_stats = actor_stats
        self.clock = clock
        self.writer_factory = writer_factory
        self.offload = offload  # runs a blocking write off the Trio thread (tests: inline)
        self.log = logger.bind(actor="recorder", run_id=run_id)
        self._overflow: list[Any] = []  # supervision events and conflict records waiting for room

    # ------------------------------------------------------------------ the Outbox side

    async def send(self, msg: Any) -> None:
        await self.inbox.send(msg)

    def send_nowait(self, msg: Any) -> None:
        self.inbox.send_nowait(msg)

    async def send_many(self, msgs: Iterable[Any]) -> None:
        """Send several records with one checkpoint (instead of one per ``send``), waiting
        only when the inbox is full: for producers that emit records in bursts."""
        await trio.lowlevel.checkpoint_if_cancelled()
        box = self.inbox
        for m in msgs:
            try:
                box.send_nowait(m)
            except trio.WouldBlock:
                await box.send(m)
        await trio.lowlevel.cancel_shielded_checkpoint()

    def on_event(self, event: SupervisionEvent) -> None:
        """A synchronous sink for ``Supervisor(on_event=recorder.on_event)``: never blocks. When
        the inbox is full the event waits in a side list that the next batch takes (the number
        of supervision events is bounded by the supervisors' restart intensity)."""
        self._record_own(event)

    async def flush(self) -> None:
        """Return once everything sent before this call is durable (committed or rejected)."""
        f = Flush()
        await self.inbox.send(f)
        await f.done.wait()

    # ------------------------------------------------------------------ one incarnation

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        writer = self.writer_factory(self.engine, self.run_id, self.cfg)
        task_status.started()
        try:
            while True:
                first = await self.inbox.receive_batch(max_items=self.cfg.batch_rows)
                # A batch that cannot be collected or written in full goes back to the front of the
                # inbox (cancelled while collecting at shutdown, or failed: the next incarnation).
                with self.inbox.processing(first) as batch:
                    await self._collect(batch)
                    await self._write(writer, batch.items)
        except trio.Cancelled:
            with trio.CancelScope(shield=True):
                await self._drain(writer)
            raise
        finally:
            writer.close()

    async def _collect(self, batch: Batch[Any]) -> None:
        """Grow ``batch`` (whatever was pending) to up to ``batch_rows`` records: what arrives
        within ``batch_ms`` of the first, unless a ``Flush`` asks for a write now."""
        n_max = self.cfg.batch_rows
        if self._overflow:
            batch.add(self._overflow)  # taken with this batch: put back with it on failure
            self._overflow.clear()
        if len(batch) < n_max and not _has_flush(batch.items):
            with trio.move_on_after(self.cfg.batch_ms / 1000.0):
                while len(batch) < n_max:
                    more = await self.inbox.receive_batch(max_items=n_max - len(batch))
                    batch.add(more)
                    if _has_flush(more):
                        break

    async def _write(self, writer: BatchWriter, batch: list[Any]) -> None:
        """Write ``batch`` (taken under ``processing``: a failure puts it back)."""
        records = [m for m in batch if type(m) is not Flush]
        try:
            res = await self._write_with_retries(writer, records)
        except BaseException as exc:
            if not isinstance(exc, trio.Cancelled):
                self.stats.failures += 1
                if self.actor_stats is not None:
                    self.actor_stats.errors += 1
                self.log.bind(event="recorder_failed", records=len(records)).error(
                    "recorder: could not write a batch of {} records ({}: {}); it stays queued",
                    len(records),
                    type(exc).__name__,
                    exc,
                )
            raise
        self._account(res, len(batch))
        sink = current_bad_input_sink.get()
        if sink is not None:
            sink.flush()  # rows the writer rejected in its thread become bad_inputs records now
        for m in batch:
            if type(m) is Flush:
                m.done.set()

    async def _write_with_retries(self, writer: BatchWriter, records: list[Any]) -> WriteResult:
        if not records:
            return WriteResult()
        delay = self.cfg.lock_retry_initial_s
        for attempt in range(self.cfg.lock_retries + 1):
            try:
                # Not abandoned on cancel: a transaction in flight always finishes, so we know
                # whether it committed before deciding to put the batch back.
                return await self.offload(writer.write, records)
            except DatabaseBusy as exc:
                if attempt == self.cfg.lock_retries:
                    raise
                self.stats.lock_waits += 1
                self.log.bind(event="db_locked", attempt=attempt + 1).warning(
                    "recorder: database locked ({}); retrying in {:.2f}s", exc, delay
                )
                await trio.sleep(delay)
                delay = min(self.cfg.lock_retry_max_s, delay * 2)
        raise AssertionError("unreachable")  # pragma: no cover

    def _account(self, res: WriteResult, taken: int) -> None:
        s = self.stats
        s.written += res.written
        s.rejected += res.rejected
        s.skipped += res.skipped
        s.transactions += res.transactions
        s.batches += 1
        s.last_batch = taken
        s.max_batch = max(s.max_batch, taken)
        a = self.actor_stats
        if a is not None:
            a.msgs_in += taken
            a.errors += res.rejected + len(res.conflicts)
            if self.clock is not None:
                a.last_msg_ts = self.clock.now()
        if res.conflicts:
            self._money_conflicts(res.conflicts)

    def _money_conflicts(self, conflicts: list[Conflict]) -> None:
        """Make refused money rows impossible to miss: counted (stats, the actor's errors and
        state, so health and ``kbot status`` show them), a critical alert per table, and both
        rows of every conflict kept in ``bad_inputs`` (recorded with the next batch)."""
        self.stats.money_conflicts += len(conflicts)
        if self.actor_stats is not None:
            self.actor_stats.state = f"{self.stats.money_conflicts} MONEY CONFLICTS (see bad_inputs)"
        now = self.clock.now() if self.clock is not None else time.time()
        by_table: dict[str, list[Conflict]] = {}
        for c in conflicts:
            by_table.setdefault(c.table, []).append(c)
        for table, cs in by_table.items():
            msg = (f"{len(cs)} {table} rows refused: their keys already hold different rows (money records "
                   f"that do not add up; {self.stats.money_conflicts} this run). Both rows are in bad_inputs.")
            self.log.bind(event="alert", kind="money_conflict", severity="critical", subject=table).critical(msg)
            self._record_own(Alert(ts=now, kind="money_conflict", severity="critical", subject=table, message=msg))
            self._record_own(BadInput(ts=now, source="recorder", kind=f"money_conflict:{table}",
                                      sample="\n".join(c.describe() for c in cs)))

    def _record_own(self, rec: Any) -> None:
        """Queue a record of the recorder's own (never blocks: a full inbox parks it for the next batch)."""
        try:
            self.inbox.send_nowait(rec)
        except trio.WouldBlock:
            self._overflow.append(rec)

    async def _drain(self, writer: BatchWriter) -> None:
        """Shielded: write what is already queued, for at most ``drain_s`` seconds."""
        deadline = trio.current_time() + self.cfg.drain_s
        while len(self.inbox) and trio.current_time() < deadline:
            batch = await self.inbox.receive_batch(max_items=self.cfg.batch_rows)
            with trio.move_on_at(deadline):
                try:
                    with self.inbox.processing(batch):
                        await self._write(writer, batch)
                except Exception:
                    return  # already logged and put back
        left = len(self.inbox)
        if left:
            self.log.bind(event="recorder_unflushed", records=left).error(
                "recorder stopped with {} records not written (drain limit {}s)", left, self.cfg.drain_s
            )


def _has_flush(items: list[Any]) -> bool:
    return any(type(m) is Flush for m in items)


