"""The simulated exchange: markets through their lifecycle, one matching engine per market,
members' accounts, the index, and the simulated participants. Pure: every method takes the
time ``now`` (sim-clock epoch seconds) as an argument and nothing here sleeps or does I/O.

Time moves with ``advance(now)``: for every whole second up to ``now`` it lists new events,
publishes the index tick, applies lifecycle transitions (open, strike, close, determine,
settle), expires orders and lets the market makers and takers act. API operations (``place``,
``cancel``, ...) apply at ``now`` between seconds. After each step or operation the events it
produced (``kbot.sim.events``) are handed to every listener (the WebSocket hub, tests).

Money is exact: prices and counts are integers (``kbot.sim.wire``), fees come from
``kbot.fees`` with the series multiplier, cash moves through ``kbot.sim.accounts``.
"""

from __future__ import annotations

import math
import random
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from decimal import Decimal

import attrs
from loguru import logger

from kbot.fees import maker_fees_apply, trade_fee
from kbot.sim import calendar as cal
from kbot.sim.accounts import Account, SettlementRecord, u6_to_decimal
from kbot.sim.agents import MakerParams, MarketMaker, TakerParams, Takers
from kbot.sim.book import ASK, BID, FOK, GTC, IOC, RESTING, STP_TYPES, TIME_IN_FORCE, Order
from kbot.sim.brti import index_tick
from kbot.sim.config import SimConfig
from kbot.sim.engine import MatchingEngine, OrderRejected
from kbot.sim.events import FillEvent, IndexTick, Match, PositionEvent, TickerEvent, TradeEvent
from kbot.sim.fairvalue import TrueProbabilities
from kbot.sim.faults import FaultInjector
from kbot.sim.lifecycle import MAX_USER_RECORDS, Lifecycle
from kbot.sim.market import ACTIVE, INITIALIZED, ListingPlan, SimEvent, SimMarket
from kbot.sim.pricepath import IndexPath, PathParams
from kbot.sim.truth import Truth
from kbot.sim.wire import c2_to_decimal, p4_to_decimal

PRICE_MIN = 100  # $0.01 (linear_cent grid)
PRICE_MAX = 9900
PRICE_STEP = 100

MAX_TRADES = 100_000


class IdGen:
    """UUID4-shaped ids from a seeded stream (reproducible runs)."""

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(f"ids-{seed}")

    def new_id(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))


@attrs.frozen(slots=True, kw_only=True)
class OrderRequest:
    """A validated V2 create-order request in internal units."""

    ticker: str
    side: str
    price: int  # p4
    count: int  # c2
    time_in_force: str
    self_trade_prevention_type: str
    client_order_id: str = ""
    expiration_time: int | None = None
    post_only: bool = False
    reduce_only: bool = False
    cancel_order_on_pause: bool = False
    subaccount: int = 0
    order_group_id: str | None = None
    exchange_index: int | None = None


@attrs.frozen(slots=True)
class TradeRecord:
    trade_id: str
    ticker: str
    price: int
    count: int
    taker_side: str  # bid | ask
    ts: float


@attrs.frozen(slots=True)
class PlaceResult:
    order: Order
    fills: tuple[FillEvent, ...]


def _reject(status: int, code: str, message: str) -> OrderRejected:
    return OrderRejected(status, code, message)


