"""The maker strategy's core (pure: no I/O, no clock reads; time is an argument).

Two halves, one per actor:

``MakerCore`` (the maker actor, in place of the decision actor) turns each market's newest
``Edge`` and the ledger's positions into a ``QuoteTarget``: the fair value is the edge's final
probability ``prob_yes`` (the calibrated blend), else the model's ``prob_model``; the quotes are
``kbot.strategy.quotes.plan_quotes`` of it. No quotes when the edge carries a pricer reason
(stale spot or quote, market not open, closed...), when the newest edge is older than
``stale_s`` (``sweep``), inside the last ``quote.cutoff_s`` before the close, while the kill
switch or the daily loss limit holds, and no side that would take the market past
``quote.max_position`` or all markets past ``max_total_position`` (net contracts). A target is
emitted only when a side moved by more than ``quote.requote_threshold``, appeared or
disappeared, or its reasons changed: the hysteresis that keeps quote traffic (and the record)
small.

``quote_intents`` + ``QuoteThrottle`` (the executor, ``kbot.strategy.executor``) move the resting
orders to a target: a side without an order gets one (``place``), a side whose order is more
than the threshold off gets a cancel/replace (``replace``, one amend), a side the target drops
is cancelled (``cancel``, with the target's reason). Places and replaces spend a token of the
maker's bucket (``orders_per_s``, ``burst``: under the venue's write limit) and places also need
a free slot under ``max_open_orders``; what has to wait is retried when a token is due. Cancels
never wait: they only ever reduce risk.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Literal

import attrs

from kbot.fees import trade_fee
from kbot.messages import Edge, PortfolioState, QuoteTarget, Side
from kbot.strategy.quotes import MakerConfig, QuoteInputs, needs_replace, plan_quotes
from kbot.venues.ratelimit import TokenBucket

ZERO = Decimal(0)
ONE = Decimal(1)
SIDES: tuple[Side, Side] = ("yes", "no")
# pricer reasons that mean the inputs are stale (the rest: the market cannot be quoted now)
STALE_REASONS = frozenset({"stale_spot", "stale_quote", "missing_quote"})


def _positive(_i: object, a: attrs.Attribute[Any], v: float) -> None:
    if not v > 0:
        raise ValueError(f"maker.{a.name} must be > 0, got {v}")


@attrs.frozen(kw_only=True)
class MakerSettings:
    """``[maker]``: the maker strategy (``kbot run --strategy maker``); ``[maker.quote]``: the
    quote maths (``kbot.strategy.quotes.MakerConfig``)."""

    enabled: bool = False  # quote as a maker instead of taking (the decision actor is replaced)
    quote: MakerConfig = attrs.field(factory=MakerConfig)
    series: tuple[str, ...] = ("KXBTC15M",)  # series quoted (the one judged on real recordings)
    # No quotes when the newest edge of a market is older than this: a backstop for a pricer
    # that stopped (a live pricer re-prices every second and sends at least every
    # pricer.max_emit_interval_s; stale spot or quotes show as reasons on its edges).
    stale_s: float = attrs.field(default=30.0, validator=_positive)
    sweep_s: float = attrs.field(default=1.0, validator=_positive)  # how often staleness is checked
    max_open_orders: int = attrs.field(default=20, validator=_positive)  # maker orders open at once
    max_total_position: Decimal = attrs.field(default=Decimal(50))  # sum of |net contracts| over markets
    orders_per_s: float = attrs.field(default=2.0, validator=_positive)  # places/replaces per second
    burst: float = attrs.field(default=10.0, validator=_positive)  # token bucket capacity

    def __attrs_post_init__(self) -> None:
        if self.max_total_position <= 0:
            raise ValueError("maker.max_total_position must be > 0")
        if self.burst < 1:
            raise ValueError("maker.burst must be >= 1 (one order)")


def fair_value(edge: Edge) -> float | None:
    """The probability the quotes centre on: the final one (calibrated blend), else the model's."""
    for p in (edge.prob_yes, edge.prob_model):
        if p is not None and math.isfinite(p) and 0.0 <= p <= 1.0:
            return p
    return None


def maker_fee_per_contract(fair: float | None, multiplier: Decimal | None) -> float:
    """The maker fee of one contract at the fair value, as if the series charged makers (the
    spread must clear it either way: a conservative bar)."""
    if fair is None:
        return 0.0
    price = min(Decimal("0.99"), max(Decimal("0.01"), Decimal(repr(round(fair, 2)))))
    return float(trade_fee(ONE, price, multiplier=multiplier or ONE, maker=True))


