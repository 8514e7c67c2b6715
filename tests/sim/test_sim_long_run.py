"""Several simulated hours of the whole exchange in virtual time (a direct time loop, no sockets):
listings on cadence, books never crossed, a scripted member's fills consistent with its
positions and balance, fees per formula, money conserved, every market finalized with the
result recomputed independently from the published index path."""

from __future__ import annotations

import random
from collections import defaultdict
from decimal import ROUND_HALF_EVEN, Decimal

from kbot.fees import OrderFeeAccumulator, trade_fee
from kbot.sim.book import ASK, BID, RESTING
from kbot.sim.calendar import SERIES_15M, SERIES_HOURLY_ABOVE, SERIES_HOURLY_RANGE
from kbot.sim.config import SimConfig
from kbot.sim.engine import OrderRejected
from kbot.sim.events import BookDelta, EventCreated, FillEvent, IndexTick, LifecycleEvent
from kbot.sim.exchange import Exchange, OrderRequest

HOURS = 4  # (6 before the realistic participants made a simulated second ~2.5x dearer)
START = 1_787_003_000.0  # not on a boundary
USER = "scripted-member"


def independent_result(ticks: dict[int, int], strike_type: str, floor: float, cap: float | None, close: int) -> tuple[str, Decimal]:
    """Kalshi's rule recomputed from the published 1 s index values (cents)."""
    window = [ticks[t] for t in range(close - 59, close + 1)]
    avg = (Decimal(sum(window)) / Decimal(100 * len(window))).quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)
    f = Decimal(str(floor))
    if strike_type == "greater":
        return ("yes" if avg > f else "no"), avg
    if strike_type == "greater_or_equal":
        return ("yes" if avg >= f else "no"), avg
    return ("yes" if f <= avg <= Decimal(str(cap)) else "no"), avg


