"""The feed actors as thin loops: what they send to their Outbox for given venue behaviour.
Venues are loopback fakes; the kbot clock runs 100x so the actor cadences pass quickly."""

from __future__ import annotations

import json
from decimal import Decimal
from functools import partial

import pytest
import trio
from kfakes import FakeRest, FakeWs, event, market, series, start_rest, start_ws

from actors.kalshi_rest_feed import RefreshMarket, run_kalshi_rest_feed
from actors.kalshi_ws_feed import Subscribe, Unsubscribe, WatchState, run_kalshi_ws_feed
from actors.spot_feed import run_spot_feed
from kbot.actorkit import ActorStats, Collect
from kbot.clock import ScaledClock
from kbot.messages import EventInfo, FeedStatus, MarketInfo, MarketSettled, Quote, SeriesInfo, SpotTick
from kbot.venues.backoff import BackoffPolicy
from kbot.venues.config import KalshiRestConfig, KalshiRestFeedConfig, KalshiWsConfig, SpotFeedConfig, WsLinkConfig
from kbot.venues.kalshi.errors import KalshiAuthError
from kbot.venues.kalshi.rest import KalshiRestClient
from kbot.venues.wslink import LinkHealth
from supervision import Mailbox

D = Decimal
FAST_REST = KalshiRestConfig(tier="prestige", max_retries_5xx=1, backoff_5xx=BackoffPolicy(initial_s=0.001, max_s=0.002))
FEED = KalshiRestFeedConfig(discovery_s=10, poll_s=0.02, settlement_s=10, series_refresh_s=100, full_refresh_s=1000,
                            ws_stale_s=0.05, min_period_real_s=0.01)


async def wait_for(pred, timeout=5.0):
    with trio.fail_after(timeout):
        while not pred():
            await trio.sleep(0.005)


@pytest.fixture
async def rest_env(nursery, creds):
    fake = FakeRest(creds.private_key.public_key(), page_size=50)
    fake.markets = [
        market("KXBTCD-26AUG2317-T86749.99", "KXBTCD-26AUG2317"),
        market("KXBTC-26AUG2317-B86875", "KXBTC-26AUG2317", strike_type="between", floor=86750, cap=86999.99),
        market("KXBTC15M-26AUG171315-15", "KXBTC15M-26AUG171315", strike_type="greater_or_equal", floor=63000.0,
               status="determined", result="yes", close="2026-08-17T17:15:00Z"),
        market("KXBTC15M-26AUG171300-00", "KXBTC15M-26AUG171300", strike_type="greater_or_equal", floor=63100.0,
               status="finalized", result="no", settlement_value="0.0000", close="2026-08-17T17:00:00Z"),
    ]
    fake.series = {s: series(s) for s in ("KXBTC", "KXBTCD", "KXBTC15M")}
    fake.events = [event("KXBTCD-26AUG2317", "KXBTCD", fee_multiplier_override=0.5)]
    url = await start_rest(nursery, fake)
    clock = ScaledClock(epoch0=1_787_000_000.0, speed=100.0)
    client = KalshiRestClient(url, creds, cfg=FAST_REST, clock=clock)
    yield fake, client, clock
    await client.aclose()


