"""Loopback stand-ins for Kalshi's REST and WebSocket APIs and the spot exchanges, for tests.

- ``FakeRest``: a Starlette app served by Hypercorn on Trio at ``http://127.0.0.1:PORT/trade-api/v2``.
  It verifies the RSA-PSS signature of *every* request that carries one (and, with
  ``require_auth``, demands one), serves markets/series/events/orderbooks/portfolio from plain dicts,
  paginates with cursors, and can be scripted to fail (``faults``: a list of (path prefix, status,
  body) consumed in order).
- ``FakeWs``: a trio-websocket server at ``ws://127.0.0.1:PORT/trade-api/ws/v2`` that checks the
  signed upgrade, answers subscribe / update_subscription / unsubscribe like Kalshi, numbers
  frames per sid, and lets the test push frames, skip a seq, send raw text or drop connections.

Payloads are hand-written from the documented wire formats (../shared/reference, the specs).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import trio
import trio_websocket
from hypercorn.config import Config as HyperConfig
from hypercorn.trio import serve
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from kbot.venues.kalshi import auth

PREFIX = "/trade-api/v2"


def market(
    ticker: str,
    event: str,
    *,
    strike_type: str | None = "greater",
    floor: float | None = 86749.99,
    cap: float | None = None,
    close: str = "2099-08-23T21:00:00Z",
    status: str = "active",
    yes_bid: str = "0.4500",
    yes_ask: str = "0.4700",
    result: str = "",
    settlement_value: str | None = None,
) -> dict[str, Any]:
    """A Market object in the 2026 wire shape (fields as in the reference §3.4)."""
    m: dict[str, Any] = {
        "ticker": ticker,
        "event_ticker": event,
        "market_type": "binary",
        "title": "Bitcoin price?",
        "yes_sub_title": "$86,750 or above",
        "no_sub_title": "$86,750 or above",
        "created_time": "2026-08-22T00:00:00Z",
        "updated_time": "2026-08-22T00:00:01Z",
        "open_time": "2026-08-22T21:00:00Z",
        "close_time": close,
        "expected_expiration_time": close,
        "expiration_time": close,
        "latest_expiration_time": close,
        "settlement_timer_seconds": 60,
        "status": status,
        "notional_value_dollars": "1.0000",
        "yes_bid_dollars": yes_bid,
        "yes_ask_dollars": yes_ask,
        "no_bid_dollars": "0.5300",
        "no_ask_dollars": "0.5500",
        "yes_bid_size_fp": "120.00",
        "yes_ask_size_fp": "35.50",
        "last_price_dollars": "0.4600",
        "previous_yes_bid_dollars": "0.4400",
        "previous_yes_ask_dollars": "0.4800",
        "previous_price_dollars": "0.4500",
        "volume_fp": "1234.00",
        "volume_24h_fp": "100.00",
        "open_interest_fp": "987.00",
        "result": result,
        "can_close_early": True,
        "expiration_value": "",
        "rules_primary": "If the simple average of the sixty seconds of CF Benchmarks' BRTI ...",
        "rules_secondary": "",
        "price_level_structure": "linear_cent",
        "price_ranges": [{"start": "0.0000", "end": "1.0000", "step": "0.0100"}],
        "exchange_index": 2,
    }
    if strike_type is not None:
        m["strike_type"] = strike_type
    m["floor_strike"] = floor
    if cap is not None:
        m["cap_strike"] = cap
    if settlement_value is not None:
        m["settlement_value_dollars"] = settlement_value
    return m


def series(ticker: str, *, fee_type: str = "quadratic", fee_multiplier: float = 1) -> dict[str, Any]:
    return {
        "ticker": ticker,
        "frequency": "hourly",
        "title": f"{ticker} title",
        "category": "Crypto",
        "categories": ["Crypto"],
        "tags": ["BTC"],
        "settlement_sources": [{"name": "CF Benchmarks", "url": "https://www.cfbenchmarks.com/"}],
        "contract_url": "",
        "contract_terms_url": "",
        "fee_type": fee_type,
        "fee_multiplier": fee_multiplier,
        "additional_prohibitions": [],
    }


def event(event_ticker: str, series_ticker: str, **extra: Any) -> dict[str, Any]:
    return {
        "event_ticker": event_ticker,
        "series_ticker": series_ticker,
        "sub_title": "",
        "title": "Bitcoin price?",
        "collateral_return_type": "",
        "mutually_exclusive": False,
        "available_on_brokers": False,
        "settlement_sources": [],
        **extra,
    }


class FakeRest:
    def __init__(self, public_key: Any = None, *, require_auth: bool = False, page_size: int = 2) -> None:
        self.public_key = public_key
        self.require_auth = require_auth
        self.page_size = page_size
        self.markets: list[dict[str, Any]] = []  # every market; filtered by query
        self.series: dict[str, dict[str, Any]] = {}
        self.events: list[dict[str, Any]] = []
        self.orderbooks: dict[str, dict[str, Any]] = {}
        self.responses: dict[tuple[str, str], tuple[int, Any]] = {}  # (METHOD, path) -> (status, body)
        self.faults: list[tuple[str, int, Any]] = []  # (path prefix, status, body), consumed in order
        self.log: list[tuple[str, str, dict[str, str], bool | None]] = []  # method, path, query, signed ok
        self.bodies: list[Any] = []
        self.bad_signatures = 0
        self.repeat_cursor = False
        self.exchange_status: Any = {"exchange_active": True, "trading_active": True}
        self.on_request: Callable[[Request], None] | None = None

    # -------------------------------------------------------------- helpers

    def _check_sig(self, request: Request) -> bool | None:
        h = request.headers
        if auth.SIG_HEADER not in h:
            return None
        if self.public_key is None:
            return True
        return auth.verify(self.public_key, h[auth.SIG_HEADER], h[auth.TS_HEADER], request.method, request.url.path)

    def _filter(self, q: dict[str, str]) -> list[dict[str, Any]]:
        out = self.markets
        if "series_ticker" in q:
            out = [m for m in out if m["event_ticker"].split("-")[0] == q["series_ticker"] or m.get("_series") == q["series_ticker"]]
        status = q.get("status")
        if status:
            wanted = {
                "open": {"active", "inactive"},
                "unopened": {"initialized"},
                "paused": {"inactive"},
                "closed": {"closed", "determined", "disputed", "amended"},
                "settled": {"finalized"},
            }[status]
            out = [m for m in out if m["status"] in wanted]
        if "tickers" in q:
            want = set(q["tickers"].split(","))
            out = [m for m in out if m["ticker"] in want]
        return [{k: v for k, v in m.items() if not k.startswith("_")} for m in out]

    def _page(self, items: list[Any], key: str, q: dict[str, str]) -> dict[str, Any]:
        start = int(q.get("cursor") or 0)
        page = items[start : start + self.page_size]
        nxt = start + self.page_size
        cursor = "" if nxt >= len(items) else str(nxt)
        if self.repeat_cursor and cursor:
            cursor = "0"  # a buggy server that loops
        return {key: page, "cursor": cursor}

    # -------------------------------------------------------------- app

    async def handle(self, request: Request) -> Response:
        path = request.url.path
        q = dict(request.query_params)
        ok = self._check_sig(request)
        self.log.append((request.method, path, q, ok))
        body_bytes = await request.body()
        if body_bytes:
            self.bodies.append(json.loads(body_bytes))
        if self.on_request is not None:
            self.on_request(request)
        if ok is False:
            self.bad_signatures += 1
            return JSONResponse({"error": {"code": "unauthorized", "message": "invalid signature"}}, status_code=401)
        if ok is None and self.require_auth:
            return JSONResponse({"error": {"code": "unauthorized", "message": "missing signature"}}, status_code=401)
        for i, (prefix, status, body) in enumerate(self.faults):
            if path.startswith(PREFIX + prefix):
                del self.faults[i]
                if isinstance(body, str):
                    return PlainTextResponse(body, status_code=status)
                return JSONResponse(body, status_code=status)
        rel = path[len(PREFIX) :]
        canned = self.responses.get((request.method, rel))
        if canned is not None:
            status, body = canned
            return Response(status_code=status) if body is None else JSONResponse(body, status_code=status)
        if rel == "/exchange/status":
            return JSONResponse(self.exchange_status)
        if rel == "/markets":
            if q.get("status") == "active":
                return JSONResponse({"error": {"code": "bad_request", "message": "bad request", "details": "invalid status filter"}}, status_code=400)
            return JSONResponse(self._page(self._filter(q), "markets", q))
        if rel.startswith("/markets/") and rel.endswith("/orderbook"):
            t = rel.split("/")[2]
            if t not in self.orderbooks:
                return JSONResponse({"code": "not_found", "message": "market not found", "details": ""}, status_code=404)
            return JSONResponse(self.orderbooks[t])
        if rel.startswith("/markets/"):
            t = rel.split("/")[2]
            for m in self.markets:
                if m["ticker"] == t:
                    return JSONResponse({"market": {k: v for k, v in m.items() if not k.startswith("_")}})
            return JSONResponse({"error": {"code": "not_found", "message": "market not found"}}, status_code=404)
        if rel.startswith("/series/"):
            t = rel.split("/")[2]
            if t in self.series:
                return JSONResponse({"series": self.series[t]})
            return JSONResponse({"error": {"code": "not_found", "message": "series not found"}}, status_code=404)
        if rel == "/events":
            evs = [e for e in self.events if "series_ticker" not in q or e["series_ticker"] == q["series_ticker"]]
            return JSONResponse(self._page(evs, "events", q))
        if rel.startswith("/events/"):
            t = rel.split("/")[2]
            for e in self.events:
                if e["event_ticker"] == t:
                    nested = [m for m in self._filter({}) if m["event_ticker"] == t]
                    return JSONResponse({"event": {**e, "markets": nested}, "markets": []})
            return JSONResponse({"error": {"code": "not_found", "message": "event not found"}}, status_code=404)
        return JSONResponse({"error": {"code": "not_found", "message": f"no route {rel}"}}, status_code=404)

    def app(self) -> Starlette:
        return Starlette(routes=[Route(PREFIX + "/{rest:path}", self.handle, methods=["GET", "POST", "DELETE", "PUT"])])


async def serve_app(nursery: trio.Nursery, app: Any) -> str:
    """Serve an ASGI app on a free loopback port; returns ``http://127.0.0.1:PORT``."""
    cfg = HyperConfig()
    cfg.bind = ["127.0.0.1:0"]
    cfg.accesslog = None
    cfg.errorlog = None
    cfg.graceful_timeout = 0.1
    binds = await nursery.start(serve, app, cfg)
    return binds[0]


