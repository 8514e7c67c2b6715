"""decide(): exactly one Decision per candidate with every failing reason; TAKE sizing;
reproducibility (same inputs, same decision and id)."""

from __future__ import annotations

from decimal import Decimal as D

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kbot.model.config import EvidenceConfig, GateConfig, RiskConfig, SizingConfig
from kbot.model.decide import decide, is_unusual_pass
from kbot.model.risk import RiskView
from tests.model.factories import T0, edge

GATES = GateConfig()
SIZING = SizingConfig()
RISK = RiskConfig()
# gates, sizing and risk on their own: the evidence gate has its tests (test_evidence.py)
NO_EVIDENCE_GATE = EvidenceConfig(gate=False)


def view(**kw) -> RiskView:
    args = dict(
        kill_reason=None,
        has_portfolio=True,
        balance=D(1000),
        total_exposure=D(0),
        market_exposure=D(0),
        open_orders_total=0,
        open_orders_market=0,
        pending=False,
        takes_hour=0,
        takes_day=0,
        daily_pnl=D(0),
    )
    args.update(kw)
    return RiskView(**args)


def run(e, now=T0, implied=None, **kw):
    return decide(
        e,
        now=now,
        risk=kw.pop("risk", view()),
        implied_sigma=implied,
        gates=kw.pop("gates", GATES),
        sizing=kw.pop("sizing", SIZING),
        risk_config=RISK,
        digest="abc",
        evidence_config=kw.pop("evidence_config", NO_EVIDENCE_GATE),
        **kw,
    )


def test_take_on_a_clean_edge():
    d = run(edge())
    assert d.action == "TAKE" and d.reasons == () and d.side == "yes"
    assert d.limit_price == D("0.50")
    # f* = (0.6 - 0.5175) / 0.4825 = 0.17098; ramp 1 (EV 0.0825 > 0.10? no: ramp 0.78125)
    # stake 1000 * 0.25 * 0.78125 * 0.17098 = 33.39 -> / 0.5175 -> 64 contracts
    assert d.count == D(64)
    assert d.fee == D("1.1200")  # ceil4(0.07 * 64 * 0.25)
    assert d.ev == pytest.approx(0.6 - 0.5 - 1.12 / 64)
    assert d.kelly_fraction == pytest.approx(0.25 * (0.0825 - 0.02) / 0.08 * (0.6 - 0.5175) / 0.4825)
    assert (d.balance, d.exposure, d.config_digest) == (D(1000), D(0), "abc")
    assert d.edge.ticker == d.ticker


def test_no_side_is_chosen_when_it_is_better():
    d = run(edge(prob=0.30, yes_ask="0.50", no_ask="0.52"))
    assert d.action == "TAKE" and d.side == "no" and d.limit_price == D("0.52")


def test_same_inputs_same_decision():
    assert run(edge()) == run(edge())
    # the id follows the market data decided on, not when the decision actor got to it (a replay
    # of a recording decides at other processing times); the actor keeps repeats unique
    assert run(edge()).decision_id == run(edge(), now=T0 + 0.5).decision_id
    assert run(edge()).decision_id != run(attrs.evolve(edge(), quote_ts=T0 - 1.0)).decision_id
    assert run(edge()).decision_id != run(attrs.evolve(edge(), index_ts=T0 - 1.0)).decision_id


def test_every_failing_reason_is_listed():
    e = edge(
        ts=T0 - 10,
        index_ts=T0 - 10,
        prob=0.60,
        yes_ask="0.97",
        no_ask="0.52",
        sigma_source="default",
        reasons=("stale_quote",),
    )
    e = attrs.evolve(e, yes_bid=D("0.40"), close_ts=T0 + 10)
    risk = view(kill_reason="operator: test", pending=True, takes_hour=5, takes_day=9, open_orders_total=99)
    d = run(e, risk=risk, implied=0.1)
    assert d.action == "PASS" and d.count == 0 and d.fee is None
    expected = {
        "stale_quote",
        "stale_edge",
        "stale_spot",
        "spread_too_wide",
        "time_to_close_out_of_range",
        "sigma_default",
        "vol_divergence",
        "ev_below_min",
        "kill_switch",
        "duplicate",
        "cooldown_hour",
        "cooldown_day",
        "risk_open_orders",
    }
    assert expected <= set(d.reasons)
    assert len(d.reasons) == len(set(d.reasons))
    assert d.edge.implied_sigma == 0.1


