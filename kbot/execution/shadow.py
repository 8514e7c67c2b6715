"""Shadow execution: hypothetical fills, nothing sent anywhere."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import attrs

from kbot.messages import Decision, Fill, Mode, OrderEvent, Side


def shadow_events(*, decision_id: str, ticker: str, side: Side, count: Decimal, price: Decimal, fee: Decimal,
                  now: float) -> list[OrderEvent | Fill]:
    """A shadow TAKE's execution (pure): the order, its one fill of the whole size at ``price``
    paying ``fee``, the order filled. Ids derive from the decision id, so executing it again
    (after a restart, or at start-up repair of an earlier run) yields the same records."""
    order_id = f"shadow-{decision_id}"
    new = OrderEvent(ts=now, order_id=order_id, client_order_id=decision_id, decision_id=decision_id, ticker=ticker,
                     side=side, action="buy", count=count, price=price, status="pending", mode="shadow",
                     filled_count=Decimal(0))
    return [
        new,
        Fill(fill_id=f"{order_id}:1", order_id=order_id, ts=now, ticker=ticker, side=side, action="buy", count=count,
             price=price, fee=fee, is_taker=True, mode="shadow", decision_id=decision_id),
        attrs.evolve(new, status="filled", filled_count=count),
    ]


class Hypothetical:
    """The part of the ``Executor`` interface an executor that talks to no venue has: no inputs
    to follow, no timers, nothing resting to cancel (shadow mode; a replay's fill models)."""

    async def on_input(self, msg: Any, now: float) -> list[Any]:
        return []

    async def tick(self, now: float) -> list[Any]:
        return []

    def next_wake(self, now: float) -> float | None:
        return None

    async def stop(self, now: float) -> list[Any]:
        return []

    def sent(self, msg: Any, now: float) -> None:
        return None


class ShadowExecutor(Hypothetical):
    """The whole size fills at the decided limit price (the quoted ask of the side bought),
    paying the taker fee the decision computed. Order and fill ids derive from the decision id."""

    mode: Mode = "shadow"

    async def execute(self, decision: Decision, now: float) -> list[OrderEvent | Fill]:
        if decision.action != "TAKE" or decision.side is None or decision.limit_price is None or decision.count <= 0:
            return []
        if decision.fee is None:
            raise ValueError(f"decision {decision.decision_id} has no fee: cannot execute")
        return shadow_events(decision_id=decision.decision_id, ticker=decision.ticker, side=decision.side,
                             count=decision.count, price=decision.limit_price, fee=decision.fee, now=now)
