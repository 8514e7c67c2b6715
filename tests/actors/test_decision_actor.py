"""Decision actor: TAKE/PASS emission, the tape, duplicate/cooldown, kill switch (file,
daily loss, corrupt state, reset), restart with persisted state and seeded decisions."""

from __future__ import annotations

from decimal import Decimal as D
from functools import partial

import pytest
import trio

from actors.decision import decision_inbox_key, run_decision, tape_line
from kbot.actorkit import ActorStats, Collect
from kbot.clock import ScaledClock
from kbot.messages import Alert, Decision
from kbot.model import killswitch
from kbot.model.config import EvidenceConfig, GateConfig, RiskConfig
from kbot.statestore import JsonFileStateStore, MemoryStateStore, inline
from supervision import LatestMailbox
from tests.model.factories import T0, edge, portfolio

TICKER = "KXBTCD-26MAY2817-T80249.99"


class Harness:
    def __init__(self, tmp_path, store=None, gates=None, risk=None, recent=(), evidence=None):
        self.clock = ScaledClock(epoch0=T0)
        self.inbox = LatestMailbox(decision_inbox_key)
        self.out = Collect()
        self.alerts = Collect()
        self.stats = ActorStats("decision")
        self.store = store if store is not None else MemoryStateStore()
        self.risk = risk or RiskConfig(kill_file=str(tmp_path / "KILL"), kill_poll_s=1.0, max_daily_loss=D(50))
        self.gates = gates or GateConfig()
        self.recent = recent
        # the actor's mechanics; the evidence gate is tested in test_evidence_gate_in_the_actor
        self.evidence = evidence or EvidenceConfig(gate=False)

    async def start(self, nursery):
        await nursery.start(
            partial(
                run_decision,
                self.inbox,
                self.out,
                clock=self.clock,
                gates=self.gates,
                risk=self.risk,
                store=self.store,
                recent_decisions=self.recent,
                alerts=self.alerts,
                stats=self.stats,
                io=inline,
                evidence=self.evidence,
            )
        )

    async def send(self, msg, wait=0.01):
        self.inbox.send_nowait(msg)
        await self.clock.sleep(wait)

    def decisions(self) -> list[Decision]:
        return self.out.of(Decision)


async def test_take_then_duplicate_then_pass_dedup(tmp_path, autojump_clock, tape_lines):
    h = Harness(tmp_path)
    async with trio.open_nursery() as n:
        await h.start(n)
        await h.send(portfolio(ts=h.clock.now()))
        await h.send(edge(ts=h.clock.now()))
        await h.send(edge(ts=h.clock.now(), prob=0.61))
        await h.send(edge(ts=h.clock.now(), prob=0.62))  # same PASS again: suppressed
        n.cancel_scope.cancel()
    ds = h.decisions()
    assert [d.action for d in ds] == ["TAKE", "PASS"]
    assert ds[0].count > 0 and ds[0].reasons == ()
    assert ds[1].reasons == ("duplicate",)
    assert ds[0].config_digest and ds[0].config_digest == ds[1].config_digest
    # tape: the TAKE and the unusual PASS (EV was there, duplicate stopped it), once
    assert len(tape_lines) == 2
    assert tape_lines[0].startswith(f"TAKE {TICKER} YES {ds[0].count} @ 0.50")
    assert tape_lines[1].startswith(f"PASS {TICKER} YES @ 0.50") and "blocked: duplicate" in tape_lines[1]
    # the TAKE was persisted before it was sent
    assert h.store.load("risk")["takes"][TICKER][0][1] == ds[0].decision_id


async def test_routine_pass_is_recorded_but_not_on_the_tape(tmp_path, autojump_clock, tape_lines):
    h = Harness(tmp_path)
    async with trio.open_nursery() as n:
        await h.start(n)
        await h.send(portfolio(ts=h.clock.now()))
        await h.send(edge(ts=h.clock.now(), prob=0.51))
        n.cancel_scope.cancel()
    (d,) = h.decisions()
    assert d.action == "PASS" and "ev_below_min" in d.reasons
    assert tape_lines == []


