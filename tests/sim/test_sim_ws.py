"""Kalshi WS protocol of the sim: snapshots, signed deltas, per-sid seq, use_yes_price, commands,
errors, private channels (over loopback), plus sans-IO checks of the session."""

from __future__ import annotations

import json
import time
from collections import defaultdict
from decimal import Decimal

import httpx
import trio
from sim_client import SimClient, order_body
from trio_websocket import open_websocket_url

from kbot.sim import SimConfig, running_sim
from kbot.sim.book import ASK, BID
from kbot.sim.config import SimConfig as Cfg
from kbot.sim.server import _hypercorn_config
from kbot.sim.venue import SimVenue
from kbot.sim.ws_kalshi import KalshiSession

D = Decimal


def _cfg(d, **kw) -> SimConfig:
    return SimConfig(**({"speed": 30.0, "seed": 8, "data_dir": str(d), "ladder_strikes": 6, "brackets": 4, "rate_limits": False} | kw))


class LocalBook:
    """What a client keeps: snapshot replaces, deltas add (Decimal), levels at <= 0 removed."""

    def __init__(self) -> None:
        self.sides: dict[str, dict[str, dict[D, D]]] = defaultdict(lambda: {"yes": {}, "no": {}})

    def snapshot(self, msg: dict) -> None:
        t = msg["market_ticker"]
        self.sides[t] = {
            "yes": {D(p): D(c) for p, c in msg.get("yes_dollars_fp", [])},
            "no": {D(p): D(c) for p, c in msg.get("no_dollars_fp", [])},
        }

    def delta(self, msg: dict) -> None:
        side = self.sides[msg["market_ticker"]][msg["side"]]
        p = D(msg["price_dollars"])
        side[p] = side.get(p, D(0)) + D(msg["delta_fp"])
        if side[p] <= 0:
            del side[p]

    def as_snapshot(self, ticker: str) -> dict:
        return {k: v for k, v in self.sides[ticker].items()}


async def test_snapshot_then_deltas_rebuild_the_book_with_contiguous_seq(sim_data_dir):
    async with running_sim(_cfg(sim_data_dir)) as ep, httpx.AsyncClient() as http:
        c = SimClient(ep, http)
        tickers = [m["ticker"] for m in (await c.get("/markets", {"status": "open", "limit": "200"}, signed=False)).json()["markets"]]
        for use_yes in (False, True):
            async with open_websocket_url(ep.ws_url, extra_headers=c.ws_headers()) as ws:
                await ws.send_message(json.dumps({"id": 1, "cmd": "subscribe", "params": {"channels": ["orderbook_delta"], "market_tickers": tickers, "use_yes_price": use_yes}}))
                book = LocalBook()
                last_seq = 0
                n_deltas = 0
                checked = 0
                deadline = trio.current_time() + 2.5
                asked = False
                while True:
                    msg = json.loads(await ws.get_message())
                    if msg["type"] in ("orderbook_snapshot", "orderbook_delta"):
                        assert msg["sid"] == 1 and msg["seq"] == last_seq + 1, (msg, last_seq)
                        last_seq = msg["seq"]
                    if msg["type"] == "orderbook_snapshot":
                        if "id" in msg:  # our get_snapshot: the local book must match it exactly
                            expected = LocalBook()
                            expected.snapshot(msg["msg"])
                            assert book.as_snapshot(msg["msg"]["market_ticker"]) == expected.as_snapshot(msg["msg"]["market_ticker"])
                            checked += 1
                            if checked == len(tickers):
                                break
                        else:
                            assert "ts" not in msg["msg"]
                            book.snapshot(msg["msg"])
                    elif msg["type"] == "orderbook_delta":
                        book.delta(msg["msg"])
                        n_deltas += 1
                    if not asked and trio.current_time() > deadline:
                        asked = True
                        await ws.send_message(json.dumps({"id": 2, "cmd": "update_subscription", "params": {"sids": [1], "action": "get_snapshot", "market_tickers": tickers}}))
                assert n_deltas > 20
                # both sides ascending by the price shown
                for t in tickers:
                    for side in ("yes", "no"):
                        prices = list(book.sides[t][side])
                        assert all(D("0.01") <= p <= D("0.99") for p in prices)


def _venue(tmp_path, **kw) -> SimVenue:
    from kbot.clock import ScaledClock

    return SimVenue(Cfg(seed=2, data_dir=str(tmp_path), ladder_strikes=4, brackets=2, **kw), ScaledClock(epoch0=1_787_000_130.0, speed=1.0))


def _drain(s: KalshiSession) -> list[dict]:
    out = []
    while True:
        try:
            out.append(json.loads(s.receive.receive_nowait()))
        except trio.WouldBlock:
            return out


