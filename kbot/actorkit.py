"""Small pieces every kbot actor uses: counters for health, bad-input accounting, outboxes.

- ``ActorStats``: messages in/out, errors and the time of the last message, per actor name.
  Owned by the tree (like mailboxes), so counts survive restarts. The health actor reads them.
- ``BadInputLog``: "bad input never crashes a loop and never passes garbage on: count it, log
  it once per kind with a sample, keep going". ``BadInputSink`` turns the logged samples into
  ``BadInput`` records for the database; ``bad_inputs_to`` installs one for a run.
- ``Outbox``: what an actor sends to. A ``supervision.Mailbox``/``LatestMailbox`` is one;
  ``Tee`` sends one message to several; ``Collect`` is a list-backed outbox for tests.
- ``deliver``: send without a scheduler pass when the outbox can take the message now.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Protocol

import attrs
import trio
from loguru import logger

from kbot.clock import Clock
from kbot.messages import BadInput
from kbot.text import clean_text, short


class Outbox(Protocol):
    async def send(self, msg: Any) -> None: ...

    def send_nowait(self, msg: Any) -> None: ...


@attrs.define(slots=True)
class ActorStats:
    name: str
    msgs_in: int = 0
    msgs_out: int = 0
    errors: int = 0
    last_msg_ts: float | None = None  # on the actor's clock
    state: str | None = None  # free text shown by health/status (e.g. "connected")


class StatsRegistry:
    """name -> ActorStats, created on first use."""

    def __init__(self) -> None:
        self._stats: dict[str, ActorStats] = {}

    def get(self, name: str) -> ActorStats:
        s = self._stats.get(name)
        if s is None:
            s = self._stats[name] = ActorStats(name)
        return s

    def items(self) -> list[tuple[str, ActorStats]]:
        return list(self._stats.items())

    def drop(self, name: str) -> None:
        self._stats.pop(name, None)


class BadInputSink:
    """Where logged bad-input samples become ``BadInput`` records (``kbot run``: the recorder,
    table ``bad_inputs``), stamped with ``clock`` (the actors' clock, so a simulated or replayed
    run keeps one time axis).

    Best effort and never blocking: ``send`` is a non-blocking send (``trio.WouldBlock`` when the
    recorder is saturated: the sample is dropped and counted, the log line is the record of last
    resort). Thread-safe without touching Trio from a thread: a sample logged in a worker thread
    (the database writer rejecting a row) is queued (bounded) and sent from the Trio thread by
    the next ``flush`` (the recorder flushes after every write) or the next sample logged there.
    After ``close`` (the run is over) samples are dropped."""

    def __init__(self, send: Callable[[BadInput], None], clock: Clock, *, max_queued: int = 1000) -> None:
        self._send = send
        self._clock = clock
        self._trio_thread = threading.get_ident()  # made on the Trio thread, by the tree
        self._queued: deque[tuple[str, str, str]] = deque(maxlen=max_queued)  # append: atomic
        self.closed = False
        self.sent = 0
        self.dropped = 0

    def __call__(self, source: str, kind: str, sample: str) -> None:
        if self.closed:
            return
        if threading.get_ident() != self._trio_thread:
            self._queued.append((source, kind, sample))
            return
        self.flush()
        self._emit(source, kind, sample)

    def flush(self) -> None:
        """Send the samples queued by other threads (call on the Trio thread)."""
        while self._queued and not self.closed:
            self._emit(*self._queued.popleft())

    def _emit(self, source: str, kind: str, sample: str) -> None:
        try:
            self._send(BadInput(ts=self._clock.now(), source=source, kind=kind, sample=sample))
            self.sent += 1
        except Exception:  # WouldBlock (saturated) or a closed recorder: the log line stays
            self.dropped += 1

    def close(self) -> None:
        self.closed = True
        self._queued.clear()


# The sink of the run this task belongs to: set by ``bad_inputs_to`` around a run, inherited by
# every task the run starts (and copied into its worker threads), so two runs in one process
# (tests, ``kbot bench``) never share one. Not a process-global.
current_bad_input_sink: ContextVar[BadInputSink | None] = ContextVar("bad_input_sink", default=None)


@contextmanager
def bad_inputs_to(sink: BadInputSink) -> Iterator[BadInputSink]:
    """Within the block (and the tasks started in it), logged bad inputs go to ``sink``; on
    exit, however the block ends, the sink is closed and the previous one restored."""
    token = current_bad_input_sink.set(sink)
    try:
        yield sink
    finally:
        sink.close()
        current_bad_input_sink.reset(token)


def _repr(sample: Any) -> str:
    try:
        return repr(sample)
    except RecursionError:  # a deeply nested decoded document
        return short(sample)


class BadInputLog:
    """Counts bad inputs per kind; logs the first of each kind (with a truncated sample) and
    then every ``every``-th one, so a flood never floods the log.

    Every logged sample also goes to ``sink`` as a ``BadInput`` record: the one given, else the
    run's (``current_bad_input_sink``, looked up when the sample is logged), else nowhere."""

    def __init__(
        self, source: str, *, every: int = 1000, sample_chars: int = 300, sink: BadInputSink | None = None
    ) -> None:
        self.source = source
        self.every = every
        self.sample_chars = sample_chars
        self.sink = sink
        self.counts: dict[str, int] = {}

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def record(self, kind: str, sample: Any, detail: str | None = None) -> int:
        n = self.counts.get(kind, 0) + 1
        self.counts[kind] = n
        if n == 1 or n % self.every == 0:
            text = sample if isinstance(sample, str) else _repr(sample)
            text = clean_text(text[: self.sample_chars] + "..." if len(text) > self.sample_chars else text)
            logger.bind(event="bad_input", source=self.source, kind=kind, count=n).warning(
                "bad input from {} ({}, #{}){}: {}", self.source, kind, n, f" {detail}" if detail else "", text
            )
            sink = self.sink if self.sink is not None else current_bad_input_sink.get()
            if sink is not None:
                sink(self.source, kind, f"#{n}{' ' + detail if detail else ''}: {text}")
        return n


