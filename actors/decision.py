"""Decision actor: edges in, TAKE/PASS decisions out, the decision tape on the side.

Receives (one conflating inbox, ``LatestMailbox(decision_inbox_key)``)
    ``Edge`` from the pricers (key ``("edge", ticker)``: a slow decision actor decides on the
    newest edge per market, never on a backlog of stale ones) and ``PortfolioState`` from
    the ledger (key ``"portfolio"``: the newest). Portfolio states in a batch are applied
    before the edges.

Applies (pure, ``kbot.model``)
    ``evaluate`` + ``build_decision`` (= ``decide``): gates, side choice, Kelly sizing with
    every cap, risk gates, and the evidence gate ``no_demonstrated_edge`` on the evidence table
    the scorer publishes in the shared ``ModelState`` (none yet: every candidate PASSes);
    exactly one decision per edge with every failing reason (the Decision object of a
    suppressed repeat PASS is not built). ``RiskBook`` holds exposure, daily PnL,
    open orders, pending TAKEs, cooldowns and the kill switch; ``PeriodStartImpliedBook`` the
    per-event implied volatility for the ``vol_divergence`` gate (the fit of the edge's
    ``implied_refresh_s`` period as of its start: a function of the edges' event times, not of
    how this actor's inbox batched them, so a replay gets the live run's fit).

Sends
    To ``out`` (bounded, lossless: the lead tees it to the executor and the recorder) every
    TAKE, and every PASS that differs from the previous one emitted for its market (side or
    reasons) or repeats it after ``pass_repeat_s`` (0: every PASS). One loguru line per TAKE
    and per unusual PASS (``is_unusual_pass``: a trade was on the table and a non-routine gate
    stopped it; once per change, not on timed repeats), bound with ``event="tape"``.
    Kill-switch trips/resets go to the tape and, as ``Alert``, to ``alerts`` when given.

Wake marks (``kbot.wakes``)
    Recording, each batch taken is announced; a replay following the marks takes a batch
    exactly there (at the mark's time, what the inbox holds then) and at no other time.

Restart safety
    The risk state (kill switch, TAKE history, pending TAKEs) is persisted in the
    ``StateStore`` before a TAKE is sent (once per batch, before its first TAKE) and on every
    kill-switch change; it is loaded at
    start, and an unreadable state trips the kill switch (``corrupt_state``: fail safe, an
    operator resets it with ``kbot.model.killswitch.request_reset``). ``recent_decisions``
    (e.g. read back from the database) re-seeds dedup/cooldown when the state file is lost.
    The operator kill file is polled every ``kill_poll_s``.

Fails
    Unknown messages are counted and logged once per kind. A failed state save is logged
    and the TAKE is *not* sent (money is not committed on state we could not persist).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

import attrs
import trio
from loguru import logger

from kbot.actorkit import ActorStats, BadInputLog, Outbox
from kbot.clock import Clock
from kbot.messages import Alert, Decision, Edge, PortfolioState
from kbot.model import killswitch
from kbot.model.config import EvidenceConfig, GateConfig, PricerConfig, RiskConfig, SizingConfig, config_digest
from kbot.model.decide import build_decision, evaluate, is_unusual_pass
from kbot.model.evidence import EMPTY
from kbot.model.implied import PeriodStartImpliedBook
from kbot.model.risk import RiskBook
from kbot.model.state import ModelState
from kbot.statestore import BlockingIO, StateStore, StateStoreError, in_thread
from kbot.wakes import Wakes, announcer, marks_of, next_mark
from supervision import Batch

tape = logger.bind(event="tape")


def decision_inbox_key(msg: Any) -> Hashable:
    if isinstance(msg, Edge):
        return ("edge", msg.ticker)
    if isinstance(msg, PortfolioState):
        return "portfolio"
    return ("other", type(msg).__name__)


def tape_line(d: Decision) -> str:
    e = d.edge
    price = f"{d.limit_price}" if d.limit_price is not None else "-"
    prob = f"{d.prob_yes:.3f}" if d.prob_yes is not None else "-"
    ev = f"{d.ev:+.4f}" if d.ev is not None else "-"
    spot = f"{e.spot:.2f}" if e.spot is not None else "-"
    sigma = f"{e.sigma:.3f}({e.sigma_source})" if e.sigma is not None else "-"
    iv = f" iv={e.implied_sigma:.3f}" if e.implied_sigma is not None else ""
    horizon = f"{e.horizon_s:.0f}s" if e.horizon_s is not None else "-"
    head = f"{d.action} {d.ticker} {(d.side or '-').upper()}"
    if d.action == "TAKE":
        head += f" {d.count} @ {price} fee={d.fee}"
    else:
        head += f" @ {price}"
    tail = f" blocked: {','.join(d.reasons)}" if d.reasons else ""
    return f"{head} p={prob} ev={ev} spot={spot} sigma={sigma}{iv} h={horizon} [{d.decision_id}]{tail}"


IMPLIED_MIN_REAL_S = 0.25


class DecisionCore:
    """The actor's state and its steps (no I/O, time passed in): tested and benchmarked directly."""

    def __init__(
        self,
        gates: GateConfig,
        sizing: SizingConfig,
        risk: RiskConfig,
        pricer: PricerConfig,
        evidence: EvidenceConfig | None = None,
        model: ModelState | None = None,
    ) -> None:
        """``evidence``: the evidence gate's configuration (default: on); ``model``: where the
        scorer publishes the evidence table (None: no evidence, every candidate PASSes
        ``no_demonstrated_edge`` unless the gate is off)."""
        self.gates = gates
        self.evidence_config = evidence or EvidenceConfig()
        self.model = model
        self.sizing = sizing
        self.risk_config = risk
        self.rounding = pricer.fee_rounding
        self.book = RiskBook(gates, risk)
        self.implied = PeriodStartImpliedBook(gates, window_s=pricer.window_s)
        self.digest = config_digest(gates, sizing, risk, pricer, self.evidence_config)
        self._last_pass: dict[str, tuple[float, tuple[Any, ...]]] = {}
        self._last_id: dict[str, tuple[str, int]] = {}  # ticker -> (last decision id, repeats)
        self.suppressed = 0

    def step(self, edge: Edge, now: float) -> tuple[Decision | None, str | None]:
        """Evaluate one edge; build its Decision only when it goes out (a suppressed repeat
        PASS is never built). Returns ``(decision, emission)``, both None when suppressed."""
        self.implied.update(edge)
        fit = self.implied.implied(edge.event_ticker, edge.ts)
        implied = fit.sigma if fit is not None else None
        risk = self.book.view(edge.ticker, now)
        ev = evaluate(
            edge,
            now=now,
            risk=risk,
            implied_sigma=implied,
            gates=self.gates,
            sizing=self.sizing,
            risk_config=self.risk_config,
            rounding=self.rounding,
            evidence=self.model.evidence if self.model is not None else EMPTY,
            evidence_config=self.evidence_config,
        )
        how = self.emission(edge.ticker, ev.action, ev.side, ev.reasons, now)
        if how is None:
            return None, None
        d = build_decision(ev, edge, now=now, risk=risk, implied_sigma=implied, digest=self.digest)
        last = self._last_id.get(edge.ticker)
        if last is not None and last[0] == d.decision_id:  # the same inputs decided again: keep ids unique
            n = last[1] + 1
            self._last_id[edge.ticker] = (d.decision_id, n)
            return attrs.evolve(d, decision_id=f"{d.decision_id}-{n}"), how
        self._last_id[edge.ticker] = (d.decision_id, 1)
        return d, how

    def prune(self, now: float, keep_s: float = 3600.0) -> None:
        """Forget closed events' implied fits and PASS signatures older than ``keep_s``
        (markets come and go all day: the memory must not grow with them)."""
        self.implied.prune(now)
        horizon = max(keep_s, self.gates.pass_repeat_s)
        for t in [t for t, (ts, _) in self._last_pass.items() if now - ts > horizon]:
            del self._last_pass[t]
            self._last_id.pop(t, None)

    def emission(self, ticker: str, action: str, side: str | None, reasons: tuple[str, ...], now: float) -> str | None:
        """How a decision goes out: ``"take"``; ``"new"`` for a PASS that differs from the last
        one emitted for its market (side or reasons); ``"repeat"`` for the same PASS again
        after ``pass_repeat_s``; None (suppressed) otherwise."""
        if action == "TAKE":
            self._last_pass.pop(ticker, None)
            return "take"
        sig = (side, reasons)
        last = self._last_pass.get(ticker)
        if last is not None and last[1] == sig:
            if now - last[0] < self.gates.pass_repeat_s:
                self.suppressed += 1
                return None
            self._last_pass[ticker] = (now, sig)
            return "repeat"
        self._last_pass[ticker] = (now, sig)
        return "new"