async def test_use_yes_price_both_modes(tmp_path):
    v = _venue(tmp_path)
    ex = v.exchange
    ex.advance(ex.t0 + 30)
    t = next(tk for tk, e in ex.engines.items() if e.book.levels(ASK) and e.book.levels(BID))
    bids, asks = ex.book_levels(t)
    plain, yes = KalshiSession(v, "u", 100), KalshiSession(v, "u", 100)
    plain.handle_text(json.dumps({"id": 1, "cmd": "subscribe", "params": {"channels": ["orderbook_delta"], "market_ticker": t}}))
    yes.handle_text(json.dumps({"id": 1, "cmd": "subscribe", "params": {"channels": ["orderbook_delta"], "market_ticker": t, "use_yes_price": True}}))
    snap_plain = _drain(plain)[1]["msg"]
    snap_yes = _drain(yes)[1]["msg"]
    assert snap_plain["yes_dollars_fp"] == snap_yes["yes_dollars_fp"] == [[f"{p / 10000:.4f}", f"{c / 100:.2f}"] for p, c in bids]
    # NO bids: YES asks at 1 - p (no-leg prices) or at p (yes-leg prices); ascending either way
    assert snap_plain["no_dollars_fp"] == [[f"{(10000 - p) / 10000:.4f}", f"{c / 100:.2f}"] for p, c in reversed(asks)]
    assert snap_yes["no_dollars_fp"] == [[f"{p / 10000:.4f}", f"{c / 100:.2f}"] for p, c in asks]
    # a delta on the ask side, in both conventions
    v.hub.sessions.update({plain, yes})
    o = ex.agent_place("sim-mm-1", ex.markets[t], ASK, 9900, 700, "good_till_canceled", True, ex.now, out := [])
    ex._publish(out)
    assert o is not None
    d_plain = [m for m in _drain(plain) if m["type"] == "orderbook_delta"][0]["msg"]
    d_yes = [m for m in _drain(yes) if m["type"] == "orderbook_delta"][0]["msg"]
    assert (d_plain["side"], d_plain["price_dollars"], d_plain["delta_fp"]) == ("no", "0.0100", "7.00")
    assert (d_yes["side"], d_yes["price_dollars"], d_yes["delta_fp"]) == ("no", "0.9900", "7.00")


async def test_command_errors_and_list(tmp_path):
    v = _venue(tmp_path)
    v.exchange.advance(v.exchange.t0 + 5)
    s = KalshiSession(v, "u", 100)

    def code(cmd) -> int:
        s.handle_text(cmd if isinstance(cmd, str) else json.dumps(cmd))
        msgs = _drain(s)
        assert msgs[-1]["type"] == "error", msgs
        return msgs[-1]["msg"]["code"]

    assert code("{not json") == 1
    assert code({"id": 1, "cmd": "subscribe"}) == 2
    assert code({"id": 1, "cmd": "subscribe", "params": {}}) == 3
    assert code({"id": 1, "cmd": "subscribe", "params": {"channels": ["bogus"]}}) == 8
    assert code({"id": 1, "cmd": "subscribe", "params": {"channels": ["orderbook_delta"]}}) == 14
    assert code({"id": 1, "cmd": "subscribe", "params": {"channels": ["ticker"], "market_ticker": "A", "market_tickers": ["B"]}}) == 11
    assert code({"id": 1, "cmd": "nope"}) == 5
    assert code({"id": 1, "cmd": "unsubscribe", "params": {}}) == 4
    assert code({"id": 1, "cmd": "unsubscribe", "params": {"sids": [42]}}) == 7
    s.handle_text(json.dumps({"id": 2, "cmd": "subscribe", "params": {"channels": ["ticker", "cfbenchmarks_value"]}}))
    assert [m["type"] for m in _drain(s)] == ["subscribed", "subscribed"]
    assert code({"id": 3, "cmd": "update_subscription", "params": {"sid": 1}}) == 15
    assert code({"id": 3, "cmd": "update_subscription", "params": {"sid": 1, "sids": [1], "action": "add_markets"}}) == 12
    assert code({"id": 3, "cmd": "update_subscription", "params": {"sid": 1, "action": "teleport"}}) == 13
    assert code({"id": 3, "cmd": "update_subscription", "params": {"sid": 2, "action": "subscribe_indices"}}) == 24
    s.handle_text(json.dumps({"id": 4, "cmd": "list_subscriptions"}))
    assert _drain(s) == [{"id": 4, "type": "ok", "msg": [{"channel": "ticker", "sid": 1}, {"channel": "cfbenchmarks_value", "sid": 2}]}]
    # subscribing again to a channel reuses its sid (no error, Kalshi since Oct 2025)
    s.handle_text(json.dumps({"id": 5, "cmd": "subscribe", "params": {"channels": ["ticker"]}}))
    assert _drain(s) == [{"id": 5, "type": "subscribed", "msg": {"channel": "ticker", "sid": 1}}]


