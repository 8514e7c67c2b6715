"""Pricing benchmarks: ladder probabilities and the pricer+decision path.

    python -m bench.pricing [--quick]

1. A 200-strike ladder's probabilities per call (target <= 50 us), beside a baseline in the
   same run: a Python loop calling ``scipy.stats.norm.cdf`` once per strike (the obvious
   implementation), plus the scalar ``prob_yes`` loop and ``prob_yes_ladder`` with bounds
   parsed on every call, for context.
2. The pricer+decision path per market update at 200 open markets (target p99 <= 1 ms):
   a. compute: ``PricerCore`` (apply quote, price, throttle) + ``DecisionCore`` (implied vol
      book, gates, sizing, risk) per quote update, beside the naive baseline that re-prices
      and re-decides all 200 markets on every update;
   b. in-process actors: 200 pricer actors and one decision actor on Trio with their real
      conflating mailboxes, quotes injected at a steady rate while the spot index fans out to
      all pricers every second; latency = injection (``mono``) -> Decision sent. Every PASS is
      emitted (``pass_repeat_s=0``: the worst case, and a latency sample per update). A spot
      move re-prices all 200 markets (~50 us each), so the fan-out row is the time until each
      of the 200 resulting decisions; quotes arriving meanwhile wait behind it (the tail of
      the quote row).

Run it on a quiet machine: on a shared 2-core box the actor rows mostly measure contention.

Figures are printed; nothing is asserted (benchmarks are not tests).
"""

from __future__ import annotations

import argparse
import math
import os
import random
import statistics
import time
from decimal import Decimal
from functools import partial

import attrs
import numpy as np
import trio
from loguru import logger
from scipy.stats import norm

from actors.decision import DecisionCore, decision_inbox_key, run_decision
from actors.pricer import PricerCore, pricer_inbox_key, run_pricer
from bench.suite import Row, percentile, run_alone
from kbot.clock import WallClock
from kbot.messages import Decision, IndexUpdate, MarketInfo, PortfolioState, Quote
from kbot.model import YEAR_S, prob_between, prob_yes, prob_yes_ladder
from kbot.model.config import GateConfig, PricerConfig, RiskConfig, SizingConfig
from kbot.model.prob import ladder_bounds
from kbot.statestore import MemoryStateStore, inline
from supervision import LatestMailbox

N = 200
SPOT = 80_000.0
SIGMA = 0.5
HORIZON = 3600.0


def _per_call_us(fn, repeat: int) -> float:
    fn()  # warm
    best = math.inf
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(repeat):
            fn()
        best = min(best, (time.perf_counter() - t0) / repeat)
    return best * 1e6


# ----------------------------------------------------------------------------- 1. ladders


