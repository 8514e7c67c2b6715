"""The supervised actor tree of ``kbot run``, and the process around it.

```
root (one_for_one, 10 restarts / 60 s: a real failure of a core actor must reach the operator)
├── recorder      single writer to the database; bounded lossless inbox; drains on stop
├── ledger        fills/settlements (lossless) + quotes for marks (conflating)
├── executor      decisions (lossless) -> orders and fills (shadow now)
├── decision      edges per ticker + portfolio (conflating) -> decisions (lossless)
├── spot_index    ticks per source (conflating) -> IndexUpdate broadcast to every pricer
├── pricers       dynamic supervisor, one_for_one, one child per open market
│   └── pricer:<ticker>   index/quote/market (conflating) -> edges (to decision), snapshots (record)
├── markets       registry: MarketInfo/lifecycle/settlements (lossless) -> start/stop pricers, WS watch
├── feeds         one_for_one supervisor; each feed restarts alone with backoff (reconnect storms)
│   ├── coinbase / binance / kraken      spot WebSockets -> SpotTick
│   ├── kalshi_ws     ticker, orderbook_delta, trade, lifecycle, cfbenchmarks -> Quote, ...
│   └── kalshi_rest   discovery, fee data, quote polling fallback, settlement sweep
├── scorer        periodic: settled edge snapshots -> scores
└── health        periodic: snapshots, data gaps, spikes -> alerts
```

Mailbox policy per edge, deliberately:
- conflating (``LatestMailbox``) for market data: spot ticks into the index (per source),
  index/quote/market into each pricer, edges into the decision actor (per ticker), quotes into
  the ledger's marks (per ticker), portfolio state into the decision actor. A slow consumer
  sees the newest value, never a backlog; replaced counts show in health.
- bounded and lossless (``Mailbox``) for everything that changes money or the record:
  decisions -> executor, orders/fills/settlements -> ledger, everything -> recorder, market
  reference data and lifecycle -> registry, control commands -> feeds.

Start order is the order above; shutdown is the reverse, so inputs (feeds, then registry
and pricers) stop before the actors that turn them into money, and the recorder stops last,
after writing what it was sent. Every mailbox and every piece of state an actor needs across
a restart (ledger book, executed decision ids, market registry, WS watch list) belongs to
``Tree``, not to the actor incarnation.
"""

from __future__ import annotations

import functools
import gc
import json
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import attrs
import trio
from loguru import logger

from actors.decision import decision_inbox_key, run_decision
from actors.executor import ShadowExecutor, run_executor
from actors.health import run_health
from actors.kalshi_rest_feed import RefreshMarket, run_kalshi_rest_feed
from actors.kalshi_ws_feed import Subscribe as WsSubscribe
from actors.kalshi_ws_feed import Unsubscribe as WsUnsubscribe
from actors.kalshi_ws_feed import WatchState, run_kalshi_ws_feed
from actors.ledger import LedgerState, run_ledger
from actors.markets import run_markets
from actors.pricer import pricer_inbox_key, run_pricer
from actors.recorder import Recorder
from actors.scorer import run_scorer
from actors.spot_feed import run_spot_feed
from actors.spot_index import run_spot_index, spot_tick_key
from kbot import __version__
from kbot.actorkit import BadInputLog, StatsRegistry, Tee, deliver
from kbot.alerts import AlertSink
from kbot.clock import Clock, ScaledClock, WallClock
from kbot.config import AppConfig, config_digest
from kbot.health import ActorSample, HealthMonitor
from kbot.latency import LatencyMeter, LatencyTap
from kbot.ledger import Book
from kbot.markets import MarketRegistry
from kbot.messages import (
    Alert,
    BookSnapshot,
    EventFeeUpdate,
    EventInfo,
    FeedStatus,
    Fill,
    IndexUpdate,
    MarketInfo,
    MarketLifecycle,
    MarketSettled,
    OrderEvent,
    Quote,
    SeriesInfo,
    SpotTick,
    Trade,
)
from kbot.model.board import PricingBoard
from kbot.model.pricing import horizon_end
from kbot.statestore import BlockingIO, JsonFileStateStore, StateStore, in_thread
from kbot.venues.config import ENV_REST_URL, ENV_WS_URL, KalshiEndpoints
from kbot.venues.kalshi.auth import Credentials
from kbot.venues.kalshi.rest import KalshiRestClient
from kbot.venues.wslink import LinkHealth
from storage import queries
from storage.db import open_database
from storage.runs import end_run, start_run
from supervision import (
    Backoff,
    ChildSpec,
    LatestMailbox,
    Mailbox,
    Registry,
    Restart,
    Strategy,
    SupervisionEvent,
    Supervisor,
    SupervisorGaveUp,
)

FEEDS = ("coinbase", "binance", "kraken", "kalshi_ws", "kalshi_rest")


class ChaosCrash(RuntimeError):
    """Raised on purpose by the chaos test hook."""


@attrs.frozen
class Endpoints:
    kalshi: KalshiEndpoints
    credentials: Credentials
    spot_urls: dict[str, str | None]


# ----------------------------------------------------------------------------- routing


class _Recording:
    """Sends to the recorder without a scheduler pass per message unless it is full."""

    def __init__(self, recorder: Recorder) -> None:
        self.box = recorder.inbox

    async def record(self, msg: Any) -> None:
        await deliver(self.box, msg)  # backpressure when full: the record is lossless