async def test_slow_reader_gets_terminal_error_25(tmp_path):
    v = _venue(tmp_path)
    ex = v.exchange
    ex.advance(ex.t0 + 2)
    s = KalshiSession(v, "u", 5)
    v.hub.sessions.add(s)
    s.handle_text(json.dumps({"id": 1, "cmd": "subscribe", "params": {"channels": ["orderbook_delta"], "market_tickers": list(ex.markets)}}))
    ex.advance(ex.t0 + 60)
    assert s.terminal_errors and json.loads(s.terminal_errors[0]) == {"type": "error", "sid": 1, "msg": {"code": 25, "msg": "Subscription buffer overflow"}}
    assert 1 not in s.subs and v.stats["ws_overflow"] == 1


def test_pings_every_ten_real_seconds():
    assert _hypercorn_config(Cfg()).websocket_ping_interval == 10.0


async def test_private_channels_and_market_add_delete(sim_data_dir):
    async with running_sim(_cfg(sim_data_dir, start_epoch=time.time())) as ep, httpx.AsyncClient() as http:
        c = SimClient(ep, http)
        markets = (await c.get("/markets", {"status": "open", "series_ticker": "KXBTCD"}, signed=False)).json()["markets"]
        a, b = markets[0]["ticker"], markets[1]["ticker"]
        async with open_websocket_url(ep.ws_url, extra_headers=c.ws_headers()) as ws:
            await ws.send_message(json.dumps({"id": 1, "cmd": "subscribe", "params": {"channels": ["user_orders", "fill", "market_positions"]}}))
            await ws.send_message(json.dumps({"id": 2, "cmd": "subscribe", "params": {"channels": ["orderbook_delta"], "market_ticker": a}}))
            got: list[dict] = []

            async def until(pred, timeout=5.0):
                with trio.fail_after(timeout):
                    while True:
                        m = json.loads(await ws.get_message())
                        got.append(m)
                        if pred(m):
                            return m

            await until(lambda m: m["type"] == "orderbook_snapshot")
            r = await c.post("/portfolio/events/orders", order_body(a, "bid", "0.01", "3", client_order_id="mine-1"))
            assert r.status_code == 201
            uo = await until(lambda m: m["type"] == "user_order")
            assert uo["msg"]["client_order_id"] == "mine-1" and uo["msg"]["status"] == "resting" and "seq" not in uo
            # the book change it caused comes first, attributed to us (client_order_id) only for us
            own = [m for m in got if m["type"] == "orderbook_delta" and m["msg"].get("client_order_id") == "mine-1"]
            assert len(own) == 1 and own[0]["msg"]["delta_fp"] == "3.00" and own[0]["msg"]["price_dollars"] == "0.0100"
            # delete_markets: nothing more for a; add_markets: snapshot of b
            await ws.send_message(json.dumps({"id": 3, "cmd": "update_subscription", "params": {"sid": 4, "action": "delete_markets", "market_tickers": [a]}}))
            ok = await until(lambda m: m.get("id") == 3)
            assert ok["type"] == "ok" and ok["msg"]["market_tickers"] == []
            await ws.send_message(json.dumps({"id": 4, "cmd": "update_subscription", "params": {"sid": 4, "action": "add_markets", "market_tickers": [b]}}))
            snap = await until(lambda m: m["type"] == "orderbook_snapshot" and m["msg"]["market_ticker"] == b)
            assert snap["seq"] >= 1
            # take liquidity: fill + position
            ob = (await c.get(f"/markets/{b}/orderbook", signed=False)).json()["orderbook_fp"]
            if ob["no_dollars"]:
                ask = f"{1 - float(ob['no_dollars'][-1][0]):.2f}"
                r = await c.post("/portfolio/events/orders", order_body(b, "bid", ask, "1", "immediate_or_cancel", client_order_id="take-1"))
                assert r.status_code == 201
                fill = await until(lambda m: m["type"] == "fill")
                assert fill["msg"]["client_order_id"] == "take-1" and fill["msg"]["is_taker"] and "seq" not in fill
                pos = await until(lambda m: m["type"] == "market_position")
                assert pos["msg"]["market_ticker"] == b and pos["msg"]["position_fp"] == "1.00"
            after = [m for m in got[got.index(ok):] if m["type"] == "orderbook_delta"]
            assert all(m["msg"]["market_ticker"] != a for m in after)
