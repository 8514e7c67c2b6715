"""The market registry (pure): which markets are open and which deserve a pricer.

Input: ``MarketInfo`` (REST discovery and refreshes), ``MarketLifecycle`` (WS events) and
``MarketSettled``, plus the passage of time (``tick``). Output: actions for the actor to carry
out: start/stop a pricer, send a market update to a running pricer, subscribe/unsubscribe the
WebSocket feed.

A market is *priceable* when it belongs to a configured series, its status is ``active`` (or
``initialized`` with ``open_ts`` reached: Kalshi opens markets implicitly, without an event),
its ``close_ts`` is in the future, and its bounds are usable for its ``strike_type``
(``floor_strike`` for greater*, ``cap_strike`` for less*, both for between). A priceable market
has exactly one pricer; a market stops being priceable at ``close_ts`` (trading ends) or on
determination/settlement, and its pricer is stopped then. Markets stay known (for settlement)
until they are settled, then are forgotten after ``forget_after_s``.

Markets skipped for unusable bounds or close time are reported once each with the reason.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import attrs

from kbot.messages import MarketInfo, MarketLifecycle, MarketSettled

TERMINAL = ("determined", "finalized", "settled", "disputed", "amended")
_NEED_FLOOR = ("greater", "greater_or_equal")
_NEED_CAP = ("less", "less_or_equal")


def bounds_problem(m: MarketInfo) -> str | None:
    """Why a market cannot be priced from its bounds/close time, or None when it can."""
    st = m.strike_type
    if st in _NEED_FLOOR:
        if m.floor_strike is None:
            return "missing_floor_strike"
    elif st in _NEED_CAP:
        if m.cap_strike is None:
            return "missing_cap_strike"
    elif st == "between":
        if m.floor_strike is None or m.cap_strike is None:
            return "missing_bounds"
        if m.floor_strike > m.cap_strike:
            return "inverted_bounds"
    else:
        return f"unsupported_strike_type:{st}"
    if m.close_ts is None and m.expected_expiration_ts is None:
        return "missing_close_time"
    return None


@attrs.frozen(slots=True)
class StartPricer:
    market: MarketInfo


@attrs.frozen(slots=True)
class StopPricer:
    ticker: str
    reason: str


@attrs.frozen(slots=True)
class UpdatePricer:
    market: MarketInfo


@attrs.frozen(slots=True)
class Subscribe:
    tickers: tuple[str, ...]


@attrs.frozen(slots=True)
class Unsubscribe:
    tickers: tuple[str, ...]


@attrs.frozen(slots=True)
class Skipped:
    ticker: str
    reason: str


Action = StartPricer | StopPricer | UpdatePricer | Subscribe | Unsubscribe | Skipped


class MarketRegistry:
    def __init__(self, series: Iterable[str], *, forget_after_s: float = 3600.0) -> None:
        self.series = frozenset(series)
        self.forget_after_s = forget_after_s
        self.markets: dict[str, MarketInfo] = {}
        self.priced: set[str] = set()  # tickers with a running pricer
        self.subscribed: set[str] = set()
        self.settled_at: dict[str, float] = {}
        self._skip_reported: dict[str, str] = {}

    def close_ts(self, m: MarketInfo) -> float | None:
        return m.close_ts if m.close_ts is not None else m.expected_expiration_ts

    def priceable(self, m: MarketInfo, now: float) -> str | None:
        """None if ``m`` should have a pricer now, else the reason it should not."""
        if m.series_ticker not in self.series:
            return "series_not_configured"
        if m.ticker in self.settled_at or m.status in TERMINAL or m.result:
            return "settled"
        if m.status == "initialized":
            if m.open_ts is None or now < m.open_ts:
                return "not_open"
        elif m.status not in ("active", "open"):
            return f"status:{m.status}"
        problem = bounds_problem(m)
        if problem:
            return problem
        close = self.close_ts(m)
        if close is not None and now >= close:
            return "closed"
        return None

    def _reconcile(self, ticker: str, now: float, out: list[Action]) -> None:
        m = self.markets.get(ticker)
        reason: str | None
        if m is None:
            reason = "unknown"
        else:
            reason = self.priceable(m, now)
            if reason is None:
                self._skip_reported.pop(ticker, None)
                if ticker not in self.priced:
                    self.priced.add(ticker)
                    out.append(StartPricer(m))
                if ticker not in self.subscribed:
                    self.subscribed.add(ticker)
                    out.append(Subscribe((ticker,)))
                return
        if ticker in self.priced:
            self.priced.discard(ticker)
            out.append(StopPricer(ticker, reason))
        if ticker in self.subscribed and reason in ("settled", "closed", "series_not_configured"):
            self.subscribed.discard(ticker)
            out.append(Unsubscribe((ticker,)))
        if m is not None and reason not in ("closed", "settled", "not_open", "series_not_configured") \
                and self._skip_reported.get(ticker) != reason:
            self._skip_reported[ticker] = reason
            out.append(Skipped(ticker, reason))

    def apply(self, msg: object, now: float) -> list[Action]:
        out: list[Action] = []
        if isinstance(msg, MarketInfo):
            old = self.markets.get(msg.ticker)
            self.markets[msg.ticker] = msg
            if msg.ticker in self.priced and old is not None and old != msg:
                out.append(UpdatePricer(msg))
            self._reconcile(msg.ticker, now, out)
        elif isinstance(msg, MarketLifecycle):
            m = self.markets.get(msg.ticker)
            if m is None:
                return out  # learn about it from REST discovery (it carries the full record)
            changes: dict[str, Any] = {}  # field -> new value, mixed types, for attrs.evolve
            et = msg.event_type
            if et in ("created", "close_date_updated") and msg.close_ts is not None:
                changes["close_ts"] = msg.close_ts
            if et == "created" and msg.open_ts is not None:
                changes["open_ts"] = msg.open_ts
            if et == "activated":
                changes["status"] = "active"
            elif et == "deactivated":
                changes["status"] = "inactive"
            elif et == "determined":
                changes["status"] = "determined"
                if msg.result:
                    changes["result"] = msg.result
                if msg.settlement_value is not None:
                    changes["settlement_value"] = msg.settlement_value
            elif et == "settled":
                changes["status"] = "finalized"
            if et == "metadata_updated":
                for f in ("strike_type", "floor_strike", "cap_strike"):
                    v = getattr(msg, f)
                    if v is not None:
                        changes[f] = v
            if et == "price_level_structure_updated" and msg.price_level_structure:
                changes["price_level_structure"] = msg.price_level_structure
            if changes:
                new = attrs.evolve(m, updated_ts=msg.ts, **changes)
                if new != m:
                    self.markets[m.ticker] = new
                    if m.ticker in self.priced:
                        out.append(UpdatePricer(new))
            self._reconcile(m.ticker, now, out)
        elif isinstance(msg, MarketSettled):
            self.settled_at.setdefault(msg.ticker, now)
            m = self.markets.get(msg.ticker)
            if m is not None:
                self.markets[msg.ticker] = attrs.evolve(
                    m, result=msg.result, settlement_value=msg.settlement_value,
                    status="finalized" if msg.final else "determined", updated_ts=msg.ts,
                )
            self._reconcile(msg.ticker, now, out)
        return out

    def tick(self, now: float) -> list[Action]:
        """Time passes: stop pricers of markets that closed, start those that opened, forget
        markets settled long ago."""
        out: list[Action] = []
        for t in list(self.markets):
            self._reconcile(t, now, out)
        for t, at in list(self.settled_at.items()):
            if now - at > self.forget_after_s:
                del self.settled_at[t]
                self.markets.pop(t, None)
                self._skip_reported.pop(t, None)
        return out

    def awaiting_settlement(self, now: float) -> list[MarketInfo]:
        """Markets past close whose outcome is not known yet (for the REST settlement sweep)."""
        out = []
        for m in self.markets.values():
            close = self.close_ts(m)
            if m.ticker not in self.settled_at and close is not None and now >= close:
                out.append(m)
        return out
