"""2. Saturation throughput of the real tree, beside a bare Trio memory-channel chain.

    python -m bench.saturation [--quick] [--seconds S]

kbot: the tree of ``kbot run`` (``bench.tree.running_tree``, 200 markets) fed through
``tree.router`` by a producer that never waits for anything but backpressure: bursts of 256
inputs (book quotes with 6% spot ticks, the mix of bench.latency), a checkpoint between bursts.
So the rate is the highest the tree sustains: market data is conflated where it is designed to
be (pricer, index and ledger-mark mailboxes keep the newest per key), and everything on a
lossless edge (every quote and tick to the recorder, decisions to the executor, fills to the
ledger) is delivered, with the recorder's bounded inbox pushing back on the producer when
SQLite cannot keep up. Measured over the second half of the run (steady state: the recorder's
inbox has filled). Checked afterwards: every bounded mailbox stayed within its capacity, and
nothing was lost on a lossless edge (records sent to the recorder = written + rejected +
skipped by policy; decisions sent = decisions taken by the executor; fills = ledger inputs).

Baseline: a bare Trio memory-channel chain of the same number of hops as a quote's path to the
record (feed -> pricer -> decision -> recorder: 3 hops), each hop a task doing
``async for m in rx: await tx.send(m)``, buffers of 1,000: the floor of this design.
Target: >= 50,000 messages/s.
"""

from __future__ import annotations

import random
import time
from typing import Any

import trio

from bench.suite import Row, main_alone
from bench.tree import SOURCES, Workload, mailbox_report, make_markets, open_markets, running_tree
from kbot.clock import WallClock
from kbot.messages import Quote, SpotTick

N_MARKETS = 200
HOPS = 3
BURST = 1000  # what the feeds hand on per scheduler pass at most (kbot.venues.wslink: batch=1000)
TARGET = 50_000.0


class FastStream:
    """Pre-built book states per market (from ``Workload``), turned into fresh ``Quote``s with
    the current time at ~2 us each, so the producer is not what limits the rate."""

    def __init__(self, wl: Workload, states: int = 32, seed: int = 5) -> None:
        self.rng = random.Random(seed)
        self.clock = wl.clock
        self.wl = wl
        self.per = states
        self.states: list[list[tuple[Any, ...]]] = []
        for i in range(len(wl.markets)):
            per = []
            for _ in range(states):
                q = wl.quote(i)
                per.append((q.ticker, q.yes_bid, q.yes_ask, q.no_bid, q.no_ask, q.yes_bid_size, q.yes_ask_size,
                            q.yes_asks, q.no_asks))
            self.states.append(per)
        self.n = 0

    def quote(self) -> Quote:
        rng = self.rng
        t, yb, ya, nb, na, ybs, yas, yasks, nasks = self.states[rng.randrange(len(self.states))][rng.randrange(self.per)]
        now = self.clock.now()
        return Quote(ts=now, ticker=t, yes_bid=yb, yes_ask=ya, no_bid=nb, no_ask=na, yes_bid_size=ybs,
                     yes_ask_size=yas, yes_asks=yasks, no_asks=nasks, recv_ts=now, mono=time.perf_counter())

    def tick(self) -> SpotTick:
        self.n += 1
        return self.wl.spot_tick(SOURCES[self.n % 3])


