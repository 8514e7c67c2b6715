"""Members' money at the simulated exchange: balances per shard, positions, fills, settlements (pure).

Positions **net** YES against NO (Kalshi's ``position_fp`` is one signed number: + YES, - NO):
buying YES while holding NO closes NO contracts, and each YES+NO pair is redeemed for $1
at once. Cash per fill, for ``q`` contracts at YES price ``p``:

    bid (buy YES):  closes min(q, NO held) at +(1 - p) each, opens the rest at -p each
    ask (sell YES): closes min(q, YES held) at +p each,      opens the rest (NO) at -(1 - p) each

The signed cash ("revenue") and the fill's fee go through the order's
``kbot.fees.OrderFeeAccumulator`` (balance precision, rounding fee, $0.01 rebates). The
exchange keeps $1 of collateral per open contract pair, so at every moment

    sum(balances) + exchange fee take + open interest * $1 == money deposited

which ``tests/sim`` checks after hours of simulated trading. Settlement pays $1 per winning
contract (whole cents) and closes the position.
"""

from __future__ import annotations

from decimal import Decimal

import attrs

from kbot.sim.book import BID, Order
from kbot.sim.wire import COUNT_SCALE, ONE_DOLLAR

ZERO = Decimal(0)
U6 = Decimal("0.000001")


def u6_to_decimal(u6: int) -> Decimal:
    return Decimal(u6).scaleb(-6)


@attrs.define(slots=True)
class Position:
    ticker: str
    event_ticker: str
    exchange_index: int
    position: int = 0  # c2, + YES / - NO
    yes_cost_u6: int = 0  # cost basis of the YES contracts held
    no_cost_u6: int = 0  # cost basis of the NO contracts held
    total_traded_u6: int = 0
    realized_pnl: Decimal = ZERO
    fees_paid: Decimal = ZERO
    volume: int = 0  # c2
    last_updated_ts: float = 0.0
    settled: bool = False

    @property
    def cost_u6(self) -> int:
        return self.yes_cost_u6 if self.position >= 0 else self.no_cost_u6


@attrs.define(slots=True)
class SettlementRecord:
    ticker: str
    event_ticker: str
    exchange_index: int
    market_result: str
    yes_count: int  # c2
    yes_cost_u6: int
    no_count: int
    no_cost_u6: int
    revenue_cents: int
    value_cents: int | None
    settled_ts: float
    fee_cost: Decimal = ZERO


@attrs.define(slots=True)
class FillCashResult:
    balance_change: Decimal
    post_position: int
    closed: int
    opened: int


