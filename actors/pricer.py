"""Pricer actor: one per open market (a child of the dynamic ``pricers`` supervisor, keyed by
ticker), turning the latest spot index and quote into an ``Edge``.

Receives (one conflating inbox, ``LatestMailbox(pricer_inbox_key)``)
    ``IndexUpdate`` (key ``"index"``: the newest index only), ``Quote`` for this market (key
    ``("quote", source)``: the newest per source, so a REST poll cannot displace a book quote
    waiting in the inbox), ``MarketInfo`` for this market (key ``"market"``: strike/close
    updates, status changes).

Applies (pure, ``kbot.model.pricing``)
    ``price_market``: horizon from ``close_ts`` (fallback ``expected_expiration_ts``), the raw
    model probability and the calibrated final probability of the model in force
    (``ModelState.predictor``, replaced by the scorer's walk-forward refits; the event's implied
    volatility from the implied-volatility book the pricers share), fee-aware EV of YES at the
    YES ask and NO at the NO ask from the final probability, and every reason the edge cannot
    be traded on (stale spot, stale/missing quote, no usable bounds or close time, market not
    open...). The quote used is the live book's when it is not
    stale, else the newest non-stale one across sources (a stale one only if nothing else
    exists, so the edge says ``stale_quote``).
    Inside the final ``window_s`` seconds the observed partial average comes from this
    pricer's own one-second sample-and-hold of the index updates it received
    (``kbot.model.settlement.WindowObserver``; why not BRTI's ``avg_60s`` is explained
    there). A pricer (re)started inside the window has not seen its start: the edge carries
    ``window_unobserved`` and is not traded.

Sends
    (After each edge, its quiet band to the tree's pricing board: the index prices between which
    nothing it sends could change, ``PricerCore.quiet_band``.)
    Every *material* change (``EdgeThrottle``: reasons, top of book, sigma source, a
    ``prob_epsilon`` move unless the edge stays below the decision's ``min_ev`` bar, at least
    every ``max_emit_interval_s``) to ``edges_out`` (the decision actor), and an
    edge snapshot (``snapshot=True``) to ``record_out`` (the recorder) on the first edge, on a
    change of reasons or of the side with positive EV, and at least every
    ``snapshot_interval_s``. An edge that is both goes to both. Without input the pricer
    re-prices every ``idle_reprice_s`` (the horizon shrinks, inputs age), far from the close
    every 1/300 of the horizon (at most ``snapshot_interval_s``). Once the market is
    closed one final edge (reason ``closed``) is sent and then nothing more.

Wake marks (``kbot.wakes``)
    Recording, every edge built is announced with what it was priced on (``pricing_mark``). A
    replay following the marks builds an edge exactly at each of this pricer's marks (at the
    mark's time, on what the inbox holds by then, never skipped) and at no other time (no own
    wake-ups, no idle re-prices), so it prices between the same two inputs as the live one did.

Fails
    Messages for another ticker or of an unknown type are counted and logged once per kind;
    an out-of-order message (older than the one held) is dropped. ``price_market`` never
    raises on bad data: bad data becomes a reason on the edge.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable
from decimal import Decimal
from typing import Any

import attrs
import trio

from kbot.actorkit import ActorStats, BadInputLog, Outbox
from kbot.clock import Clock
from kbot.messages import Edge, IndexUpdate, MarketInfo, Quote
from kbot.model.config import PricerConfig
from kbot.model.pricing import (
    EdgeThrottle,
    best_ev_at,
    default_predictor,
    edge_top,
    horizon_end,
    positive_side,
    price_market,
    quote_age_limit,
)
from kbot.model.settlement import WindowObserver
from kbot.model.state import ModelState
from kbot.wakes import Wakes, announcer, marks_of, next_mark

# Idle re-price cadence far from the close, as a share of the horizon (kbot run at 60-120x spent
# half its CPU re-pricing every market every simulated second: hourly markets an hour out change
# by a fraction of a basis point per second).
IDLE_PER_HORIZON = 1.0 / 300.0

_GUARD = 1e-9  # margin kept from exact EV bars by the scalar fast path (float rounding)


def pricing_mark(core: PricerCore) -> str:
    """What a pricer priced on, for its wake mark (``kbot.wakes``): the index's event time and price, the
    quote's source and event time and its top of book (``PricerCore.top``). Not needed to
    replay (the inputs are in the recording): it lets a replay check that it priced on the same."""
    idx, q = core.index, core.quote()
    head = f"{idx.ts!r} {idx.price!r}" if idx is not None else "- -"
    if q is None:
        return head + " - -"
    return f"{head} {q.source} {q.ts!r} " + " ".join(map(str, core.top() or ()))


def pricer_inbox_key(msg: Any) -> Hashable:
    """Conflation key of a pricer's inbox (one pricer per market, so no ticker in the key)."""
    if isinstance(msg, IndexUpdate):
        return "index"
    if isinstance(msg, Quote):
        return ("quote", msg.source)
    if isinstance(msg, MarketInfo):
        return "market"
    return ("other", type(msg).__name__)


