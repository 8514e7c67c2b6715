"""The sim's Kalshi REST surface as Starlette routes under ``/trade-api/v2``.

Every request passes one guard, in this order:

1. **faults** (``slow``, ``http_500``/``http_503``, ``http_429``), as a flaky gateway would;
2. **authentication**: portfolio/order endpoints need a valid signature (401 with a
   Kalshi-shaped body otherwise); public market data works unsigned, as on Kalshi;
3. **rate limit**: the key's read or write token bucket (unsigned requests: per peer address);
   429 with the plain ``{"error": "too many requests"}`` body and no headers.

Retired V1 order endpoints answer 410 ``deprecated_v1_order_endpoint``. Collection URLs with a
trailing slash get a 301 to the form without it. ``/sim/clock`` (outside Kalshi's API)
advertises the sim clock for a bot in another process.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import attrs
import trio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route, WebSocketRoute

from kbot.sim import rest_portfolio as pf
from kbot.sim import rest_public as pub
from kbot.sim.auth import AuthError
from kbot.sim.http_util import ApiError, Query, error_response, json_response
from kbot.sim.ratelimit import cost_of

if TYPE_CHECKING:
    from kbot.sim.venue import SimVenue

PREFIX = "/trade-api/v2"

Handler = Callable[..., Any]


async def _body(request: Request) -> Any:
    raw = await request.body()
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise ApiError(400, "invalid_parameters", "request body is not valid JSON") from exc


def _client(request: Request) -> str:
    return f"ip:{request.client.host}" if request.client else "ip:?"


def _n_items(body: Any) -> int:
    if isinstance(body, dict) and isinstance(body.get("orders"), list):
        return len(body["orders"])
    return 1


@attrs.frozen(slots=True)
class Req:
    """What a handler gets: query, signed-in member (private routes), path parameters, JSON body."""

    q: Query
    user: str | None
    path: dict[str, str]
    body: Any


def make_endpoint(
    venue: SimVenue, handler: Handler, *, private: bool, status: int = 200, with_body: bool = False
) -> Callable[[Request], Awaitable[Response]]:
    """Wrap ``handler(venue, Req)`` in the guard described above."""

    async def endpoint(request: Request) -> Response:
        try:
            await _faults(venue, request)
            key = user = None
            if private:
                key, user = _verify(venue, request)
            body = await _body(request) if with_body else None
            bucket, cost = cost_of(request.method, request.url.path[len(PREFIX) :], _n_items(body))
            if not venue.limiter.allow(key or _client(request), bucket, cost, trio.current_time()):
                raise ApiError(429, "too_many_requests", "too many requests")
            venue.sync()
            params = request.query_params
            q = Query(params, {k: params.getlist(k) for k in params})
            result = handler(venue, Req(q, user, dict(request.path_params), body))
            if request.method != "GET" and venue.faults.roll("lost_reply", "kalshi") is not None:
                raise ApiError(503, "service_unavailable", "simulated fault: applied, answer lost")
            venue.stats["rest_ok"] += 1
            if status == 204:
                return Response(status_code=204)
            return json_response(result, status)
        except ApiError as exc:
            venue.stats[f"rest_{exc.status}"] += 1
            return error_response(exc, venue.config.error_style)
        except Exception as exc:
            venue.stats["rest_500"] += 1
            venue.bad_input.record(f"rest:{type(exc).__name__}", f"{request.method} {request.url.path}", str(exc))
            return error_response(ApiError(500, "internal_server_error", "internal error"), venue.config.error_style)

    return endpoint


def _verify(venue: SimVenue, request: Request) -> tuple[str, str]:
    try:
        return venue.keys.verify(
            request.headers, request.method, request.url.path, wall_now=venue.wall_time(), skew_s=venue.config.auth_skew_s
        )
    except AuthError as exc:
        raise ApiError(401, exc.code, exc.message) from exc


async def _faults(venue: SimVenue, request: Request) -> None:
    f = venue.faults
    slow = f.roll("slow", "kalshi")
    if slow is not None and slow.delay_s > 0:
        await trio.sleep(slow.delay_s)
    for kind, status, code in (("http_500", 500, "internal_server_error"), ("http_503", 503, "service_unavailable")):
        if f.roll(kind, "kalshi") is not None:
            raise ApiError(status, code, "simulated fault")
    if f.roll("http_429", "kalshi") is not None:
        raise ApiError(429, "too_many_requests", "too many requests")


def _legacy(venue: SimVenue) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        try:
            _verify(venue, request)
            raise ApiError(410, "deprecated_v1_order_endpoint", "Please switch to V2")
        except ApiError as exc:
            return error_response(exc, venue.config.error_style)

    return endpoint


def build_app(venue: SimVenue, ws_endpoint: Callable[..., Awaitable[None]], feed_routes: list[Any]) -> Starlette:
    P = PREFIX

    def pub_route(path: str, handler: Handler) -> Route:
        return Route(P + path, make_endpoint(venue, handler, private=False), methods=["GET"])

    def priv(path: str, handler: Handler, method: str = "GET", *, status: int = 200, body: bool = False) -> Route:
        return Route(P + path, make_endpoint(venue, handler, private=True, status=status, with_body=body), methods=[method])

    async def sim_clock(request: Request) -> Response:
        return json_response(venue.clock.advertise() if hasattr(venue.clock, "advertise") else {"epoch": venue.clock.now(), "speed": venue.clock.speed})

    async def sim_status(request: Request) -> Response:
        return json_response(venue.status())

    async def sim_faults(request: Request) -> Response:
        if request.method == "POST":
            spec = (await request.body()).decode() or request.query_params.get("spec", "")
            try:
                venue.arm_faults(spec)
            except ValueError as exc:
                return PlainTextResponse(str(exc), status_code=400)
        return json_response({"faults": venue.faults.describe(), "fired": dict(venue.faults.counts)})

    legacy = _legacy(venue)
    routes = [
        pub_route("/exchange/status", lambda v, r: pub.exchange_status(v, r.q)),
        pub_route("/series", lambda v, r: pub.series_list(v, r.q)),
        pub_route("/series/{series_ticker}", lambda v, r: pub.series_one(v, r.q, r.path["series_ticker"])),
        pub_route("/events", lambda v, r: pub.events(v, r.q)),
        pub_route("/events/{event_ticker}", lambda v, r: pub.event_one(v, r.q, r.path["event_ticker"])),
        pub_route("/markets", lambda v, r: pub.markets(v, r.q)),
        pub_route("/markets/trades", lambda v, r: pub.trades(v, r.q)),
        pub_route("/markets/orderbooks", lambda v, r: pub.orderbooks(v, r.q)),
        pub_route("/markets/{ticker}", lambda v, r: pub.market_one(v, r.q, r.path["ticker"])),
        pub_route("/markets/{ticker}/orderbook", lambda v, r: pub.orderbook(v, r.q, r.path["ticker"])),
        priv("/portfolio/balance", lambda v, r: pf.balance(v, r.q, r.user)),
        priv("/portfolio/positions", lambda v, r: pf.positions(v, r.q, r.user)),
        priv("/portfolio/fills", lambda v, r: pf.fills(v, r.q, r.user)),
        priv("/portfolio/settlements", lambda v, r: pf.settlements(v, r.q, r.user)),
        priv("/portfolio/orders", lambda v, r: pf.orders(v, r.q, r.user)),
        priv("/portfolio/orders/{order_id}", lambda v, r: pf.order_one(v, r.q, r.user, r.path["order_id"])),
        priv("/account/limits", lambda v, r: v.limiter.limits_json()),
        priv("/portfolio/events/orders", lambda v, r: pf.create(v, r.user, r.body), "POST", status=201, body=True),
        priv("/portfolio/events/orders", lambda v, r: pf.cancel_all(v, r.user, r.q), "DELETE", status=204),
        priv("/portfolio/events/orders/batched", lambda v, r: pf.batch_create(v, r.user, r.body), "POST", status=201, body=True),
        priv("/portfolio/events/orders/batched", lambda v, r: pf.batch_cancel(v, r.user, r.body), "DELETE", body=True),
        priv("/portfolio/events/orders/{order_id}", lambda v, r: pf.cancel(v, r.user, r.path["order_id"], r.q), "DELETE"),
        priv(
            "/portfolio/events/orders/{order_id}/amend",
            lambda v, r: pf.amend(v, r.user, r.path["order_id"], r.q, r.body),
            "POST",
            body=True,
        ),
        priv(
            "/portfolio/events/orders/{order_id}/decrease",
            lambda v, r: pf.decrease(v, r.user, r.path["order_id"], r.q, r.body),
            "POST",
            body=True,
        ),
        # retired V1 order mutations
        Route(P + "/portfolio/orders", legacy, methods=["POST"]),
        Route(P + "/portfolio/orders/batched", legacy, methods=["POST", "DELETE"]),
        Route(P + "/portfolio/orders/{order_id}", legacy, methods=["DELETE"]),
        Route(P + "/portfolio/orders/{order_id}/decrease", legacy, methods=["POST"]),
        Route(P + "/portfolio/orders/{order_id}/amend", legacy, methods=["POST"]),
        # outside Kalshi's API
        Route("/sim/clock", sim_clock, methods=["GET"]),
        Route("/sim/status", sim_status, methods=["GET"]),
        Route("/sim/faults", sim_faults, methods=["GET", "POST"]),
        WebSocketRoute("/trade-api/ws/v2", ws_endpoint),
        *feed_routes,
    ]
    app = Starlette(routes=routes)
    app.router.redirect_slashes = False
    return _TrailingSlash(app)  # type: ignore[return-value]


class _TrailingSlash:
    """Kalshi answers collection URLs with a trailing slash with a 301 to the bare form."""

    def __init__(self, app: Starlette) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and path.startswith(PREFIX + "/") and path.endswith("/"):
            qs = scope.get("query_string", b"").decode()
            url = path.rstrip("/") + (f"?{qs}" if qs else "")
            await RedirectResponse(url, status_code=301)(scope, receive, send)
            return
        await self.app(scope, receive, send)
