"""Maker actor: edges in, quote targets out (in place of the decision actor: ``[maker] enabled``).

Receives  the decision actor's inbox (``LatestMailbox(decision_inbox_key)``): ``Edge`` per
          ticker (the newest) and the ledger's ``PortfolioState`` (positions, daily PnL).
Applies   ``kbot.strategy.maker.MakerCore``: the quote plan per market, sent only when it changed
          beyond the requote threshold (or its reasons changed).
Sends     ``QuoteTarget`` to ``out`` (the executor, which moves the orders, and the record); one
          compact tape line per change (``QUOTE``).
Timers    every ``sweep_s``: markets whose newest edge went stale or reached the cutoff are
          re-planned (their quotes come down); the operator kill file is read every
          ``kill_poll_s`` (while it exists no quotes; the executor also cancels every open order).
Fails     unknown messages are counted and logged once per kind; the core's state is rebuilt
          from the next edges after a restart (targets are absolute, not deltas).
"""

from __future__ import annotations

from typing import Any

import trio
from loguru import logger

from kbot.actorkit import ActorStats, BadInputLog, Outbox
from kbot.clock import Clock
from kbot.messages import Edge, PortfolioState, QuoteTarget
from kbot.model import killswitch
from kbot.statestore import BlockingIO, in_thread
from kbot.strategy.maker import MakerCore

tape = logger.bind(event="tape")


def _p(x: Any) -> str:
    return "-" if x is None else f"{x}"


def quote_line(t: QuoteTarget) -> str:
    """One compact tape line per quote change: ``QUOTE ticker yes_bid/yes_offer ...``."""
    offer = None if t.no_bid is None else 1 - t.no_bid
    fair = f"{t.fair:.3f}" if t.fair is not None else "-"
    r = f"{t.reservation:.3f}" if t.reservation is not None else "-"
    h = f"{t.half_spread:.3f}" if t.half_spread is not None else "-"
    ttc = f"{t.time_to_close_s:.0f}s" if t.time_to_close_s is not None else "-"
    book = f"{_p(t.best_yes_bid)}/{_p(t.best_yes_ask)}"
    why = ",".join(t.reasons) or ",".join(f"{s}:{','.join(r)}" for s, r in (("yes", t.yes_reasons), ("no", t.no_reasons)) if r)
    tail = f" off: {why}" if why else ""
    return (f"QUOTE {t.ticker} {_p(t.yes_bid)}/{_p(offer)} x{t.size} fair={fair} r={r} h={h} inv={t.inventory} "
            f"book={book} ttc={ttc}{tail}")


async def run_maker(inbox: Any, out: Outbox, *, clock: Clock, core: MakerCore, stats: ActorStats | None = None,
                    kill_file: str | None = None, kill_poll_s: float = 1.0, io: BlockingIO = in_thread,
                    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
    stats = stats or ActorStats("maker")
    bad = BadInputLog("maker")

    async def send(t: QuoteTarget) -> None:
        await out.send(t)
        stats.msgs_out += 1
        tape.info(quote_line(t))

    async def check_kill() -> None:
        if kill_file is None:
            return
        reason = await io(killswitch.read_kill, kill_file)
        if reason != core.killed:
            tape.warning("KILL SWITCH {}", f"tripped by operator: {reason}" if reason else "operator kill file removed")
            core.set_kill(reason)

    await check_kill()
    task_status.started()
    next_kill = clock.now() + kill_poll_s
    next_sweep = clock.now() + core.s.sweep_s
    while True:
        now = clock.now()
        wake = min(next_kill if kill_file is not None else next_sweep, next_sweep)
        batch: list[Any] = []
        with trio.move_on_after(max(0.0, wake - now) / clock.speed):
            batch = await inbox.receive_batch()
        now = clock.now()
        if batch:
            stats.msgs_in += len(batch)
            stats.last_msg_ts = now
        with inbox.processing(batch) as work:
            edges: list[Edge] = []
            for msg in batch:
                if isinstance(msg, PortfolioState):
                    core.on_portfolio(msg)
                    work.done(msg)
                elif isinstance(msg, Edge):
                    edges.append(msg)
                else:
                    bad.record("unexpected_message", msg)
                    work.done(msg)
            for e in work.each(sorted(edges, key=lambda e: e.ticker)):
                t = core.step(e, now)
                if t is not None:
                    await send(t)
        if kill_file is not None and now >= next_kill:
            next_kill = now + kill_poll_s
            await check_kill()
        if now >= next_sweep:
            next_sweep = now + core.s.sweep_s
            for t in core.sweep(now):
                await send(t)
        stats.state = f"kill: {core.blocked}" if core.blocked else f"{core.emitted} quote changes"
