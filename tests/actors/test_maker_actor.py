"""Maker actor: edges in, quote targets out with a compact tape line; stale markets come down on
the sweep; the operator kill file stops quoting; the portfolio's positions skew the quotes."""

from __future__ import annotations

from decimal import Decimal as D
from functools import partial

import trio

from actors.decision import decision_inbox_key
from actors.maker import quote_line, run_maker
from kbot.actorkit import ActorStats, Collect
from kbot.clock import ScaledClock
from kbot.messages import PortfolioState, QuoteTarget
from kbot.statestore import inline
from kbot.strategy.maker import MakerCore, MakerSettings
from supervision import LatestMailbox
from tests.strategy.test_maker import edge

T0 = 9_000.0


async def start(nursery: trio.Nursery, tmp_path, **kw) -> tuple[LatestMailbox, Collect, ScaledClock, MakerCore]:
    clock = ScaledClock(epoch0=T0)
    inbox: LatestMailbox = LatestMailbox(decision_inbox_key)
    out = Collect()
    core = MakerCore(MakerSettings(enabled=True, stale_s=30.0, sweep_s=1.0, **kw))
    await nursery.start(partial(run_maker, inbox, out, clock=clock, core=core, stats=ActorStats("maker"),
                                kill_file=str(tmp_path / "KILL"), kill_poll_s=1.0, io=inline))
    return inbox, out, clock, core


def targets(out: Collect) -> list[QuoteTarget]:
    return [m for m in out.items if isinstance(m, QuoteTarget)]


async def test_edges_become_targets_and_the_tape_shows_each_change(autojump_clock, tmp_path, tape_lines):
    async with trio.open_nursery() as n:
        inbox, out, clock, _ = await start(n, tmp_path)
        inbox.send_nowait(edge(ts=clock.now(), prob=0.5))
        await clock.sleep(0.5)
        inbox.send_nowait(edge(ts=clock.now(), prob=0.502))  # inside the requote threshold: nothing new
        await clock.sleep(0.5)
        inbox.send_nowait(edge(ts=clock.now(), prob=0.56))
        await clock.sleep(0.5)
        n.cancel_scope.cancel()
    ts = targets(out)
    assert len(ts) == 2 and ts[1].yes_bid > ts[0].yes_bid  # type: ignore[operator]
    quotes = [line for line in tape_lines if line.startswith("QUOTE")]
    assert quotes == [quote_line(t) for t in ts]
    assert "fair=0.500" in quotes[0] and "inv=0" in quotes[0]


async def test_a_market_without_fresh_edges_is_taken_down_by_the_sweep(autojump_clock, tmp_path):
    async with trio.open_nursery() as n:
        inbox, out, clock, _ = await start(n, tmp_path)
        inbox.send_nowait(edge(ts=clock.now()))
        await clock.sleep(29.0)
        assert len(targets(out)) == 1
        await clock.sleep(3.0)
        n.cancel_scope.cancel()
    last = targets(out)[-1]
    assert not last.quoting and last.reasons == ("stale_inputs",)


async def test_kill_file_stops_quoting_and_positions_skew_the_quotes(autojump_clock, tmp_path, tape_lines):
    async with trio.open_nursery() as n:
        inbox, out, clock, _ = await start(n, tmp_path)
        inbox.send_nowait(edge(ts=clock.now(), prob=0.5))
        await clock.sleep(0.5)
        flat = targets(out)[-1]
        inbox.send_nowait(PortfolioState(ts=clock.now(), mode="paper", balance=D(0), exposure=D(0),
                                         positions=(("KXBTC15M-X", D(8)),)))
        inbox.send_nowait(edge(ts=clock.now(), prob=0.5))
        await clock.sleep(0.5)
        long = targets(out)[-1]
        assert long.inventory == D(8) and long.reservation < flat.reservation  # type: ignore[operator]
        (tmp_path / "KILL").write_text("stop now\n")
        await clock.sleep(2.5)
        n.cancel_scope.cancel()
    last = targets(out)[-1]
    assert not last.quoting and last.reasons == ("kill_switch",)
    assert any("KILL SWITCH" in line for line in tape_lines)
