"""kbot's orders and their state machine (pure: no I/O, no clock reads; time is an argument).

States and the only transitions allowed (``TRANSITIONS``)::

    pending ──> resting ──> partially_filled ──> filled
       │           │              └───────────> canceled | expired
       │           └──> filled | canceled | expired
       └──> partially_filled | filled | canceled | rejected | expired

``filled``, ``canceled``, ``rejected`` and ``expired`` are terminal. ``pending``: decided and
handed to the venue, no answer yet (or the answer was lost: ``unknown`` is set and the order
is resolved by a query, never by sending it again). ``canceled`` and ``expired`` may carry
fills (an IOC that filled part of its size ends ``canceled`` with ``filled_count`` > 0).

The state is derived from facts, never set by hand: the fills applied (each ``fill_id`` once;
``filled`` never exceeds ``count``), and what the venue said last (acknowledged, its final
status and how much it says filled). An order the venue calls final is finished only once every
fill it reported has arrived, so a cancel that races a fill never loses the fill.

Client order ids are derived from decision ids (``client_order_id``): a decision can produce
one order, ever. Re-executing a decision after a crash finds the same id (at the venue: a 409,
resolved by a query), so a restart never sends an order twice.

Inputs: ``open`` (a TAKE), ``on_ack`` / ``on_venue_order`` (what the venue says about an order),
``on_fill`` (a venue fill), ``on_settled`` (a market's outcome is known).
Outputs: ``OrderEvent`` on every state or fill change (for the ledger's open orders and the
record), the ``Fill`` with its decision id attached, and a ``PositionDelta`` per fill.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from decimal import Decimal
from typing import Literal

import attrs

from kbot.messages import Fill, Mode, OrderEvent, Side

ZERO = Decimal(0)

TimeInForce = Literal["immediate_or_cancel", "fill_or_kill", "good_till_canceled"]


class OrderState(enum.StrEnum):
    PENDING = "pending"
    RESTING = "resting"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELED = "canceled"
    REJECTED = "rejected"
    EXPIRED = "expired"


S = OrderState
TERMINAL = frozenset({S.FILLED, S.CANCELED, S.REJECTED, S.EXPIRED})
OPEN = frozenset({S.PENDING, S.RESTING, S.PARTIALLY_FILLED})
TRANSITIONS: dict[OrderState, frozenset[OrderState]] = {
    S.PENDING: frozenset({S.RESTING, S.PARTIALLY_FILLED, S.FILLED, S.CANCELED, S.REJECTED, S.EXPIRED}),
    S.RESTING: frozenset({S.PARTIALLY_FILLED, S.FILLED, S.CANCELED, S.EXPIRED}),
    S.PARTIALLY_FILLED: frozenset({S.FILLED, S.CANCELED, S.EXPIRED}),
    S.FILLED: frozenset(),
    S.CANCELED: frozenset(),
    S.REJECTED: frozenset(),
    S.EXPIRED: frozenset(),
}
# what a venue may report as an order's final status
VenueFinal = Literal["canceled", "expired", "rejected", "executed"]


class IllegalTransition(ValueError):
    """A state change the machine does not allow (a bug, or venue input that contradicts itself)."""


def client_order_id(prefix: str, decision_id: str) -> str:
    """The one client order id of a decision's order (``<prefix>-<decision_id>``)."""
    return f"{prefix}-{decision_id}"


def decision_of(prefix: str, cid: str) -> str | None:
    """The decision id inside a kbot client order id (None: not one of kbot's)."""
    head = f"{prefix}-"
    if not cid.startswith(head) or len(cid) == len(head):
        return None
    return cid[len(head):].split("~", 1)[0]  # "~r<n>": a replacement's id


@attrs.frozen(kw_only=True)
class OrderSpec:
    """How an order is placed: limit price of ``side``, size, time in force."""

    ticker: str
    side: Side
    action: Literal["buy", "sell"] = "buy"
    count: Decimal
    price: Decimal  # dollars per contract of ``side``
    time_in_force: TimeInForce = "immediate_or_cancel"
    post_only: bool = False
    expires_ts: float | None = None  # good_till_canceled only: the venue expires it then
    close_ts: float | None = None  # the market's close (the close cutoff cancels before it)