async def start_rest(nursery: trio.Nursery, fake: FakeRest) -> str:
    return (await serve_app(nursery, fake.app())) + PREFIX


# ----------------------------------------------------------------------------- WebSocket


class FakeWs:
    """Kalshi-like WS endpoint. ``conns`` holds the live connections (newest last)."""

    def __init__(self, public_key: Any = None) -> None:
        self.public_key = public_key
        self.conns: list[FakeWsConn] = []
        self.handshakes: list[bool | None] = []
        self.reject_status: int | None = None
        self.refuse_channels: dict[str, tuple[int, str]] = {}  # channel -> (code, msg)
        self.connected = trio.Event()
        self.new_conn = trio.Event()

    async def handler(self, request: trio_websocket.WebSocketRequest) -> None:
        headers = {k.decode().lower(): v.decode() for k, v in request.headers}
        ok: bool | None = None
        if auth.SIG_HEADER.lower() in headers:
            ok = self.public_key is None or auth.verify(
                self.public_key, headers[auth.SIG_HEADER.lower()], headers[auth.TS_HEADER.lower()], "GET", request.path
            )
        self.handshakes.append(ok)
        if self.reject_status is not None or not ok:
            await request.reject(self.reject_status or 401, body=b'{"error":{"code":"unauthorized"}}')
            return
        ws = await request.accept()
        conn = FakeWsConn(self, ws)
        self.conns.append(conn)
        self.connected.set()
        self.new_conn.set()
        await conn.serve()

    async def wait_conn(self, n: int) -> FakeWsConn:
        while len(self.conns) < n:
            self.new_conn = trio.Event()
            await self.new_conn.wait()
        return self.conns[n - 1]


