"""The pricer's fast path: skipping an index-only tick must never change what is sent."""

from decimal import Decimal as D

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.pricer import PricerCore
from kbot.messages import IndexUpdate, MarketInfo, Quote
from kbot.model.board import PricingBoard
from kbot.model.config import PricerConfig
from tests.model.factories import gbm_state


def market(strike_type, floor, cap):
    return MarketInfo(ticker="M", event_ticker="E", series_ticker="KXBTCD", status="active", strike_type=strike_type,
                      floor_strike=floor, cap_strike=cap, open_ts=0.0, close_ts=4000.0, updated_ts=0.0)


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from([("greater", 95000.0, None), ("between", 94900.0, 95100.0), ("less", None, 95050.0)]),
    st.lists(st.tuples(st.floats(0.2, 3.0), st.floats(-8.0, 8.0), st.booleans()), min_size=5, max_size=120),
    st.integers(min_value=2, max_value=97),
    st.sampled_from(["ewma", "default"]),
)
@pytest.mark.parametrize("min_ev", [None, 0.02])
def test_skipping_never_changes_outputs(min_ev, kind, steps, ask_cents, sigma_source):
    cfg = PricerConfig()
    m = market(*kind)
    full, fast = PricerCore(m, cfg, min_ev, model=gbm_state()), PricerCore(m, cfg, min_ev, model=gbm_state())
    q = Quote(ts=0.0, ticker="M", yes_bid=D(ask_cents - 1) / 100, yes_ask=D(ask_cents) / 100, yes_bid_size=D(5),
              yes_ask_size=D(5), recv_ts=0.0, source="book")
    full.on_quote(q)
    fast.on_quote(q)
    t, price = 100.0, 95000.0
    skipped = 0
    for dt, move, flip_source in steps:
        t += dt
        price += move
        src = ("default" if sigma_source == "ewma" else "ewma") if flip_source and dt > 2.5 else sigma_source
        u = IndexUpdate(ts=t, price=price, n_sources=3, sources=("a", "b", "c"), stale=False, avg_60s=price,
                        sigma=0.45, sigma_source=src)
        full.on_index(u)
        fast.on_index(u)
        expected = full.route(full.edge(t))
        if fast.unchanged_by_index(t):
            skipped += 1
            assert expected == (None, None)
            continue
        got = fast.route(fast.edge(t))
        assert got == expected
    assert skipped <= len(steps)


def test_far_strike_skips_most_ticks():
    cfg = PricerConfig()
    core = PricerCore(market("greater", 99000.0, None), cfg, model=gbm_state())
    core.on_quote(Quote(ts=0.0, ticker="M", yes_bid=D("0.01"), yes_ask=D("0.03"), yes_bid_size=D(5),
                        yes_ask_size=D(5), recv_ts=0.0, source="book"))
    built = skipped = 0
    for i in range(200):
        t = 100.0 + i * 0.5
        core.on_index(IndexUpdate(ts=t, price=95000.0 + (i % 7), n_sources=3, sources=("a", "b", "c"), stale=False,
                                  avg_60s=95000.0, sigma=0.4, sigma_source="ewma"))
        if core.unchanged_by_index(t):
            skipped += 1
        else:
            built += 1
            core.route(core.edge(t))
    assert skipped > 150 and built >= 10  # rebuilt at least every snapshot/emit interval


MARKETS = [("greater", 96000.0, None), ("greater", 95100.0, None), ("greater", 94800.0, None),
           ("between", 94000.0, 94250.0), ("between", 95000.0, 95250.0), ("less", None, 93000.0),
           ("less", None, 95050.0), ("greater", 99000.0, None)]


