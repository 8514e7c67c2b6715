"""8. Real recorded KXBTC15M sessions (../shared/data/organics_kxbtc15m) replayed through the tree.

    python -m bench.replay_real [--quick]

The sessions with recorded order-book deltas (SOURCE.md: one in this copy's quick run, all of
them otherwise) are imported once (``kbot.replay.organics``) into memory; then, in the same run:

- kbot: ``kbot.replay.engine.run_replay`` of those events through the whole tree of ``kbot run``
  (Kalshi WS session, spot index, registry, pricers, decision, executor with book fills, ledger,
  recorder writing everything, scorer, health) on the virtual clock;
- floor: the same replay driver and virtual clock with every event discarded (no handler).

Figure: events/s of each, and the multiple of real time the whole-tree replay achieves. Target
(issue 14): the tree at >= 0.3x its floor. Skipped when ../shared/data is absent.
"""

from __future__ import annotations

import functools
import tempfile
import time
from pathlib import Path
from typing import Any

import attrs
import trio
import trio.testing

from bench.suite import Row, main_alone

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "organics_kxbtc15m"
QUICK = ["rv600_next_evidence_shadow_20260513T215130Z"]
FULL = ["rv600_next_evidence_shadow_20260513T215130Z", "rv600_next_evidence_shadow_20260513T230108Z",
        "particle_shadow_spotmerge_oos_20260511T121730Z"]


class _Null:
    async def send(self, msg: Any) -> None:
        pass

    def send_nowait(self, msg: Any) -> None:
        pass


async def _floor(events: list[Any]) -> float:
    from kbot.clock import ScaledClock
    from kbot.replay.driver import Progress, drive

    clock = ScaledClock(epoch0=events[0].t, speed=1.0)
    done = trio.Event()
    async with trio.open_nursery() as n:
        t0 = time.perf_counter()
        n.start_soon(functools.partial(drive, iter(events), clock, _Null(), kalshi=None, spot=None, rest=None,
                                       progress=Progress(), done=done))
        await done.wait()
        wall = time.perf_counter() - t0
        n.cancel_scope.cancel()
    return wall


def rows(quick: bool, _value: Any = None) -> list[Row]:
    if not DATA.exists():
        print(f"   {DATA} absent: skipped")
        return []
    from loguru import logger

    from kbot.config import load_config
    from kbot.replay.engine import run_replay
    from kbot.replay.organics import organics

    sessions = QUICK if quick else FULL
    print(f"8. replay_real: importing {len(sessions)} organics session(s) with deltas ...", flush=True)
    src = organics([DATA], sessions=sessions)
    events = list(src.events())
    span = events[-1].t - events[0].t
    floor = min(trio.run(_floor, events, clock=trio.testing.MockClock(autojump_threshold=0)) for _ in range(2))
    src = attrs.evolve(src, events=lambda: iter(events))
    logger.remove()
    with tempfile.TemporaryDirectory(prefix="kbot-bench-replay-") as d:
        cfg = load_config(None, environ={}, dotenv=None)
        r = run_replay(src, cfg, db_url=f"sqlite:///{Path(d) / 'replay.sqlite'}")
    rate, frate = r.events / r.wall_s, len(events) / floor
    print(f"   {len(events):,} events ({span / 60:.0f} min of market time): kbot {rate:,.0f} events/s "
          f"({r.wall_s:.1f} s, {span / r.wall_s:.0f}x real time; {r.decisions:,} decisions, {r.takes} TAKEs), "
          f"floor {frate:,.0f} events/s ({floor:.1f} s); ratio {rate / frate:.2f}", flush=True)
    return [Row(bench="replay_real", what="real KXBTC15M sessions through the tree",
                workload=f"organics, {len(sessions)} session(s) with deltas, {len(events):,} events, virtual clock",
                kbot=rate, baseline=frate, unit="events/s", baseline_what="replay driver, events discarded",
                target=0.3 * frate, note=f"{span / r.wall_s:.0f}x real time")]


def main(argv: list[str] | None = None) -> int:
    return main_alone("replay_real", __doc__ or "", rows, argv, quick_help="one session (15 market minutes)")


if __name__ == "__main__":
    raise SystemExit(main())