def _promising(e: Edge, min_ev: float) -> bool:
    return not e.reasons and max(e.ev_yes or -1.0, e.ev_no or -1.0) >= min_ev


def _order(e: Edge, min_ev: float) -> tuple[bool, float, str]:
    promising = _promising(e, min_ev)
    return (not promising, -max(e.ev_yes or -1.0, e.ev_no or -1.0) if promising else 0.0, e.ticker)


async def _persist(store: StateStore | None, key: str, book: RiskBook, io: BlockingIO) -> None:
    if store is not None:
        await io(store.save, key, book.to_state())


async def _load(store: StateStore | None, key: str, book: RiskBook, now: float, io: BlockingIO) -> None:
    if store is None:
        return
    try:
        state = await io(store.load, key)
        if state is not None:
            book.load_state(state, now)
    except (StateStoreError, OSError, ValueError, TypeError, KeyError) as e:
        book.trip_corrupt(str(e), now)
        logger.bind(event="state", key=key).critical("risk state unreadable: kill switch tripped ({})", e)


async def run_decision(
    inbox: Any,
    out: Outbox,
    *,
    clock: Clock,
    gates: GateConfig | None = None,
    sizing: SizingConfig | None = None,
    risk: RiskConfig | None = None,
    pricer: PricerConfig | None = None,
    store: StateStore | None = None,
    recent_decisions: Sequence[Decision] = (),
    alerts: Outbox | None = None,
    stats: ActorStats | None = None,
    io: BlockingIO = in_thread,
    evidence: EvidenceConfig | None = None,
    model: ModelState | None = None,
    wakes: Wakes | None = None,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run until cancelled. ``pricer`` supplies the fee rounding and settlement window used by
    the pricers (so EVs are recomputed the same way). ``store``/kill file I/O runs through
    ``io``. ``evidence``/``model``: the evidence gate and the shared model state (see
    ``DecisionCore``). Reports started (``nursery.start``) once state, seed and kill file are
    loaded."""
    risk = risk or RiskConfig()
    core = DecisionCore(gates or GateConfig(), sizing or SizingConfig(), risk, pricer or PricerConfig(), evidence,
                        model)
    # Under a fast simulated clock, refit implied volatility at most every IMPLIED_MIN_REAL_S real
    # seconds (at 120x the 5 s cadence meant 24 scipy fits per second per event).
    core.implied.refresh_s = max(core.gates.implied_refresh_s, IMPLIED_MIN_REAL_S * clock.speed)
    stats = stats or ActorStats("decision")
    bad = BadInputLog("decision")
    book = core.book
    now = clock.now()
    await _load(store, risk.state_key, book, now, io)
    seeded = book.seed(recent_decisions, now)
    if seeded:
        logger.bind(event="state").info("decision dedup seeded with {} recent TAKEs", seeded)
    # The kill-file poller and the main loop both save: one save at a time, each taking the
    # state when its turn comes, so an older snapshot can never land after a newer one.
    save_lock = trio.Lock()

    async def persist() -> None:
        async with save_lock:
            await _persist(store, risk.state_key, book, io)

    async def kill_event(message: str) -> None:
        tape.warning("KILL SWITCH {}", message)
        if alerts is not None:
            severity = "critical" if "tripped" in message else "info"
            await alerts.send(
                Alert(ts=clock.now(), kind="kill_switch", severity=severity, subject=None, message=message)
            )

    async def check_kill_file() -> None:
        reason = await io(killswitch.read_kill, risk.kill_file)
        if book.set_operator(reason):
            await kill_event(f"tripped by operator: {reason}" if reason else "operator kill file removed")
        if await io(killswitch.consume_reset, risk.kill_file) and book.kill.tripped:
            book.reset_kill()
            await persist()
            await kill_event("persisted trip reset by operator")

    async def poll_kill_file() -> None:
        while True:
            await clock.sleep(risk.kill_poll_s)
            await check_kill_file()

    async def handle(work: Batch[Any], edges: list[Edge], portfolios: list[PortfolioState], now: float) -> None:
        """``work``: the batch being processed (taken at ``now``); each portfolio and edge is
        marked done as it is handled, so a failure puts back exactly the ones not yet handled."""
        tripped = False
        for ps in work.each(sorted(portfolios, key=lambda p: p.ts)):
            tripped |= book.on_portfolio(ps, now)
        if book.roll(now):
            await persist()
            await kill_event("loss trip reset at UTC midnight")
        if tripped:
            await persist()
            await kill_event(f"tripped: {book.kill_reason()}")
        # Candidates the pricer already sees clearing min_ev first, best EV first: after a spot
        # move fans out to every market, the edges that can trade are decided before the routine
        # PASSes, and when exposure runs out the best ones got it. A total order (ticker last), not
        # the order the pricers happened to run in: the same edges give the same decisions.
        edges.sort(key=lambda e: _order(e, core.gates.min_ev))
        decided: list[tuple[Decision, str | None]] = []
        for edge in work.each(edges):
            d, how = core.step(edge, now)
            if d is None:
                continue
            if d.action == "TAKE":
                book.on_take(d)
            decided.append((d, how))
        # One save for all the batch's TAKEs, before any is sent (a save fsyncs: one per TAKE made
        # a burst of TAKEs wait a save each, deciding the later ones on older data).
        if any(d.action == "TAKE" for d, _ in decided):
            try:
                await persist()
            except (OSError, ValueError, TypeError) as e:
                takes = [d.decision_id for d, _ in decided if d.action == "TAKE"]
                bad.record("state_save_failed", repr(e), detail=f"TAKEs {', '.join(takes)} not sent")
                stats.errors += 1
                decided = [(d, how) for d, how in decided if d.action != "TAKE"]
        for d, how in decided:
            await out.send(d)
            stats.msgs_out += 1
            if how == "take" or (how == "new" and is_unusual_pass(d, core.gates.min_ev)):
                tape.info(tape_line(d))
        stats.state = f"kill: {book.kill_reason()}" if book.kill_reason() else "ok"

    follow = marks_of(wakes, "decision")
    wake_mark = announcer(wakes)

    async def main_loop() -> None:
        last_prune = clock.now()
        while True:
            if follow is not None:  # a replay of wake marks: take a batch where the live actor did
                now = (await next_mark(follow))[0]
                batch = inbox.take_ready()
            else:
                batch = await inbox.receive_batch()
                now = clock.now()
                if wake_mark is not None:
                    wake_mark("decision", "", now, "")
            edges: list[Edge] = []
            portfolios: list[PortfolioState] = []
            with inbox.processing(batch) as work:  # a failure puts back what was not handled yet
                for msg in batch:
                    stats.msgs_in += 1
                    if isinstance(msg, Edge):
                        edges.append(msg)
                    elif isinstance(msg, PortfolioState):
                        portfolios.append(msg)
                    else:
                        bad.record("unexpected_message", msg)
                        work.done(msg)
                stats.last_msg_ts = now
                await handle(work, edges, portfolios, now)
            if stats.last_msg_ts - last_prune > 60.0:
                core.prune(stats.last_msg_ts)
                last_prune = stats.last_msg_ts

    # Before the first edge: a kill file present at start must hold from the first decision.
    await check_kill_file()
    if book.kill_reason():
        tape.warning("KILL SWITCH active at start: {}", book.kill_reason())
    task_status.started()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(poll_kill_file)
        nursery.start_soon(main_loop)
