"""Kalshi WS client against a loopback fake server: signed upgrade, subscriptions, quotes from the
local book, add/delete markets, sequence-gap recovery, reconnect + resubscribe, ping answers while
the consumer is blocked, silence detection, 401 is fatal."""

from __future__ import annotations

from decimal import Decimal

import pytest
import trio
import trio_websocket
import wsproto
from kfakes import FakeWs, start_ws
from wsproto.events import AcceptConnection, Request

from kbot.actorkit import Collect
from kbot.clock import WallClock
from kbot.messages import FeedStatus, Quote
from kbot.venues.backoff import BackoffPolicy
from kbot.venues.config import KalshiWsConfig, WsLinkConfig
from kbot.venues.kalshi.errors import KalshiAuthError
from kbot.venues.kalshi.ws import KalshiWsClient

D = Decimal
T1, T2 = "KXBTCD-26AUG2317-T86749.99", "KXBTC15M-26AUG171330-30"

CFG = KalshiWsConfig(
    use_yes_price=False,
    backoff=BackoffPolicy(initial_s=0.01, max_s=0.05),
    link=WsLinkConfig(silence_s=5, ping_timeout_s=1, connect_timeout_s=2),
    tick_s=0.02,
    resync_timeout_s=0.3,
)


async def wait_for(pred, timeout=5.0):
    with trio.fail_after(timeout):
        while not pred():
            await trio.sleep(0.005)


def book_quotes(out: Collect):
    return [m for m in out.items if isinstance(m, Quote) and m.source == "book"]


@pytest.fixture
async def ws_env(nursery, rsa_key, creds):
    fake = FakeWs(rsa_key.public_key())
    url = await start_ws(nursery, fake)
    out = Collect()
    client = KalshiWsClient(url, creds, CFG, WallClock())
    return fake, url, client, out


async def test_signed_handshake_subscribe_and_quotes(nursery, ws_env):
    fake, _url, client, out = ws_env
    await client.watch([T1])
    nursery.start_soon(client.run, out.send)
    conn = await fake.wait_conn(1)
    assert fake.handshakes == [True]
    ob = await conn.wait_cmd(lambda c: c["cmd"] == "subscribe" and c["params"]["channels"] == ["orderbook_delta"])
    assert ob["params"] == {"channels": ["orderbook_delta"], "market_tickers": [T1], "use_yes_price": False}
    await wait_for(lambda: conn.sid_of("orderbook_delta") is not None)
    await conn.snapshot(T1, [["0.4000", "10.00"]], [["0.5500", "3.00"]])
    await conn.delta(T1, "yes", "0.4100", "2.00")
    await wait_for(lambda: len(book_quotes(out)) >= 2)
    q = book_quotes(out)[-1]
    assert (q.yes_bid, q.yes_ask, q.yes_bid_size) == (D("0.41"), D("0.45"), D(2))
    # the registry adds a market: update_subscription add_markets on the existing sid
    await client.watch([T2])
    add = await conn.wait_cmd(lambda c: c["cmd"] == "update_subscription" and c["params"]["action"] == "add_markets"
                              and c["params"]["sids"] == [conn.sid_of("orderbook_delta")])
    assert add["params"]["market_tickers"] == [T2]
    await client.unwatch([T1])
    await conn.wait_cmd(lambda c: c["cmd"] == "update_subscription" and c["params"]["action"] == "delete_markets")


async def test_recorder_hook_gets_every_frame(nursery, rsa_key, creds):
    fake = FakeWs(rsa_key.public_key())
    url = await start_ws(nursery, fake)
    seen = []
    client = KalshiWsClient(url, creds, CFG, WallClock(), recorder=lambda src, ts, text: seen.append((src, ts, text)))
    await client.watch([T1])
    nursery.start_soon(client.run, Collect().send)
    conn = await fake.wait_conn(1)
    await wait_for(lambda: conn.sid_of("orderbook_delta") is not None)
    await conn.snapshot(T1, [["0.4000", "1.00"]], [])
    await wait_for(lambda: any('"orderbook_snapshot"' in t for _, _, t in seen))
    assert {s for s, _, _ in seen} == {"kalshi_ws"} and all(isinstance(ts, float) for _, ts, _ in seen)
    assert any('"subscribed"' in t for _, _, t in seen)


