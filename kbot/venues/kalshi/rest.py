"""Kalshi Trade API v2 REST client on ``httpx.AsyncClient`` (runs on Trio).

- **Signing**: when credentials are given, *every* request is signed (public GETs too), over
  ``timestamp_ms + METHOD + path`` with the path exactly as sent (``/trade-api/v2/...``, no query).
  The timestamp is wall time (``ts_ms``, injectable): it is checked against the server's clock.
- **Rate limits**: client-side token buckets (``RateLimiter``), separate read/write budgets sized
  from the account tier, charged with Kalshi's per-endpoint token costs.
- **Errors**: one typed ``KalshiApiError`` for flat, nested and plain-string bodies. 401/403 raise
  ``KalshiAuthError`` at once (no retry). 429: exponential backoff with jitter (the bucket is
  drained too), up to ``max_retries_429``. 5xx and transport errors: backoff up to
  ``max_retries_5xx``, then ``KalshiRetriesExhausted``. Creating an order is retried after a 5xx or
  transport error only because it always carries a ``client_order_id`` (a duplicate is a 409, not a
  second order). Every retry is logged with its reason.
- **Pagination**: cursor loops stop on an empty cursor, a repeated cursor (guard against server
  loops) or ``max_pages``.
- **Bad items**: one malformed object in a list is counted in ``bad`` (``BadInputLog``) and skipped;
  the rest of the page is used.
- **Recorder**: ``recorder("kalshi_rest", recv_ts, text)`` gets each response as a JSON envelope
  ``{"method", "path", "params", "status", "body"}`` (body = the raw response text).
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import AsyncIterator, Callable, Sequence
from decimal import Decimal
from typing import Any, TypeVar

import httpx
import trio
from loguru import logger

from kbot.actorkit import BadInputLog
from kbot.clock import Clock, WallClock
from kbot.messages import EventInfo, Fill, OrderEvent, SeriesInfo, VenueBalance, VenuePosition, VenueSettlement
from kbot.venues.backoff import Backoff
from kbot.venues.config import KalshiRestConfig
from kbot.venues.kalshi import rest_parse as rp
from kbot.venues.kalshi.auth import ENV_KEY_ID, ENV_KEY_PATH, Credentials, CredentialsError
from kbot.venues.kalshi.book import OrderBook
from kbot.venues.kalshi.errors import (
    IncompleteListing,
    KalshiApiError,
    KalshiRetriesExhausted,
    error_from_response,
    parse_error_body,
)
from kbot.venues.kalshi.types import (
    AmendRequest,
    CancelAck,
    CancelItem,
    DecreaseAck,
    ExchangeStatus,
    OrderAck,
    OrderRequest,
    ParsedMarket,
)
from kbot.venues.ratelimit import CANCEL_ALL_COST, CANCEL_COST, DEFAULT_COST, GET_ORDER_COST, RateLimiter
from kbot.venues.wire import WireError, fmt_count, loads
from kbot.venues.wslink import Recorder

T = TypeVar("T")

MARKET_STATUS_FILTERS = ("unopened", "open", "paused", "closed", "settled")


def wall_ms() -> int:
    return int(time.time() * 1000)


class KalshiRestClient:
    """Async client for one Kalshi environment. Use as ``async with KalshiRestClient(...) as c``
    (or call ``aclose()``)."""

    def __init__(
        self,
        base_url: str,
        credentials: Credentials | None = None,
        *,
        cfg: KalshiRestConfig | None = None,
        clock: Clock | None = None,
        limiter: RateLimiter | None = None,
        recorder: Recorder | None = None,
        bad: BadInputLog | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        ts_ms: Callable[[], int] = wall_ms,
    ) -> None:
        self.cfg = cfg or KalshiRestConfig()
        self.base_url = base_url.rstrip("/")
        self.credentials = credentials
        self.clock = clock or WallClock()
        self.limiter = limiter or RateLimiter.for_tier(self.cfg.tier, self.cfg.rate_fraction)
        self.recorder = recorder
        self.bad = bad or BadInputLog("kalshi_rest")
        self.ts_ms = ts_ms
        self.requests = 0
        self.retries = 0
        self.log = logger.bind(feed="kalshi_rest")
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            timeout=httpx.Timeout(self.cfg.timeout_s, connect=self.cfg.connect_timeout_s),
            headers={"Accept": "application/json", "User-Agent": "kbot/0.1"},
            follow_redirects=False,
            transport=transport,
        )

    async def __aenter__(self) -> KalshiRestClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        with trio.CancelScope(shield=True):
            await self._http.aclose()

    # ------------------------------------------------------------------ core request

    def _require_credentials(self, what: str) -> Credentials:
        if self.credentials is None:
            raise CredentialsError(
                f"{what} needs Kalshi API credentials: set {ENV_KEY_ID} and {ENV_KEY_PATH} (or kalshi.key_id / "
                "kalshi.private_key_path in the config file)"
            )
        return self.credentials

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: Any = None,
        write: bool = False,
        cost: int = DEFAULT_COST,
        auth: bool = False,
        retry_unsafe: bool = True,
    ) -> Any:
        """One API call with signing, rate limiting and retries; returns the decoded JSON body
        (``None`` for an empty body). ``auth`` marks endpoints that need credentials (fail fast
        without). ``retry_unsafe=False`` forbids retrying after a 5xx/transport error (the request
        may have been applied)."""
        if auth:
            self._require_credentials(f"{method} {path}")
        params = {k: v for k, v in (params or {}).items() if v is not None}
        content = None if body is None else json.dumps(body, separators=(",", ":")).encode()
        b429 = Backoff(self.cfg.backoff_429)
        b5xx = Backoff(self.cfg.backoff_5xx)
        attempt = 0
        while True:
            attempt += 1
            await self.limiter.acquire(cost, write=write)
            req = self._http.build_request(method, path, params=params or None, content=content)
            if content is not None:
                req.headers["Content-Type"] = "application/json"
            if self.credentials is not None:
                signed_path = req.url.raw_path.split(b"?", 1)[0].decode("ascii")
                req.headers.update(self.credentials.headers(method, signed_path, ts_ms=self.ts_ms()))
            self.requests += 1
            try:
                resp = await self._http.send(req)
            except httpx.TransportError as exc:
                if not retry_unsafe or b5xx.failures >= self.cfg.max_retries_5xx:
                    raise KalshiRetriesExhausted(path, attempt, repr(exc)) from exc
                await self._retry_sleep(b5xx, method, path, f"transport error {type(exc).__name__}: {exc}")
                continue
            text = resp.text
            if self.recorder is not None:
                self._record(method, path, params, resp.status_code, text)
            status = resp.status_code
            if 200 <= status < 300:
                if not text.strip():
                    return None
                try:
                    return loads(text)
                except WireError as exc:
                    self.bad.record("rest:bad_json", text, f"{method} {path}")
                    raise KalshiApiError(status, "bad_json", f"undecodable response body: {exc.detail}", path=path) from None
            if status == 429:
                self.limiter.penalize(write=write)
                if b429.failures >= self.cfg.max_retries_429:
                    raise KalshiRetriesExhausted(path, attempt, "429 too many requests")
                await self._retry_sleep(b429, method, path, "429 too many requests")
                continue
            if status >= 500:
                if not retry_unsafe or b5xx.failures >= self.cfg.max_retries_5xx:
                    raise error_from_response(status, text, path)
                code, message, _ = parse_error_body(text)
                await self._retry_sleep(b5xx, method, path, f"HTTP {status} {code or ''} {message[:80]}".strip())
                continue
            raise error_from_response(status, text, path)

    async def _retry_sleep(self, backoff: Backoff, method: str, path: str, reason: str) -> None:
        delay = backoff.next()
        self.retries += 1
        self.log.bind(event="retry", attempt=backoff.failures, delay_s=round(delay, 3)).warning(
            "{} {}: {}; retry {} in {:.2f}s", method, path, reason, backoff.failures, delay
        )
        await trio.sleep(delay)

    def _record(self, method: str, path: str, params: dict[str, Any], status: int, text: str) -> None:
        assert self.recorder is not None
        try:
            env = json.dumps({"method": method, "path": path, "params": params, "status": status, "body": text})
            self.recorder("kalshi_rest", self.clock.now(), env)
        except Exception as exc:
            self.log.opt(exception=exc).error("recorder hook failed")

    async def paginate(
        self,
        path: str,
        key: str,
        params: dict[str, Any] | None = None,
        *,
        limit: int | None = None,
        auth: bool = False,
        max_pages: int | None = None,
        strict: bool = False,
    ) -> AsyncIterator[Any]:
        """Yield raw items of ``key`` across pages (cursor until empty/repeated/max_pages).
        ``strict``: a listing that cannot be read whole (a body that is not an object, ``key``
        not a list, a repeated cursor, ``max_pages`` reached) raises ``IncompleteListing``
        instead of ending quietly."""
        params = dict(params or {})
        if limit is not None:
            params["limit"] = limit
        seen: set[str] = set()
        pages = 0
        cursor: str | None = None
        limit_pages = max_pages or self.cfg.max_pages
        while True:
            if cursor:
                params["cursor"] = cursor
            body = await self.request("GET", path, params=params, auth=auth)
            pages += 1
            if not isinstance(body, dict):
                self.bad.record("rest:not_object", repr(body), path)
                if strict:
                    raise IncompleteListing(path, "response is not an object")
                return
            items = body.get(key)
            if items is None:
                items = []
            if not isinstance(items, list):
                self.bad.record("rest:wrong_type", repr(body)[:300], f"{path}: {key} is not a list")
                if strict:
                    raise IncompleteListing(path, f"{key} is not a list")
                return
            for item in items:
                yield item
            cursor = body.get("cursor")
            if not cursor or not isinstance(cursor, str):
                return
            if cursor in seen:
                self.log.warning("{}: server repeated cursor {!r}; stopping pagination", path, cursor[:40])
                if strict:
                    raise IncompleteListing(path, "the server repeated a cursor")
                return
            seen.add(cursor)
            if pages >= limit_pages:
                self.log.warning("{}: stopped after {} pages (max_pages)", path, pages)
                if strict:
                    raise IncompleteListing(path, f"more than {limit_pages} pages")
                return

    def _parse_items(self, items: list[Any], parse: Callable[[Any], T], what: str) -> list[T]:
        out: list[T] = []
        for item in items:
            try:
                out.append(parse(item))
            except WireError as e:
                self.bad.record(f"{what}:{e.kind}", item, e.detail)
        return out

    def _parse_one(self, body: Any, parse: Callable[[Any], T], what: str) -> T:
        try:
            return parse(body)
        except WireError as e:
            self.bad.record(f"{what}:{e.kind}", body, e.detail)
            raise

    # ------------------------------------------------------------------ exchange & reference data

    async def get_exchange_status(self) -> ExchangeStatus:
        body = await self.request("GET", "/exchange/status")
        return self._parse_one(body, rp.parse_exchange_status, "exchange_status")

    async def get_series(self, series_ticker: str) -> SeriesInfo:
        body = await self.request("GET", f"/series/{series_ticker}")
        now = self.clock.now()
        inner = body.get("series") if isinstance(body, dict) else None
        return self._parse_one(inner, lambda s: rp.parse_series(s, now=now), "series")

    async def get_event(self, event_ticker: str, *, with_nested_markets: bool = True) -> tuple[EventInfo, list[ParsedMarket]]:
        body = await self.request("GET", f"/events/{event_ticker}", params={"with_nested_markets": _b(with_nested_markets)})
        now = self.clock.now()
        event_raw = body.get("event") if isinstance(body, dict) else None
        info, nested = self._parse_one(event_raw, lambda e: rp.parse_event(e, now=now), "event")
        raw_markets = nested or (body.get("markets") if isinstance(body.get("markets"), list) else [])
        markets = self._parse_items(raw_markets, lambda m: rp.parse_market(m, now=now, series_ticker=info.series_ticker), "market")
        return info, markets

    async def list_events(
        self,
        *,
        series_ticker: str | None = None,
        status: str | None = None,
        with_nested_markets: bool = False,
        limit: int = 200,
    ) -> list[tuple[EventInfo, list[ParsedMarket]]]:
        params = {"series_ticker": series_ticker, "status": status, "with_nested_markets": _b(with_nested_markets)}
        now = self.clock.now()
        out = []
        async for raw in self.paginate("/events", "events", params, limit=min(limit, 200)):
            try:
                info, nested = rp.parse_event(raw, now=now)
            except WireError as e:
                self.bad.record(f"event:{e.kind}", raw, e.detail)
                continue
            ms = self._parse_items(
                nested, functools.partial(rp.parse_market, now=now, series_ticker=info.series_ticker), "market"
            )
            out.append((info, ms))
        return out

    async def list_markets(
        self,
        *,
        series_ticker: str | None = None,
        status: str | None = None,
        event_ticker: str | None = None,
        tickers: Sequence[str] | None = None,
        min_close_ts: int | None = None,
        max_close_ts: int | None = None,
        min_settled_ts: int | None = None,
        limit: int | None = None,
    ) -> list[ParsedMarket]:
        """``GET /markets`` across pages. ``status`` is a *filter* value
        (``unopened|open|paused|closed|settled``), not an object status."""
        if status is not None and status not in MARKET_STATUS_FILTERS:
            raise ValueError(f"status filter must be one of {MARKET_STATUS_FILTERS}, not {status!r} (object statuses differ)")
        params: dict[str, Any] = {
            "series_ticker": series_ticker,
            "status": status,
            "event_ticker": event_ticker,
            "tickers": ",".join(tickers) if tickers else None,
            "min_close_ts": min_close_ts,
            "max_close_ts": max_close_ts,
            "min_settled_ts": min_settled_ts,
        }
        now = self.clock.now()
        raw = [m async for m in self.paginate("/markets", "markets", params, limit=limit or self.cfg.page_limit)]
        return self._parse_items(raw, lambda m: rp.parse_market(m, now=now, series_ticker=series_ticker), "market")

    async def get_market(self, ticker: str, *, series_ticker: str | None = None) -> ParsedMarket:
        """``GET /markets/{ticker}``. Market objects do not name their series: pass it when known,
        else it is read from the market's event."""
        body = await self.request("GET", f"/markets/{ticker}")
        now = self.clock.now()
        raw = body.get("market") if isinstance(body, dict) else None
        if series_ticker is None and isinstance(raw, dict) and not raw.get("series_ticker"):
            ev = raw.get("event_ticker")
            if isinstance(ev, str) and ev:
                info, _ = await self.get_event(ev, with_nested_markets=False)
                series_ticker = info.series_ticker
        return self._parse_one(raw, lambda m: rp.parse_market(m, now=now, series_ticker=series_ticker), "market")

    async def get_orderbook(self, ticker: str, *, depth: int = 0) -> OrderBook:
        body = await self.request("GET", f"/markets/{ticker}/orderbook", params={"depth": depth or None})
        return self._parse_one(body, lambda b: rp.parse_orderbook(b, ticker), "orderbook")

    # ------------------------------------------------------------------ portfolio (authenticated)

    async def get_balance(self, *, exchange_index: int | None = None, subaccount: int | None = None) -> VenueBalance:
        body = await self.request(
            "GET", "/portfolio/balance", params={"exchange_index": exchange_index, "subaccount": subaccount}, auth=True
        )
        now = self.clock.now()
        return self._parse_one(body, lambda b: rp.parse_balance(b, now=now), "balance")

    async def get_positions(
        self, *, ticker: str | None = None, event_ticker: str | None = None, settlement_status: str | None = None
    ) -> list[VenuePosition]:
        params = {"ticker": ticker, "event_ticker": event_ticker, "settlement_status": settlement_status}
        now = self.clock.now()
        raw = [p async for p in self.paginate("/portfolio/positions", "market_positions", params, limit=1000, auth=True)]
        return self._parse_items(raw, lambda p: rp.parse_position(p, now=now), "position")

    async def get_orders(
        self, *, ticker: str | None = None, event_ticker: str | None = None, status: str | None = None,
        min_ts: int | None = None, max_ts: int | None = None,
    ) -> list[OrderEvent]:
        params = {"ticker": ticker, "event_ticker": event_ticker, "status": status, "min_ts": min_ts, "max_ts": max_ts}
        now = self.clock.now()
        raw = [o async for o in self.paginate("/portfolio/orders", "orders", params, limit=1000, auth=True)]
        return self._parse_items(raw, lambda o: rp.parse_order(o, now=now), "order")

    async def get_order(self, order_id: str) -> OrderEvent:
        body = await self.request("GET", f"/portfolio/orders/{order_id}", auth=True, cost=GET_ORDER_COST)
        now = self.clock.now()
        raw = body.get("order") if isinstance(body, dict) else None
        return self._parse_one(raw, lambda o: rp.parse_order(o, now=now), "order")

    async def get_fills(
        self, *, ticker: str | None = None, order_id: str | None = None, min_ts: int | None = None, max_ts: int | None = None
    ) -> list[Fill]:
        params = {"ticker": ticker, "order_id": order_id, "min_ts": min_ts, "max_ts": max_ts}
        now = self.clock.now()
        raw = [f async for f in self.paginate("/portfolio/fills", "fills", params, limit=1000, auth=True)]
        return self._parse_items(raw, lambda f: rp.parse_fill(f, now=now), "fill")

    async def get_settlements(
        self, *, ticker: str | None = None, event_ticker: str | None = None, min_ts: int | None = None, max_ts: int | None = None
    ) -> list[VenueSettlement]:
        params = {"ticker": ticker, "event_ticker": event_ticker, "min_ts": min_ts, "max_ts": max_ts}
        now = self.clock.now()
        raw = [s async for s in self.paginate("/portfolio/settlements", "settlements", params, limit=1000, auth=True)]
        return self._parse_items(raw, lambda s: rp.parse_settlement(s, now=now), "settlement")

    # ------------------------------------------------------------------ V2 orders (authenticated, write budget)

    async def create_order(self, order: OrderRequest) -> OrderAck:
        """``POST /portfolio/events/orders`` -> 201. Retried after 5xx/transport errors: safe
        because the request carries a ``client_order_id`` (a replay is refused with 409)."""
        body = await self.request(
            "POST", "/portfolio/events/orders", body=order.to_wire(), write=True, auth=True
        )
        return self._parse_one(body, rp.parse_order_ack, "order_ack")

    async def cancel_order(
        self, order_id: str, *, market_ticker: str | None = None, exchange_index: int | None = None, subaccount: int | None = None
    ) -> CancelAck:
        """Pass ``market_ticker`` so Kalshi routes the cancel to the market's shard."""
        body = await self.request(
            "DELETE",
            f"/portfolio/events/orders/{order_id}",
            params={"market_ticker": market_ticker, "exchange_index": exchange_index, "subaccount": subaccount},
            write=True,
            auth=True,
            cost=CANCEL_COST,
        )
        return self._parse_one(body, rp.parse_cancel_ack, "cancel_ack")

    async def amend_order(self, order_id: str, amend: AmendRequest, *, subaccount: int | None = None) -> OrderAck:
        body = await self.request(
            "POST",
            f"/portfolio/events/orders/{order_id}/amend",
            params={"subaccount": subaccount},
            body=amend.to_wire(),
            write=True,
            auth=True,
            retry_unsafe=False,
        )
        return self._parse_one(body, rp.parse_order_ack, "amend_ack")

    async def decrease_order(
        self,
        order_id: str,
        *,
        reduce_by: Decimal | None = None,
        reduce_to: Decimal | None = None,
        market_ticker: str | None = None,
        exchange_index: int | None = None,
        subaccount: int | None = None,
    ) -> DecreaseAck:
        if (reduce_by is None) == (reduce_to is None):
            raise ValueError("give exactly one of reduce_by / reduce_to")
        body: dict[str, Any] = {}
        if reduce_by is not None:
            body["reduce_by"] = fmt_count(reduce_by)
        if reduce_to is not None:
            body["reduce_to"] = fmt_count(reduce_to)
        if market_ticker is not None:
            body["market_ticker"] = market_ticker
        if exchange_index is not None:
            body["exchange_index"] = exchange_index
        resp = await self.request(
            "POST",
            f"/portfolio/events/orders/{order_id}/decrease",
            params={"subaccount": subaccount},
            body=body,
            write=True,
            auth=True,
            retry_unsafe=reduce_to is not None,  # reduce_to is idempotent, reduce_by is not
        )
        return self._parse_one(resp, rp.parse_decrease_ack, "decrease_ack")

    async def batch_create_orders(self, orders: Sequence[OrderRequest]) -> list[OrderAck | KalshiApiError]:
        """One result per order, in order: an ack or the per-item error. The whole batch must fit
        the write bucket (Kalshi rejects an over-sized batch whole): ValueError before sending."""
        if not orders:
            return []
        cost = DEFAULT_COST * len(orders)
        self.limiter.check(cost, write=True)
        body = await self.request(
            "POST",
            "/portfolio/events/orders/batched",
            body={"orders": [o.to_wire() for o in orders]},
            write=True,
            auth=True,
            cost=cost,
        )
        return self._batch_results(body, rp.parse_order_ack, "/portfolio/events/orders/batched")

    async def batch_cancel_orders(self, items: Sequence[CancelItem]) -> list[CancelAck | KalshiApiError]:
        if not items:
            return []
        cost = CANCEL_COST * len(items)
        self.limiter.check(cost, write=True)
        body = await self.request(
            "DELETE",
            "/portfolio/events/orders/batched",
            body={"orders": [i.to_wire() for i in items]},
            write=True,
            auth=True,
            cost=cost,
        )
        return self._batch_results(body, rp.parse_cancel_ack, "/portfolio/events/orders/batched")

    async def cancel_all_orders(self, *, subaccount: int | None = None) -> None:
        await self.request(
            "DELETE",
            "/portfolio/events/orders",
            params={"subaccount": subaccount},
            write=True,
            auth=True,
            cost=CANCEL_ALL_COST,
        )

    def _batch_results(self, body: Any, parse: Callable[[Any], Any], path: str) -> list[Any]:
        items = body.get("orders") if isinstance(body, dict) else None
        if not isinstance(items, list):
            self.bad.record("batch:missing_field", body, "orders")
            raise KalshiApiError(200, "bad_response", "batch response without orders", path=path)
        out: list[Any] = []
        for item in items:
            err = item.get("error") if isinstance(item, dict) else None
            if err:
                code, message, details = parse_error_body(err if isinstance(err, dict) else {"message": err})
                out.append(KalshiApiError(200, code, message, details, path=path))
                continue
            try:
                out.append(parse(item))
            except WireError as e:
                self.bad.record(f"batch_item:{e.kind}", item, e.detail)
                out.append(KalshiApiError(200, "bad_item", str(e), path=path))
        return out


def _b(v: bool) -> str:
    return "true" if v else "false"