@settings(max_examples=120, deadline=None)
@given(
    st.floats(300.0, 20000.0),  # horizon at the start, seconds
    st.lists(st.tuples(st.floats(0.05, 2.0), st.floats(-30.0, 30.0), st.booleans()), min_size=1, max_size=40),
    st.lists(st.integers(min_value=2, max_value=98), min_size=len(MARKETS), max_size=len(MARKETS)),
)
@pytest.mark.parametrize(("min_ev", "price_range"), [(None, None), (0.02, None), (0.02, (D("0.05"), D("0.95")))])
def test_board_never_skips_a_pricer_that_would_send(min_ev, price_range, horizon, moves, asks):
    """For every index update, a pricer the board does not wake would have sent nothing:
    leaving it asleep loses nothing (the board and PricerCore apply the same rule)."""
    cfg = PricerConfig()
    board = PricingBoard(cfg.window_s)
    cores = {}
    t, price, sigma = 1000.0, 95000.0, 0.4
    for i, (kind, ask) in enumerate(zip(MARKETS, asks)):
        tk = f"M{i}"
        m = attrs.evolve(market(*kind), ticker=tk, close_ts=1000.0 + horizon)
        core = cores[tk] = PricerCore(m, cfg, min_ev, model=gbm_state(), price_range=price_range)
        board.set_market(tk, m.strike_type, m.floor_strike, m.cap_strike, m.close_ts)
        core.on_quote(Quote(ts=999.0, ticker=tk, yes_bid=D(ask - 1) / 100, yes_ask=D(ask) / 100, yes_bid_size=D(5),
                            yes_ask_size=D(5), recv_ts=999.0, source="book"))
    quiet_total = 0
    for dt, move, vol_step in moves:
        t += dt
        price += move
        if vol_step:
            sigma *= 1.001
        u = IndexUpdate(ts=t, price=price, n_sources=3, sources=("a", "b", "c"), stale=False, avg_60s=price,
                        sigma=sigma, sigma_source="ewma")
        wake = set(board.to_wake(u))
        for tk, core in cores.items():
            core.on_index(u)
            if tk not in wake:
                quiet_total += 1
                assert core.route(core.edge(t)) == (None, None), tk
                continue
            core.route(core.edge(t))
            board.publish(tk, core.quiet_band(t), u)
    assert quiet_total >= 0


def test_board_keeps_far_strikes_asleep_and_wakes_near_ones():
    cfg = PricerConfig()
    board = PricingBoard(cfg.window_s)
    cores = {}
    for tk, k in (("near", 95050.0), ("far", 99000.0)):
        m = attrs.evolve(market("greater", k, None), ticker=tk, close_ts=5000.0)
        cores[tk] = PricerCore(m, cfg, model=gbm_state())
        board.set_market(tk, "greater", k, None, 5000.0)
        cores[tk].on_quote(Quote(ts=0.0, ticker=tk, yes_bid=D("0.40"), yes_ask=D("0.45"), yes_bid_size=D(5),
                                 yes_ask_size=D(5), recv_ts=0.0, source="book"))
    woken = {"near": 0, "far": 0}
    for i in range(40):
        t = 100.0 + 0.25 * i
        u = IndexUpdate(ts=t, price=95000.0 + 10.0 * (i % 2), n_sources=3, sources=("a",), stale=False,
                        avg_60s=95000.0, sigma=0.4, sigma_source="ewma")
        for tk in board.to_wake(u):
            woken[tk] += 1
            c = cores[tk]
            c.on_index(u)
            c.route(c.edge(t))
            board.publish(tk, c.quiet_band(t), u)
    assert woken["near"] >= 30 and woken["far"] <= 4
    board.remove("far")
    assert board.to_wake(attrs.evolve(u, ts=u.ts + 1.0, price=94900.0)) == ["near"]


