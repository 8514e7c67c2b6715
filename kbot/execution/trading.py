"""Paper and live execution behind one executor: TAKE decisions become orders through a
``Gateway`` (``kbot.execution.paper.PaperGateway`` or ``kbot.execution.live.LiveGateway``); the
venue's answers, fills and order updates go through the order manager; reconciliation compares
the ledger with the venue at start and every ``reconcile.every_s``.

What it guards (a TAKE is refused, recorded as a ``rejected`` order with the reason, when):
``kill_switch`` (the kill file, or the decision actor's kill alert: also cancels every open
order), ``auth_failed`` (the venue refused the credentials: trading stops, alert),
``not_reconciled`` (the start-up reconciliation has not succeeded yet), ``halted`` (a
reconciliation mismatch in that market, or for the whole account), ``stale_decision`` (older
than ``max_decision_age_s``), ``close_cutoff`` (within ``close_cutoff_s`` of the market's
close), ``market_settled``.

Errors from the venue (live): a refusal (4xx, 409 ``market closed``) ends the order at once,
no retry; 429/5xx are retried by the REST client with backoff (safe: the client order id makes
a replay a 409); an answer that never came (timeout, retries exhausted) leaves the order
``pending`` and ``unknown``: it is resolved by a query, never by sending it again; a 409
"already exists" is resolved the same way; 401/403 stops trading and alerts.

Outputs: ``OrderEvent``, ``Fill``, ``MarketSettled`` and ``LedgerAdjustment`` for the ledger and
the record, ``Reconciliation`` for the record, ``Alert``. Each is put in ``pending`` (a queue the
tree owns, which the executor actor delivers) the moment the state change behind it is made, not
when the method returns: a method interrupted at a later await (a stop, a crash) loses nothing it
already did. Methods also return what they produced (for tests and callers that want it).
Time is always an argument; I/O happens only in the gateway and the injected callables.
"""

from __future__ import annotations

import math
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Iterable
from decimal import Decimal
from typing import Any, Literal, Protocol

import attrs
from loguru import logger

from kbot.alerts import reconciliation_alert
from kbot.execution.config import ExecutionConfig
from kbot.execution.orders import ManagedOrder, OrderManager, OrderSpec, OrderState, VenueFinal
from kbot.execution.reconcile import (
    ALL,
    Diff,
    LedgerAdjustment,
    LedgerView,
    Reconciler,
    VenueSnapshot,
    balance_diff,
    check_orders,
    missing_rows,
    position_diffs,
    settlement_diffs,
)
from kbot.messages import (
    Alert,
    Decision,
    FeedStatus,
    Fill,
    MarketInfo,
    MarketSettled,
    Mode,
    OrderEvent,
    PortfolioState,
    Quote,
    Reconciliation,
    Trade,
)

ZERO = Decimal(0)
QUERY_EVERY_S = 2.0  # an unknown order is queried at most this often (clock seconds)
FORGET_AFTER_S = 3600.0  # finished orders are dropped from memory after this long


@attrs.frozen(kw_only=True)
class Reply:
    """The venue's answer to one request."""

    kind: Literal["accepted", "ack", "rejected", "unknown", "auth", "not_found"]
    order_id: str | None = None
    filled: Decimal | None = None  # filled at once (create/amend)
    remaining: Decimal | None = None  # still resting after the request
    final: VenueFinal | None = None
    reason: str = ""
    order: OrderEvent | None = None  # a query's answer: the order as the venue sees it
    complete: bool = True  # a "not_found" from a listing read whole (else: conclude nothing)


@attrs.frozen(kw_only=True)
class StartHistory:
    """What the record says about the previous run (live start-up)."""

    since: float | None  # catch up on venue fills from here (the previous run's start), None: nothing to catch up
    known_fills: frozenset[str] = frozenset()  # fill ids the record already has
    known_orders: frozenset[str] = frozenset()  # client order ids the record already has


class Gateway(Protocol):
    """Where orders go. Paper: an in-process simulated venue; live: Kalshi's V2 endpoints."""

    async def place(self, cid: str, spec: OrderSpec, now: float) -> Reply: ...

    async def cancel(self, orders: list[ManagedOrder], now: float) -> list[Reply]: ...

    async def amend(self, o: ManagedOrder, price: Decimal, count: Decimal, now: float) -> Reply: ...

    async def decrease(self, o: ManagedOrder, to: Decimal, now: float) -> Reply: ...

    async def query(self, o: ManagedOrder, now: float) -> Reply: ...

    async def lookup(self, order_id: str, now: float) -> Reply: ...

    async def snapshot(self, now: float) -> VenueSnapshot | str: ...

    async def confirm(self, tickers: list[str], now: float) -> dict[str, Decimal | None]: ...

    async def poll_fills(self, since: float, now: float, ticker: str | None = None) -> list[Fill] | None: ...

    async def recent_orders(self, since: float, now: float) -> list[OrderEvent] | None: ...

    def on_data(self, msg: Any) -> list[Any]: ...

    def step(self, now: float) -> list[Any]: ...

    def next_due(self) -> float | None: ...

    def seed(self, positions: dict[str, Decimal], cash: Decimal, now: float) -> None: ...


