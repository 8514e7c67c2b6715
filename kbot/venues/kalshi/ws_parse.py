"""Pure parsers for Kalshi WebSocket v2 frames (AsyncAPI 2.0.0, 2026 wire format).

``parse_envelope(text)`` reads the frame ``{"type", "sid"?, "seq"?, "id"?, "msg"}``; then one
function per message type turns ``msg`` into a domain message or a small venue record. All raise
``WireError`` on unusable input. Times: ``ts_ms`` when present, else the deprecated seconds/RFC 3339
fields, else the receive time.

Orderbook prices: YES levels are always YES prices. NO levels are NO-leg prices by default and
YES-leg prices when the subscription pinned ``use_yes_price: true``; ``use_yes_price`` tells the
parser which, and the records it returns always carry NO-leg prices for the NO side.

Legacy shapes (before Mar 12 2026, for old recordings), read when the current field is absent:
snapshot ``yes``/``no`` (cents) and ``yes_dollars``/``no_dollars``; delta ``price`` (cents) and
``delta`` (int); ticker ``yes_bid``/``yes_ask``/``price``/``volume``/``open_interest`` (cents/ints);
trade ``yes_price``/``count``; lifecycle ``settlement_value`` as integer cents.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import attrs

from kbot.messages import (
    EventFeeUpdate,
    EventInfo,
    Fill,
    MarketLifecycle,
    MarketSettled,
    OrderEvent,
    Quote,
    SpotTick,
    Trade,
    VenuePosition,
)
from kbot.text import clean_text
from kbot.venues.kalshi import rest_parse
from kbot.venues.wire import (
    ONE,
    ZERO,
    WireError,
    any_ts,
    cents,
    check_price,
    check_strikes,
    check_uncrossed,
    iso_ts,
    live_ts,
    loads,
    loose_str,
    ms_ts,
    obj,
    opt_bool,
    opt_count,
    opt_dec,
    opt_int,
    opt_ms_ts,
    opt_result,
    opt_s_ts,
    opt_str,
    opt_strike,
    req,
    req_count,
    req_str,
    s_ts,
    spot_price,
    to_decimal,
)

# Message types whose frames carry a per-subscription ``seq`` (AsyncAPI); ``ok``/``unsubscribed``
# replies on a sid carry one too and take part in the same sequence.
SEQUENCED = frozenset(
    {
        "orderbook_snapshot",
        "orderbook_delta",
        "trade",
        "market_lifecycle_v2",
        "event_lifecycle",
        "event_fee_update",
        "multivariate_market_lifecycle",
        "order_group_updates",
        "cfbenchmarks_value",
        "cfbenchmarks_value_5hz",
    }
)


@attrs.frozen(kw_only=True)
class Envelope:
    type: str
    msg: Any
    sid: int | None = None
    seq: int | None = None
    id: int | None = None


def parse_envelope(text: str | bytes) -> Envelope:
    frame = obj(loads(text), "frame")
    t = frame.get("type")
    if not isinstance(t, str) or not t:
        raise WireError("missing_field", "type")
    return Envelope(type=t, msg=frame.get("msg"), sid=opt_int(frame, "sid"), seq=opt_int(frame, "seq"), id=opt_int(frame, "id"))


def _wire_ts(m: dict[str, Any]) -> float | None:
    """The message's own time: ``ts_ms``, else the deprecated ``ts`` (seconds or RFC 3339) or
    ``time``; None when it states none."""
    ts = opt_ms_ts(m, "ts_ms")
    if ts is not None:
        return ts
    v = m.get("ts")
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return s_ts(v, "ts")
    if isinstance(v, str) and v:
        return iso_ts(v, "ts")
    t = m.get("time")
    if isinstance(t, str) and t:
        return iso_ts(t, "time")
    return None


def _event_ts(m: dict[str, Any], recv_ts: float) -> float:
    """The event time of live data: the message's own, within the live window of its receipt
    (``wire.live_ts``), else the receive time."""
    ts = _wire_ts(m)
    return recv_ts if ts is None else live_ts(ts, recv_ts)


def _record_ts(m: dict[str, Any], recv_ts: float, notes: list[str] | None) -> float:
    """The time of a private record (fill, order): the venue's truth is kept even when its stated
    time is unusable; it is stamped with the receive time then, and ``notes`` says so."""
    try:
        return _event_ts(m, recv_ts)
    except WireError as e:
        if notes is not None:
            notes.append(f"ts_replaced: {e.detail}")
        return recv_ts


# ----------------------------------------------------------------------------- order book


@attrs.frozen(kw_only=True)
class BookLevels:
    """An ``orderbook_snapshot``: both bid ladders, NO side at NO-leg prices."""

    ticker: str
    yes: list[tuple[Decimal, Decimal]]
    no: list[tuple[Decimal, Decimal]]


@attrs.frozen(kw_only=True)
class BookDelta:
    """An ``orderbook_delta``: signed change at one level (NO side at NO-leg price)."""

    ticker: str
    side: str
    price: Decimal
    delta: Decimal
    ts: float
    client_order_id: str | None = None


def _snapshot_side(m: dict[str, Any], side: str, *, no_in_yes_leg: bool) -> list[tuple[Decimal, Decimal]]:
    if f"{side}_dollars_fp" in m:
        raw, key, legacy = m[f"{side}_dollars_fp"], f"{side}_dollars_fp", False
    elif f"{side}_dollars" in m:
        raw, key, legacy = m[f"{side}_dollars"], f"{side}_dollars", False
    elif side in m:
        raw, key, legacy = m[side], side, True
    else:
        return []  # the key is omitted when that side is empty
    levels = rest_parse.parse_levels(raw, key, legacy_cents=legacy)
    if no_in_yes_leg and side == "no":
        levels = [(ONE - p, q) for p, q in levels]
    return levels


def parse_orderbook_snapshot(m: Any, *, use_yes_price: bool) -> BookLevels:
    m = obj(m, "msg")
    return BookLevels(
        ticker=req_str(m, "market_ticker"),
        yes=_snapshot_side(m, "yes", no_in_yes_leg=use_yes_price),
        no=_snapshot_side(m, "no", no_in_yes_leg=use_yes_price),
    )


def parse_orderbook_delta(m: Any, *, use_yes_price: bool, recv_ts: float) -> BookDelta:
    m = obj(m, "msg")
    side = req_str(m, "side")
    if side not in ("yes", "no"):
        raise WireError("bad_value", f"side={side!r}")
    if m.get("price_dollars") is not None:
        price = to_decimal(m["price_dollars"], "price_dollars")
    elif m.get("price") is not None:
        price = cents(m["price"], "price")
    else:
        raise WireError("missing_field", "price_dollars")
    check_price(price, "price_dollars")
    if m.get("delta_fp") is not None:
        delta = to_decimal(m["delta_fp"], "delta_fp")
    elif m.get("delta") is not None:
        delta = to_decimal(m["delta"], "delta")
    else:
        raise WireError("missing_field", "delta_fp")
    if use_yes_price and side == "no":
        price = ONE - price
    return BookDelta(
        ticker=req_str(m, "market_ticker"),
        side=side,
        price=price,
        delta=delta,
        ts=_event_ts(m, recv_ts),
        client_order_id=loose_str(m.get("client_order_id")),
    )


# ----------------------------------------------------------------------------- public market data


def _dollars_or_cents(m: dict[str, Any], dollars_key: str, cents_key: str) -> Decimal | None:
    return rest_parse.legacy_price(m, dollars_key, cents_key)


def parse_ticker(m: Any, *, recv_ts: float, mono: float = 0.0) -> Quote:
    """``ticker``: the venue's own top of book (no depth) as ``Quote(source="ticker")``."""
    m = obj(m, "msg")
    yes_bid = rest_parse.norm_bid(_dollars_or_cents(m, "yes_bid_dollars", "yes_bid"))
    yes_ask = rest_parse.norm_ask(_dollars_or_cents(m, "yes_ask_dollars", "yes_ask"))
    check_uncrossed(yes_bid, yes_ask, "ticker")
    return Quote(
        ts=_event_ts(m, recv_ts),
        ticker=req_str(m, "market_ticker"),
        yes_bid=yes_bid,
        yes_ask=yes_ask,
        no_bid=None if yes_ask is None else ONE - yes_ask,
        no_ask=None if yes_bid is None else ONE - yes_bid,
        yes_bid_size=opt_count(m, "yes_bid_size_fp"),
        yes_ask_size=opt_count(m, "yes_ask_size_fp"),
        last_price=_dollars_or_cents(m, "price_dollars", "price"),
        volume=rest_parse.legacy_count(m, "volume_fp", "volume"),
        open_interest=rest_parse.legacy_count(m, "open_interest_fp", "open_interest"),
        source="ticker",
        recv_ts=recv_ts,
        mono=mono,
    )


