"""Fault injection: the spec syntax, the injector, and each fault's effect over loopback."""

from __future__ import annotations

import argparse
import json

import httpx
import pytest
import trio
from sim_client import SimClient
from trio_websocket import ConnectionClosed, open_websocket_url

from kbot.commands import sim as sim_cmd
from kbot.sim import SimConfig, running_sim
from kbot.sim.faults import Fault, FaultConfig, FaultInjector, FaultSpecError, parse_spec
from kbot.sim.pricepath import IndexPath
from kbot.sim.spot import FEEDS, SpotModel
from kbot.sim.ws_server import wrong_type


def test_spec_syntax():
    f = parse_spec("ws_drop:p=0.01:target=kalshi, http_503:p=0.5:burst=4,slow:p=1:delay=1.5,feed_freeze:p=0.1:for=30:target=coinbase")
    assert f["ws_drop"] == Fault(p=0.01, target="kalshi")
    assert f["http_503"].burst == 4 and f["slow"].delay_s == 1.5
    assert f["feed_freeze"].duration_s == 30 and f["feed_freeze"].target == "coinbase"
    assert parse_spec("late_strike:p=1")["late_strike"].delay_s == 45  # defaults per kind
    assert parse_spec("") == {}
    for bad in ("nope:p=1", "ws_drop:p=2", "ws_drop:x=1", "ws_drop:p", "ws_drop:target=mars", "http_500:burst=0"):
        with pytest.raises(FaultSpecError):
            parse_spec(bad)
    # from a TOML table too
    cfg = FaultConfig(faults={"seq_skip": {"p": 0.25}, "slow": {"p": 0.5, "delay": 2}})
    assert cfg.faults["seq_skip"].p == 0.25 and cfg.faults["slow"].delay_s == 2
    assert SimConfig(faults="bad_json:p=0.5").faults.faults["bad_json"].p == 0.5


def test_all_faults_off_by_default():
    inj = FaultInjector(SimConfig().faults)
    kinds = ["ws_drop", "ws_silent", "seq_skip", "bad_json", "wrong_type", "http_500", "http_503", "http_429", "slow", "early_close", "late_strike", "feed_freeze"]
    assert all(inj.roll(k, t) is None for k in kinds for t in ("kalshi", "coinbase") for _ in range(100))


def test_injector_oneshot_burst_target_and_seed():
    inj = FaultInjector()
    inj.inject("ws_drop", target="binance")
    assert inj.roll("ws_drop", "kalshi") is None and inj.roll("ws_drop", "binance") is not None
    assert inj.roll("ws_drop", "binance") is None
    inj.inject("http_500", burst=3)
    assert [inj.roll("http_500") is not None for _ in range(4)] == [True, True, True, False]
    assert inj.counts["http_500"] == 3
    a, b = FaultInjector(FaultConfig.parse("bad_json:p=0.3"), seed=9), FaultInjector(FaultConfig.parse("bad_json:p=0.3"), seed=9)
    assert [a.roll("bad_json") is None for _ in range(50)] == [b.roll("bad_json") is None for _ in range(50)]


def test_cli_takes_the_spec():
    p = argparse.ArgumentParser()
    sim_cmd.add_arguments(p)
    cfg = sim_cmd._config(p.parse_args(["--faults", "ws_drop:p=0.1,slow:p=0.2:delay=1", "--speed", "60", "--seed", "3", "--port", "0"]))
    assert cfg.faults.faults["ws_drop"].p == 0.1 and cfg.speed == 60 and cfg.seed == 3 and cfg.port == 0
    assert sim_cmd.main(p.parse_args(["--faults", "ws_drop:p=7"])) == 2
    assert sim_cmd.main(p.parse_args(["--key-id", "x"])) == 2


def test_wrong_type_changes_one_field_type():
    out = json.loads(wrong_type('{"type":"orderbook_delta","sid":1,"seq":5,"msg":{"delta_fp":"1.00"}}'))
    assert out["seq"] == "5"
    out = json.loads(wrong_type('{"type":"ticker","sid":1,"msg":{"price_dollars":"0.5000"}}'))
    assert out["msg"]["price_dollars"] == 0.5


def test_feed_freeze_repeats_a_stale_price():
    m = SpotModel(FEEDS["coinbase"], IndexPath(1, 1_786_000_000), seed=1)
    q0 = m.quote(1_786_000_100.0)
    m.freeze(1_786_000_100.0, 30.0)
    frozen = [m.quote(1_786_000_100.0 + k) for k in range(1, 30)]
    assert all((q.bid, q.ask, q.last) == (q0.bid, q0.ask, q0.last) and q.frozen for q in frozen)
    after = m.quote(1_786_000_200.0)
    assert not after.frozen and (after.bid, after.ask) != (q0.bid, q0.ask)


def _cfg(d, **kw) -> SimConfig:
    return SimConfig(**({"speed": 30.0, "seed": 4, "data_dir": str(d), "ladder_strikes": 6, "brackets": 4, "rate_limits": False} | kw))