@attrs.frozen(kw_only=True)
class PositionDelta:
    """What one fill did to the position: ``yes`` is the signed change in YES contracts
    (+ buying YES or selling NO, - buying NO or selling YES), as Kalshi nets them."""

    ticker: str
    yes: Decimal
    fill_id: str


def yes_delta(side: str, action: str, count: Decimal) -> Decimal:
    return count if (side == "yes") == (action == "buy") else -count


@attrs.define(kw_only=True)
class ManagedOrder:
    client_order_id: str
    decision_id: str | None
    spec: OrderSpec
    created_ts: float
    updated_ts: float
    state: OrderState = S.PENDING
    order_id: str | None = None  # the venue's id, once known
    count: Decimal = ZERO  # current total size (an amend or decrease changes it)
    price: Decimal = ZERO  # current limit price of ``spec.side``
    filled: Decimal = ZERO
    fees: Decimal = ZERO
    cost: Decimal = ZERO  # sum of fill count x price
    fill_ids: set[str] = attrs.field(factory=set)
    acked: bool = False
    venue_final: VenueFinal | None = None
    venue_filled: Decimal = ZERO  # what the venue last said had filled
    reason: str | None = None
    unknown: bool = False  # the venue's answer was lost: resolve by a query, never resend
    cancel_requested: bool = False
    misses: int = 0  # consecutive reconciliation passes (or queries) that did not find it at the venue
    next_query: float = 0.0  # when an unknown order is queried next
    adopted: bool = False  # found at the venue, not placed by this process

    @property
    def ticker(self) -> str:
        return self.spec.ticker

    @property
    def remaining(self) -> Decimal:
        return self.count - self.filled if self.state in OPEN else ZERO

    @property
    def is_open(self) -> bool:
        return self.state in OPEN

    def derive(self) -> OrderState:
        """The state the facts say the order is in."""
        if self.state is S.REJECTED:
            return S.REJECTED
        if self.count > ZERO and self.filled >= self.count:
            return S.FILLED
        if self.venue_final is not None:
            if self.filled >= self.venue_filled:
                if self.venue_final == "executed":  # said done with less than its size: contradictory
                    return S.PARTIALLY_FILLED if self.filled > ZERO else self.state
                if self.venue_final == "rejected" and (self.filled > ZERO or self.state is not S.PENDING):
                    return S.CANCELED  # an order that rested or traded was not refused: it ended
                return {"canceled": S.CANCELED, "expired": S.EXPIRED, "rejected": S.REJECTED}[self.venue_final]
            # final at the venue, but fills it reported are still on their way: not finished yet
            return S.PARTIALLY_FILLED if self.filled > ZERO else self.state
        if self.filled > ZERO:
            return S.PARTIALLY_FILLED
        return S.RESTING if self.acked else S.PENDING

    def event(self, ts: float, mode: Mode) -> OrderEvent:
        return OrderEvent(
            ts=ts, order_id=self.order_id or self.client_order_id, client_order_id=self.client_order_id,
            decision_id=self.decision_id, ticker=self.spec.ticker, side=self.spec.side, action=self.spec.action,
            count=self.count, price=self.price, status=self.state.value, mode=mode, filled_count=self.filled,
            reason=self.reason,
        )


@attrs.frozen(kw_only=True)
class FillOutcome:
    """What applying a fill produced. ``refused`` names why it was not applied (None: applied,
    or ignored as a duplicate when ``duplicate``)."""

    fill: Fill | None = None  # the fill to apply (decision id attached)
    delta: PositionDelta | None = None
    events: tuple[OrderEvent, ...] = ()
    duplicate: bool = False
    refused: str | None = None
    order: ManagedOrder | None = None


