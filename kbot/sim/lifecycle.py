"""Market lifecycle at the simulated exchange (pure; acts on an ``Exchange`` each second).

- **Listing**: events are created on the calendar of ``kbot.sim.market.ListingPlan``, with
  strikes from the index at creation (KXBTCD ladders, KXBTC brackets) or none yet (KXBTC15M).
- **Transitions** (Kalshi's status model): ``initialized -> active`` at ``open_time`` and
  ``-> closed`` at ``close_time`` are implicit (no WS event; resting orders are cancelled with
  ``CloseCancel``); the 15M ``floor_strike`` arrives by ``metadata_updated``; ``determined``
  comes ``determination_delay_s`` after the close with the result of the 60 s rule;
  ``settled`` (REST ``finalized``) ``settlement_timer_seconds`` later, paying out positions.
- **Faults**: ``early_close`` (``close_date_updated``, then the close at the new time) and
  ``late_strike`` (a provisional strike first, the final one ``delay`` seconds late).
- Finalized markets stay listed ``retain_finalized_s``, then are forgotten (bounded memory).
"""

from __future__ import annotations

import math
import random
from collections import deque
from decimal import Decimal
from typing import TYPE_CHECKING

import attrs

from kbot.sim import calendar as cal
from kbot.sim.engine import MatchingEngine
from kbot.sim.events import EventCreated, LifecycleEvent, PositionEvent
from kbot.sim.market import (
    ACTIVE,
    CLOSED,
    DETERMINED,
    FINALIZED,
    INITIALIZED,
    Listing,
    ListingPlan,
    SimEvent,
    SimMarket,
)
from kbot.sim.wire import price_str

if TYPE_CHECKING:
    from kbot.sim.exchange import Exchange

PRICE_LEVEL_STRUCTURE = "linear_cent"
PRICE_RANGES = [{"start": "0.0000", "end": "1.0000", "step": "0.0100"}]
MAX_USER_RECORDS = 100_000