def parse_trade(m: Any, *, recv_ts: float) -> Trade:
    m = obj(m, "msg")
    price = _dollars_or_cents(m, "yes_price_dollars", "yes_price")
    if price is None:
        no = _dollars_or_cents(m, "no_price_dollars", "no_price")
        if no is None:
            raise WireError("missing_field", "yes_price_dollars")
        price = ONE - no
    count = rest_parse.legacy_count(m, "count_fp", "count")
    if count is None:
        raise WireError("missing_field", "count_fp")
    taker = m.get("taker_outcome_side") or m.get("taker_side")
    return Trade(
        ts=_event_ts(m, recv_ts),
        ticker=req_str(m, "market_ticker"),
        trade_id=req_str(m, "trade_id"),
        yes_price=price,
        count=count,
        taker_side=taker if taker in ("yes", "no") else None,
        recv_ts=recv_ts,
    )


LIFECYCLE_EVENTS = frozenset(
    {
        "created",
        "activated",
        "deactivated",
        "close_date_updated",
        "determined",
        "settled",
        "metadata_updated",
        "price_level_structure_updated",
    }
)


def parse_market_lifecycle(m: Any, *, recv_ts: float) -> MarketLifecycle:
    """``market_lifecycle_v2`` (incl. ``metadata_updated`` with top-level strikes)."""
    m = obj(m, "msg")
    event_type = req_str(m, "event_type")
    if event_type not in LIFECYCLE_EVENTS:
        raise WireError("unknown_type", f"lifecycle event_type={event_type!r}")
    meta = m.get("additional_metadata")
    meta = obj(meta, "additional_metadata") if meta is not None else {}
    src = m if event_type == "metadata_updated" else meta
    sv_raw = m.get("settlement_value")
    if sv_raw is None:
        settlement_value = None
    elif isinstance(sv_raw, int) and not isinstance(sv_raw, bool):
        settlement_value = check_price(cents(sv_raw, "settlement_value"), "settlement_value")  # legacy cents
    else:
        settlement_value = check_price(to_decimal(sv_raw, "settlement_value"), "settlement_value")
    determination_ts = opt_s_ts(m, "determination_ts")
    settled_ts = opt_s_ts(m, "settled_ts")
    ts = determination_ts if event_type == "determined" and determination_ts else recv_ts
    if event_type == "settled" and settled_ts:
        ts = settled_ts
    live_ts(ts, recv_ts, "determination_ts" if event_type == "determined" else "settled_ts")
    result = opt_result(m, "result")
    floor, cap = opt_strike(src, "floor_strike"), opt_strike(src, "cap_strike")
    check_strikes(floor, cap)
    return MarketLifecycle(
        ts=ts,
        ticker=req_str(m, "market_ticker"),
        event_type=event_type,
        open_ts=opt_s_ts(m, "open_ts"),
        close_ts=opt_s_ts(m, "close_ts"),
        result=result,
        settlement_value=settlement_value,
        determination_ts=determination_ts,
        settled_ts=settled_ts,
        strike_type=opt_str(src, "strike_type"),
        floor_strike=floor,
        cap_strike=cap,
        event_ticker=opt_str(meta, "event_ticker"),
        price_level_structure=opt_str(m, "price_level_structure"),
        recv_ts=recv_ts,
    )