async def deliver(out: Outbox, msg: Any) -> None:
    """``out.send_nowait(msg)``, or ``await out.send(msg)`` when the outbox cannot take it now
    (full: backpressure, never loss). An ``await send`` on a mailbox with room is still a Trio
    checkpoint, i.e. a trip through the scheduler (~10-20 us and, worse, a wait behind every
    other runnable task) for each message; actors already checkpoint once per batch when they
    receive, so their sends need not. Outboxes without a synchronous path raise
    ``trio.WouldBlock`` from ``send_nowait`` and are awaited."""
    try:
        out.send_nowait(msg)
    except trio.WouldBlock:
        await out.send(msg)


class Tee:
    """Sends each message to every target in order (e.g. a pricer's inbox and the recorder),
    each through ``deliver`` (no scheduler pass unless a target is full).

    Every target gets a message exactly once, also across a ``trio.WouldBlock``: when target k is
    full, ``send_nowait`` raises after targets before k already took the message, and remembers
    that; the retry of that same message (``send``, as ``deliver`` does, or ``send_nowait``)
    resumes at target k instead of giving the earlier targets a duplicate. A ``send`` cancelled
    while waiting on a full target resumes the same way. One sender at a time (an actor's outbox):
    the progress kept is that of the last message sent."""

    __slots__ = ("targets", "_msg", "_next")

    def __init__(self, *targets: Outbox) -> None:
        self.targets = targets
        self._msg: Any = None  # the message a send stopped in the middle of...
        self._next = 0  # ...and the first target that has not got it yet

    def _start(self, msg: Any) -> int:
        return self._next if self._msg is msg else 0

    async def send(self, msg: Any) -> None:
        targets = self.targets
        for i in range(self._start(msg), len(targets)):
            self._msg, self._next = msg, i
            await deliver(targets[i], msg)
        self._msg = None

    def send_nowait(self, msg: Any) -> None:
        targets = self.targets
        for i in range(self._start(msg), len(targets)):
            try:
                targets[i].send_nowait(msg)
            except trio.WouldBlock:
                self._msg, self._next = msg, i
                raise
        self._msg = None


class Collect:
    """An outbox that keeps what it is sent (tests, benches)."""

    def __init__(self, predicate: Callable[[Any], bool] | None = None) -> None:
        self.items: list[Any] = []
        self.predicate = predicate

    async def send(self, msg: Any) -> None:
        self.send_nowait(msg)

    def send_nowait(self, msg: Any) -> None:
        if self.predicate is None or self.predicate(msg):
            self.items.append(msg)

    def of(self, cls: type) -> list[Any]:
        return [m for m in self.items if isinstance(m, cls)]

    def extend(self, msgs: Iterable[Any]) -> None:
        for m in msgs:
            self.send_nowait(m)
