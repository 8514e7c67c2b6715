"""Pure parsers for Kalshi REST responses (Trade API v2, 2026 fixed-point wire format).

One function per wire object. Each takes the decoded JSON (and the receive time where the object
has no time of its own), returns domain messages (``kbot.messages``) or venue records
(``kbot.venues.kalshi.types``), and raises ``WireError`` on anything unusable.

Wire facts relied on (see ../shared/reference/kalshi-api.md §3):
- money is ``*_dollars`` strings (up to 6 dp), counts ``*_fp`` strings (2 dp); parsed to Decimal;
- the only integers left are balance ``balance``/``portfolio_value`` and settlement
  ``revenue``/``value`` (cents), and a few timestamps;
- an orderbook is bids only, each side ascending (best = last), envelope ``orderbook_fp``;
- market bounds come from ``strike_type``/``floor_strike``/``cap_strike`` only;
- a market's ``yes_bid_dollars`` of 0 means "no bid" and a ``yes_ask_dollars`` of 1 "no ask".

Legacy shapes read for old recordings (before Mar 12 2026): integer-cent quote fields on markets
(``yes_bid``, ``yes_ask``, ``no_bid``, ``no_ask``, ``last_price``, ``volume``, ``open_interest``,
``settlement_value``) when the dollar field is absent, and the orderbook envelopes
``{"orderbook": {"yes": [[cents, n]], "no": ..., "yes_dollars": ...}}`` and bare ``{"yes":..,"no":..}``.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

from kbot.messages import (
    EventInfo,
    Fill,
    MarketInfo,
    OrderEvent,
    Quote,
    SeriesInfo,
    VenueBalance,
    VenuePosition,
    VenueSettlement,
)
from kbot.venues.kalshi.book import OrderBook
from kbot.venues.kalshi.types import CancelAck, DecreaseAck, ExchangeStatus, OrderAck, ParsedMarket
from kbot.venues.wire import (
    ONE,
    ZERO,
    WireError,
    any_ts,
    cents,
    check_count,
    check_price,
    check_strikes,
    check_uncrossed,
    iso_ts,
    loose_str,
    obj,
    opt_bool,
    opt_count,
    opt_dec,
    opt_int,
    opt_iso_ts,
    opt_list,
    opt_ms_ts,
    opt_price,
    opt_result,
    opt_str,
    opt_strike,
    req,
    req_count,
    req_str,
    s_ts,
    short,
    to_decimal,
    to_float,
)

# ----------------------------------------------------------------------------- helpers


def legacy_price(d: dict[str, Any], dollars_key: str, cents_key: str) -> Decimal | None:
    p = opt_price(d, dollars_key)
    if p is None and d.get(cents_key) is not None:
        p = check_price(cents(d[cents_key], cents_key), cents_key)
    return p


def legacy_count(d: dict[str, Any], fp_key: str, int_key: str) -> Decimal | None:
    c = opt_count(d, fp_key)
    if c is None and d.get(int_key) is not None:
        c = check_count(to_decimal(d[int_key], int_key), int_key)
    return c


def norm_bid(p: Decimal | None) -> Decimal | None:
    """Kalshi reports "no bid" as 0."""
    return None if p is None or p <= ZERO else p


def norm_ask(p: Decimal | None) -> Decimal | None:
    """Kalshi reports "no ask" as 1 (a YES ask at $1 buys nothing)."""
    return None if p is None or p >= ONE else p


def tick_size(ranges: Any) -> Decimal | None:
    """The step of ``price_ranges`` when every range has the same step, else None."""
    if not isinstance(ranges, list) or not ranges:
        return None
    steps = set()
    for r in ranges:
        if not isinstance(r, dict) or r.get("step") is None:
            raise WireError("wrong_type", "price_ranges item without step")
        steps.add(to_decimal(r["step"], "price_ranges.step"))
    if len(steps) != 1:
        return None
    step = steps.pop()
    if step <= ZERO or step > ONE:
        raise WireError("out_of_range", f"price_ranges step {step}")
    return step


def parse_levels(raw: Any, key: str, *, legacy_cents: bool = False) -> list[tuple[Decimal, Decimal]]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise WireError("wrong_type", f"{key} is {type(raw).__name__}, expected a list of levels")
    out = []
    for lvl in raw:
        if not isinstance(lvl, (list, tuple)) or len(lvl) != 2:
            raise WireError("wrong_type", f"{key} level {short(lvl)} is not [price, count]")
        price = cents(lvl[0], key) if legacy_cents else to_decimal(lvl[0], key)
        out.append((check_price(price, key), check_count(to_decimal(lvl[1], key), key)))
    return out


# ----------------------------------------------------------------------------- markets & reference data


def parse_market(m: Any, *, now: float, series_ticker: str | None = None) -> ParsedMarket:
    """A ``Market`` object (from ``/markets``, ``/markets/{t}`` or nested in an event)."""
    m = obj(m, "market")
    ticker = req_str(m, "ticker")
    event_ticker = req_str(m, "event_ticker")
    series = series_ticker or opt_str(m, "series_ticker")
    if series is None:
        raise WireError("missing_field", "series_ticker (not on Market objects: pass the listing's series)")
    timer = m.get("settlement_timer_seconds")
    if timer is not None:
        if isinstance(timer, bool) or not isinstance(timer, (int, float)):
            raise WireError("wrong_type", "settlement_timer_seconds is not a number")
        timer = to_float(timer, "settlement_timer_seconds")
        if timer < 0:
            raise WireError("out_of_range", f"settlement_timer_seconds={timer} is negative")
    settlement_value = legacy_price(m, "settlement_value_dollars", "settlement_value")
    exp = m.get("expiration_value")
    if exp is not None and (isinstance(exp, bool) or not isinstance(exp, (str, int, float))):
        raise WireError("wrong_type", f"expiration_value is {type(exp).__name__}")
    if isinstance(exp, float) and not math.isfinite(exp):
        raise WireError("bad_value", "expiration_value is not finite")
    if isinstance(exp, str):
        exp = opt_str(m, "expiration_value")
    updated = opt_iso_ts(m, "updated_time")
    floor, cap = opt_strike(m, "floor_strike"), opt_strike(m, "cap_strike")
    check_strikes(floor, cap)
    info = MarketInfo(
        ticker=ticker,
        event_ticker=event_ticker,
        series_ticker=series,
        status=req_str(m, "status"),
        strike_type=opt_str(m, "strike_type"),
        floor_strike=floor,
        cap_strike=cap,
        open_ts=opt_iso_ts(m, "open_time"),
        close_ts=opt_iso_ts(m, "close_time"),
        expected_expiration_ts=opt_iso_ts(m, "expected_expiration_time"),
        latest_expiration_ts=opt_iso_ts(m, "latest_expiration_time"),
        settlement_timer_s=timer,
        result=opt_result(m, "result"),
        settlement_value=settlement_value,
        expiration_value=None if exp in (None, "") else str(exp),
        price_level_structure=opt_str(m, "price_level_structure"),
        tick_size=tick_size(m.get("price_ranges")),
        title=opt_str(m, "title"),
        yes_sub_title=opt_str(m, "yes_sub_title"),
        exchange_index=opt_int(m, "exchange_index"),
        updated_ts=updated if updated is not None else now,
    )
    yes_bid = norm_bid(legacy_price(m, "yes_bid_dollars", "yes_bid"))
    yes_ask = norm_ask(legacy_price(m, "yes_ask_dollars", "yes_ask"))
    no_bid = norm_bid(legacy_price(m, "no_bid_dollars", "no_bid"))
    no_ask = norm_ask(legacy_price(m, "no_ask_dollars", "no_ask"))
    check_uncrossed(yes_bid, yes_ask, "YES")
    check_uncrossed(no_bid, no_ask, "NO")
    quote = Quote(
        ts=now,
        ticker=ticker,
        yes_bid=yes_bid,
        yes_ask=yes_ask,
        no_bid=no_bid,
        no_ask=no_ask,
        yes_bid_size=opt_count(m, "yes_bid_size_fp"),
        yes_ask_size=opt_count(m, "yes_ask_size_fp"),
        last_price=legacy_price(m, "last_price_dollars", "last_price"),
        volume=legacy_count(m, "volume_fp", "volume"),
        open_interest=legacy_count(m, "open_interest_fp", "open_interest"),
        source="rest",
        recv_ts=now,
    )
    return ParsedMarket(info=info, quote=quote)


def _fee_multiplier(d: dict[str, Any], key: str) -> Decimal | None:
    v = d.get(key)
    if v is None:
        return None
    m = to_decimal(v, key)
    if m < ZERO:
        raise WireError("out_of_range", f"{key}={m} is negative")
    return m


def parse_series(s: Any, *, now: float) -> SeriesInfo:
    """A ``Series`` object (``GET /series/{ticker}`` -> ``{"series": ...}``)."""
    s = obj(s, "series")
    updated = opt_iso_ts(s, "last_updated_ts")
    return SeriesInfo(
        ticker=req_str(s, "ticker"),
        title=opt_str(s, "title"),
        frequency=opt_str(s, "frequency"),
        fee_type=opt_str(s, "fee_type"),
        fee_multiplier=_fee_multiplier(s, "fee_multiplier"),
        updated_ts=updated if updated is not None else now,
    )


def parse_event(e: Any, *, now: float) -> tuple[EventInfo, list[Any]]:
    """An ``EventData`` object: its info and its nested raw markets (``with_nested_markets``)."""
    e = obj(e, "event")
    updated = opt_iso_ts(e, "last_updated_ts")
    strike = e.get("strike_date")
    info = EventInfo(
        event_ticker=req_str(e, "event_ticker"),
        series_ticker=req_str(e, "series_ticker"),
        title=opt_str(e, "title"),
        strike_ts=None if strike in (None, "") else any_ts(strike, "strike_date"),
        fee_type_override=opt_str(e, "fee_type_override"),
        fee_multiplier_override=_fee_multiplier(e, "fee_multiplier_override"),
        updated_ts=updated if updated is not None else now,
    )
    markets = e.get("markets") or []
    if not isinstance(markets, list):
        raise WireError("wrong_type", "event.markets is not a list")
    return info, markets


def effective_fees(series: SeriesInfo | None, event: EventInfo | None) -> tuple[str | None, Decimal | None]:
    """Series fee type/multiplier, overridden by the event's when set."""
    fee_type = series.fee_type if series else None
    mult = series.fee_multiplier if series else None
    if event is not None:
        if event.fee_type_override is not None:
            fee_type = event.fee_type_override
        if event.fee_multiplier_override is not None:
            mult = event.fee_multiplier_override
    return fee_type, mult


