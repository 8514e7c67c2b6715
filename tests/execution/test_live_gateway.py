"""Live mode's gateway against the simulated venue, over its real REST protocol: create (IOC,
GTC, post-only), amend, decrease, cancel, batch cancel, queries, the account snapshot; and the
error paths: an order applied whose answer is lost (resolved by a query, one order at the
venue), a 5xx storm past the retries (unknown, then found absent), refusals."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest
import trio

from kbot.clock import ScaledClock
from kbot.execution.live import LiveGateway
from kbot.execution.orders import ManagedOrder, OrderManager, OrderSpec
from kbot.sim import SimConfig, running_sim
from kbot.sim.auth import demo_key
from kbot.venues.backoff import BackoffPolicy
from kbot.venues.config import KalshiRestConfig
from kbot.venues.kalshi.auth import Credentials
from kbot.venues.kalshi.rest import KalshiRestClient

T0 = 1_790_001_000.0 - 1_790_001_000.0 % 900 + 120


@pytest.fixture(scope="module")
def key_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("simkeys")
    demo_key(d)
    return d


@pytest.fixture
async def venue(key_dir: Path) -> AsyncIterator[tuple[Any, LiveGateway, KalshiRestClient]]:
    clock = ScaledClock(epoch0=T0, speed=1.0)
    cfg = SimConfig(seed=4, data_dir=str(key_dir), ladder_strikes=4, brackets=2, hourly_ahead=1)
    async with running_sim(cfg, clock=clock) as ep:
        creds = Credentials.from_files(ep.key_id, str(ep.private_key_path))
        rest_cfg = KalshiRestConfig(max_retries_5xx=1, backoff_5xx=BackoffPolicy(initial_s=0.01, max_s=0.02))
        async with KalshiRestClient(ep.rest_url, creds, cfg=rest_cfg, clock=clock) as rest:
            yield ep, LiveGateway(rest), rest


async def quoted_market(ep: Any) -> tuple[str, D, D]:
    """An open KXBTCD market with both sides quoted: (ticker, best YES ask, best YES bid)."""
    ex = ep.sim.exchange
    with trio.fail_after(20):
        while True:
            for t, m in ex.markets.items():
                if m.series_ticker == "KXBTCD" and m.status == "active" and t in ex.engines:
                    book = ex.engines[t].book
                    ask, bid = book.best_ask(), book.best_bid()
                    if ask is not None and bid is not None and 500 <= ask <= 9500 and ask - bid >= 200:
                        return t, D(ask) / 10_000, D(bid) / 10_000
            await trio.sleep(0.2)


def order(m: OrderManager, i: int, ticker: str, count: str, price: str, tif: str = "immediate_or_cancel",
          post_only: bool = False, now: float = T0) -> ManagedOrder:
    o = m.open(f"d{i}", OrderSpec(ticker=ticker, side="yes", count=D(count), price=D(price), time_in_force=tif,  # type: ignore[arg-type]
                                   post_only=post_only), now)
    assert o is not None
    return o


async def test_a_taker_fills_the_account_shows_it_and_refusals_end_orders(venue):
    ep, gw, _ = venue
    ticker, ask, _ = await quoted_market(ep)
    m = OrderManager("live")
    o = order(m, 1, ticker, "2", str(ask))
    now = ep.clock.now()
    r = await gw.place(o.client_order_id, o.spec, now)
    assert r.kind == "ack" and r.order_id and r.filled == D(2) and r.remaining == 0
    fills = await gw.poll_fills(now - 60, ep.clock.now())
    assert fills is not None and sum(f.count for f in fills if f.order_id == r.order_id) == D(2)
    snap = await gw.snapshot(ep.clock.now())
    assert not isinstance(snap, str) and snap.positions == {ticker: D(2)} and snap.orders == {}
    acct = ep.sim.exchange.accounts[ep.sim.user_for(ep.key_id)]
    assert snap.balance == acct.balance()
    m.on_ack(o, order_id=r.order_id, now=now, filled=r.filled, remaining=r.remaining)
    q = await gw.query(o, ep.clock.now())
    assert q.kind == "ack" and q.order is not None and q.order.status == "filled" and q.order.filled_count == 2
    assert (await gw.confirm([ticker, "KXBTCD-NOPE"], ep.clock.now())) == {ticker: D(2), "KXBTCD-NOPE": None}
    # refusals end the order: a post-only that would cross, an unknown market
    o3 = order(m, 3, ticker, "1", str(ask), tif="good_till_canceled", post_only=True)
    r = await gw.place(o3.client_order_id, o3.spec, ep.clock.now())
    assert r.kind == "rejected"
    o4 = order(m, 4, "KXBTCD-NO-SUCH-MARKET", "1", "0.50")
    r = await gw.place(o4.client_order_id, o4.spec, ep.clock.now())
    assert r.kind == "rejected" and "400" in r.reason


async def test_resting_orders_amend_decrease_cancel_and_batch_cancel(venue):
    ep, gw, _ = venue
    ticker, _, bid = await quoted_market(ep)
    low = str(max(D("0.01"), bid - D("0.03")))
    m = OrderManager("live")
    os_ = [order(m, i, ticker, "5", low, tif="good_till_canceled") for i in range(3)]
    for o in os_:
        r = await gw.place(o.client_order_id, o.spec, ep.clock.now())
        assert r.kind == "ack" and r.remaining == D(5)
        m.on_ack(o, order_id=r.order_id or "", now=0.0, filled=r.filled, remaining=r.remaining)
    a = os_[0]
    r = await gw.amend(a, D(low) - D("0.01"), D(4), ep.clock.now())
    assert r.kind == "ack" and r.remaining == D(4)
    r = await gw.decrease(a, D(2), ep.clock.now())
    assert r.kind == "ack" and r.remaining == D(2)
    snap = await gw.snapshot(ep.clock.now())
    assert not isinstance(snap, str) and snap.orders is not None
    assert {ev.order_id for ev in snap.orders.values()} == {o.order_id for o in os_}
    assert snap.orders[a.order_id or ""].price == D(low) - D("0.01")
    [r] = await gw.cancel([a], ep.clock.now())
    assert (r.kind, r.final) == ("ack", "canceled")
    rs = await gw.cancel(os_[1:], ep.clock.now())  # batch
    assert [x.kind for x in rs] == ["ack", "ack"]
    snap = await gw.snapshot(ep.clock.now())
    assert not isinstance(snap, str) and snap.orders == {}
    [r] = await gw.cancel([a], ep.clock.now())  # already gone
    assert r.kind in ("ack", "not_found", "rejected")


async def test_a_lost_answer_is_found_by_query_once_and_a_5xx_storm_leaves_nothing(venue):
    ep, gw, _ = venue
    ticker, _, bid = await quoted_market(ep)
    m = OrderManager("live")
    o = order(m, 1, ticker, "3", str(max(D("0.01"), bid - D("0.03"))), tif="good_till_canceled")
    ep.sim.faults.inject("lost_reply", target="kalshi")  # applied, then answered 503
    r = await gw.place(o.client_order_id, o.spec, ep.clock.now())
    # the client retried the create (safe: same client order id) and got 409: outcome unknown
    assert r.kind == "unknown"
    q = await gw.query(o, ep.clock.now())
    assert q.kind == "ack" and q.order is not None and q.order.client_order_id == o.client_order_id
    user = ep.sim.user_for(ep.key_id)
    assert [x.client_order_id for x in ep.sim.exchange.user_orders(user)].count(o.client_order_id) == 1
    # an answer slower than request_timeout_s: abandoned, unknown; the order lands later and a
    # query finds it then (never resent)
    gw.request_timeout_s = 0.3
    o3 = order(m, 3, ticker, "3", str(max(D("0.01"), bid - D("0.04"))), tif="good_till_canceled")
    ep.sim.faults.inject("slow", target="kalshi", delay_s=1.0)
    r = await gw.place(o3.client_order_id, o3.spec, ep.clock.now())
    assert r.kind == "unknown" and "no answer within" in r.reason
    ep.sim.faults.clear("slow")
    with trio.fail_after(5):
        while (q := await gw.query(o3, ep.clock.now())).kind != "ack":
            assert q.kind == "not_found"
            await trio.sleep(0.2)
    gw.request_timeout_s = 5.0
    # a 5xx storm past the client's retries: unknown; the query then finds nothing placed
    o2 = order(m, 2, ticker, "3", str(max(D("0.01"), bid - D("0.03"))), tif="good_till_canceled")
    ep.sim.faults.inject("http_503", target="kalshi", burst=4)
    r = await gw.place(o2.client_order_id, o2.spec, ep.clock.now())
    assert r.kind == "unknown"
    ep.sim.faults.clear("http_503")
    q = await gw.query(o2, ep.clock.now())
    assert q.kind == "not_found" and q.complete
