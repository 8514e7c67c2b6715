"""The maker strategy: the core's targets (fair value, stale inputs, cutoff, kill switch, limits,
requote hysteresis), the intents that move resting orders to a target, the rate limit and the
open-order cap, and the maker executor in shadow and paper mode."""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

import attrs
from hypothesis import given, settings
from hypothesis import strategies as st

from kbot.execution.config import ExecutionConfig
from kbot.execution.paper import PaperGateway, PaperVenue
from kbot.execution.trading import TradingExecutor
from kbot.messages import Edge, Fill, MarketInfo, OrderEvent, PortfolioState, Quote, QuoteAction, QuoteTarget, Trade
from kbot.strategy.executor import MakerExecutor
from kbot.strategy.maker import Intent, MakerCore, MakerSettings, QuoteThrottle, Resting, fair_value, quote_intents
from kbot.strategy.quotes import MakerConfig

CLOSE = 10_000.0
T = "KXBTC15M-X"


def edge(ts: float = 9_000.0, prob: float | None = 0.5, bid: str = "0.45", ask: str = "0.55", ticker: str = T,
         **kw: Any) -> Edge:
    fields: dict[str, Any] = dict(
        ts=ts, ticker=ticker, event_ticker="E", series_ticker="KXBTC15M", strike_type="greater_or_equal",
        floor_strike=1.0, cap_strike=None, close_ts=CLOSE, spot=1.0, spot_avg_60s=None, sigma=0.5,
        sigma_source="ewma", horizon_s=CLOSE - ts, prob_yes=prob, yes_bid=D(bid), yes_ask=D(ask),
        no_bid=1 - D(ask), no_ask=1 - D(bid))
    fields.update(kw)
    return Edge(**fields)


def settings_(**kw: Any) -> MakerSettings:
    return MakerSettings(enabled=True, **kw)


# ----------------------------------------------------------------------------- the core


def test_fair_value_is_the_final_probability_else_the_models():
    assert fair_value(edge(prob=0.61, prob_model=0.4)) == 0.61
    assert fair_value(edge(prob=None, prob_model=0.4)) == 0.4
    assert fair_value(edge(prob=None, prob_model=None)) is None
    assert fair_value(edge(prob=float("nan"), prob_model=0.3)) == 0.3


def test_quotes_around_fair_value_and_none_on_stale_inputs_cutoff_or_kill():
    core = MakerCore(settings_())
    t = core.step(edge(), 9_000.0)
    assert t is not None and t.yes_bid is not None and t.no_bid is not None
    assert t.yes_bid < D("0.5") and 1 - t.no_bid > D("0.5") and t.reasons == ()
    stale = core.step(edge(ts=9_001.0, reasons=("stale_spot",)), 9_001.0)
    assert stale is not None and not stale.quoting and stale.reasons == ("stale_inputs",)
    closed = core.step(edge(ts=9_002.0, reasons=("market_not_open",)), 9_002.0)
    assert closed is not None and closed.reasons == ("market_not_open",)
    late = core.step(edge(ts=CLOSE - 30.0), CLOSE - 30.0)
    assert late is not None and not late.quoting and late.reasons == ("cutoff",)
    core2 = MakerCore(settings_())
    core2.set_kill("operator")
    k = core2.step(edge(), 9_000.0)
    assert k is not None and not k.quoting and k.reasons == ("kill_switch",)


def test_sweep_takes_quotes_down_when_the_newest_edge_is_too_old():
    core = MakerCore(settings_(stale_s=30.0))
    assert core.step(edge(ts=9_000.0), 9_000.0) is not None
    assert core.sweep(9_020.0) == []  # still fresh, same quotes
    out = core.sweep(9_031.0)
    assert len(out) == 1 and not out[0].quoting and out[0].reasons == ("stale_inputs",)
    assert core.sweep(9_040.0) == []  # said once


def test_daily_loss_limit_stops_quoting():
    core = MakerCore(settings_())
    core.max_daily_loss = D(100)
    core.on_portfolio(PortfolioState(ts=1.0, mode="paper", balance=D(900), exposure=D(0),
                                     daily_realized_pnl=D(-100)))
    t = core.step(edge(), 9_000.0)
    assert t is not None and t.reasons == ("daily_loss",)