def parse_orderbook(body: Any, ticker: str) -> OrderBook:
    """``GET /markets/{t}/orderbook``: ``{"orderbook_fp": {"yes_dollars": [[p, n]..], "no_dollars": ..}}``
    (ascending, best last; NO levels at NO-leg prices). Legacy envelopes are accepted too."""
    body = obj(body, "orderbook response")
    if "orderbook_fp" in body:
        ob = obj(body["orderbook_fp"], "orderbook_fp")
        yes = parse_levels(ob.get("yes_dollars"), "yes_dollars")
        no = parse_levels(ob.get("no_dollars"), "no_dollars")
    else:
        ob = body.get("orderbook", body)
        ob = obj(ob, "orderbook")
        if "yes_dollars" in ob or "no_dollars" in ob:
            yes = parse_levels(ob.get("yes_dollars"), "yes_dollars")
            no = parse_levels(ob.get("no_dollars"), "no_dollars")
        elif "yes" in ob or "no" in ob:
            yes = parse_levels(ob.get("yes"), "yes", legacy_cents=True)
            no = parse_levels(ob.get("no"), "no", legacy_cents=True)
        else:
            raise WireError("missing_field", "orderbook_fp")
    return OrderBook.from_levels(ticker, yes, no)


def parse_exchange_status(body: Any) -> ExchangeStatus:
    body = obj(body, "exchange status")
    ex, tr = opt_bool(body, "exchange_active"), opt_bool(body, "trading_active")
    if ex is None or tr is None:
        raise WireError("missing_field", "exchange_active/trading_active")
    statuses = []
    for s in opt_list(body, "exchange_index_statuses"):
        s = obj(s, "exchange_index_status")
        statuses.append((opt_int(s, "exchange_index") or 0, bool(s.get("exchange_active")), bool(s.get("trading_active"))))
    return ExchangeStatus(
        exchange_active=ex,
        trading_active=tr,
        estimated_resume_ts=opt_iso_ts(body, "exchange_estimated_resume_time"),
        index_statuses=tuple(statuses),
    )