class TradingExecutor:
    """Paper or live execution. Owned by the tree (its order book of orders outlives actor
    incarnations); the executor actor feeds it."""

    def __init__(self, mode: Mode, cfg: ExecutionConfig, gateway: Gateway, *,
                 read_kill: Callable[[], Awaitable[str | None]] | None = None, kill_poll_s: float = 1.0,
                 history: Callable[[], Awaitable[StartHistory]] | None = None,
                 on_ack: Callable[[ManagedOrder], None] | None = None,
                 pending: deque[Any] | None = None) -> None:
        self.mode: Mode = mode
        self.cfg = cfg
        self.gw = gateway
        self.read_kill = read_kill
        self.kill_poll_s = kill_poll_s
        self.history = history
        self.on_ack_hook = on_ack
        self.manager = OrderManager(mode, cfg.client_order_prefix)
        self.reconciler = Reconciler(mode, adopt=cfg.reconcile.adopt)
        self.pending: deque[Any] = pending if pending is not None else deque()  # outputs not yet delivered
        self.portfolio: PortfolioState | None = None
        self.markets: dict[str, MarketInfo] = {}
        self.kill_file: str | None = None
        self.kill_alert: str | None = None
        self.auth_failed: str | None = None
        self.ready = False
        self.start_error: str | None = None
        self._start_phase = 0
        self._start_notes: list[str] = []
        self.sent_at: dict[str, float] = {}  # ticker -> when the ledger was last sent something for it
        self.sent_any = -math.inf
        self.kbot_settled: dict[str, tuple[str, Decimal]] = {}
        self.next_reconcile = -math.inf
        self.next_fill_poll = -math.inf
        self.next_kill = -math.inf
        self.next_start = -math.inf
        self.counts: Counter[str] = Counter()
        self._warned: set[str] = set()

    # ------------------------------------------------------------------ the executor interface

    async def execute(self, decision: Decision, now: float) -> list[Any]:
        if decision.action != "TAKE" or decision.side is None or decision.limit_price is None or decision.count <= 0:
            return []
        m = self.manager
        if m.get(m.cid_for(decision.decision_id)) is not None:
            return []  # this decision has its order already: never a second one
        spec = self._spec(decision, now)
        o = m.open(decision.decision_id, spec, now)
        assert o is not None
        why = self.refusal(decision, spec, now)
        if why is not None:
            self.counts["refused"] += 1
            logger.bind(event="order", decision_id=decision.decision_id).info(
                "TAKE {} {} not sent: {}", decision.ticker, decision.decision_id, why)
            return self._emit(m.reject(o, why, now))
        self.counts["orders"] += 1
        logger.bind(event="order", decision_id=decision.decision_id, mode=self.mode).info(
            "{} order {}: buy {} {} @ {} {}", self.mode.upper(), o.client_order_id, spec.count, spec.side.upper(),
            spec.price, spec.time_in_force)
        return await self._send(o, spec, now)

    async def _send(self, o: ManagedOrder, spec: OrderSpec, now: float) -> list[Any]:
        try:
            reply = await self.gw.place(o.client_order_id, spec, now)
        except BaseException:
            # interrupted (a stop, a bug) with the request perhaps sent: resolve by a query
            self.manager.mark_unknown(o, "interrupted while placing")
            o.next_query = now
            raise
        return self._out(self._apply_reply(o, reply, now))

    async def place(self, key: str, spec: OrderSpec, now: float) -> tuple[ManagedOrder | None, list[Any]]:
        """An order that is not a TAKE decision's (a maker quote): ``key`` stands in for the
        decision id in its client order id and must be unique. Passes the same guards as a TAKE
        (``guard``); a refused order is recorded ``rejected`` with the reason. Returns the order
        (None: ``key`` was used already) and the outputs."""
        m = self.manager
        o = m.open(key, spec, now)
        if o is None:
            return None, []
        why = self.guard(spec, now)
        if why is not None:
            self.counts["refused"] += 1
            return o, self._emit(m.reject(o, why, now))
        self.counts["orders"] += 1
        return o, await self._send(o, spec, now)

    async def on_input(self, msg: Any, now: float) -> list[Any]:
        if isinstance(msg, Fill):
            return self._out(self._on_fill(msg, now))
        if isinstance(msg, OrderEvent):
            return self._out(self._on_venue_order(msg, now))
        if isinstance(msg, (Quote, Trade)):
            return self._out(self._venue_events(self.gw.on_data(msg), now))
        if isinstance(msg, MarketInfo):
            self.markets[msg.ticker] = msg
            self.gw.on_data(msg)
            return []
        if isinstance(msg, MarketSettled):
            return self._out(await self._on_settled(msg, now))
        if isinstance(msg, PortfolioState):
            if msg.mode == self.mode:
                self.portfolio = msg
            return []
        if isinstance(msg, Alert):
            if msg.kind == "kill_switch":
                self.kill_alert = msg.message if msg.severity == "critical" else None
            return []
        if isinstance(msg, FeedStatus):
            if msg.feed == "kalshi_ws" and msg.status in ("connected", "resynced"):
                # after a reconnect: check the account and look for fills the socket missed
                self.next_reconcile = min(self.next_reconcile, now)
                self.next_fill_poll = min(self.next_fill_poll, now)
            return []
        return []

    async def tick(self, now: float) -> list[Any]:
        out: list[Any] = []
        out += self._venue_events(self.gw.step(now), now)
        if self.read_kill is not None and now >= self.next_kill:
            self.next_kill = now + self.kill_poll_s
            self.kill_file = await self.read_kill()
        killed = self.killed()
        cutoff = self.cfg.close_cutoff_s
        to_cancel = []
        for o in self.manager.open_orders():
            if o.cancel_requested or o.order_id is None or o.unknown:
                continue
            close = self._close_ts(o.ticker, o.spec.close_ts)
            if killed is not None:
                to_cancel.append((o, "kill_switch"))
            elif close is not None and now >= close - cutoff and self._cancelable(o):
                to_cancel.append((o, "close_cutoff"))
        if to_cancel:
            out += await self._cancel(to_cancel, now)
        out += await self._resolve_unknown(now)
        if not self.ready:
            # no fill polling before the start-up pass has loaded what the record already has
            if now >= self.next_start:
                out += await self._start(now)
            return self._out(out)
        if now >= self.next_fill_poll:
            self.next_fill_poll = now + self.cfg.reconcile.fill_poll_s
            out += await self._poll_fills(now - self.cfg.reconcile.fill_lookback_s, now)
        if now >= self.next_reconcile:
            self.next_reconcile = now + self.cfg.reconcile.every_s
            out += await self.reconcile(now)
            self.manager.forget_finished(now - FORGET_AFTER_S)
        return self._out(out)

    def next_wake(self, now: float) -> float:
        times = [self.next_reconcile, self.next_fill_poll] if self.ready else [self.next_start]
        if self.read_kill is not None:
            times.append(self.next_kill)
        due = self.gw.next_due()
        if due is not None:
            times.append(due)
        for o in self.manager.open_orders():
            if o.unknown:
                times.append(o.next_query)
            elif self._cancelable(o):  # only what tick can act on (no wake-up it would ignore)
                close = self._close_ts(o.ticker, o.spec.close_ts)
                if close is not None:
                    times.append(close - self.cfg.close_cutoff_s)
        return min(times)

    @staticmethod
    def _cancelable(o: ManagedOrder) -> bool:
        return (o.order_id is not None and not o.unknown and not o.cancel_requested
                and o.state in (OrderState.RESTING, OrderState.PARTIALLY_FILLED))

    async def stop(self, now: float) -> list[Any]:
        """A clean stop: cancel kbot's resting orders (``cancel_on_stop``; a crash cannot, the
        next start finds them at the venue and adopts them), and book the fills and settlements
        the venue made that kbot had not heard of yet."""
        orders = [(o, "stopping") for o in self.manager.open_orders()
                  if self.cfg.cancel_on_stop and o.order_id is not None and not o.unknown and not o.cancel_requested
                  and o.state in (OrderState.RESTING, OrderState.PARTIALLY_FILLED)]
        out = await self._cancel(orders, now) if orders else []
        out += self._venue_events(self.gw.step(now + 3600.0), now)  # paper: the cancels take effect
        # a last look at the venue: its fills kbot has not seen (a lost message, a poll not yet
        # due) and what it paid out before the stop are booked
        ledger = self._ledger()
        if self.ready:
            out += await self._poll_fills(now - self.cfg.reconcile.fill_lookback_s, now)
        if self.ready and ledger is not None:
            snap = await self.gw.snapshot(now)
            if not isinstance(snap, str):
                out += await self._settle_from_venue(snap, ledger, now)
        return self._out(out)

    # ------------------------------------------------------------------ amend / decrease / cancel

    async def amend(self, cid: str, *, price: Decimal, count: Decimal, now: float) -> list[Any]:
        """Cancel/replace in one step (Kalshi's amend): new limit price and new total size."""
        o = self.manager.get(cid)
        if o is None or not o.is_open or o.order_id is None:
            return []
        reply = await self.gw.amend(o, price, count, now)
        out: list[Any] = []
        if reply.kind == "ack":
            self.manager.replace(o, price=price, count=count, now=now)
            out += self._emit(self.manager.on_ack(o, order_id=reply.order_id or o.order_id, now=now,
                                                  filled=reply.filled, remaining=reply.remaining, final=reply.final))
        elif reply.kind == "auth":
            out += self._auth(reply.reason, now)
        else:
            logger.warning("amend of {} refused: {}", cid, reply.reason)
        return self._out(out)

    async def decrease(self, cid: str, *, to: Decimal, now: float) -> list[Any]:
        o = self.manager.get(cid)
        if o is None or not o.is_open or o.order_id is None or to >= o.count - o.filled:
            return []
        if to <= ZERO:
            return await self.cancel(cid, now, "decreased to 0")
        reply = await self.gw.decrease(o, to, now)
        if reply.kind == "ack":
            self.manager.replace(o, price=o.price, count=o.filled + to, now=now)
            return self._emit(self.manager.on_ack(o, order_id=o.order_id, now=now, remaining=reply.remaining,
                                                  final=reply.final))
        if reply.kind == "auth":
            return self._out(self._auth(reply.reason, now))
        return []

    async def cancel(self, cid: str, now: float, reason: str = "canceled") -> list[Any]:
        o = self.manager.get(cid)
        if o is None or not o.is_open or o.order_id is None:
            return []
        return self._out(await self._cancel([(o, reason)], now))

    # ------------------------------------------------------------------ guards

    def killed(self) -> str | None:
        return self.kill_file or self.kill_alert

    def refusal(self, d: Decision, spec: OrderSpec, now: float) -> str | None:
        why = self.guard(spec, now)
        if why is None and now - d.ts > self.cfg.max_decision_age_s:
            return f"stale_decision: {now - d.ts:.1f}s old"
        return why

    def guard(self, spec: OrderSpec, now: float) -> str | None:
        """Why no new order may go to ``spec.ticker`` now (None: it may): the guards every order
        passes, TAKE or maker quote."""
        if (k := self.killed()) is not None:
            return f"kill_switch: {k}"
        if self.auth_failed is not None:
            return "auth_failed"
        if not self.ready:
            return f"not_reconciled{': ' + self.start_error if self.start_error else ''}"
        if (h := self.reconciler.is_halted(spec.ticker)) is not None:
            return f"halted: {h}"
        if spec.ticker in self.manager.settled:
            return "market_settled"
        close = self._close_ts(spec.ticker, spec.close_ts)
        if close is not None and now >= close - self.cfg.close_cutoff_s:
            return "close_cutoff"
        return None

    def _close_ts(self, ticker: str, fallback: float | None) -> float | None:
        m = self.markets.get(ticker)
        return m.close_ts if m is not None and m.close_ts is not None else fallback

    def _spec(self, d: Decision, now: float) -> OrderSpec:
        cfg = self.cfg
        assert d.side is not None and d.limit_price is not None
        ttl = cfg.order_ttl_s if cfg.time_in_force == "good_till_canceled" and cfg.order_ttl_s else None
        return OrderSpec(ticker=d.ticker, side=d.side, count=d.count, price=d.limit_price,
                         time_in_force=cfg.time_in_force, post_only=cfg.post_only,
                         expires_ts=math.ceil(now + ttl) if ttl else None,
                         close_ts=self._close_ts(d.ticker, d.edge.close_ts))

    # ------------------------------------------------------------------ venue answers

    def _out(self, msgs: Iterable[Any]) -> list[Any]:
        return list(msgs)

    def _emit(self, msgs: Iterable[Any]) -> list[Any]:
        """Put outputs in ``pending`` now (their state change is made); returns them."""
        out = list(msgs)
        self.pending.extend(out)
        return out

    def sent(self, msg: Any, now: float) -> None:
        """``msg`` was handed to the ledger at ``now``: until the ledger's view is newer, its
        market (and the cash) is not compared."""
        if isinstance(msg, (Fill, LedgerAdjustment)):
            t = msg.ticker or ALL
            self.sent_at[t] = max(self.sent_at.get(t, -math.inf), now)
            self.sent_any = max(self.sent_any, now)

    def _apply_reply(self, o: ManagedOrder, reply: Reply, now: float) -> list[Any]:
        m = self.manager
        if reply.kind == "accepted" and reply.order_id is not None:
            return self._emit(m.on_accepted(o, order_id=reply.order_id, now=now))
        if reply.kind == "ack" and reply.order_id is not None:
            self.counts["acked"] += 1
            if self.on_ack_hook is not None:
                self.on_ack_hook(o)
            return self._emit(m.on_ack(o, order_id=reply.order_id, now=now, filled=reply.filled,
                                       remaining=reply.remaining, final=reply.final))
        if reply.kind == "rejected":
            self.counts["rejected"] += 1
            logger.bind(event="order").warning("order {} rejected by the venue: {}", o.client_order_id, reply.reason)
            return self._emit(m.reject(o, reply.reason or "rejected", now))
        if reply.kind == "auth":
            return [*self._emit(m.reject(o, "auth_failed", now)), *self._auth(reply.reason, now)]
        # unknown (lost answer, 409 already exists): resolved by a query, never by a resend
        self.counts["unknown"] += 1
        m.mark_unknown(o, reply.reason or "answer lost")
        o.next_query = now
        logger.bind(event="order").warning("order {}: outcome unknown ({}); resolving by query", o.client_order_id,
                                           reply.reason)
        return []

    def _auth(self, reason: str, now: float) -> list[Any]:
        first = self.auth_failed is None
        self.auth_failed = reason or "the venue refused the credentials"
        if not first:
            return []
        logger.critical("Kalshi refused the credentials: trading stopped ({})", self.auth_failed)
        return self._emit([Alert(ts=now, kind="kalshi_auth", severity="critical", subject=None,
                                 message=f"the venue refused kbot's credentials; no new orders until restarted with "
                                         f"working keys: {self.auth_failed}")])

    def _venue_events(self, events: Iterable[Any], now: float) -> list[Any]:
        out: list[Any] = []
        for ev in events:
            if isinstance(ev, Fill):
                out += self._on_fill(ev, now)
            elif isinstance(ev, OrderEvent):
                out += self._on_venue_order(ev, now)
        return out

    def _on_fill(self, fill: Fill, now: float) -> list[Any]:
        res = self.manager.on_fill(fill, now)
        if res.duplicate:
            self.counts["duplicate_fills"] += 1
            return []
        if res.refused is not None:
            self.counts["refused_fills"] += 1
            logger.bind(event="fill").error("fill {} ({} {} @ {}, {}) refused: {}", fill.fill_id, fill.count, fill.side,
                                            fill.price, fill.ticker, res.refused)
            return self._emit([
                Reconciliation(ts=now, mode=self.mode, kind="fill", ticker=fill.ticker, status="mismatch", ledger=None,
                               venue=f"{fill.count} {fill.side} @ {fill.price}",
                               detail=f"fill {fill.fill_id} of order {fill.order_id} refused: {res.refused}"),
                reconciliation_alert(now, fill.ticker, severity="critical", detail=f"fill {fill.fill_id} refused ({res.refused}): the venue and the ledger may disagree"),
            ])
        self.counts["fills"] += 1
        out: list[Any] = [res.fill, *res.events]
        if res.order is None:
            out.append(Reconciliation(ts=now, mode=self.mode, kind="fill", ticker=fill.ticker, status="found",
                                      venue=f"{fill.count} {fill.side} @ {fill.price}",
                                      detail=f"fill {fill.fill_id} of order {fill.order_id} kbot did not know: applied"))
        return self._emit(out)

    def _on_venue_order(self, ev: OrderEvent, now: float, *, announce: bool = True) -> list[Any]:
        m = self.manager
        o, events = m.on_venue_order(ev, now)
        out: list[Any] = list(events)
        if o is None:
            if m.is_ours(ev.client_order_id):
                o, events = m.adopt(ev, now)
                out += events
                if announce:
                    out.append(Reconciliation(ts=now, mode=self.mode, kind="order", ticker=ev.ticker, status="found",
                                              venue=f"{ev.status} {ev.filled_count}/{ev.count}",
                                              detail=f"order {ev.order_id} ({ev.client_order_id}) of an earlier process "
                                                     "adopted"))
            else:
                return self._emit(out)  # a foreign order: the reconciliation pass judges resting ones
        if o.venue_filled > o.filled:
            self.next_fill_poll = min(self.next_fill_poll, now)  # the venue reports fills kbot has not seen
        return self._emit(out)

    async def _on_settled(self, s: MarketSettled, now: float) -> list[Any]:
        """The market's outcome: its fills still on their way are fetched and handed to the ledger
        first (a fill delayed past the outcome must not miss the settlement), then the
        settlement; later fills for it are refused."""
        out: list[Any] = []
        t = s.ticker
        if t not in self.kbot_settled:
            if self.manager.positions.get(t) or any(o.ticker == t for o in self.manager.orders.values()):
                fills = await self.gw.poll_fills(now - self.cfg.reconcile.fill_lookback_s, now, ticker=t)
                for f in sorted(fills or (), key=lambda f: f.ts):
                    if f.ticker == t and f.fill_id not in self.manager.seen_fills:
                        self.counts["fills_before_settlement"] += 1
                        out += self._on_fill(f, now)
            self.kbot_settled[t] = (s.result, self.manager.positions.get(t, ZERO))
        self.manager.on_settled(t)
        out += self._venue_events(self.gw.on_data(s), now)
        out += self._emit([s])
        return out

    async def _cancel(self, orders: list[tuple[ManagedOrder, str]], now: float) -> list[Any]:
        for o, why in orders:
            o.cancel_requested = True
            o.reason = why
            logger.bind(event="order").info("canceling order {} ({}): {}", o.client_order_id, o.ticker, why)
        try:
            replies = await self.gw.cancel([o for o, _ in orders], now)
        except BaseException:
            for o, _why in orders:  # interrupted: the next tick asks again
                o.cancel_requested = False
            raise
        out: list[Any] = []
        for (o, _why), r in zip(orders, replies, strict=True):
            self.counts["cancels"] += 1
            if r.kind == "auth":
                out += self._auth(r.reason, now)
            elif r.kind == "ack" and r.final is not None and o.order_id is not None:
                # done at once (live); paper answers later, through its venue events
                out += self._emit(self.manager.on_ack(o, order_id=o.order_id, now=now, final=r.final))
            elif r.kind in ("not_found", "rejected", "unknown"):
                # already gone, closed, or no answer: resolved by a query, not assumed
                o.unknown = True
                o.next_query = now
        return out

    async def _resolve_unknown(self, now: float) -> list[Any]:
        out: list[Any] = []
        for o in [o for o in self.manager.open_orders() if o.unknown and now >= o.next_query]:
            o.next_query = now + QUERY_EVERY_S
            r = await self.gw.query(o, now)
            out += self._resolved(o, r, now)
        return out

    def _resolved(self, o: ManagedOrder, r: Reply, now: float) -> list[Any]:
        m = self.manager
        if r.kind == "ack" and r.order is not None:
            if o.unknown:
                o.reason = f"found by query after: {o.reason}"
            o.unknown = False
            return self._on_venue_order(r.order, now)
        if r.kind == "ack" and r.order_id is not None:
            return self._emit(m.on_ack(o, order_id=r.order_id, now=now, filled=r.filled, remaining=r.remaining,
                                       final=r.final))
        if r.kind == "auth":
            return self._auth(r.reason, now)
        if r.kind == "not_found" and r.complete:
            o.misses += 1
            if o.misses >= 2:
                if o.order_id is None and o.state is OrderState.PENDING:
                    logger.warning("order {} was never placed (not found twice after a lost answer)", o.client_order_id)
                    return self._emit(m.reject(o, "not_placed: not found at the venue after a lost answer", now))
                gone = attrs.evolve(o.event(now, self.mode), status="canceled", reason="not found at the venue")
                return self._on_venue_order(gone, now)
        return []

    async def _poll_fills(self, since: float, now: float) -> list[Any]:
        fills = await self.gw.poll_fills(since, now)
        if not fills:
            return []
        out: list[Any] = []
        for f in sorted(fills, key=lambda f: f.ts):
            if f.fill_id not in self.manager.seen_fills:
                self.counts["fills_from_poll"] += 1
                out += self._on_fill(f, now)
        return out

    # ------------------------------------------------------------------ reconciliation

    def _ledger(self) -> LedgerView | None:
        pf = self.portfolio
        if pf is None:
            return None
        return LedgerView(ts=pf.ts, positions=dict(pf.positions), cash=pf.balance)

    def _busy(self, ledger: LedgerView) -> set[str]:
        busy = {t for t, ts in self.sent_at.items() if ts > ledger.ts}
        busy |= {o.ticker for o in self.manager.open_orders() if o.unknown or o.state is OrderState.PENDING}
        return busy

    async def reconcile(self, now: float) -> list[Any]:
        """One pass of the continuous reconciliation."""
        ledger = self._ledger()
        if ledger is None:
            return []
        snap = await self.gw.snapshot(now)
        if isinstance(snap, str):
            self.counts["reconcile_failed"] += 1
            logger.warning("reconciliation pass skipped: {}", snap)
            return []
        out: list[Any] = self._emit(snap.records)
        out += self._check_orders(snap, now)
        out += await self._settle_from_venue(snap, ledger, now)
        busy = self._busy(ledger)
        settling = ({t for t in self.kbot_settled if t not in snap.settlements}
                    | {t for t in snap.settlements if ledger.positions.get(t)})
        skip = busy | settling
        missing = [t for t in missing_rows(ledger, snap) if t not in skip]
        if missing:
            snap = attrs.evolve(snap, confirmed=await self.gw.confirm(missing, now))
        diffs, checked_p = position_diffs(ledger, snap, skip=skip)
        checked: set[tuple[str, str | None]] = {("position", t) for t in checked_p}
        # cash moves with a settlement at a different moment on each side (kbot settles when the
        # outcome is known, the venue pays when it finalizes): not compared while one is pending
        cash_busy = self.sent_any > ledger.ts or bool(busy) or any(
            self.kbot_settled.get(t, ("", ZERO))[1] or ledger.positions.get(t) for t in settling)
        if not cash_busy and snap.balance is not None:
            checked.add(("balance", None))
            d = balance_diff(ledger, snap)
            if d is not None:
                diffs.append(d)
        # Before a position difference is confirmed (its second sighting), ask the venue for that
        # market's fills: a fill whose message was lost is applied, and judged next pass.
        for d in [d for d in diffs if d.kind == "position" and d.ticker and d.key in self.reconciler.suspects
                  and d.key not in self.reconciler.mismatched]:
            fills = await self.gw.poll_fills(now - self.cfg.reconcile.fill_lookback_s, now, ticker=d.ticker)
            new = [f for f in fills or () if f.ticker == d.ticker and f.fill_id not in self.manager.seen_fills]
            if new:
                for f in sorted(new, key=lambda f: f.ts):
                    self.counts["fills_from_poll"] += 1
                    out += self._on_fill(f, now)
                diffs.remove(d)
                checked.discard(d.key)
        sd, checked_s = settlement_diffs(self.kbot_settled, snap.settlements)
        diffs += sd
        checked |= {("settlement", t) for t in checked_s}
        if snap.orders is not None:
            foreign = [ev for oid, ev in snap.orders.items()
                       if oid not in self.manager.by_order_id and not self.manager.is_ours(ev.client_order_id)]
            if self.cfg.reconcile.halt_on_foreign_orders:
                for ev in foreign:
                    diffs.append(Diff(kind="order", ticker=ev.ticker, ledger=None,
                                      venue=f"{ev.order_id} {ev.side} {ev.count - ev.filled_count} @ {ev.price}",
                                      detail="a resting order kbot did not place", adoptable=False))
                checked |= {("order", t) for t in {k[1] for k in self.reconciler.mismatched if k[0] == "order"}}
                checked |= {("order", ev.ticker) for ev in foreign}
        findings, adjust = self.reconciler.judge(diffs, checked, now, ref=f"reconcile-{int(now * 1000)}")
        out += self._emit([*adjust, *findings, *self._alerts(findings, now)])
        return out

    async def _settle_from_venue(self, snap: VenueSnapshot, ledger: LedgerView, now: float) -> list[Any]:
        """The venue's settlement record of a market the ledger still holds and kbot has no
        outcome for (the lifecycle message was lost, or is late): settle from it."""
        out: list[Any] = []
        for t, vs in snap.settlements.items():
            if t in self.kbot_settled or not (ledger.positions.get(t) or self.manager.positions.get(t)):
                continue
            value = vs.value if vs.value is not None else {"yes": Decimal(1), "no": ZERO}.get(vs.result)
            if value is None:
                continue  # void/scalar without a stated value: wait for the market's own outcome
            self.counts["settled_from_venue"] += 1
            logger.bind(event="reconciliation").warning("{}: settled from the venue's settlement record ({})", t,
                                                        vs.result)
            out += await self._on_settled(MarketSettled(ts=vs.ts, ticker=t, result=vs.result, settlement_value=value,
                                                        source="venue", final=True), now)
        return out

    def _check_orders(self, snap: VenueSnapshot, now: float) -> list[Any]:
        m = self.manager
        known = {o.order_id: o.client_order_id for o in m.open_orders()
                 if o.order_id is not None and o.acked and not o.unknown}
        oc = check_orders(known, snap.orders, ours=set(m.by_order_id), is_ours=m.is_ours)
        out: list[Any] = []
        for ev in (*oc.updates, *oc.adopt):
            out += self._on_venue_order(ev, now)
        for oid in oc.missing:
            o = m.by_venue_id(oid)
            if o is not None:
                o.misses += 1
                if o.misses >= 2:
                    o.unknown = True  # resolved by a query on the next tick, never assumed gone
        return out

    def _alerts(self, findings: list[Reconciliation], now: float) -> list[Alert]:
        out = []
        for f in findings:
            where = f.ticker or "the account"
            if f.status == "mismatch":
                out.append(reconciliation_alert(now, f.ticker, severity="critical", detail=f"{f.kind} mismatch in {where}: kbot {f.ledger}, venue {f.venue}; new orders "
                                         f"halted there ({f.detail})"))
                logger.bind(event="reconciliation").critical("MISMATCH {} {}: kbot {} venue {} {}", f.kind, where,
                                                             f.ledger, f.venue, f.detail)
            elif f.status == "cleared":
                out.append(reconciliation_alert(now, f.ticker, severity="info", detail=f"{f.kind} mismatch in {where} cleared; orders resume there"))
                logger.bind(event="reconciliation").warning("cleared {} {}", f.kind, where)
            elif f.status == "adopted":
                out.append(reconciliation_alert(now, f.ticker, severity="warning", detail=f"{f.kind} in {where}: the ledger took the venue's view ({f.detail})"))
                logger.bind(event="reconciliation").warning("adopted {} {}: {}", f.kind, where, f.detail)
        return out

    # ------------------------------------------------------------------ start-up

    async def _start(self, now: float) -> list[Any]:
        """Before any order: read the venue (orders, fills since the last run, positions,
        balance), take in what kbot missed, align or flag the rest. Until it succeeds no order
        is sent (decisions are refused with ``not_reconciled``) and it is retried."""
        ledger = self._ledger()
        if ledger is None:
            self.next_start = now + 0.5  # the ledger has not published yet
            return []
        out: list[Any] = []
        if self._start_phase == 0:
            snap = await self.gw.snapshot(now)
            if isinstance(snap, str) or snap.positions is None or snap.orders is None or snap.balance is None:
                return self._start_failed(snap if isinstance(snap, str) else "the venue's listings were incomplete",
                                          now)
            hist = await self.history() if self.history is not None else StartHistory(since=None)
            # kbot's orders at the venue: resting ones, and (after an earlier run) every one since
            # it started, so an order whose record a crash lost is recorded now, with its decision
            recent: list[OrderEvent] = []
            if hist.since is not None:
                got = await self.gw.recent_orders(hist.since, now)
                if got is None:
                    return self._start_failed("could not read the venue's orders since the last run", now)
                recent = got
            seen: set[str] = set()
            for ev in (*snap.orders.values(), *recent):
                if ev.order_id in seen:
                    continue
                seen.add(ev.order_id)
                if ev.order_id in snap.orders or self.manager.is_ours(ev.client_order_id):
                    out += self._on_venue_order(ev, now, announce=ev.client_order_id not in hist.known_orders)
            adopted = sum(1 for msg in out if isinstance(msg, Reconciliation) and msg.kind == "order")
            caught = 0
            self.manager.seen_fills.update(hist.known_fills)
            if hist.since is not None:
                fills = await self.gw.poll_fills(hist.since, now)
                if fills is None:
                    return self._start_failed("could not read the venue's fills since the last run", now)
                new = [f for f in sorted(fills, key=lambda f: f.ts) if f.fill_id not in self.manager.seen_fills]
                # the orders behind missed fills first (a crash between an order's answer and its
                # record): adopted, so their fills carry their decision ids
                for oid in dict.fromkeys(f.order_id for f in new if self.manager.by_venue_id(f.order_id) is None):
                    r = await self.gw.lookup(oid, now)
                    if r.kind == "ack" and r.order is not None:
                        out += self._on_venue_order(r.order, now)
                for f in new:
                    caught += 1
                    out += self._on_fill(f, now)
            self._start_notes = [f"{adopted} orders of an earlier process adopted", f"{caught} missed fills applied"]
            self._start_phase = 1
            self.next_start = now
            return out
        # phase 1: the ledger has applied what phase 0 sent it; compare
        if self.sent_any > ledger.ts:
            self.next_start = now + 0.2
            return []
        snap = await self.gw.snapshot(now)
        if isinstance(snap, str) or snap.positions is None or snap.balance is None:
            self._start_phase = 0
            return self._start_failed(snap if isinstance(snap, str) else "the venue's listings were incomplete", now)
        if self.mode == "paper":
            self.gw.seed(dict(ledger.positions), ledger.cash, now)
            snap = await self.gw.snapshot(now)
            assert not isinstance(snap, str)
        missing = missing_rows(ledger, snap)
        if missing:
            snap = attrs.evolve(snap, confirmed=await self.gw.confirm(missing, now))
        diffs, checked_p = position_diffs(ledger, snap)
        ref = f"start-{int(now * 1000)}"
        cash = balance_diff(ledger, snap)
        if cash is not None:
            # The opening cash is the venue's balance: kbot cannot trade on a figure the venue
            # does not share. What was different is on the record and in the log.
            assert snap.balance is not None
            out += self._emit([LedgerAdjustment(ts=now, mode=self.mode, kind="cash", ticker=None,
                                        change=snap.balance - ledger.cash, ref=f"{ref}:cash",
                                        reason=f"opening cash {ledger.cash} -> {snap.balance} (the venue's balance)"),
                               Reconciliation(ts=now, mode=self.mode, kind="balance", ticker=None, status="adopted",
                                              ledger=str(ledger.cash), venue=str(snap.balance),
                                              detail="opening cash set to the venue's balance")])
            self._start_notes.append(f"cash {ledger.cash} -> {snap.balance} (venue)")
        # positions: adopt or flag at once (nothing is in flight at start)
        checked: set[tuple[str, str | None]] = {("position", t) for t in checked_p}
        findings, adjust = self.reconciler.judge(diffs, checked, now, ref=ref, at_once=True)
        out += self._emit([*adjust, *findings, *self._alerts(findings, now)])
        self._start_notes.append(f"{len([f for f in findings if f.status == 'mismatch'])} positions flagged, "
                                 f"{len(adjust)} adopted")
        self.ready = True
        self.start_error = None
        held = dict(ledger.positions)
        for a in adjust:
            if a.kind == "position" and a.ticker:
                held[a.ticker] = held.get(a.ticker, ZERO) + a.change
        self.manager.seed_positions(held.items())
        self.next_reconcile = now + self.cfg.reconcile.every_s
        self.next_fill_poll = now + self.cfg.reconcile.fill_poll_s
        detail = "; ".join(self._start_notes)
        out += self._emit([Reconciliation(ts=now, mode=self.mode, kind="start", ticker=None, status="ok", detail=detail)])
        logger.bind(event="reconciliation").warning("{} start-up reconciliation done: {}", self.mode.upper(), detail)
        return out

    def _start_failed(self, why: str, now: float) -> list[Any]:
        first = self.start_error is None
        self.start_error = why
        self.next_start = now + self.cfg.reconcile.retry_s
        logger.bind(event="reconciliation").error("cannot reconcile with the venue at start ({}); no orders until it "
                                                  "succeeds, retry in {:.0f}s", why, self.cfg.reconcile.retry_s)
        if not first:
            return []
        return self._emit([
            Reconciliation(ts=now, mode=self.mode, kind="start", ticker=None, status="mismatch",
                           detail=f"cannot reconcile at start: {why}"),
            reconciliation_alert(now, None, severity="critical", detail=f"cannot reconcile with the venue at start ({why}): kbot sends no orders until it can")])
