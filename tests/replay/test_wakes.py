"""Wake marks (``kbot.wakes``): a recording says where each actor acted among its inputs, and a
replay makes the actor act exactly there (and nowhere else), at the live actor's clock."""

from __future__ import annotations

import gzip
import json
from functools import partial

import pytest
import trio

from actors.decision import run_decision
from actors.pricer import pricer_inbox_key, run_pricer
from actors.spot_index import run_spot_index, spot_tick_key
from kbot.actorkit import Collect
from kbot.clock import ScaledClock
from kbot.messages import Decision, Edge, IndexUpdate, SpotTick
from kbot.model.config import EvidenceConfig
from kbot.replay import format as fmt
from kbot.replay.engine import ReplayClock
from kbot.replay.sources import kbot_recording
from kbot.statestore import inline
from kbot.wakes import Wakes, take
from supervision import LatestMailbox, Mailbox
from tests.model.factories import T0, edge, gbm_state, index, market, portfolio, quote


async def test_deliver_counts_and_take_leaves_the_rest():
    w = Wakes()
    await w.deliver("decision", T0, "")  # not following: ignored
    assert w.counts.delivered == w.counts.unmatched == 0
    w.follow(frozenset(("pricer", "decision")))
    await w.deliver("decision", T0, "")
    await w.deliver("pricer:X", T0, "what", running=False)
    await w.deliver("ledger", T0, "3")  # not followed: ignored
    assert (w.counts.delivered, w.counts.unmatched) == (1, 1)
    assert w.box("ledger") is None and w.box("decision").receive_nowait() == (T0, "")
    box: Mailbox[int] = Mailbox(10)
    for i in range(5):
        box.send_nowait(i)
    assert take(box, "3") == [0, 1, 2] and take(box, "9") == [3, 4] and take(box, "1") == []
    box.send_nowait(5)
    assert take(box, "x") == [5]  # a damaged count: everything (counted as bad input)


def test_a_wake_record_round_trips_and_both_versions_are_read(tmp_path):
    line = fmt.encode(fmt.WAKE, T0 + 0.123, 4.5, "pricer", 0, "KX-T1", "1.0 2.0 book 3.0 a b")
    assert fmt.decode(line) == fmt.Rec("A", T0 + 0.123, 4.5, "pricer", 0, "KX-T1", "1.0 2.0 book 3.0 a b")
    for version, marks in ((1, False), (2, True)):
        d = tmp_path / f"v{version}"
        d.mkdir()
        head = json.dumps({"format": fmt.FORMAT, "version": version, "file_seq": 1, "run_id": "r", "speed": 1.0})
        with gzip.open(d / "rec-20261203T000000Z-r-0001.tsv.gz", "wt") as f:
            f.write(fmt.encode(fmt.HEADER, T0, 0.0, "recorder", 0, "", head))
            f.write(line)
        src = kbot_recording([d])
        assert src.marks is marks and [r.kind for r in src.events()] == ["A"]
    bad = fmt.decode(fmt.encode(fmt.HEADER, T0, 0.0, "recorder", 0, "", json.dumps({"format": fmt.FORMAT, "version": 3})))
    with pytest.raises(fmt.FormatError, match="version 3"):
        fmt.parse_header(bad)


async def test_the_replay_clock_reads_a_pinned_time_exactly_until_time_moves(autojump_clock):
    clock = ReplayClock(epoch0=T0, speed=15.0)
    await clock.sleep_until(T0 + 1.0000001)
    clock.pin(T0 + 1.0000001)
    assert clock.now() == T0 + 1.0000001
    await trio.sleep(0.1)
    assert clock.now() == pytest.approx(T0 + 2.5000001)


