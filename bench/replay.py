"""5. Replay-style throughput: a recorded session through the real tree on a virtual clock.

    python -m bench.replay [--quick] [--sim-minutes M]

The recording: what kbot's feeds hand to the tree (the ``FeedRouter``) during a session of the
simulated venue, made without sockets from the venue's pure core: the ``kbot.sim`` exchange
(default market set, ~180 markets, market makers and takers, lifecycle, BRTI), its Kalshi
WebSocket session feeding kbot's own ``KalshiWsSession`` (parsing, sequence checks, local books
-> ``Quote``/``Trade``/``MarketLifecycle``/``SpotTick(brti)``/...), REST discovery once a minute
(``parse_market`` on the sim's JSON -> ``MarketInfo``), and the three simulated exchanges'
ticks (``SpotTick``). Each event carries the sim time it was received at. Made once per run
(deterministic per seed) and kept in memory.

kbot: the tree of ``kbot run`` (``bench.tree.running_tree``) under Trio's ``MockClock`` with
``autojump_threshold=0`` and kbot's ``ScaledClock`` on top: a feeds child sends each event when
the virtual clock reaches its time; whenever every task is idle the clock jumps to the next event.
So timers (index grid, idle re-prices, health, the registry's ticks) fire at their virtual times
and the replay runs as fast as the CPU allows, recorder included (it writes on the Trio thread
here, so a write takes no virtual time; its inbox is lossless: when SQLite falls behind, the
replay waits). Figure: events/s, wall clock, until everything replayed is recorded.

Baseline, same run: the same replay driver and virtual clock with the events discarded instead
of routed (the floor of the harness). Target >= 100,000 events/s (for scale, QuantConnect LEAN
calls a backtest below 40,000 data points/s slow).
"""

from __future__ import annotations

import json
import tempfile
import time
from collections import Counter
from typing import Any

import trio
import trio.testing

from bench.suite import Row, main_alone
from bench.tree import running_tree
from kbot.actorkit import BadInputLog
from kbot.clock import ScaledClock
from kbot.messages import FeedStatus, SpotTick
from supervision import ChildSpec, Restart

T0 = 1_790_002_800.0  # 2026-09-21 14:20 UTC: a recording starts at a fixed, reproducible time


# ----------------------------------------------------------------------------- recording


async def _record(sim_seconds: int, seed: int, data_dir: str, sim_overrides: dict[str, Any]) -> list[tuple[float, Any]]:
    from kbot.sim import kalshi_json
    from kbot.sim.config import SimConfig
    from kbot.sim.market import INITIALIZED
    from kbot.sim.spot import FEEDS, SpotModel
    from kbot.sim.venue import SimVenue
    from kbot.sim.ws_kalshi import KalshiSession
    from kbot.venues.config import KalshiWsConfig
    from kbot.venues.kalshi.rest_parse import parse_market
    from kbot.venues.kalshi.ws_session import KalshiWsSession

    cfg = SimConfig(seed=seed, data_dir=data_dir, demo_key=False, rate_limits=False, ws_queue=10**7,
                    start_epoch=T0, **sim_overrides)
    clock = ScaledClock(epoch0=T0, speed=1.0)
    venue = SimVenue(cfg, clock)
    ex = venue.exchange
    sim = KalshiSession(venue, "bench-recorder", cfg.ws_queue)
    venue.hub.sessions.add(sim)
    client = KalshiWsSession(KalshiWsConfig(), bad=BadInputLog("replay-recorder"))
    spots = {name: SpotModel(spec, ex.path, seed + k) for k, (name, spec) in enumerate(FEEDS.items())}
    out: list[tuple[float, Any]] = []
    watched: set[str] = set()

    def pump(t: float) -> None:
        while True:
            msgs, cmds, _ = client.drain()
            out.extend((t, m) for m in msgs if not isinstance(m, FeedStatus))
            for c in cmds:
                sim.handle_text(json.dumps(c))
            frames = []
            while sim.control:
                frames.append(sim.control.popleft())
            while True:
                try:
                    frames.append(sim.receive.receive_nowait())
                except trio.WouldBlock:
                    break
            for f in frames:
                client.on_text(f, t, t)
            if not cmds and not frames:
                return

    client.on_connected(T0, T0)
    for s in range(1, sim_seconds + 1):
        t = T0 + s
        ex.advance(t)
        live = {tk for tk, m in ex.markets.items() if m.status in (INITIALIZED, "active")}
        if live - watched:
            client.watch(sorted(live - watched), t, t)
        if watched - live:
            client.unwatch(sorted(watched - live), t, t)
        watched = live
        client.tick(t, t)
        pump(t)
        if s % 60 == 1:  # REST discovery, once a minute
            for m in ex.markets.values():
                out.append((t, parse_market(kalshi_json.market(ex, m), now=t, series_ticker=m.series_ticker).info))
        for name, model in spots.items():
            rate = FEEDS[name].rate_hz
            for k in range(int(rate)):
                ts = t + k / rate
                q = model.quote(ts)
                out.append((ts, SpotTick(source=name, ts=ts, price=q.last, bid=q.bid, ask=q.ask, recv_ts=ts)))
        await trio.lowlevel.checkpoint()
    out.sort(key=lambda e: e[0])  # stable: per-second order is kept
    return out


