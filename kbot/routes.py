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
    SeriesInfo,
    SpotTick,
    Trade,
)

# ----------------------------------------------------------------------------- destinations

PRICER = "pricer"  # the pricer of ``msg.ticker`` (conflating; dropped when none runs)
PRICERS = "pricers"  # every running pricer (the index fan-out; the pricing board picks who wakes)
SPOT_INDEX = "spot_index"  # conflating per source
LEDGER_MARKS = "ledger_marks"  # conflating per ticker: marks for unrealized PnL
LEDGER = "ledger"  # lossless: fills, order events, settlements
MARKETS = "markets"  # lossless: reference data and lifecycle
FRESHNESS = "freshness"  # tap: time of the last fresh quote per ticker and of the last fresh index
KEEPUP = "keepup"  # tap: the receipt lag of venue quotes (kbot.keepup: is kbot keeping up?)
RECORDER = "recorder"  # lossless: everything for the record
ALERTS = "alerts"  # the alert sink (log, webhook)

Table = Mapping[type, tuple[str, ...]]

_RECORD_ONLY = (BookSnapshot, Trade, SeriesInfo, EventInfo, EventFeeUpdate, FeedStatus)


def feed_routes(mode: str) -> dict[type, tuple[str, ...]]:
    """What the feeds (Kalshi WS and REST, spot exchanges) send, per message type.

    The venue's fills and order events matter in paper and live mode only (shadow records
    them and nothing else); the venue's account view (``VenuePosition``, ``VenueBalance``,
    ``VenueSettlement``) is not routed in shadow mode."""
    trading: tuple[str, ...] = () if mode == "shadow" else (LEDGER,)
    table: dict[type, tuple[str, ...]] = {
        Quote: (PRICER, LEDGER_MARKS, FRESHNESS, KEEPUP, RECORDER),
        SpotTick: (SPOT_INDEX, RECORDER),
        FundingRate: (SPOT_INDEX, RECORDER),
        MarketInfo: (MARKETS, RECORDER),
        MarketLifecycle: (MARKETS, RECORDER),
        MarketSettled: (MARKETS, LEDGER, RECORDER),
        Fill: (*trading, RECORDER),
        OrderEvent: (*trading, RECORDER),
    }
    for kind in _RECORD_ONLY:
        table[kind] = (RECORDER,)
    return table


# What the spot index sends: every pricer gets the newest index (and health its freshness).
INDEX_ROUTES: Table = {IndexUpdate: (PRICERS, FRESHNESS, RECORDER)}

# What actors raise as alerts (the decision actor's kill switch): recorded, then delivered.
ALERT_ROUTES: Table = {Alert: (RECORDER, ALERTS)}


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

    async def send(self, msg: Any) -> None:
        plan = self._plans.get(type(msg))
        if plan is None:
            self.dropped += 1
            return
        nowait, boxes = plan
        for put in nowait:
            put(msg)
        for box in boxes:
            await deliver(box, msg)

    def send_nowait(self, msg: Any) -> None:  # pragma: no cover - routers are always awaited
        raise trio.WouldBlock


class AsyncSink:
    """A destination around an ``async`` callable (e.g. the alert sink's ``send``)."""

    __slots__ = ("fn",)

    def __init__(self, fn: Callable[[Any], Awaitable[None]]) -> None:
        self.fn = fn

    async def send(self, msg: Any) -> None:
        await self.fn(msg)

    def send_nowait(self, msg: Any) -> None:
        raise trio.WouldBlock