class OrderManager:
    """Every order of one mode, by client order id and by venue order id."""

    def __init__(self, mode: Mode, prefix: str = "kb") -> None:
        self.mode: Mode = mode
        self.prefix = prefix
        self.orders: dict[str, ManagedOrder] = {}
        self.by_order_id: dict[str, str] = {}
        self.seen_fills: set[str] = set()
        self.positions: dict[str, Decimal] = {}  # signed YES contracts from the fills applied
        self.settled: set[str] = set()
        # fills applied before their order was known (venue id -> fills): counted into the order
        # when it is named (a fill can overtake the answer that names its order)
        self.orphans: dict[str, list[Fill]] = {}
        self.replacements = 0

    # ------------------------------------------------------------------ lookups

    def get(self, cid: str) -> ManagedOrder | None:
        return self.orders.get(cid)

    def by_venue_id(self, order_id: str) -> ManagedOrder | None:
        cid = self.by_order_id.get(order_id)
        return self.orders.get(cid) if cid is not None else None

    def open_orders(self, ticker: str | None = None) -> list[ManagedOrder]:
        return [o for o in self.orders.values() if o.is_open and (ticker is None or o.spec.ticker == ticker)]

    def cid_for(self, decision_id: str) -> str:
        return client_order_id(self.prefix, decision_id)

    def is_ours(self, cid: str) -> bool:
        return decision_of(self.prefix, cid) is not None

    # ------------------------------------------------------------------ state changes

    def _move(self, o: ManagedOrder, ts: float, out: list[OrderEvent], *, force_event: bool = False) -> None:
        # A finished order stays finished whatever the venue says later (a late fill still
        # counts, and is recorded, but the order does not come back to life).
        new = o.state if o.state in TERMINAL else o.derive()
        if new is not o.state:
            if new not in TRANSITIONS[o.state]:
                raise IllegalTransition(f"order {o.client_order_id}: {o.state} -> {new} is not allowed")
            o.state = new
            force_event = True
        o.updated_ts = max(o.updated_ts, ts)
        # Nothing is recorded for an order the venue has not named yet (its record is keyed by
        # the venue's id), except a refusal that will never have one.
        if force_event and (o.order_id is not None or o.state is S.REJECTED):
            out.append(o.event(ts, self.mode))

    def open(self, decision_id: str, spec: OrderSpec, now: float, *, order_id: str | None = None) -> ManagedOrder | None:
        """A new pending order for ``decision_id``; None when that decision already has one."""
        cid = self.cid_for(decision_id)
        if cid in self.orders:
            return None
        if spec.count <= ZERO:
            raise ValueError(f"order for {decision_id}: count must be > 0, got {spec.count}")
        o = ManagedOrder(client_order_id=cid, decision_id=decision_id, spec=spec, created_ts=now, updated_ts=now,
                         count=spec.count, price=spec.price, order_id=order_id)
        self.orders[cid] = o
        if order_id is not None:
            self.by_order_id[order_id] = cid
        return o

    def pending_event(self, o: ManagedOrder, now: float) -> list[OrderEvent]:
        """The ``pending`` record of an order whose id is known at once (paper mode)."""
        return [o.event(now, self.mode)] if o.order_id is not None else []

    def reject(self, o: ManagedOrder, reason: str, now: float) -> list[OrderEvent]:
        """The venue refused the order (or it was never sent): final, no retry."""
        out: list[OrderEvent] = []
        if o.state is not S.PENDING:
            raise IllegalTransition(f"order {o.client_order_id}: only a pending order can be rejected ({o.state})")
        o.reason = reason
        o.unknown = False
        o.state = S.REJECTED
        o.updated_ts = max(o.updated_ts, now)
        out.append(o.event(now, self.mode))
        return out

    def mark_unknown(self, o: ManagedOrder, reason: str) -> None:
        """The venue's answer was lost (timeout, retries exhausted): resolve by a query."""
        o.unknown = True
        o.reason = reason

    def on_accepted(self, o: ManagedOrder, *, order_id: str, now: float) -> list[OrderEvent]:
        """The venue took the order and named it, but it is not live yet (paper: it meets the
        book after the latency): still ``pending``, now on the record."""
        self._name(o, order_id)
        o.unknown = False
        out: list[OrderEvent] = []
        self._move(o, now, out, force_event=True)
        return out

    def on_ack(self, o: ManagedOrder, *, order_id: str, now: float, filled: Decimal | None = None,
               remaining: Decimal | None = None, final: VenueFinal | None = None) -> list[OrderEvent]:
        """The venue accepted the order (``filled``: what it says filled at once; ``remaining``:
        what still rests; 0 with an IOC means the rest was canceled)."""
        out: list[OrderEvent] = []
        self._name(o, order_id)
        o.acked = True
        o.unknown = False
        o.misses = 0
        if filled is not None:
            o.venue_filled = max(o.venue_filled, filled)
        if final is not None:
            o.venue_final = final
        elif remaining is not None and remaining <= ZERO:
            o.venue_final = "executed" if (filled or ZERO) >= o.count else "canceled"
        self._move(o, now, out, force_event=True)
        return out

    def _name(self, o: ManagedOrder, order_id: str) -> None:
        if o.order_id is not None and o.order_id != order_id:
            self.by_order_id.pop(o.order_id, None)
        o.order_id = order_id
        self.by_order_id[order_id] = o.client_order_id
        for f in self.orphans.pop(order_id, ()):
            if f.fill_id not in o.fill_ids:
                o.filled = min(o.count, o.filled + f.count)  # already applied: counted, up to the size
                o.fees += f.fee
                o.cost += f.count * f.price
                o.fill_ids.add(f.fill_id)

    def on_venue_order(self, ev: OrderEvent, now: float) -> tuple[ManagedOrder | None, list[OrderEvent]]:
        """The venue's view of an order (WS ``user_order``, REST order listing or query).
        Unknown orders are not adopted here (see ``adopt``): returns (None, [])."""
        o = self.by_venue_id(ev.order_id) or (self.orders.get(ev.client_order_id) if ev.client_order_id else None)
        if o is None:
            return None, []
        out: list[OrderEvent] = []
        self._name(o, ev.order_id)
        o.acked = True
        o.unknown = False
        o.misses = 0
        o.venue_filled = max(o.venue_filled, ev.filled_count)
        changed = False
        if ev.count > ZERO and ev.count != o.count and o.state in OPEN and ev.count >= o.filled:
            o.count = ev.count  # an amend or decrease, or the venue capped it
            changed = True
        if ev.price != o.price and o.state in OPEN and ev.price > ZERO:
            o.price = ev.price
            changed = True
        final = venue_final_of(ev)
        if final is not None:
            o.venue_final = final
            if not (o.cancel_requested and final == "canceled"):  # kbot's own reason for a cancel stays
                o.reason = ev.reason or o.reason
        self._move(o, max(ev.ts, now), out, force_event=final is not None or changed)
        return o, out

    def adopt(self, ev: OrderEvent, now: float) -> tuple[ManagedOrder, list[OrderEvent]]:
        """An order found at the venue that this process did not place (a previous process's,
        found at start or after a lost answer). Its decision id comes from its client order id."""
        existing = self.by_venue_id(ev.order_id) or self.orders.get(ev.client_order_id)
        if existing is not None:
            _, out = self.on_venue_order(ev, now)
            return existing, out
        spec = OrderSpec(ticker=ev.ticker, side=ev.side, action="buy" if ev.action != "sell" else "sell",
                         count=ev.count, price=ev.price, time_in_force="good_till_canceled")
        cid = ev.client_order_id or f"venue-{ev.order_id}"
        # What it filled before this process is in the record already (carried) or arrives as
        # missed fills next: the order starts at the venue's count, and its later fills are
        # counted up to its size (never refused for it: they are the venue's money).
        o = ManagedOrder(client_order_id=cid, decision_id=decision_of(self.prefix, cid), spec=spec,
                         created_ts=ev.ts, updated_ts=ev.ts, count=ev.count, price=ev.price, adopted=True,
                         filled=min(ev.filled_count, ev.count))
        self.orders[cid] = o
        _, out = self.on_venue_order(ev, now)
        if not out:
            out.append(o.event(max(ev.ts, now), self.mode))
        return o, out

    def on_fill(self, fill: Fill, now: float) -> FillOutcome:
        """Apply one venue fill: once per ``fill_id``, never beyond the order's size, never into
        a market already settled."""
        if fill.fill_id in self.seen_fills:
            return FillOutcome(duplicate=True, order=self.by_venue_id(fill.order_id))
        o = self.by_venue_id(fill.order_id)
        if fill.ticker in self.settled:
            return FillOutcome(refused="market_settled", order=o)
        if fill.count <= ZERO:
            return FillOutcome(refused="bad_count", order=o)
        if o is not None:
            if o.state is S.REJECTED:
                return FillOutcome(refused="order_rejected", order=o)
            if o.filled + fill.count > o.count and not o.adopted:
                return FillOutcome(refused="overfill", order=o)
            if fill.ticker != o.spec.ticker:
                return FillOutcome(refused="ticker_mismatch", order=o)
        self.seen_fills.add(fill.fill_id)
        applied = attrs.evolve(fill, mode=self.mode, decision_id=o.decision_id if o is not None else fill.decision_id)
        delta = PositionDelta(ticker=fill.ticker, yes=yes_delta(fill.side, fill.action, fill.count), fill_id=fill.fill_id)
        self.positions[fill.ticker] = self.positions.get(fill.ticker, ZERO) + delta.yes
        events: list[OrderEvent] = []
        if o is None:
            self.orphans.setdefault(fill.order_id, []).append(applied)
        else:
            o.filled = min(o.count, o.filled + fill.count)
            o.fees += fill.fee
            o.cost += fill.count * fill.price
            o.fill_ids.add(fill.fill_id)
            self._move(o, max(fill.ts, now), events, force_event=True)
        return FillOutcome(fill=applied, delta=delta, events=tuple(events), order=o)

    def on_settled(self, ticker: str) -> list[ManagedOrder]:
        """The market's outcome is known: later fills for it are refused; its position is
        closed. Returns the orders still open there (the venue cancels them at close)."""
        self.settled.add(ticker)
        self.positions.pop(ticker, None)
        return self.open_orders(ticker)

    def replace(self, o: ManagedOrder, *, price: Decimal, count: Decimal, now: float) -> None:
        """An amend the venue accepted: new limit price and new total size."""
        if not o.is_open:
            raise IllegalTransition(f"order {o.client_order_id}: cannot amend a {o.state} order")
        if count <= o.filled:
            raise ValueError(f"order {o.client_order_id}: amended count {count} must exceed filled {o.filled}")
        o.price = price
        o.count = count
        o.updated_ts = max(o.updated_ts, now)
        self.replacements += 1

    def seed_positions(self, positions: Iterable[tuple[str, Decimal]]) -> None:
        """Positions held when this process started (the ledger's, after reconciliation)."""
        for ticker, yes in positions:
            if yes:
                self.positions[ticker] = yes

    def forget_finished(self, before: float) -> int:
        """Drop finished orders last updated before ``before`` (memory stays bounded); their
        fill ids stay known."""
        gone = [cid for cid, o in self.orders.items() if o.state in TERMINAL and o.updated_ts < before]
        for cid in gone:
            o = self.orders.pop(cid)
            if o.order_id is not None:
                self.by_order_id.pop(o.order_id, None)
        for oid in [oid for oid, fills in self.orphans.items() if max(f.ts for f in fills) < before]:
            del self.orphans[oid]
        return len(gone)


def venue_final_of(ev: OrderEvent) -> VenueFinal | None:
    """The final status in a venue order event, if it is final."""
    status = ev.status
    if status in ("filled", "executed"):
        return "executed"
    if status in ("canceled", "cancelled"):
        reason = (ev.reason or "").lower()
        return "expired" if "expir" in reason else "canceled"
    if status == "expired":
        return "expired"
    if status == "rejected":
        return "rejected"
    return None