_RESULT_VALUE = {"yes": ONE, "no": ZERO}


def settled_from_lifecycle(lc: MarketLifecycle, known: tuple[str, Decimal] | None = None) -> MarketSettled | None:
    """``determined`` -> ``MarketSettled(final=False)``; ``settled`` -> ``final=True`` (using the
    result remembered from ``determined`` when the settled event does not repeat it). ``None``
    when the outcome is not known."""
    if lc.event_type not in ("determined", "settled"):
        return None
    result, value = lc.result, lc.settlement_value
    if result is None and known is not None:
        result, value = known[0], known[1] if value is None else value
    if result is None:
        return None
    if value is None:
        value = _RESULT_VALUE.get(result)
        if value is None:
            return None  # void/scalar without a stated value: wait for REST
    return MarketSettled(
        ts=lc.ts, ticker=lc.ticker, result=result, settlement_value=value, source="ws", final=lc.event_type == "settled"
    )


def parse_event_lifecycle(m: Any, *, recv_ts: float) -> EventInfo:
    m = obj(m, "msg")
    return EventInfo(
        event_ticker=req_str(m, "event_ticker"),
        series_ticker=req_str(m, "series_ticker"),
        title=opt_str(m, "title"),
        strike_ts=None if m.get("strike_date") in (None, "") else any_ts(m["strike_date"], "strike_date"),
        updated_ts=recv_ts,
    )


