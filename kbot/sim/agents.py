"""Simulated participants: market makers and random takers (decision logic, no I/O).

Every figure below comes from real Kalshi data in ``../shared/data``; ``docs/SIM_CALIBRATION.md``
lists each one next to what the simulated venue produces, and ``python -m kbot.sim.calibrate``
re-measures both.

**Market makers** quote every tradable market around the sim's *true* probability
(``kbot.sim.fairvalue``: the distribution of the settlement average implied by the sim's own
index process and its hidden volatility state), with the imperfections real books show:

- *quote lag*: a maker re-evaluates each market every second but reads the truth of a few
  seconds ago (``lag_s``, drawn per evaluation), so books follow spot moves late, as KXBTC15M
  books follow Coinbase (``calibrate.quote_lag``);
- *favourite-longshot tilt*: quotes sit at ``logit(q) = logit(p) / tilt``, longshots a little
  rich and favourites a little cheap, as the real books' mids are (``calibrate.tilt``);
- *noise*: a per-market, per-maker bias in log-odds (``bias_sd``), redrawn every few minutes;
- optionally a deliberate *mispricing* (``SimConfig.mispricing``, default 0): every maker's
  quote of a market is shifted by ``4 X`` in log-odds (``X`` probability points at 50 %), in a
  direction drawn per market every ``redraw_s``: a demo/test knob that makes edges to trade.

Each maker quotes ``levels`` prices per side one cent apart, the inside ``half_spread`` around
its quote (per series: KXBTC15M books are a cent wide, hourly ones a few cents), sizes
lognormal around the series' medians. Quotes are diffed against the resting orders, so an
unchanged level keeps its queue position and the book sees small deltas; a maker re-quotes
when its prices move, when its inside was mostly taken, or every ``refresh_s``; markets priced
beyond 1 %/99 % are looked at every ``far_every_s``, hourly markets every ``hourly_every_s``. Makers pull
their quotes in the last seconds.

**Takers** arrive at random (Poisson per market per second: KXBTC15M at the real tape's rate,
fewer in the last minute), pick a side at random with a slight lean towards the true value,
and trade lognormal sizes (the real tape's median and spread) with immediate-or-cancel orders
at the touch or a tick through.

So the market tracks the truth with realistic spreads; an edge beyond spread + fee appears only
where lag or noise is large, i.e. rarely, briefly and small (``tests/sim/test_sim_efficiency.py``).
"""

from __future__ import annotations

import math
import random
from typing import TYPE_CHECKING

import attrs
import numpy as np

from kbot.sim.book import ASK, BID, GTC, IOC, Order
from kbot.sim.calendar import SERIES_15M

if TYPE_CHECKING:
    from kbot.sim.exchange import Exchange
    from kbot.sim.market import SimMarket

CENT = 100  # p4 per cent


@attrs.frozen(slots=True)
class SeriesQuoting:
    """How a maker quotes one kind of market (cents and contracts). The half spread is
    ``half_spread_c + wide_c * 4 q (1 - q) + uniform(0, spread_jitter_c)`` (drawn per maker and
    market): real hourly books are wider near 50 % than in the tails."""

    half_spread_c: float  # distance of the inside bid/ask from the maker's quote, in the tails
    wide_c: float  # extra half spread at 50 %
    spread_jitter_c: float  # plus uniform(0, this), per maker and market
    sizes: tuple[float, ...]  # median contracts per level, inside first
    size_sigma: tuple[float, ...]  # lognormal sd of each level's size


QUOTING_15M = SeriesQuoting(half_spread_c=0.5, wide_c=0.0, spread_jitter_c=0.0, sizes=(220.0, 550.0, 650.0), size_sigma=(1.35, 0.6, 0.6))
QUOTING_HOURLY = SeriesQuoting(half_spread_c=1.0, wide_c=1.8, spread_jitter_c=1.0, sizes=(60.0, 90.0, 120.0), size_sigma=(0.8, 0.6, 0.6))