class FakeWsConn:
    def __init__(self, server: FakeWs, ws: trio_websocket.WebSocketConnection) -> None:
        self.server = server
        self.ws = ws
        self.cmds: list[dict[str, Any]] = []
        self.subs: dict[int, dict[str, Any]] = {}  # sid -> {"channel", "tickers", "seq", "params"}
        self.next_sid = 1
        self.changed = trio.Event()
        self.closed = False

    async def send(self, frame: Any) -> None:
        await self.ws.send_message(frame if isinstance(frame, str) else json.dumps(frame))

    def sid_of(self, channel: str) -> int | None:
        for sid, s in self.subs.items():
            if s["channel"] == channel:
                return sid
        return None

    def next_seq(self, sid: int, skip: int = 0) -> int:
        s = self.subs[sid]
        s["seq"] += 1 + skip
        return s["seq"]

    async def push(self, channel: str, type_: str, msg: dict[str, Any], *, skip: int = 0, seq: bool = True) -> None:
        sid = self.sid_of(channel)
        assert sid is not None, f"no subscription for {channel}"
        frame: dict[str, Any] = {"type": type_, "sid": sid, "msg": msg}
        if seq:
            frame["seq"] = self.next_seq(sid, skip)
        await self.send(frame)

    async def snapshot(self, ticker: str, yes: list[list[str]], no: list[list[str]], *, cmd_id: int | None = None) -> None:
        msg: dict[str, Any] = {"market_ticker": ticker, "market_id": "id-" + ticker}
        if yes:
            msg["yes_dollars_fp"] = yes
        if no:
            msg["no_dollars_fp"] = no
        sid = self.sid_of("orderbook_delta")
        assert sid is not None
        frame: dict[str, Any] = {"type": "orderbook_snapshot", "sid": sid, "seq": self.next_seq(sid), "msg": msg}
        if cmd_id is not None:
            frame["id"] = cmd_id
        await self.send(frame)

    async def delta(self, ticker: str, side: str, price: str, delta: str, *, skip: int = 0) -> None:
        await self.push(
            "orderbook_delta",
            "orderbook_delta",
            {"market_ticker": ticker, "market_id": "id-" + ticker, "price_dollars": price, "delta_fp": delta, "side": side,
             "ts_ms": int(time.time() * 1000)},  # live: stamped now, as Kalshi does
            skip=skip,
        )

    async def wait_cmd(self, pred: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        while True:
            for c in self.cmds:
                if pred(c):
                    return c
            self.changed = trio.Event()
            await self.changed.wait()

    async def serve(self) -> None:
        try:
            while True:
                text = await self.ws.get_message()
                cmd = json.loads(text)
                self.cmds.append(cmd)
                await self._handle(cmd)
                self.changed.set()
        except trio_websocket.ConnectionClosed:
            self.closed = True
            self.changed.set()

    async def _handle(self, cmd: dict[str, Any]) -> None:
        cid, p = cmd.get("id"), cmd.get("params") or {}
        if cmd["cmd"] == "subscribe":
            for ch in p["channels"]:
                if ch in self.server.refuse_channels:
                    code, text = self.server.refuse_channels[ch]
                    await self.send({"id": cid, "type": "error", "msg": {"code": code, "msg": text}})
                    continue
                sid = self.next_sid
                self.next_sid += 1
                self.subs[sid] = {"channel": ch, "tickers": list(p.get("market_tickers") or []), "seq": 0, "params": p}
                await self.send({"id": cid, "type": "subscribed", "msg": {"channel": ch, "sid": sid}})
        elif cmd["cmd"] == "update_subscription":
            sid = p["sids"][0] if "sids" in p else p["sid"]
            s = self.subs.get(sid)
            if s is None:
                await self.send({"id": cid, "type": "error", "msg": {"code": 7, "msg": "Unknown subscription ID"}})
                return
            if p["action"] == "add_markets":
                s["tickers"] = sorted(set(s["tickers"]) | set(p["market_tickers"]))
            elif p["action"] == "delete_markets":
                s["tickers"] = sorted(set(s["tickers"]) - set(p["market_tickers"]))
            if p["action"] != "get_snapshot":
                await self.send({"id": cid, "sid": sid, "seq": self.next_seq(sid), "type": "ok", "msg": {"market_tickers": s["tickers"]}})
        elif cmd["cmd"] == "unsubscribe":
            for sid in p["sids"]:
                s = self.subs.pop(sid, None)
                if s is not None:
                    await self.send({"id": cid, "sid": sid, "seq": s["seq"] + 1, "type": "unsubscribed"})


async def start_ws(nursery: trio.Nursery, fake: FakeWs) -> str:
    server = await nursery.start(trio_websocket.serve_websocket, fake.handler, "127.0.0.1", 0, None)
    return f"ws://127.0.0.1:{server.port}/trade-api/ws/v2"
