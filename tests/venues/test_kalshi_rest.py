"""Kalshi REST client against a loopback fake server: signing of every request, pagination and its
repeated-cursor guard, retries on 429/5xx with backoff, no retry on 401/403, the three error body
shapes, V2 order bodies (YES-leg prices), batch per-item errors, fail-fast without credentials."""

from __future__ import annotations

from decimal import Decimal

import pytest
from kfakes import FakeRest, event, market, series, start_rest

from kbot.venues.backoff import BackoffPolicy
from kbot.venues.config import KalshiRestConfig
from kbot.venues.kalshi import auth
from kbot.venues.kalshi.auth import CredentialsError
from kbot.venues.kalshi.errors import KalshiApiError, KalshiAuthError, KalshiRetriesExhausted
from kbot.venues.kalshi.rest import KalshiRestClient
from kbot.venues.kalshi.types import AmendRequest, CancelItem, OrderRequest

D = Decimal

FAST = KalshiRestConfig(
    backoff_429=BackoffPolicy(initial_s=0.001, max_s=0.01),
    backoff_5xx=BackoffPolicy(initial_s=0.001, max_s=0.01),
    max_retries_429=3,
    max_retries_5xx=2,
    tier="prestige",
)


def btc_markets() -> list[dict]:
    return [
        market("KXBTCD-26AUG2317-T86749.99", "KXBTCD-26AUG2317", floor=86749.99),
        market("KXBTCD-26AUG2317-T86999.99", "KXBTCD-26AUG2317", floor=86999.99),
        market("KXBTCD-26AUG2317-T87249.99", "KXBTCD-26AUG2317", floor=87249.99),
        market("KXBTC-26AUG2317-B86875", "KXBTC-26AUG2317", strike_type="between", floor=86750, cap=86999.99),
        market("KXBTC15M-26AUG171330-30", "KXBTC15M-26AUG171330", strike_type="greater_or_equal", floor=63485.16),
    ]


@pytest.fixture
async def rest(nursery, rsa_key):
    fake = FakeRest(rsa_key.public_key())
    fake.markets = btc_markets()
    fake.series = {s: series(s) for s in ("KXBTC", "KXBTCD", "KXBTC15M")}
    fake.events = [event("KXBTCD-26AUG2317", "KXBTCD", fee_multiplier_override=0.5)]
    url = await start_rest(nursery, fake)
    return fake, url


async def test_every_request_is_signed_and_verifies(rest, creds):
    fake, url = rest
    async with KalshiRestClient(url, creds, cfg=FAST) as c:
        await c.get_exchange_status()
        ms = await c.list_markets(series_ticker="KXBTCD", status="open", limit=2)
        await c.get_series("KXBTCD")
        await c.get_market("KXBTCD-26AUG2317-T86749.99", series_ticker="KXBTCD")
    assert len(ms) == 3
    assert fake.log and all(ok is True for _, _, _, ok in fake.log)
    assert fake.bad_signatures == 0
    # pagination: 3 markets at page size 2 -> 2 GETs with the cursor of the first page
    pages = [q for m, p, q, _ in fake.log if p.endswith("/markets")]
    assert [q.get("cursor") for q in pages] == [None, "2"]
    assert all(q["status"] == "open" and q["series_ticker"] == "KXBTCD" for q in pages)


async def test_signature_covers_path_with_prefix_and_without_query(rest, creds):
    fake, url = rest
    seen = []

    def capture(req):
        h = req.headers
        seen.append((h[auth.TS_HEADER], h[auth.SIG_HEADER], req.url.path, str(req.url.query)))

    fake.on_request = capture
    async with KalshiRestClient(url, creds, cfg=FAST) as c:
        await c.list_markets(series_ticker="KXBTC", status="open")
    ts, sig, path, query = seen[0]
    assert path == "/trade-api/v2/markets" and "series_ticker=KXBTC" in query
    pub = creds.private_key.public_key()
    assert auth.verify(pub, sig, ts, "GET", "/trade-api/v2/markets")
    assert not auth.verify(pub, sig, ts, "GET", f"/trade-api/v2/markets?{query}".replace("?", "x"))
    assert len(ts) == 13  # milliseconds