def test_requote_hysteresis_suppresses_small_moves():
    core = MakerCore(settings_(quote=MakerConfig(requote_threshold=0.01)))
    first = core.step(edge(prob=0.50), 9_000.0)
    assert first is not None
    assert core.step(edge(ts=9_001.0, prob=0.505), 9_001.0) is None  # half a cent: not worth a replace
    moved = core.step(edge(ts=9_002.0, prob=0.53), 9_002.0)
    assert moved is not None and moved.yes_bid is not None and first.yes_bid is not None
    assert moved.yes_bid - first.yes_bid > D("0.01")


def test_position_limits_per_market_and_in_total():
    core = MakerCore(settings_(quote=MakerConfig(max_position=D(10)), max_total_position=D(12)))
    core.on_portfolio(PortfolioState(ts=1.0, mode="paper", balance=D(0), exposure=D(0),
                                     positions=((T, D(10)), ("OTHER", D(-2)))))
    t = core.step(edge(), 9_000.0)
    assert t is not None and t.yes_bid is None and t.yes_reasons == ("max_position",)
    assert t.no_bid is not None  # selling YES (buying NO) reduces the position
    core.on_portfolio(PortfolioState(ts=2.0, mode="paper", balance=D(0), exposure=D(0),
                                     positions=((T, D(0)), ("OTHER", D(-12)))))
    t2 = core.step(edge(ts=9_001.0, prob=0.6), 9_001.0)
    assert t2 is not None and t2.yes_reasons == ("max_total_position",) and t2.no_reasons == ("max_total_position",)


def test_series_outside_the_maker_series_are_not_quoted():
    core = MakerCore(settings_(series=("KXBTC15M",)))
    assert core.step(edge(series_ticker="KXBTCD"), 9_000.0) is None


# ----------------------------------------------------------------------------- intents and the throttle


def target(yes: str | None, no: str | None, reasons: tuple[str, ...] = ()) -> QuoteTarget:
    return QuoteTarget(ts=1.0, ticker=T, series_ticker="KXBTC15M", yes_bid=D(yes) if yes else None,
                       no_bid=D(no) if no else None, size=D(1), fair=0.5, reservation=0.5, half_spread=0.05,
                       inventory=D(0), time_to_close_s=600.0, close_ts=CLOSE, best_yes_bid=D("0.45"),
                       best_yes_ask=D("0.55"), reasons=reasons)


def test_intents_place_replace_cancel_in_safe_order():
    cfg = MakerConfig(requote_threshold=0.01)
    have = {"yes": Resting(cid="a", price=D("0.40"), remaining=D(1), changeable=True),
            "no": Resting(cid="b", price=D("0.40"), remaining=D(1), changeable=True)}
    assert quote_intents(target("0.41", "0.40"), have, cfg) == []  # within the threshold
    out = quote_intents(target("0.45", None), have, cfg)
    assert [(i.kind, i.side, i.reason) for i in out] == [("cancel", "no", "no_quote"), ("replace", "yes", "requote")]
    out = quote_intents(target(None, None, ("cutoff",)), have, cfg)
    assert [(i.kind, i.reason) for i in out] == [("cancel", "cutoff"), ("cancel", "cutoff")]
    assert [i.kind for i in quote_intents(target("0.40", "0.40"), {}, cfg)] == ["place", "place"]
    pending = {"yes": Resting(cid="a", price=D("0.30"), remaining=D(1), changeable=False)}
    assert [i.side for i in quote_intents(target("0.45", None), pending, cfg)] == []  # waits for the ack


@settings(max_examples=200, deadline=None)
@given(steps=st.lists(st.tuples(st.floats(0.0, 2.0), st.sampled_from(["place", "replace", "cancel"])), max_size=80),
       rate=st.floats(0.5, 5.0), burst=st.integers(1, 10))