class Exchange:
    def __init__(self, config: SimConfig, start: float, faults: FaultInjector | None = None) -> None:
        self.config = config
        self.faults = faults or FaultInjector(config.faults, seed=config.seed)
        self.t0 = int(start)
        plan = ListingPlan(config.series, config.m15_ahead, config.hourly_ahead, config.hourly_initialized_s)
        warm = int(plan.warmup_s()) + 120
        self.path = IndexPath(
            config.seed, self.t0 - warm, PathParams(s0=config.index_start, base_vol=config.index_vol)
        )
        self.ids = IdGen(config.seed)
        self._rng = random.Random(f"exchange-{config.seed}")
        self.markets: dict[str, SimMarket] = {}
        self.events: dict[str, SimEvent] = {}
        self.engines: dict[str, MatchingEngine] = {}
        self.accounts: dict[str, Account] = {}
        self.orders: dict[str, Order] = {}  # API members' orders (all states, bounded)
        self.client_ids: dict[tuple[str, str], str] = {}
        self.trades: deque[TradeRecord] = deque(maxlen=MAX_TRADES)
        self.fills: dict[str, deque[FillEvent]] = {}
        self.settlements: dict[str, deque[SettlementRecord]] = {}
        self.listeners: list[Callable[[list], None]] = []
        self.exchange_take = Decimal(0)  # fees and rounding kept by the exchange
        self.fees_by_series: dict[str, Decimal] = {}
        self.last_index: IndexTick | None = None
        self.now = float(self.t0)
        self._second = self.t0 - 1  # last whole second processed
        self._touched: set[str] = set()
        self._expiring: set[str] = set()
        self._agent_orders = 0  # markets with resting orders that carry an expiration_time
        self._tradable_cache: tuple[int, list[SimMarket]] = (-1, [])
        self.truth = TrueProbabilities(Truth(self.path.params))
        maker_params = MakerParams(mispricing=config.mispricing)
        self.makers = [
            MarketMaker(f"sim-mm-{i + 1}", random.Random(f"mm{i}-{config.seed}"), maker_params)
            for i in range(config.market_makers)
        ]
        self._mispricing: dict[str, tuple[float, float]] = {}  # ticker -> (log-odds shift, until)
        self._maker_of = {mm.user_id: mm for mm in self.makers}
        self.takers = Takers(
            "sim-taker",
            random.Random(f"taker-{config.seed}"),
            TakerParams(rate_15m=config.taker_rate_15m, rate_hourly=config.taker_rate_hourly),
        )
        for agent in [*(m.user_id for m in self.makers), self.takers.user_id]:
            self.accounts[agent] = Account(agent, agent=True)
        self.lifecycle = Lifecycle(self)

    # ================================================================== members
    def open_account(self, user_id: str) -> Account:
        acct = self.accounts.get(user_id)
        if acct is None:
            balances = {self.config.exchange_index: self.config.initial_balance}
            if self.config.exchange_index != 0:
                balances[0] = self.config.initial_balance_shard0
            acct = self.accounts[user_id] = Account(user_id, balances=balances)
            acct.updated_ts = self.now
        return acct

    def account(self, user_id: str) -> Account:
        acct = self.accounts.get(user_id)
        if acct is None:
            raise _reject(403, "forbidden", "no such member")
        return acct

    # ================================================================== time
    def advance(self, now: float, max_seconds: int | None = None) -> bool:
        """Process the whole seconds up to ``now`` in order (at most ``max_seconds`` of them);
        True when caught up. A caller that must stay responsive (the venue's clock task)
        advances a second at a time and yields in between."""
        self._at(now)
        target = math.floor(now)
        if max_seconds is not None:
            target = min(target, self._second + max_seconds)
        while self._second < target:
            s = self._second + 1
            out: list = []
            self.lifecycle.list_new(s, out)
            self._index_tick(s, out)
            self.lifecycle.transitions(s, out)
            for ticker in list(self._expiring):
                eng = self.engines.get(ticker)
                if eng is None or not any(o.expiration_ts is not None for o in eng.resting.values()):
                    self._expiring.discard(ticker)
                    continue
                for o in eng.expire(s, out):
                    self.free_reserved(o)
            self.truth.step(self, s)
            for mm in self.makers:
                mm.step(self, s, out)
            self.takers.step(self, s, out)
            self._second = s
            if s % 3600 == 0:
                self.path.trim(s - 7200)
            self._publish(out)
        return self._second >= math.floor(now)

    def _at(self, now: float) -> None:
        """API operations happen at ``now`` (between the processed seconds)."""
        if now > self.now:
            self.now = now

    @property
    def second(self) -> int:
        return self._second

    # ------------------------------------------------------------------ index (for the participants)
    def mispricing_shift(self, ticker: str, t: int) -> float:
        """The deliberate mispricing of ``ticker`` at ``t`` in log-odds (``SimConfig.mispricing``:
        ``4 X`` up or down, the direction drawn per market every ``redraw_s``; 0 by default)."""
        x = self.config.mispricing
        if x <= 0.0:
            return 0.0
        shift, until = self._mispricing.get(ticker, (0.0, -1.0))
        if t >= until:
            shift = 4.0 * x * (1.0 if self._rng.random() < 0.5 else -1.0)
            self._mispricing[ticker] = (shift, t + self.makers[0].p.redraw_s if self.makers else t + 300.0)
        return shift

    def window_known(self, m: SimMarket, t: int) -> tuple[float, int]:
        """Sum (dollars) and count of settlement-window ticks of ``m`` published by second ``t``."""
        close = int(m.close_ts)
        if t <= close - 60:
            return 0.0, 0
        c = self.path.cents_range(close - 59, min(t, close) + 1)
        return float(c.sum()) / 100.0, len(c)

    def tradable_markets(self, t: int) -> list[SimMarket]:
        at, cached = self._tradable_cache
        if at != t:
            cached = [m for m in self.markets.values() if m.status == ACTIVE and m.open_ts <= t < m.close_ts]
            self._tradable_cache = (t, cached)
        return [m for m in cached if m.status == ACTIVE]

    def _index_tick(self, s: int, out: list) -> None:
        tick = index_tick(self.path, s, s * 1000 + self._rng.randint(30, 250))
        self.last_index = tick
        out.append(tick)

    # ================================================================== orders
    def place(self, user_id: str, req: OrderRequest, now: float) -> PlaceResult:
        """V2 create order for an API member. Raises ``OrderRejected``.

        Order operations never advance time themselves (the venue's clock task does); they
        check market state against ``now`` directly, so they are right even if the exchange
        lags the clock under load."""
        self._at(now)
        acct = self.account(user_id)
        if req.client_order_id and (user_id, req.client_order_id) in self.client_ids:
            raise _reject(409, "order_already_exists", "an order with this client_order_id already exists")
        m = self._market_for_order(req.ticker, now)
        if req.exchange_index not in (None, -1, m.exchange_index):
            raise _reject(400, "invalid_parameters", f"market {m.ticker} is on exchange_index {m.exchange_index}")
        self._check_price(req.price)
        if req.count < 1:
            raise _reject(400, "invalid_order_size", "count must be at least 0.01 contracts")
        if req.time_in_force not in TIME_IN_FORCE:
            raise _reject(400, "invalid_parameters", "time_in_force must be fill_or_kill, good_till_canceled or immediate_or_cancel")
        if req.self_trade_prevention_type not in STP_TYPES:
            raise _reject(400, "invalid_parameters", "self_trade_prevention_type must be taker_at_cross or maker")
        if req.expiration_time is not None:
            if req.time_in_force == IOC:
                raise _reject(400, "invalid_parameters", "Cannot specify both immediate_or_cancel and expiration_ts")
            if req.time_in_force == FOK:
                raise _reject(400, "invalid_parameters", "Cannot specify both fill_or_kill and expiration_ts")
            if req.expiration_time <= now:
                raise _reject(400, "invalid_parameters", "Expiration timestamp must be in the future")
        if req.post_only and req.time_in_force != GTC:
            raise _reject(400, "invalid_parameters", "post_only requires good_till_canceled")
        count = req.count
        closable = acct.closable(m.ticker, req.side)
        if req.reduce_only:
            if closable <= 0:
                raise _reject(400, "invalid_order", "reduce_only order would not reduce the position")
            count = min(count, closable)
        order = Order(
            order_id=self.ids.new_id(),
            user_id=user_id,
            ticker=m.ticker,
            side=req.side,
            price=req.price,
            initial=count,
            tif=req.time_in_force,
            post_only=req.post_only,
            stp=req.self_trade_prevention_type,
            client_order_id=req.client_order_id,
            expiration_ts=req.expiration_time,
            reduce_only=req.reduce_only,
            exchange_index=m.exchange_index,
            subaccount=req.subaccount,
            order_group_id=req.order_group_id,
            cancel_order_on_pause=req.cancel_order_on_pause,
            created_ts=now,
        )
        self._check_balance(acct, order, m, count, closable)
        out: list = []
        matches = self.engines[m.ticker].submit(order, now, out)
        fills = self._settle_matches(matches, m, now, out)
        if order.status == RESTING:
            acct.reserve(order, max(0, order.remaining - acct.closable(m.ticker, order.side)))
            if order.expiration_ts is not None:
                self._expiring.add(m.ticker)
        self._remember(order)
        self._touched.add(m.ticker)
        self._publish(out)
        return PlaceResult(order, tuple(f for f in fills if f.user_id == user_id))

    def _market_for_order(self, ticker: str, now: float) -> SimMarket:
        m = self.markets.get(ticker)
        if m is None:
            raise _reject(400, "market_not_found", f"market {ticker!r} not found")
        if not m.tradable(now):
            raise _reject(400, "MARKET_INACTIVE", f"market {ticker} is not open for trading (status {m.status})")
        return m

    @staticmethod
    def _check_price(price: int) -> None:
        if not PRICE_MIN <= price <= PRICE_MAX or price % PRICE_STEP:
            raise _reject(400, "invalid_price", "price must be on the market's price grid (linear_cent: 0.01 .. 0.99)")

    def _check_balance(self, acct: Account, order: Order, m: SimMarket, count: int, closable: int) -> None:
        if acct.agent:
            return
        opening = max(0, count - closable)
        need = u6_to_decimal(opening * order.unit_cost_p4) + trade_fee(
            c2_to_decimal(count), p4_to_decimal(order.price), multiplier=self._fee_multiplier(m)
        )
        if acct.available(m.exchange_index) < need:
            raise _reject(
                400,
                "available_balance_too_low",
                f"available balance on exchange_index {m.exchange_index} is too low for this order",
            )

    def _remember(self, order: Order) -> None:
        self.orders[order.order_id] = order
        if order.client_order_id:
            self.client_ids[(order.user_id, order.client_order_id)] = order.order_id
        if len(self.orders) > MAX_USER_RECORDS:  # forget the oldest finished orders
            for oid, o in list(self.orders.items())[: len(self.orders) // 10]:
                if o.done:
                    del self.orders[oid]
                    if o.client_order_id and self.client_ids.get((o.user_id, o.client_order_id)) == oid:
                        del self.client_ids[(o.user_id, o.client_order_id)]

    def find_order(self, user_id: str, order_id: str) -> Order:
        o = self.orders.get(order_id)
        if o is None or o.user_id != user_id:
            raise _reject(404, "not_found", f"order {order_id!r} not found")
        return o

    def _route(self, order: Order, market_ticker: str | None, exchange_index: int | None) -> None:
        """Kalshi routes by shard: an order_id alone goes to shard 0 (reference §3.9)."""
        if exchange_index == -1 and not market_ticker:
            raise _reject(400, "invalid_parameters", "exchange_index -1 requires market_ticker for auto-routing")
        if market_ticker:
            if market_ticker != order.ticker:
                raise _reject(400, "order_ticker_mismatch", "market_ticker does not match the order")
            return
        shard = exchange_index if exchange_index is not None else 0
        if shard != order.exchange_index and self.config.strict_shard_routing:
            raise _reject(404, "not_found", f"order not found on exchange_index {shard}")

    def _order_market(self, order: Order, now: float) -> SimMarket:
        m = self.markets.get(order.ticker)
        if m is None or now >= m.close_ts or m.status not in (ACTIVE, INITIALIZED):
            raise _reject(400, "MARKET_INACTIVE", f"market {order.ticker} is closed: order operations are rejected")
        return m

    def cancel(
        self, user_id: str, order_id: str, now: float, *, market_ticker: str | None = None, exchange_index: int | None = None
    ) -> tuple[Order, int]:
        self._at(now)
        order = self.find_order(user_id, order_id)
        self._route(order, market_ticker, exchange_index)
        self._order_market(order, now)
        out: list = []
        reduced = self.engines[order.ticker].cancel(order, now, out)
        self.free_reserved(order)
        self._touched.add(order.ticker)
        self._publish(out)
        return order, reduced

    def cancel_all(self, user_id: str, now: float) -> int:
        self._at(now)
        out: list = []
        n = 0
        for o in [o for o in self.orders.values() if o.user_id == user_id and o.status == RESTING]:
            eng = self.engines.get(o.ticker)
            if eng is not None and eng.cancel(o, now, out):
                self.free_reserved(o)
                self._touched.add(o.ticker)
                n += 1
        self._publish(out)
        return n

    def decrease(
        self,
        user_id: str,
        order_id: str,
        now: float,
        *,
        reduce_by: int | None,
        reduce_to: int | None,
        market_ticker: str | None = None,
        exchange_index: int | None = None,
    ) -> Order:
        self._at(now)
        if (reduce_by is None) == (reduce_to is None):
            raise _reject(400, "invalid_parameters", "exactly one of reduce_by and reduce_to is required")
        order = self.find_order(user_id, order_id)
        self._route(order, market_ticker, exchange_index)
        self._order_market(order, now)
        if order.status != RESTING:
            raise _reject(400, "invalid_order", "order is not resting")
        new_remaining = order.remaining - reduce_by if reduce_by is not None else reduce_to
        assert new_remaining is not None
        if (reduce_by is not None and reduce_by <= 0) or new_remaining >= order.remaining:
            raise _reject(400, "invalid_parameters", "decrease must reduce the remaining count")
        new_remaining = max(0, new_remaining)
        out: list = []
        acct = self.accounts[user_id]
        removed = order.remaining - new_remaining
        self.engines[order.ticker].decrease(order, new_remaining, now, out)
        acct.release(order, removed)
        if order.done:
            self.free_reserved(order)
        self._touched.add(order.ticker)
        self._publish(out)
        return order

    def amend(
        self,
        user_id: str,
        order_id: str,
        now: float,
        *,
        ticker: str,
        side: str,
        price: int,
        count: int,
        client_order_id: str | None = None,
        updated_client_order_id: str | None = None,
        expiration_time: int | None = None,
        exchange_index: int | None = None,
    ) -> tuple[Order, tuple[FillEvent, ...]]:
        self._at(now)
        order = self.find_order(user_id, order_id)
        if ticker != order.ticker:
            raise _reject(400, "order_ticker_mismatch", "ticker does not match the order")
        if side != order.side:
            raise _reject(400, "order_side_mismatch", "side does not match the order")
        if client_order_id and client_order_id != order.client_order_id:
            raise _reject(400, "order_id_and_client_order_id_mismatch", "client_order_id does not match the order")
        m = self._order_market(order, now)
        if exchange_index not in (None, -1, m.exchange_index):
            raise _reject(400, "invalid_parameters", f"market {m.ticker} is on exchange_index {m.exchange_index}")
        self._check_price(price)
        if order.status != RESTING:
            raise _reject(400, "invalid_order", "order is not resting")
        if expiration_time is not None and expiration_time <= now:
            raise _reject(400, "invalid_parameters", "Expiration timestamp must be in the future")
        if updated_client_order_id and (user_id, updated_client_order_id) in self.client_ids:
            raise _reject(409, "order_already_exists", "an order with this client_order_id already exists")
        acct = self.accounts[user_id]
        new_remaining = count - order.filled
        if new_remaining <= 0:
            raise _reject(400, "invalid_parameters", "amended count must exceed the filled count")
        closable = acct.closable(m.ticker, side)
        opening = max(0, new_remaining - closable)
        unit = price if side == BID else 10_000 - price
        need = u6_to_decimal(opening * unit) + trade_fee(c2_to_decimal(new_remaining), p4_to_decimal(price), multiplier=self._fee_multiplier(m))
        if acct.available(m.exchange_index) + u6_to_decimal(order.reserved_u6) < need:
            raise _reject(400, "available_balance_too_low", "available balance is too low for the amended order")
        out: list = []
        acct.release(order)
        matches = self.engines[order.ticker].amend(order, price, count, now, out, expiration_time)
        fills = self._settle_matches(matches, m, now, out)
        if order.status == RESTING:
            acct.reserve(order, max(0, order.remaining - acct.closable(m.ticker, side)))
            if order.expiration_ts is not None:
                self._expiring.add(m.ticker)
        if updated_client_order_id:
            self.client_ids.pop((user_id, order.client_order_id), None)
            order.client_order_id = updated_client_order_id
            self.client_ids[(user_id, updated_client_order_id)] = order.order_id
        self._touched.add(order.ticker)
        self._publish(out)
        return order, tuple(f for f in fills if f.user_id == user_id)

    def free_reserved(self, order: Order) -> None:
        """Release what is still held as collateral for ``order`` (it ended)."""
        acct = self.accounts.get(order.user_id)
        if acct is not None and order.reserved_u6:
            acct.release(order)

    # ------------------------------------------------------------------ agents
    def agent_place(
        self, user_id: str, m: SimMarket, side: str, price: int, count: int, tif: str, post_only: bool, now: float, out: list
    ) -> Order | None:
        """An order of a simulated participant (no balance checks, no API records)."""
        if not m.tradable(now) or not PRICE_MIN <= price <= PRICE_MAX:
            return None
        self._agent_orders += 1
        order = Order(
            order_id=f"sim-{self._agent_orders}",  # never shown to a member: a counter is enough
            user_id=user_id,
            ticker=m.ticker,
            side=side,
            price=price,
            initial=count,
            tif=tif,
            post_only=post_only,
            stp="maker",
            exchange_index=m.exchange_index,
            created_ts=now,
            is_agent=True,
        )
        try:
            matches = self.engines[m.ticker].submit(order, now, out)
        except OrderRejected:
            return None
        self._settle_matches(matches, m, now, out)
        self._touched.add(m.ticker)
        return order

    def agent_cancel(self, order: Order, now: float, out: list) -> None:
        eng = self.engines.get(order.ticker)
        if eng is not None and eng.cancel(order, now, out):
            self._touched.add(order.ticker)

    # ------------------------------------------------------------------ fills
    def _fee_multiplier(self, m: SimMarket) -> Decimal:
        return Decimal(str(cal.SERIES_SPECS[m.series_ticker].fee_multiplier))

    def _settle_matches(self, matches: Iterable[Match], m: SimMarket, now: float, out: list) -> list[FillEvent]:
        fills: list[FillEvent] = []
        if not matches:
            return fills
        spec = cal.SERIES_SPECS[m.series_ticker]
        mult = self._fee_multiplier(m)
        makers_pay = maker_fees_apply(spec.fee_type)
        for x in matches:
            price_d, count_d = p4_to_decimal(x.price), c2_to_decimal(x.count)
            taker_fee = trade_fee(count_d, price_d, multiplier=mult, maker=False)
            maker_fee = trade_fee(count_d, price_d, multiplier=mult, maker=True) if makers_pay else Decimal(0)
            opened = {}
            closed = {}
            for order, fee, is_taker in ((x.taker, taker_fee, True), (x.maker, maker_fee, False)):
                acct = self.accounts[order.user_id]
                unit = x.price if order.side == BID else 10_000 - x.price
                res = acct.apply_fill(order, m.event_ticker, x.price, x.count, fee, now)
                revenue_u6 = res.closed * (10_000 - unit) - res.opened * unit
                self.exchange_take += u6_to_decimal(revenue_u6) - res.balance_change
                self.fees_by_series[m.series_ticker] = self.fees_by_series.get(m.series_ticker, Decimal(0)) + fee
                opened[order.side] = res.opened
                closed[order.side] = res.closed
                if is_taker:
                    order.taker_cost_u6 += x.count * unit
                    order.taker_fees += fee
                else:
                    order.maker_cost_u6 += x.count * unit
                    order.maker_fees += fee
                    acct.release(order, x.count)
                    if order.done:
                        acct.release(order)
                    if order.is_agent:
                        maker = self._maker_of.get(order.user_id)
                        if maker is not None:
                            maker.dirty.add(m.ticker)
                if not acct.agent:
                    f = FillEvent(
                        user_id=order.user_id,
                        fill_id=x.trade_id,  # Kalshi: fill_id and trade_id carry the same value
                        trade_id=x.trade_id,
                        order=order,
                        ticker=m.ticker,
                        side=order.side,
                        price=x.price,
                        count=x.count,
                        is_taker=is_taker,
                        fee=fee,
                        post_position=res.post_position,
                        exchange_index=order.exchange_index,
                        ts=now,
                    )
                    fills.append(f)
                    self.fills.setdefault(order.user_id, deque(maxlen=MAX_USER_RECORDS)).append(f)
                    out.append(f)
                    out.append(PositionEvent(user_id=order.user_id, ticker=m.ticker, ts=now))
            m.open_interest += opened.get(BID, 0) - closed.get(ASK, 0)
            m.last_price = x.price
            m.volume += x.count
            rec = TradeRecord(x.trade_id, m.ticker, x.price, x.count, x.taker.side, now)
            self.trades.append(rec)
            out.append(TradeEvent(ticker=m.ticker, trade_id=x.trade_id, price=x.price, count=x.count, taker_side=x.taker.side, ts=now))
        return fills

    # ================================================================== publishing
    def touch(self, ticker: str) -> None:
        """``ticker`` changed: its ticker-channel state is compared at the next publish."""
        self._touched.add(ticker)

    def ticker_state(self, m: SimMarket) -> tuple:
        book = self.engines[m.ticker].book if m.ticker in self.engines else None
        bid = book.best_bid() if book else None
        ask = book.best_ask() if book else None
        return (
            m.last_price,
            bid,
            ask,
            book.size_at(BID, bid) if book and bid is not None else 0,
            book.size_at(ASK, ask) if book and ask is not None else 0,
            m.volume,
            m.open_interest,
        )

    def _publish(self, out: list) -> None:
        if self._touched:
            ts = self.now
            for ticker in self._touched:
                m = self.markets.get(ticker)
                if m is None:
                    continue
                state = self.ticker_state(m)
                if state != m.last_ticker:
                    m.last_ticker = state
                    out.append(TickerEvent(ticker=ticker, ts=ts))
            self._touched.clear()
        if not out:
            return
        for listener in self.listeners:
            try:
                listener(out)
            except Exception:  # a broken listener must not stop the exchange
                logger.exception("sim exchange listener failed")

    # ================================================================== queries
    def book_levels(self, ticker: str) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        book = self.engines[ticker].book
        return book.levels(BID), book.levels(ASK)

    def user_orders(self, user_id: str) -> list[Order]:
        return [o for o in self.orders.values() if o.user_id == user_id]