async def test_unsigned_without_credentials_for_public_data(rest):
    fake, url = rest
    async with KalshiRestClient(url, None, cfg=FAST) as c:
        ms = await c.list_markets(series_ticker="KXBTC", status="open")
    assert [m.info.ticker for m in ms] == ["KXBTC-26AUG2317-B86875"]
    assert all(ok is None for *_, ok in fake.log)


async def test_authenticated_call_without_credentials_fails_fast(rest):
    fake, url = rest
    async with KalshiRestClient(url, None, cfg=FAST) as c:
        with pytest.raises(CredentialsError, match="KALSHI_API_KEY_ID"):
            await c.get_balance()
    assert fake.log == []  # nothing was sent


async def test_repeated_cursor_guard(rest, creds):
    fake, url = rest
    fake.repeat_cursor = True
    async with KalshiRestClient(url, creds, cfg=FAST) as c:
        ms = await c.list_markets(series_ticker="KXBTCD", status="open", limit=2)
    # page 1 returns cursor "0"; page 2 (cursor 0) returns "0" again -> stop
    assert len([1 for _, p, _, _ in fake.log if p.endswith("/markets")]) == 2
    assert len(ms) == 4  # two pages of two (the loop stopped, the data was used)


async def test_429_plain_string_body_retried_then_succeeds(rest, creds):
    fake, url = rest
    fake.faults = [("/markets", 429, {"error": "too many requests"})] * 2
    async with KalshiRestClient(url, creds, cfg=FAST) as c:
        ms = await c.list_markets(series_ticker="KXBTC", status="open")
        assert c.retries == 2
    assert len(ms) == 1


async def test_429_gives_up_after_limit(rest, creds):
    fake, url = rest
    fake.faults = [("/markets", 429, {"error": "too many requests"})] * 10
    async with KalshiRestClient(url, creds, cfg=FAST) as c:
        with pytest.raises(KalshiRetriesExhausted, match="429"):
            await c.list_markets(series_ticker="KXBTC", status="open")
    assert sum(1 for _, p, _, _ in fake.log if p.endswith("/markets")) == FAST.max_retries_429 + 1


async def test_5xx_retried_with_backoff(rest, creds):
    fake, url = rest
    fake.faults = [("/exchange", 503, {"code": "service_unavailable", "message": "maintenance"}), ("/exchange", 500, "oops")]
    async with KalshiRestClient(url, creds, cfg=FAST) as c:
        st = await c.get_exchange_status()
        assert c.retries == 2
    assert st.trading_active


async def test_5xx_gives_up_with_typed_error(rest, creds):
    fake, url = rest
    fake.faults = [("/exchange", 503, {"error": {"code": "service_unavailable", "message": "down"}})] * 5
    async with KalshiRestClient(url, creds, cfg=FAST) as c:
        with pytest.raises(KalshiApiError) as ei:
            await c.get_exchange_status()
    assert ei.value.status == 503 and ei.value.code == "service_unavailable"
    assert sum(1 for _, p, _, _ in fake.log if p.endswith("/exchange/status")) == FAST.max_retries_5xx + 1


@pytest.mark.parametrize("status", [401, 403])
async def test_401_403_are_fatal_no_retry(rest, creds, status):
    fake, url = rest
    fake.faults = [("/portfolio/balance", status, {"error": {"code": "unauthorized", "message": "bad key"}})] * 3
    async with KalshiRestClient(url, creds, cfg=FAST) as c:
        with pytest.raises(KalshiAuthError) as ei:
            await c.get_balance()
    assert ei.value.status == status
    assert "KALSHI_API_KEY_ID" in str(ei.value) or "scopes" in str(ei.value)
    assert sum(1 for _, p, _, _ in fake.log if p.endswith("/portfolio/balance")) == 1


