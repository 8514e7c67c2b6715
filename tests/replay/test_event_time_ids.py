"""What makes a replay reproduce a live run: the spot index stamps updates with their event time,
decision ids come from the market data decided on (unique per market), and a batch of edges is
decided in a fixed order."""

from __future__ import annotations

from functools import partial

import attrs
import trio

from actors.decision import DecisionCore, _order
from actors.spot_index import run_spot_index, spot_tick_key
from kbot.actorkit import Collect
from kbot.clock import ScaledClock
from kbot.messages import IndexUpdate, SpotTick
from kbot.model.config import EvidenceConfig, GateConfig, PricerConfig, RiskConfig, SizingConfig
from kbot.model.risk import RiskBook
from supervision import LatestMailbox
from tests.model.factories import T0, edge, portfolio


async def test_index_updates_carry_the_ticks_receipt_not_the_processing_time(autojump_clock):
    clock = ScaledClock(epoch0=T0)
    inbox = LatestMailbox(spot_tick_key)
    out = Collect()
    async with trio.open_nursery() as n:
        await n.start(partial(run_spot_index, inbox, out, clock=clock))
        await clock.sleep(0.25)
        # two ticks received at T0+0.2/0.21 reach the actor only now (a busy loop), at T0+0.25
        for src, recv, px in (("coinbase", T0 + 0.2, 80_000.0), ("kraken", T0 + 0.21, 80_010.0)):
            inbox.send_nowait(SpotTick(source=src, ts=recv, price=px, recv_ts=recv))
        await clock.sleep(1.0)
        n.cancel_scope.cancel()
    ups = out.of(IndexUpdate)
    first = next(u for u in ups if not u.stale)
    assert first.ts == T0 + 0.21  # the newest tick it includes, not T0+0.25
    assert any(u.ts == T0 + 1.0 for u in ups)  # the grid point, exactly


def core() -> DecisionCore:
    # the evidence gate off: these tests are about ids and order, not about whether to trade
    return DecisionCore(GateConfig(max_vol_ratio=0.0), SizingConfig(), RiskConfig(), PricerConfig(),
                        EvidenceConfig(gate=False))


def test_decision_ids_follow_market_data_and_stay_unique():
    c = core()
    c.book.on_portfolio(portfolio(), T0)
    e = edge()
    d1, _ = c.step(e, T0 + 0.1)
    assert d1 is not None and d1.action == "TAKE"
    # the same market data decided again (risk state forgotten): a fresh id, never a collision
    c.book = RiskBook(c.gates, c.risk_config)
    c.book.on_portfolio(portfolio(), T0)
    d2, _ = c.step(e, T0 + 0.5)
    assert d2 is not None and d2.decision_id == f"{d1.decision_id}-2"
    # a live run deciding the same edge a few milliseconds later gets the same id
    other = core()
    other.book.on_portfolio(portfolio(), T0)
    d3, _ = other.step(e, T0 + 0.003)
    assert d3 is not None and d3.decision_id == d1.decision_id


def test_a_batch_is_decided_in_a_fixed_order():
    a = attrs.evolve(edge(), ticker="A", ev_yes=0.05)
    b = attrs.evolve(edge(), ticker="B", ev_yes=0.09)
    c = attrs.evolve(edge(), ticker="C", reasons=("stale_spot",))
    d = attrs.evolve(edge(), ticker="D", ev_yes=0.05)
    for batch in ([a, b, c, d], [d, c, b, a], [c, a, d, b]):
        assert [e.ticker for e in sorted(batch, key=lambda e: _order(e, 0.02))] == ["B", "A", "D", "C"]
