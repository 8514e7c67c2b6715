"""The paper/live executor: TAKEs become orders once; guards (not reconciled, kill switch,
halts, staleness, the close cutoff) refuse and cancel; an answer that never came is resolved
by a query and never resent; a refused key stops trading; a fill for a settled market is
refused without reaching the ledger; reconciliation halts a market that disagrees."""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

import attrs
import pytest

from kbot.execution.config import ExecutionConfig, ReconcileConfig
from kbot.execution.orders import ManagedOrder, OrderSpec, OrderState
from kbot.execution.paper import PaperGateway, PaperVenue
from kbot.execution.reconcile import LedgerAdjustment, VenueSnapshot
from kbot.execution.trading import Reply, TradingExecutor
from kbot.ledger import Book
from kbot.messages import (
    Alert,
    Decision,
    Edge,
    Fill,
    MarketInfo,
    MarketSettled,
    OrderEvent,
    PortfolioState,
    Quote,
    Reconciliation,
)

CLOSE = 10_000.0


def edge(ticker: str = "M") -> Edge:
    return Edge(ts=1.0, ticker=ticker, event_ticker="E", series_ticker="S", strike_type="greater", floor_strike=1.0,
                cap_strike=None, close_ts=CLOSE, spot=1.0, spot_avg_60s=None, sigma=0.5, sigma_source="ewma",
                horizon_s=99.0, prob_yes=0.6, yes_bid=D("0.40"), yes_ask=D("0.44"), no_bid=D("0.56"),
                no_ask=D("0.60"))


def take(i: int, ts: float = 100.0, ticker: str = "M", count: str = "5", price: str = "0.45") -> Decision:
    return Decision(decision_id=f"d{i}", ts=ts, ticker=ticker, action="TAKE", side="yes", count=D(count),
                    limit_price=D(price), prob_yes=0.6, ev=0.1, fee=D("0.09"), reasons=(), edge=edge(ticker))


def portfolio(ts: float, cash: str = "1000", positions: tuple = ()) -> PortfolioState:
    return PortfolioState(ts=ts, mode="paper", balance=D(cash), exposure=D(0), positions=positions)


def book(ts: float, ticker: str = "M") -> Quote:
    return Quote(ts=ts, ticker=ticker, yes_bid=None, yes_ask=None, recv_ts=ts,
                 yes_asks=((D("0.44"), D(5)), (D("0.45"), D(10))), no_asks=((D("0.58"), D(7)),))


def of(msgs: list[Any], cls: type) -> list[Any]:
    return [m for m in msgs if isinstance(m, cls)]


async def ready_paper(cfg: ExecutionConfig | None = None, kill: list[str | None] | None = None) -> TradingExecutor:
    kill = kill if kill is not None else [None]

    async def read_kill() -> str | None:
        return kill[0]

    ex = TradingExecutor("paper", cfg or ExecutionConfig(), PaperGateway(PaperVenue(latency_s=0.5)), read_kill=read_kill)
    assert ex.refusal(take(0), OrderSpec(ticker="M", side="yes", count=D(1), price=D("0.5")), 100.0) == "not_reconciled"
    await ex.on_input(portfolio(99.0), 99.0)
    await ex.on_input(MarketInfo(ticker="M", event_ticker="E", series_ticker="S", status="active", close_ts=CLOSE,
                                 updated_ts=0.0), 99.0)
    await ex.on_input(book(99.0), 99.0)
    out = await ex.tick(99.0) + await ex.tick(99.0)
    assert ex.ready and [r.kind for r in of(out, Reconciliation)] == ["start"]
    return ex


async def test_paper_take_becomes_one_order_that_fills_after_the_latency():
    ex = await ready_paper()
    out = await ex.execute(take(1), 100.0)
    [ev] = of(out, OrderEvent)
    assert (ev.status, ev.order_id, ev.decision_id, ev.mode) == ("pending", "paper-kb-d1", "d1", "paper")
    assert await ex.execute(take(1), 100.1) == []  # the same decision again: no second order
    assert ex.gw.next_due() == 100.5 and ex.next_wake(100.0) <= 100.5
    out = await ex.tick(100.5)
    fills = of(out, Fill)
    assert [(f.price, f.count, f.decision_id) for f in fills] == [(D("0.44"), D(5), "d1")]
    assert of(out, OrderEvent)[-1].status == "filled"


