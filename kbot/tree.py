"""The supervised actor tree of ``kbot run``: its mailboxes, the state that outlives actor
incarnations, and the supervisors.

```
root (one_for_one, 10 restarts / 60 s: a real failure of a core actor must reach the operator)
├── recorder      single writer to the database; bounded lossless inbox; drains on stop
├── ledger        fills/settlements (lossless) + quotes for marks (conflating); opens the run's book
├── executor      decisions (lossless) -> orders and fills: shadow, paper (simulated on the live
│                 book) or live (V2 orders); paper/live: venue fills, reconciliation (kbot.execution)
├── decision      edges per ticker + portfolio (conflating) -> decisions (lossless)
├── spot_index    ticks per source (conflating) -> IndexUpdate broadcast to every pricer
├── pricers       dynamic supervisor, one_for_one, one child per open market (kbot.pricerpool)
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

Which message goes to which inbox is the route tables' business (``kbot.routes``): the tree
registers the destinations and builds one router per outbox.

Start order is the order above; shutdown is the reverse, so inputs (feeds, then registry
and pricers) stop before the actors that turn them into money, and the recorder stops last,
after writing what it was sent. Every mailbox and every piece of state an actor needs across
a restart (ledger book, executed decision ids, market registry, WS watch list) belongs to
``Tree``, not to the actor incarnation.
"""

from __future__ import annotations

import functools
import os
import signal
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from decimal import Decimal
from typing import Any

import attrs
import trio

from actors import executor as executor_actor
from actors import ledger as ledger_actor
from actors.decision import decision_inbox_key, run_decision
from actors.executor import executor_inbox_key, run_executor
from actors.health import run_health
from actors.kalshi_rest_feed import RefreshMarket, run_kalshi_rest_feed
from actors.kalshi_ws_feed import Subscribe as WsSubscribe
from actors.kalshi_ws_feed import Unsubscribe as WsUnsubscribe
from actors.kalshi_ws_feed import WatchState, run_kalshi_ws_feed
from actors.ledger import LedgerState, carry_loader, run_ledger
from actors.maker import run_maker
from actors.markets import run_markets
from actors.recorder import Recorder
from actors.scorer import ScorerDb, run_scorer
from actors.spot_feed import run_spot_feed
from actors.spot_index import run_spot_index, spot_tick_key
from kbot import routes
from kbot.actorkit import StatsRegistry, Tee, deliver
from kbot.alerts import AlertSink
from kbot.clock import Clock
from kbot.config import AppConfig
from kbot.execution import Executor
from kbot.execution.live import LiveGateway
from kbot.execution.orders import ManagedOrder
from kbot.execution.paper import PaperGateway, PaperVenue
from kbot.execution.shadow import ShadowExecutor
from kbot.execution.trading import StartHistory, TradingExecutor
from kbot.health import ActorSample, HealthMonitor
from kbot.keepup import KeepUp, KeepUpMeter, KeepUpTap, ReceiptTap
from kbot.latency import LatencyMeter, LatencyTap
from kbot.ledger import Book
from kbot.markets import MarketRegistry
from kbot.messages import IndexUpdate
from kbot.model import killswitch
from kbot.model.blend import load_params
from kbot.model.predict import Predictor
from kbot.model.state import ModelState
from kbot.pricerpool import Freshness, PricerPool
from kbot.statestore import BlockingIO, JsonFileStateStore, StateStore, in_thread
from kbot.strategy.executor import MakerExecutor
from kbot.strategy.maker import MakerCore
from kbot.venues.config import KalshiEndpoints
from kbot.venues.kalshi.auth import Credentials
from kbot.venues.kalshi.rest import KalshiRestClient
from kbot.venues.wslink import LinkHealth
from kbot.wakes import Wakes
from storage import queries
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
)

FEEDS = ("coinbase", "binance", "kraken", "binance_usdm", "kalshi_ws", "kalshi_rest")


class ChaosCrash(RuntimeError):
    """Raised on purpose by the chaos test hook."""


@attrs.frozen
class Endpoints:
    kalshi: KalshiEndpoints
    credentials: Credentials
    spot_urls: dict[str, str | None]


class RecordOut:
    """An outbox for the recorder that avoids a scheduler pass per record unless it is full
    (backpressure: the record is lossless)."""

    __slots__ = ("box",)

    def __init__(self, recorder: Recorder) -> None:
        self.box = recorder.inbox

    async def send(self, msg: Any) -> None:
        await deliver(self.box, msg)

    def send_nowait(self, msg: Any) -> None:
        self.box.send_nowait(msg)