async def test_wrong_key_gets_401_from_verifying_server(rest, rsa_key):
    fake, url = rest
    other = auth.Credentials("k", auth.generate_key_pair(1024))
    async with KalshiRestClient(url, other, cfg=FAST) as c:
        with pytest.raises(KalshiAuthError):
            await c.get_exchange_status()
    assert fake.bad_signatures == 1


@pytest.mark.parametrize(
    "body,code,message,details",
    [
        ({"code": "invalid_order", "message": "bad", "details": "post only cross"}, "invalid_order", "bad", "post only cross"),
        ({"error": {"code": "market_closed", "message": "closed"}}, "market_closed", "closed", ""),
        ({"error": "too many requests"}, "", "too many requests", ""),
        ("<html>bad gateway</html>", "", "<html>bad gateway</html>", ""),
    ],
)
async def test_error_body_shapes(rest, creds, body, code, message, details):
    fake, url = rest
    fake.faults = [("/portfolio/events/orders", 409, body)]
    async with KalshiRestClient(url, creds, cfg=FAST) as c:
        with pytest.raises(KalshiApiError) as ei:
            await c.create_order(OrderRequest(ticker="T", side="bid", count=Decimal("1"), price=Decimal("0.5")))
    e = ei.value
    assert (e.status, e.code, e.message, e.details) == (409, code, message, details)


async def test_v2_order_bodies(rest, creds):
    fake, url = rest
    fake.responses[("POST", "/portfolio/events/orders")] = (
        201,
        {"order_id": "o1", "client_order_id": "c1", "fill_count": "5.00", "remaining_count": "0.00",
         "average_fill_price": "0.5800", "average_fee_paid": "0.0012", "ts_ms": 1715793600456},
    )
    fake.responses[("DELETE", "/portfolio/events/orders/o1")] = (
        200, {"order_id": "o1", "client_order_id": "c1", "reduced_by": "0.00", "ts_ms": 1715793660456})
    fake.responses[("POST", "/portfolio/events/orders/o1/amend")] = (
        200, {"order_id": "o1", "remaining_count": "8.00", "fill_count": "0.00", "ts_ms": 1715793660457})
    fake.responses[("POST", "/portfolio/events/orders/o1/decrease")] = (200, {"order_id": "o1", "remaining_count": "3.00", "ts_ms": 1715793660458})
    fake.responses[("DELETE", "/portfolio/events/orders")] = (204, None)
    buy_no = OrderRequest.for_outcome("KXBTCD-X", "buy", "no", Decimal("10"), Decimal("0.30"), client_order_id="c1",
                                      time_in_force="immediate_or_cancel")
    async with KalshiRestClient(url, creds, cfg=FAST) as c:
        ack = await c.create_order(buy_no)
        cancel = await c.cancel_order("o1", market_ticker="KXBTCD-X")
        amend = await c.amend_order("o1", AmendRequest(ticker="KXBTCD-X", side="ask", price=Decimal("0.71"), count=Decimal("8")))
        dec = await c.decrease_order("o1", reduce_to=Decimal("3"))
        await c.cancel_all_orders()
    assert fake.bodies[0] == {
        "ticker": "KXBTCD-X", "client_order_id": "c1", "side": "ask", "count": "10.00", "price": "0.7000",
        "time_in_force": "immediate_or_cancel", "self_trade_prevention_type": "taker_at_cross",
        "post_only": False, "reduce_only": False, "cancel_order_on_pause": False,
    }
    assert fake.bodies[1] == {"ticker": "KXBTCD-X", "side": "ask", "price": "0.7100", "count": "8.00"}
    assert fake.bodies[2] == {"reduce_to": "3.00"}
    assert ack.fill_count == Decimal("5.00") and ack.average_fill_price == Decimal("0.58") and ack.ts == 1715793600.456
    assert cancel.reduced_by == 0
    assert amend.remaining_count == Decimal(8) and dec.remaining_count == Decimal(3)
    cancel_q = [q for m, p, q, _ in fake.log if m == "DELETE" and p.endswith("/orders/o1")][0]
    assert cancel_q == {"market_ticker": "KXBTCD-X"}
    assert all(ok for *_, ok in fake.log)