class PricerCore:
    """A pricer's state and its steps (no I/O, time passed in): tested and benchmarked directly."""

    def __init__(self, market: MarketInfo, config: PricerConfig, min_ev: float | None = None,
                 model: ModelState | None = None, price_range: tuple[Decimal, Decimal] | None = None) -> None:
        """``min_ev``: the decision's ``gates.min_ev``, for the throttle (``EdgeThrottle``):
        probability moves of an edge below that bar are not re-sent. None: every move of
        ``prob_epsilon`` is. ``model``: the model in force, shared with the tree (None: the
        shipped parameters, with an implied-volatility book of its own). ``price_range``: the
        decision's ``min_price``/``max_price`` (sides priced outside it do not count towards the bar)."""
        self.config = config
        self.model = model if model is not None else ModelState(default_predictor(), window_s=config.window_s)
        self.market = market
        self.index: IndexUpdate | None = None
        self.quotes: dict[str, Quote] = {}
        self.throttle = EdgeThrottle(config, min_ev, price_range)
        self.window = self._observer(market)
        self.closed_sent = False
        self._boundary = float("-inf")  # next time the reasons may change by time alone
        self._last_p: float | None = None  # probability of the last edge built
        # The last edge built: its prices and fees are the book's as long as the top of book has not
        # changed, while the last sent/snapshot edge may carry an older top (a new top below the
        # decision's bar is held back): what a skipped edge would have been is this one moved to p.
        self._last: Edge | None = None
        self._priced: tuple[IndexUpdate | None, float | None] = (None, None)  # its index and implied sigma
        self._curve_held: tuple[Any, ...] | None = None  # (index, predictor, market, quote top + iv, curve)

    def _observer(self, market: MarketInfo) -> WindowObserver | None:
        end = horizon_end(market)
        if end is None:
            return None
        return WindowObserver(end, self.config.window_s, max_gap_s=self.config.window_max_gap_s)

    # ------------------------------------------------------------------ inputs

    def on_index(self, u: IndexUpdate) -> bool:
        if self.index is not None and u.ts < self.index.ts:
            return False
        self.index = u
        if self.window is not None and not u.stale and u.price > 0:
            self.window.observe(u.ts, u.price)
        return True

    def on_quote(self, q: Quote) -> bool:
        held = self.quotes.get(q.source)
        if held is not None and q.ts < held.ts:
            return False
        self.quotes[q.source] = q
        return True

    def on_market(self, m: MarketInfo) -> bool:
        if m.updated_ts < self.market.updated_ts:
            return False
        if horizon_end(m) != horizon_end(self.market):
            self.window = self._observer(m)  # a new close: a new settlement window
            self.closed_sent = False
        self.market = m
        return True

    def top(self) -> tuple[Any, ...] | None:
        """What of the quote in use reaches an edge (prices, best sizes, stale flag)."""
        q = self.quote()
        if q is None:
            return None
        ya = q.yes_asks[0][1] if q.yes_asks else q.yes_ask_size
        na = q.no_asks[0][1] if q.no_asks else q.yes_bid_size
        return (q.yes_bid, q.yes_ask, q.no_bid, q.no_ask, ya, na, q.stale)

    def quote(self) -> Quote | None:
        if not self.quotes:
            return None
        # A live book is authoritative (it carries depth, and the ticker channel repeats its top
        # a little later); otherwise the newest non-stale quote; a stale one only as a last resort.
        book = self.quotes.get("book")
        if book is not None and not book.stale:
            return book
        return max(self.quotes.values(), key=lambda q: (not q.stale, q.ts, q.source == "book"))

    # ------------------------------------------------------------------ output

    def implied_sigma(self, now: float) -> float | None:
        """Observe this market's quote in the shared implied-volatility book and read its
        event's fit (refitted at most every ``implied_refresh_s``; None at a search bound)."""
        if "implied" not in self.model.predictor.model.vol_sources:
            return None  # the model does not use it: no fit
        q, idx, m = self.quote(), self.index, self.market
        book = self.model.implied
        if q is not None and idx is not None:
            book.observe(m.event_ticker, m.ticker, now, m.strike_type, m.floor_strike, m.cap_strike, q.yes_bid,
                         q.yes_ask, idx.price, horizon_end(m), ok=not (q.stale or idx.stale))
        fit = book.implied(m.event_ticker, now)
        return fit.sigma if fit is not None and not fit.at_bound else None

    def edge(self, now: float, mono: float = 0.0) -> Edge:
        obs = None
        if self.window is not None and now > self.window.start_ts:
            obs = self.window.observation(now)
        iv = self.implied_sigma(now)
        self._priced = (self.index, iv)
        return price_market(self.market, self.index, self.quote(), now, self.config, window=obs, mono=mono,
                            predictor=self.model.predictor, implied_sigma=iv)

    def _curve(self) -> Callable[[float, float], float | None] | None:
        """The final probability as a function of (spot, horizon) with everything else as when
        the last edge was priced (``Predictor.curve``). Kept while its inputs stay the same (the
        index and implied volatility of the last edge, the quote's top, the market, the model
        in force): the index-only skips between two edges reuse one curve."""
        idx, iv = self._priced
        q = self.quote()
        if idx is None or q is None:
            return None
        yes_size = q.yes_asks[0][1] if q.yes_asks else q.yes_ask_size
        no_size = q.no_asks[0][1] if q.no_asks else q.yes_bid_size
        predictor, market = self.model.predictor, self.market
        key = (q.yes_bid, q.yes_ask, yes_size, no_size, iv)
        held = self._curve_held
        if held is not None and held[0] is idx and held[1] is predictor and held[2] is market and held[3] == key:
            return held[4]
        f = predictor.curve(market, index=idx, yes_bid=q.yes_bid, yes_ask=q.yes_ask, yes_depth=no_size,
                            no_depth=yes_size, implied_sigma=iv, window_s=self.config.window_s)
        self._curve_held = (idx, predictor, market, key, f)
        return f

    # Reasons that a fresh index, or time alone, can change: an edge carrying one is always rebuilt.
    _VOLATILE = frozenset(("stale_spot", "closed", "window_unobserved"))

    def unchanged_by_index(self, now: float) -> bool:
        """Cheap pre-check when only index updates (and quotes that did not change the top of
        book) arrived: True when building the edge now could not change what ``route`` sends,
        so the pricer may skip it (most index ticks, for most markets). Exact where it says
        True, for the inputs held since the last edge: nothing but the index price and the
        horizon moved (same index sigma and source, same signals, the implied volatility of
        the last edge), the final probability (``_curve``) stays within ``prob_epsilon`` of the
        last sent edge, and since EV is linear in p (slope +1 for YES, -1 for NO) the side with
        positive EV cannot flip while |dp| is below both EVs and half their gap. Anything else
        (time boundaries: emit/snapshot due, settlement window, close, quote ageing; a stale or
        old index; volatile reasons) answers False and the edge is built as usual. (The shared
        implied-volatility fit may have been refreshed meanwhile: it is picked up by the next
        edge built, at the latest after ``max_emit_interval_s``.)"""
        sent, snap, last = self.throttle.last_sent, self.throttle.last_snapshot, self._last
        idx, cfg = self.index, self.config
        # (callers check that the quote's top of book did not change either: ``last`` has its prices)
        if sent is None or snap is None or last is None or idx is None or sent.prob_yes is None or last.prob_yes is None:
            return False
        if now >= self._boundary or now >= self.throttle.next_due():
            return False
        if idx.stale or idx.price <= 0 or now - idx.ts > cfg.max_index_age_s:
            return False
        if not self._same_inputs(idx):
            return False
        if self._VOLATILE.intersection(sent.reasons) or self._VOLATILE.intersection(snap.reasons):
            return False
        if self._snapshot_slack_bound(last) <= _GUARD:
            return False  # no probability could keep the record's snapshot (checked before the curve is built)
        end = horizon_end(self.market)
        curve = self._curve()
        if end is None or curve is None or end - now <= cfg.window_s:
            return False
        p = curve(idx.price, end - now)
        if p is None:
            return False
        # (guards: the edge built for real computes its EVs afresh; stay clear of the exact bars)
        th = self.throttle
        moved = abs(p - sent.prob_yes) >= cfg.prob_epsilon or edge_top(last) != edge_top(sent)
        if moved and not (th.below_bar(sent) and th.below_bar(last, p, _GUARD)):
            return False
        return self._snapshot_slack(p, last) > _GUARD

    def _same_inputs(self, idx: IndexUpdate) -> bool:
        """The index update carries the sigma, sigma source and signals the last edge was priced with."""
        priced = self._priced[0]
        if priced is None:
            return False
        a, b = idx.signals, priced.signals
        return (idx.sigma == priced.sigma and idx.sigma_source == priced.sigma_source
                and (a.seq if a is not None else None) == (b.seq if b is not None else None))

    def slack(self, p: float) -> float:
        """How far the probability may still move from ``p`` without changing what ``route``
        sends. To the decision: within ``prob_epsilon`` of the last sent edge, or, while that
        edge is below the decision's bar (``EdgeThrottle.below_bar``), until the better EV
        reaches ``min_ev``. To the record: short of changing the side with positive EV of the
        last snapshot. EV is linear in p (slope +1 for YES, -1 for NO), at the prices of the last
        edge built (``_last``: the book's now; the sent edge may carry an older top, and then any
        edge is a new top to the decision: no probability tolerance, only the bar)."""
        sent, last = self.throttle.last_sent, self._last
        if sent is None or last is None or sent.prob_yes is None or last.prob_yes is None:
            return 0.0
        tol = self.config.prob_epsilon - abs(p - sent.prob_yes) if edge_top(last) == edge_top(sent) else -math.inf
        th = self.throttle
        if th.min_ev is not None and th.below_bar(sent):
            best = best_ev_at(last, p, th.price_range)
            if best is not None:
                tol = max(tol, th.min_ev - best)
            elif th.below_bar(last, p):
                tol = math.inf
        return min(tol, self._snapshot_slack(p, last))

    @staticmethod
    def _snapshot_slack(p: float, snap: Edge) -> float:
        """How far p may move before the side with positive EV of ``snap`` could change. With no
        positive side (both EVs <= 0) that is until the better EV reaches 0; with one, short of
        either EV changing sign or the two crossing."""
        if positive_side(snap) is None:
            best = best_ev_at(snap, p)
            return math.inf if best is None else -best
        y, n = snap.ev_yes, snap.ev_no
        d = abs(p - snap.prob_yes)  # type: ignore[operator]
        tol = math.inf
        for margin in ([abs(y)] if y is not None else []) + ([abs(n)] if n is not None else []) + (
            [abs(y - n) / 2.0] if y is not None and n is not None else []
        ):
            tol = min(tol, margin - d)
        return tol

    @staticmethod
    def _snapshot_slack_bound(snap: Edge) -> float:
        """An upper bound of ``_snapshot_slack(p, snap)`` over every ``p``: with a positive side its
        value at ``p = snap.prob_yes`` (the margins less ``|p - snap.prob_yes|``); with none and
        both EVs, ``-(ev_yes + ev_no) / 2`` (the better EV at ``p``, ``max(ev_yes + dp, ev_no -
        dp)``, is at least their mean); else unbounded."""
        y, n = snap.ev_yes, snap.ev_no
        if positive_side(snap) is None:
            return math.inf if y is None or n is None else -(y + n) / 2.0
        margins = ([abs(y)] if y is not None else []) + ([abs(n)] if n is not None else []) + (
            [abs(y - n) / 2.0] if y is not None and n is not None else [])
        return min(margins, default=math.inf)

    def quiet_band(self, now: float) -> tuple[float, float, float] | None:
        """``(lo_px, hi_px, until)`` after the edge just routed: while the index stays strictly
        inside ``(lo_px, hi_px)``, its sigma, source and signals do not change and the clock is
        before ``until``, nothing this pricer sends could change. Published to the tree's pricing
        board, which then wakes this pricer only for index updates outside that (see
        ``kbot.model.board``). None: always wake.

        The band comes from the final probability as a function of spot (``_curve``): its slope
        and curvature at the current spot give the log-spot distance ``d`` at which the
        probability could move by half the slack (``0.9 * slack``), and the probability is then
        checked at both ends of the band (halving ``d`` until the moves stay under the slack),
        then at ``until`` (the horizon shrinks; halving the time until they do)."""
        sent, snap, idx = self.throttle.last_sent, self.throttle.last_snapshot, self.index
        p = self._last_p
        if p is None or sent is None or snap is None or idx is None or idx.stale or idx.price <= 0:
            return None
        if self._VOLATILE.intersection(sent.reasons) or self._VOLATILE.intersection(snap.reasons):
            return None
        if self._priced[0] is not idx:
            return None
        end = horizon_end(self.market)
        if end is None:
            return None
        until = min(self._boundary, self.throttle.next_due())
        h0 = end - now
        if h0 <= self.config.window_s + 1.0 or until <= now:
            return None
        tol = 0.9 * self.slack(p)
        if not tol > 0:  # (most of the time where a side's EV is near 0: checked before the curve is built)
            return None
        curve = self._curve()
        if curve is None:
            return None
        s0 = idx.price
        e = 1e-4
        f0, fu, fd = curve(s0, h0), curve(s0 * math.exp(e), h0), curve(s0 * math.exp(-e), h0)
        if f0 is None or fu is None or fd is None or abs(f0 - p) > 1e-9:
            return None
        slope = (fu - fd) / (2 * e)
        curv = (fu - 2 * f0 + fd) / (e * e)
        half = 0.5 * tol
        # |slope| d + |curv| d^2 / 2 = half
        if abs(curv) > 1e-12:
            d = (-abs(slope) + math.sqrt(slope * slope + 2 * abs(curv) * half)) / abs(curv)
        else:
            d = half / max(abs(slope), 1e-12)
        d = min(d, 0.05)

        def inside(*vals: float | None) -> bool:
            return all(v is not None and abs(v - p) < tol for v in vals)

        for _ in range(8):  # the band's ends now
            if inside(curve(s0 * math.exp(d), h0), curve(s0 * math.exp(-d), h0)):
                break
            d *= 0.5
        else:
            return None
        for _ in range(6):  # and at ``until`` (the horizon shrinks)
            h1 = end - until
            if inside(curve(s0, h1), curve(s0 * math.exp(d), h1), curve(s0 * math.exp(-d), h1)):
                return s0 * math.exp(-d), s0 * math.exp(d), until
            until = now + 0.5 * (until - now)
        return None

    def _time_boundary(self, now: float) -> float:
        """The next moment the edge's reasons can change with no new input."""
        b = float("inf")
        end = horizon_end(self.market)
        if end is not None:
            start = end - self.config.window_s
            b = min(b, start - 1.0 if now < start - 1.0 else now, end)
        q = self.quote()
        if q is not None and not q.stale:
            expires = q.ts + quote_age_limit(q, self.config)
            if expires > now:  # once past it, stale_quote holds until a new quote arrives
                b = min(b, expires)
        return b

    def route(self, e: Edge) -> tuple[Edge | None, Edge | None]:
        """``(to_decision, to_record)`` for a freshly priced edge (None: do not send)."""
        self._boundary = self._time_boundary(e.ts)
        self._last_p = e.prob_yes
        self._last = e
        if "closed" in e.reasons:
            if self.closed_sent:
                return None, None
            self.closed_sent = True
        material = self.throttle.material(e)
        snapshot = self.throttle.snapshot_due(e)
        if snapshot:
            e = attrs.evolve(e, snapshot=True)
            self.throttle.snapped(e)
        if material:
            self.throttle.sent(e)
        return (e if material else None), (e if snapshot else None)