def test_throttle_never_lets_more_than_the_bucket_through(steps, rate, burst):
    th = QuoteThrottle(settings_(orders_per_s=rate, burst=float(burst), max_open_orders=1000))
    now, admitted, cancels, refused_cancels = 0.0, 0, 0, 0
    for dt, kind in steps:
        now += dt
        why = th.admit(Intent(kind=kind, ticker=T, side="yes", price=D("0.5"), reason="x"), 0, now)
        if kind == "cancel":
            cancels += 1
            refused_cancels += why is not None
        elif why is None:
            admitted += 1
        else:
            assert why == "rate_limited"
    assert refused_cancels == 0  # a cancel never waits
    assert admitted <= burst + rate * now + 1e-9


def test_throttle_caps_open_orders_for_places_only():
    th = QuoteThrottle(settings_(max_open_orders=2))
    place = Intent(kind="place", ticker=T, side="yes", price=D("0.5"), reason="quote")
    replace = attrs.evolve(place, kind="replace", cid="a")
    assert th.admit(place, 2, 0.0) == "max_open_orders"
    assert th.admit(replace, 2, 0.0) is None
    assert th.admit(place, 1, 0.0) is None


# ----------------------------------------------------------------------------- the executor


async def test_shadow_maker_records_actions_and_sends_nothing():
    ex = MakerExecutor("shadow", settings_())
    await ex.on_input(target("0.40", "0.42"), 1.0)
    await ex.on_input(attrs.evolve(target("0.45", "0.42"), ts=2.0), 2.0)
    await ex.on_input(attrs.evolve(target(None, None, ("cutoff",)), ts=3.0), 3.0)
    acts = [m for m in ex.pending if isinstance(m, QuoteAction)]
    assert [(a.action, a.side, a.reason) for a in acts] == [
        ("place", "yes", "quote"), ("place", "no", "quote"), ("replace", "yes", "requote"),
        ("cancel", "yes", "cutoff"), ("cancel", "no", "cutoff")]
    assert all(a.mode == "shadow" for a in acts)
    assert not [m for m in ex.pending if isinstance(m, (OrderEvent, Fill))]


async def test_rate_limited_replaces_wait_for_a_token_and_are_applied_at_tick():
    ex = MakerExecutor("shadow", settings_(orders_per_s=1.0, burst=2.0))
    await ex.on_input(target("0.40", "0.42"), 0.0)  # two places spend the bucket
    await ex.on_input(attrs.evolve(target("0.45", "0.47"), ts=0.1), 0.1)
    acts = [m.action for m in ex.pending if isinstance(m, QuoteAction)]
    assert acts == ["place", "place"]  # the replaces wait
    wake = ex.next_wake(0.1)
    assert wake is not None and 0.9 < wake <= 1.0 + 1e-9
    await ex.tick(wake)
    await ex.tick(wake + 1.0)
    acts = [(m.action, m.price) for m in ex.pending if isinstance(m, QuoteAction)]
    assert acts[2:] == [("replace", D("0.45")), ("replace", D("0.47"))]
    assert ex.next_wake(wake + 1.0) is None


async def ready_paper_maker(s: MakerSettings | None = None) -> tuple[MakerExecutor, PaperVenue]:
    venue = PaperVenue(latency_s=0.5, shrink_queue=False)

    async def read_kill() -> str | None:
        return None

    inner = TradingExecutor("paper", ExecutionConfig(), PaperGateway(venue), read_kill=read_kill)
    ex = MakerExecutor("paper", s or settings_(), inner)
    await ex.on_input(PortfolioState(ts=99.0, mode="paper", balance=D(1000), exposure=D(0)), 99.0)
    await ex.on_input(MarketInfo(ticker=T, event_ticker="E", series_ticker="KXBTC15M", status="active",
                                 close_ts=CLOSE, updated_ts=0.0), 99.0)
    # book: YES bids 0.40 x 300 (NO asks at 0.60), YES asks 0.50 x 100
    await ex.on_input(Quote(ts=99.0, ticker=T, yes_bid=D("0.40"), yes_ask=D("0.50"), recv_ts=99.0,
                            yes_asks=((D("0.50"), D(100)),), no_asks=((D("0.60"), D(300)),)), 99.0)
    await ex.tick(99.0)
    await ex.tick(99.0)
    assert inner.ready
    return ex, venue