async def test_rest_feed_discovery_fees_quotes_and_settlements(nursery, rest_env):
    fake, client, clock = rest_env
    out, stats = Collect(), ActorStats("kalshi_rest")
    nursery.start_soon(partial(run_kalshi_rest_feed, FEED, client, out, stats, clock))  # no WS wired: poll quotes
    await wait_for(lambda: len(out.of(MarketSettled)) == 2 and len(out.of(Quote)) >= 4)
    assert {s.ticker for s in out.of(SeriesInfo)} == {"KXBTC", "KXBTCD", "KXBTC15M"}
    assert [e.event_ticker for e in out.of(EventInfo)] == ["KXBTCD-26AUG2317"]
    infos = {m.ticker: m for m in out.of(MarketInfo)}
    assert set(infos) == {"KXBTCD-26AUG2317-T86749.99", "KXBTC-26AUG2317-B86875"}
    assert infos["KXBTCD-26AUG2317-T86749.99"].fee_multiplier == D("0.5")  # event override
    assert infos["KXBTC-26AUG2317-B86875"].fee_multiplier == D(1)
    q = out.of(Quote)[0]
    assert q.source == "rest" and q.yes_bid == D("0.45") and q.yes_ask == D("0.47")
    settled = {(m.ticker, m.result, m.settlement_value, m.final, m.source) for m in out.of(MarketSettled)}
    assert settled == {("KXBTC15M-26AUG171315-15", "yes", D(1), False, "rest"), ("KXBTC15M-26AUG171300-00", "no", D(0), True, "rest")}
    # more cycles: unchanged MarketInfo is not re-sent, settlements are sent once
    n_info = len(out.of(MarketInfo))
    await wait_for(lambda: sum(1 for m, p, q, _ in fake.log if q.get("status") == "settled") >= 3)
    assert len(out.of(MarketInfo)) == n_info and len(out.of(MarketSettled)) == 2
    assert stats.msgs_out == len(out.items) and stats.msgs_in > 0
    sweeps = [q for m, p, q, _ in fake.log if q.get("status") in ("closed", "settled")]
    assert all(("min_close_ts" in q) != ("min_settled_ts" in q) for q in sweeps)


async def test_rest_feed_polls_quotes_only_while_ws_down(nursery, rest_env):
    _fake, client, clock = rest_env
    health = LinkHealth(connected=True)
    health.frame(clock.now(), trio.current_time())
    out = Collect()

    async def keep_alive():
        while health.connected:
            health.frame(clock.now(), trio.current_time())
            await trio.sleep(0.001)

    nursery.start_soon(keep_alive)
    nursery.start_soon(partial(run_kalshi_rest_feed, FEED, client, out, ActorStats("r"), clock, ws_health=health))
    await wait_for(lambda: len(out.of(MarketInfo)) == 2)
    await trio.sleep(0.1)  # several poll periods
    assert out.of(Quote) == []
    health.connected = False
    await wait_for(lambda: len(out.of(Quote)) >= 4)
    assert {q.source for q in out.of(Quote)} == {"rest"}


async def test_rest_feed_survives_5xx_and_reports_degraded(nursery, rest_env):
    fake, client, clock = rest_env
    fake.faults = [("/markets", 503, {"error": {"code": "service_unavailable", "message": "down"}})] * 6
    out, stats = Collect(), ActorStats("r")
    nursery.start_soon(partial(run_kalshi_rest_feed, FEED, client, out, stats, clock))
    await wait_for(lambda: len(out.of(MarketInfo)) == 2)
    statuses = [m.status for m in out.of(FeedStatus)]
    assert statuses[0] == "degraded" and "ok" in statuses and stats.errors >= 1


async def test_rest_feed_auth_error_is_fatal(nursery, rest_env):
    fake, client, clock = rest_env
    fake.faults = [("/series", 401, {"error": {"code": "unauthorized", "message": "bad"}})]
    with pytest.raises(KalshiAuthError):
        with trio.fail_after(5):
            await run_kalshi_rest_feed(FEED, client, Collect(), ActorStats("r"), clock)


async def test_rest_feed_refresh_market_on_request(nursery, rest_env):
    fake, client, clock = rest_env
    control: Mailbox = Mailbox(10)
    out = Collect()
    nursery.start_soon(partial(run_kalshi_rest_feed, FEED, client, out, ActorStats("r"), clock, control=control))
    await wait_for(lambda: len(out.of(MarketInfo)) == 2)
    fake.markets[0]["floor_strike"] = 86999.99  # e.g. a metadata_updated
    await control.send(RefreshMarket("KXBTCD-26AUG2317-T86749.99"))
    await wait_for(lambda: len(out.of(MarketInfo)) == 3)
    assert out.of(MarketInfo)[-1].floor_strike == 86999.99 and out.of(MarketInfo)[-1].fee_multiplier == D("0.5")