def _view():
    from kbot.model.risk import RiskView

    return RiskView(kill_reason=None, has_portfolio=True, balance=D(1000), total_exposure=D(0), market_exposure=D(0),
                    open_orders_total=0, open_orders_market=0, pending=False, takes_hour=0, takes_day=0,
                    daily_pnl=D(0))


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from([("greater", 95000.0, None), ("between", 94900.0, 95100.0), ("less", None, 95050.0)]),
    st.lists(st.floats(-60.0, 60.0), min_size=1, max_size=60),
    st.integers(min_value=2, max_value=97),
    st.integers(min_value=1, max_value=8),
    st.sampled_from([0.0, 0.02, 0.05]),
    st.booleans(),
)
def test_a_probability_move_held_back_below_the_bar_could_only_have_been_a_pass(kind, moves, ask, spread, min_ev, ranged):
    """Money safety of the decision-aware throttle: whenever an edge whose probability moved by
    ``prob_epsilon`` or more, or whose book moved, is held back because it is below the bar, the decision would have
    answered PASS with ``ev_below_min`` for it (or ``price_out_of_range``, when the throttle
    knows the decision's price range); and every edge that could be a TAKE is sent."""
    from kbot.model.config import GateConfig, RiskConfig, SizingConfig
    from kbot.model.decide import evaluate

    cfg = PricerConfig()
    gates = attrs.evolve(GateConfig(), min_ev=min_ev)
    price_range = (gates.min_price, gates.max_price) if ranged else None
    core = PricerCore(attrs.evolve(market(*kind), close_ts=3000.0), cfg, min_ev, model=gbm_state(), price_range=price_range)
    bid = max(1, ask - spread)
    core.on_quote(Quote(ts=0.0, ticker="M", yes_bid=D(bid) / 100, yes_ask=D(ask) / 100, no_bid=D(100 - ask) / 100,
                        no_ask=D(100 - bid) / 100, yes_bid_size=D(50), yes_ask_size=D(50), recv_ts=0.0,
                        source="book"))
    t, price = 100.0, 95000.0
    held = 0
    for i, move in enumerate(moves):
        t += 0.5
        price += move
        if i % 4 == 3:  # the book moves too: a cent up or down
            ask = min(98, max(2, ask + (1 if move > 0 else -1)))
            bid = max(1, ask - spread)
            core.on_quote(Quote(ts=t, ticker="M", yes_bid=D(bid) / 100, yes_ask=D(ask) / 100, no_bid=D(100 - ask) / 100,
                                no_ask=D(100 - bid) / 100, yes_bid_size=D(50), yes_ask_size=D(50), recv_ts=t,
                                source="book"))
        core.on_index(IndexUpdate(ts=t, price=price, n_sources=3, sources=("a", "b", "c"), stale=False,
                                  avg_60s=price, sigma=0.45, sigma_source="ewma"))
        sent = core.throttle.last_sent
        e = core.edge(t)
        to_decision, _ = core.route(e)
        ev = evaluate(e, now=t, risk=_view(), implied_sigma=None, gates=gates, sizing=SizingConfig(),
                      risk_config=RiskConfig())
        moved = sent is not None and e.prob_yes is not None and sent.prob_yes is not None and (
            abs(e.prob_yes - sent.prob_yes) >= cfg.prob_epsilon or (e.yes_bid, e.yes_ask) != (sent.yes_bid, sent.yes_ask))
        if to_decision is None and moved:
            held += 1
            assert ev.action == "PASS", (e, ev)
            assert "ev_below_min" in ev.reasons or (ranged and "price_out_of_range" in ev.reasons), (e, ev)


def _sent_per_market(min_ev):
    """Edges a near-the-money pricer sends over 200 index moves of ~1 bp, its book 6 cents wide."""
    cfg = PricerConfig()
    core = PricerCore(attrs.evolve(market("greater", 95000.0, None), close_ts=90000.0), cfg, min_ev,
                      model=gbm_state())
    core.on_quote(Quote(ts=0.0, ticker="M", yes_bid=D("0.47"), yes_ask=D("0.53"), no_bid=D("0.47"), no_ask=D("0.53"),
                        yes_bid_size=D(50), yes_ask_size=D(50), recv_ts=0.0, source="book"))
    sent = 0
    for i in range(200):
        t = 100.0 + 0.05 * i  # 10 s: no emit/snapshot interval in between
        price = 95000.0 + 10.0 * ((i * 7) % 5 - 2)
        core.on_index(IndexUpdate(ts=t, price=price, n_sources=3, sources=("a",), stale=False, avg_60s=price,
                                  sigma=0.4, sigma_source="ewma"))
        to_decision, _ = core.route(core.edge(t))
        sent += to_decision is not None
    return sent


def test_below_the_bar_an_index_jitter_is_not_re_decided():
    """With the decision's bar, a market whose better EV is far below ``min_ev`` is not re-sent
    on every 0.1 pp move (only the first edge goes); without it, nearly every move is."""
    assert _sent_per_market(None) > 100
    assert _sent_per_market(0.02) == 1