# ----------------------------------------------------------------------------- portfolio


def parse_balance(body: Any, *, now: float) -> VenueBalance:
    """``GET /portfolio/balance``: ``balance_dollars`` (exact, $0.0001) preferred over the
    ``balance`` cents integer (which truncates); ``portfolio_value`` is cents."""
    body = obj(body, "balance")
    bal = opt_dec(body, "balance_dollars")
    if bal is None:
        bal = cents(req(body, "balance"), "balance")
    pv = body.get("portfolio_value")
    breakdown = []
    for b in opt_list(body, "balance_breakdown"):
        b = obj(b, "balance_breakdown item")
        idx = opt_int(b, "exchange_index")
        breakdown.append((0 if idx is None else idx, to_decimal(req(b, "balance"), "balance_breakdown.balance")))
    ts = body.get("updated_ts")
    return VenueBalance(
        ts=now if ts is None or ts == 0 else s_ts(ts, "updated_ts"),
        balance=bal,
        portfolio_value=None if pv is None else cents(pv, "portfolio_value"),
        by_exchange_index=tuple(breakdown),
    )


def parse_position(p: Any, *, now: float) -> VenuePosition:
    """A ``MarketPosition`` (``last_updated_ts`` is an ISO string on the wire, not an int)."""
    p = obj(p, "market position")
    updated = p.get("last_updated_ts")
    if isinstance(updated, str) and updated:
        ts = iso_ts(updated, "last_updated_ts")
    elif isinstance(updated, (int, float)) and not isinstance(updated, bool):
        ts = s_ts(updated, "last_updated_ts")
    else:
        ts = now
    return VenuePosition(
        ts=ts,
        ticker=req_str(p, "ticker"),
        position=to_decimal(req(p, "position_fp"), "position_fp"),
        market_exposure=opt_dec(p, "market_exposure_dollars"),
        realized_pnl=opt_dec(p, "realized_pnl_dollars"),
        fees_paid=opt_dec(p, "fees_paid_dollars"),
        total_traded=opt_dec(p, "total_traded_dollars"),
        source="rest",
    )