@attrs.frozen(slots=True)
class MakerParams:
    quoting_15m: SeriesQuoting = QUOTING_15M
    quoting_hourly: SeriesQuoting = QUOTING_HOURLY
    # P(lag = 0, 1, 2, ... seconds) of a maker's view of the truth, per evaluation
    lag_s: tuple[float, ...] = (0.8, 0.17, 0.01, 0.01, 0.005, 0.005)
    tilt_15m: float = 1.04  # favourite-longshot: quoted log-odds = true log-odds / tilt (real KXBTC15M mids)
    tilt_hourly: float = 1.12  # (real KXBTC bracket mids)
    bias_sd: float = 0.04  # per-market log-odds noise of one maker
    redraw_s: float = 300.0  # how long a bias (and a mispricing direction, sizes) lasts
    mispricing: float = 0.0  # deliberate mispricing, probability points at 50 % (SimConfig)
    requote_thin: float = 0.4  # re-quote when less than this share of the inside is left
    refresh_s: float = 60.0  # re-quote at least this often
    hourly_every_s: int = 2  # evaluate hourly markets this often (no hourly book stream in the data: an assumption)
    far_every_s: int = 5  # evaluate markets quoted beyond 1 % / 99 % only this often
    pull_before_close_s: float = 3.0


@attrs.define(slots=True)
class _Quote:
    orders: dict[tuple[str, int], Order] = attrs.field(factory=dict)
    sizes: tuple[int, ...] = ()  # c2 per level, redrawn with the bias
    quoted_inside: int = 0  # c2 at the inside when last quoted


