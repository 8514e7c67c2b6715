"""Kalshi portfolio and V2 order endpoints of the sim (signed requests only).

Orders go only through the V2 event-order API (``/portfolio/events/orders*``): ``side``
``bid``/``ask`` on the YES leg, string ``count``/``price``, required ``time_in_force`` and
``self_trade_prevention_type``. Legacy V1 fields in a V2 body are refused (400) so a client
mixing the two finds out here rather than on Kalshi. Batch endpoints report errors per item.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kbot.sim import kalshi_json as kj
from kbot.sim.book import RESTING
from kbot.sim.exchange import OrderRequest
from kbot.sim.http_util import ApiError, Query, error_body, page
from kbot.sim.wire import WireError, count_str, ms, parse_count, parse_price

if TYPE_CHECKING:
    from kbot.sim.venue import SimVenue

LEGACY_FIELDS = (
    "action",
    "yes_price",
    "no_price",
    "yes_price_dollars",
    "no_price_dollars",
    "count_fp",
    "type",
    "expiration_ts",
    "buy_max_cost",
    "sell_position_floor",
)
MAX_BATCH = 20


def _obj(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_parameters", "request body must be a JSON object")
    return body


def _opt_int(body: dict[str, Any], name: str, lo: int | None = None) -> int | None:
    v = body.get(name)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int):
        raise ApiError(400, "invalid_parameters", f"{name} must be an integer")
    if lo is not None and v < lo:
        raise ApiError(400, "invalid_parameters", f"{name} must be >= {lo}")
    return v


def _opt_bool(body: dict[str, Any], name: str) -> bool:
    v = body.get(name, False)
    if v is None:
        return False
    if not isinstance(v, bool):
        raise ApiError(400, "invalid_parameters", f"{name} must be a boolean")
    return v


def _opt_str(body: dict[str, Any], name: str) -> str | None:
    v = body.get(name)
    if v is None:
        return None
    if not isinstance(v, str):
        raise ApiError(400, "invalid_parameters", f"{name} must be a string")
    return v


def _subaccount(value: int | None) -> int:
    if value not in (None, 0):
        raise ApiError(400, "invalid_parameters", "the simulated venue has only the primary account (subaccount 0)")
    return 0


def parse_create(body: Any) -> OrderRequest:
    body = _obj(body)
    legacy = [f for f in LEGACY_FIELDS if f in body]
    if legacy:
        raise ApiError(400, "invalid_parameters", f"legacy V1 order fields are not accepted by the V2 API: {', '.join(legacy)}")
    missing = [f for f in ("ticker", "side", "count", "price", "time_in_force", "self_trade_prevention_type") if body.get(f) in (None, "")]
    if missing:
        raise ApiError(400, "invalid_parameters", f"missing required field(s): {', '.join(missing)}")
    side = body["side"]
    if side not in ("bid", "ask"):
        raise ApiError(400, "invalid_parameters", "side must be bid (buy YES) or ask (sell YES)")
    try:
        count = parse_count(body["count"])
        price = parse_price(body["price"])
    except WireError as exc:
        raise ApiError(400, "invalid_parameters", str(exc)) from exc
    ticker = _opt_str(body, "ticker") or ""
    return OrderRequest(
        ticker=ticker,
        side=side,
        price=price,
        count=count,
        time_in_force=str(body["time_in_force"]),
        self_trade_prevention_type=str(body["self_trade_prevention_type"]),
        client_order_id=_opt_str(body, "client_order_id") or "",
        expiration_time=_opt_int(body, "expiration_time", 0),
        post_only=_opt_bool(body, "post_only"),
        reduce_only=_opt_bool(body, "reduce_only"),
        cancel_order_on_pause=_opt_bool(body, "cancel_order_on_pause"),
        subaccount=_subaccount(_opt_int(body, "subaccount", 0)),
        order_group_id=_opt_str(body, "order_group_id"),
        exchange_index=_opt_int(body, "exchange_index", -1),
    )


# ---------------------------------------------------------------------------- reads
def balance(venue: SimVenue, q: Query, user: str) -> dict[str, Any]:
    _subaccount(q.int("subaccount", lo=0))
    shard = q.int("exchange_index", lo=0)
    return kj.balance(venue.exchange, venue.exchange.account(user), shard)


def positions(venue: SimVenue, q: Query, user: str) -> dict[str, Any]:
    _subaccount(q.int("subaccount", lo=0))
    limit = q.int("limit", lo=1, hi=1000, default=100) or 100
    filters = q.csv("count_filter")
    for f in filters:
        if f not in ("position", "total_traded"):
            raise ApiError(400, "invalid_parameters", "count_filter accepts position, total_traded")
    settled = q.one_of("settlement_status", ("unsettled", "settled", "all")) or "unsettled"
    ticker, event_ticker, shard = q.str("ticker"), q.str("event_ticker"), q.int("exchange_index", lo=0)
    acct = venue.exchange.account(user)
    selected = []
    for p in sorted(acct.positions.values(), key=lambda p: p.ticker):
        if (ticker and p.ticker != ticker) or (event_ticker and p.event_ticker != event_ticker):
            continue
        if shard is not None and p.exchange_index != shard:
            continue
        if (settled == "unsettled" and p.settled) or (settled == "settled" and not p.settled):
            continue
        if filters and not (("position" in filters and p.position != 0) or ("total_traded" in filters and p.total_traded_u6 != 0)):
            continue
        selected.append(p)
    chunk, cursor = page(selected, q.str("cursor"), limit)
    return {
        "cursor": cursor,
        "market_positions": [kj.market_position(p) for p in chunk],
        "event_positions": kj.event_positions(chunk),
    }


def orders(venue: SimVenue, q: Query, user: str) -> dict[str, Any]:
    limit = q.int("limit", lo=1, hi=1000, default=100) or 100
    status = q.one_of("status", ("resting", "canceled", "executed"))
    ticker = q.str("ticker")
    events = set(q.csv("event_ticker"))
    if len(events) > 10:
        raise ApiError(400, "invalid_parameters", "event_ticker accepts at most 10 event tickers")
    lo, hi = q.int("min_ts", lo=0), q.int("max_ts", lo=0)
    shard = q.int("exchange_index", lo=0)
    ex = venue.exchange
    selected = []
    for o in reversed(ex.user_orders(user)):
        if (status and o.status != status) or (ticker and o.ticker != ticker):
            continue
        if events and ex.markets.get(o.ticker) is not None and ex.markets[o.ticker].event_ticker not in events:
            continue
        if shard is not None and o.exchange_index != shard:
            continue
        if (lo is not None and o.created_ts < lo) or (hi is not None and o.created_ts > hi):
            continue
        selected.append(o)
    chunk, cursor = page(selected, q.str("cursor"), limit)
    return {"orders": [kj.order(o) for o in chunk], "cursor": cursor}


def order_one(venue: SimVenue, q: Query, user: str, order_id: str) -> dict[str, Any]:
    return {"order": kj.order(venue.exchange.find_order(user, order_id))}


def fills(venue: SimVenue, q: Query, user: str) -> dict[str, Any]:
    limit = q.int("limit", lo=1, hi=1000, default=100) or 100
    ticker, order_id = q.str("ticker"), q.str("order_id")
    lo, hi = q.int("min_ts", lo=0), q.int("max_ts", lo=0)
    shard = q.int("exchange_index", lo=0)
    selected = [
        f
        for f in reversed(venue.exchange.fills.get(user, ()))
        if (ticker is None or f.ticker == ticker)
        and (order_id is None or f.order.order_id == order_id)
        and (shard is None or f.exchange_index == shard)
        and (lo is None or f.ts >= lo)
        and (hi is None or f.ts <= hi)
    ]
    chunk, cursor = page(selected, q.str("cursor"), limit)
    return {"fills": [kj.fill(f) for f in chunk], "cursor": cursor}


def settlements(venue: SimVenue, q: Query, user: str) -> dict[str, Any]:
    limit = q.int("limit", lo=1, hi=1000, default=100) or 100
    ticker, event_ticker = q.str("ticker"), q.str("event_ticker")
    lo, hi = q.int("min_ts", lo=0), q.int("max_ts", lo=0)
    selected = [
        s
        for s in reversed(venue.exchange.settlements.get(user, ()))
        if (ticker is None or s.ticker == ticker)
        and (event_ticker is None or s.event_ticker == event_ticker)
        and (lo is None or s.settled_ts >= lo)
        and (hi is None or s.settled_ts <= hi)
    ]
    chunk, cursor = page(selected, q.str("cursor"), limit)
    return {"settlements": [kj.settlement(s) for s in chunk], "cursor": cursor}


# ---------------------------------------------------------------------------- V2 orders
def create(venue: SimVenue, user: str, body: Any) -> dict[str, Any]:
    req = parse_create(body)
    now = venue.clock.now()
    res = venue.exchange.place(user, req, now)
    return kj.create_response(res.order, res.fills, now)


def batch_items(body: Any, name: str = "orders") -> list[Any]:
    body = _obj(body)
    items = body.get(name)
    if not isinstance(items, list) or not items:
        raise ApiError(400, "invalid_parameters", f"{name} must be a non-empty array")
    if len(items) > MAX_BATCH:
        raise ApiError(400, "invalid_parameters", f"at most {MAX_BATCH} orders per batch")
    return items


def batch_create(venue: SimVenue, user: str, body: Any) -> dict[str, Any]:
    out = []
    style = venue.config.error_style
    for item in batch_items(body):
        try:
            out.append(create(venue, user, item))
        except ApiError as exc:
            coid = item.get("client_order_id") if isinstance(item, dict) else None
            out.append(
                {
                    "order_id": "",
                    "client_order_id": coid if isinstance(coid, str) else None,
                    "fill_count": None,
                    "remaining_count": None,
                    "error": _flat(error_body(exc.code, exc.message, exc.details, style=style)),
                }
            )
    return {"orders": out}


def _flat(body: dict[str, Any]) -> dict[str, Any]:
    return body.get("error", body)  # per-item errors are ErrorResponse objects


def cancel(venue: SimVenue, user: str, order_id: str, q: Query) -> dict[str, Any]:
    _subaccount(q.int("subaccount", lo=0))
    now = venue.clock.now()
    order, reduced = venue.exchange.cancel(
        user, order_id, now, market_ticker=q.str("market_ticker"), exchange_index=q.int("exchange_index", lo=-1)
    )
    return {"order_id": order.order_id, "client_order_id": order.client_order_id, "reduced_by": count_str(reduced), "ts_ms": ms(now)}


def batch_cancel(venue: SimVenue, user: str, body: Any) -> dict[str, Any]:
    out: list[dict[str, Any]] = []
    style = venue.config.error_style
    for item in batch_items(body):
        if not isinstance(item, dict) or not isinstance(item.get("order_id"), str):
            out.append({"order_id": "", "reduced_by": "0.00", "error": _flat(error_body("invalid_parameters", "order_id is required", style=style))})
            continue
        params = {k: str(v) for k, v in item.items() if k in ("market_ticker", "exchange_index", "subaccount") and v is not None}
        try:
            out.append(cancel(venue, user, item["order_id"], Query(params)))
        except ApiError as exc:
            out.append(
                {
                    "order_id": item["order_id"],
                    "reduced_by": "0.00",
                    "ts_ms": None,
                    "error": _flat(error_body(exc.code, exc.message, exc.details, style=style)),
                }
            )
    return {"orders": out}


def cancel_all(venue: SimVenue, user: str, q: Query) -> None:
    _subaccount(q.int("subaccount", lo=0))
    venue.exchange.cancel_all(user, venue.clock.now())


def amend(venue: SimVenue, user: str, order_id: str, q: Query, body: Any) -> dict[str, Any]:
    _subaccount(q.int("subaccount", lo=0))
    body = _obj(body)
    missing = [f for f in ("ticker", "side", "price", "count") if body.get(f) in (None, "")]
    if missing:
        raise ApiError(400, "invalid_parameters", f"missing required field(s): {', '.join(missing)}")
    if body["side"] not in ("bid", "ask"):
        raise ApiError(400, "invalid_parameters", "side must be bid or ask")
    try:
        price, count = parse_price(body["price"]), parse_count(body["count"])
    except WireError as exc:
        raise ApiError(400, "invalid_parameters", str(exc)) from exc
    now = venue.clock.now()
    order, fills_ = venue.exchange.amend(
        user,
        order_id,
        now,
        ticker=str(body["ticker"]),
        side=body["side"],
        price=price,
        count=count,
        client_order_id=_opt_str(body, "client_order_id"),
        updated_client_order_id=_opt_str(body, "updated_client_order_id"),
        expiration_time=_opt_int(body, "expiration_time", 0),
        exchange_index=_opt_int(body, "exchange_index", -1),
    )
    out: dict[str, Any] = {
        "order_id": order.order_id,
        "client_order_id": order.client_order_id,
        "remaining_count": count_str(order.remaining),
        "fill_count": count_str(sum(f.count for f in fills_)),
        "ts_ms": ms(now),
    }
    out.update(kj.fill_averages(fills_))
    return out


def decrease(venue: SimVenue, user: str, order_id: str, q: Query, body: Any) -> dict[str, Any]:
    _subaccount(q.int("subaccount", lo=0))
    body = _obj(body)
    try:
        reduce_by = parse_count(body["reduce_by"], "reduce_by") if body.get("reduce_by") is not None else None
        reduce_to = parse_count(body["reduce_to"], "reduce_to") if body.get("reduce_to") is not None else None
    except WireError as exc:
        raise ApiError(400, "invalid_parameters", str(exc)) from exc
    now = venue.clock.now()
    order = venue.exchange.decrease(
        user,
        order_id,
        now,
        reduce_by=reduce_by,
        reduce_to=reduce_to,
        market_ticker=_opt_str(body, "market_ticker"),
        exchange_index=_opt_int(body, "exchange_index", -1),
    )
    return {
        "order_id": order.order_id,
        "client_order_id": order.client_order_id,
        "remaining_count": count_str(order.remaining if order.status == RESTING else 0),
        "ts_ms": ms(now),
    }
