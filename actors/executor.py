"""Executor actor: turns TAKE decisions into orders and fills.

Receives: ``Decision`` (bounded, lossless mailbox; PASS decisions are ignored).
Applies:  an ``Executor`` (shadow now; paper and live implement the same interface).
Sends:    ``OrderEvent`` and ``Fill`` to its outbox (the lead tees it to the ledger and recorder).
Stops:    ``final_drain`` (after the tree stopped): decisions still waiting are executed when that
          has no effect outside kbot (shadow mode) and dropped with a log line otherwise.
Fails:    an exception from the executor crashes the actor; the unprocessed rest of the batch
          is put back in the mailbox first, and decisions already executed are remembered (ids
          are deterministic), so a restart neither loses nor duplicates an order.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Protocol

import attrs
from loguru import logger

from kbot.actorkit import ActorStats, Outbox
from kbot.clock import Clock
from kbot.messages import Decision, Fill, Mode, OrderEvent, Side
from supervision import Mailbox


class Executor(Protocol):
    """One interface for shadow, paper (simulated fills against the book) and live (V2 orders).

    ``execute`` returns the order events and fills a TAKE produced, in order. Implementations
    must use deterministic order/fill ids derived from ``decision.decision_id`` so that
    re-executing after a crash is recognisable (the ledger and the recorder are idempotent
    on those ids)."""

    mode: Mode

    async def execute(self, decision: Decision, now: float) -> list[OrderEvent | Fill]: ...


def shadow_events(*, decision_id: str, ticker: str, side: Side, count: Decimal, price: Decimal, fee: Decimal,
                  now: float) -> list[OrderEvent | Fill]:
    """A shadow TAKE's execution (pure): the order, its one fill of the whole size at ``price``
    paying ``fee``, the order filled. Ids derive from the decision id, so executing it again
    (after a restart, or at start-up repair) yields the same records."""
    order_id = f"shadow-{decision_id}"
    new = OrderEvent(ts=now, order_id=order_id, client_order_id=decision_id, decision_id=decision_id, ticker=ticker,
                     side=side, action="buy", count=count, price=price, status="new", mode="shadow")
    return [
        new,
        Fill(fill_id=f"{order_id}:1", order_id=order_id, ts=now, ticker=ticker, side=side, action="buy", count=count,
             price=price, fee=fee, is_taker=True, mode="shadow", decision_id=decision_id),
        attrs.evolve(new, status="filled", filled_count=count),
    ]


class ShadowExecutor:
    """Hypothetical execution: the whole size fills at the decided limit price (the quoted ask
    of the side bought), paying the taker fee the decision computed. Nothing is sent anywhere."""

    mode: Mode = "shadow"

    async def execute(self, decision: Decision, now: float) -> list[OrderEvent | Fill]:
        if decision.action != "TAKE" or decision.side is None or decision.limit_price is None or decision.count <= 0:
            return []
        if decision.fee is None:
            raise ValueError(f"decision {decision.decision_id} has no fee: cannot execute")
        return shadow_events(decision_id=decision.decision_id, ticker=decision.ticker, side=decision.side,
                             count=decision.count, price=decision.limit_price, fee=decision.fee, now=now)


async def run_executor(
    inbox: Mailbox[Decision],
    out: Outbox,
    executor: Executor,
    *,
    clock: Clock,
    stats: ActorStats,
    executed: set[str],
) -> None:
    """``executed``: decision ids already executed, owned by the tree (survives restarts)."""
    stats.state = executor.mode
    while True:
        batch = await inbox.receive_batch()
        stats.msgs_in += len(batch)
        stats.last_msg_ts = clock.now()
        # A failure hands this decision and the rest on to the next incarnation (processing).
        # Events already sent carry deterministic ids, so re-sending them is harmless downstream.
        with inbox.processing(batch) as work:
            for decision in work:
                if decision.action != "TAKE" or decision.decision_id in executed:
                    continue
                try:
                    events = await executor.execute(decision, clock.now())
                    for ev in events:
                        await out.send(ev)
                        stats.msgs_out += 1
                except Exception:
                    stats.errors += 1
                    raise
                executed.add(decision.decision_id)


async def final_drain(inbox: Mailbox[Decision], executed: set[str], out: Outbox, *, mode: Mode, now: float) -> int:
    """After the tree stopped: TAKEs still waiting for the executor are executed when that has
    no effect outside kbot (shadow mode: their order events and fills go to ``out`` without
    waiting) and dropped with a log line otherwise. Returns how many decisions were waiting."""
    pending = inbox.take_ready()
    executor = ShadowExecutor() if mode == "shadow" else None
    for d in pending:
        if d.action != "TAKE" or d.decision_id in executed:
            continue
        if executor is None:
            logger.warning("decision {} not executed: stopped before the executor took it", d.decision_id)
            continue
        for ev in await executor.execute(d, now):
            out.send_nowait(ev)
        executed.add(d.decision_id)
    return len(pending)
