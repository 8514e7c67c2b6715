"""Execution: how kbot's TAKE decisions become orders, fills and positions, in three modes.

| module | what |
| --- | --- |
| ``orders`` | the order manager (pure): client order ids from decision ids, the order state machine, fills in, position deltas out |
| ``fills`` | fill models (pure): a taker walking the book, a resting order in the queue; for paper mode, replay and strategies |
| ``paper`` | paper mode's simulated venue (pure) on the live public book and trades, and its gateway |
| ``live`` | live mode's gateway: Kalshi's V2 order endpoints, error handling, the venue's account view |
| ``reconcile`` | reconciliation (pure): ledger and orders against the venue, two misses before "gone", never "flat" from a missing row |
| ``trading`` | the paper/live executor: guards (kill switch, halts, cutoff), venue answers, start-up and continuous reconciliation |
| ``shadow`` | shadow mode: hypothetical fills at the decided price |
| ``config`` | ``[execution]`` and ``[live]`` |

Every executor has the interface of ``Executor``; the executor actor (``actors.executor``) feeds it.
"""

from __future__ import annotations

from typing import Any, Protocol

from kbot.messages import Decision, Mode


class Executor(Protocol):
    """One interface for shadow, paper and live. Every method returns the messages produced
    (order events, fills, ledger adjustments, reconciliation findings, alerts), in order.

    Order and fill ids derive from ``decision.decision_id``, so executing a decision again after a
    crash is recognised (the ledger and the recorder are idempotent on those ids, and paper/live
    never place a decision's order twice)."""

    mode: Mode

    async def execute(self, decision: Decision, now: float) -> list[Any]: ...

    async def on_input(self, msg: Any, now: float) -> list[Any]:
        """A venue fill or order update, market data (paper), a settlement, a portfolio..."""
        ...

    async def tick(self, now: float) -> list[Any]:
        """Time passed: latencies, cutoffs, queries, fill polls, reconciliation."""
        ...

    def next_wake(self, now: float) -> float | None:
        """When ``tick`` has something to do next (None: only when an input arrives)."""
        ...

    async def stop(self, now: float) -> list[Any]:
        """A clean stop (cancel resting orders)."""
        ...

    def sent(self, msg: Any, now: float) -> None:
        """``msg`` (one of the outputs) was delivered at ``now`` (the executor actor says so)."""
        ...