class Lifecycle:
    def __init__(self, ex: Exchange) -> None:
        self.ex = ex
        cfg = ex.config
        self.plan = ListingPlan(cfg.series, cfg.m15_ahead, cfg.hourly_ahead, cfg.hourly_initialized_s)
        self._listed_until = float(ex.t0) - self.plan.warmup_s()
        self._rng = random.Random(f"lifecycle-{cfg.seed}")

    def list_new(self, s: int, out: list) -> None:
        if s <= self._listed_until:
            return
        for listing in self.plan.listings(self._listed_until, float(s)):
            if listing.close_ts <= s:
                continue  # would already be over (first step after start)
            self.create_event(listing, s, out)
        self._listed_until = float(s)

    def create_event(self, listing: Listing, s: int, out: list) -> None:
        cfg = self.ex.config
        spec = cal.SERIES_SPECS[listing.series]
        created = max(listing.created_ts, float(self.ex.path.start + 60))
        spot = self.ex.path.price(int(created))
        if listing.series == cal.SERIES_15M:
            strikes = [cal.StrikeSpec("greater_or_equal", None)]
        elif listing.series == cal.SERIES_HOURLY_ABOVE:
            strikes = cal.ladder_strikes(spot, cfg.ladder_strikes, cfg.ladder_spacing)
        else:
            strikes = cal.bracket_strikes(spot, cfg.brackets, cfg.bracket_width)
        ev_ticker = cal.event_ticker(listing.series, listing.close_ts)
        first_texts = cal.texts(listing.series, listing.close_ts, strikes[0])
        event = SimEvent(
            event_ticker=ev_ticker,
            series_ticker=listing.series,
            close_ts=listing.close_ts,
            title=first_texts.event_title,
            sub_title=first_texts.event_sub_title,
            created_ts=created,
            exchange_index=cfg.exchange_index,
        )
        self.ex.events[ev_ticker] = event
        out.append(
            EventCreated(
                event_ticker=ev_ticker,
                fields={
                    "event_ticker": ev_ticker,
                    "exchange_index": cfg.exchange_index,
                    "title": event.title,
                    "subtitle": event.sub_title,
                    "collateral_return_type": event.collateral_return_type,
                    "series_ticker": listing.series,
                    "strike_date": int(listing.close_ts),
                },
                ts=float(s),
            )
        )
        for strike in strikes:
            ticker = cal.market_ticker(listing.series, listing.close_ts, strike)
            m = SimMarket(
                ticker=ticker,
                event_ticker=ev_ticker,
                series_ticker=listing.series,
                market_id=cal.market_uuid(ticker),
                strike=strike,
                created_ts=created,
                open_ts=listing.open_ts,
                close_ts=listing.close_ts,
                settlement_timer_s=spec.settlement_timer_s,
                exchange_index=cfg.exchange_index,
                texts=cal.texts(listing.series, listing.close_ts, strike),
                updated_ts=created,
            )
            if listing.series == cal.SERIES_15M:
                m.floor_published = False
                m.strike_due_ts = listing.open_ts + cfg.strike_delay_s
                late = self.ex.faults.roll("late_strike", "kalshi")
                if late is not None:
                    m.provisional_due_ts = m.strike_due_ts
                    m.strike_due_ts += late.delay_s
            if self.ex.faults.roll("early_close", "kalshi") is not None:
                lo, hi = listing.open_ts + 60.0, listing.close_ts - 60.0
                if hi > lo:
                    m.early_close_ts = float(math.floor(self._rng.uniform(lo, hi)))
            self.ex.markets[ticker] = m
            self.ex.engines[ticker] = MatchingEngine(ticker, self.ex.ids)
            event.markets.append(ticker)
            out.append(LifecycleEvent(ticker=ticker, event_type="created", fields=self.created_fields(m), ts=float(s)))

    def created_fields(self, m: SimMarket) -> dict:
        meta: dict = {
            "name": m.texts.title,
            "title": m.texts.title,
            "yes_sub_title": m.texts.yes_sub_title,
            "no_sub_title": m.texts.no_sub_title,
            "rules_primary": m.texts.rules_primary,
            "rules_secondary": cal.RULES_SECONDARY,
            "can_close_early": True,
            "event_ticker": m.event_ticker,
            "expected_expiration_ts": int(m.expected_expiration_ts),
            "strike_type": m.strike.strike_type,
        }
        if m.floor_published and m.strike.floor is not None:
            meta["floor_strike"] = m.strike.floor
        if m.strike.cap is not None:
            meta["cap_strike"] = m.strike.cap
        return {
            "exchange_index": m.exchange_index,
            "open_ts": int(m.open_ts),
            "close_ts": int(m.close_ts),
            "additional_metadata": meta,
            "price_level_structure": PRICE_LEVEL_STRUCTURE,
            "price_ranges": PRICE_RANGES,
        }

    def transitions(self, s: int, out: list) -> None:
        cfg = self.ex.config
        gone = []
        for m in self.ex.markets.values():
            st = m.status
            if st == FINALIZED:
                if s >= (m.settled_ts or s) + cfg.retain_finalized_s:
                    gone.append(m)
                continue
            if st == INITIALIZED and s >= m.open_ts:
                m.status = ACTIVE  # implicit: no WS event
                m.updated_ts = float(s)
            if not m.floor_published and m.strike_due_ts is not None:
                if m.provisional_due_ts is not None and s >= m.provisional_due_ts:
                    self.publish_strike(m, s, out, provisional=True)
                    m.provisional_due_ts = None
                if s >= m.strike_due_ts:
                    self.publish_strike(m, s, out, provisional=False)
            if m.early_close_ts is not None and s >= m.early_close_ts and m.status in (INITIALIZED, ACTIVE):
                m.close_ts = float(s)
                m.early_close_ts = None
                m.updated_ts = float(s)
                out.append(LifecycleEvent(ticker=m.ticker, event_type="close_date_updated", fields={"close_ts": s}, ts=float(s)))
            if m.status in (INITIALIZED, ACTIVE) and s >= m.close_ts:
                self.close(m, s, out)
            if m.status == CLOSED and s >= m.close_ts + cfg.determination_delay_s:
                self.determine(m, s, out)
            if m.status == DETERMINED and m.determination_ts is not None and s >= m.determination_ts + m.settlement_timer_s:
                self.finalize(m, s, out)
        for m in gone:
            self.forget(m)

    def publish_strike(self, m: SimMarket, s: int, out: list, *, provisional: bool) -> None:
        start = int(m.close_ts) - 900
        if provisional:
            value = float(self.ex.path.price(min(s, start)))  # a first, unofficial value
        else:
            value = float(self.ex.path.settlement_average(start))
            m.floor_published = True
            m.strike_due_ts = None
        m.strike = cal.StrikeSpec(m.strike.strike_type, round(value, 2), m.strike.cap)
        m.texts = attrs.evolve(m.texts, yes_sub_title=cal.fifteen_min_sub_title(value), no_sub_title=cal.fifteen_min_sub_title(value), subtitle=cal.fifteen_min_sub_title(value))
        m.updated_ts = float(s)
        out.append(
            LifecycleEvent(
                ticker=m.ticker,
                event_type="metadata_updated",
                fields={"strike_type": m.strike.strike_type, "floor_strike": m.strike.floor, "yes_sub_title": m.texts.yes_sub_title},
                ts=float(s),
            )
        )

    def close(self, m: SimMarket, s: int, out: list) -> None:
        m.status = CLOSED  # implicit: no WS event
        m.updated_ts = float(s)
        for o in self.ex.engines[m.ticker].cancel_all(float(s), "CloseCancel", out):
            self.ex.free_reserved(o)
        self.ex.touch(m.ticker)

    def determine(self, m: SimMarket, s: int, out: list) -> None:
        avg = self.ex.path.settlement_average(int(m.close_ts))
        m.result = settle_result(m.strike.strike_type, m.strike.floor, m.strike.cap, avg)
        m.expiration_value = str(avg)
        m.settlement_value_p4 = 10_000 if m.result == "yes" else 0
        m.determination_ts = float(s)
        m.status = DETERMINED
        m.updated_ts = float(s)
        out.append(
            LifecycleEvent(
                ticker=m.ticker,
                event_type="determined",
                fields={"result": m.result, "settlement_value": price_str(m.settlement_value_p4), "determination_ts": s},
                ts=float(s),
            )
        )

    def finalize(self, m: SimMarket, s: int, out: list) -> None:
        for acct in self.ex.accounts.values():
            rec = acct.settle(m.ticker, m.result, float(s))
            if rec is None:
                continue
            if acct.agent:
                del acct.positions[m.ticker]  # participants trade every market: keep memory flat
            else:
                self.ex.settlements.setdefault(acct.user_id, deque(maxlen=MAX_USER_RECORDS)).append(rec)
                out.append(PositionEvent(user_id=acct.user_id, ticker=m.ticker, ts=float(s)))
        m.open_interest = 0
        m.status = FINALIZED
        m.settled_ts = float(s)
        m.updated_ts = float(s)
        out.append(LifecycleEvent(ticker=m.ticker, event_type="settled", fields={"settled_ts": s}, ts=float(s)))

    def forget(self, m: SimMarket) -> None:
        del self.ex.markets[m.ticker]
        self.ex.engines.pop(m.ticker, None)
        for mm in self.ex.makers:
            mm.forget(m.ticker)
        self.ex._mispricing.pop(m.ticker, None)
        ev = self.ex.events.get(m.event_ticker)
        if ev is not None:
            ev.markets = [t for t in ev.markets if t != m.ticker]
            if not ev.markets:
                del self.ex.events[m.event_ticker]


def settle_result(strike_type: str, floor: float | None, cap: float | None, avg: Decimal) -> str:
    """Kalshi's comparisons: ``greater`` strictly above floor, ``greater_or_equal`` at least
    floor, ``between`` floor <= avg <= cap (strikes and average compared as exact decimals)."""
    f = None if floor is None else Decimal(str(floor))
    c = None if cap is None else Decimal(str(cap))
    if strike_type == "greater":
        assert f is not None
        return "yes" if avg > f else "no"
    if strike_type == "greater_or_equal":
        assert f is not None
        return "yes" if avg >= f else "no"
    if strike_type == "between":
        assert f is not None and c is not None
        return "yes" if f <= avg <= c else "no"
    if strike_type == "less":
        assert c is not None
        return "yes" if avg < c else "no"
    raise ValueError(f"unsupported strike_type {strike_type!r}")