async def _book_stream(ep, c: SimClient):
    tickers = [m["ticker"] for m in (await c.get("/markets", {"status": "open", "limit": "100"}, signed=False)).json()["markets"]]
    ws_cm = open_websocket_url(ep.ws_url, extra_headers=c.ws_headers())
    ws = await ws_cm.__aenter__()
    await ws.send_message(json.dumps({"id": 1, "cmd": "subscribe", "params": {"channels": ["orderbook_delta"], "market_tickers": tickers}}))
    return ws_cm, ws


async def test_ws_faults_over_sockets(sim_data_dir):
    async with running_sim(_cfg(sim_data_dir)) as ep, httpx.AsyncClient() as http:
        c = SimClient(ep, http)
        faults = ep.sim.faults

        # seq_skip: a gap in the sid's sequence
        cm, ws = await _book_stream(ep, c)
        last, gaps = 0, 0
        with trio.fail_after(10):
            while gaps == 0:
                msg = json.loads(await ws.get_message())
                if "seq" in msg and msg["type"] != "subscribed":
                    if msg["seq"] != last + 1:
                        gaps += 1
                    last = msg["seq"]
                    if msg["seq"] == 5:
                        faults.inject("seq_skip")
        assert faults.counts["seq_skip"] == 1

        # bad_json then wrong_type
        faults.inject("bad_json", target="kalshi")
        with trio.fail_after(10):
            while True:
                text = await ws.get_message()
                try:
                    json.loads(text)
                except ValueError:
                    break
        faults.inject("wrong_type", target="kalshi")
        with trio.fail_after(10):
            while True:
                msg = json.loads(await ws.get_message())
                if isinstance(msg.get("seq"), str):
                    break

        # ws_silent: the socket stays open but nothing arrives (after what was already in flight)
        faults.inject("ws_silent", target="kalshi")
        with trio.fail_after(15):
            while True:
                with trio.move_on_after(1.0) as quiet:
                    await ws.get_message()
                if quiet.cancelled_caught:
                    break
        assert faults.counts["ws_silent"] == 1 and ws.closed is None
        await cm.__aexit__(None, None, None)

        # ws_drop: the server closes the connection
        cm, ws = await _book_stream(ep, c)
        faults.inject("ws_drop", target="kalshi")
        with pytest.raises(ConnectionClosed), trio.fail_after(10):
            while True:
                await ws.get_message()
        assert ws.closed is not None and ws.closed.code == 1011
        await cm.__aexit__(None, None, None)
        assert ep.sim.stats["ws_drop_kalshi"] == 1


async def test_http_faults(sim_data_dir):
    async with running_sim(_cfg(sim_data_dir)) as ep, httpx.AsyncClient() as http:
        c = SimClient(ep, http)
        faults = ep.sim.faults
        faults.inject("http_503", burst=2)
        codes = [(await c.get("/exchange/status", signed=False)).status_code for _ in range(3)]
        assert codes == [503, 503, 200]
        faults.inject("http_500", burst=1)
        r = await c.get("/portfolio/balance")
        assert r.status_code == 500 and r.json()["error"]["code"] == "internal_server_error"
        faults.inject("http_429", burst=3)
        rs = [await c.get("/markets", signed=False) for _ in range(4)]
        assert [r.status_code for r in rs] == [429, 429, 429, 200]
        assert rs[0].content == b'{"error":"too many requests"}'
        faults.inject("slow", delay_s=0.3)
        t0 = trio.current_time()
        assert (await c.get("/exchange/status", signed=False)).status_code == 200
        assert trio.current_time() - t0 >= 0.3
        # armed at run time through the sim's own endpoint, like `kbot sim --faults`
        r = await http.post(ep.base_url + "/sim/faults", content=b"http_503:p=1")
        assert r.status_code == 200 and "http_503:p=1" in r.json()["faults"]
        assert (await c.get("/exchange/status", signed=False)).status_code == 503
        r = await http.post(ep.base_url + "/sim/faults", content=b"")
        assert (await c.get("/exchange/status", signed=False)).status_code == 200
        assert (await http.post(ep.base_url + "/sim/faults", content=b"nope:p=1")).status_code == 400


async def test_feed_faults(sim_data_dir):
    async with running_sim(_cfg(sim_data_dir)) as ep:
        faults = ep.sim.faults
        async with open_websocket_url(ep.coinbase_url) as ws:
            await ws.send_message(json.dumps({"type": "subscribe", "product_ids": ["BTC-USD"], "channel": "ticker"}))
            faults.inject("feed_freeze", target="coinbase", duration_s=3600)
            prices = []
            with trio.fail_after(10):
                while len(prices) < 8:
                    msg = json.loads(await ws.get_message())
                    if msg["channel"] == "ticker" and msg["events"][0]["type"] == "update":
                        t = msg["events"][0]["tickers"][0]
                        prices.append((t["price"], t["best_bid"], t["best_ask"]))
            assert len(set(prices[-5:])) == 1  # stale: the same quote again and again
        faults.inject("ws_drop", target="kraken")
        async with open_websocket_url(ep.kraken_url) as ws:
            await ws.send_message(json.dumps({"method": "subscribe", "params": {"channel": "ticker", "symbol": ["BTC/USD"]}}))
            with pytest.raises(ConnectionClosed), trio.fail_after(10):
                while True:
                    await ws.get_message()
