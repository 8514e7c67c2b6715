"""Executor actor: TAKE decisions become orders and fills; in paper and live mode it also follows
the venue (fills, order updates, the public book and trades for paper fills) and reconciles.

Receives: ``inbox`` (bounded, lossless): ``Decision`` (PASS ignored); in paper/live also the
          venue's ``Fill`` and ``OrderEvent`` (live), ``Trade`` (paper), ``MarketSettled``,
          ``FeedStatus`` (a reconnect triggers a check) and kill-switch ``Alert``s.
          ``latest`` (conflating, ``executor_inbox_key``): ``Quote`` (paper books),
          ``MarketInfo`` (close times, fee terms), ``PortfolioState`` (the ledger's view, for
          reconciliation).
Applies:  an executor (``kbot.execution``: shadow, paper or live; one interface).
Sends:    everything it produces to ``out`` (the tree's route table: order events and fills to
          the ledger and the record, ledger adjustments to the ledger, reconciliation findings
          to the record, alerts to the record and the alert sink).
Timers:   woken at ``executor.next_wake`` (paper latency, close cutoff, queries of unknown
          orders, fill polls, reconciliation passes).
Stops:    ``final_drain`` (after the tree stopped): outputs not yet sent are sent; decisions still
          waiting are executed when that has no effect outside kbot (shadow) and dropped with a
          log line otherwise; paper/live cancel their resting orders (``cancel_on_stop``).
Fails:    outputs are queued in ``outq`` (owned by the tree) before they are sent and leave it
          only once sent, so a crash between producing and sending loses nothing (an executor
          with its own ``pending`` queue, paper/live, puts each output there the moment it is
          produced: an interruption in the middle of a method loses nothing either); the rest
          of the batch goes back to the mailbox; executed decision ids are remembered and order
          ids derive from them, so a restart neither loses nor duplicates an order.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable
from typing import Any

import trio
from loguru import logger

from kbot.actorkit import ActorStats, Outbox
from kbot.clock import Clock
from kbot.execution import Executor
from kbot.execution.shadow import ShadowExecutor, shadow_events
from kbot.messages import Decision, MarketInfo, PortfolioState, Quote
from kbot.wakes import Wakes, announcer, marks_of, next_mark, take
from supervision import LatestMailbox, Mailbox

__all__ = ["Executor", "ShadowExecutor", "executor_inbox_key", "final_drain", "run_executor", "shadow_events"]


def executor_inbox_key(msg: Any) -> Hashable:
    if isinstance(msg, Quote):
        return ("quote", msg.ticker, msg.source)
    if isinstance(msg, MarketInfo):
        return ("market", msg.ticker)
    if isinstance(msg, PortfolioState):
        return "portfolio"
    return ("other", type(msg).__name__)


async def _flush(outq: deque[Any], out: Outbox, stats: ActorStats, executor: Executor, clock: Clock) -> None:
    while outq:
        await out.send(outq[0])
        executor.sent(outq.popleft(), clock.now())
        stats.msgs_out += 1


async def run_executor(
    inbox: Mailbox[Any],
    out: Outbox,
    executor: Executor,
    *,
    clock: Clock,
    stats: ActorStats,
    executed: set[str],
    latest: LatestMailbox[Any] | None = None,
    outq: deque[Any] | None = None,
    wakes: Wakes | None = None,
) -> None:
    """``wakes``: wake marks (``kbot.wakes``): recording, each wake-up is announced with the
    number of inbox messages taken; a replay following them wakes exactly there and takes as many.
    ``executed``: decision ids already executed, and ``outq``: outputs not yet sent, both
    owned by the tree (they survive restarts). An executor with its own ``pending`` queue puts
    its outputs there itself (what its methods return is then only informative)."""
    own: deque[Any] | None = getattr(executor, "pending", None)
    outq = own if own is not None else (outq if outq is not None else deque())

    def keep(produced: list[Any]) -> None:
        if own is None:
            outq.extend(produced)

    stats.state = executor.mode
    await _flush(outq, out, stats, executor, clock)  # what a crashed incarnation produced but did not send
    follow = marks_of(wakes, "executor")
    wake_mark = announcer(wakes)
    while True:
        now = clock.now()
        wake = executor.next_wake(now)
        batch: list[Any] = []
        if follow is not None:  # a replay of wake marks: wake where the live actor did, take what it took
            _, took = await next_mark(follow)
            batch = take(inbox, took)
        elif wake is None:
            batch = await inbox.receive_batch()
        elif wake <= now:
            await trio.lowlevel.checkpoint()
            batch = inbox.take_ready()
        else:
            with trio.move_on_after((wake - now) / clock.speed):
                batch = await inbox.receive_batch()
        now = clock.now()
        if wake_mark is not None:
            wake_mark("executor", "", now, str(len(batch)))
        if batch:
            stats.msgs_in += len(batch)
            stats.last_msg_ts = now
        if latest is not None and len(latest):
            for msg in latest.take_ready():
                keep(await executor.on_input(msg, now))
        for i, msg in enumerate(batch):
            try:
                if isinstance(msg, Decision):
                    if msg.action == "TAKE" and msg.decision_id not in executed:
                        keep(await executor.execute(msg, clock.now()))
                        executed.add(msg.decision_id)
                else:
                    keep(await executor.on_input(msg, now))
                await _flush(outq, out, stats, executor, clock)
            except BaseException as exc:
                # Hand this input and the rest on to the next incarnation. What was produced is
                # in outq; decisions already executed are in ``executed``.
                inbox.requeue(batch[i:])
                if isinstance(exc, Exception):
                    stats.errors += 1
                raise
        try:
            keep(await executor.tick(clock.now()))
        except Exception:
            stats.errors += 1
            raise
        await _flush(outq, out, stats, executor, clock)


async def final_drain(inbox: Mailbox[Any], executed: set[str], out: Outbox, *, executor: Executor, now: float,
                      outq: deque[Any] | None = None) -> int:
    """After the tree stopped: what the executor produced but did not send goes out; TAKEs still
    waiting are executed when that has no effect outside kbot (shadow: their order events and
    fills go to ``out`` without waiting) and dropped with a log line otherwise; paper and live
    executors stop (cancel their resting orders). Returns how many inputs were waiting."""
    pending = inbox.take_ready()
    own: deque[Any] | None = getattr(executor, "pending", None)
    queued: deque[Any] = own if own is not None else (outq if outq is not None else deque())

    def keep(produced: list[Any]) -> None:
        if own is None:
            queued.extend(produced)

    shadow = executor.mode == "shadow"
    for msg in pending:
        if not isinstance(msg, Decision):
            if not shadow:
                keep(await executor.on_input(msg, now))  # venue fills still waiting: applied
            continue
        if msg.action != "TAKE" or msg.decision_id in executed:
            continue
        if not shadow:
            logger.warning("decision {} not executed: stopped before the executor took it", msg.decision_id)
            continue
        keep(await executor.execute(msg, now))
        executed.add(msg.decision_id)
    if not shadow:
        keep(await executor.stop(now))
    while queued:
        out.send_nowait(queued.popleft())
    return len(pending)