class WatchCmds:
    def subscribe(self, tickers: tuple[str, ...]) -> WsSubscribe:
        return WsSubscribe(tickers)

    def unsubscribe(self, tickers: tuple[str, ...]) -> WsUnsubscribe:
        return WsUnsubscribe(tickers)


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
    supplied by the caller (``root(feeds=...)``: a replay, a benchmark) may pass None; live
    mode needs the REST client (its orders go through it).
    ``open_ledger``: the ledger opens the run's book itself (carried positions and cash, or
    the starting deposit), as ``kbot run`` does; False leaves the book as the caller sets it.
    ``persistent_venue``: the venue's world outlives this run (Kalshi, or a ``kbot sim`` in its
    own process, in live mode): open positions are carried from the previous run.
    ``io``: how blocking calls run (risk state, kill file, the scorer's queries): a worker
    thread; a replay or a test on a virtual clock passes ``kbot.statestore.inline`` (a thread hop
    would let virtual time leap). A replay replaces ``executor`` with its fill model."""

    def __init__(self, cfg: AppConfig, *, clock: Clock, recorder: Recorder, endpoints: Endpoints | None,
                 rest_client: KalshiRestClient | None, engine: Any, run_id: str, started_ts: float,
                 stats: StatsRegistry | None = None, open_ledger: bool = False,
                 persistent_venue: bool | None = None, io: BlockingIO = in_thread) -> None:
        self.cfg = cfg
        self.clock = clock
        self.recorder = recorder
        self.endpoints = endpoints
        self.rest_client = rest_client
        self.engine = engine
        self.run_id = run_id
        self.started_ts = started_ts
        self.open_ledger = open_ledger
        self.io = io
        self.persistent_venue = cfg.venue != "sim" if persistent_venue is None else persistent_venue
        tc = cfg.tree
        self.registry = Registry()
        self.stats = stats if stats is not None else StatsRegistry()
        self.supervisors: list[Supervisor] = []
        self.restarts = 0
        self.alert_sink = AlertSink.from_config(cfg.health, origin=f"{cfg.venue}/{cfg.mode}",
                                                stats=self.stats.get("alerts"))
        self.spot_in: LatestMailbox[Any] = LatestMailbox(spot_tick_key)
        self.decision_in: LatestMailbox[Any] = LatestMailbox(decision_inbox_key)
        self.executor_in: Mailbox[Any] = Mailbox(tc.executor_inbox)
        self.executor_latest: LatestMailbox[Any] = LatestMailbox(executor_inbox_key)
        self.ledger_in: Mailbox[Any] = Mailbox(tc.ledger_inbox)
        self.ledger_marks: LatestMailbox[Any] = LatestMailbox(lambda q: q.ticker)
        self.markets_in: Mailbox[Any] = Mailbox(tc.markets_inbox)
        self.ws_control: Mailbox[Any] = Mailbox(tc.control_inbox)
        self.rest_control: Mailbox[Any] = Mailbox(tc.control_inbox)
        for name, box in (("recorder", recorder.inbox), ("spot_index", self.spot_in), ("decision", self.decision_in),
                          ("executor", self.executor_in), ("executor_latest", self.executor_latest),
                          ("ledger", self.ledger_in),
                          ("ledger_marks", self.ledger_marks), ("markets", self.markets_in),
                          ("kalshi_ws_control", self.ws_control), ("kalshi_rest_control", self.rest_control)):
            self.registry.register(name, box)
        self.record = RecordOut(recorder)
        # state that outlives actor incarnations
        # (live mode opens with no cash of its own: the start-up reconciliation takes the venue's balance)
        starting = cfg.ledger.starting_balance if cfg.mode != "live" else Decimal(0)
        book = Book(cfg.mode, starting)  # type: ignore[arg-type]
        self.ledger_state = LedgerState(book)
        self.executed: set[str] = set()
        self.executor_outq: deque[Any] = deque()  # outputs not yet delivered (paper/live: the executor's own)
        self.orders_acked = 0
        self.executor: Executor = self._build_executor()
        self.maker_core = MakerCore(cfg.maker)  # the maker's plans (state outlives its actor)
        self.market_registry = MarketRegistry(cfg.series)
        self.watch_state = WatchState()
        self.ws_health = LinkHealth()
        self.store: StateStore = JsonFileStateStore(cfg.state_dir)
        self._recording: Any = None  # kbot run --record: the RecordingWriter (``recording``)
        self.recent_decisions: list[Any] = []
        self.freshness = Freshness(clock)
        # the model in force: pricers and the decision read it, the scorer refits and publishes
        self.model = ModelState(Predictor(load_params(cfg.model.params_file), cfg.signals), gates=cfg.gates,
                                window_s=cfg.pricer.window_s)
        self.wakes = Wakes()  # wake marks: announced when recording, followed in a replay of them
        self.pricers = PricerPool(
            cfg, clock=clock, registry=self.registry, stats=self.stats, decisions=self.decision_in, model=self.model,
            record=self.record, freshness=self.freshness,
            supervisor=Supervisor("pricers", [], Strategy.ONE_FOR_ONE, max_restarts=tc.pricers_max_restarts,
                                  within_s=tc.pricers_within_s, on_event=self.on_event, now=clock.now),
            wrap=self._maybe_chaotic, wakes=self.wakes,
        )
        # feed receipt -> Decision (``mono`` -> emission): per health interval (the health actor
        # logs and resets it) and over the whole run (logged at the end; benchmarks read it)
        self.latency = LatencyMeter()
        self.latency_run = LatencyMeter()
        # is kbot keeping up with its venue (quote receipt lag, stale decisions): health reads it
        self.keepup_meter = KeepUpMeter()
        # the destinations of the route tables, and the routers (built once: actors restart,
        # the routing does not change)
        c, ll = routes.conflating, routes.lossless
        self.destinations = {d.name: d for d in (
            c(routes.PRICER, self.pricers.by_ticker), c(routes.PRICERS, self.pricers.fanout),
            c(routes.SPOT_INDEX, self.spot_in), c(routes.LEDGER_MARKS, self.ledger_marks),
            c(routes.FRESHNESS, self.freshness), c(routes.KEEPUP, ReceiptTap(self.keepup_meter, clock)),
            c(routes.EXECUTOR_LATEST, self.executor_latest),
            ll(routes.LEDGER, self.ledger_in), ll(routes.MARKETS, self.markets_in), ll(routes.RECORDER, self.record),
            ll(routes.EXECUTOR, self.executor_in), ll(routes.ALERTS, routes.AsyncSink(self.alert_sink.send)),
        )}
        self.router = routes.Router(routes.feed_routes(cfg.mode), self.destinations)
        self.index_out = routes.Router(routes.INDEX_ROUTES, self.destinations)
        self.alerts_out = routes.Router(routes.alert_routes(cfg.mode), self.destinations)
        self.executor_out = routes.Router(routes.EXECUTOR_ROUTES, self.destinations)
        self.executor_drain_out = routes.Router(routes.EXECUTOR_DRAIN_ROUTES, self.destinations)

    # ------------------------------------------------------------------ views kept for readers

    @property
    def recording(self) -> Any:
        """``kbot run --record``: the ``RecordingWriter`` the network feeds tap and the actors
        announce their wake-ups to (``kbot.wakes``); None: not recording."""
        return self._recording

    @recording.setter
    def recording(self, writer: Any) -> None:
        self._recording = writer
        self.wakes.announce = writer.wake if writer is not None else None

    @property
    def pricer_boxes(self) -> dict[str, LatestMailbox[Any]]:
        return self.pricers.boxes

    @property
    def last_index(self) -> IndexUpdate | None:
        return self.pricers.last_index

    # ------------------------------------------------------------------ events

    def on_event(self, ev: SupervisionEvent) -> None:
        if ev.kind == "restarting":
            self.restarts += 1
        self.recorder.on_event(ev)

    # ------------------------------------------------------------------ health sources

    def samples(self) -> list[ActorSample]:
        """One sample per actor; the per-market pricers are folded into one ``pricers`` row
        (their mailboxes and counters summed), so health stays a few rows per interval."""
        restarts: dict[str, int] = {}
        for sup in self.supervisors:
            for ch in sup.children():
                restarts[ch.name] = ch.restarts
        stats = dict(self.stats.items())
        out: list[ActorSample] = []
        agg = dict(inbox_depth=0, inbox_peak=0, msgs_in=0, msgs_out=0, restarts=0, errors=0)
        n_pricers, last_pricer = 0, None
        for name in sorted(set(self.registry.names()) | set(stats)):
            box: Any = self.registry.lookup(name)
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
            if name in ("binance", "coinbase", "kraken", "binance_usdm") and not getattr(self.cfg.spot, name).enabled:
                continue
            if name == "kalshi_rest":
                continue  # polls on its own cadence; its failures show as errors/restarts
            out[name] = self.stats.get(name).last_msg_ts
        return out

    def spot_last(self) -> float | None:
        return self.freshness.spot_last

    def quote_last(self) -> dict[str, float | None]:
        """Last fresh quote per priced market (health's ``quote_gap``)."""
        last = self.freshness.quote_last
        return {t: last.get(t) for t in self.market_registry.priced}

    def keepup(self) -> KeepUp:
        return self.keepup_meter.take()

    def daily_pnl(self) -> tuple[float, Decimal] | None:
        pf = self.ledger_state.last_portfolio
        return None if pf is None else (pf.ts, pf.daily_realized_pnl)

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
        line = (f"{len(self.market_registry.priced)} markets priced, {spot}; {len(self.executed)} TAKEs, "
                f"{d.msgs_out} decisions{money}; {self.restarts} restarts")
        ex: Any = self.executor
        if isinstance(ex, MakerExecutor):
            c = ex.counts
            line = (f"MAKER {c.get('place', 0)} quotes placed, {c.get('replace', 0)} replaced, {c.get('cancel', 0)} "
                    f"canceled, {c.get('fill', 0)} filled; " + line)
            ex = ex.inner
        if isinstance(ex, TradingExecutor):
            n = ex.counts
            state = "ready" if ex.ready else f"NOT RECONCILED ({ex.start_error or 'starting'})"
            if ex.killed():
                state = "KILL SWITCH"
            halted = f", halted: {', '.join(sorted(ex.reconciler.halted))}" if ex.reconciler.halted else ""
            line = (f"{ex.mode.upper()} [{state}] {n['orders']} orders, {n['fills']} fills, "
                    f"{len(ex.manager.open_orders())} open{halted}; " + line)
        return line

    # ------------------------------------------------------------------ building

    def _build_executor(self) -> Executor:
        """Shadow, paper or live, from ``cfg.mode``, taking or making (``[maker] enabled``):
        owned by the tree (its orders outlive actor incarnations)."""
        cfg = self.cfg
        if cfg.maker.enabled:
            inner = None if cfg.mode == "shadow" else self._trading_executor()
            return MakerExecutor(cfg.mode, cfg.maker, inner, pending=self.executor_outq)  # type: ignore[arg-type]
        if cfg.mode == "shadow":
            return ShadowExecutor()
        return self._trading_executor()

    def _trading_executor(self) -> TradingExecutor:
        cfg = self.cfg
        if cfg.mode == "paper":
            gw: Any = PaperGateway(PaperVenue(latency_s=cfg.execution.paper.latency_s,
                                              shrink_queue=cfg.execution.paper.queue_shrinks_with_book,
                                              infer_trades=cfg.execution.paper.infer_trades,
                                              rounding=cfg.pricer.fee_rounding))
        else:
            if self.rest_client is None:
                raise ValueError("live mode needs the Kalshi REST client (its orders go through it)")
            gw = LiveGateway(self.rest_client, request_timeout_s=cfg.execution.request_timeout_s)
        kill_file, io = cfg.risk.kill_file, self.io

        async def read_kill() -> str | None:
            return await io(killswitch.read_kill, kill_file)

        return TradingExecutor(
            cfg.mode, cfg.execution, gw, read_kill=read_kill, kill_poll_s=cfg.risk.kill_poll_s,  # type: ignore[arg-type]
            history=self._start_history if cfg.mode == "live" and self.engine is not None else None,
            on_ack=self._chaos_kill if cfg.chaos.kill_after_orders else None, pending=self.executor_outq,
        )

    async def _start_history(self) -> StartHistory:
        """The previous run of this mode and venue: where to catch up on the venue's fills from,
        and the fills the record already has."""
        cfg = self.cfg

        def q() -> StartHistory:
            with self.engine.connect() as conn:
                prev = queries.latest_run(conn, mode=cfg.mode, venue=cfg.venue, exclude=self.run_id)
                if prev is None:
                    return StartHistory(since=None)
                fills = queries.fill_ids_since(conn, mode=cfg.mode, since=prev.started_ts)
                orders = queries.client_order_ids_since(conn, mode=cfg.mode, since=prev.started_ts)
            return StartHistory(since=prev.started_ts, known_fills=frozenset(fills), known_orders=frozenset(orders))

        return await self.io(q)

    def _chaos_kill(self, o: ManagedOrder) -> None:
        """Test hook (``chaos.kill_after_orders``): SIGKILL this process right after the venue
        accepted the N-th order, before kbot records it, as ``kill -9`` would."""
        self.orders_acked += 1
        if self.orders_acked >= self.cfg.chaos.kill_after_orders:
            os.kill(os.getpid(), signal.SIGKILL)

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
        for ex in ("coinbase", "binance", "kraken", "binance_usdm"):
            fc = getattr(cfg.spot, ex)
            url = self.endpoints.spot_urls.get(ex)
            if url:
                fc = attrs.evolve(fc, url=url)
            if not fc.enabled:
                continue
            children.append(self._spec(ex, run_spot_feed, fc, router, st.get(ex), clock, backoff=feed_backoff,
                                       tap=self.recording.wrap_protocol if self.recording else None))
        ws_cfg = cfg.kalshi.ws
        if cfg.mode == "live":  # the account's fills, order updates and positions
            ws_cfg = attrs.evolve(ws_cfg, fills=True, user_orders=True, market_positions=True)
        children.append(self._spec(
            "kalshi_ws", run_kalshi_ws_feed, ws_cfg, self.endpoints.kalshi.ws_url, self.endpoints.credentials,
            router, st.get("kalshi_ws"), clock, control=self.ws_control, state=self.watch_state,
            health=self.ws_health, backoff=feed_backoff, tap=self.recording.wrap_session if self.recording else None,
        ))
        rest_cfg = attrs.evolve(cfg.kalshi.rest_feed, series=tuple(cfg.series))
        children.append(self._spec(
            "kalshi_rest", run_kalshi_rest_feed, rest_cfg, self.rest_client, router, st.get("kalshi_rest"), clock,
            ws_health=self.ws_health, control=self.rest_control, backoff=feed_backoff,
        ))
        return children

    def root(self, feeds: Sequence[ChildSpec] | None = None) -> Supervisor:
        """The root supervisor. ``feeds``: the children of the ``feeds`` supervisor; None (the
        default) builds the network feeds; a replay or a benchmark passes its own children that
        send to ``self.router`` (or none at all). Feeds given here also receive the registry's
        watch commands on ``ws_control``/``rest_control`` (bounded): one that has no use for them
        must still drain them (``drain_control``)."""
        cfg, clock, st = self.cfg, self.clock, self.stats
        rec = self.record
        health = HealthMonitor(cfg.health, max_daily_loss=cfg.risk.max_daily_loss)
        # the latency tap first: it measures at emission, before the sends below yield
        decision_out = Tee(LatencyTap(self.latency, self.latency_run), KeepUpTap(self.keepup_meter), self.executor_in, rec)
        opening = (carry_loader(self.engine, mode=cfg.mode, venue=cfg.venue, run_id=self.run_id,
                                carry=cfg.ledger.carry_positions and self.persistent_venue)
                   if self.open_ledger else None)
        trading = cfg.mode != "shadow"
        # the ledger's portfolio: the decision actor's risk input; in paper/live also the
        # executor's view of the ledger for reconciliation
        portfolio_out = Tee(self.decision_in, self.executor_latest) if trading else self.decision_in
        children = [
            # The recorder drains what it holds for up to drain_s on stop; give it that and a batch.
            ChildSpec("recorder", self.recorder.run, restart=Restart.PERMANENT,
                      shutdown_s=cfg.storage.drain_s + 5.0, backoff=Backoff(initial_s=0.2, max_s=10.0)),
            # alert webhook delivery: its own task, so a slow chat service never holds an actor
            ChildSpec("alerts", self.alert_sink.run, restart=Restart.PERMANENT, shutdown_s=1.0,
                      backoff=Backoff(initial_s=1.0, max_s=30.0)),
            self._spec("ledger", run_ledger, self.ledger_in, self.ledger_marks, rec, portfolio_out,
                       self.ledger_state, clock=clock, stats=st.get("ledger"),
                       publish_every_s=cfg.ledger.publish_every_s, opening=opening, wakes=self.wakes),
            self._spec("executor", run_executor, self.executor_in, self.executor_out, self.executor,
                       clock=clock, stats=st.get("executor"), executed=self.executed,
                       latest=self.executor_latest if trading else None, outq=self.executor_outq, wakes=self.wakes),
            self._decision_or_maker(decision_out),
            self._spec("spot_index", run_spot_index, self.spot_in, self.index_out, clock=clock,
                       config=cfg.index, vol_config=cfg.vol, signal_config=cfg.signals, store=self.store,
                       stats=st.get("spot_index"), io=self.io, wakes=self.wakes),
            # Pricers fail alone (bad data for one market must not restart the others); many
            # restarts are tolerated because there are many children.
            ChildSpec("pricers", self.pricers.supervisor.run, restart=Restart.PERMANENT, shutdown_s=30.0,
                      backoff=Backoff(initial_s=1.0, max_s=30.0)),
            self._spec("markets", run_markets, self.markets_in, self.market_registry, self.pricers, clock=clock,
                       stats=st.get("markets"), ws_control=self.ws_control, watch_commands=WatchCmds(),
                       refresh=self.rest_control, refresh_command=RefreshMarket, tick_s=cfg.tree.registry_tick_s),
            ChildSpec("feeds", self.feeds_supervisor(feeds).run, restart=Restart.PERMANENT, shutdown_s=30.0,
                      backoff=Backoff(initial_s=2.0, max_s=60.0)),
            self._spec("scorer", run_scorer, ScorerDb(self.engine, self.io), rec, clock=clock, stats=st.get("scorer"),
                       every_s=cfg.scorer.every_s, batch=cfg.scorer.batch, model=self.model, gates=cfg.gates,
                       evidence=cfg.evidence, model_config=cfg.model),
            self._spec("health", run_health, self, rec, health, self.alert_sink, clock=clock, stats=st.get("health"),
                       started_ts=self.started_ts, summary_every_s=cfg.logging.summary_every_s,
                       latency=self.latency),
        ]
        root = Supervisor("root", children, Strategy.ONE_FOR_ONE, max_restarts=cfg.tree.root_max_restarts,
                          within_s=cfg.tree.root_within_s, on_event=self.on_event, now=clock.now)
        self.supervisors[:0] = [root, self.pricers.supervisor]
        return root

    def _decision_or_maker(self, decision_out: Any) -> ChildSpec:
        """The decision actor (TAKE/PASS), or with ``[maker] enabled`` the maker actor on the same
        inbox (edges and the portfolio), its quote targets to the executor and the record."""
        cfg, clock, st = self.cfg, self.clock, self.stats
        if cfg.maker.enabled:
            core = self.maker_core
            core.max_daily_loss = cfg.risk.max_daily_loss
            return self._spec("maker", run_maker, self.decision_in, Tee(self.executor_in, self.record), clock=clock,
                              core=core, stats=st.get("maker"), kill_file=cfg.risk.kill_file,
                              kill_poll_s=cfg.risk.kill_poll_s, io=self.io)
        return self._spec("decision", run_decision, self.decision_in, decision_out, clock=clock, gates=cfg.gates,
                          sizing=cfg.sizing, risk=cfg.risk, pricer=cfg.pricer, store=self.store,
                          recent_decisions=self.recent_decisions, alerts=self.alerts_out, stats=st.get("decision"),
                          evidence=cfg.evidence, model=self.model, io=self.io, wakes=self.wakes)

    # ------------------------------------------------------------------ after the stop

    async def final_drain(self) -> None:
        """After the tree stopped: each money actor settles what its lossless inbox still holds
        (an actor may have been down, waiting out a restart backoff, when the stop came);
        everything produced goes to the recorder's mailbox (flushed next). So a stop never
        leaves a TAKE without its fill or a fill without its ledger entries."""
        now = self.clock.now()
        waiting = await executor_actor.final_drain(
            self.executor_in, self.executed, self.executor_drain_out, executor=self.executor, now=now,
            outq=self.executor_outq)
        await ledger_actor.final_drain(self.ledger_state, self.ledger_in, self.record, now,
                                       force_portfolio=waiting > 0)


async def drain_control(tree: Tree) -> None:
    """A feeds child for trees without network feeds (replays, benchmarks): takes the market
    registry's watch and refresh commands, which only the network feeds act on, and drops them."""
    async with trio.open_nursery() as n:
        for box in (tree.ws_control, tree.rest_control):
            async def drain(box: Mailbox[Any] = box) -> None:
                while True:
                    await box.receive_batch()

            n.start_soon(drain)