@attrs.define
class _Market:
    last: QuoteTarget | None = None
    edge_ts: float = -math.inf
    edge: Edge | None = None


class MakerCore:
    """Quote targets per market from edges and positions (module docstring)."""

    def __init__(self, settings: MakerSettings) -> None:
        self.s = settings
        self.cfg = settings.quote
        self.markets: dict[str, _Market] = {}
        self.positions: dict[str, Decimal] = {}
        self.killed: str | None = None
        self.daily_loss: str | None = None
        self.max_daily_loss: Decimal | None = None
        self.emitted = 0
        self.suppressed = 0

    # ------------------------------------------------------------------ inputs

    def on_portfolio(self, ps: PortfolioState) -> None:
        self.positions = dict(ps.positions)
        lim = self.max_daily_loss
        hit = lim is not None and ps.daily_realized_pnl <= -lim
        self.daily_loss = f"daily_loss {ps.daily_realized_pnl} <= -{lim}" if hit else None

    def set_kill(self, reason: str | None) -> None:
        self.killed = reason

    @property
    def blocked(self) -> str | None:
        if self.killed is not None:
            return "kill_switch"
        if self.daily_loss is not None:
            return "daily_loss"
        return None

    def wanted(self, edge: Edge) -> bool:
        return not self.s.series or edge.series_ticker in self.s.series

    # ------------------------------------------------------------------ the plan

    def plan(self, edge: Edge, now: float) -> QuoteTarget:
        """The target for ``edge``'s market now (emitted or not)."""
        cfg = self.cfg
        inv = self.positions.get(edge.ticker, ZERO)
        fair = fair_value(edge)
        ttc = edge.close_ts - now if edge.close_ts is not None else None
        stale = now - edge.ts > self.s.stale_s or any(r in STALE_REASONS for r in edge.reasons)
        plan = plan_quotes(QuoteInputs(
            fair=fair, time_to_close_s=ttc if ttc is not None else -1.0, inventory=inv,
            best_yes_bid=edge.yes_bid, best_yes_ask=edge.yes_ask,
            maker_fee_per_contract=maker_fee_per_contract(fair, edge.fee_multiplier), stale=stale), cfg)
        reasons = plan.reasons
        extra = tuple(r for r in edge.reasons if r not in STALE_REASONS)
        if ttc is None:
            reasons = ("missing_close_time",)
        elif (b := self.blocked) is not None:
            reasons = (b,)
        elif extra and not reasons:
            reasons = extra
        elif stale and not reasons:
            reasons = ("stale_inputs",)
        yes_bid, no_bid = plan.yes_bid, plan.no_bid
        yes_r, no_r = plan.yes_reasons, plan.no_reasons
        if reasons:
            yes_bid = no_bid = None
            yes_r = no_r = ()
        else:
            # the book-wide limit: no side that adds to the total net position past it
            total = sum((abs(v) for t, v in self.positions.items() if t != edge.ticker), ZERO)
            size = cfg.size
            if yes_bid is not None and total + abs(inv + size) > self.s.max_total_position:
                yes_bid, yes_r = None, ("max_total_position",)
            if no_bid is not None and total + abs(inv - size) > self.s.max_total_position:
                no_bid, no_r = None, ("max_total_position",)
        return QuoteTarget(
            ts=now, ticker=edge.ticker, series_ticker=edge.series_ticker, yes_bid=yes_bid, no_bid=no_bid,
            size=cfg.size, fair=fair, reservation=plan.reservation, half_spread=plan.half_spread, inventory=inv,
            time_to_close_s=ttc, close_ts=edge.close_ts, best_yes_bid=edge.yes_bid, best_yes_ask=edge.yes_ask,
            reasons=reasons, yes_reasons=yes_r, no_reasons=no_r)

    def changed(self, last: QuoteTarget | None, new: QuoteTarget) -> bool:
        """Whether ``new`` is a quote change worth sending (the requote hysteresis)."""
        if last is None:
            return True
        if needs_replace(last.yes_bid, new.yes_bid, self.cfg) or needs_replace(last.no_bid, new.no_bid, self.cfg):
            return True
        if (last.reasons, last.yes_reasons, last.no_reasons) != (new.reasons, new.yes_reasons, new.no_reasons):
            return True
        return last.size != new.size

    def step(self, edge: Edge, now: float) -> QuoteTarget | None:
        """One edge in: the new target when it changed (module docstring), else None."""
        if not self.wanted(edge):
            return None
        m = self.markets.setdefault(edge.ticker, _Market())
        if edge.ts >= m.edge_ts:
            m.edge_ts, m.edge = edge.ts, edge
        return self._emit(m, self.plan(m.edge or edge, now))

    def _emit(self, m: _Market, target: QuoteTarget) -> QuoteTarget | None:
        if not self.changed(m.last, target):
            self.suppressed += 1
            return None
        m.last = target
        self.emitted += 1
        return target

    def sweep(self, now: float) -> list[QuoteTarget]:
        """Time passed: markets whose inputs went stale, reached the cutoff, or were blocked
        (kill switch, daily loss) are re-planned from their last edge; changes come out.
        Markets closed long ago are forgotten."""
        out: list[QuoteTarget] = []
        for t in sorted(self.markets):
            m = self.markets[t]
            if m.edge is None:
                continue
            close = m.edge.close_ts
            if close is not None and now > close + 3600.0 and (m.last is None or not m.last.quoting):
                del self.markets[t]
                continue
            target = self._emit(m, self.plan(m.edge, now))
            if target is not None:
                out.append(target)
        return out

    def next_wake(self, now: float) -> float:
        return now + self.s.sweep_s