class FeedRouter(_Recording):
    """The feeds' outbox: each message type goes where it is needed (and to the record)."""

    def __init__(self, tree: Tree) -> None:
        super().__init__(tree.recorder)
        self.tree = tree

    async def send(self, msg: Any) -> None:
        t = self.tree
        kind = type(msg)
        if kind is Quote:
            box = t.pricer_boxes.get(msg.ticker)
            if box is not None:
                box.send_nowait(msg)
            t.ledger_marks.send_nowait(msg)
            if not msg.stale:
                t.quote_last[msg.ticker] = t.clock.now()
        elif kind is SpotTick:
            t.spot_in.send_nowait(msg)
        elif kind in (MarketInfo, MarketLifecycle):
            await t.markets_in.send(msg)
        elif kind is MarketSettled:
            await t.markets_in.send(msg)
            await t.ledger_in.send(msg)
        elif kind in (Fill, OrderEvent):
            if t.cfg.mode != "shadow":  # venue fills matter in paper/live only
                await t.ledger_in.send(msg)
        elif kind not in (BookSnapshot, Trade, SeriesInfo, EventInfo, EventFeeUpdate, FeedStatus):
            # VenuePosition/VenueBalance/VenueSettlement: reconciliation is for live mode
            return
        await self.record(msg)

    def send_nowait(self, msg: Any) -> None:  # pragma: no cover - feeds always await
        raise trio.WouldBlock


class IndexBroadcast(_Recording):
    """The spot index's outbox: every pricer gets the newest index; the record gets it too."""

    def __init__(self, tree: Tree) -> None:
        super().__init__(tree.recorder)
        self.tree = tree

    async def send(self, msg: IndexUpdate) -> None:
        t = self.tree
        t.last_index = msg
        if not msg.stale:
            t.spot_last = t.clock.now()
        # One vectorized pass decides which pricers this update can matter to; the others get
        # it stored without a wake-up (kbot.model.board).
        wake = set(t.board.to_wake(msg))
        for ticker, box in t.pricer_boxes.items():
            if ticker in wake:
                box.send_nowait(msg)
            else:
                box.put_quiet(msg)
        await self.record(msg)

    def send_nowait(self, msg: IndexUpdate) -> None:  # pragma: no cover
        raise trio.WouldBlock


class AlertOut(_Recording):
    """Alerts raised by actors (kill switch): recorded and delivered like health alerts."""

    def __init__(self, tree: Tree) -> None:
        super().__init__(tree.recorder)
        self.sink = tree.alert_sink

    async def send(self, msg: Alert) -> None:
        await self.record(msg)
        await self.sink.send(msg)

    def send_nowait(self, msg: Alert) -> None:  # pragma: no cover
        raise trio.WouldBlock


class WatchCmds:
    def subscribe(self, tickers: tuple[str, ...]) -> WsSubscribe:
        return WsSubscribe(tickers)

    def unsubscribe(self, tickers: tuple[str, ...]) -> WsUnsubscribe:
        return WsUnsubscribe(tickers)


# ----------------------------------------------------------------------------- the tree


def chaotic(run: Callable[[], Awaitable[None]], name: str, period_s: float, clock: Clock) -> Callable[[], Awaitable[None]]:
    """Test hook: run ``run`` but crash it on purpose every ``period_s`` clock seconds."""

    async def wrapped() -> None:
        with trio.move_on_after(period_s / clock.speed):
            await run()
            return
        raise ChaosCrash(f"chaos: {name} crashed on purpose after {period_s:g}s")

    return wrapped