def parse_event_fee_update(m: Any, *, recv_ts: float) -> EventFeeUpdate:
    m = obj(m, "msg")
    mult = m.get("fee_multiplier_override")
    mult_d = None if mult is None else to_decimal(mult, "fee_multiplier_override")
    if mult_d is not None and mult_d < ZERO:
        raise WireError("out_of_range", f"fee_multiplier_override={mult_d}")
    return EventFeeUpdate(
        ts=recv_ts,
        event_ticker=req_str(m, "event_ticker"),
        fee_type_override=opt_str(m, "fee_type_override"),
        fee_multiplier_override=mult_d,
        recv_ts=recv_ts,
    )


@attrs.frozen(kw_only=True)
class IndexValue:
    index_id: str
    tick: SpotTick


def parse_cfbenchmarks_value(m: Any, *, recv_ts: float, mono: float = 0.0) -> IndexValue:
    """``cfbenchmarks_value``: the CF Benchmarks tick (``data`` is the raw CF JSON frame as a
    string) with Kalshi's trailing 60 s average and, in the final minute before a quarter hour,
    the running 60 s average for that close."""
    m = obj(m, "msg")
    index_id = req_str(m, "index_id")
    data = req(m, "data")
    if isinstance(data, str):
        try:
            data = loads(data)
        except WireError:
            raise WireError("bad_json", "cfbenchmarks data is not JSON") from None
    data = obj(data, "cfbenchmarks data")
    value = spot_price(req(data, "value"), "data.value")
    t = data.get("time")
    if isinstance(t, (int, float)) and not isinstance(t, bool):
        ts = ms_ts(t, "data.time")
    else:
        received = opt_ms_ts(m, "received_at")
        ts = received if received is not None else recv_ts
    live_ts(ts, recv_ts)
    avg = m.get("avg_60s_data")
    avg_v = None
    if avg is not None:
        avg_v = spot_price(req(obj(avg, "avg_60s_data"), "value"), "avg_60s_data.value")
    q = m.get("last_60s_windowed_average_15min")
    q_v = q_n = None
    if q is not None:
        q = obj(q, "last_60s_windowed_average_15min")
        q_v = spot_price(req(q, "value"), "last_60s_windowed_average_15min.value")
        q_n = opt_int(q, "window_size")
        if q_n is not None and not 0 <= q_n <= 3600:
            raise WireError("out_of_range", f"last_60s_windowed_average_15min.window_size={q_n}")
    return IndexValue(
        index_id=index_id,
        tick=SpotTick(
            source="brti",
            ts=ts,
            price=value,
            recv_ts=recv_ts,
            mono=mono,
            avg_60s=avg_v,
            avg_60s_15min=q_v,
            avg_60s_15min_n=q_n,
        ),
    )


