"""Authentication and rate limits of the sim, over loopback sockets (httpx, trio-websocket)."""

from __future__ import annotations

import json
import os
import stat
import time

import httpx
import pytest
from sim_client import SimClient
from trio_websocket import ConnectionRejected, open_websocket_url

from kbot.sim import SimConfig, running_sim
from kbot.sim.auth import demo_key
from kbot.sim.ratelimit import RateLimiter, TokenBucket, capacities, cost_of
from kbot.venues.kalshi import auth as kauth
from kbot.venues.kalshi.auth import Credentials


def _cfg(d, **kw) -> SimConfig:
    return SimConfig(**({"speed": 100.0, "seed": 5, "data_dir": str(d), "ladder_strikes": 4, "brackets": 2} | kw))


async def test_signatures_and_timestamps(sim_data_dir):
    async with running_sim(_cfg(sim_data_dir)) as ep, httpx.AsyncClient() as http:
        c = SimClient(ep, http)
        path = "/trade-api/v2/portfolio/balance"
        url = ep.rest_url + "/portfolio/balance"
        # public market data needs no signature; portfolio does
        assert (await c.get("/markets", signed=False)).status_code == 200
        r = await http.get(url)
        assert r.status_code == 401 and r.json()["error"]["code"] == "authentication_error"
        # correct: signed with *wall* time although the sim clock runs 100x from its own epoch
        assert (await http.get(url, headers=c.creds.headers("GET", path))).status_code == 200
        ok_old = int((time.time() - 20) * 1000)
        assert (await http.get(url, headers=c.creds.headers("GET", path, ts_ms=ok_old))).status_code == 200

        async def rejected(headers) -> str:
            r = await http.get(url, headers=headers)
            assert r.status_code == 401, r.text
            return r.json()["error"]["message"]

        now_ms = int(time.time() * 1000)
        assert "from the server's time" in await rejected(c.creds.headers("GET", path, ts_ms=now_ms - 31_000))
        assert "from the server's time" in await rejected(c.creds.headers("GET", path, ts_ms=now_ms + 31_000))
        assert "milliseconds" in await rejected(c.creds.headers("GET", path, ts_ms=now_ms // 1000))
        assert "invalid signature" in await rejected(c.creds.headers("GET", "/trade-api/v2/portfolio/positions"))
        h = c.creds.headers("GET", path)
        h[kauth.SIG_HEADER] = kauth.sign(c.creds.private_key, h[kauth.TS_HEADER], "GET", "/portfolio/balance")  # no prefix
        assert "invalid signature" in await rejected(h)
        other = Credentials("not-registered", kauth.generate_key_pair(1024))
        assert "unknown API key" in await rejected(other.headers("GET", path))
        # query strings are not signed: signing the path only works with any query
        r = await http.get(url, params={"exchange_index": "2"}, headers=c.creds.headers("GET", path))
        assert r.status_code == 200 and r.json()["balance_dollars"] == "10000.0000"

        # a key registered at run time (kbot sim --key-id/--public-key does this at start)
        key = kauth.generate_key_pair(1024)
        ep.sim.register_key("second-key", key.public_key())
        second = Credentials("second-key", key)
        assert (await http.get(url, headers=second.headers("GET", path))).status_code == 200


async def test_ws_upgrade_needs_a_signature(sim_data_dir):
    async with running_sim(_cfg(sim_data_dir)) as ep, httpx.AsyncClient() as http:
        c = SimClient(ep, http)
        with pytest.raises(ConnectionRejected) as exc:
            async with open_websocket_url(ep.ws_url):
                pass
        assert exc.value.status_code == 401 and json.loads(exc.value.body)["error"]["code"] == "authentication_error"
        stale = list(c.creds.headers("GET", "/trade-api/ws/v2", ts_ms=int((time.time() - 60) * 1000)).items())
        with pytest.raises(ConnectionRejected):
            async with open_websocket_url(ep.ws_url, extra_headers=stale):
                pass
        async with open_websocket_url(ep.ws_url, extra_headers=c.ws_headers()) as ws:
            await ws.send_message(json.dumps({"id": 1, "cmd": "list_subscriptions"}))
            assert json.loads(await ws.get_message()) == {"id": 1, "type": "ok", "msg": []}
            await ws.send_message(b"\x00binary")  # not a JSON command: error 1, connection stays
            err = json.loads(await ws.get_message())
            assert err["type"] == "error" and err["msg"]["code"] == 1
            await ws.send_message(json.dumps({"id": 2, "cmd": "list_subscriptions"}))
            assert json.loads(await ws.get_message())["id"] == 2


async def test_extra_keys_from_config(tmp_path, sim_data_dir):
    key = kauth.generate_key_pair(1024)
    pem = tmp_path / "pub.pem"
    pem.write_bytes(kauth.public_pem(key.public_key()))
    async with running_sim(_cfg(sim_data_dir, keys=[("cli-key", str(pem))])) as ep, httpx.AsyncClient() as http:
        creds = Credentials("cli-key", key)
        r = await http.get(ep.rest_url + "/portfolio/balance", headers=creds.headers("GET", "/trade-api/v2/portfolio/balance"))
        assert r.status_code == 200


def test_demo_key_is_private_and_reused(tmp_path):
    first = demo_key(tmp_path / "d")
    assert stat.S_IMODE(os.stat(first.private_key_path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(tmp_path / "d").st_mode) == 0o700
    again = demo_key(tmp_path / "d")
    assert again.key_id == first.key_id and again.private_key_path == first.private_key_path
    kauth.load_private_key(first.private_key_path)  # passes kbot's own permission checks


# ---------------------------------------------------------------------------- rate limits
def test_token_bucket_refills_and_caps():
    b = TokenBucket(rate=100, capacity=100)
    assert all(b.take(10, 0.0) for _ in range(10))
    assert not b.take(10, 0.0)
    assert b.take(10, 0.1)  # 0.1 s refills 10 tokens
    assert not b.take(10, 0.1)
    assert b.take(100, 100.0) and not b.take(1, 100.0)  # capped at capacity


def test_tiers_costs_and_capacities():
    assert capacities("basic") == (400, 100)  # Basic read holds 2 s, Basic write 1 s
    assert capacities("advanced") == (600, 600)
    assert capacities("expert") == (600, 1200)
    assert cost_of("POST", "/portfolio/events/orders") == ("write", 10)
    assert cost_of("POST", "/portfolio/events/orders/batched", 5) == ("write", 50)
    assert cost_of("DELETE", "/portfolio/events/orders/x") == ("write", 2)
    assert cost_of("DELETE", "/portfolio/events/orders") == ("write", 2)
    assert cost_of("GET", "/portfolio/orders/abc") == ("read", 2)
    assert cost_of("GET", "/markets") == ("read", 10)
    lim = RateLimiter("basic")
    assert sum(lim.allow("k", "write", 10, 0.0) for _ in range(20)) == 10
    assert sum(lim.allow("k", "read", 10, 0.0) for _ in range(50)) == 40
    assert lim.allow("other", "write", 10, 0.0)  # per key


async def test_429_when_the_bucket_is_empty(sim_data_dir):
    async with running_sim(_cfg(sim_data_dir)) as ep, httpx.AsyncClient() as http:
        c = SimClient(ep, http)
        statuses = [(await c.get("/portfolio/balance")) for _ in range(70)]
        codes = [r.status_code for r in statuses]
        assert 200 in codes and 429 in codes
        limited = statuses[codes.index(429)]
        assert limited.content == b'{"error":"too many requests"}'
        assert "retry-after" not in limited.headers
