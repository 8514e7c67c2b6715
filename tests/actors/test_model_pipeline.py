"""spot_index -> pricers -> decision wired with their real mailboxes (no network, no database):
the interfaces compose, and a mispriced market is taken while a fair one is passed."""

from __future__ import annotations

from decimal import Decimal as D
from functools import partial

import pytest
import trio

from actors.decision import decision_inbox_key, run_decision
from actors.pricer import pricer_inbox_key, run_pricer
from actors.spot_index import run_spot_index, spot_tick_key
from kbot.actorkit import Collect, Tee
from kbot.clock import ScaledClock
from kbot.messages import Decision, Edge, IndexUpdate, SpotTick
from kbot.model import prob_yes
from kbot.model.config import EvidenceConfig, GateConfig, RiskConfig, VolConfig
from kbot.statestore import MemoryStateStore, inline
from supervision import LatestMailbox
from tests.model.factories import T0, gbm_state, market, portfolio, quote


@pytest.mark.parametrize("gate", [True, False])
async def test_ticks_to_decisions(tmp_path, autojump_clock, gate):
    clock = ScaledClock(epoch0=T0)
    spot_inbox = LatestMailbox(spot_tick_key)
    dec_inbox = LatestMailbox(decision_inbox_key)
    decisions, record, index_record = Collect(), Collect(), Collect()
    cheap = market(ticker="CHEAP", floor_strike=79_000.0)  # deep in the money, offered at 0.50
    fair = market(ticker="FAIR", floor_strike=80_000.0)
    boxes = {m.ticker: LatestMailbox(pricer_inbox_key) for m in (cheap, fair)}
    # a warm default sigma: no sigma_default gate in this test
    vol_cfg = VolConfig(sigma_default=0.5)
    gates = GateConfig(block_sigma_default=False, max_vol_ratio=0)
    async with trio.open_nursery() as n:
        await n.start(
            partial(
                run_spot_index,
                spot_inbox,
                Tee(*boxes.values(), index_record),
                clock=clock,
                vol_config=vol_cfg,
                store=MemoryStateStore(),
                io=inline,
            )
        )
        for m in (cheap, fair):
            n.start_soon(partial(run_pricer, m, boxes[m.ticker], dec_inbox, record, clock=clock, model=gbm_state()))
        await n.start(
            partial(
                run_decision,
                dec_inbox,
                decisions,
                clock=clock,
                gates=gates,
                risk=RiskConfig(kill_file=str(tmp_path / "KILL")),
                store=MemoryStateStore(),
                io=inline,
                evidence=EvidenceConfig(gate=gate),
            )
        )
        dec_inbox.send_nowait(portfolio(ts=clock.now()))
        p_fair = prob_yes("greater", 80_000.0, None, 80_000.0, 0.5, 3600.0)
        fair_bid = D(round(p_fair * 100) - 1) / 100
        boxes["CHEAP"].send_nowait(quote(ts=clock.now(), ticker="CHEAP", yes_bid="0.48", yes_ask="0.50"))
        boxes["FAIR"].send_nowait(
            quote(ts=clock.now(), ticker="FAIR", yes_bid=str(fair_bid), yes_ask=str(fair_bid + D("0.02")))
        )
        for _ in range(6):
            for src, px in (("coinbase", 80_000.0), ("kraken", 80_002.0), ("binance", 79_998.0)):
                spot_inbox.send_nowait(SpotTick(source=src, ts=clock.now(), price=px, recv_ts=clock.now()))
            await clock.sleep(0.5)
        n.cancel_scope.cancel()
    ds = decisions.of(Decision)
    takes = [d for d in ds if d.action == "TAKE"]
    if gate:
        # no evidence of edge yet: kbot says so instead of trading, in every mode
        assert takes == []
        assert any(d.ticker == "CHEAP" and d.reasons == ("no_demonstrated_edge",) for d in ds)
        return
    assert [d.ticker for d in takes] == ["CHEAP"] and takes[0].side == "yes"
    assert any(d.ticker == "FAIR" and d.action == "PASS" and "ev_below_min" in d.reasons for d in ds)
    assert all(isinstance(e, Edge) and e.snapshot for e in record.items)
    assert index_record.of(IndexUpdate)[-1].price == 80_000.0
