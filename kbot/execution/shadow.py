"""Shadow execution: hypothetical fills, nothing sent anywhere."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from kbot.messages import Decision, Fill, Mode, OrderEvent


class ShadowExecutor:
    """The whole size fills at the decided limit price (the quoted ask of the side bought),
    paying the taker fee the decision computed. Order and fill ids derive from the decision id."""

    mode: Mode = "shadow"

    async def execute(self, decision: Decision, now: float) -> list[Any]:
        if decision.action != "TAKE" or decision.side is None or decision.limit_price is None or decision.count <= 0:
            return []
        if decision.fee is None:
            raise ValueError(f"decision {decision.decision_id} has no fee: cannot execute")
        order_id = f"shadow-{decision.decision_id}"
        side, price = decision.side, decision.limit_price

        def event(status: str, filled: Decimal) -> OrderEvent:
            return OrderEvent(
                ts=now, order_id=order_id, client_order_id=decision.decision_id, decision_id=decision.decision_id,
                ticker=decision.ticker, side=side, action="buy", count=decision.count, price=price, status=status,
                mode=self.mode, filled_count=filled,
            )

        return [
            event("pending", Decimal(0)),
            Fill(fill_id=f"{order_id}:1", order_id=order_id, ts=now, ticker=decision.ticker, side=side,
                 action="buy", count=decision.count, price=price, fee=decision.fee, is_taker=True,
                 mode=self.mode, decision_id=decision.decision_id),
            event("filled", decision.count),
        ]

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