def test_price_range_and_missing_side():
    d = run(edge(prob=0.995, yes_ask="0.97", no_ask="0.04"))
    assert "price_out_of_range" in d.reasons and d.side == "yes"
    d = run(edge(yes_ask=None))
    assert "missing_side" in d.reasons and d.side == "no"
    d = run(edge(yes_ask=None, no_ask=None))
    assert d.side is None and "missing_side" in d.reasons and d.action == "PASS"


def test_caps_and_risk_reasons():
    d = run(edge(), risk=view(balance=D("0.30")))
    assert d.action == "PASS" and "insufficient_balance" in d.reasons
    d = run(edge(yes_ask_size=D(1)))
    assert "liquidity" in d.reasons
    d = run(edge(), risk=view(has_portfolio=False, balance=D(0)))
    assert {"no_portfolio", "insufficient_balance"} <= set(d.reasons)
    d = run(edge(), risk=view(market_exposure=D(100)))
    assert "risk_market_exposure" in d.reasons
    d = run(edge(), risk=view(total_exposure=D(1000)))
    assert "risk_total_exposure" in d.reasons
    d = run(edge(), risk=view(open_orders_market=1))
    assert "duplicate" in d.reasons


def test_pricer_reasons_block_and_no_probability():
    d = run(edge(reasons=("window_unobserved",)))
    assert d.action == "PASS" and d.reasons == ("window_unobserved",)
    d = run(edge(prob=None, reasons=("invalid_sigma",)))
    assert d.action == "PASS" and {"invalid_sigma", "no_probability"} <= set(d.reasons) and d.side is None


def test_sigma_fallback_gate_is_optional():
    e = edge(sigma_source="fallback_last")
    assert run(e).action == "TAKE"
    assert "sigma_fallback" in run(e, gates=GateConfig(block_sigma_fallback=True)).reasons


def test_vol_divergence_needs_the_ratio():
    assert "vol_divergence" not in run(edge(), implied=0.3).reasons  # 0.5 / 0.3 < 2
    assert "vol_divergence" in run(edge(), implied=1.2).reasons
    assert "vol_divergence" not in run(edge(), implied=1.2, gates=GateConfig(max_vol_ratio=0)).reasons


def test_unusual_pass():
    blocked = run(edge(), risk=view(kill_reason="operator: x"))
    assert is_unusual_pass(blocked, GATES.min_ev)
    routine = run(edge(prob=0.5))
    assert not is_unusual_pass(routine, GATES.min_ev)
    assert not is_unusual_pass(run(edge()), GATES.min_ev)