class Tree:
    """The mailboxes, the state that outlives actor incarnations, and the supervisors.

    ``endpoints`` and ``rest_client`` serve the network feeds only: a tree whose feeds are
    supplied by the caller (``root(feeds=...)``: a replay, a benchmark) may pass None."""

    def __init__(self, cfg: AppConfig, *, clock: Clock, recorder: Recorder, endpoints: Endpoints | None,
                 rest_client: KalshiRestClient | None, engine: Any, run_id: str, started_ts: float,
                 stats: StatsRegistry | None = None) -> None:
        self.cfg = cfg
        self.clock = clock
        self.recorder = recorder
        self.endpoints = endpoints
        self.rest_client = rest_client
        self.engine = engine
        self.run_id = run_id
        self.started_ts = started_ts
        tc = cfg.tree
        self.registry = Registry()
        self.stats = stats if stats is not None else StatsRegistry()
        self.supervisors: list[Supervisor] = []
        self.restarts = 0
        self.alert_sink = AlertSink(cfg.health.webhook_url, timeout_s=cfg.health.webhook_timeout_s)
        reg = self.registry.register
        reg("recorder", recorder.inbox)
        self.spot_in = reg("spot_index", LatestMailbox(spot_tick_key))
        self.decision_in = reg("decision", LatestMailbox(decision_inbox_key))
        self.executor_in = reg("executor", Mailbox(tc.executor_inbox))
        self.ledger_in = reg("ledger", Mailbox(tc.ledger_inbox))
        self.ledger_marks = reg("ledger_marks", LatestMailbox(lambda q: q.ticker))
        self.markets_in = reg("markets", Mailbox(tc.markets_inbox))
        self.ws_control = reg("kalshi_ws_control", Mailbox(tc.control_inbox))
        self.rest_control = reg("kalshi_rest_control", Mailbox(tc.control_inbox))
        self.pricer_boxes: dict[str, LatestMailbox] = {}
        # state that outlives actor incarnations
        book = Book(cfg.mode, cfg.ledger.starting_balance)
        self.ledger_state = LedgerState(book)
        self.executed: set[str] = set()
        self.market_registry = MarketRegistry(cfg.series)
        self.watch_state = WatchState()
        self.ws_health = LinkHealth()
        self.store: StateStore = JsonFileStateStore(cfg.state_dir)
        # how actors run blocking calls (state store, kill file, scorer query): a worker thread;
        # a replay on a virtual clock runs them inline (a thread hop would let virtual time leap)
        self.io: BlockingIO = in_thread
        self.executor: Any = ShadowExecutor()  # replays put their fill model here
        self.recording: Any = None  # kbot run --record: the RecordingWriter the network feeds tap
        self.last_index: IndexUpdate | None = None
        self.spot_last: float | None = None
        self.quote_last: dict[str, float] = {}
        self.recent_decisions: list[Any] = []
        self.board = PricingBoard(cfg.pricer.window_s)
        # feed receipt -> Decision (``mono`` -> emission): per health interval (the health actor
        # logs and resets it) and over the whole run (logged at the end; benchmarks read it)
        self.latency = LatencyMeter()
        self.latency_run = LatencyMeter()
        # what every feed sends to (built once: feeds restart, the routing does not change)
        self.router = FeedRouter(self)
        self.pricers = Supervisor(
            "pricers", [], Strategy.ONE_FOR_ONE, max_restarts=tc.pricers_max_restarts,
            within_s=tc.pricers_within_s, on_event=self.on_event, now=clock.now,
        )

    # ------------------------------------------------------------------ events

    def on_event(self, ev: SupervisionEvent) -> None:
        if ev.kind == "restarting":
            self.restarts += 1
        self.recorder.on_event(ev)

    # ------------------------------------------------------------------ pricer pool

    def running(self) -> set[str]:
        return {c.name.removeprefix("pricer:") for c in self.pricers.children()}

    async def start(self, market: MarketInfo) -> None:
        name = f"pricer:{market.ticker}"
        box = self.pricer_boxes.get(market.ticker)
        if box is None:
            box = self.pricer_boxes[market.ticker] = LatestMailbox(pricer_inbox_key, name=name)
            self.registry.register(name, box)
        box.send_nowait(market)
        if self.last_index is not None:
            box.send_nowait(self.last_index)
        self.board.set_market(market.ticker, market.strike_type, market.floor_strike, market.cap_strike,
                              horizon_end(market))
        if self.pricers.has_child(name):
            return
        run = functools.partial(
            run_pricer, market, box, self.decision_in, _RecordOut(self.recorder), clock=self.clock,
            config=self.cfg.pricer, stats=self.stats.get(name), publish=self.board.publish,
            min_ev=self.cfg.gates.min_ev,
        )
        await self.pricers.start_child(ChildSpec(
            name, self._maybe_chaotic("pricer", run), restart=Restart.PERMANENT, shutdown_s=2.0,
            backoff=Backoff(initial_s=0.2, max_s=10.0),
        ))

    async def stop(self, ticker: str) -> None:
        name = f"pricer:{ticker}"
        if self.pricers.has_child(name):
            await self.pricers.terminate_child(name)
        self.pricer_boxes.pop(ticker, None)
        self.board.remove(ticker)
        self.registry.unregister(name)
        self.stats.drop(name)
        self.quote_last.pop(ticker, None)

    def update(self, market: MarketInfo) -> None:
        box = self.pricer_boxes.get(market.ticker)
        if box is not None:
            self.board.set_market(market.ticker, market.strike_type, market.floor_strike, market.cap_strike,
                                  horizon_end(market))
            box.send_nowait(market)

    # ------------------------------------------------------------------ health sources

    def samples(self) -> list[ActorSample]:
        """One sample per actor; the per-market pricers are folded into one ``pricers`` row
        (their mailboxes and counters summed), so health stays a few rows per interval."""
        restarts: dict[str, int] = {}
        for sup in self.supervisors:
            for c in sup.children():
                restarts[c.name] = c.restarts
        stats = dict(self.stats.items())
        out: list[ActorSample] = []
        agg = dict(inbox_depth=0, inbox_peak=0, msgs_in=0, msgs_out=0, restarts=0, errors=0)
        n_pricers, last_pricer = 0, None
        for name in sorted(set(self.registry.names()) | set(stats)):
            box = self.registry.lookup(name)
            st = stats.get(name)
            mb = box.stats() if box is not None else None
            sample = ActorSample(
                name=name, inbox_depth=mb.depth if mb else 0, inbox_peak=mb.peak if mb else 0,
                inbox_capacity=mb.capacity if (mb and isinstance(box, Mailbox)) else None,
                msgs_in=st.msgs_in if st else (mb.received if mb else 0),
                msgs_out=st.msgs_out if st else 0, last_msg_ts=st.last_msg_ts if st else None,
                restarts=restarts.get(name, 0), errors=st.errors if st else 0, state=st.state if st else None,
            )
            if name.startswith("pricer:"):
                n_pricers += 1
                for k in agg:
                    agg[k] = max(agg[k], getattr(sample, k)) if k == "inbox_peak" else agg[k] + getattr(sample, k)
                if sample.last_msg_ts is not None and (last_pricer is None or sample.last_msg_ts > last_pricer):
                    last_pricer = sample.last_msg_ts
                continue
            out.append(sample)
        out.append(ActorSample(name="pricers", last_msg_ts=last_pricer, state=f"{n_pricers} running",
                               restarts=agg.pop("restarts") + restarts.get("pricers", 0), **agg))
        return out

    def feed_last(self) -> dict[str, float | None]:
        out = {}
        for name in FEEDS:
            if name in ("binance", "coinbase", "kraken") and not getattr(self.cfg.spot, name).enabled:
                continue
            if name == "kalshi_rest":
                continue  # polls on its own cadence; its failures show as errors/restarts
            out[name] = self.stats.get(name).last_msg_ts
        return out

    def quote_last_for_priced(self) -> dict[str, float | None]:
        return {t: self.quote_last.get(t) for t in self.market_registry.priced}

    def total_restarts(self) -> int:
        return self.restarts

    def summary(self) -> str:
        """One line for the console: what kbot is doing right now."""
        idx = self.last_index
        if idx is None:
            spot = "no spot index yet"
        else:
            spot = (f"BTC {idx.price:,.2f} ({'STALE' if idx.stale else f'{idx.n_sources} sources'}, "
                    f"sigma {idx.sigma:.2f} {idx.sigma_source})")
        pf = self.ledger_state.last_portfolio
        money = ""
        if pf is not None:
            eq = f"${pf.equity:,.2f}" if pf.equity is not None else "-"
            money = (f"; {pf.open_positions} open positions, exposure ${pf.exposure:,.2f}, equity {eq}, "
                     f"realized today ${pf.daily_realized_pnl:+,.2f}")
        d = self.stats.get("decision")
        return (f"{len(self.market_registry.priced)} markets priced, {spot}; {len(self.executed)} TAKEs, "
                f"{d.msgs_out} decisions{money}; {self.restarts} restarts")

    # ------------------------------------------------------------------ building

    def _maybe_chaotic(self, name: str, run: Callable[[], Awaitable[None]]) -> Callable[[], Awaitable[None]]:
        period = self.cfg.chaos.crash.get(name)
        return chaotic(run, name, period, self.clock) if period else run

    def _spec(self, name: str, run: Callable[..., Awaitable[None]], *args: Any, shutdown_s: float = 5.0,
              backoff: Backoff | None = None, **kw: Any) -> ChildSpec:
        bound = functools.partial(run, *args, **kw)
        return ChildSpec(name, self._maybe_chaotic(name, bound), restart=Restart.PERMANENT, shutdown_s=shutdown_s,
                         backoff=backoff or Backoff(initial_s=0.5, max_s=15.0))

    def feeds_supervisor(self, children: Sequence[ChildSpec] | None = None) -> Supervisor:
        """The ``feeds`` supervisor: ``children`` as given, or (None) the network feeds built
        from the configuration and the endpoints."""
        cfg = self.cfg
        if children is None:
            children = self.network_feeds()
        sup = Supervisor("feeds", list(children), Strategy.ONE_FOR_ONE, max_restarts=cfg.tree.feeds_max_restarts,
                         within_s=cfg.tree.feeds_within_s, on_event=self.on_event, now=self.clock.now)
        self.supervisors.append(sup)
        return sup

    def network_feeds(self) -> list[ChildSpec]:
        """Spot WebSockets, Kalshi WS and Kalshi REST, all sending to ``self.router``."""
        cfg, clock, st, router = self.cfg, self.clock, self.stats, self.router
        if self.endpoints is None or self.rest_client is None:
            raise ValueError("network feeds need endpoints and a REST client")
        # Feeds reconnect by themselves; a crash here is a bug or a fatal venue answer, so
        # back off from 1 s up to a minute rather than hammer the venue.
        feed_backoff = Backoff(initial_s=1.0, max_s=60.0, reset_after_s=120.0)
        children = []
        for ex in ("coinbase", "binance", "kraken"):
            fc = getattr(cfg.spot, ex)
            url = self.endpoints.spot_urls.get(ex)
            if url:
                fc = attrs.evolve(fc, url=url)
            if not fc.enabled:
                continue
            children.append(self._spec(ex, run_spot_feed, fc, router, st.get(ex), clock, backoff=feed_backoff,
                                       tap=self.recording.wrap_protocol if self.recording else None))
        children.append(self._spec(
            "kalshi_ws", run_kalshi_ws_feed, cfg.kalshi.ws, self.endpoints.kalshi.ws_url, self.endpoints.credentials,
            router, st.get("kalshi_ws"), clock, control=self.ws_control, state=self.watch_state,
            health=self.ws_health, backoff=feed_backoff, tap=self.recording.wrap_session if self.recording else None,
        ))
        rest_cfg = attrs.evolve(cfg.kalshi.rest_feed, series=tuple(cfg.series))
        children.append(self._spec(
            "kalshi_rest", run_kalshi_rest_feed, rest_cfg, self.rest_client, router, st.get("kalshi_rest"), clock,
            ws_health=self.ws_health, control=self.rest_control, backoff=feed_backoff,
        ))
        return children

    async def _fetch_unscored(self, after_id: int, limit: int) -> list[Any]:
        def q() -> list[Any]:
            with self.engine.connect() as conn:
                return queries.unscored_edges(conn, limit=limit, after_id=after_id)

        return await self.io(q)

    def root(self, feeds: Sequence[ChildSpec] | None = None) -> Supervisor:
        """The root supervisor. ``feeds``: the children of the ``feeds`` supervisor; None (the
        default) builds the network feeds; a replay or a benchmark passes its own children that
        send to ``self.router`` (or none at all). Feeds given here also receive the registry's
        watch commands on ``ws_control``/``rest_control`` (bounded): one that has no use for them
        must still drain them (``drain_control``)."""
        cfg, clock, st = self.cfg, self.clock, self.stats
        rec = _RecordOut(self.recorder)
        health = HealthMonitor(cfg.health)
        # the latency tap first: it measures at emission, before the sends below yield
        decision_out = Tee(LatencyTap(self.latency, self.latency_run), self.executor_in, rec)
        children = [
            # The recorder drains what it holds for up to drain_s on stop; give it that and a batch.
            ChildSpec("recorder", self.recorder.run, restart=Restart.PERMANENT,
                      shutdown_s=cfg.storage.drain_s + 5.0, backoff=Backoff(initial_s=0.2, max_s=10.0)),
            self._spec("ledger", run_ledger, self.ledger_in, self.ledger_marks, rec, self.decision_in,
                       self.ledger_state, clock=clock, stats=st.get("ledger"),
                       publish_every_s=cfg.ledger.publish_every_s),
            self._spec("executor", run_executor, self.executor_in, Tee(self.ledger_in, rec), self.executor,
                       clock=clock, stats=st.get("executor"), executed=self.executed),
            self._spec("decision", run_decision, self.decision_in, decision_out, clock=clock, gates=cfg.gates,
                       sizing=cfg.sizing, risk=cfg.risk, pricer=cfg.pricer, store=self.store,
                       recent_decisions=self.recent_decisions, alerts=AlertOut(self), stats=st.get("decision"),
                       io=self.io),
            self._spec("spot_index", run_spot_index, self.spot_in, IndexBroadcast(self), clock=clock,
                       config=cfg.index, vol_config=cfg.vol, store=self.store, stats=st.get("spot_index"), io=self.io),
            # Pricers fail alone (bad data for one market must not restart the others); many
            # restarts are tolerated because there are many children.
            ChildSpec("pricers", self.pricers.run, restart=Restart.PERMANENT, shutdown_s=30.0,
                      backoff=Backoff(initial_s=1.0, max_s=30.0)),
            self._spec("markets", run_markets, self.markets_in, self.market_registry, self, clock=clock,
                       stats=st.get("markets"), ws_control=self.ws_control, watch_commands=WatchCmds(),
                       refresh=self.rest_control, refresh_command=RefreshMarket, tick_s=cfg.tree.registry_tick_s),
            ChildSpec("feeds", self.feeds_supervisor(feeds).run, restart=Restart.PERMANENT, shutdown_s=30.0,
                      backoff=Backoff(initial_s=2.0, max_s=60.0)),
            self._spec("scorer", run_scorer, self._fetch_unscored, rec, clock=clock, stats=st.get("scorer"),
                       every_s=cfg.scorer.every_s, batch=cfg.scorer.batch),
            self._spec("health", run_health, _TreeHealth(self), rec, health, self.alert_sink, clock=clock, stats=st.get("health"),
                       started_ts=self.started_ts, summary_every_s=cfg.logging.summary_every_s,
                       latency=self.latency),
        ]
        root = Supervisor("root", children, Strategy.ONE_FOR_ONE, max_restarts=cfg.tree.root_max_restarts,
                          within_s=cfg.tree.root_within_s, on_event=self.on_event, now=clock.now)
        self.supervisors[:0] = [root, self.pricers]
        return root


