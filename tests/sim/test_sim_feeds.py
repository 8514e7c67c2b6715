"""Spot-exchange feeds of the sim: real message shapes over loopback, prices tracking the index."""

from __future__ import annotations

import json

import pytest
import trio
from trio_websocket import ConnectionClosed, open_websocket_url

from kbot.sim import SimConfig, running_sim
from kbot.sim.feed_protocols import BinanceProtocol, CoinbaseProtocol

CB_TICKER_FIELDS = {
    "type", "product_id", "price", "volume_24_h", "low_24_h", "high_24_h", "low_52_w", "high_52_w",
    "price_percent_chg_24_h", "best_bid", "best_ask", "best_bid_quantity", "best_ask_quantity",
}


def _cfg(d, **kw) -> SimConfig:
    return SimConfig(**({"speed": 5.0, "seed": 6, "data_dir": str(d), "ladder_strikes": 4, "brackets": 2} | kw))


async def _msgs(ws, n: int, pred=lambda m: True) -> list[dict]:
    out = []
    with trio.fail_after(10):
        while len(out) < n:
            m = json.loads(await ws.get_message())
            if pred(m):
                out.append(m)
    return out


def _index(ep) -> float:
    ex = ep.sim.exchange
    return ex.path.price_at(ep.clock.now())


async def test_coinbase_advanced_trade(sim_data_dir):
    async with running_sim(_cfg(sim_data_dir)) as ep:
        async with open_websocket_url(ep.coinbase_url) as ws:
            await ws.send_message(json.dumps({"type": "subscribe", "product_ids": ["BTC-USD"], "channel": "ticker"}))
            await ws.send_message(json.dumps({"type": "subscribe", "product_ids": ["BTC-USD"], "channel": "heartbeats"}))
            msgs = await _msgs(ws, 12)
            assert msgs[0]["channel"] == "subscriptions" and msgs[0]["events"][0]["subscriptions"] == {"ticker": ["BTC-USD"]}
            tickers = [m for m in msgs if m["channel"] == "ticker"]
            assert tickers[0]["events"][0]["type"] == "snapshot" and tickers[-1]["events"][0]["type"] == "update"
            t = tickers[-1]["events"][0]["tickers"][0]
            assert set(t) == CB_TICKER_FIELDS and all(isinstance(v, str) for v in t.values())
            assert float(t["best_bid"]) < float(t["best_ask"])
            assert abs(float(t["price"]) - _index(ep)) < 150
            seqs = [m["sequence_num"] for m in msgs]
            assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))  # per connection, no gaps
            assert tickers[-1]["timestamp"].endswith("Z") and len(tickers[-1]["timestamp"].split(".")[1]) == 10
            hb = await _msgs(ws, 1, lambda m: m["channel"] == "heartbeats")
            assert isinstance(hb[0]["events"][0]["heartbeat_counter"], int)
            await ws.send_message(json.dumps({"type": "subscribe", "product_ids": ["BTC-USD"], "channels": ["ticker"]}))
            err = await _msgs(ws, 1, lambda m: m.get("type") == "error")
            assert "one 'channel'" in err[0]["message"]


async def test_coinbase_closes_without_subscribe(sim_data_dir, monkeypatch):
    monkeypatch.setattr(CoinbaseProtocol, "subscribe_deadline_s", 0.3)
    async with running_sim(_cfg(sim_data_dir)) as ep:
        async with open_websocket_url(ep.coinbase_url) as ws:
            with pytest.raises(ConnectionClosed), trio.fail_after(10):
                await ws.get_message()


