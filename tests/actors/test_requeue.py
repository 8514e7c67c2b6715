"""Issue 12, runtime-level requeue: an actor with a lossless inbox that crashes mid-batch hands
the unprocessed rest (and the message it failed on) to its next incarnation through
``Mailbox.processing``. Before, the ledger, markets and decision actors dropped the rest of the
batch with the crashed incarnation."""

from __future__ import annotations

from decimal import Decimal as D
from functools import partial
from typing import Any

import pytest
import trio

import actors.ledger as ledger_mod
from actors.decision import decision_inbox_key, run_decision
from actors.ledger import LedgerState, run_ledger
from actors.markets import run_markets
from kbot.actorkit import ActorStats, Collect
from kbot.clock import ScaledClock
from kbot.ledger import Book
from kbot.markets import MarketRegistry
from kbot.messages import Fill, MarketInfo
from kbot.model.config import RiskConfig
from kbot.statestore import MemoryStateStore, inline
from supervision import LatestMailbox, Mailbox
from tests.model.factories import T0, edge, portfolio


class FailOnce:
    """Wraps a handler: records what it was given, raises once on the message matching ``when``."""

    def __init__(self, real, when) -> None:
        self.real, self.when, self.failed, self.seen = real, when, False, []

    def __call__(self, *args: Any) -> Any:
        msg = next(a for a in args if self.when(a) is not None)
        if self.when(msg) and not self.failed:
            self.failed = True
            raise RuntimeError("a bug on this message")
        self.seen.append(msg)
        return self.real(*args)


def fill(fid: str) -> Fill:
    return Fill(fill_id=fid, order_id="o", ts=1000.0, ticker="M", side="yes", action="buy", count=D(1),
                price=D("0.40"), fee=D("0.01"), is_taker=True, mode="shadow")


async def _incarnations(run, n: int = 2) -> None:
    """Run ``n`` incarnations in a row, as a supervisor would restart them: the first crashes."""
    with pytest.raises(RuntimeError):
        await run()
    for _ in range(n - 1):
        with trio.move_on_after(5):
            await run()


async def test_ledger_applies_every_fill_across_a_crash(autojump_clock, monkeypatch):
    inbox: Mailbox[Any] = Mailbox(100)
    for f in ("f1", "f2", "f3"):
        inbox.send_nowait(fill(f))
    spy = FailOnce(ledger_mod.apply, lambda m: (m.fill_id == "f2") if isinstance(m, Fill) else None)
    monkeypatch.setattr(ledger_mod, "apply", spy)
    state = LedgerState(Book("shadow", D(100)))
    run = partial(run_ledger, inbox, LatestMailbox(key=lambda q: q.ticker), Collect(), Collect(), state,
                  clock=ScaledClock(epoch0=1000.0), stats=ActorStats("ledger"))
    await _incarnations(run)
    assert [m.fill_id for m in spy.seen] == ["f1", "f2", "f3"]  # before: f1 only (f2 and f3 lost)
    assert state.book.cash == -3 * D("0.41")  # each fill applied exactly once


def market(ticker: str) -> MarketInfo:
    return MarketInfo(ticker=ticker, event_ticker="E", series_ticker="KXBTCD", status="active", strike_type="greater",
                      floor_strike=80_000.0, close_ts=2e9, updated_ts=T0)


class Pool:
    def __init__(self) -> None:
        self.started: list[str] = []

    def running(self) -> set[str]:
        return set(self.started)

    async def start(self, m: MarketInfo) -> None:
        self.started.append(m.ticker)

    async def stop(self, ticker: str) -> None:
        self.started.remove(ticker)

    def update(self, m: MarketInfo) -> None:
        pass


async def test_markets_registers_every_listing_across_a_crash(autojump_clock):
    inbox: Mailbox[Any] = Mailbox(100)
    for t in ("A", "B", "C"):
        inbox.send_nowait(market(t))
    registry = MarketRegistry(["KXBTCD"])
    spy = FailOnce(registry.apply, lambda m: (m.ticker == "B") if isinstance(m, MarketInfo) else None)
    registry.apply = spy  # type: ignore[method-assign]
    pool = Pool()
    run = partial(run_markets, inbox, registry, pool, clock=ScaledClock(epoch0=T0), stats=ActorStats("markets"))
    await _incarnations(run)
    assert [m.ticker for m in spy.seen] == ["A", "B", "C"] and sorted(pool.started) == ["A", "B", "C"]


async def test_decision_handles_the_rest_of_a_batch_across_a_crash(autojump_clock, tmp_path, monkeypatch):
    import actors.decision as decision_mod

    inbox: LatestMailbox[Any] = LatestMailbox(decision_inbox_key)
    inbox.send_nowait(portfolio())
    for t in ("T1", "T2", "T3"):
        inbox.send_nowait(edge(ticker=t))
    seen: list[str] = []
    real_step = decision_mod.DecisionCore.step
    failed = []

    def step(self, e, now):
        if e.ticker == "T2" and not failed:
            failed.append(e)
            raise RuntimeError("a bug on this edge")
        seen.append(e.ticker)
        return real_step(self, e, now)

    monkeypatch.setattr(decision_mod.DecisionCore, "step", step)
    out = Collect()
    risk = RiskConfig(kill_file=str(tmp_path / "KILL"), kill_poll_s=1.0)
    store = MemoryStateStore()

    async def run() -> None:
        async with trio.open_nursery() as n:
            await n.start(partial(run_decision, inbox, out, clock=ScaledClock(epoch0=T0), risk=risk, store=store,
                                  stats=ActorStats("decision"), io=inline))

    with pytest.raises(BaseExceptionGroup) as ei:  # the crash comes out of the actor's nursery
        await run()
    assert ei.group_contains(RuntimeError)
    with trio.move_on_after(5):
        await run()
    assert sorted(seen) == ["T1", "T2", "T3"]  # before: T3 (after the failed T2) was lost