async def test_guards_refuse_and_record_why():
    ex = await ready_paper()
    [ev] = of(await ex.execute(take(1, ts=50.0), 100.0), OrderEvent)
    assert ev.status == "rejected" and ev.reason.startswith("stale_decision")
    [ev] = of(await ex.execute(take(2, ts=CLOSE - 10), CLOSE - 10), OrderEvent)
    assert (ev.status, ev.reason) == ("rejected", "close_cutoff")
    ex.reconciler.halted["M"] = "test"
    [ev] = of(await ex.execute(take(3), 100.0), OrderEvent)
    assert ev.reason == "halted: test"


async def test_the_kill_switch_refuses_and_cancels_every_open_order():
    kill: list[str | None] = [None]
    ex = await ready_paper(ExecutionConfig(time_in_force="good_till_canceled"), kill)
    await ex.execute(take(1, price="0.42"), 100.0)
    await ex.tick(100.5)
    [o] = ex.manager.open_orders()
    assert o.state is OrderState.RESTING
    kill[0] = "operator: stop"
    await ex.tick(102.0)
    assert o.cancel_requested
    out = await ex.tick(102.5)
    assert of(out, OrderEvent)[-1].status == "canceled" and not ex.manager.open_orders()
    [ev] = of(await ex.execute(take(2), 103.0), OrderEvent)
    assert ev.reason == "kill_switch: operator: stop"
    # the decision actor's kill alert works the same way; its reset lifts it
    kill[0] = None
    await ex.tick(105.0)
    await ex.on_input(Alert(ts=106.0, kind="kill_switch", severity="critical", subject=None, message="tripped: loss"), 106.0)
    assert ex.refusal(take(3, ts=106.0), OrderSpec(ticker="M", side="yes", count=D(1), price=D("0.5")), 106.0)
    await ex.on_input(Alert(ts=107.0, kind="kill_switch", severity="info", subject=None, message="reset"), 107.0)
    assert ex.killed() is None


async def test_the_close_cutoff_cancels_resting_orders_before_the_close():
    ex = await ready_paper(ExecutionConfig(time_in_force="good_till_canceled", close_cutoff_s=30.0))
    await ex.execute(take(1, price="0.42"), 100.0)
    await ex.tick(100.5)
    assert ex.next_wake(101.0) <= CLOSE - 30.0
    await ex.tick(CLOSE - 30.0)
    out = await ex.tick(CLOSE - 29.5)
    assert of(out, OrderEvent)[-1].status == "canceled" and of(out, OrderEvent)[-1].reason == "close_cutoff"


async def test_a_fill_for_a_settled_market_is_refused_and_flagged_without_reaching_the_ledger():
    ex = await ready_paper()
    await ex.on_input(MarketSettled(ts=200.0, ticker="M", result="yes", settlement_value=D(1), source="ws"), 200.0)
    late = Fill(fill_id="late", order_id="v9", ts=201.0, ticker="M", side="yes", action="buy", count=D(3),
                price=D("0.5"), fee=D("0.05"), is_taker=True, mode="paper")
    out = await ex.on_input(late, 201.0)
    assert of(out, Fill) == [] and of(out, LedgerAdjustment) == []
    [r] = of(out, Reconciliation)
    assert (r.kind, r.status) == ("fill", "mismatch") and "market_settled" in r.detail
    assert of(out, Alert)[0].severity == "critical"


def test_the_ledger_refuses_a_fill_for_a_settled_market_without_touching_cash():
    book = Book("live")
    book.deposit(0.0, D(100))

    def fill(fid: str) -> Fill:
        return Fill(fill_id=fid, order_id="o", ts=2.0, ticker="M", side="yes", action="buy", count=D(1),
                    price=D("0.5"), fee=D("0.01"), is_taker=True, mode="live")

    book.apply_fill(fill("f0"), "2026-01-01")
    book.settle(MarketSettled(ts=3.0, ticker="M", result="yes", settlement_value=D(1), source="ws"), "2026-01-01")
    cash = book.cash
    with pytest.raises(ValueError):
        book.apply_fill(fill("f1"), "2026-01-01")
    assert book.cash == cash and "f1" not in book.applied_fills


