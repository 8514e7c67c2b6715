"""``SimVenue``: one simulated venue's state and services, shared by the REST app, the
WebSockets and the clock-driving task. Also what a test reaches into::

    venue.exchange          # kbot.sim.exchange.Exchange: markets, books, accounts, trades
    venue.exchange.path     # the BRTI-like index path (IndexPath.price(t), settlement_average)
    venue.faults            # FaultInjector: inject("ws_drop", target="kalshi"), set(...), counts
    venue.keys              # KeyRegistry (register more keys at run time)
    venue.user_for(key_id)  # the member behind a key -> venue.exchange.accounts[...]
    venue.stats             # counters: REST statuses, WS connections, drops, overflows
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import trio
import trio.lowlevel
from cryptography.hazmat.primitives.asymmetric import rsa
from loguru import logger

from kbot.actorkit import BadInputLog
from kbot.clock import ScaledClock
from kbot.sim.auth import DemoKey, KeyRegistry, demo_key, user_id_for
from kbot.sim.config import SimConfig
from kbot.sim.exchange import Exchange
from kbot.sim.faults import FaultInjector, parse_spec
from kbot.sim.market import STATUS_FILTERS
from kbot.sim.ratelimit import RateLimiter
from kbot.sim.spot import FEEDS
from kbot.sim.ws_kalshi import Hub
from kbot.sim.ws_server import FeedHub


class SimVenue:
    def __init__(self, config: SimConfig, clock: ScaledClock, *, wall_time: Callable[[], float] = time.time) -> None:
        self.config = config
        self.clock = clock
        self.wall_time = wall_time  # signatures are checked against real wall time (see kbot.sim.auth)
        self.faults = FaultInjector(config.faults, seed=config.seed)
        self.exchange = Exchange(config, clock.now(), self.faults)
        self.keys = KeyRegistry()
        self.limiter = RateLimiter(config.rate_tier, enabled=config.rate_limits)
        self.hub = Hub()
        self.exchange.listeners.append(self.hub)
        self.feeds = {name: FeedHub(self, name) for name in FEEDS}
        self.stats: Counter[str] = Counter()
        self.bad_input = BadInputLog("sim")  # client inputs that broke a handler (logged once per kind)
        self.demo: DemoKey | None = None
        if config.demo_key:
            self.demo = demo_key(config.data_dir)
            self.register_key(self.demo.key_id, self.demo.public_key)
        for key_id, path in config.keys:
            uid = self.keys.register_pem_file(key_id, path)
            self.exchange.open_account(uid)

    def register_key(self, key_id: str, public_key: rsa.RSAPublicKey) -> str:
        """Register an API key (its member gets an account with the initial balance)."""
        uid = self.keys.register(key_id, public_key)
        self.exchange.open_account(uid)
        return uid

    @staticmethod
    def user_for(key_id: str) -> str:
        return user_id_for(key_id)

    def sync(self) -> None:
        """Bring the exchange up to the clock before serving a request (bounded: if the venue
        lags far behind under load, the clock task catches up, yielding as it goes)."""
        self.exchange.advance(self.clock.now(), max_seconds=2)

    @property
    def lag_s(self) -> float:
        """How far the exchange's processed time is behind the sim clock (0 when keeping up)."""
        return max(0.0, self.clock.now() - 1.0 - self.exchange.second)

    def arm_faults(self, spec: str) -> None:
        """Replace the armed faults with ``spec`` (``kbot.sim.faults`` syntax)."""
        faults = parse_spec(spec)
        self.faults.clear()
        for kind, fault in faults.items():
            self.faults.set(kind, p=fault.p, burst=fault.burst, duration_s=fault.duration_s, delay_s=fault.delay_s, target=fault.target)

    def status(self) -> dict[str, Any]:
        ex = self.exchange
        by_status = Counter(m.status for m in ex.markets.values())
        return {
            "epoch": self.clock.now(),
            "speed": self.clock.speed,
            "index": ex.path.price(ex.second) if ex.second >= ex.path.start else None,
            "markets": dict(by_status),
            "open_markets": sum(by_status[s] for s in STATUS_FILTERS["open"]),
            "trades": len(ex.trades),
            "lag_s": self.lag_s,
            "ws_sessions": len(self.hub.sessions),
            "feed_connections": {n: len(h.conns) for n, h in self.feeds.items()},
            "faults": self.faults.describe(),
            "faults_fired": dict(self.faults.counts),
            "stats": dict(self.stats),
        }

    async def run(self) -> None:
        """Drive the exchange: process each whole second of the sim clock as it comes, one at
        a time with a checkpoint in between, so that requests and WebSocket traffic keep
        flowing even when the sim cannot keep up with its speed (it then lags; see lag_s)."""
        log = logger.bind(component="sim")
        log.info("simulated venue running: speed {}x, seed {}", self.clock.speed, self.config.seed)
        lagging = False
        while True:
            nxt = self.exchange.second + 1
            if self.clock.now() < nxt:
                if lagging:
                    log.info("simulated venue caught up with its clock")
                    lagging = False
                await self.clock.sleep_until(nxt)
                continue
            t0 = time.perf_counter()
            self.exchange.advance(self.clock.now(), max_seconds=1)
            work = time.perf_counter() - t0
            if self.lag_s > 1.0:
                # Behind the clock: don't starve the sockets. Yield for as long as the second
                # took, so clients keep getting at least half the CPU and the venue lags
                # gracefully instead of freezing its own I/O.
                if not lagging and self.lag_s / self.clock.speed > 2.0:  # two real seconds behind
                    lagging = True
                    log.warning("simulated venue is {:.0f} sim seconds behind its clock (speed {}x too high for this machine?)", self.lag_s, self.clock.speed)
                await trio.sleep(work)
            else:
                await trio.lowlevel.checkpoint()
