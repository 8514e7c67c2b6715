"""Executor and ledger actors with fake mailboxes and a virtual clock."""

from decimal import Decimal as D

import trio

from actors.executor import ShadowExecutor, run_executor
from actors.ledger import LedgerState, run_ledger
from kbot.actorkit import ActorStats, Collect
from kbot.clock import ScaledClock
from kbot.ledger import Book
from kbot.messages import Decision, Edge, Fill, LedgerUpdate, MarketSettled, OrderEvent, PortfolioState, Position, Quote
from supervision import Backoff, ChildSpec, LatestMailbox, Mailbox, Supervisor

EDGE = Edge(ts=1.0, ticker="M", event_ticker="E", series_ticker="S", strike_type="greater", floor_strike=1.0,
            cap_strike=None, close_ts=100.0, spot=1.0, spot_avg_60s=None, sigma=0.5, sigma_source="ewma",
            horizon_s=99.0, prob_yes=0.6, yes_bid=D("0.40"), yes_ask=D("0.42"), no_bid=D("0.58"), no_ask=D("0.60"))


def decision(i, action="TAKE", ticker="M"):
    return Decision(decision_id=f"d{i}", ts=float(i), ticker=ticker, action=action, side="yes" if action == "TAKE" else None,
                    count=D(10) if action == "TAKE" else D(0), limit_price=D("0.42") if action == "TAKE" else None,
                    prob_yes=0.6, ev=0.16, fee=D("0.1706"), reasons=(), edge=EDGE)


async def test_shadow_executor_fills_at_limit_with_fee():
    evs = await ShadowExecutor().execute(decision(1), 5.0)
    assert [type(e).__name__ for e in evs] == ["OrderEvent", "Fill", "OrderEvent"]
    f = evs[1]
    assert (f.fill_id, f.price, f.count, f.fee, f.mode, f.side, f.decision_id) == (
        "shadow-d1:1", D("0.42"), D(10), D("0.1706"), "shadow", "yes", "d1")
    assert await ShadowExecutor().execute(decision(2, "PASS"), 5.0) == []


class FlakyExecutor(ShadowExecutor):
    def __init__(self) -> None:
        self.calls = 0

    async def execute(self, d, now):
        self.calls += 1
        if self.calls == 2:
            raise RuntimeError("venue hiccup")
        return await super().execute(d, now)


async def test_executor_restart_neither_loses_nor_duplicates(autojump_clock):
    inbox: Mailbox[Decision] = Mailbox(100)
    out = Collect()
    executed: set[str] = set()
    ex = FlakyExecutor()
    clock = ScaledClock(epoch0=0.0)
    stats = ActorStats("executor")

    async def child():
        await run_executor(inbox, out, ex, clock=clock, stats=stats, executed=executed)

    sup = Supervisor("s", [ChildSpec("executor", child, backoff=Backoff.none())], log_events=False)
    async with trio.open_nursery() as n:
        await n.start(sup.run)
        for i in range(4):
            inbox.send_nowait(decision(i))
        inbox.send_nowait(decision(9, "PASS"))
        await trio.sleep(1)
        n.cancel_scope.cancel()
    fills = out.of(Fill)
    assert sorted(f.decision_id for f in fills) == ["d0", "d1", "d2", "d3"]
    assert executed == {"d0", "d1", "d2", "d3"} and stats.errors == 1


def fill(fid, ticker="M", side="yes", count="10", price="0.42", fee="0.1706", ts=1000.0):
    return Fill(fill_id=fid, order_id="o", ts=ts, ticker=ticker, side=side, action="buy", count=D(count),
                price=D(price), fee=D(fee), is_taker=True, mode="shadow")