async def test_reconciliation_halts_a_market_whose_position_disagrees_then_clears():
    ex = await ready_paper(ExecutionConfig(reconcile=ReconcileConfig(every_s=10.0)))
    await ex.execute(take(1), 100.0)
    await ex.tick(100.5)  # the paper account now holds 5 M
    cash = str(ex.gw.venue.account.cash)  # type: ignore[attr-defined]
    await ex.on_input(portfolio(101.0, cash=cash, positions=()), 101.0)  # a ledger that missed the fill (not its cash)
    await ex.reconcile(105.0)
    out = await ex.reconcile(115.0)
    [r] = of(out, Reconciliation)
    assert (r.kind, r.ticker, r.status, r.ledger, r.venue) == ("position", "M", "mismatch", "0", "5")
    [ev] = of(await ex.execute(take(2, ts=116.0), 116.0), OrderEvent)
    assert ev.reason.startswith("halted")
    await ex.on_input(portfolio(120.0, cash=cash, positions=(("M", D(5)),)), 120.0)
    out = await ex.reconcile(125.0)
    assert [r.status for r in of(out, Reconciliation)] == ["cleared"]


# ----------------------------------------------------------------------------- live answers


@attrs.define
class FakeVenue:
    """A gateway whose answers the test scripts: what ``place`` says, what queries find."""

    place_replies: list[Reply]
    found: dict[str, OrderEvent] = attrs.field(factory=dict)
    placed: list[str] = attrs.field(factory=list)
    queries: int = 0
    late_fills: list[Fill] = attrs.field(factory=list)
    settlements: dict[str, Any] = attrs.field(factory=dict)
    positions: dict[str, D] = attrs.field(factory=dict)

    async def place(self, cid: str, spec: OrderSpec, now: float) -> Reply:
        self.placed.append(cid)
        return self.place_replies.pop(0)

    async def cancel(self, orders: list[ManagedOrder], now: float) -> list[Reply]:
        return [Reply(kind="ack", final="canceled") for _ in orders]

    async def amend(self, o: ManagedOrder, price: D, count: D, now: float) -> Reply:
        return Reply(kind="ack", order_id=o.order_id, remaining=count - o.filled)

    async def decrease(self, o: ManagedOrder, to: D, now: float) -> Reply:
        return Reply(kind="ack", order_id=o.order_id, remaining=to)

    async def query(self, o: ManagedOrder, now: float) -> Reply:
        self.queries += 1
        ev = self.found.get(o.client_order_id)
        return Reply(kind="ack", order_id=ev.order_id, order=ev) if ev else Reply(kind="not_found")

    async def lookup(self, order_id: str, now: float) -> Reply:
        return Reply(kind="not_found")

    async def snapshot(self, now: float) -> VenueSnapshot:
        return VenueSnapshot(ts=now, positions=dict(self.positions), orders={}, balance=D(1000),
                             settlements=dict(self.settlements))

    async def confirm(self, tickers: list[str], now: float) -> dict[str, D | None]:
        return {}

    async def poll_fills(self, since: float, now: float, ticker: str | None = None) -> list[Fill] | None:
        return list(self.late_fills)

    async def recent_orders(self, since: float, now: float) -> list[OrderEvent] | None:
        return []

    def on_data(self, msg: Any) -> list[Any]:
        return []

    def step(self, now: float) -> list[Any]:
        return []

    def next_due(self) -> float | None:
        return None

    def seed(self, positions: dict[str, D], cash: D, now: float) -> None:
        return None


async def ready_live(gw: FakeVenue) -> TradingExecutor:
    ex = TradingExecutor("live", ExecutionConfig(), gw)
    await ex.on_input(attrs.evolve(portfolio(99.0), mode="live"), 99.0)
    await ex.tick(99.0)
    await ex.tick(99.0)
    assert ex.ready
    return ex


def found(cid: str, status: str = "filled", filled: str = "5") -> OrderEvent:
    return OrderEvent(ts=101.0, order_id="v1", client_order_id=cid, decision_id=None, ticker="M", side="yes",
                      action="buy", count=D(5), price=D("0.45"), status=status, mode="live", filled_count=D(filled))