def freeze_startup_objects() -> None:
    """Take everything alive after start-up (modules, configuration, the database engine, the
    tree) out of the garbage collector's view (``gc.freeze``). Otherwise each full collection
    scans those ~150,000 objects again: a 30-70 ms pause on a small machine, landing on
    whatever decision is in flight. What is created later is collected as usual."""
    gc.collect()
    gc.freeze()


GIL_SWITCH_INTERVAL_S = 0.0002


def shorten_gil_switch_interval() -> None:
    """Let the recorder's SQLite thread have the GIL back within 0.2 ms instead of CPython's
    5 ms. ``sqlite3`` releases the GIL around every row it steps and must take it back for the
    next one; while the Trio thread is busy that wait is up to one switch interval per row (the
    convoy effect), so the writer crawls exactly when the tree is busiest. Measured on 2 cores
    (bench.saturation 20 s / bench.latency --quick): 5 ms 30,500 inputs/s, p99 4.5 ms; 0.2 ms
    36,400 inputs/s, p99 3.5 ms, max 6 ms instead of 10.6 ms (the tree gets the GIL back sooner too)."""
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)


async def drain_control(tree: Tree) -> None:
    """A feeds child for trees without network feeds (replays, benchmarks): takes the market
    registry's watch and refresh commands, which only the network feeds act on, and drops them."""
    async with trio.open_nursery() as n:
        for box in (tree.ws_control, tree.rest_control):
            async def drain(box: Mailbox = box) -> None:
                while True:
                    await box.receive_batch()

            n.start_soon(drain)