async def test_ledger_actor_positions_marks_settlement_and_portfolio(autojump_clock):
    inbox: Mailbox = Mailbox(100)
    marks: LatestMailbox[Quote] = LatestMailbox(key=lambda q: q.ticker)
    out, pf_out = Collect(), Collect()
    state = LedgerState(Book("shadow", D(1000)))
    state.book.deposit(0.0)
    clock = ScaledClock(epoch0=1000.0)
    stats = ActorStats("ledger")
    async with trio.open_nursery() as n:
        n.start_soon(lambda: run_ledger(inbox, marks, out, pf_out, state, clock=clock, stats=stats, publish_every_s=5))
        await trio.sleep(0.1)
        inbox.send_nowait(OrderEvent(ts=1000.0, order_id="o", client_order_id="d", decision_id="d", ticker="M",
                                     side="yes", action="buy", count=D(10), price=D("0.42"), status="new", mode="shadow"))
        inbox.send_nowait(fill("f1"))
        inbox.send_nowait(fill("f1"))  # duplicate delivery
        inbox.send_nowait(fill("bad", count="-1"))  # malformed: counted, not applied
        await trio.sleep(0.1)
        marks.send_nowait(Quote(ts=1001.0, ticker="M", yes_bid=D("0.50"), yes_ask=D("0.52"), no_bid=D("0.48"),
                                no_ask=D("0.50"), recv_ts=1001.0))
        await trio.sleep(6)
        pf = pf_out.items[-1]
        assert isinstance(pf, PortfolioState)
        assert pf.balance == D(1000) - D("4.20") - D("0.1706")
        assert pf.exposure == D("4.20") and pf.open_positions == 1
        assert pf.open_orders == (("M", 1),)
        assert pf.equity == pf.balance + D("5.00") and pf.unrealized_pnl == D("0.80")
        inbox.send_nowait(MarketSettled(ts=1010.0, ticker="M", result="yes", settlement_value=D(1), source="ws", final=True))
        inbox.send_nowait(MarketSettled(ts=1011.0, ticker="M", result="yes", settlement_value=D(1), source="rest", final=True))
        await trio.sleep(1)
        n.cancel_scope.cancel()
    updates = out.of(LedgerUpdate)
    entries = [e for u in updates for e in u.entries]
    assert [e.kind for e in entries] == ["buy", "fee", "settlement", "realized_pnl"]
    assert all(u.position is not None and u.position.ticker == "M" for u in updates)
    pos = [p for p in [*out.of(Position), *(u.position for u in updates)] if p.status == "settled"]
    assert len({p.closed_ts for p in pos}) == 1 and pos[-1].realized_pnl == D("10") - D("4.20") - D("0.1706")
    last = pf_out.items[-1]
    assert last.exposure == 0 and last.daily_realized_pnl == pos[-1].realized_pnl
    assert stats.errors == 1


async def test_ledger_restart_delivers_pending_outputs(autojump_clock):
    inbox: Mailbox = Mailbox(100)
    marks: LatestMailbox[Quote] = LatestMailbox(key=lambda q: q.ticker)
    state = LedgerState(Book("shadow"))
    state.pending.append(("out", "left-over"))
    out, pf_out = Collect(), Collect()
    with trio.move_on_after(1):
        await run_ledger(inbox, marks, out, pf_out, state, clock=ScaledClock(epoch0=0.0), stats=ActorStats("l"))
    assert out.items[0] == "left-over" and not state.pending


async def test_ledger_publishes_the_portfolio_at_start(autojump_clock):
    """The decision actor gates every candidate on the portfolio (no_portfolio until it has one):
    the ledger publishes it at once, not after its first publish interval."""
    state = LedgerState(Book("shadow", D(1000)))
    state.book.deposit(0.0)
    out, pf_out = Collect(), Collect()
    with trio.move_on_after(0.5):
        await run_ledger(Mailbox(10), LatestMailbox(key=lambda q: q.ticker), out, pf_out, state,
                         clock=ScaledClock(epoch0=0.0), stats=ActorStats("l"), publish_every_s=10)
    assert len(pf_out.items) == 1 and pf_out.items[0].balance == D(1000)
