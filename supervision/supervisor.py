"""An Erlang/OTP-style supervisor for Trio.

A ``Supervisor`` runs its children as tasks in its own nursery and reacts to each child's
end according to the child's restart type and the supervisor's strategy:

1. A child ends: it *exited* (returned), *crashed* (raised an ``Exception``, including an
   exception group of them) or was *stopped* by the supervisor (cancelled).
2. Whether it is restarted follows its ``Restart`` type (PERMANENT: always; TRANSIENT: only
   after a crash; TEMPORARY: never, and it is forgotten).
3. A restart counts against the supervisor's intensity: more than ``max_restarts`` restarts
   within ``within_s`` seconds and the supervisor gives up: it stops all its children and
   ``run`` raises ``SupervisorGaveUp`` (the last failure as ``__cause__``), so the parent's
   policy applies (escalation). A group restart (ONE_FOR_ALL / REST_FOR_ONE) counts once.
4. The strategy decides which siblings restart too; those are stopped in reverse start
   order first. TEMPORARY siblings caught in a group restart are dropped.
5. The restart waits for the failed child's ``Backoff`` delay (per-child consecutive
   count, reset after a stable period). Other children keep being supervised meanwhile.

Stopping a child means cancelling its scope and waiting up to its ``shutdown_s`` for it to
finish. Trio cannot kill a task that shields itself from cancellation: past ``shutdown_s``
a ``shutdown_timeout`` event names the stuck child and the supervisor moves on (the stuck
task still holds the supervisor's nursery open until it ends).

Differences from OTP forced by Trio, on purpose:
- Children are tasks, not processes: there are no links or exit signals; a child's end is
  observed by its wrapper task. ``trio.Cancelled``, ``KeyboardInterrupt`` and other
  ``BaseException``s are never treated as failures and always propagate.
- ``run`` reports started (``nursery.start``) once every initial child's task has begun;
  there is no ``init`` handshake inside a child.
- Intensity and backoff use ``trio.current_time()`` (testable with ``autojump_clock``);
  event timestamps use the wall clock given as ``now`` (default ``time.time``).
"""

from __future__ import annotations

import math
import random
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence

import attrs
import trio

from .events import EventSink, SupervisionEvent, describe, format_traceback, log_event
from .spec import ChildSpec, Restart, Strategy

# Child states as reported by ``children()``.
RUNNING = "running"
RESTARTING = "restarting"  # waiting for its backoff delay
EXITED = "exited"  # returned normally and not restarted
CRASHED = "crashed"  # raised and not restarted (TEMPORARY)
STOPPED = "stopped"  # stopped by the supervisor
STUCK = "stuck"  # did not finish within shutdown_s after being cancelled


class SupervisorGaveUp(Exception):
    """Raised by ``Supervisor.run`` when restart intensity was exceeded."""

    def __init__(self, supervisor: str, restarts: int, within_s: float, last_child: str | None) -> None:
        super().__init__(
            f"supervisor {supervisor!r} gave up: more than {restarts} restarts within "
            f"{within_s:g}s (last failing child: {last_child!r})"
        )
        self.supervisor = supervisor
        self.last_child = last_child


@attrs.frozen(slots=True)
class ChildInfo:
    name: str
    state: str
    restarts: int
    started_at: float | None
    restart: Restart


class _Incarnation:
    """One run of a child. Separate from the child so that a stuck old incarnation cannot
    be confused with its replacement."""

    __slots__ = ("scope", "done", "stopping", "started_mono")

    def __init__(self) -> None:
        # Shielded: a child is cancelled only by its supervisor (through this scope), never
        # directly by an outer cancellation, so shutdown happens in reverse start order.
        self.scope = trio.CancelScope(shield=True)
        self.done = trio.Event()
        self.stopping = False
        self.started_mono = 0.0


class _Child:
    __slots__ = ("spec", "state", "restarts", "consecutive", "started_at", "inc", "pending")

    def __init__(self, spec: ChildSpec) -> None:
        self.spec = spec
        self.state = STOPPED
        self.restarts = 0  # restarts performed so far
        self.consecutive = 0  # consecutive failures, for backoff
        self.started_at: float | None = None
        self.inc: _Incarnation | None = None
        self.pending: object | None = None  # token of the scheduled restart it waits for

    @property
    def name(self) -> str:
        return self.spec.name


@attrs.frozen(slots=True)
class _Exit:
    child: _Child
    inc: _Incarnation
    kind: str  # "exited" | "crashed" | "stopped"
    error: BaseException | None


