"""``kbot run --record``: every raw input kbot receives, written to compressed, rotated,
append-only files (format: ``kbot.replay.format``, spec ``docs/RECORDING.md``).

The taps (called on the Trio thread, never blocking):
- ``RecordingWriter.frame_hook``: the ``wslink`` raw-frame hook of the spot feeds
  (``recorder(source, recv_ts, text)``); also the Kalshi REST client's response hook (its text is
  the ``{"method", "path", "params", "status", "body"}`` envelope).
- ``RecordingWriter.wake``: an actor woke and acted (``A``, a wake mark: where it acted among
  the inputs, so a replay acts there too; ``kbot.wakes``).
- ``RecordingSession``: wraps the Kalshi WebSocket session (``KalshiWsSession``) and records
  every input it gets (frames, connects, disconnects, watch/unwatch, ticks, dropped frames), so
  a replay can drive an identical session through identical states.

Each tap appends one line to an in-memory buffer bounded by ``buffer_mb``: when the disk falls
that far behind, records are dropped and counted (an ``L`` record says how many), never waited
for (a feed that stops reading its socket loses its connection). ``RecordingWriter.run``
flushes the buffer every ``flush_s`` real seconds (or sooner when a chunk is full) as one gzip
member appended to the current file, compressed and written in a worker thread. A crash loses at
most what was not flushed; files are created exclusively (``xb``) and only appended to, so a
restart starts a new file and never rewrites an old one. Files rotate after ``rotate_mb`` of
records or ``rotate_s`` seconds.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import trio
from loguru import logger

from kbot.clock import Clock
from kbot.replay import format as fmt
from kbot.replay.config import RecordConfig


def file_name(start: float, run_id: str, seq: int) -> str:
    stamp = dt.datetime.fromtimestamp(start, dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{fmt.PREFIX}{stamp}-{run_id}-{seq:04d}{fmt.SUFFIX}"


class _File:
    """The file being appended to (touched only by the flush thread)."""

    def __init__(self, path: Path, started: float) -> None:
        self.path = path
        self.started = started
        self.raw_bytes = 0
        self.f = open(path, "xb")  # noqa: SIM115 - held across flushes; never overwrite: a restart gets a new name

    def append(self, data: bytes, level: int, fsync: bool) -> None:
        self.f.write(gzip.compress(data, compresslevel=level, mtime=0))
        self.f.flush()
        if fsync:
            os.fsync(self.f.fileno())
        self.raw_bytes += len(data)

    def close(self) -> None:
        self.f.flush()
        os.fsync(self.f.fileno())
        self.f.close()


class RecordingWriter:
    def __init__(self, directory: Path, meta: dict[str, Any], cfg: RecordConfig, clock: Clock) -> None:
        self.directory = directory
        self.meta = dict(meta)
        self.cfg = cfg
        self.clock = clock
        self.run_id = str(meta.get("run_id", "run"))
        self._buf: list[str] = []
        self._bytes = 0
        self._chunk = int(cfg.chunk_mb * 1e6)
        self._limit = int(cfg.buffer_mb * 1e6)
        self._wake = trio.Event()
        self._lock = trio.Lock()
        self._file: _File | None = None
        self._seq = 0
        self._lost_unreported = 0
        self.records = 0  # records accepted
        self.lost = 0  # records dropped (buffer full)
        self.files: list[Path] = []
        self.written_bytes = 0  # uncompressed bytes flushed

    # ------------------------------------------------------------------ taps (never block)

    def add(self, kind: str, t: float, rt: float, source: str, conn: int, channel: str, payload: str) -> None:
        line = fmt.encode(kind, t, rt, source, conn, channel, payload)
        n = len(line)
        if self._bytes + n > self._limit:
            self.lost += 1
            self._lost_unreported += 1
            if self.lost == 1 or self.lost % 10_000 == 0:
                logger.bind(event="recording").error(
                    "recording buffer full ({} MB): {} records dropped so far (disk too slow?)", self.cfg.buffer_mb, self.lost)
            return
        if self._lost_unreported:
            lost, self._lost_unreported = self._lost_unreported, 0
            self._buf.append(fmt.encode(fmt.LOST, t, rt, "recorder", 0, "", str(lost)))
        self._buf.append(line)
        self._bytes += n
        self.records += 1
        if self._bytes >= self._chunk:
            self._wake.set()

    def frame_hook(self, source: str, recv_ts: float, text: str) -> None:
        """``wslink.Recorder`` (and the REST client's ``recorder``): one received frame/response."""
        if source == "kalshi_rest":
            try:
                channel = str(json.loads(text).get("path", ""))
            except (ValueError, AttributeError):
                channel = ""
            self.add(fmt.REST, recv_ts, trio.current_time(), source, 0, channel, text)
        else:
            self.add(fmt.FRAME, recv_ts, trio.current_time(), source, 0, "", text)

    def wake(self, actor: str, channel: str, t: float, what: str) -> None:
        """An actor woke and acted at ``t`` (its clock) on ``what`` (a wake mark, ``kbot.wakes``)."""
        self.add(fmt.WAKE, t, trio.current_time(), actor, 0, channel, what)

    def wrap_session(self, session: Any, source: str = "kalshi_ws") -> RecordingSession:
        return RecordingSession(session, self, source)

    def wrap_protocol(self, protocol: Any) -> RecordingProtocol:
        return RecordingProtocol(protocol, self)

    # ------------------------------------------------------------------ flushing

    async def run(self) -> None:
        """Flush every ``flush_s`` real seconds, or when a chunk is full, until cancelled."""
        while True:
            with trio.move_on_after(self.cfg.flush_s):
                await self._wake.wait()
            await self.flush()

    async def flush(self) -> None:
        async with self._lock:
            self._wake = trio.Event()
            if not self._buf:
                return
            lines, self._buf, self._bytes = self._buf, [], 0
            data = "".join(lines).encode("utf-8", "surrogatepass")
            now = self.clock.now()
            await trio.to_thread.run_sync(self._write, data, now)

    def _write(self, data: bytes, now: float) -> None:
        f = self._file
        if f is not None and (f.raw_bytes >= self.cfg.rotate_mb * 1e6 or now - f.started >= self.cfg.rotate_s):
            f.close()
            self._file = f = None
        if f is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            while f is None:  # a name already taken (a restart within the second) is never reused
                self._seq += 1
                path = self.directory / file_name(now, self.run_id, self._seq)
                try:
                    f = self._file = _File(path, now)
                except FileExistsError:
                    continue
            self.files.append(path)
            head = fmt.encode(fmt.HEADER, now, 0.0, "recorder", 0, "", fmt.header_payload(self.meta, self._seq))
            f.append(head.encode(), self.cfg.level, False)
        f.append(data, self.cfg.level, self.cfg.fsync)
        self.written_bytes += len(data)

    async def aclose(self) -> None:
        """Write what is buffered and close the file (shielded: called while stopping)."""
        with trio.CancelScope(shield=True):
            await self.flush()
            f, self._file = self._file, None
            if f is not None:
                await trio.to_thread.run_sync(f.close)


class RecordingSession:
    """A ``KalshiWsSession`` whose inputs are recorded before it sees them (see module doc).
    Everything else (``drain``, ``counters``, ``watched``, ``book``...) is the session's own."""

    def __init__(self, session: Any, writer: RecordingWriter, source: str) -> None:
        self._s = session
        self._w = writer
        self._src = source
        self._conn = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._s, name)

    def on_connected(self, now: float, rt: float) -> None:
        self._conn += 1
        self._w.add(fmt.OPEN, now, rt, self._src, self._conn, "", "")
        self._s.on_connected(now, rt)

    def on_disconnected(self, now: float, reason: str) -> None:
        self._w.add(fmt.CLOSE, now, trio.current_time(), self._src, self._conn, "", reason)
        self._s.on_disconnected(now, reason)

    def watch(self, tickers: Iterable[str], now: float, rt: float) -> None:
        ts = sorted(tickers)
        self._w.add(fmt.WATCH, now, rt, self._src, self._conn, "", json.dumps(ts))
        self._s.watch(ts, now, rt)

    def unwatch(self, tickers: Iterable[str], now: float, rt: float) -> None:
        ts = sorted(tickers)
        self._w.add(fmt.UNWATCH, now, rt, self._src, self._conn, "", json.dumps(ts))
        self._s.unwatch(ts, now, rt)

    def on_text(self, text: str, recv_ts: float, rt: float, mono: float = 0.0) -> None:
        self._w.add(fmt.FRAME, recv_ts, rt, self._src, self._conn, fmt.kalshi_channel(text), text)
        self._s.on_text(text, recv_ts, rt, mono)

    def tick(self, now: float, rt: float) -> None:
        self._w.add(fmt.TICK, now, rt, self._src, self._conn, "", "")
        self._s.tick(now, rt)

    def on_frames_dropped(self, n: int, now: float, rt: float) -> None:
        self._w.add(fmt.DROPPED, now, rt, self._src, self._conn, "", str(n))
        self._s.on_frames_dropped(n, now, rt)

    def on_batch(self, now: float, rt: float) -> None:
        """The feed begins handling a batch of frames (``KalshiWsClient.on_batch``)."""
        self._w.add(fmt.BATCH, now, rt, self._src, self._conn, "", "")


