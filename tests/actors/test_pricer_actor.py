"""Pricer actor: conflating inbox, edges to the decision outbox, throttled snapshots to the
record outbox, stale inputs, window observation, closing, bad input."""

from __future__ import annotations

from decimal import Decimal as D
from functools import partial

import pytest
import trio

from actors.pricer import PricerCore, pricer_inbox_key, run_pricer
from kbot.actorkit import ActorStats, Collect
from kbot.clock import ScaledClock
from kbot.messages import Edge
from kbot.model import prob_yes
from kbot.model.config import PricerConfig
from supervision import LatestMailbox
from tests.model.factories import T0, gbm_state, index, market, quote

TICKER = "KXBTCD-26MAY2817-T80249.99"


def test_inbox_key_conflates_per_kind_and_quote_source():
    box = LatestMailbox(pricer_inbox_key)
    box.send_nowait(index(price=1.0))
    box.send_nowait(index(price=2.0))
    box.send_nowait(quote(source="book"))
    box.send_nowait(quote(source="rest"))
    box.send_nowait(market())
    assert len(box) == 4 and box.receive_nowait().price == 2.0


async def test_edges_snapshots_and_staleness(autojump_clock):
    clock = ScaledClock(epoch0=T0)
    inbox = LatestMailbox(pricer_inbox_key)
    edges, record = Collect(), Collect()
    stats = ActorStats("p")
    cfg = PricerConfig(snapshot_interval_s=10, idle_reprice_s=1.0, max_emit_interval_s=5.0)
    async with trio.open_nursery() as n:
        n.start_soon(partial(run_pricer, market(), inbox, edges, record, clock=clock, config=cfg, stats=stats,
                             model=gbm_state()))
        await clock.sleep(0.01)
        inbox.send_nowait(index(ts=clock.now()))
        inbox.send_nowait(quote(ts=clock.now()))
        await clock.sleep(0.5)
        # quote goes stale (a sequence gap in the book)
        inbox.send_nowait(quote(ts=clock.now(), stale=True))
        await clock.sleep(0.5)
        # a fresh ticker-channel quote is used over the stale book one
        inbox.send_nowait(quote(ts=clock.now(), source="ticker", yes_ask="0.43"))
        inbox.send_nowait(quote(ts=clock.now(), ticker="OTHER"))
        inbox.send_nowait("junk")
        await clock.sleep(0.5)
        n.cancel_scope.cancel()
    es = edges.of(Edge)
    first = next(e for e in es if e.quote_ts is not None and e.index_ts is not None)
    assert first.reasons == () and first.prob_yes == pytest.approx(
        prob_yes("greater", 80_249.99, None, 80_000.0, 0.5, first.horizon_s)
    )
    assert any("stale_quote" in e.reasons for e in es)
    assert es[-1].reasons == () and es[-1].yes_ask == D("0.43")
    # snapshots: first edge, each reason change; all flagged
    assert record.items and all(e.snapshot for e in record.items)
    assert {e.reasons for e in record.items} >= {("stale_quote",), ()}
    assert stats.msgs_in == 6


async def test_idle_reprice_ages_inputs_and_close_sends_one_final_edge(autojump_clock):
    clock = ScaledClock(epoch0=T0)
    inbox = LatestMailbox(pricer_inbox_key)
    edges, record = Collect(), Collect()
    m = market(close_ts=T0 + 20.0)
    async with trio.open_nursery() as n:
        n.start_soon(partial(run_pricer, m, inbox, edges, record, clock=clock, model=gbm_state()))
        inbox.send_nowait(index(ts=clock.now()))
        inbox.send_nowait(quote(ts=clock.now()))
        await clock.sleep(60)
        n.cancel_scope.cancel()
    es = edges.of(Edge)
    # no more index updates: after 5 s the spot is stale, without any new input
    assert any("stale_spot" in e.reasons and e.ts < T0 + 10 for e in es)
    closed = [e for e in es if "closed" in e.reasons]
    assert len(closed) == 1 and closed[0] is es[-1]
    assert sum("closed" in e.reasons for e in record.items) == 1