def record_session(sim_seconds: int, seed: int = 1, **sim_overrides: Any) -> list[tuple[float, Any]]:
    """``(receive time, message)`` for ``sim_seconds`` of the simulated venue (module docstring)."""
    with tempfile.TemporaryDirectory(prefix="kbot-bench-sim-") as d:
        return trio.run(_record, sim_seconds, seed, d, sim_overrides)


# ----------------------------------------------------------------------------- replay


async def replay_events(events: list[tuple[float, Any]], clock: ScaledClock, send: Any, done: trio.Event,
                        progress: list[int]) -> None:
    """Send each event when the clock reaches its time (the feeds child of a replay)."""
    for ts, msg in events:
        if ts > clock.now():
            await clock.sleep_until(ts)
        await send(msg)
        progress[0] += 1
    done.set()
    await trio.sleep_forever()


async def _replay_tree(events: list[tuple[float, Any]], log: bool) -> dict[str, Any]:
    clock = ScaledClock(epoch0=events[0][0] - 1.0, speed=1.0)
    done = trio.Event()
    progress = [0]
    holder: dict[str, Any] = {}

    async def feed() -> None:
        await replay_events(events, clock, holder["router"].send, done, progress)

    # console: errors only (health alerts about the network feeds a replay does not have are noise)
    async with running_tree(clock, feeds=[ChildSpec("replay", feed, restart=Restart.TEMPORARY)], log=log,
                            inline_writes=True, console_level="ERROR") as rt:
        holder["router"] = rt.tree.router
        wall0 = time.perf_counter()
        await done.wait()
        await rt.tree.recorder.flush()  # everything replayed is recorded
        wall = time.perf_counter() - wall0
        t = rt.tree
        stats: dict[str, Any] = {
            "wall": wall, "events": progress[0], "pricers_started": sum(1 for _ in t.pricers.supervisor.children()),
            "decisions": t.executor_in.stats().sent, "sim_s": events[-1][0] - events[0][0],
        }
    stats["written"] = t.recorder.stats.written
    stats["gave_up"] = rt.gave_up
    return stats


async def _replay_floor(events: list[tuple[float, Any]]) -> dict[str, Any]:
    clock = ScaledClock(epoch0=events[0][0] - 1.0, speed=1.0)
    done = trio.Event()
    progress = [0]

    async def discard(msg: Any) -> None:
        pass

    async with trio.open_nursery() as n:
        n.start_soon(replay_events, events, clock, discard, done, progress)
        wall0 = time.perf_counter()
        await done.wait()
        wall = time.perf_counter() - wall0
        n.cancel_scope.cancel()
    return {"wall": wall, "events": progress[0]}


def replay(events: list[tuple[float, Any]], *, log: bool = True) -> dict[str, Any]:
    return trio.run(_replay_tree, events, log, clock=trio.testing.MockClock(autojump_threshold=0))


def replay_floor(events: list[tuple[float, Any]]) -> dict[str, Any]:
    return trio.run(_replay_floor, events, clock=trio.testing.MockClock(autojump_threshold=0))


# ----------------------------------------------------------------------------- rows


def rows(quick: bool, sim_minutes: float | None = None) -> list[Row]:
    minutes = sim_minutes or (4.0 if quick else 30.0)
    print(f"5. replay: recording {minutes:g} simulated minutes of the simulated venue (default market set)...", flush=True)
    t0 = time.perf_counter()
    events = record_session(int(minutes * 60))
    kinds = Counter(type(m).__name__ for _, m in events)
    print(f"   {len(events):,} events in {time.perf_counter() - t0:.1f} s: "
          + ", ".join(f"{k} {v:,}" for k, v in kinds.most_common()), flush=True)
    k = replay(events)
    rate = k["events"] / k["wall"]
    print(f"   kbot: {rate:,.0f} events/s ({k['events']:,} events, {k['sim_s'] / 60:.0f} sim min in {k['wall']:.1f} s = "
          f"{k['sim_s'] / k['wall']:.0f}x real time; {k['pricers_started']} pricers at the end, {k['decisions']:,} "
          f"decisions, {k['written']:,} records written)", flush=True)
    f = replay_floor(events)
    floor = f["events"] / f["wall"]
    print(f"   floor (same driver, events discarded): {floor:,.0f} events/s", flush=True)
    return [Row(bench="replay", what="recorded session through the tree", workload=f"sim session, {minutes:g} sim min, "
                f"{len(events):,} events, virtual clock", kbot=rate, baseline=floor, unit="events/s",
                baseline_what="replay driver, events discarded", target=100_000)]


def main(argv: list[str] | None = None) -> int:
    return main_alone("replay", __doc__ or "", rows, argv, quick_help="a short session (4 simulated minutes)",
                      option=("--sim-minutes", float, "length of the recorded session (default 30, quick 4)"))


if __name__ == "__main__":
    raise SystemExit(main())
