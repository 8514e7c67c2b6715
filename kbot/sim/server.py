"""Serving the simulated venue: ``running_sim`` (in-process, free ports) and ``serve_forever``
(``kbot sim``). One Hypercorn server on Trio serves everything on one port:

    http://HOST:PORT/trade-api/v2/...     Kalshi REST
    ws://HOST:PORT/trade-api/ws/v2        Kalshi WebSocket
    ws://HOST:PORT/coinbase               Coinbase Advanced Trade style ticker feed
    ws://HOST:PORT/binance                Binance style base (…/ws/btcusdt@bookTicker, …/stream?streams=…)
    ws://HOST:PORT/binance-usdm           Binance USD-M mark price / funding (…/stream?streams=btcusdt@markPrice@1s)
    ws://HOST:PORT/kraken/v2              Kraken v2 style ticker feed
    http://HOST:PORT/sim/clock            {"epoch": ..., "speed": ...} (outside Kalshi's API)
    http://HOST:PORT/sim/status           markets, connections, faults fired
    http://HOST:PORT/sim/faults           GET the armed faults, POST a new spec
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path

import attrs
import trio
from hypercorn.config import Config as HyperConfig
from hypercorn.trio import serve

from kbot.clock import ScaledClock
from kbot.sim.config import SimConfig
from kbot.sim.rest import build_app
from kbot.sim.venue import SimVenue
from kbot.sim.ws_server import feed_routes, kalshi_endpoint


@attrs.frozen(kw_only=True)
class SimEndpoints:
    rest_url: str  # http://127.0.0.1:PORT/trade-api/v2
    ws_url: str  # ws://127.0.0.1:PORT/trade-api/ws/v2
    coinbase_url: str  # ws://127.0.0.1:PORT/coinbase
    binance_url: str  # ws://127.0.0.1:PORT/binance (append /ws/<stream> or /stream?streams=...)
    kraken_url: str  # ws://127.0.0.1:PORT/kraken/v2
    binance_usdm_url: str  # ws://127.0.0.1:PORT/binance-usdm (mark price + funding: /stream?streams=...)
    key_id: str | None  # the demo key (registered); None when demo_key=False
    private_key_path: Path | None  # its PEM file (0600)
    clock: ScaledClock  # the sim clock, shareable in-process
    base_url: str  # http://127.0.0.1:PORT
    clock_url: str  # http://127.0.0.1:PORT/sim/clock
    sim: SimVenue = attrs.field(repr=False)  # reach into the venue (tests): exchange, faults, keys


def _hypercorn_config(config: SimConfig) -> HyperConfig:
    hc = HyperConfig()
    hc.bind = [f"{config.host}:{config.port}"]
    hc.websocket_ping_interval = config.ws_ping_interval_s
    hc.accesslog = None
    err = logging.getLogger("kbot.sim.hypercorn")
    err.setLevel(logging.WARNING)
    hc.errorlog = err
    hc.keep_alive_timeout = 60.0
    hc.graceful_timeout = 1.0
    return hc


def endpoints(venue: SimVenue, bind: str) -> SimEndpoints:
    hostport = bind.split("://", 1)[1]
    host, _, port = hostport.rpartition(":")
    if host in ("0.0.0.0", "[::]", "::"):
        host = "127.0.0.1"
    base = f"http://{host}:{port}"
    ws = f"ws://{host}:{port}"
    return SimEndpoints(
        rest_url=f"{base}/trade-api/v2",
        ws_url=f"{ws}/trade-api/ws/v2",
        coinbase_url=f"{ws}/coinbase",
        binance_url=f"{ws}/binance",
        kraken_url=f"{ws}/kraken/v2",
        binance_usdm_url=f"{ws}/binance-usdm",
        key_id=venue.demo.key_id if venue.demo else None,
        private_key_path=venue.demo.private_key_path if venue.demo else None,
        clock=venue.clock,
        base_url=base,
        clock_url=f"{base}/sim/clock",
        sim=venue,
    )


@asynccontextmanager
async def running_sim(config: SimConfig | None = None, clock: ScaledClock | None = None) -> AsyncIterator[SimEndpoints]:
    """Run the simulated venue in this Trio run until the block exits.

    ``clock``: share a ``ScaledClock`` with the bot (default: a new one at ``config.speed``
    starting at ``config.start_epoch`` or now). ``config.port`` 0 picks a free port.
    """
    config = config or SimConfig()
    if clock is None:
        clock = ScaledClock(epoch0=config.start_epoch if config.start_epoch is not None else time.time(), speed=config.speed)
    venue = SimVenue(config, clock)
    app = build_app(venue, kalshi_endpoint(venue), feed_routes(venue))
    async with trio.open_nursery() as nursery:
        # Starlette is a valid ASGI app; hypercorn's stubs type the scope as TypedDicts, which
        # mypy will not pass where Starlette declares MutableMapping: a stub mismatch only.
        binds = await nursery.start(partial(serve, app, _hypercorn_config(config)))  # type: ignore[arg-type]
        nursery.start_soon(venue.run)
        for hub in venue.feeds.values():
            nursery.start_soon(hub.run)
        try:
            yield endpoints(venue, binds[0])
        finally:
            nursery.cancel_scope.cancel()