async def test_binance_raw_combined_and_subscribe(sim_data_dir):
    async with running_sim(_cfg(sim_data_dir)) as ep:
        async with open_websocket_url(ep.binance_url + "/ws/btcusdt@bookTicker") as ws:
            m = (await _msgs(ws, 3))[-1]
            assert set(m) == {"u", "s", "b", "B", "a", "A"} and m["s"] == "BTCUSDT"  # spot: no e/E
            assert float(m["b"]) < float(m["a"]) and abs(float(m["b"]) - _index(ep)) < 150
        async with open_websocket_url(ep.binance_url + "/stream?streams=btcusdt@trade/btcusdt@bookTicker") as ws:
            ms = await _msgs(ws, 6)
            assert {m["stream"] for m in ms} == {"btcusdt@trade", "btcusdt@bookTicker"}
            trade = next(m["data"] for m in ms if m["stream"] == "btcusdt@trade")
            assert trade["e"] == "trade" and {"E", "s", "t", "p", "q", "T", "m", "M"} <= set(trade) and "b" not in trade
        async with open_websocket_url(ep.binance_url + "/ws") as ws:
            await ws.send_message(json.dumps({"method": "SUBSCRIBE", "params": ["btcusdt@aggTrade"], "id": 7}))
            assert (await _msgs(ws, 1))[0] == {"result": None, "id": 7}
            agg = (await _msgs(ws, 1, lambda m: m.get("e") == "aggTrade"))[0]
            assert {"a", "p", "q", "f", "l", "T", "m"} <= set(agg)
            await ws.send_message(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": 8}))
            assert (await _msgs(ws, 1, lambda m: m.get("id") == 8))[0]["result"] == ["btcusdt@aggTrade"]


def test_binance_paths():
    assert BinanceProtocol.from_path("/binance/ws/btcusdt@bookTicker", "").streams == ["btcusdt@bookTicker"]
    p = BinanceProtocol.from_path("/binance/stream", "streams=btcusdt@trade/btcusd@bookTicker")
    assert p.combined and p.streams == ["btcusdt@trade", "btcusd@bookTicker"]
    assert BinanceProtocol.from_path("/binance", "").streams == []


async def test_kraken_v2(sim_data_dir):
    async with running_sim(_cfg(sim_data_dir)) as ep:
        async with open_websocket_url(ep.kraken_url) as ws:
            status = (await _msgs(ws, 1))[0]
            assert status["channel"] == "status" and status["data"][0]["system"] == "online" and status["data"][0]["api_version"] == "v2"
            await ws.send_message(json.dumps({"method": "subscribe", "params": {"channel": "ticker", "symbol": ["BTC/USD", "XBT/EUR"]}, "req_id": 3}))
            ms = await _msgs(ws, 5)
            acks = [m for m in ms if m.get("method") == "subscribe"]
            assert [a["success"] for a in acks] == [True, False] and all(a["req_id"] == 3 for a in acks)
            snaps = [m for m in ms if m.get("channel") == "ticker"]
            assert snaps[0]["type"] == "snapshot" and snaps[-1]["type"] == "update"
            d = snaps[-1]["data"][0]
            assert isinstance(d["bid"], float) and isinstance(d["ask"], float) and d["symbol"] == "BTC/USD"
            assert abs(d["last"] - _index(ep)) < 150
            await ws.send_message(json.dumps({"method": "ping", "req_id": 9}))
            pong = (await _msgs(ws, 1, lambda m: m.get("method") == "pong"))[0]
            assert pong["req_id"] == 9 and "time_in" in pong


async def test_garbage_never_kills_a_feed(sim_data_dir):
    async with running_sim(_cfg(sim_data_dir)) as ep:
        async with open_websocket_url(ep.kraken_url) as ws:
            await _msgs(ws, 1)
            await ws.send_message(json.dumps({"method": "subscribe", "params": ["not", "a", "dict"]}))
            err = (await _msgs(ws, 1))[0]
            assert err.get("success") is False or err.get("type") == "error"
            await ws.send_message(json.dumps({"method": "ping", "req_id": 1}))
            assert (await _msgs(ws, 1, lambda m: m.get("method") == "pong"))[0]["req_id"] == 1
        assert ep.sim.bad_input.total >= 1