async def test_reconnect_resubscribes_everything(nursery, ws_env):
    fake, _url, client, out = ws_env
    await client.watch([T1, T2])
    nursery.start_soon(client.run, out.send)
    conn = await fake.wait_conn(1)
    await wait_for(lambda: conn.sid_of("orderbook_delta") is not None)
    await conn.snapshot(T1, [["0.4000", "10.00"]], [["0.5500", "3.00"]])
    await wait_for(lambda: book_quotes(out))
    await conn.ws.aclose()  # server drops us
    conn2 = await fake.wait_conn(2)
    await wait_for(lambda: {s["channel"] for s in conn2.subs.values()} >= {"orderbook_delta", "ticker", "trade", "market_lifecycle_v2"})
    assert sorted(conn2.subs[conn2.sid_of("ticker")]["tickers"]) == sorted([T1, T2])
    assert fake.handshakes == [True, True]  # the reconnect is signed afresh
    stale = [q for q in book_quotes(out) if q.stale]
    assert [q.ticker for q in stale] == [T1]  # T2 never had a book
    statuses = [m.status for m in out.items if isinstance(m, FeedStatus)]
    assert statuses[:1] == ["connected"] and "disconnected" in statuses and "reconnecting" in statuses and statuses.count("connected") == 2
    await conn2.snapshot(T1, [["0.3000", "1.00"]], [])
    await wait_for(lambda: not book_quotes(out)[-1].stale and book_quotes(out)[-1].yes_bid == D("0.30"))


async def test_sequence_gap_recovered_with_get_snapshot(nursery, ws_env):
    fake, _url, client, out = ws_env
    await client.watch([T1])
    nursery.start_soon(client.run, out.send)
    conn = await fake.wait_conn(1)
    await wait_for(lambda: conn.sid_of("orderbook_delta") is not None)
    await conn.snapshot(T1, [["0.4000", "10.00"]], [["0.5500", "3.00"]])
    await conn.delta(T1, "yes", "0.4100", "1.00", skip=2)  # seq jumps
    req = await conn.wait_cmd(lambda c: c.get("params", {}).get("action") == "get_snapshot")
    assert req["params"]["market_tickers"] == [T1]
    await wait_for(lambda: book_quotes(out)[-1].stale)
    await conn.snapshot(T1, [["0.4200", "4.00"]], [["0.5000", "1.00"]], cmd_id=req["id"])
    await wait_for(lambda: not book_quotes(out)[-1].stale)
    assert book_quotes(out)[-1].yes_bid == D("0.42")
    assert client.session.counters.gaps == 1


async def test_pings_answered_while_consumer_blocked(nursery, rsa_key, creds):
    """The consumer stops reading (a full downstream mailbox): frames pile up and are dropped
    past the queue, but the socket is still read and the server's pings still get pongs."""
    fake = FakeWs(rsa_key.public_key())
    url = await start_ws(nursery, fake)
    blocked = trio.Event()
    out = Collect()

    async def stuck_emit(msg):
        out.send_nowait(msg)
        if isinstance(msg, Quote):
            await blocked.wait()  # never set

    cfg = KalshiWsConfig(use_yes_price=False, link=WsLinkConfig(queue_frames=20, silence_s=5, ping_timeout_s=1), tick_s=0.05)
    client = KalshiWsClient(url, creds, cfg, WallClock())
    await client.watch([T1])
    nursery.start_soon(client.run, stuck_emit)
    conn = await fake.wait_conn(1)
    await wait_for(lambda: conn.sid_of("orderbook_delta") is not None)
    await conn.snapshot(T1, [["0.4000", "10.00"]], [["0.5500", "3.00"]])
    for _ in range(300):
        await conn.delta(T1, "yes", "0.3000", "1.00")
    with trio.fail_after(3):
        for _ in range(5):
            await conn.ws.ping(b"heartbeat")  # waits for the pong
    await wait_for(lambda: client._link is not None and client._link.dropped > 0)
    assert not conn.closed