async def tree_run(seconds: float) -> dict[str, Any]:
    clock = WallClock()
    markets = make_markets(N_MARKETS, clock.now())
    async with running_tree(clock) as rt:
        t = rt.tree
        await open_markets(t, markets)
        stream = FastStream(Workload(markets, clock, seed=21))
        send = t.router.send
        sent = 0
        half = seconds / 2.0
        t0 = time.perf_counter()
        mark: tuple[float, int] | None = None
        cpu0 = time.process_time()
        while True:
            now = time.perf_counter()
            if now - t0 >= seconds:
                break
            if mark is None and now - t0 >= half:
                mark = (now, sent)
                cpu0 = time.process_time()
            for k in range(BURST):
                await send(stream.tick() if k % 16 == 0 else stream.quote())
            sent += BURST
            await trio.lowlevel.checkpoint()
        end = time.perf_counter()
        assert mark is not None
        rate = (sent - mark[1]) / (end - mark[0])
        cpu = (time.process_time() - cpu0) / (end - mark[0])
        boxes = mailbox_report(t)
    # the tree has stopped and settled (running_tree): now count what went where
    rec = t.recorder
    st = rec.inbox.stats()
    flushes = 1  # settle_after_stop's
    accounted = rec.stats.written + rec.stats.rejected + rec.stats.skipped
    lost_record = st.sent - flushes - accounted - st.depth
    ex, led = t.executor_in.stats(), t.ledger_in.stats()
    return {
        "sent": sent, "rate": rate, "cpu": cpu, "boxes": boxes, "lost_record": lost_record,
        "recorded": accounted, "decisions": ex.sent, "executor_left": ex.sent - ex.received,
        "ledger_left": led.sent - led.received, "gave_up": rt.gave_up,
    }


async def chain_run(seconds: float, hops: int = HOPS, buffer: int = 1000) -> float:
    counted = 0

    async def forward(rx: trio.MemoryReceiveChannel, tx: trio.MemorySendChannel) -> None:
        async with rx, tx:
            async for m in rx:
                await tx.send(m)

    async def sink(rx: trio.MemoryReceiveChannel) -> None:
        nonlocal counted
        async for _ in rx:
            counted += 1

    msg = object()
    async with trio.open_nursery() as n:
        tx0, rx = trio.open_memory_channel[object](buffer)
        for _ in range(hops - 1):
            tx, rx_next = trio.open_memory_channel[object](buffer)
            n.start_soon(forward, rx, tx)
            rx = rx_next
        n.start_soon(sink, rx)
        t0 = time.perf_counter()
        half = t0 + seconds / 2.0
        mark: tuple[float, int] | None = None
        while True:
            now = time.perf_counter()
            if now - t0 >= seconds:
                break
            if mark is None and now >= half:
                mark = (now, counted)
            for _ in range(BURST):
                await tx0.send(msg)
        end = time.perf_counter()
        n.cancel_scope.cancel()
    assert mark is not None
    return (counted - mark[1]) / (end - mark[0])


def rows(quick: bool, seconds: float | None = None) -> list[Row]:
    secs = seconds or (12.0 if quick else 60.0)
    print(f"2. saturation: real tree, {N_MARKETS} markets, closed-loop producer, {secs:g} s "
          "(rate over the second half)", flush=True)
    k = trio.run(tree_run, secs)
    ok = (k["lost_record"] == 0 and k["executor_left"] == 0 and k["ledger_left"] == 0 and k["boxes"]["bounded_ok"]
          and k["gave_up"] is None)
    print(f"   kbot: {k['rate']:,.0f} inputs/s ({k['sent']:,} sent, CPU {k['cpu']:.0%}), {k['recorded']:,} records "
          f"written, {k['decisions']:,} decisions; lost on lossless edges: recorder {k['lost_record']}, executor "
          f"{k['executor_left']}, ledger {k['ledger_left']}; bounded mailboxes within capacity: "
          f"{k['boxes']['bounded_ok']}; peaks {k['boxes']['peaks']}", flush=True)
    base = trio.run(chain_run, min(secs, 10.0))
    print(f"   bare {HOPS}-hop memory-channel chain: {base:,.0f} msgs/s", flush=True)
    note = "zero loss, bounded" if ok else "LOSS OR UNBOUNDED: see the print-out"
    return [Row(bench="saturation", what="sustained input rate", workload=f"{N_MARKETS} mkts, quotes + 6% ticks, "
                f"{secs:g}s, {note}", kbot=k["rate"], baseline=base, unit="msg/s", better="higher",
                baseline_what=f"bare {HOPS}-hop trio channel chain", target=TARGET)]


def main(argv: list[str] | None = None) -> int:
    return main_alone("saturation", __doc__ or "", rows, argv, quick_help="a short run",
                      option=("--seconds", float, "run length (default 60, quick 12)"))


if __name__ == "__main__":
    raise SystemExit(main())