async def test_pending_resolves_when_the_ledger_shows_the_position(tmp_path, autojump_clock):
    h = Harness(tmp_path, gates=GateConfig(max_takes_per_hour=5, max_takes_per_day=10))
    async with trio.open_nursery() as n:
        await h.start(n)
        await h.send(portfolio(ts=h.clock.now()))
        await h.send(edge(ts=h.clock.now()))
        take = h.decisions()[0]
        cost = take.count * take.limit_price
        await h.send(portfolio(ts=h.clock.now(), exposure=str(cost), exposure_by_ticker=((TICKER, cost),)))
        await h.send(edge(ts=h.clock.now()))
        n.cancel_scope.cancel()
    ds = h.decisions()
    assert [d.action for d in ds] == ["TAKE", "TAKE"]
    assert ds[1].exposure == cost


async def test_operator_kill_file_and_reset(tmp_path, autojump_clock, tape_lines):
    h = Harness(tmp_path)
    killswitch.request_kill(h.risk.kill_file, "maintenance", ts=T0)
    async with trio.open_nursery() as n:
        await h.start(n)
        await h.send(portfolio(ts=h.clock.now()))
        await h.send(edge(ts=h.clock.now()))
        killswitch.clear_kill(h.risk.kill_file)
        await h.clock.sleep(1.5)
        await h.send(edge(ts=h.clock.now()))
        n.cancel_scope.cancel()
    ds = h.decisions()
    assert ds[0].action == "PASS" and "kill_switch" in ds[0].reasons  # active from the first decision
    assert ds[1].action == "TAKE"
    assert any("operator kill file removed" in a.message for a in h.alerts.of(Alert))
    assert any("KILL SWITCH active at start" in line for line in tape_lines)


async def test_daily_loss_trips_persists_and_survives_restart(tmp_path, autojump_clock):
    store = JsonFileStateStore(tmp_path / "state")
    h = Harness(tmp_path, store=store)
    async with trio.open_nursery() as n:
        await h.start(n)
        await h.send(portfolio(ts=h.clock.now(), daily_realized_pnl=D("-60")))
        await h.send(edge(ts=h.clock.now()))
        n.cancel_scope.cancel()
    (d,) = h.decisions()
    assert "kill_switch" in d.reasons
    (alert,) = h.alerts.of(Alert)
    assert alert.severity == "critical" and "loss" in alert.message
    assert store.load("risk")["kill"]["trigger"] == "loss"

    # restart (same day): still tripped, even after PnL recovered
    h2 = Harness(tmp_path, store=store)
    h2.clock = h.clock
    async with trio.open_nursery() as n:
        await h2.start(n)
        await h2.send(portfolio(ts=h2.clock.now(), daily_realized_pnl=D(0)))
        await h2.send(edge(ts=h2.clock.now()))
        # operator reset without waiting for midnight
        killswitch.request_reset(h2.risk.kill_file, ts=h2.clock.now())
        await h2.clock.sleep(1.5)
        await h2.send(edge(ts=h2.clock.now()))
        n.cancel_scope.cancel()
    ds = h2.decisions()
    assert "kill_switch" in ds[0].reasons and ds[-1].action == "TAKE"
    assert store.load("risk")["kill"]["tripped"] is False