def direction(d: dict[str, Any]) -> tuple[str, str]:
    """(side, action) of an order or fill: the deprecated ``side``/``action`` when present (they are
    exact), else from ``outcome_side`` as a buy of that side (sell-NO is economically buy-YES)."""
    side, action = d.get("side"), d.get("action")
    if side in ("yes", "no") and action in ("buy", "sell"):
        return side, action
    outcome = d.get("outcome_side")
    if outcome not in ("yes", "no"):
        book_side = d.get("book_side")
        if book_side not in ("bid", "ask"):
            raise WireError("missing_field", "outcome_side/book_side")
        outcome = "yes" if book_side == "bid" else "no"
    return outcome, "buy"


def side_price(d: dict[str, Any], side: str) -> Decimal:
    yes = opt_price(d, "yes_price_dollars")
    no = opt_price(d, "no_price_dollars")
    if side == "yes":
        if yes is None and no is None:
            raise WireError("missing_field", "yes_price_dollars")
        return yes if yes is not None else ONE - no  # type: ignore[operator]
    if no is None and yes is None:
        raise WireError("missing_field", "no_price_dollars")
    return no if no is not None else ONE - yes  # type: ignore[operator]


_ORDER_STATUS = {"resting": "resting", "canceled": "canceled", "executed": "filled", "pending": "new"}


def order_event_from(o: dict[str, Any], *, ts: float, mode: str = "live") -> OrderEvent:
    """Shared by REST ``Order`` and WS ``user_order`` (same fields)."""
    side, action = direction(o)
    filled = opt_count(o, "fill_count_fp") or ZERO
    initial = opt_count(o, "initial_count_fp")
    remaining = opt_count(o, "remaining_count_fp")
    if initial is None:
        initial = filled + (remaining or ZERO)
    raw_status = req_str(o, "status")
    status = _ORDER_STATUS.get(raw_status, raw_status)
    if status == "resting" and filled > ZERO:
        status = "partially_filled"
    return OrderEvent(
        ts=ts,
        order_id=req_str(o, "order_id"),
        client_order_id=loose_str(o.get("client_order_id")) or "",
        decision_id=None,
        ticker=req_str(o, "ticker"),
        side=side,  # type: ignore[arg-type]
        action=action,
        count=initial,
        price=side_price(o, side),
        status=status,
        mode=mode,  # type: ignore[arg-type]
        filled_count=filled,
        reason=opt_str(o, "last_update_reason"),
    )