async def test_silent_server_without_pong_is_dropped_and_reconnected(nursery, creds):
    """A peer that accepts the upgrade and then goes dead (no frames, no pongs)."""
    accepted = []

    async def blackhole(stream):
        ws = wsproto.WSConnection(wsproto.ConnectionType.SERVER)
        while True:
            data = await stream.receive_some()
            if not data:
                return
            ws.receive_data(data)
            for ev in ws.events():
                if isinstance(ev, Request):
                    await stream.send_all(ws.send(AcceptConnection()))
                    accepted.append(trio.current_time())
                    await trio.sleep_forever()  # never read, never answer

    listeners = await nursery.start(trio.serve_tcp, blackhole, 0)
    port = listeners[0].socket.getsockname()[1]
    cfg = KalshiWsConfig(link=WsLinkConfig(silence_s=0.2, ping_timeout_s=0.2), backoff=BackoffPolicy(initial_s=0.01, max_s=0.02))
    client = KalshiWsClient(f"ws://127.0.0.1:{port}/trade-api/ws/v2", creds, cfg, WallClock())
    out = Collect()
    nursery.start_soon(client.run, out.send)
    await wait_for(lambda: len(accepted) >= 2)
    reasons = [m.detail for m in out.items if isinstance(m, FeedStatus) and m.status == "disconnected"]
    assert reasons and "silent" in reasons[0] and "no pong" in reasons[0]


async def test_streaming_stops_but_pongs_continue_reconnects(nursery, rsa_key, creds):
    """The server keeps the socket and answers pings but stopped streaming: after max_quiet_s
    without a frame (while markets are watched) the client reconnects."""
    fake = FakeWs(rsa_key.public_key())
    url = await start_ws(nursery, fake)
    cfg = KalshiWsConfig(use_yes_price=False, max_quiet_s=0.3, tick_s=0.02, link=WsLinkConfig(silence_s=0.1, ping_timeout_s=1),
                         backoff=BackoffPolicy(initial_s=0.01, max_s=0.02))
    client = KalshiWsClient(url, creds, cfg, WallClock())
    await client.watch([T1])
    out = Collect()
    nursery.start_soon(client.run, out.send)
    await fake.wait_conn(2)
    reasons = [m.detail for m in out.items if isinstance(m, FeedStatus) and m.status == "disconnected"]
    assert reasons and reasons[0].startswith("no data for")


async def test_upgrade_401_is_fatal(nursery, rsa_key, creds):
    fake = FakeWs(rsa_key.public_key())
    fake.reject_status = 401
    url = await start_ws(nursery, fake)
    client = KalshiWsClient(url, creds, CFG, WallClock())
    with pytest.raises(KalshiAuthError) as ei:
        with trio.fail_after(5):
            await client.run(Collect().send)
    assert ei.value.status == 401 and len(fake.handshakes) == 1


async def test_wrong_key_is_refused_by_verifying_server(nursery, rsa_key):
    from kbot.venues.kalshi import auth

    fake = FakeWs(rsa_key.public_key())
    url = await start_ws(nursery, fake)
    other = auth.Credentials("k", auth.generate_key_pair(1024))
    client = KalshiWsClient(url, other, CFG, WallClock())
    with pytest.raises(KalshiAuthError):
        with trio.fail_after(5):
            await client.run(Collect().send)
    assert fake.handshakes == [False]


async def test_unreachable_server_retries_with_backoff(nursery, creds):
    client = KalshiWsClient("ws://127.0.0.1:9/trade-api/ws/v2", creds, CFG, WallClock())  # discard port: refused
    out = Collect()
    with trio.move_on_after(0.5):
        await client.run(out.send)
    attempts = [m for m in out.items if isinstance(m, FeedStatus) and m.status == "reconnecting"]
    assert len(attempts) >= 3 and "connect failed" in attempts[0].detail


def test_requires_credentials():
    from kbot.venues.kalshi.auth import CredentialsError

    with pytest.raises(CredentialsError, match="KALSHI_API_KEY_ID"):
        KalshiWsClient("ws://x/trade-api/ws/v2", None, CFG, WallClock())


_ = trio_websocket  # imported for its server in kfakes