def test_order_request_direction_table():
    """Legacy (action, side, price) -> V2 (book side, YES-leg price)."""
    cases = {
        ("buy", "yes", "0.40"): ("bid", "0.40"),
        ("sell", "no", "0.60"): ("bid", "0.40"),
        ("buy", "no", "0.60"): ("ask", "0.40"),
        ("sell", "yes", "0.40"): ("ask", "0.40"),
    }
    for (action, side, px), (book, yes_px) in cases.items():
        o = OrderRequest.for_outcome("T", action, side, Decimal(1), Decimal(px))
        assert (o.side, o.price) == (book, Decimal(yes_px))
    with pytest.raises(ValueError):
        OrderRequest(ticker="T", side="bid", count=Decimal("0.001"), price=Decimal("0.5"))
    with pytest.raises(ValueError):
        OrderRequest(ticker="T", side="bid", count=Decimal(1), price=Decimal("1.00"))
    with pytest.raises(ValueError):
        OrderRequest(ticker="T", side="bid", count=Decimal(1), price=Decimal("0.5"), time_in_force="immediate_or_cancel", expiration_time=1)
    a, b = OrderRequest(ticker="T", side="bid", count=Decimal(1), price=Decimal("0.5")), OrderRequest(ticker="T", side="bid", count=Decimal(1), price=Decimal("0.5"))
    assert a.client_order_id != b.client_order_id  # always idempotent


async def test_batch_per_item_errors_and_oversize(rest, creds):
    fake, url = rest
    fake.responses[("POST", "/portfolio/events/orders/batched")] = (
        201,
        {"orders": [
            {"order_id": "a", "client_order_id": "x", "fill_count": "0.00", "remaining_count": "1.00", "ts_ms": 1715793660456},
            {"order_id": "", "error": {"code": "invalid_order", "message": "bad price"}},
        ]},
    )
    fake.responses[("DELETE", "/portfolio/events/orders/batched")] = (
        200, {"orders": [{"order_id": "a", "reduced_by": "1.00", "ts_ms": 1715793660456}, {"order_id": "b", "reduced_by": "0", "error": {"code": "not_found", "message": "no"}}]})
    orders = [OrderRequest(ticker="T", side="bid", count=Decimal(1), price=Decimal("0.5")) for _ in range(2)]
    async with KalshiRestClient(url, creds, cfg=FAST) as c:
        res = await c.batch_create_orders(orders)
        canc = await c.batch_cancel_orders([CancelItem(order_id="a", market_ticker="T"), CancelItem(order_id="b")])
    assert res[0].order_id == "a" and isinstance(res[1], KalshiApiError) and res[1].code == "invalid_order"
    assert canc[0].reduced_by == 1 and isinstance(canc[1], KalshiApiError)
    assert fake.bodies[1] == {"orders": [{"order_id": "a", "market_ticker": "T"}, {"order_id": "b"}]}
    small = KalshiRestConfig(tier="basic", rate_fraction=0.1)  # write bucket holds 10 tokens
    async with KalshiRestClient(url, creds, cfg=small) as c:
        with pytest.raises(ValueError, match="split the batch"):
            await c.batch_create_orders(orders)


async def test_bad_item_skipped_rest_used(rest, creds):
    fake, url = rest
    bad = market("KXBTC-BAD", "KXBTC-26AUG2317", strike_type="between", floor=1, cap=2, yes_bid="zero")
    fake.markets.append(bad)
    async with KalshiRestClient(url, creds, cfg=FAST) as c:
        ms = await c.list_markets(series_ticker="KXBTC", status="open")
        assert c.bad.counts == {"market:bad_value": 1}
    assert [m.info.ticker for m in ms] == ["KXBTC-26AUG2317-B86875"]


