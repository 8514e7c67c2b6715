"""Simulated participants: market makers and random takers (decision logic, no I/O).

**Market makers** quote every tradable market around *their own* estimate of the fair
probability (``kbot.sim.fairvalue``), which is noisy (a per-market bias and a volatility
misestimate redrawn now and then) and sometimes stale (they look at the index a few seconds
late and re-evaluate each market only every few seconds). Each quotes ``levels`` prices per
side, one cent apart, around a half-spread that widens with uncertainty and near the close;
sizes are lognormal. Quotes are diffed against the resting orders, so an unchanged level
keeps its queue position and the book sees small deltas. They pull their quotes in the last
seconds of a market. Two makers with independent noise make the inside market tighter than
either alone; where they disagree by more than a spread, their post-only orders simply don't
cross.

**Takers** arrive at random (Poisson per market per second, busiest near 50 % and for
KXBTC15M), lean slightly towards the side the true fair value favours, trade lognormal
sizes (median 10 contracts, as in real KXBTC15M tapes) with immediate-or-cancel orders at the
touch or a tick through.

So prices track fair value with spreads of a few cents; an edge beyond spread + fee exists
only when a maker's noise or staleness is large, i.e. rarely and small.
"""

from __future__ import annotations

import math
import random
from typing import TYPE_CHECKING

import attrs

from kbot.sim.book import ASK, BID, GTC, IOC, Order
from kbot.sim.calendar import SERIES_15M
from kbot.sim.fairvalue import prob_yes

if TYPE_CHECKING:
    from kbot.sim.exchange import Exchange
    from kbot.sim.market import SimMarket

CENT = 100  # p4 per cent


@attrs.frozen(slots=True)
class MakerParams:
    levels: int = 3
    half_spread_c: float = 1.2  # base half spread, cents
    eval_every_s: tuple[float, float] = (1.0, 4.0)  # re-evaluation interval, uniform
    index_lag_s: tuple[int, int] = (0, 4)  # how stale their index view is
    requote_move: float = 0.01  # re-quote when the fair estimate moved this much
    far_slowdown: float = 6.0  # evaluate markets priced below 2c / above 98c this much less often
    refresh_s: float = 60.0  # and at least this often
    bias_sd: float = 0.012  # per-market probability bias
    vol_noise_sd: float = 0.15  # lognormal misestimate of volatility
    redraw_s: float = 300.0  # how long a bias lasts
    size_median: float = 60.0  # contracts at the inside level (hourly)
    size_median_15m: float = 200.0
    pull_before_close_s: float = 3.0


@attrs.define(slots=True)
class _Quote:
    orders: dict[tuple[str, int], Order] = attrs.field(factory=dict)
    next_eval: float = 0.0
    last_fair: float = -1.0
    last_quote_ts: float = -1e18
    bias: float = 0.0
    vol_mult: float = 1.0
    redraw_ts: float = -1e18
    sizes: tuple[int, ...] = ()  # c2 per level, redrawn with the bias
    lag: int = 0  # seconds of staleness of their index view, redrawn with the bias
    quoted: int = 0  # c2 quoted at the last requote


