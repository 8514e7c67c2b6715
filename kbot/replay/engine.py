"""One replay: recorded inputs through the tree of ``kbot run``, on a virtual clock, into a database.

``run_replay(source, cfg)`` builds ``kbot.app.Tree`` exactly as ``kbot run`` does (recorder,
ledger, executor, decision, spot index, pricers, market registry, scorer, health) with its
``feeds`` supervisor running the replay's feeds instead of the network ones (``kbot.replay.driver``:
recorded Kalshi WS session inputs through kbot's ``KalshiWsSession``, spot frames through the
exchanges' parsers, the REST feed actor answered from the recording, importers' messages), and
runs it under Trio's ``MockClock`` with ``autojump_threshold=0``: whenever every task waits, the
clock jumps to the next timer or record, so timers fire at their virtual times and the replay
runs as fast as the CPU allows.

Deterministic by construction: no threads (the recorder writes and every blocking call run
inline; a thread would let virtual time leap while it works), no wall-clock reads on the decision
path (``mono`` is 0), Trio's scheduler seeded with ``replay.seed``, ids derived from inputs, and
the run id derived from the source and the configuration. The same source and configuration
give the same decisions, fills and ledger rows, byte for byte.

The replay writes to its own database (``data/replay-<id>.sqlite`` by default) with a run row of
venue ``replay``: every report works on it unchanged. Its state (risk, volatility) starts empty
in memory and its kill file is its own (an operator's ``data/KILL`` does not stop a replay).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import itertools
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

import attrs
import trio
import trio.testing

from kbot import __version__
from kbot.actorkit import BadInputSink, StatsRegistry, bad_inputs_to
from kbot.clock import ScaledClock
from kbot.config import AppConfig, config_digest
from kbot.execution.shadow import Hypothetical, ShadowExecutor
from kbot.replay import overrides
from kbot.replay.driver import Event, KalshiReplay, Msg, Progress, ReplayTransport, RestReplay, SpotReplay, drive
from kbot.statestore import MemoryStateStore, inline
from supervision import Backoff, ChildSpec, Restart, SupervisorGaveUp

REST_BASE = "http://replay.invalid/trade-api/v2"
REPLAY_BATCH_MS = 2000.0
# A replay never reads an operator kill file; the path is the same on every run (it enters the
# configuration digest of every decision) and cannot exist.
NO_KILL_FILE = "/nonexistent/kbot-replay/KILL"


@attrs.frozen(kw_only=True)
class ReplaySource:
    """What to replay: a way to iterate the events (afresh on every call, always the same), and
    what the importer knows about them."""

    name: str  # for logs and the run id
    identity: str  # changes when the content changes (file names, sizes, sessions)
    events: Callable[[], Iterator[Event]]
    speed: float = 1.0  # the recording process's clock speed (a simulated venue's --speed)
    has_rest: bool = False  # REST responses recorded: run the REST feed actor against them
    answer_commands: bool = False  # imported WS data without kbot's control replies
    sids: dict[str, int] = attrs.field(factory=dict)  # channel -> sid of imported WS data
    notes: dict[str, Any] = attrs.field(factory=dict)  # importer facts (markets without a result...)
    config: dict[str, Any] = attrs.field(factory=dict)  # settings the data needs (applied over the user's)
    span: tuple[float, float] | None = None  # first and last event time, when known without reading it all
    marks: bool = False  # wake marks recorded (format version 2, ``kbot.wakes``): actors act only there


@attrs.frozen(kw_only=True)
class ReplayResult:
    run_id: str
    db_url: str
    events: int
    wall_s: float
    first_t: float
    last_t: float
    decisions: int
    takes: int
    fills: int
    unfilled: dict[str, str]
    rest: dict[str, int]
    gave_up: str | None
    marks: dict[str, Any]  # wake marks followed (delivered, unmatched, differed, samples); empty without
    notes: dict[str, Any]

    @property
    def market_s(self) -> float:
        return self.last_t - self.first_t


def replay_run_id(source: ReplaySource, cfg: AppConfig, t_from: float | None, t_to: float | None) -> str:
    """Derived from what was replayed and how (the same replay gets the same id)."""
    raw = f"{source.identity}|{config_digest(cfg)}|{t_from!r}|{t_to!r}|{__version__}"
    return "replay-" + hashlib.blake2b(raw.encode(), digest_size=6).hexdigest()


def replay_config(cfg: AppConfig, state_dir: Path, db_url: str) -> AppConfig:
    """The configuration a replay runs with: the user's, with the replay's own database, state
    directory and kill file, no webhook and no chaos."""
    # The recorder writes inline and a write takes no virtual time: batches can span seconds of
    # market time (fewer, larger transactions) without delaying anything.
    storage = attrs.evolve(cfg.storage, url=db_url, batch_ms=max(cfg.storage.batch_ms, REPLAY_BATCH_MS))
    return attrs.evolve(
        cfg, data_dir=str(state_dir), storage=storage,
        risk=attrs.evolve(cfg.risk, kill_file=NO_KILL_FILE),
        health=attrs.evolve(cfg.health, webhook_url=None), chaos=attrs.evolve(cfg.chaos, crash={}),
        record=attrs.evolve(cfg.record, enabled=False),
    )


def _window(events: Iterator[Event], t_from: float | None, t_to: float | None) -> Iterator[Event]:
    """Records from ``t_from`` to ``t_to``. Kalshi WS session inputs before ``t_from`` are kept
    (the session must see its connection, subscriptions and snapshots); ``KalshiReplay`` is
    told to hold back what they produce."""
    if t_from is None and t_to is None:
        yield from events
        return
    for ev in events:
        if t_to is not None and ev.t > t_to:
            return
        if t_from is not None and ev.t < t_from and (isinstance(ev, Msg) or ev.source != "kalshi_ws"):
            continue
        yield ev


class _Warmup:
    """An outbox that drops what the Kalshi session produces before ``--from``."""

    def __init__(self, out: Any, t_from: float | None, clock: Any) -> None:
        self.out, self.t_from, self.clock = out, t_from, clock

    async def send(self, msg: Any) -> None:
        if self.t_from is not None and self.clock.now() < self.t_from:
            return
        await self.out.send(msg)

    def send_nowait(self, msg: Any) -> None:  # pragma: no cover - the router always awaits
        raise trio.WouldBlock


def run_replay(source: ReplaySource, cfg: AppConfig, *, db_url: str | None = None, t_from: float | None = None,
               t_to: float | None = None, on_progress: Callable[[Progress], None] | None = None,
               progress_every: int = 50_000, settings: dict[str, Any] | None = None) -> ReplayResult:
    """Replay ``source`` through the tree with ``cfg`` (see the module docstring). Blocking.
    The settings the source needs (``ReplaySource.config``) apply over ``cfg``, and ``settings``
    (a backtest's configuration point, nested) over both."""
    first = next(_window(source.events(), t_from, t_to), None)
    if first is None:
        raise ValueError(f"{source.name}: nothing to replay" + (" in the --from/--to window" if t_from or t_to else ""))
    cfg = maker_replay_config(overrides.apply(overrides.apply(cfg, source.config), settings or {}), source.speed)
    run_id = replay_run_id(source, cfg, t_from, t_to)
    url = db_url or f"sqlite:///./{cfg.data_dir}/{run_id}.sqlite"
    _seed_scheduler(cfg.replay.seed)
    with tempfile.TemporaryDirectory(prefix="kbot-replay-") as d, _deterministic_deadlines():
        rcfg = replay_config(cfg, Path(d), url)
        return trio.run(functools.partial(_main, source, rcfg, run_id, first.t, t_from, t_to, on_progress, progress_every),
                        clock=trio.testing.MockClock(autojump_threshold=0))


def maker_replay_config(cfg: AppConfig, speed: float) -> AppConfig:
    """A maker replay (``[maker] enabled``, ``kbot backtest --strategy maker``) runs in paper mode:
    its quotes rest in the paper venue's queue model on the recorded book and fill from the
    recorded (or inferred) trades; orders meet the book ``replay.latency_ms`` after they are sent."""
    if not cfg.maker.enabled:
        return cfg
    paper = attrs.evolve(cfg.execution.paper, latency_s=cfg.replay.latency_ms / 1000.0 * speed)
    return attrs.evolve(cfg, mode="paper", execution=attrs.evolve(cfg.execution, paper=paper))


def _seed_scheduler(seed: int) -> None:
    """Trio runs the tasks that became ready together in a random order (to keep programs from
    relying on an order): seeded, that order is the same on every run."""
    from trio._core import _run

    _run._r.seed(seed)


@contextlib.contextmanager
def _deterministic_deadlines() -> Iterator[None]:
    """Trio orders timers that expire at the same instant by the memory address of their cancel
    scopes; on a virtual clock many timers share an instant, so that order (which tasks wake
    first) would change from run to run. For the replay's ``trio.run`` they are ordered by when
    they were set instead. (Trio internals, patched for the duration of one replay only.)"""
    from heapq import heappush

    from trio._core import _run

    original = _run.Deadlines.add
    counter = itertools.count()

    def add(self: Any, deadline: float, cancel_scope: Any) -> None:
        heappush(self._heap, (deadline, next(counter), cancel_scope))
        self._active += 1

    _run.Deadlines.add = add  # type: ignore[method-assign]
    try:
        yield
    finally:
        _run.Deadlines.add = original  # type: ignore[method-assign]


async def _main(source: ReplaySource, cfg: AppConfig, run_id: str, t0: float, t_from: float | None,
                t_to: float | None, on_progress: Callable[[Progress], None] | None, progress_every: int) -> ReplayResult:
    from actors.kalshi_rest_feed import run_kalshi_rest_feed
    from actors.recorder import Recorder
    from kbot.app import Tree, freeze_startup_objects, settle_after_stop
    from kbot.replay.executor import ReplayTakerExecutor
    from kbot.replay.fills import BookWalk
    from kbot.venues.kalshi.rest import KalshiRestClient
    from storage.db import open_database
    from storage.runs import end_run, start_run

    engine = open_database(cfg.db_url, cfg.storage)
    clock = ReplayClock(epoch0=t0, speed=source.speed)
    rid = _free_run_id(engine, run_id)
    start_run(engine, now=t0, mode=cfg.mode, venue="replay", config_digest=config_digest(cfg), version=__version__,
              run_id=rid)
    stats = StatsRegistry()
    recorder = Recorder(engine, rid, cfg.storage, actor_stats=stats.get("recorder"), clock=clock, offload=inline)
    tree = Tree(cfg, clock=clock, recorder=recorder, endpoints=None, rest_client=None, engine=engine, run_id=rid,
                started_ts=t0, stats=stats, io=inline)
    tree.store = MemoryStateStore()
    router = _Warmup(tree.router, t_from, clock) if t_from is not None else tree.router
    kalshi = KalshiReplay(cfg.kalshi.ws, router, stats.get("kalshi_ws"), tree.ws_health,
                          answer_commands=source.answer_commands, sids=source.sids)
    spot = SpotReplay(cfg.spot, tree.router, {s: stats.get(s) for s in ("coinbase", "binance", "kraken")})
    rest = RestReplay(clock, tolerance_s=cfg.replay.rest_tolerance_s * source.speed, wait_s=cfg.replay.rest_wait_s)
    latency_s = cfg.replay.latency_ms / 1000.0 * source.speed  # real ms -> the recording's clock
    follow_marks = source.marks and cfg.replay.wake_marks
    if cfg.maker.enabled:
        pass  # the tree's own maker executor on the paper venue (maker_replay_config)
    elif cfg.replay.fills == "book":
        tree.executor = ReplayTakerExecutor(kalshi, clock, BookWalk(cfg.pricer.fee_rounding),
                                            latency_s=latency_s, mode=cfg.mode)  # type: ignore[arg-type]
    elif not follow_marks:
        tree.executor = DelayedShadow(clock, latency_s)
    # (shadow fills following wake marks: the tree's own executor, where the live one made them)
    if follow_marks:
        tree.wakes.follow(follow_kinds(cfg))
    tree.ledger_state.pending.append(("out", tree.ledger_state.book.deposit(t0)))

    done = trio.Event()
    progress = Progress()
    failure: list[BaseException] = []
    last = [t0]

    def events() -> Iterator[Event]:
        for n, ev in enumerate(_window(source.events(), t_from, t_to), 1):
            last[0] = ev.t
            if on_progress is not None and n % progress_every == 0:
                progress.events, progress.last_t = n, ev.t
                on_progress(progress)
            yield ev

    async def follow(rec: Any) -> None:
        """A live actor acted here: the replay's acts here too, at exactly the mark's time, and
        everything it sets off runs before the next input."""
        clock.pin(rec.t)
        if rec.source == "pricer":
            await tree.pricers.priced(rec.channel, rec.t, rec.payload)
        else:
            await tree.wakes.deliver(rec.source, rec.t, rec.payload)
        await trio.testing.wait_all_tasks_blocked()

    marks = follow if follow_marks else None

    async def feed() -> None:
        try:
            await drive(events(), clock, tree.router, kalshi=kalshi, spot=spot, rest=rest if source.has_rest else None,
                        progress=progress, done=done, marks=marks)
        except Exception as exc:  # a bug: end the replay with it rather than restart from the top
            failure.append(exc)
            done.set()
            raise

    children = [ChildSpec("replay", feed, restart=Restart.TEMPORARY),
                ChildSpec("control", functools.partial(_drain, tree.ws_control), restart=Restart.PERMANENT)]
    if source.has_rest:
        client = KalshiRestClient(REST_BASE, None, cfg=cfg.kalshi.rest, clock=clock,
                                  transport=ReplayTransport(rest, "/trade-api/v2"))
        rest_cfg = attrs.evolve(cfg.kalshi.rest_feed, series=tuple(cfg.series))
        children.append(ChildSpec("kalshi_rest", functools.partial(
            run_kalshi_rest_feed, rest_cfg, client, tree.router, stats.get("kalshi_rest"), clock,
            ws_health=tree.ws_health, control=cast(Any, tree.rest_control)), restart=Restart.PERMANENT,
            backoff=Backoff(initial_s=1.0, max_s=60.0)))
    else:
        children.append(ChildSpec("rest_control", functools.partial(_drain, tree.rest_control),
                                  restart=Restart.PERMANENT))
    root = tree.root(feeds=children)
    freeze_startup_objects()
    gave_up: list[str] = []
    wall0 = time.perf_counter()
    # logged bad inputs -> the replay's bad_inputs table, until the run's row is closed
    with bad_inputs_to(BadInputSink(recorder.send_nowait, clock)):
        async with trio.open_nursery() as n:
            async def supervise() -> None:
                try:
                    await root.run()
                except SupervisorGaveUp as exc:
                    gave_up.append(str(exc))
                    done.set()

            n.start_soon(supervise)
            await done.wait()
            if not failure and not gave_up:
                # after the last record: fills due after their latency, settlements, the last
                # timers; then stop the tree the way kbot run does
                await clock.sleep_until(last[0] + cfg.replay.tail_s)
            n.cancel_scope.cancel()
        await settle_after_stop(tree)
        score_all(engine, rid, cfg)  # the scorer's last round may predate the last settlements
        wall = time.perf_counter() - wall0
        end_t = clock.now()
        end_run(engine, rid, now=end_t, status="error" if (failure or gave_up) else "ok",
                reason=(repr(failure[0]) if failure else gave_up[0] if gave_up else None))
    if failure:
        engine.dispose()
        raise failure[0]
    ex = tree.executor
    result = ReplayResult(
        run_id=rid, db_url=cfg.db_url, events=progress.events, wall_s=wall, first_t=t0, last_t=last[0],
        decisions=cast(Any, tree.executor_in).stats().sent, takes=len(tree.executed),
        fills=_count(engine, "fills", rid),
        unfilled=dict(getattr(ex, "unfilled", {})),
        rest={"served": rest.served, "skipped": rest.skipped, "unanswered": rest.unanswered},
        gave_up=gave_up[0] if gave_up else None, notes=dict(source.notes),
        marks=attrs.asdict(tree.wakes.counts) if follow_marks else {},
    )
    engine.dispose()
    return result


def follow_kinds(cfg: AppConfig) -> frozenset[str]:
    """The actors that act at their wake marks in a replay of a recording that has them: all
    marked ones with shadow fills (the live run's own fills, made when its executor got to
    them); the executor and the ledger run on their own with book fills (a fill model with its
    own latency) and the decision too under the maker strategy (not marked)."""
    from kbot.wakes import ACTORS

    if cfg.maker.enabled:
        return frozenset(("pricer", "spot_index"))
    if cfg.replay.fills == "book":
        return frozenset(("pricer", "spot_index", "decision"))
    return ACTORS


class ReplayClock(ScaledClock):
    """The replay's ``ScaledClock``, which can be pinned: while Trio's (virtual) time stays
    where it was when ``pin(t)`` was called, ``now()`` reads exactly ``t`` (a wake mark's time:
    the live actor's clock reading, which the scaled conversion would otherwise round)."""

    _pin: tuple[float, float] | None = None

    def pin(self, t: float) -> None:
        self._pin = (trio.current_time(), t)

    def now(self) -> float:
        pin = self._pin
        if pin is not None and pin[0] == trio.current_time():
            return pin[1]
        return super().now()


def score_all(engine: Any, run_id: str, cfg: AppConfig) -> int:
    """Score every edge snapshot of ``run_id`` whose market settled and has no score yet (what
    the scorer actor does every ``scorer.every_s``), so the model reports cover the whole replay."""
    from actors.scorer import score_row
    from storage.queries import unscored_edges
    from storage.writer import BatchWriter

    writer = BatchWriter(engine, run_id, cfg.storage)
    n, after = 0, 0
    try:
        while True:
            with engine.connect() as conn:
                rows = unscored_edges(conn, limit=5000, after_id=after, run_id=run_id)
            if not rows:
                return n
            after = rows[-1].edge_id
            scores = []
            for r in rows:
                try:
                    scores.append(score_row(cast(Any, r)))
                except (ValueError, TypeError, ArithmeticError):
                    continue
            writer.write(scores)
            n += len(scores)
    finally:
        writer.close()


class DelayedShadow(Hypothetical):
    """``ShadowExecutor`` (the decided price and size, as ``kbot run`` in shadow mode) executing
    ``latency_s`` after the decision: a live run's TAKE reaches its fill after the state save and
    the actor hops, and until the ledger shows it the decision actor treats the market as pending."""

    def __init__(self, clock: Any, latency_s: float) -> None:
        self.inner = ShadowExecutor()
        self.mode = self.inner.mode
        self.clock = clock
        self.latency_s = latency_s

    async def execute(self, decision: Any, now: float) -> list[Any]:
        at = decision.ts + self.latency_s
        if decision.action == "TAKE" and at > self.clock.now():
            await self.clock.sleep_until(at)
        return await self.inner.execute(decision, max(at, decision.ts))


def _count(engine: Any, table: str, run_id: str) -> int:
    import sqlalchemy as sa

    with engine.connect() as conn:
        return int(conn.execute(sa.text(f"select count(*) from {table} where run_id = :r"), {"r": run_id}).scalar() or 0)


def _free_run_id(engine: Any, run_id: str) -> str:
    """``run_id``, or ``run_id-2``, ``-3``... when the database already holds a run of that id."""
    import sqlalchemy as sa

    with engine.connect() as conn:
        taken = {r[0] for r in conn.execute(sa.text("select run_id from runs where run_id like :p"), {"p": run_id + "%"})}
    for k in itertools.count(1):
        rid = run_id if k == 1 else f"{run_id}-{k}"
        if rid not in taken:
            return rid
    raise AssertionError("unreachable")


async def _drain(box: Any) -> None:
    """Take the market registry's commands to a feed the replay does not run (the recorded
    session inputs already say what the live session watched)."""
    while True:
        await box.receive_batch()
