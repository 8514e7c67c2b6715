"""Small pieces every kbot actor uses: counters for health, bad-input accounting, outboxes.

- ``ActorStats``: messages in/out, errors and the time of the last message, per actor name.
  Owned by the tree (like mailboxes), so counts survive restarts. The health actor reads them.
- ``BadInputLog``: "bad input never crashes a loop and never passes garbage on: count it, log
  it once per kind with a sample, keep going".
- ``Outbox``: what an actor sends to. A ``supervision.Mailbox``/``LatestMailbox`` is one;
  ``Tee`` sends one message to several; ``Collect`` is a list-backed outbox for tests.
- ``deliver``: send without a scheduler pass when the outbox can take the message now.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any, Protocol

import attrs
import trio
from loguru import logger

from kbot.messages import BadInput


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


class BadInputLog:
    """Counts bad inputs per kind; logs the first of each kind (with a truncated sample) and
    then every ``every``-th one, so a flood never floods the log.

    ``BadInputLog.sink``: when the application sets it (``kbot run`` points it at the recorder),
    every logged sample is also handed to it as a ``BadInput`` record (table ``bad_inputs``). It
    must not block or raise; a failure is ignored (the log line already says everything)."""

    sink: Callable[[BadInput], None] | None = None

    def __init__(self, source: str, *, every: int = 1000, sample_chars: int = 300) -> None:
        self.source = source
        self.every = every
        self.sample_chars = sample_chars
        self.counts: dict[str, int] = {}

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def record(self, kind: str, sample: Any, detail: str | None = None) -> int:
        n = self.counts.get(kind, 0) + 1
        self.counts[kind] = n
        if n == 1 or n % self.every == 0:
            text = sample if isinstance(sample, str) else repr(sample)
            if len(text) > self.sample_chars:
                text = text[: self.sample_chars] + "..."
            logger.bind(event="bad_input", source=self.source, kind=kind, count=n).warning(
                "bad input from {} ({}, #{}){}: {}", self.source, kind, n, f" {detail}" if detail else "", text
            )
            sink = BadInputLog.sink
            if sink is not None:
                try:
                    sink(BadInput(ts=time.time(), source=self.source, kind=kind,
                                  sample=f"#{n}{' ' + detail if detail else ''}: {text}"))
                except Exception:
                    pass
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
    each through ``deliver`` (no scheduler pass unless a target is full)."""

    __slots__ = ("targets",)

    def __init__(self, *targets: Outbox) -> None:
        self.targets = targets

    async def send(self, msg: Any) -> None:
        for t in self.targets:
            await deliver(t, msg)

    def send_nowait(self, msg: Any) -> None:
        for t in self.targets:
            t.send_nowait(msg)


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
