"""Conformance with Kalshi's published specs (read from ../shared/specs at test time):
every REST response the sim serves validates against OpenAPI 3.31.0 and every WS message
against the AsyncAPI 2.0.0 message payload schemas (jsonschema over resolved components)."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import trio
from sim_client import SimClient, order_body
from sim_specs import ASYNCAPI_VERSION, OPENAPI_VERSION, asyncapi, openapi, ws_schema_for
from trio_websocket import open_websocket_url

from kbot.sim import SimConfig, running_sim

Q = (int(time.time()) // 900 + 2) * 900  # a future quarter hour: the sim clock starts just before it


def _cfg(sim_data_dir, **kw) -> SimConfig:
    base = dict(speed=20.0, seed=3, start_epoch=Q - 40, data_dir=str(sim_data_dir), ladder_strikes=6, brackets=4, rate_limits=False)
    base.update(kw)
    return SimConfig(**base)


async def _poll(fn, timeout: float = 20.0, every: float = 0.05):
    with trio.fail_after(timeout):
        while True:
            v = await fn()
            if v:
                return v
            await trio.sleep(every)


async def test_rest_responses_validate_against_openapi(shared_specs, sim_data_dir):
    spec = openapi(str(shared_specs))
    assert spec.version == OPENAPI_VERSION  # the schema version these checks were made against
    checked: list[str] = []

    def check(r: httpx.Response, status: int, schema: str | None) -> Any:
        assert r.status_code == status, (r.request.method, r.request.url, r.status_code, r.text)
        if schema is None:
            return None
        body = r.json()
        spec.validate(schema, body)
        if schema == "ErrorResponse" and "error" in body:
            spec.validate("ErrorResponse", body["error"])
            assert body["error"]["code"]
        checked.append(f"{r.request.method} {r.request.url.path} {status}")
        return body

    async with running_sim(_cfg(sim_data_dir)) as ep, httpx.AsyncClient() as http:
        c = SimClient(ep, http)
        m15 = (await c.get("/markets", {"series_ticker": "KXBTC15M", "status": "open"}, signed=False)).json()["markets"][0]
        t15 = m15["ticker"]

        async def quoted():
            ob = (await c.get(f"/markets/{t15}/orderbook", signed=False)).json()["orderbook_fp"]
            return ob if ob["yes_dollars"] and ob["no_dollars"] else None

        ob = await _poll(quoted)
        yes_ask = f"{1 - float(ob['no_dollars'][-1][0]):.2f}"
        hourly = (await c.get("/markets", {"series_ticker": "KXBTCD", "status": "open"}, signed=False)).json()["markets"][0]["ticker"]

        # ---- V2 orders
        filled = check(await c.post("/portfolio/events/orders", order_body(t15, "bid", yes_ask, "3", "immediate_or_cancel", client_order_id="ioc-1")), 201, "CreateOrderV2Response")
        assert filled["fill_count"] != "0.00" and "average_fill_price" in filled
        rest = check(await c.post("/portfolio/events/orders", order_body(hourly, "bid", "0.01", "5", post_only=True, client_order_id="rest-1")), 201, "CreateOrderV2Response")
        check(await c.post("/portfolio/events/orders", order_body(hourly, "bid", "0.01", "5", client_order_id="rest-1")), 409, "ErrorResponse")
        oid = rest["order_id"]
        check(await c.post(f"/portfolio/events/orders/{oid}/amend", {"ticker": hourly, "side": "bid", "price": "0.02", "count": "6"}), 200, "AmendOrderV2Response")
        check(await c.post(f"/portfolio/events/orders/{oid}/decrease", {"reduce_by": "1", "market_ticker": hourly}), 200, "DecreaseOrderV2Response")
        check(await c.get(f"/portfolio/orders/{oid}"), 200, "GetOrderResponse")
        check(await c.delete(f"/portfolio/events/orders/{oid}", {"market_ticker": hourly}), 200, "CancelOrderV2Response")
        batch = check(
            await c.post("/portfolio/events/orders/batched", {"orders": [order_body(hourly, "bid", "0.01", "2"), order_body(hourly, "bid", "0.015", "2")]}),
            201,
            "BatchCreateOrdersV2Response",
        )
        assert batch["orders"][0]["order_id"] and batch["orders"][1]["error"]["code"] == "invalid_price"
        good = batch["orders"][0]["order_id"]
        check(
            await c.delete("/portfolio/events/orders/batched", body={"orders": [{"order_id": good, "market_ticker": hourly}, {"order_id": "nope"}]}),
            200,
            "BatchCancelOrdersV2Response",
        )
        check(await c.post("/portfolio/events/orders", order_body(hourly, "bid", "0.01", "1")), 201, "CreateOrderV2Response")
        check(await c.delete("/portfolio/events/orders"), 204, None)

        # ---- let the 15M market settle
        async def finalized():
            m = (await c.get(f"/markets/{t15}", signed=False)).json()["market"]
            return m if m["status"] == "finalized" else None

        fin = await _poll(finalized)
        assert fin["result"] in ("yes", "no") and fin["settlement_value_dollars"] in ("1.0000", "0.0000")

        # ---- public market data
        check(await c.get("/exchange/status", signed=False), 200, "ExchangeStatus")
        check(await c.get("/series", signed=False), 200, "GetSeriesListResponse")
        check(await c.get("/series/KXBTCD", {"include_volume": "true"}, signed=False), 200, "GetSeriesResponse")
        check(await c.get("/series/NOPE", signed=False), 404, "ErrorResponse")
        for status in ("unopened", "open", "closed", "settled", None):
            params = {"limit": "50"} | ({"status": status} if status else {})
            check(await c.get("/markets", params, signed=False), 200, "GetMarketsResponse")
        page1 = check(await c.get("/markets", {"limit": "5"}, signed=False), 200, "GetMarketsResponse")
        check(await c.get("/markets", {"limit": "5", "cursor": page1["cursor"]}, signed=False), 200, "GetMarketsResponse")
        check(await c.get("/markets", {"status": "active"}, signed=False), 400, "ErrorResponse")  # object status, not a filter
        check(await c.get("/markets", {"status": "open,closed"}, signed=False), 400, "ErrorResponse")  # one value only
        check(await c.get("/markets", {"status": "settled", "min_close_ts": "1"}, signed=False), 400, "ErrorResponse")
        check(await c.get(f"/markets/{t15}", signed=False), 200, "GetMarketResponse")
        check(await c.get("/markets/NOPE", signed=False), 404, "ErrorResponse")
        check(await c.get(f"/markets/{hourly}/orderbook", {"depth": "3"}, signed=False), 200, "GetMarketOrderbookResponse")
        check(await c.get("/markets/orderbooks", [("tickers", hourly), ("tickers", t15)], signed=False), 200, "GetMarketOrderbooksResponse")
        check(await c.get("/markets/trades", {"ticker": t15}, signed=False), 200, "GetTradesResponse")
        for params in ({}, {"with_nested_markets": "true", "status": "open"}, {"series_ticker": "KXBTC", "status": "closed"}):
            check(await c.get("/events", params, signed=False), 200, "GetEventsResponse")
        check(await c.get(f"/events/{fin['event_ticker']}", {"with_nested_markets": "true"}, signed=False), 200, "GetEventResponse")

        # ---- portfolio
        bal = check(await c.get("/portfolio/balance"), 200, "GetBalanceResponse")
        assert {b["exchange_index"] for b in bal["balance_breakdown"]} == {0, 2}
        check(await c.get("/portfolio/balance", {"exchange_index": "2"}), 200, "GetBalanceResponse")
        pos = check(await c.get("/portfolio/positions", {"settlement_status": "all"}), 200, "GetPositionsResponse")
        assert any(p["ticker"] == t15 for p in pos["market_positions"])
        check(await c.get("/portfolio/orders"), 200, "GetOrdersResponse")
        check(await c.get("/portfolio/orders", {"status": "canceled", "limit": "2"}), 200, "GetOrdersResponse")
        fills = check(await c.get("/portfolio/fills"), 200, "GetFillsResponse")
        assert fills["fills"]
        sett = check(await c.get("/portfolio/settlements"), 200, "GetSettlementsResponse")
        assert any(s["ticker"] == t15 for s in sett["settlements"])
        check(await c.get("/account/limits"), 200, "GetAccountApiLimitsResponse")

        # ---- errors
        check(await c.get("/portfolio/balance", signed=False), 401, "ErrorResponse")
        check(await c.post("/portfolio/orders", {"ticker": t15}), 410, "ErrorResponse")
        check(await c.post("/portfolio/events/orders", order_body(t15, "bid", "0.50")), 400, "ErrorResponse")  # closed: MARKET_INACTIVE
        check(await c.delete("/portfolio/events/orders/unknown", {"market_ticker": hourly}), 404, "ErrorResponse")

    assert len(checked) >= 40


async def test_flat_error_style(sim_data_dir):
    async with running_sim(_cfg(sim_data_dir, error_style="flat")) as ep, httpx.AsyncClient() as http:
        r = await http.get(ep.rest_url + "/markets", params={"status": "active"})
        assert r.status_code == 400 and r.json()["code"] == "invalid_parameters" and "message" in r.json()


async def test_ws_messages_validate_against_asyncapi(shared_specs, sim_data_dir):
    spec = asyncapi(str(shared_specs))
    assert spec.version == ASYNCAPI_VERSION
    seen: dict[str, int] = {}

    async with running_sim(_cfg(sim_data_dir, start_epoch=Q - 70)) as ep, httpx.AsyncClient() as http:
        c = SimClient(ep, http)
        markets = (await c.get("/markets", {"status": "open", "limit": "200"}, signed=False)).json()["markets"]
        t15 = next(m["ticker"] for m in markets if m["ticker"].startswith("KXBTC15M"))
        others = [m["ticker"] for m in markets if not m["ticker"].startswith("KXBTC15M")][:4]

        async def collect(ws, until: float) -> None:
            with trio.move_on_at(until):
                while True:
                    msg = json.loads(await ws.get_message())
                    spec.validate(ws_schema_for(msg), msg)
                    key = msg["type"] if msg["type"] != "market_lifecycle_v2" else f"lifecycle:{msg['msg']['event_type']}"
                    seen[key] = seen.get(key, 0) + 1

        async def trade_some() -> None:
            async def quoted():
                ob = (await c.get(f"/markets/{t15}/orderbook", signed=False)).json()["orderbook_fp"]
                return ob if ob["no_dollars"] else None

            ob = await _poll(quoted)
            ask = f"{1 - float(ob['no_dollars'][-1][0]):.2f}"
            r = await c.post("/portfolio/events/orders", order_body(t15, "bid", ask, "2", "immediate_or_cancel", client_order_id="ws-1"))
            assert r.status_code == 201, r.text
            r = await c.post("/portfolio/events/orders", order_body(others[0], "bid", "0.01", "1", client_order_id="ws-2"))
            assert r.status_code == 201, r.text

        for use_yes in (False, True):
            async with open_websocket_url(ep.ws_url, extra_headers=c.ws_headers()) as ws:
                cmds = [
                    {"id": 1, "cmd": "subscribe", "params": {"channels": ["orderbook_delta"], "market_tickers": [t15, *others], "use_yes_price": use_yes}},
                    {"id": 2, "cmd": "subscribe", "params": {"channels": ["ticker"], "market_tickers": [t15, *others], "send_initial_snapshot": True}},
                    {"id": 3, "cmd": "subscribe", "params": {"channels": ["trade", "fill", "user_orders", "market_positions", "market_lifecycle_v2"]}},
                    {"id": 4, "cmd": "subscribe", "params": {"channels": ["cfbenchmarks_value", "cfbenchmarks_value_5hz"], "index_ids": ["BRTI"]}},
                    {"id": 5, "cmd": "list_subscriptions"},
                    {"id": 6, "cmd": "update_subscription", "params": {"sid": 1, "action": "get_snapshot", "market_tickers": [t15]}},
                    {"id": 7, "cmd": "update_subscription", "params": {"sids": [1], "action": "delete_markets", "market_tickers": [others[-1]]}},
                    {"id": 8, "cmd": "update_subscription", "params": {"sids": [1], "action": "add_markets", "market_tickers": [others[-1]]}},
                    {"id": 9, "cmd": "update_subscription", "params": {"sid": 8, "action": "indexlist"}},
                    {"id": 10, "cmd": "update_subscription", "params": {"sid": 8, "action": "subscribe_indices", "index_ids": ["BRTI"]}},
                    {"id": 11, "cmd": "subscribe", "params": {"channels": ["nonsense"]}},
                    {"id": 12, "cmd": "frobnicate"},
                    {"id": 13, "cmd": "unsubscribe", "params": {"sids": [99]}},
                ]
                for cmd in cmds:
                    await ws.send_message(json.dumps(cmd))
                async with trio.open_nursery() as n:
                    n.start_soon(collect, ws, trio.current_time() + (4.5 if not use_yes else 1.5))
                    if not use_yes:
                        await trade_some()
                await ws.send_message(json.dumps({"id": 14, "cmd": "unsubscribe", "params": {"sids": [2]}}))
                await collect(ws, trio.current_time() + 0.3)

    expected = {
        "subscribed", "ok", "error", "unsubscribed", "orderbook_snapshot", "orderbook_delta", "ticker", "trade", "fill",
        "user_order", "market_position", "cfbenchmarks_value", "cfbenchmarks_value_5hz", "cfbenchmarks_value_indexlist",
        "lifecycle:created", "lifecycle:metadata_updated", "lifecycle:determined", "lifecycle:settled", "event_lifecycle",
    }
    assert expected <= set(seen), expected - set(seen)