class _RecordOut(_Recording):
    """An outbox for the recorder that avoids a scheduler pass per record."""

    async def send(self, msg: Any) -> None:
        await self.record(msg)

    def send_nowait(self, msg: Any) -> None:
        self.box.send_nowait(msg)


class _TreeHealth:
    """The tree seen as ``actors.health.HealthSources``."""

    def __init__(self, tree: Tree) -> None:
        self.t = tree

    def samples(self) -> list[ActorSample]:
        return self.t.samples()

    def feed_last(self) -> dict[str, float | None]:
        return self.t.feed_last()

    def spot_last(self) -> float | None:
        return self.t.spot_last

    def quote_last(self) -> dict[str, float | None]:
        return self.t.quote_last_for_priced()

    def total_restarts(self) -> int:
        return self.t.total_restarts()

    def summary(self) -> str:
        return self.t.summary()


# ----------------------------------------------------------------------------- the process


def _bad_input_sink(recorder: Recorder) -> Callable[[Any], None]:
    def sink(rec: Any) -> None:
        try:
            recorder.inbox.send_nowait(rec)
        except trio.WouldBlock:
            pass  # the recorder is saturated: the log line is the record of last resort

    return sink


class StartupError(Exception):
    """A problem a human must fix before kbot can run (exit code 2); the message says what."""


