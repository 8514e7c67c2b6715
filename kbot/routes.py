"""Where each message goes: the route tables of ``kbot run`` and the router that applies them.

A route table maps a message type to the names of the inboxes it is delivered to, in order.
The tables are data: reading them tells where a ``Quote`` or a ``Fill`` ends up without
following code. The ``Router`` only delivers; it writes no shared state. Anything that keeps
state about the traffic (the newest index for a pricer started later, the time of the last
fresh quote for health) is itself a destination that owns that state.

Destinations (names below) are objects with ``send_nowait(msg)`` and ``async send(msg)``;
each is registered with its delivery:

- ``conflating``: ``send_nowait`` only (a ``LatestMailbox``, a fan-out into them, a
  freshness tap): never blocks, never waits;
- ``lossless``: ``deliver`` (``send_nowait``, else ``await send``: backpressure when full,
  never loss): bounded mailboxes of everything that changes money or the record.

A message type missing from a table is dropped by that router (counted in ``dropped``):
e.g. the venue's own account view (``VenuePosition``...) in shadow mode, where nothing reads it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import attrs
import trio

from kbot.actorkit import Outbox, deliver
from kbot.execution.reconcile import LedgerAdjustment
from kbot.messages import (
    Alert,
    BookSnapshot,
    EventFeeUpdate,
    EventInfo,
    FeedStatus,
    Fill,
    FundingRate,
    IndexUpdate,
    MarketInfo,
    MarketLifecycle,
    MarketSettled,
    OrderEvent,
    Quote,
    QuoteAction,
    Reconciliation,
    SeriesInfo,
    SpotTick,
    Trade,
    VenueBalance,
    VenuePosition,
    VenueSettlement,
)

# ----------------------------------------------------------------------------- destinations

PRICER = "pricer"  # the pricer of ``msg.ticker`` (conflating; dropped when none runs)
PRICERS = "pricers"  # every running pricer (the index fan-out; the pricing board picks who wakes)
SPOT_INDEX = "spot_index"  # conflating per source
LEDGER_MARKS = "ledger_marks"  # conflating per ticker: marks for unrealized PnL
LEDGER = "ledger"  # lossless: fills, order events, settlements, adjustments
EXECUTOR = "executor"  # lossless: decisions; paper/live: venue fills and orders, trades, settlements
EXECUTOR_LATEST = "executor_latest"  # conflating: books (paper), market terms, the ledger's portfolio
MARKETS = "markets"  # lossless: reference data and lifecycle
FRESHNESS = "freshness"  # tap: time of the last fresh quote per ticker and of the last fresh index
KEEPUP = "keepup"  # tap: the receipt lag of venue quotes (kbot.keepup: is kbot keeping up?)
RECORDER = "recorder"  # lossless: everything for the record
ALERTS = "alerts"  # the alert sink (log, webhook)

Table = Mapping[type, tuple[str, ...]]

def feed_routes(mode: str) -> dict[type, tuple[str, ...]]:
    """What the feeds (Kalshi WS and REST, spot exchanges) send, per message type.

    shadow: the executor needs nothing from the venue. paper: the executor simulates fills on
    the public book (``Quote``) and trades. live: the venue's own fills and order updates go
    through the executor (which dedups them, attaches decision ids and records them), and its
    account messages (``VenuePosition``...) are recorded. In paper/live the executor also
    follows market terms (close times, fees) and the feed's reconnects, and settlements reach
    the ledger through it: after the market's last fills, never before them."""
    trading = mode != "shadow"
    ex: tuple[str, ...] = (EXECUTOR,) if trading else ()
    ex_latest: tuple[str, ...] = (EXECUTOR_LATEST,) if trading else ()
    paper_book: tuple[str, ...] = (EXECUTOR_LATEST,) if mode == "paper" else ()
    paper_trades: tuple[str, ...] = (EXECUTOR,) if mode == "paper" else ()
    venue_orders: tuple[str, ...] = (EXECUTOR,) if mode == "live" else (RECORDER,)
    table: dict[type, tuple[str, ...]] = {
        Quote: (PRICER, LEDGER_MARKS, FRESHNESS, KEEPUP, *paper_book, RECORDER),
        SpotTick: (SPOT_INDEX, RECORDER),
        FundingRate: (SPOT_INDEX, RECORDER),
        MarketInfo: (MARKETS, *ex_latest, RECORDER),
        MarketLifecycle: (MARKETS, RECORDER),
        # paper/live: the executor hands settlements to the ledger after the market's last fills
        MarketSettled: (MARKETS, *(ex or (LEDGER,)), RECORDER),
        Trade: (*paper_trades, RECORDER),
        FeedStatus: (*ex, RECORDER),
        Fill: venue_orders,
        OrderEvent: venue_orders,
    }
    record_only: list[type] = [BookSnapshot, SeriesInfo, EventInfo, EventFeeUpdate]
    if mode == "live":
        record_only += [VenuePosition, VenueBalance, VenueSettlement]
    for kind in record_only:
        table[kind] = (RECORDER,)
    return table