async def run_pricer(
    market: MarketInfo,
    inbox: Any,
    edges_out: Outbox,
    record_out: Outbox,
    *,
    clock: Clock,
    config: PricerConfig | None = None,
    stats: ActorStats | None = None,
    publish: Callable[[str, tuple[float, float, float] | None, IndexUpdate | None], None] | None = None,
    min_ev: float | None = None,
    model: ModelState | None = None,
    price_range: tuple[Decimal, Decimal] | None = None,
    wakes: Wakes | None = None,
) -> None:
    """Run until cancelled (the market registry stops it when the market is gone).
    ``publish(ticker, band, index)``: where to publish the quiet band after each edge (the
    tree's ``PricingBoard.publish``; ``band`` from ``PricerCore.quiet_band``, None: always wake);
    without it every index update wakes the pricer. ``min_ev``, ``price_range``: the decision's
    ``gates.min_ev`` and ``min_price``/``max_price`` (see ``EdgeThrottle``); the tree passes them.
    ``model``: the model in force (the tree's ``ModelState``, replaced by the scorer's refits);
    None: the shipped parameters. ``wakes``: wake marks (module docstring, ``kbot.wakes``)."""
    config = config or PricerConfig()
    core = PricerCore(market, config, min_ev, model, price_range)
    ticker = market.ticker
    stats = stats or ActorStats(f"pricer:{ticker}")
    bad = BadInputLog(f"pricer:{ticker}")
    idle = config.idle_reprice_s / clock.speed
    wake_mark = announcer(wakes)

    def step(batch: list[Any], at: float | None = None, live: str | None = None) -> list[tuple[Outbox, Edge]]:
        """Apply a batch and send what it produced without waiting; returns the sends that
        must wait (a full outbox), for the loop to make outside its timeout scope. ``at``: a
        pricing mark's time (build the edge then, never skip); ``live``: what the live pricer
        priced on there."""
        mono = 0.0
        # the top of book before the batch (only a quote can change it)
        top_before = core.top() if any(type(m) is not IndexUpdate for m in batch) else None
        market_changed = False
        only_index = True
        for msg in batch:
            stats.msgs_in += 1
            if isinstance(msg, IndexUpdate):
                core.on_index(msg)
                if msg.mono > mono:
                    mono = msg.mono
                continue
            only_index = False
            if isinstance(msg, Quote):
                if msg.ticker != ticker:
                    bad.record("quote_for_another_ticker", msg.ticker)
                    continue
                core.on_quote(msg)
            elif isinstance(msg, MarketInfo):
                if msg.ticker != ticker:
                    bad.record("market_for_another_ticker", msg.ticker)
                    continue
                core.on_market(msg)
                market_changed = True
            else:
                bad.record("unexpected_message", msg)
                continue
            mono = max(mono, getattr(msg, "mono", 0.0))
        now = clock.now() if at is None else at
        if batch:
            stats.last_msg_ts = now
            # With a board, a batch of index updates alone reached us because the board's
            # vectorized version of this same check already failed for the newest of them:
            # running it again would only cost a scalar probability (outputs are the same).
            board_woke = publish is not None and only_index
            top_same = only_index or core.top() == top_before
            if at is None and not board_woke and not market_changed and top_same and core.unchanged_by_index(now):
                return []  # nothing this batch could send: skip building the edge
        edge = core.edge(now, mono)
        if wake_mark is not None:
            wake_mark("pricer", ticker, now, pricing_mark(core))
        elif live is not None and wakes is not None:
            wakes.counts.compare(f"pricer:{ticker}", live, pricing_mark(core))
        to_decision, to_record = core.route(edge)
        if publish is not None:
            band = core.quiet_band(now)
            quiet_until[0] = band[2] if band is not None else 0.0
            publish(ticker, band, core.index)
        blocked: list[tuple[Outbox, Edge]] = []
        for out, e in ((record_out, to_record), (edges_out, to_decision)):
            if e is None:
                continue
            try:
                out.send_nowait(e)
            except trio.WouldBlock:
                blocked.append((out, e))
            stats.msgs_out += 1
        if to_decision is not None:
            stats.state = ",".join(to_decision.reasons) or "ok"
        return blocked

    quiet_until = [0.0]  # while the board holds index updates back for us (clock time)

    cap_idle = min(config.snapshot_interval_s, config.max_emit_interval_s)

    def quiet_for() -> float:
        """Real seconds without a wake before an idle re-price: ``idle_reprice_s``, or longer
        while the board holds quiet index updates back (the first one past ``until`` wakes us).
        Far from the close the horizon shrinks slowly: idle re-prices come every
        1/``IDLE_PER_HORIZON`` of the horizon (an hour out: every 12 s), never less often than
        snapshots and re-sends are due. Any input still re-prices at once."""
        now = clock.now()
        every = idle
        end = horizon_end(core.market)
        if end is not None:
            every = min(max(config.idle_reprice_s, (end - now) * IDLE_PER_HORIZON), cap_idle) / clock.speed
        return max(every, (quiet_until[0] - now) / clock.speed)

    marks = marks_of(wakes, f"pricer:{ticker}")
    if marks is not None:  # a replay of wake marks: price where the live pricer did, nowhere else
        while True:
            at, live = await next_mark(marks)
            for out, e in step(inbox.take_ready(), at, live):
                await out.send(e)

    # The idle timer: an input pushes the moment of the next idle re-price to ``due``; the timeout
    # scope is re-armed only when it fires early (an input came meanwhile), not moved on every
    # batch (setting a Trio deadline costs more than the rest of a fan-out wake-up's overhead).
    due = trio.current_time() + quiet_for()
    while True:
        # ``step`` never waits; a send that must wait (a full outbox) is made outside the
        # scope, so the timeout can never cancel it half-way.
        blocked: list[tuple[Outbox, Edge]] = []
        with trio.move_on_at(due) as quiet:
            while True:
                blocked = step(await inbox.receive_batch())
                due = trio.current_time() + quiet_for()
                if blocked:
                    break
        if quiet.cancelled_caught and trio.current_time() >= due:
            # idle re-price (the horizon shrinks, inputs age), with what the board held back
            blocked = step(inbox.take_ready())
            due = trio.current_time() + quiet_for()
        for out, e in blocked:
            await out.send(e)
