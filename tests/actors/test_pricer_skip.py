"""The pricer's fast path: skipping an index-only tick must never change what is sent."""

from decimal import Decimal as D

from hypothesis import given, settings
from hypothesis import strategies as st

from actors.pricer import PricerCore
from kbot.messages import IndexUpdate, MarketInfo, Quote
from kbot.model.config import PricerConfig


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
def test_skipping_never_changes_outputs(kind, steps, ask_cents, sigma_source):
    cfg = PricerConfig()
    m = market(*kind)
    full, fast = PricerCore(m, cfg), PricerCore(m, cfg)
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
    core = PricerCore(market("greater", 99000.0, None), cfg)
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