class MarketMaker:
    """One maker. State per market lives in arrays aligned with the truth board's columns, so a
    second's evaluation of every market is a few numpy operations; only the markets whose
    quote must change are touched one by one."""

    def __init__(self, user_id: str, rng: random.Random, params: MakerParams | None = None) -> None:
        self.user_id = user_id
        self.rng = rng
        self.np_rng = np.random.default_rng(rng.getrandbits(64))
        self.p = params or MakerParams()
        self.quotes: dict[str, _Quote] = {}
        self.dirty: set[str] = set()  # markets where one of our resting orders traded
        lag = np.asarray(self.p.lag_s, dtype=np.float64)
        self._lag_p = lag / lag.sum()
        self._epoch = -1
        self._tickers: list[str] = []
        n = 0
        self._bias = np.zeros(n)
        self._hs_base = np.zeros(n)
        self._hs_wide = np.zeros(n)
        self._top_bid = np.zeros(n, dtype=np.int64)
        self._top_ask = np.zeros(n, dtype=np.int64)
        self._last_quote = np.zeros(n)
        self._next_eval = np.zeros(n)
        self._redraw_at = np.zeros(n)
        self._is15 = np.zeros(n, dtype=bool)
        self._state: dict[str, tuple[float, float, float, int, int, float, float, float]] = {}

    def forget(self, ticker: str) -> None:
        self.quotes.pop(ticker, None)
        self._state.pop(ticker, None)
        self.dirty.discard(ticker)

    def _remap(self, ex: Exchange) -> None:
        """The tradable markets changed: carry each market's state into the new columns."""
        for j, tk in enumerate(self._tickers):
            self._state[tk] = (
                float(self._bias[j]), float(self._hs_base[j]), float(self._hs_wide[j]), int(self._top_bid[j]),
                int(self._top_ask[j]), float(self._last_quote[j]), float(self._next_eval[j]), float(self._redraw_at[j]),
            )
        tb = ex.truth
        self._tickers = list(tb.tickers)
        n = len(self._tickers)
        cols = [self._state.get(tk, (0.0, 1.0, 0.0, -1, -1, -1e18, 0.0, -1e18)) for tk in self._tickers]
        a = np.array(cols, dtype=np.float64).reshape(n, 8)
        self._bias, self._hs_base, self._hs_wide = a[:, 0].copy(), a[:, 1].copy(), a[:, 2].copy()
        self._top_bid, self._top_ask = a[:, 3].astype(np.int64), a[:, 4].astype(np.int64)
        self._last_quote, self._next_eval, self._redraw_at = a[:, 5].copy(), a[:, 6].copy(), a[:, 7].copy()
        self._is15 = np.array([m.series_ticker == SERIES_15M for m in tb.markets], dtype=bool)
        self._epoch = tb.epoch

    def _redraw(self, j: int, m: SimMarket, t: int) -> None:
        p, rng = self.p, self.rng
        style = p.quoting_15m if m.series_ticker == SERIES_15M else p.quoting_hourly
        self._bias[j] = rng.gauss(0.0, p.bias_sd)
        self._hs_base[j] = style.half_spread_c + rng.uniform(0.0, style.spread_jitter_c)
        self._hs_wide[j] = style.wide_c
        self._redraw_at[j] = t + p.redraw_s
        q = self.quotes.get(m.ticker)
        if q is None:
            q = self.quotes[m.ticker] = _Quote()
        q.sizes = tuple(
            max(1, int(rng.lognormvariate(math.log(med), sd))) * 100 for med, sd in zip(style.sizes, style.size_sigma, strict=True)
        )

    def step(self, ex: Exchange, t: int, out: list) -> None:
        p = self.p
        tb = ex.truth
        if tb.epoch != self._epoch:
            self._remap(ex)
        n = len(self._tickers)
        if n == 0:
            return
        markets = tb.markets
        # pull quotes in the last seconds
        closing = np.flatnonzero(tb.close - t <= p.pull_before_close_s)
        for j in closing.tolist():
            q = self.quotes.get(self._tickers[j])
            if q is not None and q.orders:
                for o in list(q.orders.values()):
                    ex.agent_cancel(o, t, out)
                q.orders.clear()
            self._top_bid[j] = self._top_ask[j] = -1
            self._next_eval[j] = math.inf
        for j in np.flatnonzero(self._redraw_at <= t).tolist():
            self._redraw(j, markets[j], t)
        lags = self.np_rng.choice(len(self._lag_p), size=n, p=self._lag_p)
        fair = tb.lagged(lags)
        known = ~np.isnan(fair)
        f = np.clip(np.where(known, fair, 0.5), 1e-9, 1.0 - 1e-9)
        x = np.log(f / (1.0 - f)) / np.where(self._is15, p.tilt_15m, p.tilt_hourly) + self._bias
        if p.mispricing > 0.0:
            x = x + np.array([ex.mispricing_shift(tk, t) for tk in self._tickers])
        quote = 1.0 / (1.0 + np.exp(-x))
        qc = quote * 100.0
        hs = self._hs_base + self._hs_wide * 4.0 * quote * (1.0 - quote)
        bid = np.floor(qc - hs + 0.5).astype(np.int64)
        ask = np.ceil(qc + hs - 0.5).astype(np.int64)
        # deep in or out of the money the book still shows 1c/2c or 98c/99c (a cent grid has no
        # sub-cent prices; real books rest orders there)
        bid = np.clip(bid, 1, 98)
        ask = np.clip(ask, 2, 99)
        ask = np.where(ask <= bid, bid + 1, ask)
        due = known & (self._next_eval <= t)
        change = due & ((bid != self._top_bid) | (ask != self._top_ask) | (t - self._last_quote >= p.refresh_s))
        far = (quote <= 0.01) | (quote >= 0.99)
        every = np.where(far, p.far_every_s, np.where(self._is15, 1, p.hourly_every_s))
        self._next_eval = np.where(due, t + every, self._next_eval)
        todo = set(np.flatnonzero(change).tolist())
        if self.dirty:
            for tk in self.dirty:
                col = tb.index.get(tk)
                if col is None or not due[col] or col in todo:
                    continue
                q = self.quotes.get(tk)
                if q is not None and self._inside(q, int(self._top_bid[col]), int(self._top_ask[col])) < p.requote_thin * q.quoted_inside:
                    todo.add(col)
            self.dirty.clear()
        for j in sorted(todo):
            self._requote(ex, markets[j], j, int(bid[j]), int(ask[j]), t, out)

    @staticmethod
    def _inside(q: _Quote, bid: int, ask: int) -> int:
        return sum(o.remaining for (_side, price), o in q.orders.items() if not o.done and price in (bid * CENT, ask * CENT))

    def _requote(self, ex: Exchange, m: SimMarket, j: int, bid: int, ask: int, t: int, out: list) -> None:
        """Bring the maker's orders in ``m`` to an inside of ``bid``/``ask`` with as few book
        changes as a real maker would make: orders better than the new inside go; orders behind
        it stay while they are within ``levels`` cents of it (a move of the inside by a cent
        places one order and cancels one, instead of shifting the whole ladder); the inside and
        the next level are always there, deeper levels are added when the side runs short; an
        order far off its target size is replaced."""
        q = self.quotes.get(m.ticker)
        if q is None:
            self._redraw(j, m, t)
            q = self.quotes[m.ticker]
        for key in [k for k, o in q.orders.items() if o.done]:
            del q.orders[key]  # filled or cancelled by the market
        levels = len(q.sizes)
        for side, inside, sign in ((BID, bid, -1), (ASK, ask, 1)):
            # sign: the direction away from the inside (bids lower, asks higher), in cents
            keep: dict[int, Order] = {}
            for (sd, price), o in list(q.orders.items()):
                if sd != side:
                    continue
                depth = (price // CENT - inside) * sign  # 0 = at the inside, < 0 = better than it
                target = q.sizes[min(max(depth, 0), levels - 1)]
                if depth < 0 or depth > levels or o.remaining < 0.4 * target or o.remaining > 2.5 * target:
                    ex.agent_cancel(o, t, out)
                    del q.orders[(sd, price)]
                else:
                    keep[depth] = o
            for depth in range(levels):
                if depth in keep or (depth >= 2 and len(keep) >= levels - 1):
                    continue
                price = inside + sign * depth
                if not 1 <= price <= 99:
                    continue
                placed = ex.agent_place(self.user_id, m, side, price * CENT, q.sizes[depth], GTC, True, t, out)
                if placed is not None and not placed.done:
                    q.orders[(side, price * CENT)] = placed
                    keep[depth] = placed
        self._top_bid[j], self._top_ask[j] = bid, ask
        self._last_quote[j] = t
        q.quoted_inside = self._inside(q, bid, ask)


@attrs.frozen(slots=True)
class TakerParams:
    rate_15m: float = 5.1  # arrivals per sim second on a KXBTC15M market (real tape: 4,594 per market)
    last_minute_15m: float = 1.0  # relative rate in the last minute (fewer trades come from one-sided books)
    rate_hourly: float = 0.01  # per hourly market (no hourly tape in the data: an assumption)
    size_median: float = 10.0  # contracts (real tape: median 10)
    size_sigma: float = 1.69  # lognormal sd of the size (real tape: 1.69)
    size_max: float = 10_000.0  # real tape's largest trade
    informed: float = 0.15  # tilt of the side choice towards the true value
    through_ticks: int = 1  # how far through the touch a taker may walk


class Takers:
    def __init__(self, user_id: str, rng: random.Random, params: TakerParams | None = None) -> None:
        self.user_id = user_id
        self.rng = rng
        self.p = params or TakerParams()

    def step(self, ex: Exchange, t: int, out: list) -> None:
        p, rng = self.p, self.rng
        hourly: list[SimMarket] = []
        for m in ex.tradable_markets(t):
            if m.series_ticker != SERIES_15M:
                hourly.append(m)
                continue
            rate = p.rate_15m * (p.last_minute_15m if m.close_ts - t <= 60 else 1.0)
            for _ in range(_poisson(rng, rate)):
                self._trade(ex, m, t, out)
        if hourly and p.rate_hourly > 0:
            for _ in range(_poisson(rng, p.rate_hourly * len(hourly))):
                self._trade(ex, hourly[rng.randrange(len(hourly))], t, out)

    def _trade(self, ex: Exchange, m: SimMarket, t: int, out: list) -> None:
        p, rng = self.p, self.rng
        book = ex.engines[m.ticker].book
        bid, ask = book.best_bid(), book.best_ask()
        if bid is None and ask is None:
            return
        mid = ((bid or ask or 0) + (ask or bid or 0)) / 2.0 / 10_000.0
        fair = ex.truth.now(m.ticker)
        lean = 0.0 if fair is None else p.informed * math.tanh((fair - mid) * 20.0)
        side = BID if rng.random() < 0.5 + lean else ASK
        touch = ask if side == BID else bid
        if touch is None:
            return
        through = rng.randint(0, p.through_ticks) * CENT
        price = min(9900, touch + through) if side == BID else max(100, touch - through)
        size = min(p.size_max, max(1.0, rng.lognormvariate(math.log(p.size_median), p.size_sigma)))
        ex.agent_place(self.user_id, m, side, price, int(size) * 100, IOC, False, t, out)


def _poisson(rng: random.Random, lam: float) -> int:
    """A Poisson draw (Knuth; ``lam`` is at most a few per second here)."""
    if lam <= 0.0:
        return 0
    limit, k, prod = math.exp(-lam), 0, rng.random()
    while prod > limit:
        k += 1
        prod *= rng.random()
    return k
