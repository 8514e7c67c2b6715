"""Markets and events of the simulated venue, and their lifecycle schedule (pure).

Status model (Kalshi object statuses):

    initialized --open_time--> active --close_time--> closed --+determination--> determined
        --+settlement_timer_seconds--> finalized

``initialized -> active`` and ``-> closed`` are implicit (no WS event), as on Kalshi; the WS
events are ``created``, ``metadata_updated`` (15M strike), ``close_date_updated`` (early
close), ``determined`` and ``settled`` (REST ``finalized``).

Listing schedule (``ListingPlan``):

- KXBTC15M closing at ``C``: created at ``C - 900 * (1 + m15_ahead)`` with ``floor_strike``
  null, opens at ``C - 900``, gets its strike ``strike_delay_s`` after that (the 60 s average
  before ``C - 900`` is only known then).
- KXBTCD / KXBTC closing at hour ``H``: created ``hourly_initialized_s`` before opening at
  ``H - 3600 * hourly_ahead``, strikes centred on the index at creation.
"""

from __future__ import annotations

from collections.abc import Iterator

import attrs

from kbot.sim import calendar as cal
from kbot.sim.calendar import SERIES_15M, StrikeSpec

INITIALIZED = "initialized"
ACTIVE = "active"
CLOSED = "closed"
DETERMINED = "determined"
FINALIZED = "finalized"

# GET /markets ?status filter -> object statuses (reference §3.2)
STATUS_FILTERS: dict[str, tuple[str, ...]] = {
    "unopened": (INITIALIZED,),
    "open": (ACTIVE,),
    "paused": ("inactive",),
    "closed": (CLOSED, DETERMINED, "disputed", "amended"),
    "settled": (FINALIZED,),
}


@attrs.define(slots=True, eq=False)
class SimMarket:
    ticker: str
    event_ticker: str
    series_ticker: str
    market_id: str
    strike: StrikeSpec
    created_ts: float
    open_ts: float
    close_ts: float
    settlement_timer_s: int
    exchange_index: int
    texts: cal.MarketTexts
    status: str = INITIALIZED
    floor_published: bool = True  # False for 15M until its strike is set
    strike_due_ts: float | None = None  # when the (final) 15M strike is published
    provisional_due_ts: float | None = None  # late_strike fault: a provisional value first
    early_close_ts: float | None = None  # early_close fault: when the close moves up
    result: str = ""
    expiration_value: str = ""
    settlement_value_p4: int | None = None
    determination_ts: float | None = None
    settled_ts: float | None = None
    updated_ts: float = 0.0
    last_price: int | None = None  # p4
    volume: int = 0  # c2
    open_interest: int = 0  # c2
    # for the ticker channel: last values sent
    last_ticker: tuple | None = None

    @property
    def floor_strike(self) -> float | None:
        return self.strike.floor

    def tradable(self, now: float) -> bool:
        """Open for orders at ``now`` (by time, so a lagging status update cannot matter)."""
        return self.status in (INITIALIZED, ACTIVE) and self.open_ts <= now < self.close_ts

    @property
    def expected_expiration_ts(self) -> float:
        return self.close_ts + 60.0 if self.series_ticker != SERIES_15M else self.close_ts + 1.0

    @property
    def latest_expiration_ts(self) -> float:
        return self.close_ts + 7 * 86400.0


@attrs.define(slots=True, eq=False)
class SimEvent:
    event_ticker: str
    series_ticker: str
    close_ts: float
    title: str
    sub_title: str
    created_ts: float
    exchange_index: int
    markets: list[str] = attrs.field(factory=list)

    @property
    def mutually_exclusive(self) -> bool:
        return self.series_ticker == cal.SERIES_HOURLY_RANGE

    @property
    def collateral_return_type(self) -> str:
        if self.series_ticker == cal.SERIES_HOURLY_RANGE:
            return "MECNET"
        if self.series_ticker == cal.SERIES_HOURLY_ABOVE:
            return "DIRECNET"
        return ""


@attrs.frozen(slots=True)
class Listing:
    """One event to create: its series, close time and when it is created / opens."""

    series: str
    close_ts: float
    created_ts: float
    open_ts: float


@attrs.frozen(slots=True)
class ListingPlan:
    series: tuple[str, ...]
    m15_ahead: int
    hourly_ahead: int
    hourly_initialized_s: float

    def listings(self, after: float, until: float) -> Iterator[Listing]:
        """Events whose creation time falls in ``(after, until]``, in creation order."""
        out: list[Listing] = []
        if SERIES_15M in self.series:
            lead = 900.0 * (1 + self.m15_ahead)
            for close in cal.quarter_closes(after + lead, until + lead):
                out.append(Listing(SERIES_15M, close, close - lead, close - 900.0))
        lead_h = 3600.0 * self.hourly_ahead + self.hourly_initialized_s
        for series in (cal.SERIES_HOURLY_ABOVE, cal.SERIES_HOURLY_RANGE):
            if series not in self.series:
                continue
            for close in cal.hour_closes(after + lead_h, until + lead_h):
                out.append(Listing(series, close, close - lead_h, close - 3600.0 * self.hourly_ahead))
        out.sort(key=lambda listing: (listing.created_ts, listing.series, listing.close_ts))
        return iter(out)

    def warmup_s(self) -> float:
        """How far before the start the index must exist (strikes of markets already listed)."""
        return 3600.0 * self.hourly_ahead + self.hourly_initialized_s + 1800.0 * (1 + self.m15_ahead) + 120.0

    def already_listed(self, start: float) -> Iterator[Listing]:
        """Events that would have been created before ``start`` and are not closed yet."""
        return (x for x in self.listings(start - self.warmup_s(), start) if x.close_ts > start)