async def test_a_recording_pricer_announces_each_edge_it_builds_with_what_it_priced_on(autojump_clock):
    clock = ScaledClock(epoch0=T0)
    inbox = LatestMailbox(pricer_inbox_key)
    edges, record = Collect(), Collect()
    w = Wakes()
    marks: list[tuple[str, str, float, str]] = []
    w.announce = lambda *a: marks.append(a)
    async with trio.open_nursery() as n:
        n.start_soon(partial(run_pricer, market(), inbox, edges, record, clock=clock, model=gbm_state(), wakes=w))
        await clock.sleep(0.01)
        inbox.send_nowait(index(ts=clock.now()))
        inbox.send_nowait(quote(ts=clock.now()))
        await clock.sleep(3.0)
        n.cancel_scope.cancel()
    built = {e.ts for e in edges.of(Edge) + record.of(Edge)}
    assert marks and {m[2] for m in marks} >= built  # every edge sent was announced (and idle re-prices)
    assert all(m[0] == "pricer" and m[1] == market().ticker for m in marks)
    assert marks[-1][3].split()[2:4] == ["book", repr(quote(ts=T0 + 0.01).ts)]


async def test_a_pricer_following_marks_prices_there_only_at_the_marks_time(autojump_clock):
    clock = ReplayClock(epoch0=T0)
    inbox = LatestMailbox(pricer_inbox_key)
    edges, record = Collect(), Collect()
    w = Wakes()
    w.follow()
    m = market()
    async with trio.open_nursery() as n:
        n.start_soon(partial(run_pricer, m, inbox, edges, record, clock=clock, model=gbm_state(), wakes=w))
        await clock.sleep(0.01)
        inbox.send_nowait(index(ts=clock.now()))
        inbox.send_nowait(quote(ts=clock.now()))
        await clock.sleep(5.0)  # inputs and time pass: no edge of its own, no idle re-price
        assert edges.of(Edge) == [] and record.of(Edge) == []
        at = clock.now() + 0.0000003
        await w.deliver(f"pricer:{m.ticker}", at, "not what the live pricer held")
        await trio.testing.wait_all_tasks_blocked()
        n.cancel_scope.cancel()
    es = edges.of(Edge)
    assert len(es) == 1 and es[0].ts == at and es[0].quote_ts == T0 + 0.01
    assert w.counts.differed == 1  # what it priced on is compared with the live pricer's


async def test_spot_index_and_decision_following_marks_act_only_there(autojump_clock):
    clock = ReplayClock(epoch0=T0)
    w = Wakes()
    w.follow()
    spot_in, index_out = LatestMailbox(spot_tick_key), Collect()
    dec_in, dec_out = LatestMailbox(lambda m: getattr(m, "ticker", "portfolio")), Collect()
    async with trio.open_nursery() as n:
        await n.start(partial(run_spot_index, spot_in, index_out, clock=clock, io=inline, wakes=w))
        await n.start(partial(run_decision, dec_in, dec_out, clock=clock, io=inline, wakes=w,
                              evidence=EvidenceConfig(gate=False)))
        spot_in.send_nowait(SpotTick(source="coinbase", ts=T0, price=80_000.0, recv_ts=T0))
        dec_in.send_nowait(portfolio(ts=T0))
        dec_in.send_nowait(edge(ts=T0))
        await clock.sleep(3.0)  # grid points pass, an edge waits: nothing without a mark
        assert index_out.of(IndexUpdate) == [] and dec_out.of(Decision) == []
        for name in ("spot_index", "decision"):
            at = clock.now()
            clock.pin(at)
            await w.deliver(name, at, "")
            await trio.testing.wait_all_tasks_blocked()
        n.cancel_scope.cancel()
    (u,) = index_out.of(IndexUpdate)
    (d,) = dec_out.of(Decision)
    # decided at the mark (3 s after the edge arrived: stale by then), not when the edge came
    assert u.price == 80_000.0 and d.ts == at and "stale_edge" in d.reasons


def test_which_actors_follow_their_marks():
    """Shadow fills: every marked actor (the live run's own fills, where its executor made them);
    book fills: the executor and ledger run on their own (the fill model's latency); the maker
    replaces the decision actor, which is then not followed either."""
    import attrs

    from kbot.config import AppConfig
    from kbot.replay.engine import follow_kinds
    from kbot.wakes import ACTORS

    cfg = AppConfig()
    shadow = attrs.evolve(cfg, replay=attrs.evolve(cfg.replay, fills="shadow"))
    assert follow_kinds(shadow) == ACTORS
    assert follow_kinds(cfg) == {"pricer", "spot_index", "decision"}
    assert follow_kinds(attrs.evolve(cfg, maker=attrs.evolve(cfg.maker, enabled=True))) == {"pricer", "spot_index"}