class RecordingProtocol:
    """A spot exchange's protocol parser whose frames are recorded as the feed parses them (so a
    replay sees them in the order, and the batches, the feed handled them)."""

    def __init__(self, protocol: Any, writer: RecordingWriter) -> None:
        self._p = protocol
        self._w = writer
        self.source: str = protocol.source

    def __getattr__(self, name: str) -> Any:
        return getattr(self._p, name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name in ("_p", "_w", "source"):
            object.__setattr__(self, name, value)
        else:  # e.g. the client clearing reconnect_reason
            setattr(self._p, name, value)

    def parse(self, text: str, recv_ts: float, mono: float = 0.0) -> Any:
        self._w.add(fmt.FRAME, recv_ts, trio.current_time(), self.source, 0, "", text)
        return self._p.parse(text, recv_ts, mono)

    def on_batch(self, now: float, rt: float) -> None:
        self._w.add(fmt.BATCH, now, rt, self.source, 0, "", "")


@asynccontextmanager
async def open_recording(cfg: RecordConfig, directory: Path, meta: dict[str, Any], clock: Clock) -> AsyncIterator[RecordingWriter]:
    """A ``RecordingWriter`` flushing in the background; on exit everything buffered is written."""
    w = RecordingWriter(directory, meta, cfg, clock)
    logger.bind(event="recording").info("recording raw inputs to {}", directory)
    try:
        async with trio.open_nursery() as n:
            n.start_soon(w.run)
            try:
                yield w
            finally:
                n.cancel_scope.cancel()
    finally:
        await w.aclose()
        logger.bind(event="recording", records=w.records, lost=w.lost).info(
            "recording closed: {:,} records ({:.1f} MB) in {} file(s){}", w.records, w.written_bytes / 1e6,
            len(w.files), f"; {w.lost:,} DROPPED (buffer full)" if w.lost else "")


def recording_meta(cfg: Any, run_id: str, clock: Clock, version: str) -> dict[str, Any]:
    """What a recording's header says about the process that wrote it."""
    from kbot.config import config_digest

    return {"kbot": version, "run_id": run_id, "venue": cfg.venue, "mode": cfg.mode, "speed": clock.speed,
            "series": list(cfg.series), "config_digest": config_digest(cfg), "pid": os.getpid()}
