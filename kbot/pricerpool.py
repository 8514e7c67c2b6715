"""The per-market pricers: one supervised child and one conflating inbox per open market.

``PricerPool`` is what the market registry (``actors.markets``) starts and stops pricers
through (``running``/``start``/``stop``/``update``). Two route destinations belong to it:

- ``pool.by_ticker``: delivers a message to the pricer of ``msg.ticker`` (quotes);
- ``pool.fanout``: delivers an ``IndexUpdate`` to every pricer. The pricing board
  (``kbot.model.board``) decides in one vectorized pass which pricers it can matter to; the
  others get it stored without a wake-up. The fan-out keeps the newest index, so a pricer
  started later begins with it.

Both are conflating (``LatestMailbox``): a slow pricer sees the newest inputs, never a backlog.

Wake marks (``kbot.wakes``): recording, every pricer announces each edge it builds; a replay
following them hands each pricer its marks (``priced``) and it prices only there.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any

from actors.pricer import pricer_inbox_key, run_pricer
from kbot.actorkit import Outbox, StatsRegistry
from kbot.clock import Clock
from kbot.config import AppConfig
from kbot.messages import IndexUpdate, MarketInfo
from kbot.model.board import PricingBoard
from kbot.model.pricing import horizon_end
from kbot.model.state import ModelState
from kbot.wakes import Wakes
from supervision import Backoff, ChildSpec, LatestMailbox, Registry, Restart, Supervisor

Wrap = Callable[[str, Callable[[], Awaitable[None]]], Callable[[], Awaitable[None]]]


class _ByTicker:
    """Destination: the pricer of ``msg.ticker``, when one runs."""

    __slots__ = ("boxes",)

    def __init__(self, boxes: dict[str, LatestMailbox[Any]]) -> None:
        self.boxes = boxes

    def send_nowait(self, msg: Any) -> None:
        box = self.boxes.get(msg.ticker)
        if box is not None:
            box.send_nowait(msg)

    async def send(self, msg: Any) -> None:
        self.send_nowait(msg)


class _Fanout:
    """Destination: every pricer gets the index; only those it can matter to are woken."""

    __slots__ = ("boxes", "board", "last")

    def __init__(self, boxes: dict[str, LatestMailbox[Any]], board: PricingBoard) -> None:
        self.boxes = boxes
        self.board = board
        self.last: IndexUpdate | None = None

    def send_nowait(self, msg: IndexUpdate) -> None:
        self.last = msg
        wake = set(self.board.to_wake(msg))
        for ticker, box in self.boxes.items():
            if ticker in wake:
                box.send_nowait(msg)
            else:
                box.put_quiet(msg)

    async def send(self, msg: IndexUpdate) -> None:
        self.send_nowait(msg)


class Freshness:
    """Destination (tap): when the last fresh quote per ticker and the last fresh index were
    seen, on kbot's clock. Health reads it (``quote_gap``, ``spot_gap``)."""

    __slots__ = ("clock", "quote_last", "spot_last")

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.quote_last: dict[str, float] = {}
        self.spot_last: float | None = None

    def send_nowait(self, msg: Any) -> None:
        if msg.stale:
            return
        if isinstance(msg, IndexUpdate):
            self.spot_last = self.clock.now()
        else:
            self.quote_last[msg.ticker] = self.clock.now()

    async def send(self, msg: Any) -> None:
        self.send_nowait(msg)

    def forget(self, ticker: str) -> None:
        self.quote_last.pop(ticker, None)


class PricerPool:
    """The ``pricers`` dynamic supervisor, their inboxes and the pricing board."""

    def __init__(self, cfg: AppConfig, *, clock: Clock, registry: Registry, stats: StatsRegistry,
                 decisions: Outbox, record: Outbox, freshness: Freshness, supervisor: Supervisor,
                 wrap: Wrap, model: ModelState | None = None, wakes: Wakes | None = None) -> None:
        self.cfg = cfg
        self.model = model
        self.clock = clock
        self.registry = registry
        self.stats = stats
        self.decisions = decisions
        self.record = record
        self.freshness = freshness
        self.supervisor = supervisor
        self.wrap = wrap
        self.boxes: dict[str, LatestMailbox[Any]] = {}
        self.board = PricingBoard(cfg.pricer.window_s)
        self.by_ticker = _ByTicker(self.boxes)
        self.fanout = _Fanout(self.boxes, self.board)
        self.wakes = wakes if wakes is not None else Wakes()

    async def priced(self, ticker: str, t: float, what: str) -> None:
        """A live pricer built an edge at ``t`` on ``what`` (a wake mark, ``kbot.wakes``): this
        market's pricer builds one there too."""
        name = f"pricer:{ticker}"
        await self.wakes.deliver(name, t, what, running=self.supervisor.has_child(name))

    @property
    def last_index(self) -> IndexUpdate | None:
        return self.fanout.last

    def running(self) -> set[str]:
        return {c.name.removeprefix("pricer:") for c in self.supervisor.children()}

    async def start(self, market: MarketInfo) -> None:
        name = f"pricer:{market.ticker}"
        box = self.boxes.get(market.ticker)
        if box is None:
            box = self.boxes[market.ticker] = LatestMailbox(pricer_inbox_key, name=name)
            self.registry.register(name, box)
        box.send_nowait(market)
        if self.last_index is not None:
            box.send_nowait(self.last_index)
        self.board.set_market(market.ticker, market.strike_type, market.floor_strike, market.cap_strike,
                              horizon_end(market))
        if self.supervisor.has_child(name):
            return
        # The taker's EV bar makes moves below it immaterial; a maker quotes around every move.
        maker = self.cfg.maker.enabled
        run = functools.partial(
            run_pricer, market, box, self.decisions, self.record, clock=self.clock, config=self.cfg.pricer,
            stats=self.stats.get(name), publish=self.board.publish, min_ev=None if maker else self.cfg.gates.min_ev,
            model=self.model, price_range=None if maker else (self.cfg.gates.min_price, self.cfg.gates.max_price),
            wakes=self.wakes,
        )
        await self.supervisor.start_child(ChildSpec(
            name, self.wrap("pricer", run), restart=Restart.PERMANENT, shutdown_s=2.0,
            backoff=Backoff(initial_s=0.2, max_s=10.0),
        ))

    async def stop(self, ticker: str) -> None:
        name = f"pricer:{ticker}"
        if self.supervisor.has_child(name):
            await self.supervisor.terminate_child(name)
        self.boxes.pop(ticker, None)
        self.wakes.drop(name)
        self.board.remove(ticker)
        self.registry.unregister(name)
        self.stats.drop(name)
        self.freshness.forget(ticker)

    def update(self, market: MarketInfo) -> None:
        box = self.boxes.get(market.ticker)
        if box is not None:
            self.board.set_market(market.ticker, market.strike_type, market.floor_strike, market.cap_strike,
                                  horizon_end(market))
            box.send_nowait(market)