def test_hours_of_virtual_trading():
    cfg = SimConfig(seed=21, ladder_strikes=8, brackets=4, hourly_ahead=2, taker_rate_15m=0.3, taker_rate_hourly=0.02)
    ex = Exchange(cfg, START)
    ex.open_account(USER)
    ticks: dict[int, int] = {}
    created: dict[str, list[float]] = defaultdict(list)
    lifecycle: dict[str, list[tuple[str, float]]] = defaultdict(list)
    fills: list[FillEvent] = []
    crossed: list[str] = []
    closes: dict[str, tuple] = {}

    def listen(events: list) -> None:
        touched = set()
        for e in events:
            if isinstance(e, IndexTick):
                ticks[e.second] = e.cents
            elif isinstance(e, EventCreated):
                created[e.fields["series_ticker"]].append(e.fields["strike_date"])
            elif isinstance(e, LifecycleEvent):
                lifecycle[e.ticker].append((e.event_type, e.ts))
            elif isinstance(e, FillEvent) and e.user_id == USER:
                fills.append(e)
            elif isinstance(e, BookDelta):
                touched.add(e.ticker)
        for t in touched:
            eng = ex.engines.get(t)
            if eng is not None and eng.book.crossed():
                crossed.append(t)

    ex.listeners.append(listen)
    rng = random.Random(5)
    end = START + HOURS * 3600
    t = START
    coid = 0
    while t < end:
        t += 1
        ex.advance(t)
        for m in ex.markets.values():
            if m.status == "determined" and m.ticker not in closes:
                closes[m.ticker] = (m.strike.strike_type, m.strike.floor, m.strike.cap, int(m.close_ts), m.result, m.expiration_value)
        if rng.random() < 0.06:  # the scripted member acts every ~16 s
            tradable = ex.tradable_markets(int(t))
            if not tradable:
                continue
            m = rng.choice(tradable)
            book = ex.engines[m.ticker].book
            now = t + rng.random() * 0.9
            try:
                mine = [o for o in ex.user_orders(USER) if o.status == RESTING]
                roll = rng.random()
                if mine and roll < 0.2:
                    o = rng.choice(mine)
                    ex.cancel(USER, o.order_id, now, market_ticker=o.ticker)
                elif mine and roll < 0.3:
                    o = rng.choice(mine)
                    ex.amend(USER, o.order_id, now, ticker=o.ticker, side=o.side, price=max(100, o.price - 100), count=o.filled + o.remaining + 100)
                else:
                    side = rng.choice([BID, ASK])
                    touch = book.best_ask() if side == BID else book.best_bid()
                    aggressive = touch is not None and rng.random() < 0.6
                    if aggressive:
                        price, tif = touch, "immediate_or_cancel"
                    else:
                        inside = book.best_bid() if side == BID else book.best_ask()
                        price = (inside or 5000) + (-100 if side == BID else 100)
                        tif = "good_till_canceled"
                    coid += 1
                    ex.place(
                        USER,
                        OrderRequest(
                            ticker=m.ticker, side=side, price=max(100, min(9900, price)), count=rng.randint(1, 30) * 100,
                            time_in_force=tif, self_trade_prevention_type=rng.choice(["taker_at_cross", "maker"]), client_order_id=f"c{coid}",
                        ),
                        now,
                    )
            except OrderRejected as exc:
                assert exc.code in ("available_balance_too_low", "MARKET_INACTIVE", "invalid_price", "invalid_order"), exc.code

    # ---- listings on cadence
    q15 = sorted(created[SERIES_15M])
    assert len(q15) >= HOURS * 4
    assert all(b - a == 900 for a, b in zip(q15, q15[1:]))
    for series in (SERIES_HOURLY_ABOVE, SERIES_HOURLY_RANGE):
        hs = sorted(created[series])
        assert len(hs) >= HOURS and all(b - a == 3600 for a, b in zip(hs, hs[1:]))
    assert max(len(ex.tradable_markets(int(end))), 1) <= 2 + 2 * (8 + 4) + 2

    # ---- books never crossed
    assert not crossed

    # ---- every closed market determined, finalized on time, with the independently computed result
    assert len(closes) >= HOURS * (4 + 8 + 4)
    for ticker, (stype, floor, cap, close, result, value) in closes.items():
        expected, avg = independent_result(ticks, stype, floor, cap, close)
        assert (result, value) == (expected, str(avg)), ticker
        kinds = dict(lifecycle[ticker])
        assert kinds["determined"] == close + cfg.determination_delay_s
        timer = 1 if ticker.startswith(SERIES_15M) else 60
        if close + 1 + timer <= end:
            assert kinds["settled"] == close + cfg.determination_delay_s + timer

    # ---- the member's fills, fees, positions and balance agree
    assert len(fills) > 50
    acct = ex.accounts[USER]
    pos: dict[str, int] = defaultdict(int)
    accs: dict[str, OrderFeeAccumulator] = defaultdict(OrderFeeAccumulator)
    cash = Decimal("10000")
    for f in fills:
        assert f.fee == trade_fee(Decimal(f.count) / 100, Decimal(f.price) / 10_000, maker=False) if f.is_taker else f.fee == 0
        held = pos[f.ticker]
        unit = f.price if f.side == BID else 10_000 - f.price
        closing = min(f.count, max(-held, 0) if f.side == BID else max(held, 0))
        revenue = Decimal(closing * (10_000 - unit) - (f.count - closing) * unit) / 10**6
        cash += accs[f.order.order_id].apply_fill(revenue, f.fee).balance_change
        pos[f.ticker] = held + (f.count if f.side == BID else -f.count)
        assert f.post_position == pos[f.ticker]
    for s in ex.settlements.get(USER, ()):
        cash += Decimal(s.revenue_cents) / 100
        assert s.yes_count == max(pos[s.ticker], 0) and s.no_count == max(-pos[s.ticker], 0)
        pos[s.ticker] = 0
    assert acct.balance(2) == cash
    for ticker, p in acct.positions.items():
        assert p.position == pos[ticker]

    # ---- money is conserved across everyone
    oi = sum(max(p.position, 0) for a in ex.accounts.values() for p in a.positions.values())
    deposits = sum(a.deposited for a in ex.accounts.values())
    assert sum(a.balance() for a in ex.accounts.values()) + ex.exchange_take + Decimal(oi) / 100 == deposits
