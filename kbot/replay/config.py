"""Configuration of recording (``[record]``) and replay (``[replay]``)."""

from __future__ import annotations

from pathlib import Path

import attrs


@attrs.frozen(kw_only=True)
class RecordConfig:
    """``[record]``: what ``kbot run --record`` writes (see ``docs/RECORDING.md``)."""

    enabled: bool = False
    dir: str = ""  # default: <data_dir>/recordings
    rotate_mb: float = 256.0  # start a new file after this many MB of records (uncompressed)
    rotate_s: float = 3600.0  # ... or after this many seconds of kbot's clock
    flush_s: float = 1.0  # real seconds between flushes: at most this much is lost in a crash
    chunk_mb: float = 4.0  # flush early when this much is buffered
    buffer_mb: float = 64.0  # records beyond this (disk far behind) are dropped and counted
    level: int = 3  # gzip level (1 fastest .. 9 smallest)
    fsync: bool = False  # fsync after every flush (power-loss safety; a process crash needs none)
    keep_days: float | None = None  # ``kbot db prune`` default for recordings (None: --older-than)

    def __attrs_post_init__(self) -> None:
        if min(self.rotate_mb, self.rotate_s, self.flush_s, self.chunk_mb, self.buffer_mb) <= 0:
            raise ValueError("record: rotate_mb, rotate_s, flush_s, chunk_mb and buffer_mb must be > 0")
        if not 1 <= self.level <= 9:
            raise ValueError("record.level must be 1..9")

    def directory(self, data_dir: str) -> Path:
        return Path(self.dir) if self.dir else Path(data_dir) / "recordings"



FILLS = ("book", "shadow")


@attrs.frozen(kw_only=True)
class ReplayConfig:
    """``[replay]``: how ``kbot replay`` / ``kbot backtest`` fill and pace a replay."""

    # book: a TAKE fills as a taker against the recorded order book as it stood ``latency_ms``
    # after the decision (walk the levels, partial fills, real fees). shadow: at the decided price
    # and size, as ``kbot run`` in shadow mode (for parity with a recorded shadow run).
    fills: str = "book"
    latency_ms: float = 100.0
    # A REST request of the replayed REST feed is answered with the same request's recorded response
    # recorded at most this many real seconds before it (retries, pacing jitter), else the next one.
    rest_tolerance_s: float = 5.0
    rest_wait_s: float = 900.0  # clock seconds a request waits for its recorded response
    seed: int = 0  # Trio's scheduler order (a replay is deterministic for a given seed)
    # A recording with wake marks (kbot's own, format version 2): its actors act where the live ones
    # did (the live run's decisions, at its moments: docs/REPLAY.md, parity). false: as if kbot took
    # no time, each actor acting as soon as the virtual clock brings it input (version 1 behaviour).
    wake_marks: bool = True
    tail_s: float = 120.0  # clock seconds the replay runs on after the last record (latency fills, settlements)

    def __attrs_post_init__(self) -> None:
        if self.fills not in FILLS:
            raise ValueError(f"replay.fills must be one of {', '.join(FILLS)}")
        if self.latency_ms < 0 or self.rest_tolerance_s < 0 or self.rest_wait_s <= 0 or self.tail_s < 0:
            raise ValueError("replay: latency_ms, rest_tolerance_s, tail_s must be >= 0 and rest_wait_s > 0")