async def test_status_filter_validated_client_side(rest, creds):
    fake, url = rest
    async with KalshiRestClient(url, creds, cfg=FAST) as c:
        with pytest.raises(ValueError, match="filter"):
            await c.list_markets(status="active")
    assert fake.log == []


async def test_recorder_gets_every_response(rest, creds):
    _fake, url = rest
    seen = []
    async with KalshiRestClient(url, creds, cfg=FAST, recorder=lambda s, t, text: seen.append((s, text))) as c:
        await c.get_exchange_status()
    assert seen[0][0] == "kalshi_rest"
    assert '"path": "/exchange/status"' in seen[0][1] and '"status": 200' in seen[0][1]


async def test_portfolio_endpoints_signed_and_parsed(rest, creds):
    fake, url = rest
    fake.responses[("GET", "/portfolio/balance")] = (200, {"balance": 10000, "balance_dollars": "100.0000", "portfolio_value": 0, "updated_ts": 1787000000})
    fake.responses[("GET", "/portfolio/positions")] = (200, {"cursor": "", "market_positions": [
        {"ticker": "T", "exchange_index": 2, "total_traded_dollars": "1.0", "position_fp": "3.00", "market_exposure_dollars": "1.5",
         "realized_pnl_dollars": "0", "fees_paid_dollars": "0.02", "last_updated_ts": "2026-08-20T10:00:00Z"},
        {"ticker": "BAD", "position_fp": "x"}], "event_positions": []})
    fake.responses[("GET", "/portfolio/orders")] = (200, {"cursor": None, "orders": [
        {"order_id": "o", "ticker": "T", "outcome_side": "yes", "book_side": "bid", "status": "executed", "yes_price_dollars": "0.40",
         "no_price_dollars": "0.60", "fill_count_fp": "3.00", "remaining_count_fp": "0.00", "initial_count_fp": "3.00", "client_order_id": "c"}]})
    fake.responses[("GET", "/portfolio/fills")] = (200, {"cursor": "", "fills": [
        {"fill_id": "f", "trade_id": "f", "order_id": "o", "ticker": "T", "market_ticker": "T", "outcome_side": "yes", "book_side": "bid",
         "count_fp": "3.00", "yes_price_dollars": "0.4000", "no_price_dollars": "0.6000", "is_taker": True, "fee_cost": "0.0504",
         "created_time": "2026-08-20T10:00:00Z"}]})
    fake.responses[("GET", "/portfolio/settlements")] = (200, {"cursor": "", "settlements": [
        {"ticker": "T", "event_ticker": "E", "market_result": "yes", "yes_count_fp": "3.00", "yes_total_cost_dollars": "1.2",
         "no_count_fp": "0.00", "no_total_cost_dollars": "0", "revenue": 300, "settled_time": "2026-08-20T11:00:00Z", "fee_cost": "0.0504"}]})
    async with KalshiRestClient(url, creds, cfg=FAST) as c:
        bal = await c.get_balance()
        pos = await c.get_positions()
        orders = await c.get_orders(status="executed")
        fills = await c.get_fills(ticker="T")
        sett = await c.get_settlements()
        assert c.bad.counts == {"position:bad_value": 1}
    assert bal.balance == D("100") and [p.ticker for p in pos] == ["T"]
    assert orders[0].status == "filled" and orders[0].price == D("0.40")
    assert fills[0].fee == D("0.0504") and fills[0].price == D("0.4")
    assert sett[0].revenue == D(3)
    assert all(ok for *_, ok in fake.log)
    assert [q.get("limit") for m, p, q, _ in fake.log if "/portfolio/" in p and not p.endswith("balance")] == ["1000"] * 4