def _sim_clock_file(cfg: AppConfig) -> Path:
    return Path(cfg.sim.data_dir) / "clock.json"


def sim_start_epoch(cfg: AppConfig, wall_now: float) -> float:
    """Where the simulated world's clock starts. Tickers name times, and the markets and
    settlements tables are keyed by ticker, so a new simulated run must never relive the
    times of an earlier one: it starts after the previous run's end plus the listing horizon
    (hourly events are listed ahead), or at wall time if that is later."""
    if cfg.sim.start_epoch is not None:
        return cfg.sim.start_epoch
    try:
        last = float(json.loads(_sim_clock_file(cfg).read_text())["epoch"])
    except (OSError, ValueError, KeyError, TypeError):
        return wall_now
    horizon = (cfg.sim.hourly_ahead + 1) * 3600.0 + cfg.sim.hourly_initialized_s
    return max(wall_now, last + horizon)


def save_sim_epoch(cfg: AppConfig, epoch: float) -> None:
    p = _sim_clock_file(cfg)
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(json.dumps({"epoch": epoch}))
    except OSError as exc:  # not fatal: the next run falls back to wall time
        logger.warning("could not save the simulated clock to {}: {}", p, exc)


async def _stop_on_signals(scope: trio.CancelScope, stopped_by: list[str]) -> None:
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for sig in signals:
            name = signal.Signals(sig).name
            logger.warning("received {}: stopping cleanly", name)
            stopped_by.append(name)
            scope.cancel()
            return


async def _stop_after(seconds: float, scope: trio.CancelScope) -> None:
    await trio.sleep(seconds)
    logger.info("--minutes elapsed: stopping cleanly")
    scope.cancel()


def _recover_ledger(engine: Any, cfg: AppConfig, tree: Tree, now: float) -> None:
    """A new run against a real venue adopts the open positions of the previous run of the same
    mode and venue (so they are still followed and settled); otherwise it starts from
    ``ledger.starting_balance``."""
    book = tree.ledger_state.book
    if cfg.venue != "sim" and cfg.ledger.carry_positions:
        with engine.connect() as conn:
            prev = queries.latest_run(conn, mode=cfg.mode, venue=cfg.venue, exclude=tree.run_id)
            if prev is not None:
                positions = queries.open_positions(conn, run_id=prev.run_id, mode=cfg.mode)
                cash = queries.ledger_balance(conn, run_id=prev.run_id, mode=cfg.mode)
                entry = book.deposit(now, amount=cash, ref=f"carry:{prev.run_id}")
                book.restore(positions, book.cash)
                tree.ledger_state.pending.append(("out", entry))
                tree.ledger_state.pending.extend(("out", p) for p in positions)
                logger.info("carried {} open positions and ${} cash from run {}", len(positions), cash, prev.run_id)
                return
    tree.ledger_state.pending.append(("out", book.deposit(now)))


async def final_drain(tree: Tree) -> None:
    """After the tree stopped: decisions still waiting for the executor are executed when that
    has no effect outside kbot (shadow mode) and dropped with a log line otherwise; fills and
    settlements still waiting for the ledger are applied; everything produced goes to the
    recorder's mailbox (flushed next). So a stop never leaves a TAKE without its fill or a fill
    without its ledger entries."""
    from actors.ledger import apply as ledger_apply

    now = tree.clock.now()
    rec = tree.recorder.inbox
    executor = ShadowExecutor() if tree.cfg.mode == "shadow" else None
    pending = tree.executor_in.take_ready()
    for d in pending:
        if d.action != "TAKE" or d.decision_id in tree.executed:
            continue
        if executor is None:
            logger.warning("decision {} not executed: stopped before the executor took it", d.decision_id)
            continue
        for ev in await executor.execute(d, now):
            rec.send_nowait(ev)
            tree.ledger_in.send_nowait(ev)
        tree.executed.add(d.decision_id)
    state = tree.ledger_state
    bad = BadInputLog("ledger")
    for msg in tree.ledger_in.take_ready():
        ledger_apply(state, msg, bad)
    if state.pending or pending:
        pf = state.portfolio(now)
        state.pending.append(("out", pf))
    while state.pending:
        where, msg = state.pending.popleft()
        if where == "out":
            await deliver(rec, msg)


def _sim_base(rest_url: str) -> str:
    base = rest_url.rstrip("/")
    return base.removesuffix("/trade-api/v2")