async def test_ws_feed_control_and_restart_keeps_watchlist(nursery, rsa_key, creds):
    fake = FakeWs(rsa_key.public_key())
    url = await start_ws(nursery, fake)
    cfg = KalshiWsConfig(use_yes_price=False, backoff=BackoffPolicy(initial_s=0.01, max_s=0.02), link=WsLinkConfig(silence_s=5), tick_s=0.05)
    clock = ScaledClock(epoch0=1_787_000_000.0, speed=1.0)
    control: Mailbox = Mailbox(100)
    state = WatchState()
    out, stats = Collect(), ActorStats("kalshi_ws")
    health = LinkHealth()
    T1, T2 = "KXBTCD-26AUG2317-T86749.99", "KXBTC15M-26AUG171330-30"
    async with trio.open_nursery() as n1:
        n1.start_soon(partial(run_kalshi_ws_feed, cfg, url, creds, out, stats, clock, control=control, state=state, health=health))
        await control.send(Subscribe([T1, T2]))
        conn = await fake.wait_conn(1)
        await wait_for(lambda: conn.sid_of("orderbook_delta") is not None)
        await conn.snapshot(T1, [["0.4000", "1.00"]], [["0.5000", "2.00"]])
        await wait_for(lambda: any(isinstance(m, Quote) and m.ticker == T1 for m in out.items))
        await control.send(Unsubscribe(T2))
        await conn.wait_cmd(lambda c: c["cmd"] == "update_subscription" and c["params"]["action"] == "delete_markets")
        assert state.watched == {T1}
        assert health.connected and stats.msgs_out == len(out.items) and stats.state == "connected"
        n1.cancel_scope.cancel()  # the actor "crashes"
    # a new incarnation with the same WatchState resubscribes what was watched
    async with trio.open_nursery() as n2:
        n2.start_soon(partial(run_kalshi_ws_feed, cfg, url, creds, Collect(), ActorStats("kalshi_ws"), clock, state=state))
        conn2 = await fake.wait_conn(2)
        sub = await conn2.wait_cmd(lambda c: c["cmd"] == "subscribe" and c["params"]["channels"] == ["orderbook_delta"])
        assert sub["params"]["market_tickers"] == [T1]
        n2.cancel_scope.cancel()


async def test_spot_actor_sends_ticks_and_counts(nursery):
    import trio_websocket

    async def handler(request):
        ws = await request.accept()
        await ws.get_message()  # the subscribe
        for i in range(3):
            await ws.send_message(json.dumps({"channel": "ticker", "type": "update",
                                              "data": [{"symbol": "BTC/USD", "bid": 100.0 + i, "ask": 101.0 + i, "last": 100.5 + i}]}))
        await ws.send_message("{bad")
        await trio.sleep_forever()

    server = await nursery.start(trio_websocket.serve_websocket, handler, "127.0.0.1", 0, None)
    cfg = SpotFeedConfig(exchange="kraken", url=f"ws://127.0.0.1:{server.port}", link=WsLinkConfig(silence_s=5))
    out, stats = Collect(), ActorStats("spot:kraken")
    nursery.start_soon(partial(run_spot_feed, cfg, out, stats, ScaledClock(epoch0=1_787_000_000.0)))
    await wait_for(lambda: len(out.of(SpotTick)) == 3 and stats.errors == 1)
    assert [t.price for t in out.of(SpotTick)] == [100.5, 101.5, 102.5]
    assert stats.msgs_in == 3 and stats.state == "connected" and stats.msgs_out == 4  # + FeedStatus


async def test_disabled_spot_actor_idles(autojump_clock):
    stats = ActorStats("spot:binance")
    with trio.move_on_after(3600):
        await run_spot_feed(SpotFeedConfig(exchange="binance", enabled=False), Collect(), stats, ScaledClock(epoch0=0.0))
    assert stats.state == "disabled"