class MarketMaker:
    def __init__(self, user_id: str, rng: random.Random, params: MakerParams | None = None) -> None:
        self.user_id = user_id
        self.rng = rng
        self.p = params or MakerParams()
        self.quotes: dict[str, _Quote] = {}

    def forget(self, ticker: str) -> None:
        self.quotes.pop(ticker, None)

    def step(self, ex: Exchange, t: int, out: list) -> None:
        p = self.p
        sigma = ex.sigma_estimate(t)
        for m in ex.tradable_markets(t):
            q = self.quotes.get(m.ticker)
            if q is None:
                q = self.quotes[m.ticker] = _Quote(next_eval=t + self.rng.uniform(0, p.eval_every_s[1]))
            if m.close_ts - t <= p.pull_before_close_s:
                if q.orders:
                    for o in list(q.orders.values()):
                        ex.agent_cancel(o, t, out)
                    q.orders.clear()
                continue
            if t < q.next_eval:
                continue
            for key in [k for k, o in q.orders.items() if o.done]:
                del q.orders[key]  # filled or cancelled by the market
            # far from the money a quote hardly moves: look at it less often
            slow = 1.0 if 0.02 < q.last_fair < 0.98 or q.last_fair < 0 else p.far_slowdown
            q.next_eval = t + self.rng.uniform(*p.eval_every_s) * slow
            if t >= q.redraw_ts + p.redraw_s:
                q.bias = self.rng.gauss(0.0, p.bias_sd)
                q.vol_mult = math.exp(self.rng.gauss(0.0, p.vol_noise_sd))
                q.redraw_ts = t
                q.lag = self.rng.randint(*p.index_lag_s)
                med = p.size_median_15m if m.series_ticker == SERIES_15M else p.size_median
                q.sizes = tuple(
                    max(1, int(self.rng.lognormvariate(math.log(med), 0.5) * (1.0 + 0.5 * i))) * 100 for i in range(p.levels)
                )
            fair = self._fair(ex, m, t - q.lag, sigma * q.vol_mult)
            if fair is None:
                continue
            fair = min(0.999, max(0.001, fair + q.bias * 4.0 * fair * (1.0 - fair)))
            thin = sum(o.remaining for o in q.orders.values()) < 0.5 * q.quoted
            if abs(fair - q.last_fair) < p.requote_move and t - q.last_quote_ts < p.refresh_s and not thin:
                continue
            self._requote(ex, m, q, fair, t, out)
            q.last_fair = fair
            q.last_quote_ts = t

    def _fair(self, ex: Exchange, m: SimMarket, t: int, sigma: float) -> float | None:
        """Their estimate as of (possibly stale) second ``t``."""
        if m.strike.floor is None or not m.floor_published:
            return 0.5 if m.series_ticker == SERIES_15M else None
        spot = ex.path.price(t)
        tau = m.close_ts - t
        known_sum, known_n = ex.window_known(m, t)
        return prob_yes(m.strike.strike_type, m.strike.floor, m.strike.cap, spot, sigma, tau, known_sum, known_n)

    def _requote(self, ex: Exchange, m: SimMarket, q: _Quote, fair: float, t: int, out: list) -> None:
        p = self.p
        tau = m.close_ts - t
        hs = p.half_spread_c * (1.0 + 0.6 * (4.0 * fair * (1.0 - fair))) * (1.0 + (1.5 if tau < 120 else 0.0))
        fair_c = fair * 100.0
        top_bid = max(1, min(98, math.floor(fair_c - hs)))  # deep in/out of the money: 1/2 or 98/99
        top_ask = min(99, max(2, math.ceil(fair_c + hs)))
        if top_ask <= top_bid:
            top_ask = top_bid + 1
        want: dict[tuple[str, int], int] = {}
        for i, size in enumerate(q.sizes):
            b, a = top_bid - i, top_ask + i
            if 1 <= b <= 99:
                want[(BID, b * CENT)] = size
            if 1 <= a <= 99:
                want[(ASK, a * CENT)] = size
        # cancel what is no longer wanted (or far off in size) first, so nothing self-crosses
        for key, o in list(q.orders.items()):
            target = want.get(key)
            if target is None or o.remaining < 0.4 * target or o.remaining > 2.5 * target:
                ex.agent_cancel(o, t, out)
                del q.orders[key]
            else:
                want.pop(key)
        for (side, price), size in sorted(want.items(), key=lambda kv: (kv[0][0] != BID, kv[0][1])):
            placed = ex.agent_place(self.user_id, m, side, price, size, GTC, True, t, out)
            if placed is not None and not placed.done:
                q.orders[(side, price)] = placed
        q.quoted = sum(o.remaining for o in q.orders.values())


@attrs.frozen(slots=True)
class TakerParams:
    rate_15m: float = 0.5  # arrivals per sim second at 50 %
    rate_hourly: float = 0.01
    size_median: float = 10.0  # contracts
    size_sigma: float = 1.3
    size_max: float = 1000.0
    informed: float = 0.15  # tilt of the side choice towards the true fair value
    through_ticks: int = 1  # how far through the touch a taker may walk


class Takers:
    def __init__(self, user_id: str, rng: random.Random, params: TakerParams | None = None) -> None:
        self.user_id = user_id
        self.rng = rng
        self.p = params or TakerParams()

    def step(self, ex: Exchange, t: int, out: list) -> None:
        p = self.p
        sigma = ex.path.params.base_vol
        for m in ex.tradable_markets(t):
            engine = ex.engines[m.ticker]
            bid, ask = engine.book.best_bid(), engine.book.best_ask()
            if bid is None and ask is None:
                continue
            mid = ((bid or ask or 0) + (ask or bid or 0)) / 2.0 / 10_000.0
            rate = p.rate_15m if m.series_ticker == SERIES_15M else p.rate_hourly
            activity = 0.1 + 0.9 * 4.0 * mid * (1.0 - mid)
            if self.rng.random() >= rate * activity:
                continue
            fair = None
            if m.strike.floor is not None and m.floor_published:
                known_sum, known_n = ex.window_known(m, t)
                fair = prob_yes(m.strike.strike_type, m.strike.floor, m.strike.cap, ex.path.price(t), sigma, m.close_ts - t, known_sum, known_n)
            lean = 0.0 if fair is None else p.informed * math.tanh((fair - mid) * 20.0)
            side = BID if self.rng.random() < 0.5 + lean else ASK
            touch = ask if side == BID else bid
            if touch is None:
                continue
            through = self.rng.randint(0, p.through_ticks) * CENT
            price = min(9900, touch + through) if side == BID else max(100, touch - through)
            size = min(p.size_max, max(1.0, self.rng.lognormvariate(math.log(p.size_median), p.size_sigma)))
            ex.agent_place(self.user_id, m, side, price, int(size) * 100, IOC, False, t, out)
