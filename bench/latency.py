"""1. Tick-to-decision latency in the real actor tree, beside the seed design's polling loop.

    python -m bench.latency [--quick] [--seconds S]

kbot: the tree of ``kbot run`` (``bench.tree.running_tree``: recorder on a temporary SQLite
database, ledger, executor, decision, spot index, 200 pricers with the pricing board, market
registry, scorer, health, kbot run's log sinks) with inputs injected at the feed boundary
(``tree.router``, what the feeds call; no sockets): 200 open markets, 3 spot sources at 20 msg/s
each, 1,000 order-book quote updates/s. Each input's ``mono`` is ``time.perf_counter()`` when it
is injected; the tree's latency tap measures ``mono`` -> the moment the decision actor emits the
``Decision`` (``kbot.latency``: 1%-wide buckets). Default gates (a repeated identical PASS is
suppressed for 30 s, so most inputs rightly produce no decision; every decision that is emitted
is a sample). Targets: p50 <= 0.5 ms, p99 <= 5 ms.

Baseline, on the same seeded stream for the same time: the seed design. The venue's latest
quotes are polled every 5 s into SQLite (as a REST poll would), spot ticks are written to SQLite
as they come (once a second), and every 10 s edges are recomputed from the database for all
markets and a decision made for each. Its latency per input: injection -> the end of the first
recompute that read it (or newer data of the same market/source) from the database.
"""

from __future__ import annotations

import bisect
import math
import sqlite3
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import trio

from bench.suite import Row, main_alone
from bench.tree import SIGMA, SOURCES, Workload, mailbox_report, make_markets, open_markets, running_tree
from kbot.clock import WallClock
from kbot.fees import trade_fee
from kbot.latency import LatencyMeter
from kbot.model import prob_yes

N_MARKETS = 200
SPOT_RATE = 20.0  # per source
QUOTE_RATE = 1_000.0


async def inject(wl: Workload, seconds: float, send_quote, send_tick) -> int:
    """Send the stream for ``seconds`` at the planned rates (each message created when due)."""
    n = 0
    t0 = time.perf_counter()
    next_q = t0
    next_s = {src: t0 + k / (3 * SPOT_RATE) for k, src in enumerate(SOURCES)}
    dq, ds = 1.0 / QUOTE_RATE, 1.0 / SPOT_RATE
    end = t0 + seconds
    while True:
        now = time.perf_counter()
        if now >= end:
            return n
        while next_q <= now:
            await send_quote(wl.quote())
            next_q += dq
            n += 1
        for src, due in next_s.items():
            if due <= now:
                await send_tick(wl.spot_tick(src))
                next_s[src] = due + ds
                n += 1
        await trio.sleep(0.0005)


# ----------------------------------------------------------------------------- kbot


async def tree_run(seconds: float, warmup_s: float = 3.0) -> dict:
    clock = WallClock()
    markets = make_markets(N_MARKETS, clock.now())
    async with running_tree(clock) as rt:
        t = rt.tree
        await open_markets(t, markets)
        wl = Workload(markets, clock, seed=11)
        await inject(wl, warmup_s, t.router.send, t.router.send)
        t.latency_run.reset()
        cpu0, wall0 = time.process_time(), time.perf_counter()
        sent = await inject(wl, seconds, t.router.send, t.router.send)
        cpu = (time.process_time() - cpu0) / (time.perf_counter() - wall0)
        await trio.sleep(0.3)
        summary = t.latency_run.summary()
        boxes = mailbox_report(t)
        return {"summary": summary, "sent": sent, "cpu": cpu, "boxes": boxes, "gave_up": rt.gave_up}


# ----------------------------------------------------------------------------- baseline