def _failure(exc: BaseException) -> BaseException | None:
    """The failure to report for an exception escaping a child, or None when the exception
    must propagate (Cancelled, KeyboardInterrupt, SystemExit, ...)."""
    if isinstance(exc, Exception):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        _, rest = exc.split(Exception)
        if rest is None:  # a group of ordinary exceptions
            return exc
    return None


class Supervisor:
    """Supervises a list of children. See the module docstring for the semantics."""

    def __init__(
        self,
        name: str,
        children: Sequence[ChildSpec] = (),
        strategy: Strategy = Strategy.ONE_FOR_ONE,
        max_restarts: int = 3,
        within_s: float = 5.0,
        on_event: EventSink | None = None,
        *,
        log_events: bool = True,
        now: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        if max_restarts < 0 or within_s <= 0:
            raise ValueError("max_restarts must be >= 0 and within_s > 0")
        self.name = name
        self.strategy = strategy
        self.max_restarts = max_restarts
        self.within_s = within_s
        self.on_event = on_event
        self.log_events = log_events
        self._now = now
        self._rng = rng or random.Random()
        self._specs = list(children)
        self._children: list[_Child] = []
        for spec in self._specs:
            self._add(spec)
        self._restart_times: deque[float] = deque()
        self._nursery: trio.Nursery | None = None
        self._exits_send, self._exits_recv = trio.open_memory_channel[_Exit](math.inf)
        self._running = False

    # ------------------------------------------------------------------ public API

    def children(self) -> list[ChildInfo]:
        return [ChildInfo(c.name, c.state, c.restarts, c.started_at, c.spec.restart) for c in self._children]

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Start the children in order, then supervise until cancelled or giving up."""
        if self._running:
            raise RuntimeError(f"supervisor {self.name!r} is already running")
        self._running = True
        if self._nursery is None and any(c.inc is not None for c in self._children):
            # A supervisor restarted by its parent starts fresh, as a new OTP process would:
            # initial children only (dynamic ones are forgotten), no restart history.
            self._children = []
            for spec in self._specs:
                self._add(spec)
            self._restart_times.clear()
        gave_up: SupervisorGaveUp | None = None
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                try:
                    for child in list(self._children):
                        await self._start(child)
                    task_status.started()
                    gave_up = await self._supervise()
                finally:
                    with trio.CancelScope(shield=True):
                        await self._stop(self._children)
                    nursery.cancel_scope.cancel()
        finally:
            self._nursery = None
            self._running = False
        if gave_up is not None:
            raise gave_up

    async def start_child(self, spec: ChildSpec) -> None:
        """Add and start a child at run time (it goes last in the start order)."""
        if self._nursery is None:
            raise RuntimeError(f"supervisor {self.name!r} is not running")
        child = self._add(spec)
        await self._start(child)

    async def terminate_child(self, name: str) -> None:
        """Stop a child (running or waiting to restart) and forget it."""
        child = self._find(name)
        if child is None:
            raise KeyError(f"supervisor {self.name!r} has no child named {name!r}")
        await self._stop([child])
        if child in self._children:
            self._children.remove(child)

    def has_child(self, name: str) -> bool:
        return self._find(name) is not None

    # ------------------------------------------------------------------ internals

    def _find(self, name: str) -> _Child | None:
        for c in self._children:
            if c.name == name:
                return c
        return None

    def _add(self, spec: ChildSpec) -> _Child:
        existing = self._find(spec.name)
        if existing is not None:
            if existing.state in (RUNNING, RESTARTING, STUCK):
                raise ValueError(f"supervisor {self.name!r} already has a child named {spec.name!r}")
            self._children.remove(existing)  # a finished child's name may be reused
        child = _Child(spec)
        self._children.append(child)
        return child

    def _emit(
        self,
        child: _Child | None,
        kind: str,
        error: BaseException | None = None,
        attempt: int = 0,
        delay_s: float = 0.0,
    ) -> None:
        event = SupervisionEvent(
            ts=self._now(),
            supervisor=self.name,
            child=child.name if child is not None else None,
            kind=kind,
            reason=describe(error),
            traceback=format_traceback(error) if kind in ("crashed", "gave_up") else None,
            attempt=attempt,
            delay_s=delay_s,
        )
        if self.log_events:
            log_event(event)
        if self.on_event is not None:
            try:
                self.on_event(event)
            except Exception as exc:  # a broken sink must not take the tree down
                log_event(
                    SupervisionEvent(
                        ts=self._now(),
                        supervisor=self.name,
                        child=None,
                        kind="crashed",
                        reason=f"on_event sink failed: {describe(exc)}",
                    )
                )

    async def _start(self, child: _Child) -> None:
        assert self._nursery is not None
        inc = _Incarnation()
        child.inc = inc
        child.pending = None
        await self._nursery.start(self._child_main, child, inc)
        child.state = RUNNING
        child.started_at = self._now()
        self._emit(child, "started", attempt=child.restarts)

    async def _child_main(self, child: _Child, inc: _Incarnation, task_status: trio.TaskStatus[None]) -> None:
        kind, error = "exited", None
        with inc.scope:
            inc.started_mono = trio.current_time()
            task_status.started()
            try:
                await child.spec.run()
            except BaseException as exc:
                failure = _failure(exc)
                if failure is None:
                    raise
                kind, error = "crashed", failure
        if inc.stopping:
            kind, error = "stopped", None
        inc.done.set()
        self._exits_send.send_nowait(_Exit(child, inc, kind, error))

    async def _supervise(self) -> SupervisorGaveUp | None:
        async for ex in self._exits_recv:
            child = ex.child
            if ex.inc is not child.inc or ex.inc.stopping or child not in self._children:
                continue  # stopped by us, or a stale incarnation: already accounted for
            if ex.kind == "crashed":
                child.state = CRASHED
                self._emit(child, "crashed", ex.error)
                restart = child.spec.restart is not Restart.TEMPORARY
            else:
                child.state = EXITED
                self._emit(child, "exited")
                restart = child.spec.restart is Restart.PERMANENT
            if not restart:
                if child.spec.restart is Restart.TEMPORARY:
                    self._children.remove(child)
                continue
            gave_up = await self._restart(child, ex.error)
            if gave_up is not None:
                return gave_up
        return None  # pragma: no cover - the channel is never closed

    def _intensity_exceeded(self) -> bool:
        now = trio.current_time()
        times = self._restart_times
        times.append(now)
        while times and now - times[0] > self.within_s:
            times.popleft()
        return len(times) > self.max_restarts

    async def _restart(self, child: _Child, error: BaseException | None) -> SupervisorGaveUp | None:
        if self._intensity_exceeded():
            gave_up = SupervisorGaveUp(self.name, self.max_restarts, self.within_s, child.name)
            gave_up.__cause__ = error
            self._emit(child, "gave_up", error)
            with trio.CancelScope(shield=True):
                await self._stop(self._children)
            return gave_up

        inc = child.inc
        ran_for = trio.current_time() - inc.started_mono if inc is not None else 0.0
        if ran_for >= child.spec.backoff.reset_after_s:
            child.consecutive = 0
        child.consecutive += 1
        delay = child.spec.backoff.delay(child.consecutive, self._rng)

        idx = self._children.index(child)
        if self.strategy is Strategy.ONE_FOR_ONE:
            group = [child]
        elif self.strategy is Strategy.ONE_FOR_ALL:
            group = list(self._children)
        else:
            group = self._children[idx:]
        siblings = [c for c in group if c is not child]
        await self._stop(siblings)
        for c in siblings:
            if c.spec.restart is Restart.TEMPORARY:
                self._children.remove(c)
        group = [c for c in group if c in self._children]

        for c in group:
            c.state = RESTARTING
            c.restarts += 1
            self._emit(c, "restarting", attempt=c.restarts, delay_s=delay)
        scope = object()  # identifies this scheduled restart
        for c in group:
            c.pending = scope
        assert self._nursery is not None
        self._nursery.start_soon(self._delayed_start, group, delay, scope)
        return None

    async def _delayed_start(self, group: list[_Child], delay: float, scope: object) -> None:
        if delay > 0:
            await trio.sleep(delay)
        for c in group:
            if c in self._children and c.pending is scope:
                await self._start(c)

    async def _stop(self, children: Iterable[_Child]) -> None:
        """Stop children one at a time in reverse start order."""
        for child in reversed(list(children)):
            if child.pending is not None:
                # Detach from its scheduled (group) restart; the timer task skips it.
                child.pending = None
                if child.state == RESTARTING:
                    child.state = STOPPED
                    self._emit(child, "stopped")
            inc = child.inc
            if child.state != RUNNING or inc is None:
                continue
            inc.stopping = True
            inc.scope.cancel()
            with trio.move_on_after(child.spec.shutdown_s):
                await inc.done.wait()
            if inc.done.is_set():
                child.state = STOPPED
                self._emit(child, "stopped")
            else:
                child.state = STUCK
                self._emit(child, "shutdown_timeout")