class Account:
    """One member (API user) or one simulated participant (``agent``: never short of money)."""

    def __init__(self, user_id: str, *, balances: dict[int, Decimal] | None = None, agent: bool = False) -> None:
        self.user_id = user_id
        self.agent = agent
        self.balances: dict[int, Decimal] = dict(balances or {})
        self.deposited: Decimal = sum(self.balances.values(), ZERO)
        self.reserved_u6: dict[int, int] = {}
        self.positions: dict[str, Position] = {}
        self.updated_ts: float = 0.0

    # ------------------------------------------------------------------ balances
    def balance(self, shard: int | None = None) -> Decimal:
        if shard is None:
            return sum(self.balances.values(), ZERO)
        return self.balances.get(shard, ZERO)

    def available(self, shard: int) -> Decimal:
        """Balance not held as collateral for resting orders."""
        return self.balance(shard) - u6_to_decimal(self.reserved_u6.get(shard, 0))

    def reserve(self, order: Order, opening_c2: int) -> None:
        """Hold collateral for the opening part of a resting order (released as it fills or ends)."""
        amount = opening_c2 * order.unit_cost_p4
        order.reserved_u6 = amount
        self.reserved_u6[order.exchange_index] = self.reserved_u6.get(order.exchange_index, 0) + amount

    def release(self, order: Order, filled_c2: int | None = None) -> None:
        """Release collateral of ``filled_c2`` contracts of ``order`` (all of it when None)."""
        amount = order.reserved_u6 if filled_c2 is None else min(order.reserved_u6, filled_c2 * order.unit_cost_p4)
        if amount:
            order.reserved_u6 -= amount
            self.reserved_u6[order.exchange_index] = self.reserved_u6.get(order.exchange_index, 0) - amount

    def position(self, ticker: str, event_ticker: str, shard: int) -> Position:
        pos = self.positions.get(ticker)
        if pos is None:
            pos = self.positions[ticker] = Position(ticker, event_ticker, shard)
        return pos

    def closable(self, ticker: str, side: str) -> int:
        """Contracts an order on ``side`` would close (rather than open)."""
        pos = self.positions.get(ticker)
        if pos is None:
            return 0
        return max(-pos.position, 0) if side == BID else max(pos.position, 0)

    # ------------------------------------------------------------------ fills
    def apply_fill(
        self, order: Order, event_ticker: str, price: int, count: int, fee: Decimal, ts: float
    ) -> FillCashResult:
        pos = self.position(order.ticker, event_ticker, order.exchange_index)
        held = pos.position
        revenue_u6 = 0
        realized_u6 = 0
        if order.side == BID:
            close = min(count, max(-held, 0))
            if close:
                proceeds = close * (ONE_DOLLAR - price)
                removed = _cost_removed(pos.no_cost_u6, close, -held)
                pos.no_cost_u6 -= removed
                revenue_u6 += proceeds
                realized_u6 += proceeds - removed
            opened = count - close
            pos.yes_cost_u6 += opened * price
            revenue_u6 -= opened * price
            pos.position = held + count
        else:
            close = min(count, max(held, 0))
            if close:
                proceeds = close * price
                removed = _cost_removed(pos.yes_cost_u6, close, held)
                pos.yes_cost_u6 -= removed
                revenue_u6 += proceeds
                realized_u6 += proceeds - removed
            opened = count - close
            pos.no_cost_u6 += opened * (ONE_DOLLAR - price)
            revenue_u6 -= opened * (ONE_DOLLAR - price)
            pos.position = held - count
        pos.total_traded_u6 += count * price
        pos.volume += count
        pos.realized_pnl += u6_to_decimal(realized_u6)
        pos.fees_paid += fee
        pos.last_updated_ts = ts
        cash = order.fee_acc.apply_fill(u6_to_decimal(revenue_u6), fee)
        shard = order.exchange_index
        self.balances[shard] = self.balances.get(shard, ZERO) + cash.balance_change
        self.updated_ts = ts
        return FillCashResult(cash.balance_change, pos.position, close, opened)

    # ------------------------------------------------------------------ settlement
    def settle(self, ticker: str, result: str, ts: float) -> SettlementRecord | None:
        """Pay out a determined market and close the position (None if nothing was held)."""
        pos = self.positions.get(ticker)
        if pos is None or pos.settled:
            return None
        yes = max(pos.position, 0)
        no = max(-pos.position, 0)
        won = yes if result == "yes" else no if result == "no" else 0
        payout_cents = won  # c2 contracts * $1 = cents
        payout = Decimal(payout_cents).scaleb(-2)
        cost_u6 = pos.yes_cost_u6 + pos.no_cost_u6
        pos.realized_pnl += payout - u6_to_decimal(cost_u6)
        rec = SettlementRecord(
            ticker=ticker,
            event_ticker=pos.event_ticker,
            exchange_index=pos.exchange_index,
            market_result=result,
            yes_count=yes,
            yes_cost_u6=pos.yes_cost_u6,
            no_count=no,
            no_cost_u6=pos.no_cost_u6,
            revenue_cents=payout_cents,
            value_cents=100 if result == "yes" else 0 if result == "no" else None,
            settled_ts=ts,
        )
        self.balances[pos.exchange_index] = self.balances.get(pos.exchange_index, ZERO) + payout
        pos.position = 0
        pos.yes_cost_u6 = 0
        pos.no_cost_u6 = 0
        pos.settled = True
        pos.last_updated_ts = ts
        self.updated_ts = ts
        return rec


def _cost_removed(cost_u6: int, close: int, held: int) -> int:
    """Average-cost basis of ``close`` out of ``held`` contracts (all of it when closing all)."""
    if close >= held:
        return cost_u6
    return (cost_u6 * close) // held


def contracts(c2: int) -> Decimal:
    return Decimal(c2) / COUNT_SCALE