async def test_final_window_observed_from_index_updates(autojump_clock):
    clock = ScaledClock(epoch0=T0)
    inbox = LatestMailbox(pricer_inbox_key)
    edges, record = Collect(), Collect()
    m = market(close_ts=T0 + 90.0, floor_strike=80_000.0)

    async def spot() -> None:
        for i in range(90):
            inbox.send_nowait(index(ts=clock.now(), price=80_100.0 + i))
            inbox.send_nowait(quote(ts=clock.now()))
            await clock.sleep(1.0)

    async with trio.open_nursery() as n:
        n.start_soon(partial(run_pricer, m, inbox, edges, record, clock=clock, model=gbm_state()))
        await spot()
        n.cancel_scope.cancel()
    inside = [e for e in edges.of(Edge) if e.horizon_s is not None and 0 < e.horizon_s < 60]
    assert inside
    assert all("window_unobserved" not in e.reasons for e in inside)
    late = inside[-1]
    assert late.observed_avg is not None and late.observed_s >= 45  # (0.999 from then on: nothing new to send)
    assert late.observed_avg == pytest.approx(80_100.0 + 30 + late.observed_s / 2, abs=2.0)
    assert late.prob_yes == pytest.approx(0.999) and late.prob_model > 0.999  # final: clipped at eps


async def test_restarted_inside_the_window_does_not_trade(autojump_clock):
    clock = ScaledClock(epoch0=T0)
    inbox = LatestMailbox(pricer_inbox_key)
    edges, record = Collect(), Collect()
    m = market(close_ts=T0 + 30.0)
    async with trio.open_nursery() as n:
        n.start_soon(partial(run_pricer, m, inbox, edges, record, clock=clock, model=gbm_state()))
        for _ in range(5):
            inbox.send_nowait(index(ts=clock.now()))
            inbox.send_nowait(quote(ts=clock.now()))
            await clock.sleep(1.0)
        n.cancel_scope.cancel()
    assert all("window_unobserved" in e.reasons for e in edges.of(Edge) if e.index_ts is not None)


def test_core_market_update_resets_the_window_and_ignores_old_info():
    core = PricerCore(market(), PricerConfig(), model=gbm_state())
    w = core.window
    assert not core.on_market(market(updated_ts=T0 - 10, status="closed"))
    assert core.on_market(market(updated_ts=T0 + 1, floor_strike=81_000.0))
    assert core.window is w and core.market.floor_strike == 81_000.0
    assert core.on_market(market(updated_ts=T0 + 2, close_ts=T0 + 7200))
    assert core.window is not w and core.window.close_ts == T0 + 7200
    assert core.on_index(index(ts=T0 + 5))
    assert not core.on_index(index(ts=T0 + 4))


async def test_a_send_to_a_full_outbox_waits_and_is_not_lost(autojump_clock):
    """Sends that cannot go now (a full lossless outbox) are made outside the idle-timeout scope:
    the pricer waits for room (backpressure) and the edge is delivered, not dropped or cancelled."""
    from supervision import Mailbox

    clock = ScaledClock(epoch0=T0)
    inbox = LatestMailbox(pricer_inbox_key)
    edges = Collect()
    record: Mailbox = Mailbox(1)
    record.send_nowait("occupied")  # full: the first snapshot must wait
    async with trio.open_nursery() as n:
        n.start_soon(partial(run_pricer, market(), inbox, edges, record, clock=clock, config=PricerConfig(), model=gbm_state()))
        inbox.send_nowait(index(ts=clock.now()))
        inbox.send_nowait(quote(ts=clock.now()))
        await clock.sleep(5.0)  # longer than the idle timeout: it must not cancel the waiting send
        sent = edges.of(Edge)
        assert len(sent) == 1 and len(record) == 1  # the decision got its edge; the snapshot waits
        assert record.receive_nowait() == "occupied"
        await clock.sleep(0.01)
        snap = record.receive_nowait()
        assert isinstance(snap, Edge) and snap.snapshot and snap.ts == sent[0].ts
        n.cancel_scope.cancel()