async def connect_external_sim(cfg: AppConfig, env: dict[str, str]) -> tuple[Clock, Endpoints]:
    """``--venue sim`` with ``KALSHI_REST_URL`` (or ``kalshi.rest_url``) set: use the simulated
    venue already serving there (``kbot sim``, e.g. in its own process) instead of starting one.
    The clock follows the sim's ``/sim/clock``; the WebSocket URL defaults to the sim's (override:
    ``KALSHI_WS_URL``), the spot feeds use the sim's exchanges; the key is ``KALSHI_API_KEY_ID`` /
    ``KALSHI_PRIVATE_KEY_PATH`` if set, else the sim's demo key in ``sim.data_dir`` (the same
    default directory as ``kbot sim --data-dir``)."""
    import httpx

    from kbot.sim.auth import DEMO_KEY_FILE, DEMO_KEY_ID_FILE
    from kbot.venues.kalshi.auth import CredentialsError

    rest_url = env.get(ENV_REST_URL) or cfg.kalshi.rest_url or ""
    base = _sim_base(rest_url)
    ws_base = "ws" + base.removeprefix("http")  # http -> ws, https -> wss
    ws_url = env.get(ENV_WS_URL) or cfg.kalshi.ws_url or f"{ws_base}/trade-api/ws/v2"
    try:
        async with httpx.AsyncClient(timeout=10.0) as client:
            t0 = trio.current_time()
            r = await client.get(f"{base}/sim/clock")
            rtt = trio.current_time() - t0
            r.raise_for_status()
            adv = r.json()
            epoch, speed = float(adv["epoch"]), float(adv["speed"])
    except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
        raise StartupError(
            f"no simulated venue answers at {base}/sim/clock ({exc}); start one with `kbot sim`, or unset "
            f"{ENV_REST_URL} to run the built-in one") from exc
    clock = ScaledClock.follow(epoch, speed, rtt_s=rtt)
    try:
        creds = cfg.kalshi.credentials(env, required=False)
        if creds is None:
            d = Path(cfg.sim.data_dir)
            key_id = (d / DEMO_KEY_ID_FILE).read_text().strip() if (d / DEMO_KEY_ID_FILE).exists() else None
            creds = Credentials.from_files(key_id, str(d / DEMO_KEY_FILE) if key_id else None)
    except (CredentialsError, OSError) as exc:
        raise StartupError(
            f"no key for the simulated venue at {base}: {exc}. Set KALSHI_API_KEY_ID and KALSHI_PRIVATE_KEY_PATH "
            f"to the demo key `kbot sim` printed, or run kbot in the directory whose {cfg.sim.data_dir} holds it"
        ) from exc
    endpoints = Endpoints(
        kalshi=KalshiEndpoints(rest_url=rest_url, ws_url=ws_url), credentials=creds,
        spot_urls={"coinbase": f"{ws_base}/coinbase", "binance": f"{ws_base}/binance", "kraken": f"{ws_base}/kraken/v2"},
    )
    return clock, endpoints


async def settle_after_stop(tree: Tree) -> bool:
    """After the tree stopped: ``final_drain``, then run the recorder until everything it was
    sent is written (at most ``storage.drain_s + 5`` s). False when it could not drain in time."""
    with trio.CancelScope(shield=True):
        await final_drain(tree)
    limit = tree.cfg.storage.drain_s + 5.0
    with trio.move_on_after(limit) as drain:
        async with trio.open_nursery() as n:
            n.start_soon(tree.recorder.run)
            await tree.recorder.flush()
            n.cancel_scope.cancel()
    if drain.cancelled_caught:
        logger.error("the recorder could not drain within {}s: some records of the last moments are missing", limit)
        return False
    return True


async def run_kbot(cfg: AppConfig, *, environ: dict[str, str] | None = None) -> int:
    """Run the whole tree until ``cfg.minutes`` elapse, a signal arrives, or the root gives up.
    Returns the process exit code: 0 clean stop, 1 the tree gave up, 2 a startup problem."""
    from kbot.confload import environment_with_dotenv

    env = environment_with_dotenv() if environ is None else environ  # .env may hold the Kalshi keys
    try:
        return await _run(cfg, env)
    except StartupError as exc:
        logger.error("kbot cannot start: {}", exc)
        return 2