async def test_a_lost_answer_is_resolved_by_a_query_never_by_sending_again():
    gw = FakeVenue([Reply(kind="unknown", reason="retries exhausted")])
    ex = await ready_live(gw)
    assert await ex.execute(take(1), 100.0) == []
    [o] = ex.manager.open_orders()
    assert o.unknown and o.state is OrderState.PENDING
    await ex.tick(100.0)
    assert gw.queries == 1 and o.unknown  # not found yet: one miss
    gw.found["kb-d1"] = found("kb-d1")
    out = await ex.tick(102.5)
    assert gw.placed == ["kb-d1"] and not o.unknown and o.order_id == "v1"
    assert of(out, OrderEvent)[-1].status in ("partially_filled", "pending", "resting")
    fill = Fill(fill_id="f1", order_id="v1", ts=101.0, ticker="M", side="yes", action="buy", count=D(5),
                price=D("0.45"), fee=D("0.09"), is_taker=True, mode="live")
    out = await ex.on_input(fill, 103.0)
    assert of(out, Fill)[0].decision_id == "d1" and o.state is OrderState.FILLED


async def test_an_order_never_found_after_a_lost_answer_ends_rejected_after_two_misses():
    gw = FakeVenue([Reply(kind="unknown", reason="timeout")])
    ex = await ready_live(gw)
    await ex.execute(take(1), 100.0)
    await ex.tick(100.0)
    out = await ex.tick(103.0)
    [ev] = of(out, OrderEvent)
    assert (ev.status, ev.order_id) == ("rejected", "kb-d1") and ev.reason.startswith("not_placed")
    assert gw.placed == ["kb-d1"]


async def test_a_refusal_ends_the_order_and_a_refused_key_stops_trading_with_one_alert():
    gw = FakeVenue([Reply(kind="rejected", reason="HTTP 400 MARKET_INACTIVE"), Reply(kind="auth", reason="401")])
    ex = await ready_live(gw)
    [ev] = of(await ex.execute(take(1), 100.0), OrderEvent)
    assert ev.status == "rejected" and "MARKET_INACTIVE" in ev.reason
    out = await ex.execute(take(2), 100.0)
    assert of(out, OrderEvent)[0].reason == "auth_failed" and of(out, Alert)[0].kind == "kalshi_auth"
    [ev] = of(await ex.execute(take(3), 100.0), OrderEvent)
    assert ev.reason == "auth_failed" and gw.placed == ["kb-d1", "kb-d2"]


async def test_cancel_replace_decrease_and_cancel_of_a_resting_order():
    ex = await ready_paper(ExecutionConfig(time_in_force="good_till_canceled"))
    await ex.execute(take(1, price="0.42"), 100.0)
    await ex.tick(100.5)
    [o] = ex.manager.open_orders()
    assert o.state is OrderState.RESTING and (o.price, o.count) == (D("0.42"), D(5))
    out = await ex.amend(o.client_order_id, price=D("0.41"), count=D(8), now=101.0)
    await ex.tick(101.5)
    ev = of(out, OrderEvent)[-1]
    assert (ev.price, ev.count, ev.status) == (D("0.41"), D(8), "resting") and (o.price, o.count) == (D("0.41"), D(8))
    assert ex.gw.venue.orders[o.order_id].price == D("0.41")  # type: ignore[attr-defined]
    await ex.decrease(o.client_order_id, to=D(3), now=102.0)
    await ex.tick(102.5)
    assert o.count == D(3) and o.is_open
    await ex.cancel(o.client_order_id, 103.0, "strategy")
    out = await ex.tick(103.5)
    assert of(out, OrderEvent)[-1].status == "canceled" and o.reason == "strategy" and not o.is_open


async def test_a_settlement_reaches_the_ledger_after_the_markets_fills_still_on_their_way():
    gw = FakeVenue([Reply(kind="ack", order_id="v1", filled=D(5), remaining=D(0))])
    ex = await ready_live(gw)
    await ex.execute(take(1), 100.0)
    # the venue filled it; its fill has not reached kbot (a dropped socket) when the outcome does
    gw.late_fills.append(Fill(fill_id="f1", order_id="v1", ts=100.0, ticker="M", side="yes", action="buy",
                              count=D(5), price=D("0.45"), fee=D("0.09"), is_taker=True, mode="live"))
    settled = MarketSettled(ts=200.0, ticker="M", result="yes", settlement_value=D(1), source="ws")
    out = await ex.on_input(settled, 200.0)
    kinds = [type(m).__name__ for m in out if isinstance(m, (Fill, MarketSettled))]
    assert kinds == ["Fill", "MarketSettled"] and ex.kbot_settled["M"] == ("yes", D(5))
    assert ex.counts["fills_before_settlement"] == 1


