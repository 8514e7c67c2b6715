"""Live mode's gateway: kbot's orders through Kalshi's V2 order endpoints (``KalshiRestClient``),
and the venue's view of the account for reconciliation.

How each venue answer maps to the executor's ``Reply``:

| answer | reply | what the executor does |
| --- | --- | --- |
| 201 create / 200 amend, decrease, cancel | ``ack`` (fill count, remaining) | order named, state from the counts |
| 409 "already exists" (a replay of the same client order id) | ``unknown`` | resolved by a query |
| 409 other (market closed), 400, 404 on create | ``rejected`` | the order ends, no retry |
| 401 / 403 | ``auth`` | trading stops, alert |
| 429 or 5xx after the client's retries, timeout, transport error | ``unknown`` | resolved by a query, never resent |
| 404 / ``MARKET_INACTIVE`` on cancel | ``not_found`` / ``rejected`` | resolved by a query |

The REST client retries 429 (token buckets, backoff) and, for creates, 5xx and transport
errors: safe because every create carries its client order id (a duplicate is a 409, not a
second order). Listings for reconciliation are read with ``strict`` pagination and strict
parsing: a listing that cannot be read whole is ``None``, never a shorter truth.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any, TypeVar

import trio
from loguru import logger

from kbot.execution.orders import ManagedOrder, OrderSpec
from kbot.execution.reconcile import VenueSnapshot
from kbot.execution.trading import Reply
from kbot.messages import Fill, OrderEvent, VenueSettlement
from kbot.venues.kalshi import rest_parse as rp
from kbot.venues.kalshi.errors import IncompleteListing, KalshiApiError, KalshiAuthError, KalshiError
from kbot.venues.kalshi.rest import KalshiRestClient
from kbot.venues.kalshi.types import AmendRequest, CancelItem, OrderAck, OrderRequest
from kbot.venues.wire import WireError

ZERO = Decimal(0)
ONE = Decimal(1)
BATCH_CANCEL = 20  # orders per batch cancel (the smallest tier's write bucket fits it)
T = TypeVar("T")


def order_request(cid: str, spec: OrderSpec) -> OrderRequest:
    return OrderRequest.for_outcome(
        spec.ticker, spec.action, spec.side, spec.count, spec.price, time_in_force=spec.time_in_force,
        post_only=spec.post_only, client_order_id=cid,
        expiration_time=int(spec.expires_ts) if spec.expires_ts is not None else None,
    )


def _already_exists(e: KalshiApiError) -> bool:
    text = f"{e.code} {e.message}".lower()
    return "exist" in text or "duplicate" in text


def _ack_reply(ack: OrderAck) -> Reply:
    return Reply(kind="ack", order_id=ack.order_id, filled=ack.fill_count, remaining=ack.remaining_count)


class LiveGateway:
    """``request_timeout_s`` (real seconds): a create or cancel that takes longer (the client's
    retries and backoff included) is abandoned and its outcome is unknown: resolved by a query."""

    def __init__(self, rest: KalshiRestClient, *, settlement_lookback_s: float = 6 * 3600.0,
                 request_timeout_s: float = 5.0) -> None:
        self.rest = rest
        self.settlement_lookback_s = settlement_lookback_s
        self.request_timeout_s = request_timeout_s
        self.log = logger.bind(feed="execution")

    # ------------------------------------------------------------------ orders

    async def place(self, cid: str, spec: OrderSpec, now: float) -> Reply:
        try:
            req = order_request(cid, spec)
        except ValueError as exc:
            return Reply(kind="rejected", reason=f"invalid order: {exc}")
        with trio.move_on_after(self.request_timeout_s):
            return await self._create(req)
        return Reply(kind="unknown", reason=f"no answer within {self.request_timeout_s:g}s")

    async def _create(self, req: OrderRequest) -> Reply:
        try:
            return _ack_reply(await self.rest.create_order(req))
        except KalshiAuthError as exc:
            return Reply(kind="auth", reason=str(exc))
        except KalshiApiError as exc:
            if exc.status == 409 and _already_exists(exc):
                return Reply(kind="unknown", reason="409: an order with this client order id exists")
            if exc.status == 429 or exc.status >= 500 or exc.status == 200:
                return Reply(kind="unknown", reason=f"HTTP {exc.status}: {exc.code or exc.message}")
            return Reply(kind="rejected", reason=f"HTTP {exc.status} {exc.code}: {exc.message}".strip())
        except (KalshiError, WireError) as exc:  # retries exhausted, timeout, undecodable answer
            return Reply(kind="unknown", reason=f"no usable answer: {exc}")

    async def cancel(self, orders: list[ManagedOrder], now: float) -> list[Reply]:
        with trio.move_on_after(self.request_timeout_s * max(1, len(orders) // BATCH_CANCEL + 1)):
            return await self._cancel(orders)
        return [Reply(kind="unknown", reason=f"no answer within {self.request_timeout_s:g}s") for _ in orders]

    async def _cancel(self, orders: list[ManagedOrder]) -> list[Reply]:
        if len(orders) == 1:
            return [await self._cancel_one(orders[0])]
        out: list[Reply] = []
        for i in range(0, len(orders), BATCH_CANCEL):
            chunk = orders[i:i + BATCH_CANCEL]
            items = [CancelItem(order_id=o.order_id or "", market_ticker=o.ticker) for o in chunk]
            try:
                results = await self.rest.batch_cancel_orders(items)
            except KalshiAuthError as exc:
                out += [Reply(kind="auth", reason=str(exc))] * len(chunk)
                continue
            except (KalshiError, WireError, ValueError) as exc:
                self.log.warning("batch cancel failed ({}): canceling one by one", exc)
                out += [await self._cancel_one(o) for o in chunk]
                continue
            for o, r in zip(chunk, results, strict=True):
                out.append(self._cancel_reply(o, r))
        return out

    async def _cancel_one(self, o: ManagedOrder) -> Reply:
        try:
            ack = await self.rest.cancel_order(o.order_id or "", market_ticker=o.ticker)
        except KalshiAuthError as exc:
            return Reply(kind="auth", reason=str(exc))
        except (KalshiApiError, KalshiError, WireError) as exc:
            return self._cancel_reply(o, exc)
        return self._cancel_reply(o, ack)

    @staticmethod
    def _cancel_reply(o: ManagedOrder, r: Any) -> Reply:
        if isinstance(r, KalshiApiError):
            if r.status == 404:
                return Reply(kind="not_found", reason="not found", complete=False)
            return Reply(kind="rejected" if 400 <= r.status < 500 else "unknown", reason=str(r))
        if isinstance(r, Exception):
            return Reply(kind="unknown", reason=str(r))
        # reduced_by 0: it had already filled or been canceled; either way it rests no more
        return Reply(kind="ack", order_id=o.order_id, remaining=ZERO, final="canceled")

    async def amend(self, o: ManagedOrder, price: Decimal, count: Decimal, now: float) -> Reply:
        buys_yes = (o.spec.action == "buy") == (o.spec.side == "yes")
        yes_price = price if o.spec.side == "yes" else ONE - price
        try:
            ack = await self.rest.amend_order(o.order_id or "", AmendRequest(
                ticker=o.ticker, side="bid" if buys_yes else "ask", price=yes_price, count=count,
                client_order_id=o.client_order_id))
        except KalshiAuthError as exc:
            return Reply(kind="auth", reason=str(exc))
        except (KalshiError, WireError, ValueError) as exc:
            return Reply(kind="rejected", reason=str(exc))
        return _ack_reply(ack)

    async def decrease(self, o: ManagedOrder, to: Decimal, now: float) -> Reply:
        try:
            ack = await self.rest.decrease_order(o.order_id or "", reduce_to=to, market_ticker=o.ticker)
        except KalshiAuthError as exc:
            return Reply(kind="auth", reason=str(exc))
        except (KalshiError, WireError, ValueError) as exc:
            return Reply(kind="rejected", reason=str(exc))
        return Reply(kind="ack", order_id=ack.order_id, remaining=ack.remaining_count,
                     final="canceled" if ack.remaining_count <= ZERO else None)

    async def query(self, o: ManagedOrder, now: float) -> Reply:
        """The venue's view of one order: by its id, or (an answer that never came) by its
        client order id among the market's orders created since just before it."""
        if o.order_id is not None:
            return await self.lookup(o.order_id, now)
        try:
            orders = await self._listing("/portfolio/orders", "orders",
                                         {"ticker": o.ticker, "min_ts": max(0, int(o.created_ts) - 60)},
                                         lambda raw: rp.parse_order(raw, now=now))
        except KalshiAuthError as exc:
            return Reply(kind="auth", reason=str(exc))
        if orders is None:
            return Reply(kind="not_found", reason="listing incomplete", complete=False)
        for ev in orders:
            if ev.client_order_id == o.client_order_id:
                return Reply(kind="ack", order_id=ev.order_id, order=ev)
        return Reply(kind="not_found", reason="no order with this client order id")

    async def lookup(self, order_id: str, now: float) -> Reply:
        try:
            ev = await self.rest.get_order(order_id)
        except KalshiAuthError as exc:
            return Reply(kind="auth", reason=str(exc))
        except KalshiApiError as exc:
            return Reply(kind="not_found", reason=str(exc), complete=exc.status == 404)
        except (KalshiError, WireError) as exc:
            return Reply(kind="not_found", reason=str(exc), complete=False)
        return Reply(kind="ack", order_id=ev.order_id, order=ev)

    # ------------------------------------------------------------------ the account

    async def _listing(self, path: str, key: str, params: dict[str, Any], parse: Callable[[Any], T]) -> list[T] | None:
        """Every item of a listing, parsed strictly; None when it could not be read whole."""
        out: list[T] = []
        try:
            async for raw in self.rest.paginate(path, key, params, limit=1000, auth=True, strict=True):
                out.append(parse(raw))
        except KalshiAuthError:
            raise
        except (IncompleteListing, KalshiError, WireError) as exc:
            self.log.warning("{} could not be read whole: {}", path, exc)
            return None
        return out

    async def snapshot(self, now: float) -> VenueSnapshot | str:
        try:
            bal = await self.rest.get_balance()
        except KalshiAuthError as exc:
            return f"credentials refused: {exc}"
        except (KalshiError, WireError) as exc:
            return f"balance unavailable: {exc}"
        try:
            positions = await self._listing("/portfolio/positions", "market_positions", {},
                                            lambda raw: rp.parse_position(raw, now=now))
            orders = await self._listing("/portfolio/orders", "orders", {"status": "resting"},
                                         lambda raw: rp.parse_order(raw, now=now))
            settlements = await self._listing(
                "/portfolio/settlements", "settlements", {"min_ts": int(now - self.settlement_lookback_s)},
                lambda raw: rp.parse_settlement(raw, now=now))
        except KalshiAuthError as exc:
            return f"credentials refused: {exc}"
        return VenueSnapshot(
            ts=now,
            positions=None if positions is None else {p.ticker: p.position for p in positions},
            orders=None if orders is None else {o.order_id: o for o in orders if o.status in ("resting", "partially_filled")},
            balance=bal.balance,
            settlements={} if settlements is None else _by_ticker(settlements),
            records=(bal, *(positions or ()), *(settlements or ())),
        )

    async def confirm(self, tickers: list[str], now: float) -> dict[str, Decimal | None]:
        """Per market: the venue's position row in any settlement state (0 when it says flat),
        None when it has no row at all. Markets it could not be asked about are left out."""
        out: dict[str, Decimal | None] = {}
        for t in tickers:
            try:
                rows = await self._listing("/portfolio/positions", "market_positions",
                                           {"ticker": t, "settlement_status": "all"},
                                           lambda raw: rp.parse_position(raw, now=now))
            except KalshiAuthError:
                return out
            if rows is None:
                continue
            mine = [r for r in rows if r.ticker == t]
            out[t] = mine[0].position if mine else None
        return out

    async def poll_fills(self, since: float, now: float, ticker: str | None = None) -> list[Fill] | None:
        try:
            return await self._listing("/portfolio/fills", "fills", {"min_ts": max(0, int(since)), "ticker": ticker},
                                       lambda raw: rp.parse_fill(raw, now=now))
        except KalshiAuthError:
            return None

    async def recent_orders(self, since: float, now: float) -> list[OrderEvent] | None:
        """Every order of the account created since ``since`` (any status)."""
        try:
            return await self._listing("/portfolio/orders", "orders", {"min_ts": max(0, int(since))},
                                       lambda raw: rp.parse_order(raw, now=now))
        except KalshiAuthError:
            return None

    # ------------------------------------------------------------------ nothing simulated here

    def on_data(self, msg: Any) -> list[Any]:
        return []

    def step(self, now: float) -> list[Any]:
        return []

    def next_due(self) -> float | None:
        return None

    def seed(self, positions: dict[str, Decimal], cash: Decimal, now: float) -> None:
        return None


def _by_ticker(items: list[VenueSettlement]) -> dict[str, VenueSettlement]:
    out: dict[str, VenueSettlement] = {}
    for s in items:
        out[s.ticker] = s
    return out