async def _run(cfg: AppConfig, env: dict[str, str]) -> int:
    from kbot.venues.kalshi.auth import CredentialsError
    from kbot.venues.kalshi.errors import KalshiApiError, KalshiAuthError, KalshiError

    wall_start = time.time()
    try:
        engine = await trio.to_thread.run_sync(open_database, cfg.db_url, cfg.storage)
    except Exception as exc:
        raise StartupError(f"database {cfg.db_url!r} could not be opened/upgraded: {exc}") from exc

    async with AsyncExitStack() as stack:
        external_sim = cfg.venue == "sim" and bool(env.get(ENV_REST_URL) or cfg.kalshi.rest_url)
        if external_sim:
            clock, endpoints = await connect_external_sim(cfg, env)
            logger.warning(
                "*** SIMULATED VENUE *** kbot is trading against the simulated venue at {} (speed {}x); nothing here "
                "is real.", endpoints.kalshi.rest_url, clock.speed,
            )
            for f in cfg.state_dir.glob("*.json"):
                f.unlink(missing_ok=True)
        elif cfg.venue == "sim":
            from kbot.sim import running_sim

            epoch0 = sim_start_epoch(cfg, wall_start)
            clock: Clock = ScaledClock(epoch0=epoch0, speed=cfg.sim.speed)
            sim_cfg = attrs.evolve(cfg.sim, start_epoch=epoch0, series=tuple(cfg.series))
            ep = await stack.enter_async_context(running_sim(sim_cfg, clock=clock))
            endpoints = Endpoints(
                kalshi=KalshiEndpoints(rest_url=ep.rest_url, ws_url=ep.ws_url),
                credentials=Credentials.from_files(ep.key_id, ep.private_key_path),
                spot_urls={"coinbase": ep.coinbase_url, "binance": ep.binance_url, "kraken": ep.kraken_url},
            )
            logger.warning(
                "*** SIMULATED VENUE *** kbot is trading against its built-in simulated Kalshi and exchanges "
                "(speed {}x, seed {}); nothing here is real. Use --venue demo|prod with API keys for the real API.",
                cfg.sim.speed, cfg.sim.seed,
            )
            # The simulated world is new in every run: start the risk and volatility state fresh.
            for f in cfg.state_dir.glob("*.json"):
                f.unlink(missing_ok=True)
        else:
            clock = WallClock()
            try:
                kendpoints = cfg.kalshi.endpoints(env)
                creds = cfg.kalshi.credentials(env, required=True)
            except (CredentialsError, ValueError) as exc:
                raise StartupError(str(exc)) from exc
            endpoints = Endpoints(kalshi=kendpoints, credentials=creds,
                                  spot_urls={"coinbase": None, "binance": None, "kraken": None})
        assert endpoints.credentials is not None

        rest = await stack.enter_async_context(
            KalshiRestClient(endpoints.kalshi.rest_url, endpoints.credentials, cfg=cfg.kalshi.rest, clock=clock)
        )
        # Preflight: a signed call, so bad keys fail now with a clear message, not in a restart loop.
        try:
            await rest.get_balance()
        except KalshiAuthError as exc:
            raise StartupError(
                f"Kalshi rejected the API key ({exc}); check KALSHI_API_KEY_ID / KALSHI_PRIVATE_KEY_PATH and "
                "that the key belongs to this environment (demo keys work only on demo)"
            ) from exc
        except (KalshiApiError, KalshiError) as exc:
            logger.warning("preflight balance check failed ({}); continuing: feeds retry on their own", exc)

        started = clock.now()
        run_id = await trio.to_thread.run_sync(functools.partial(
            start_run, engine, now=started, mode=cfg.mode, venue=cfg.venue, config_digest=config_digest(cfg),
            version=__version__,
        ))
        logger.bind(event="run", run_id=run_id).info(
            "run {} started: venue {}, mode {}, database {}", run_id, cfg.venue, cfg.mode, cfg.db_url)
        stats = StatsRegistry()
        recorder = Recorder(engine, run_id, cfg.storage, actor_stats=stats.get("recorder"), clock=clock)
        tree = Tree(cfg, clock=clock, recorder=recorder, endpoints=endpoints, rest_client=rest, engine=engine,
                    run_id=run_id, started_ts=started, stats=stats)
        BadInputLog.sink = _bad_input_sink(recorder)
        if cfg.record.enabled:  # kbot run --record: raw inputs to data/recordings (kbot.replay.recording)
            from kbot.replay.recording import open_recording, recording_meta

            tree.recording = await stack.enter_async_context(open_recording(
                cfg.record, cfg.record.directory(cfg.data_dir), recording_meta(cfg, run_id, clock, __version__), clock))
            rest.recorder = tree.recording.frame_hook
        await trio.to_thread.run_sync(_recover_ledger, engine, cfg, tree, started)
        root = tree.root()
        freeze_startup_objects()
        shorten_gil_switch_interval()

        gave_up: SupervisorGaveUp | None = None
        stopped_by: list[str] = []
        async with trio.open_nursery() as nursery:
            async def supervise() -> None:
                nonlocal gave_up
                try:
                    await root.run()
                except SupervisorGaveUp as exc:
                    gave_up = exc
                finally:
                    nursery.cancel_scope.cancel()

            nursery.start_soon(supervise)
            nursery.start_soon(_stop_on_signals, nursery.cancel_scope, stopped_by)
            if cfg.minutes is not None:
                nursery.start_soon(_stop_after, cfg.minutes * 60.0, nursery.cancel_scope)

        # The tree has stopped. Settle what the lossless mailboxes still hold (an actor may have
        # been down, waiting out a restart backoff, when the stop came), then write what the last
        # moments produced (the final supervision events and ledger entries), then close the run.
        await settle_after_stop(tree)
        ended = clock.now()
        status, reason, code = "ok", None, 0
        if stopped_by:
            status, reason = "interrupted", f"stopped by {stopped_by[0]}"
        if gave_up is not None:
            status, reason, code = "error", str(gave_up), 1
            cause = gave_up.__cause__
            logger.critical("kbot stopped: {} (last failure: {!r}); see logs/restarts.jsonl and `kbot report restarts`",
                            gave_up, cause)
        await trio.to_thread.run_sync(functools.partial(end_run, engine, run_id, now=ended, status=status, reason=reason))
        if cfg.venue == "sim" and not external_sim:
            save_sim_epoch(cfg, ended)
        await tree.alert_sink.aclose()
        if tree.latency_run.n:
            lat = tree.latency_run.summary().as_ms()
            logger.bind(event="latency", scope="run", **lat).info(
                "tick-to-decision over the run: p50 {} ms, p99 {} ms, p99.9 {} ms, max {} ms ({} decisions)",
                lat["p50_ms"], lat["p99_ms"], lat["p999_ms"], lat["max_ms"], lat["n"])
        BadInputLog.sink = None
        logger.bind(event="run", run_id=run_id).info(
            "run {} ended ({}) after {:.0f}s ({:.0f}s of market time)", run_id, status, time.time() - wall_start,
            ended - started)
        return code