class Polling:
    """The seed design: poll quotes every 5 s into SQLite, write spot ticks to SQLite once a
    second, recompute edges and decisions for every market from the database every 10 s.
    ``venue`` is what a REST poll would see (the latest quote per market).

    Latency per input (quote or spot tick): its injection -> the end of the first recompute that
    read a database state containing it (or newer data for the same market/source). Inputs
    that no recompute covered before the end of the run are left out (censored)."""

    def __init__(self, path: Path, markets: list) -> None:
        self.db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("CREATE TABLE quotes (ticker TEXT, ts REAL, yes_bid TEXT, yes_ask TEXT, no_bid TEXT, "
                        "no_ask TEXT, mono REAL)")
        self.db.execute("CREATE INDEX q_ticker ON quotes (ticker, ts)")
        self.db.execute("CREATE TABLE ticks (source TEXT, ts REAL, price REAL)")
        self.markets = {m.ticker: m for m in markets}
        self.venue: dict[str, object] = {}
        self.ticks: list[tuple] = []
        self.quote_monos: list[float] = []
        self.tick_monos: list[float] = []
        self.polls: list[float] = []  # when each poll snapshot was taken (perf_counter)
        self.writes: list[float] = []  # when each batch of spot ticks was taken
        self.recomputes: list[tuple[float, float, float]] = []  # (last poll read, last tick write read, done)
        self.decisions = 0

    async def send_quote(self, q) -> None:
        self.venue[q.ticker] = q
        self.quote_monos.append(q.mono)

    async def send_tick(self, t) -> None:
        self.ticks.append((t.source, t.ts, t.price))
        self.tick_monos.append(t.mono)

    def _poll(self, quotes: list) -> None:
        self.db.execute("BEGIN")
        self.db.executemany("INSERT INTO quotes VALUES (?,?,?,?,?,?,?)", [
            (q.ticker, q.ts, str(q.yes_bid), str(q.yes_ask), str(q.no_bid), str(q.no_ask), q.mono) for q in quotes])
        self.db.execute("COMMIT")

    def _store_ticks(self, ticks: list) -> None:
        self.db.execute("BEGIN")
        self.db.executemany("INSERT INTO ticks VALUES (?,?,?)", ticks)
        self.db.execute("COMMIT")

    def _recompute(self, now: float) -> int:
        spot = self.db.execute("SELECT price FROM ticks ORDER BY ts DESC LIMIT 1").fetchone()
        rows = self.db.execute(
            "SELECT q.ticker, q.yes_ask, q.no_ask FROM quotes q JOIN (SELECT ticker, MAX(ts) ts FROM quotes "
            "GROUP BY ticker) l ON q.ticker = l.ticker AND q.ts = l.ts").fetchall()
        n = 0
        for ticker, ya, na in rows:
            m = self.markets[ticker]
            p = prob_yes(m.strike_type, m.floor_strike, m.cap_strike, spot[0], SIGMA, m.close_ts - now) if spot else None
            if p is None:
                continue
            ya, na = Decimal(ya), Decimal(na)
            ev_yes = p - float(ya) - float(trade_fee(Decimal(1), ya))
            ev_no = (1 - p) - float(na) - float(trade_fee(Decimal(1), na))
            _take = max(ev_yes, ev_no) >= 0.02  # one TAKE/PASS per market and recompute
            n += 1
        return n

    async def poller(self) -> None:
        while True:
            await trio.sleep(5.0)
            t = time.perf_counter()
            await trio.to_thread.run_sync(self._poll, list(self.venue.values()))
            self.polls.append(t)

    async def tick_writer(self) -> None:
        while True:
            await trio.sleep(1.0)
            t = time.perf_counter()
            ticks, self.ticks = self.ticks, []
            if ticks:
                await trio.to_thread.run_sync(self._store_ticks, ticks)
                self.writes.append(t)

    async def recomputer(self, clock: WallClock) -> None:
        await trio.sleep(1.0)  # its own phase, independent of the poller's
        while True:
            await trio.sleep(10.0)
            poll = self.polls[-1] if self.polls else -math.inf
            write = self.writes[-1] if self.writes else -math.inf
            self.decisions += await trio.to_thread.run_sync(self._recompute, clock.now())
            self.recomputes.append((poll, write, time.perf_counter()))

    def latencies(self) -> LatencyMeter:
        meter = LatencyMeter()
        for monos, snaps, k in ((self.quote_monos, self.polls, 0), (self.tick_monos, self.writes, 1)):
            for mono in monos:
                i = bisect.bisect_left(snaps, mono)  # the first snapshot taken after it
                if i == len(snaps):
                    continue
                snap = snaps[i]
                done = next((r[2] for r in self.recomputes if r[k] >= snap), None)
                if done is not None:
                    meter.add(done - mono)
        return meter


async def polling_run(seconds: float) -> dict:
    clock = WallClock()
    markets = make_markets(N_MARKETS, clock.now())
    with tempfile.TemporaryDirectory(prefix="kbot-bench-") as d:
        base = Polling(Path(d) / "seed.sqlite", markets)
        wl = Workload(markets, clock, seed=11)
        async with trio.open_nursery() as n:
            n.start_soon(base.poller)
            n.start_soon(base.tick_writer)
            n.start_soon(base.recomputer, clock)
            sent = await inject(wl, seconds, base.send_quote, base.send_tick)
            n.cancel_scope.cancel()
        base.db.close()
    return {"summary": base.latencies().summary(), "sent": sent, "decisions": base.decisions}


# ----------------------------------------------------------------------------- rows


def rows(quick: bool, seconds: float | None = None) -> list[Row]:
    secs = seconds or (12.0 if quick else 60.0)
    base_secs = max(secs, 32.0)  # at least three 10 s recomputes
    print(f"1. tick -> decision: real tree, {N_MARKETS} markets, 3 x {SPOT_RATE:g} spot/s + {QUOTE_RATE:,.0f} quotes/s, "
          f"{secs:g} s (baseline {base_secs:g} s)", flush=True)
    k = trio.run(tree_run, secs)
    s = k["summary"]
    print(f"   kbot: {k['sent']:,} inputs, {s.n:,} decisions, CPU {k['cpu']:.0%} of one core, "
          f"p50 {s.p50_s * 1e3:.3f} ms p99 {s.p99_s * 1e3:.3f} ms p99.9 {s.p999_s * 1e3:.3f} ms max {s.max_s * 1e3:.2f} ms; "
          f"mailbox peaks {k['boxes']['peaks']}", flush=True)
    b = trio.run(polling_run, base_secs)
    bs = b["summary"]
    print(f"   polling baseline: {b['sent']:,} inputs ({bs.n:,} covered by a recompute), {b['decisions']:,} decisions, p50 {bs.p50_s:.2f} s p99 {bs.p99_s:.2f} s "
          f"max {bs.max_s:.2f} s", flush=True)
    wl = f"{N_MARKETS} mkts, 60 spot/s + 1k quotes/s, {secs:g}s, n={s.n:,}"
    base_what = "poll 5 s + recompute 10 s"
    out = []
    for label, kv, bv, target in (("p50", s.p50_s, bs.p50_s, 0.5), ("p99", s.p99_s, bs.p99_s, 5.0),
                                  ("p99.9", s.p999_s, bs.p999_s, None), ("max", s.max_s, bs.max_s, None)):
        out.append(Row(bench="latency", what=f"tick -> Decision {label}", workload=wl, kbot=kv * 1e3,
                       baseline=bv * 1e3, unit="ms", better="lower", baseline_what=base_what, target=target))
    return out


def main(argv: list[str] | None = None) -> int:
    return main_alone("latency", __doc__ or "", rows, argv, quick_help="a short run",
                      option=("--seconds", float, "measurement length (default 60, quick 12)"))


if __name__ == "__main__":
    raise SystemExit(main())