async def test_a_settlement_kbot_never_heard_of_is_booked_from_the_venues_record():
    from kbot.messages import VenueSettlement

    gw = FakeVenue([Reply(kind="ack", order_id="v1", filled=D(5), remaining=D(0))])
    ex = await ready_live(gw)
    await ex.execute(take(1), 100.0)
    await ex.on_input(Fill(fill_id="f1", order_id="v1", ts=100.0, ticker="M", side="yes", action="buy", count=D(5),
                           price=D("0.45"), fee=D("0.09"), is_taker=True, mode="live"), 100.0)
    await ex.on_input(PortfolioState(ts=101.0, mode="live", balance=D(1000), exposure=D(0),
                                     positions=(("M", D(5)),)), 101.0)
    vs = VenueSettlement(ts=150.0, ticker="M", event_ticker=None, result="yes", yes_count=D(5), no_count=D(0),
                         yes_cost=D("2.25"), no_cost=D(0), revenue=D(5), fee=D(0), value=D(1))
    gw.settlements["M"] = vs
    out = await ex.stop(200.0)
    [s] = of(out, MarketSettled)
    assert (s.ticker, s.result, s.settlement_value, s.source) == ("M", "yes", D(1), "venue")
    assert ex.kbot_settled["M"] == ("yes", D(5)) and await ex.stop(201.0) == []


async def test_a_position_difference_is_checked_against_the_venues_fills_before_it_is_a_mismatch():
    gw = FakeVenue([])
    ex = await ready_live(gw)
    lost = Fill(fill_id="f9", order_id="v9", ts=100.0, ticker="M", side="yes", action="buy", count=D(4),
                price=D("0.45"), fee=D("0.05"), is_taker=True, mode="live")
    gw.positions["M"] = D(4)  # the venue has it; its fill message was lost
    await ex.on_input(attrs.evolve(portfolio(101.0), mode="live"), 101.0)
    assert of(await ex.reconcile(110.0), Reconciliation) == []  # first sighting
    gw.late_fills.append(lost)
    out = await ex.reconcile(130.0)  # second sighting: the fill is fetched instead of an alarm
    assert of(out, Reconciliation) == [r for r in of(out, Reconciliation) if r.status == "found"]
    assert [f.fill_id for f in of(out, Fill)] == ["f9"] and not ex.reconciler.halted


@attrs.define
class HangingSnapshots(FakeVenue):
    hang: bool = False

    async def snapshot(self, now: float) -> VenueSnapshot:
        if self.hang:
            import trio

            await trio.sleep_forever()
        return await super().snapshot(now)


async def test_a_tick_interrupted_after_it_applied_a_fill_loses_nothing(autojump_clock):
    import trio

    gw = HangingSnapshots([Reply(kind="ack", order_id="v1", filled=D(5), remaining=D(0))])
    ex = await ready_live(gw)
    await ex.execute(take(1), 100.0)
    gw.late_fills.append(Fill(fill_id="f1", order_id="v1", ts=100.0, ticker="M", side="yes", action="buy",
                              count=D(5), price=D("0.45"), fee=D("0.09"), is_taker=True, mode="live"))
    gw.hang = True
    ex.pending.clear()
    with trio.move_on_after(1):  # the stop comes while the tick waits for the venue's snapshot
        await ex.tick(200.0)  # polls the fill, applies it, then starts a reconciliation pass
    # the fill is queued for the ledger (the actor, or the drain after a stop, delivers it)
    assert [m.fill_id for m in ex.pending if isinstance(m, Fill)] == ["f1"]
    assert ex.manager.seen_fills >= {"f1"}


async def test_a_clean_stop_books_the_venues_fills_kbot_has_not_seen():
    gw = FakeVenue([Reply(kind="ack", order_id="v1", filled=D(5), remaining=D(0))])
    ex = await ready_live(gw)
    await ex.execute(take(1), 100.0)
    gw.late_fills.append(Fill(fill_id="f1", order_id="v1", ts=100.5, ticker="M", side="yes", action="buy",
                              count=D(5), price=D("0.45"), fee=D("0.09"), is_taker=True, mode="live"))
    out = await ex.stop(101.0)
    assert [f.fill_id for f in of(out, Fill)] == ["f1"] and not ex.manager.open_orders()