def parse_order(o: Any, *, now: float) -> OrderEvent:
    """An ``Order`` (``GET /portfolio/orders``)."""
    o = obj(o, "order")
    ts = opt_iso_ts(o, "last_update_time") or opt_iso_ts(o, "created_time") or now
    return order_event_from(o, ts=ts)


def parse_fill(f: Any, *, now: float, mode: str = "live") -> Fill:
    """A ``Fill`` (``GET /portfolio/fills``). ``fee_cost`` is Kalshi's own fee figure."""
    f = obj(f, "fill")
    side, action = direction(f)
    ts = opt_iso_ts(f, "created_time")
    if ts is None:
        legacy = f.get("ts")
        ts = s_ts(legacy, "ts") if isinstance(legacy, (int, float)) and not isinstance(legacy, bool) else now
    ticker = req_str(f, "ticker" if f.get("ticker") else "market_ticker")
    fill_id = req_str(f, "fill_id" if f.get("fill_id") else "trade_id")
    is_taker = opt_bool(f, "is_taker")
    return Fill(
        fill_id=fill_id,
        order_id=req_str(f, "order_id"),
        ts=ts,
        ticker=ticker,
        side=side,  # type: ignore[arg-type]
        action=action,
        count=req_count(f, "count_fp"),
        price=side_price(f, side),
        fee=opt_dec(f, "fee_cost") or ZERO,
        is_taker=bool(is_taker),
        mode=mode,  # type: ignore[arg-type]
    )


def _req_result(d: dict[str, Any], key: str) -> str:
    r = opt_result(d, key)
    if r is None:
        raise WireError("missing_field", key)
    return r


def parse_settlement(s: Any, *, now: float) -> VenueSettlement:
    """A ``Settlement`` (``GET /portfolio/settlements``): ``revenue`` and ``value`` are cents."""
    s = obj(s, "settlement")
    value = s.get("value")
    return VenueSettlement(
        ts=opt_iso_ts(s, "settled_time") or now,
        ticker=req_str(s, "ticker"),
        event_ticker=opt_str(s, "event_ticker"),
        result=_req_result(s, "market_result"),
        yes_count=req_count(s, "yes_count_fp"),
        no_count=req_count(s, "no_count_fp"),
        yes_cost=opt_dec(s, "yes_total_cost_dollars") or ZERO,
        no_cost=opt_dec(s, "no_total_cost_dollars") or ZERO,
        revenue=cents(req(s, "revenue"), "revenue"),
        fee=opt_dec(s, "fee_cost") or ZERO,
        value=None if value is None else cents(value, "value"),
    )


# ----------------------------------------------------------------------------- V2 order responses


def parse_order_ack(body: Any) -> OrderAck:
    """``CreateOrderV2Response`` / ``AmendOrderV2Response`` / a batch-create item."""
    body = obj(body, "order response")
    return OrderAck(
        order_id=req_str(body, "order_id"),
        client_order_id=loose_str(body.get("client_order_id")),
        fill_count=opt_count(body, "fill_count"),
        remaining_count=opt_count(body, "remaining_count"),
        average_fill_price=opt_price(body, "average_fill_price"),
        average_fee_paid=opt_dec(body, "average_fee_paid"),
        ts=opt_ms_ts(body, "ts_ms"),
    )


def parse_cancel_ack(body: Any) -> CancelAck:
    body = obj(body, "cancel response")
    return CancelAck(
        order_id=req_str(body, "order_id"),
        client_order_id=loose_str(body.get("client_order_id")),
        reduced_by=opt_count(body, "reduced_by") or ZERO,
        ts=opt_ms_ts(body, "ts_ms"),
    )


def parse_decrease_ack(body: Any) -> DecreaseAck:
    body = obj(body, "decrease response")
    return DecreaseAck(
        order_id=req_str(body, "order_id"),
        client_order_id=loose_str(body.get("client_order_id")),
        remaining_count=req_count(body, "remaining_count"),
        ts=opt_ms_ts(body, "ts_ms"),
    )