@given(
    prob=st.one_of(st.none(), st.floats(0.0, 1.0)),
    yes_ask=st.one_of(st.none(), st.integers(1, 99)),
    no_ask=st.one_of(st.none(), st.integers(1, 99)),
    depth=st.one_of(st.none(), st.integers(0, 2000)),
    balance=st.integers(0, 5000),
    total=st.integers(0, 1500),
    market=st.integers(0, 150),
    age=st.floats(0, 10),
    ttc=st.floats(-10, 20_000),
    sigma_source=st.sampled_from(["ewma", "fallback_last", "default"]),
    implied=st.one_of(st.none(), st.floats(0.05, 3.0)),
    kill=st.booleans(),
    pending=st.booleans(),
    takes=st.integers(0, 10),
    orders=st.integers(0, 30),
)
@settings(max_examples=300, deadline=None)
def test_decision_invariants(
    prob, yes_ask, no_ask, depth, balance, total, market, age, ttc, sigma_source, implied, kill, pending, takes, orders
):
    e = edge(
        prob=prob,
        yes_ask=None if yes_ask is None else str(D(yes_ask) / 100),
        no_ask=None if no_ask is None else str(D(no_ask) / 100),
        sigma_source=sigma_source,
        yes_ask_size=None if depth is None else D(depth),
        no_ask_size=None if depth is None else D(depth),
        close_ts=T0 + ttc,
        ts=T0 - age,
        index_ts=T0 - age,
    )
    risk = view(
        balance=D(balance),
        total_exposure=D(total),
        market_exposure=D(market),
        kill_reason="x" if kill else None,
        pending=pending,
        takes_hour=takes,
        takes_day=takes,
        open_orders_total=orders,
    )
    d = run(e, risk=risk, implied=implied)
    assert len(d.reasons) == len(set(d.reasons))
    assert (d.action == "TAKE") == (not d.reasons)
    assert (d.count >= 1) == (d.action == "TAKE") and (d.count == 0) == (d.action == "PASS")
    if kill:
        assert "kill_switch" in d.reasons
    if pending:
        assert "duplicate" in d.reasons
    if age > GATES.max_edge_age_s:
        assert "stale_edge" in d.reasons
    if age > GATES.max_index_age_s:
        assert "stale_spot" in d.reasons
    if sigma_source == "default":
        assert "sigma_default" in d.reasons
    if yes_ask is None or no_ask is None:
        assert "missing_side" in d.reasons
    if d.action == "TAKE":
        check_take(d, balance=balance, total=total, market=market, depth=depth, ttc=ttc)


def check_take(d, *, balance, total, market, depth, ttc):
    """What every TAKE satisfies, whatever the inputs."""
    price = d.limit_price
    assert GATES.min_price <= price <= GATES.max_price
    assert d.ev >= GATES.min_ev
    assert d.count <= SIZING.max_contracts_per_order
    assert D(market) + d.count * price <= SIZING.max_market_exposure
    assert D(total) + d.count * price <= SIZING.max_total_exposure
    assert d.count * price + d.fee <= D(balance) + D("0.01")
    assert d.count <= D(depth) * D(str(GATES.liquidity_fraction))
    assert GATES.min_time_to_close_s <= ttc <= GATES.max_time_to_close_s
    side_prob = d.prob_yes if d.side == "yes" else 1 - d.prob_yes
    assert d.ev == pytest.approx(side_prob - float(price) - float(d.fee / d.count))


@given(
    prob=st.floats(0.2, 0.95),
    yes_ask=st.integers(5, 95),
    spread=st.integers(0, 4),
    depth=st.integers(0, 2000),
    balance=st.integers(0, 5000),
    total=st.integers(0, 1200),
    market=st.integers(0, 120),
    ttc=st.floats(60, 14_000),
)
@settings(max_examples=300, deadline=None)
def test_take_invariants_on_tradable_edges(prob, yes_ask, spread, depth, balance, total, market, ttc):
    no_ask = 100 - yes_ask + spread
    e = edge(
        prob=prob,
        yes_ask=str(D(yes_ask) / 100),
        no_ask=str(D(min(no_ask, 99)) / 100),
        yes_ask_size=D(depth),
        no_ask_size=D(depth),
        close_ts=T0 + ttc,
    )
    risk = view(balance=D(balance), total_exposure=D(total), market_exposure=D(market))
    d = run(e, risk=risk)
    assert (d.action == "TAKE") == (not d.reasons)
    if d.action == "TAKE":
        check_take(d, balance=balance, total=total, market=market, depth=depth, ttc=ttc)
    else:
        assert d.count == 0 and d.reasons


def test_classic_cent_rounding_is_selectable():
    from kbot.fees import FeeRounding

    d = run(edge(), rounding=FeeRounding.CENT)
    # one contract's classic fee (0.02) is dearer than centicent (0.0175): a smaller Kelly size
    assert d.action == "TAKE" and d.count == 60
    assert d.fee == D("1.05")  # ceil2(0.07 * 60 * 0.25) = ceil2(1.05)
    d1 = run(edge(), rounding=FeeRounding.CENT, sizing=SizingConfig(max_contracts_per_order=1))
    assert d1.count == 1 and d1.fee == D("0.02")  # ceil2(0.07 * 0.25) = 0.02 vs 0.0175 centicent
    assert d1.ev == pytest.approx(0.6 - 0.5 - 0.02)