def bench_ladder(quick: bool) -> list[tuple[str, float, str]]:
    floors = [SPOT - 100 * N / 2 + 100 * i for i in range(N)]
    caps = [f + 99.99 for f in floors]
    types = ["between"] * N
    lo, hi, valid = ladder_bounds(types, floors, caps)
    reps = 200 if quick else 2000

    def fast() -> np.ndarray:
        return prob_between(lo, hi, SPOT, SIGMA, HORIZON, valid=valid)

    def parsed() -> np.ndarray:
        return prob_yes_ladder(types, floors, caps, SPOT, SIGMA, HORIZON)

    def scalar() -> list[float | None]:
        return [prob_yes("between", f, c, SPOT, SIGMA, HORIZON) for f, c in zip(floors, caps, strict=True)]

    v = SIGMA * SIGMA * (HORIZON - 40.0) / YEAR_S
    sd = math.sqrt(v)

    def baseline() -> list[float]:
        out = []
        for f, c in zip(floors, caps, strict=True):
            g_lo = norm.cdf((math.log(SPOT / f) - v / 2) / sd)
            g_hi = norm.cdf((math.log(SPOT / c) - v / 2) / sd)
            out.append(g_lo - g_hi)
        return out

    assert np.allclose(fast(), baseline(), atol=1e-12) and np.allclose(fast(), parsed())
    base = _per_call_us(baseline, max(5, reps // 50))
    rows = [
        ("baseline: norm.cdf loop (400 scalar calls)", base, "1.0x"),
        ("prob_yes scalar loop (200 calls)", _per_call_us(scalar, max(10, reps // 10)), ""),
        ("prob_yes_ladder (bounds parsed each call)", _per_call_us(parsed, reps // 5), ""),
        ("prob_between, bounds prepared once (fast path)", _per_call_us(fast, reps), ""),
    ]
    return [(name, us, speed or f"{base / us:.0f}x") for name, us, speed in rows]


# ----------------------------------------------------------------------------- 2. markets

T0 = 1_780_000_000.0


def make_markets() -> list[MarketInfo]:
    """200 markets: 4 KXBTCD-style events of 50 'greater' strikes, $100 apart."""
    out = []
    for ev in range(4):
        close = T0 + 3600.0 * (ev + 1)
        for i in range(N // 4):
            k = SPOT - 2500 + 100 * i - 0.01
            out.append(
                MarketInfo(
                    ticker=f"KXBTCD-E{ev}-T{k:.2f}",
                    event_ticker=f"KXBTCD-E{ev}",
                    series_ticker="KXBTCD",
                    status="active",
                    strike_type="greater",
                    floor_strike=k,
                    close_ts=close,
                    fee_multiplier=Decimal(1),
                    updated_ts=T0,
                )
            )
    return out


def _close(m: MarketInfo) -> float:
    if m.close_ts is None:
        raise ValueError(f"{m.ticker}: bench markets need a close time")
    return m.close_ts


def fair_quote(m: MarketInfo, spot: float, now: float, rng: random.Random, mono: float = 0.0) -> Quote:
    p = prob_yes("greater", m.floor_strike, None, spot, SIGMA, _close(m) - now) or 0.5
    mid = min(0.97, max(0.03, p + rng.uniform(-0.06, 0.06)))
    bid = Decimal(math.floor(mid * 100) - 1) / 100
    ask = bid + Decimal("0.02")
    bid, ask = max(bid, Decimal("0.01")), min(ask, Decimal("0.99"))
    return Quote(
        ts=now,
        ticker=m.ticker,
        yes_bid=bid,
        yes_ask=ask,
        yes_bid_size=Decimal(200),
        yes_ask_size=Decimal(200),
        recv_ts=now,
        mono=mono,
    )


def index_update(now: float, spot: float, mono: float = 0.0) -> IndexUpdate:
    return IndexUpdate(
        ts=now,
        price=spot,
        n_sources=3,
        sources=("binance", "coinbase", "kraken"),
        stale=False,
        avg_60s=spot,
        sigma=SIGMA,
        sigma_source="ewma",
        mono=mono,
    )


def bench_compute(quick: bool) -> list[tuple[str, float, float, float]]:
    rng = random.Random(1)
    markets = make_markets()
    pcfg = PricerConfig()
    gates = GateConfig(pass_repeat_s=0, max_edge_age_s=1e9, max_index_age_s=1e9)
    pricers = [PricerCore(m, pcfg) for m in markets]
    dec = DecisionCore(gates, SizingConfig(), RiskConfig(), pcfg)
    dec.book.on_portfolio(PortfolioState(ts=T0, mode="shadow", balance=Decimal(10_000), exposure=Decimal(0)), T0)
    now = T0
    for p in pricers:
        p.on_index(index_update(now, SPOT))
        p.on_quote(fair_quote(p.market, SPOT, now, rng))
    updates = 2_000 if quick else 20_000

    lat = []
    spot = SPOT
    for i in range(updates):
        now += 0.005
        if i % 200 == 0:  # one index update per second of 200 quote updates/s
            spot *= math.exp(rng.gauss(0, 0.0002))
            for p in pricers:
                p.on_index(index_update(now, spot))
        p = pricers[rng.randrange(N)]
        q = fair_quote(p.market, spot, now, rng)
        t0 = time.perf_counter_ns()
        p.on_quote(q)
        to_decision, _ = p.route(p.edge(now))
        if to_decision is not None:
            dec.step(to_decision, now)
        lat.append((time.perf_counter_ns() - t0) / 1000)

    naive = []
    for _ in range(max(20, updates // 200)):
        now += 0.005
        t0 = time.perf_counter_ns()
        for p in pricers:
            e = p.edge(now)
            dec.step(e, now)
        naive.append((time.perf_counter_ns() - t0) / 1000)
    return [
        ("baseline: re-price + re-decide all 200 markets", statistics.median(naive), percentile(naive, 0.99), max(naive)),
        ("per-market core: quote -> edge -> decision", statistics.median(lat), percentile(lat, 0.99), max(lat)),
    ]


class LatencyOutbox:
    """Injection -> Decision latency (``mono`` is the perf_counter of the causing input),
    split by cause: a quote for one market, or a spot index update fanned out to all."""

    def __init__(self) -> None:
        self.quote_us: list[float] = []
        self.index_us: list[float] = []
        self.index_monos: set[float] = set()
        self.decisions = 0

    async def send(self, msg: object) -> None:
        self.send_nowait(msg)

    def send_nowait(self, msg: object) -> None:
        if isinstance(msg, Decision):
            self.decisions += 1
            if msg.mono > 0:
                lat = (time.perf_counter() - msg.mono) * 1e6
                (self.index_us if msg.mono in self.index_monos else self.quote_us).append(lat)


class Discard:
    async def send(self, msg: object) -> None:
        pass

    def send_nowait(self, msg: object) -> None:
        pass


async def _actor_run(seconds: float, quote_rate: float) -> LatencyOutbox:
    clock = WallClock()
    rng = random.Random(2)
    now = clock.now()
    markets = [attrs.evolve(m, close_ts=now + (_close(m) - T0), updated_ts=now) for m in make_markets()]
    pcfg = PricerConfig(idle_reprice_s=1.0)
    gates = GateConfig(pass_repeat_s=0)
    dec_inbox = LatestMailbox(decision_inbox_key)
    out = LatencyOutbox()
    boxes = {m.ticker: LatestMailbox(pricer_inbox_key) for m in markets}
    async with trio.open_nursery() as n:
        await n.start(
            partial(
                run_decision,
                dec_inbox,
                out,
                clock=clock,
                gates=gates,
                pricer=pcfg,
                store=MemoryStateStore(),
                risk=RiskConfig(kill_file="/nonexistent/kbot-bench-KILL", kill_poll_s=3600),
                io=inline,
            )
        )
        for m in markets:
            n.start_soon(partial(run_pricer, m, boxes[m.ticker], dec_inbox, Discard(), clock=clock, config=pcfg))
        dec_inbox.send_nowait(PortfolioState(ts=now, mode="shadow", balance=Decimal(10_000), exposure=Decimal(0)))
        spot = SPOT
        for m in markets:
            boxes[m.ticker].send_nowait(index_update(now, spot))
            boxes[m.ticker].send_nowait(fair_quote(m, spot, now, rng))
        await trio.sleep(0.5)
        out.quote_us.clear()
        out.index_us.clear()
        end = time.perf_counter() + seconds
        next_index = time.perf_counter() + 1.0
        interval = 1.0 / quote_rate
        while time.perf_counter() < end:
            if time.perf_counter() >= next_index:
                next_index += 1.0
                spot *= math.exp(rng.gauss(0, 0.0002))
                u = index_update(clock.now(), spot, mono=time.perf_counter())
                out.index_monos.add(u.mono)
                for box in boxes.values():
                    box.send_nowait(u)
            m = markets[rng.randrange(N)]
            boxes[m.ticker].send_nowait(fair_quote(m, spot, clock.now(), rng, mono=time.perf_counter()))
            await trio.sleep(interval)
        await trio.sleep(0.2)
        n.cancel_scope.cancel()
    return out


def bench_actors(quick: bool, quote_rate: float = 200.0) -> tuple[list[tuple[str, float, float, float]], int]:
    out = trio.run(_actor_run, 2.0 if quick else 8.0, quote_rate)
    rows = [(f"actors: quote -> Decision ({quote_rate:.0f} quotes/s)", *_summary(out.quote_us))]
    if out.index_us:
        rows.append(("actors: index fan-out -> each of 200 Decisions", *_summary(out.index_us)))
    return rows, out.decisions


def _summary(xs: list[float]) -> tuple[float, float, float]:
    if not xs:
        return math.nan, math.nan, math.nan
    return statistics.median(xs), percentile(xs, 0.99), max(xs)


def rows(quick: bool) -> list[Row]:
    """Sections 1 and 2 printed as before; the suite's rows: the fast ladder path vs the
    ``norm.cdf`` loop, and the per-update pricer+decision core vs re-pricing everything."""
    # The decision tape goes to a file in production: format it, write it to /dev/null.
    logger.remove()
    logger.add(os.devnull, filter=lambda r: r["extra"].get("event") == "tape", format="{time} {message}")
    print("4. pricing")
    print("   200-strike ladder probabilities, per call (target <= 50 us)")
    print(f"   {'method':<50} {'us/call':>10} {'speed-up':>9}")
    ladder = bench_ladder(quick)
    for name, us, speed in ladder:
        print(f"   {name:<50} {us:>10.1f} {speed:>9}")
    print(f"   pricer+decision path per update at {N} markets (target p99 <= 1000 us)")
    print(f"   {'path':<50} {'p50 us':>9} {'p99 us':>9} {'max us':>9}")
    compute = bench_compute(quick)
    for name, p50, p99, mx in compute:
        print(f"   {name:<50} {p50:>9.1f} {p99:>9.1f} {mx:>9.1f}", flush=True)
    actors, decisions = bench_actors(quick)
    for name, p50, p99, mx in actors:
        print(f"   {name:<50} {p50:>9.1f} {p99:>9.1f} {mx:>9.1f}")
    print(f"   ({decisions} decisions emitted by the actor run)")
    base = ladder[0][1]
    fast = ladder[-1][1]
    naive, core = compute
    return [
        Row(bench="pricing", what="200-strike ladder probabilities", workload="prob_between, bounds prepared",
            kbot=fast, baseline=base, unit="us/call", better="lower", baseline_what="norm.cdf loop", target=50.0),
        Row(bench="pricing", what="pricer+decision core per update, p50", workload=f"{N} markets, 200 quotes/s",
            kbot=core[1], baseline=naive[1], unit="us", better="lower", baseline_what="re-price+decide all"),
        Row(bench="pricing", what="pricer+decision core per update, p99", workload=f"{N} markets, 200 quotes/s",
            kbot=core[2], baseline=naive[2], unit="us", better="lower", baseline_what="re-price+decide all",
            target=1000.0),
    ]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.pricing", description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer iterations (CI smoke run)")
    args = ap.parse_args(argv)
    run_alone("pricing", rows, args.quick)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