# ----------------------------------------------------------------------------- private channels


def parse_fill(m: Any, *, recv_ts: float, mode: str = "live", notes: list[str] | None = None) -> Fill:
    """``fill`` (no seq). ``trade_id`` is the fill id; ``fee_cost`` is Kalshi's fee figure. An
    unusable time does not lose the fill: it is stamped on receipt and ``notes`` says so."""
    m = obj(m, "msg")
    side, action = rest_parse.direction(m)
    return Fill(
        fill_id=req_str(m, "trade_id"),
        order_id=req_str(m, "order_id"),
        ts=_record_ts(m, recv_ts, notes),
        ticker=req_str(m, "market_ticker"),
        side=side,  # type: ignore[arg-type]
        action=action,
        count=req_count(m, "count_fp"),
        price=rest_parse.side_price(m, side),
        fee=opt_dec(m, "fee_cost") or ZERO,
        is_taker=bool(opt_bool(m, "is_taker")),
        mode=mode,  # type: ignore[arg-type]
    )


def parse_user_order(m: Any, *, recv_ts: float, mode: str = "live", notes: list[str] | None = None) -> OrderEvent:
    """``user_order``: the update's time is ``last_updated_ts_ms`` (within the live window of its
    receipt), else the receive time (``created_ts_ms`` is when the order was placed, possibly days
    ago, not when this update happened). An unusable time is replaced and noted, as for fills."""
    m = obj(m, "msg")
    ts = recv_ts
    try:
        updated = opt_ms_ts(m, "last_updated_ts_ms")
        if updated is not None:
            ts = live_ts(updated, recv_ts, "last_updated_ts_ms")
    except WireError as e:
        if notes is not None:
            notes.append(f"ts_replaced: {e.detail}")
    return rest_parse.order_event_from(m, ts=ts, mode=mode)


def parse_market_position(m: Any, *, recv_ts: float) -> VenuePosition:
    m = obj(m, "msg")
    return VenuePosition(
        ts=recv_ts,
        ticker=req_str(m, "market_ticker"),
        position=to_decimal(req(m, "position_fp"), "position_fp"),
        market_exposure=opt_dec(m, "position_cost_dollars"),
        realized_pnl=opt_dec(m, "realized_pnl_dollars"),
        fees_paid=opt_dec(m, "fees_paid_dollars"),
        total_traded=None,
        source="ws",
    )


# ----------------------------------------------------------------------------- control replies


def parse_subscribed(env: Envelope) -> tuple[str, int]:
    m = obj(env.msg, "msg")
    sid = opt_int(m, "sid")
    if sid is None:
        raise WireError("missing_field", "sid")
    return req_str(m, "channel"), sid


def parse_ok_tickers(env: Envelope) -> list[str] | None:
    """The full ticker list after an ``update_subscription`` (None when absent)."""
    m = env.msg
    if isinstance(m, dict) and isinstance(m.get("market_tickers"), list):
        return [t for t in m["market_tickers"] if isinstance(t, str) and t and clean_text(t) == t]
    return None


def parse_error(env: Envelope) -> tuple[int, str]:
    m = obj(env.msg, "msg")
    code = m.get("code")
    if isinstance(code, bool) or not isinstance(code, int):
        raise WireError("wrong_type", "error code is not an integer")
    if not -(2**31) < code < 2**31:
        raise WireError("out_of_range", "error code beyond 32 bits")
    text = m.get("msg")
    return code, clean_text(text) if isinstance(text, str) else ""


__all__ = [
    "SEQUENCED",
    "BookDelta",
    "BookLevels",
    "Envelope",
    "IndexValue",
    "parse_cfbenchmarks_value",
    "parse_envelope",
    "parse_error",
    "parse_event_fee_update",
    "parse_event_lifecycle",
    "parse_fill",
    "parse_market_lifecycle",
    "parse_market_position",
    "parse_ok_tickers",
    "parse_orderbook_delta",
    "parse_orderbook_snapshot",
    "parse_subscribed",
    "parse_ticker",
    "parse_trade",
    "parse_user_order",
    "settled_from_lifecycle",
]