async def test_loss_trip_resets_at_utc_midnight(tmp_path, autojump_clock):
    h = Harness(tmp_path)
    midnight = (T0 // 86400 + 1) * 86400
    async with trio.open_nursery() as n:
        await h.start(n)
        await h.send(portfolio(ts=h.clock.now(), daily_realized_pnl=D("-60")))
        await h.clock.sleep(midnight - h.clock.now() + 1)
        await h.send(portfolio(ts=h.clock.now()))
        await h.send(edge(ts=h.clock.now()))
        n.cancel_scope.cancel()
    assert h.decisions()[-1].action == "TAKE"
    assert any("midnight" in a.message for a in h.alerts.of(Alert))


async def test_corrupt_state_trips_kill_switch(tmp_path, autojump_clock):
    store = MemoryStateStore()
    store.data["risk"] = "{not json"
    h = Harness(tmp_path, store=store)
    async with trio.open_nursery() as n:
        await h.start(n)
        await h.send(portfolio(ts=h.clock.now()))
        await h.send(edge(ts=h.clock.now()))
        n.cancel_scope.cancel()
    (d,) = h.decisions()
    assert "kill_switch" in d.reasons and h.stats.state.startswith("kill: corrupt_state")


async def test_restart_recovers_dedup_from_recent_decisions(tmp_path, autojump_clock):
    h = Harness(tmp_path)
    async with trio.open_nursery() as n:
        await h.start(n)
        await h.send(portfolio(ts=h.clock.now()))
        await h.send(edge(ts=h.clock.now()))
        n.cancel_scope.cancel()
    take = h.decisions()[0]
    # state file lost; the database still has the decision
    h2 = Harness(tmp_path, store=MemoryStateStore(), recent=[take])
    h2.clock = h.clock
    async with trio.open_nursery() as n:
        await h2.start(n)
        await h2.send(portfolio(ts=h2.clock.now()))
        await h2.send(edge(ts=h2.clock.now()))
        n.cancel_scope.cancel()
    (d,) = h2.decisions()
    assert d.action == "PASS" and "duplicate" in d.reasons


async def test_bad_input_counted(tmp_path, autojump_clock):
    h = Harness(tmp_path)
    async with trio.open_nursery() as n:
        await h.start(n)
        await h.send("nonsense")
        await h.send(edge(ts=h.clock.now()))
        n.cancel_scope.cancel()
    (d,) = h.decisions()
    assert "no_portfolio" in d.reasons and h.stats.msgs_in == 2


def test_tape_line_for_a_pass_without_side():
    from kbot.model.config import SizingConfig
    from kbot.model.decide import decide
    from kbot.model.risk import RiskBook

    book = RiskBook(GateConfig(), RiskConfig())
    d = decide(
        edge(yes_ask=None, no_ask=None),
        now=T0,
        risk=book.view(TICKER, T0),
        implied_sigma=None,
        gates=GateConfig(),
        sizing=SizingConfig(),
        risk_config=RiskConfig(),
    )
    line = tape_line(d)
    assert line.startswith(f"PASS {TICKER} - @ -") and "missing_side" in line


async def test_identical_pass_repeats_after_the_interval_without_a_new_tape_line(tmp_path, autojump_clock, tape_lines):
    h = Harness(tmp_path, gates=GateConfig(pass_repeat_s=30))
    killswitch.request_kill(h.risk.kill_file, "halt", ts=T0)
    async with trio.open_nursery() as n:
        await h.start(n)
        await h.send(portfolio(ts=h.clock.now()))
        for _ in range(4):  # every 12 s: emitted at 0 and 36 (>= 30 s later), suppressed between
            await h.send(edge(ts=h.clock.now()), wait=12.0)
        n.cancel_scope.cancel()
    ds = h.decisions()
    assert [d.action for d in ds] == ["PASS", "PASS"]
    assert ds[1].ts - ds[0].ts == pytest.approx(36.0, abs=0.1)
    assert sum(line.startswith("PASS") for line in tape_lines) == 1


async def test_promising_edges_are_decided_first_in_a_batch(tmp_path, autojump_clock):
    h = Harness(tmp_path)
    async with trio.open_nursery() as n:
        await h.start(n)
        await h.send(portfolio(ts=h.clock.now()))
        routine = [edge(ts=h.clock.now(), prob=0.50, ticker=f"R{i}", ev_yes=-0.01, ev_no=-0.03) for i in range(5)]
        good = edge(ts=h.clock.now(), ev_yes=0.08, ev_no=-0.2)
        for e in [*routine, good]:
            h.inbox.send_nowait(e)
        await h.clock.sleep(0.01)
        n.cancel_scope.cancel()
    ds = h.decisions()
    assert len(ds) == 6 and ds[0].action == "TAKE" and ds[0].ticker == good.ticker


def test_core_prunes_old_pass_signatures_and_events():
    from actors.decision import DecisionCore
    from kbot.model.config import PricerConfig, SizingConfig

    core = DecisionCore(GateConfig(), SizingConfig(), RiskConfig(), PricerConfig())
    for i in range(50):
        core.step(edge(ts=T0, ticker=f"M{i}", event_ticker=f"E{i}", close_ts=T0 + 60), T0)
    assert len(core._last_pass) == 50
    core.prune(T0 + 4000)
    assert core._last_pass == {} and core.implied._events == {}


class FailingStore(MemoryStateStore):
    def save(self, key, value):
        raise OSError("disk full")


async def test_a_take_that_cannot_be_persisted_is_not_sent(tmp_path, autojump_clock):
    h = Harness(tmp_path, store=FailingStore())
    async with trio.open_nursery() as n:
        await h.start(n)
        await h.send(portfolio(ts=h.clock.now()))
        await h.send(edge(ts=h.clock.now()))
        n.cancel_scope.cancel()
    assert h.decisions() == [] and h.stats.errors == 1