# What the spot index sends: every pricer gets the newest index (and health its freshness).
INDEX_ROUTES: Table = {IndexUpdate: (PRICERS, FRESHNESS, RECORDER)}


def alert_routes(mode: str) -> dict[type, tuple[str, ...]]:
    """What actors raise as alerts (the decision actor's kill switch): recorded, then
    delivered; in paper/live the executor hears the kill switch too (it cancels open orders)."""
    return {Alert: (RECORDER, ALERTS, *((EXECUTOR,) if mode != "shadow" else ()))}


# What the executor sends: orders and fills to the ledger and the record; adjustments (the
# venue's view adopted) to the ledger, whose entries are recorded; findings and the venue's
# account records to the record; alerts to the record and the sink.
EXECUTOR_ROUTES: Table = {
    OrderEvent: (LEDGER, RECORDER),
    Fill: (LEDGER, RECORDER),
    MarketSettled: (LEDGER,),
    LedgerAdjustment: (LEDGER,),
    Reconciliation: (RECORDER,),
    QuoteAction: (RECORDER,),  # the maker's quote places, replaces, cancels and fills
    VenueBalance: (RECORDER,),
    VenuePosition: (RECORDER,),
    VenueSettlement: (RECORDER,),
    Alert: (RECORDER, ALERTS),
}

# The same after the tree stopped (``Tree.final_drain``): nothing may wait, so no alert sink.
EXECUTOR_DRAIN_ROUTES: Table = {k: tuple(d for d in v if d != ALERTS) for k, v in EXECUTOR_ROUTES.items()}


# ----------------------------------------------------------------------------- the router


@attrs.frozen(slots=True)
class Destination:
    """A named inbox and how it is delivered to (``lossless``: ``deliver``, else ``send_nowait``)."""

    name: str
    box: Outbox
    lossless: bool


def conflating(name: str, box: Outbox) -> Destination:
    return Destination(name, box, lossless=False)


def lossless(name: str, box: Outbox) -> Destination:
    return Destination(name, box, lossless=True)


_Plan = tuple[tuple[Callable[[Any], None], ...], tuple[Outbox, ...]]


class Router:
    """An outbox that applies one route table over a set of destinations.

    The table is compiled once into, per message type, the conflating ``send_nowait`` calls
    (done first: they never block) and the lossless outboxes (delivered in table order)."""

    __slots__ = ("_plans", "dropped")

    def __init__(self, table: Table, destinations: Mapping[str, Destination]) -> None:
        plans: dict[type, _Plan] = {}
        for kind, names in table.items():
            unknown = [n for n in names if n not in destinations]
            if unknown:
                raise ValueError(f"route for {kind.__name__}: no destination named {', '.join(unknown)}")
            dests = [destinations[n] for n in names]
            plans[kind] = (tuple(d.box.send_nowait for d in dests if not d.lossless),
                           tuple(d.box for d in dests if d.lossless))
        self._plans = plans
        self.dropped = 0

    def _conflating(self, msg: Any) -> tuple[Outbox, ...]:
        """Put ``msg`` in its conflating destinations; return its lossless ones."""
        plan = self._plans.get(type(msg))
        if plan is None:
            self.dropped += 1
            return ()
        nowait, boxes = plan
        for put in nowait:
            put(msg)
        return boxes

    async def send(self, msg: Any) -> None:
        for box in self._conflating(msg):
            await deliver(box, msg)

    def send_nowait(self, msg: Any) -> None:
        """Deliver without waiting (after the tree stopped): a full lossless inbox raises
        ``trio.WouldBlock``, as a mailbox does."""
        for box in self._conflating(msg):
            box.send_nowait(msg)


class AsyncSink:
    """A destination around an ``async`` callable (e.g. the alert sink's ``send``)."""

    __slots__ = ("fn",)

    def __init__(self, fn: Callable[[Any], Awaitable[None]]) -> None:
        self.fn = fn

    async def send(self, msg: Any) -> None:
        await self.fn(msg)

    def send_nowait(self, msg: Any) -> None:
        raise trio.WouldBlock