# ----------------------------------------------------------------------------- the executor's half


@attrs.frozen(kw_only=True)
class Resting:
    """The maker's order on one side of a market, as the order manager knows it."""

    cid: str
    price: Decimal
    remaining: Decimal
    changeable: bool  # acknowledged and resting (not pending, not being cancelled, not unknown)


@attrs.frozen(kw_only=True)
class Intent:
    kind: Literal["place", "replace", "cancel"]
    ticker: str
    side: Side
    price: Decimal | None  # the new price (place, replace)
    cid: str | None = None  # the order acted on (replace, cancel)
    prev_price: Decimal | None = None
    reason: str


def side_reason(target: QuoteTarget, side: Side) -> str:
    why = target.reasons or (target.yes_reasons if side == "yes" else target.no_reasons)
    return ",".join(why) or "no_quote"


def quote_intents(target: QuoteTarget, resting: Mapping[Side, Resting | None], cfg: MakerConfig) -> list[Intent]:
    """What moves the resting orders to ``target``: cancels first, then replaces, then places.
    A side whose order is not changeable yet (pending, cancel in flight) is left alone: the
    target is applied again once it is."""
    cancels: list[Intent] = []
    replaces: list[Intent] = []
    places: list[Intent] = []
    for side in SIDES:
        want = target.yes_bid if side == "yes" else target.no_bid
        have = resting.get(side)
        if have is None:
            if want is not None:
                places.append(Intent(kind="place", ticker=target.ticker, side=side, price=want, reason="quote"))
            continue
        if not have.changeable:
            continue
        if want is None:
            cancels.append(Intent(kind="cancel", ticker=target.ticker, side=side, price=None, cid=have.cid,
                                  prev_price=have.price, reason=side_reason(target, side)))
        elif needs_replace(have.price, want, cfg):
            replaces.append(Intent(kind="replace", ticker=target.ticker, side=side, price=want, cid=have.cid,
                                   prev_price=have.price, reason="requote"))
    return [*cancels, *replaces, *places]


class QuoteThrottle:
    """The maker's own rate limit and open-order cap. Cancels are always admitted (they take a
    token when one is there); places and replaces need a token, and places a free slot."""

    def __init__(self, settings: MakerSettings) -> None:
        self.bucket = TokenBucket(settings.orders_per_s, settings.burst)
        self.max_open = settings.max_open_orders

    def admit(self, intent: Intent, open_orders: int, now: float) -> str | None:
        """None: go (a token was spent when needed); else why it waits or is refused."""
        if intent.kind == "cancel":
            self.bucket.take(1, now)
            return None
        if intent.kind == "place" and open_orders >= self.max_open:
            return "max_open_orders"
        if not self.bucket.take(1, now):
            return "rate_limited"
        return None

    def next_token(self, now: float) -> float:
        return now + self.bucket.wait_time(1, now)


__all__ = [
    "Intent",
    "MakerCore",
    "MakerSettings",
    "QuoteThrottle",
    "Resting",
    "fair_value",
    "quote_intents",
    "side_reason",
]