async def test_paper_quote_rests_behind_the_displayed_size_and_fills_after_it_traded():
    ex, _venue = await ready_paper_maker()
    await ex.on_input(target("0.40", None), 100.0)
    await ex.tick(100.6)  # the order meets the book after the latency: behind 300 at 0.40
    assert ex.resting(T, "yes") is not None and ex.resting(T, "yes").changeable  # type: ignore[union-attr]

    def sell(n: int, i: int) -> Trade:  # a taker buying NO at 0.60 = selling YES into the 0.40 bid
        return Trade(ts=101.0 + i, ticker=T, trade_id=f"t{i}", yes_price=D("0.40"), count=D(n), taker_side="no",
                     recv_ts=101.0 + i)

    for i in range(3):
        await ex.on_input(sell(100, i), 101.0 + i)
    assert not [m for m in ex.pending if isinstance(m, Fill)]  # 300 ahead of it: not yet
    await ex.on_input(sell(1, 3), 104.0)
    fills = [m for m in ex.pending if isinstance(m, Fill)]
    assert len(fills) == 1 and fills[0].count == 1 and fills[0].price == D("0.40") and not fills[0].is_taker
    acts = [m for m in ex.pending if isinstance(m, QuoteAction) and m.action == "fill"]
    assert len(acts) == 1 and acts[0].client_order_id == fills[0].order_id.removeprefix("paper-")


async def test_paper_kill_switch_cancels_every_quote():
    kill: list[str | None] = [None]
    venue = PaperVenue(latency_s=0.5)

    async def read_kill() -> str | None:
        return kill[0]

    inner = TradingExecutor("paper", ExecutionConfig(), PaperGateway(venue), read_kill=read_kill, kill_poll_s=1.0)
    ex = MakerExecutor("paper", settings_(), inner)
    await ex.on_input(PortfolioState(ts=99.0, mode="paper", balance=D(1000), exposure=D(0)), 99.0)
    await ex.on_input(MarketInfo(ticker=T, event_ticker="E", series_ticker="KXBTC15M", status="active",
                                 close_ts=CLOSE, updated_ts=0.0), 99.0)
    await ex.tick(99.0)
    await ex.tick(99.0)
    await ex.on_input(target("0.40", "0.42"), 100.0)
    await ex.tick(100.6)
    assert len(inner.manager.open_orders()) == 2
    kill[0] = "operator"
    await ex.tick(102.0)
    await ex.tick(103.0)
    assert inner.manager.open_orders() == []
    # and nothing new goes out while it holds
    await ex.on_input(attrs.evolve(target("0.30", "0.30"), ts=104.0), 104.0)
    refused = [m for m in ex.pending if isinstance(m, QuoteAction) and m.action == "refused"]
    assert refused and all(a.reason.startswith("kill_switch") for a in refused)


async def test_targets_of_long_closed_markets_are_forgotten():
    ex = MakerExecutor("shadow", settings_())
    await ex.on_input(target("0.40", "0.42"), 1.0)
    await ex.tick(CLOSE + 4000.0)
    assert T in ex.targets  # still quoting there: kept
    await ex.on_input(attrs.evolve(target(None, None, ("cutoff",)), ts=CLOSE), CLOSE + 4000.0)
    ex._next_prune = 0.0
    await ex.tick(CLOSE + 4001.0)
    assert ex.targets == {} and ex.shadow == {}


async def test_a_refused_quote_is_tried_again_later_without_spinning():
    ex, venue = await ready_paper_maker()
    # the book moved: a YES bid at 0.50 would take the 0.50 ask (post only cross)
    await ex.on_input(target("0.50", None), 100.0)
    await ex.tick(100.6)
    refused = [m for m in ex.pending if isinstance(m, QuoteAction) and m.action == "refused"]
    assert [a.reason for a in refused] == ["post only cross"]
    assert ex.dirty[T] >= 100.6 + 4.0  # tried again later, not at once: no busy loop
    venue.on_quote(Quote(ts=103.0, ticker=T, yes_bid=D("0.40"), yes_ask=D("0.52"), recv_ts=103.0,
                         yes_asks=((D("0.52"), D(100)),), no_asks=((D("0.60"), D(300)),)))
    await ex.tick(106.0)
    await ex.tick(106.6)
    assert ex.resting(T, "yes") is not None
