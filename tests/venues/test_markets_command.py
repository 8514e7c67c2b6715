"""`kbot markets` end to end: a subprocess against a loopback stand-in that verifies the RSA-PSS
signature of every request (as the acceptance checks do), in each output format, with recorded
payload shapes, and the credential failure modes."""

from __future__ import annotations

import csv
import io
import json
import os
import sys

import pytest
import trio
from kfakes import FakeRest, event, market, series, start_rest

from kbot.venues.kalshi import auth

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def btc_fake(public_key) -> FakeRest:
    fake = FakeRest(public_key, require_auth=True, page_size=2)
    fake.markets = [
        market("KXBTCD-26AUG2317-T86749.99", "KXBTCD-26AUG2317", floor=86749.99, close="2099-08-23T21:00:00Z"),
        market("KXBTCD-26AUG2317-T86999.99", "KXBTCD-26AUG2317", floor=86999.99, close="2099-08-23T21:00:00Z", yes_bid="0.0000"),
        market("KXBTC-26AUG2317-B86875", "KXBTC-26AUG2317", strike_type="between", floor=86750, cap=86999.99, yes_bid="0.1000",
               yes_ask="0.1250"),
        market("KXBTC15M-26AUG171330-30", "KXBTC15M-26AUG171330", strike_type="greater_or_equal", floor=63485.16, close="2099-08-17T17:30:00Z"),
        market("KXBTC15M-26AUG171315-15", "KXBTC15M-26AUG171315", strike_type="greater_or_equal", floor=63000.0, close="2020-08-17T17:15:00Z"),
    ]
    fake.series = {s: series(s) for s in ("KXBTC", "KXBTCD", "KXBTC15M")}
    fake.events = [event("KXBTCD-26AUG2317", "KXBTCD")]
    return fake


async def run_markets(env_extra: dict, *args: str) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KALSHI_", "KBOT_"))}
    env.update(env_extra)
    env["PYTHONPATH"] = ROOT
    with trio.fail_after(60):
        proc = await trio.run_process([sys.executable, "-m", "kbot", "markets", *args], env=env, cwd=ROOT,
                                      capture_stdout=True, capture_stderr=True, check=False)
    return proc.returncode, proc.stdout.decode(), proc.stderr.decode()


async def test_markets_signed_against_verifying_stand_in(nursery, rsa_key, key_file):
    fake = btc_fake(rsa_key.public_key())
    url = await start_rest(nursery, fake)
    env = {"KALSHI_REST_URL": url, "KALSHI_API_KEY_ID": "key-1", "KALSHI_PRIVATE_KEY_PATH": str(key_file)}
    code, out, err = await run_markets(env, "--format", "csv")
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["ticker"] for r in rows] == [
        "KXBTC-26AUG2317-B86875", "KXBTC15M-26AUG171315-15", "KXBTC15M-26AUG171330-30", "KXBTCD-26AUG2317-T86749.99",
        "KXBTCD-26AUG2317-T86999.99"]
    r = {x["ticker"]: x for x in rows}
    assert r["KXBTC-26AUG2317-B86875"] == {
        "ticker": "KXBTC-26AUG2317-B86875", "series": "KXBTC", "strike_type": "between", "floor": "86750", "cap": "86999.99",
        "close_time": "2099-08-23T21:00:00Z", "status": "active", "yes_bid": "0.10", "yes_ask": "0.125"}
    assert r["KXBTCD-26AUG2317-T86999.99"]["yes_bid"] == ""  # 0 = no bid
    assert "KXBTC15M-26AUG171315-15" in err and "has passed" in err  # listed open by the venue: kept, noted
    assert fake.log and all(ok is True for *_, ok in fake.log), "every request must carry a valid signature"
    assert fake.bad_signatures == 0


async def test_markets_table_and_json(nursery, rsa_key, key_file):
    fake = btc_fake(rsa_key.public_key())
    url = await start_rest(nursery, fake)
    env = {"KALSHI_REST_URL": url, "KALSHI_API_KEY_ID": "key-1", "KALSHI_PRIVATE_KEY_PATH": str(key_file)}
    code, out, _ = await run_markets(env, "--series", "KXBTCD", "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert [d["ticker"] for d in data] == ["KXBTCD-26AUG2317-T86749.99", "KXBTCD-26AUG2317-T86999.99"]
    assert data[0]["floor"] == 86749.99 and data[0]["cap"] is None and data[0]["yes_bid"] == "0.4500"
    code, out, _ = await run_markets(env, "--venue", "prod", "--series", "KXBTC15M")
    assert code == 0
    assert "KXBTC15M-26AUG171330-30" in out and "greater_or_equal" in out and "63485.16" in out and "2099-08-17T17:30:00Z" in out


async def test_markets_without_credentials_lists_public_data(nursery, rsa_key):
    fake = btc_fake(rsa_key.public_key())
    fake.require_auth = False
    url = await start_rest(nursery, fake)
    code, out, err = await run_markets({"KALSHI_REST_URL": url}, "--series", "KXBTC", "--format", "csv")
    assert code == 0 and "KXBTC-26AUG2317-B86875" in out
    assert "no credentials" in err and all(ok is None for *_, ok in fake.log)


async def test_markets_credential_failures(nursery, rsa_key, tmp_path, key_file):
    fake = btc_fake(rsa_key.public_key())
    url = await start_rest(nursery, fake)
    code, _, err = await run_markets({"KALSHI_REST_URL": url, "KALSHI_API_KEY_ID": "key-1"})
    assert code == 2 and "KALSHI_PRIVATE_KEY_PATH" in err
    loose = tmp_path / "loose.key"
    loose.write_bytes(key_file.read_bytes())
    os.chmod(loose, 0o644)
    code, _, err = await run_markets({"KALSHI_REST_URL": url, "KALSHI_API_KEY_ID": "k", "KALSHI_PRIVATE_KEY_PATH": str(loose)})
    assert code == 2 and "chmod 600" in err
    other = tmp_path / "other.key"
    other.write_bytes(auth.private_pem(auth.generate_key_pair(1024)))
    os.chmod(other, 0o600)
    code, _, err = await run_markets({"KALSHI_REST_URL": url, "KALSHI_API_KEY_ID": "k", "KALSHI_PRIVATE_KEY_PATH": str(other)})
    assert code == 3 and "401" in err and "KALSHI_API_KEY_ID" in err
    assert fake.bad_signatures >= 1


async def test_markets_on_recorded_payloads(nursery, rsa_key, key_file, shared_data):
    """Serve verbatim recorded Market objects (sports markets; one re-shaped as a BTC threshold
    market by changing only its identity and strike fields)."""
    path = shared_data / "kalshi_cockpit_fixtures" / "market_single.json"
    if not path.exists():
        pytest.skip(f"{path} is not available")
    rec = json.loads(path.read_text())["single"]["market"]
    btc = {**rec, "ticker": "KXBTCD-26AUG2317-T86749.99", "event_ticker": "KXBTCD-26AUG2317", "strike_type": "greater",
           "floor_strike": 86749.99, "custom_strike": None}
    fake = FakeRest(rsa_key.public_key(), require_auth=True)
    fake.markets = [{**rec, "_series": "KXBTCD"}, btc]
    url = await start_rest(nursery, fake)
    env = {"KALSHI_REST_URL": url, "KALSHI_API_KEY_ID": "key-1", "KALSHI_PRIVATE_KEY_PATH": str(key_file)}
    code, out, err = await run_markets(env, "--series", "KXBTCD", "--format", "csv")
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["ticker"] for r in rows] == ["KXBTCD-26AUG2317-T86749.99"], err
    assert rows[0]["close_time"] == "2026-09-21T23:30:00Z" and rows[0]["yes_bid"] == "0.89"
    assert "unsupported_strike_type_structured" in err
    assert all(ok is True for *_, ok in fake.log)


async def test_markets_sim_venue_uses_the_sims_endpoints_and_key(nursery, rsa_key, key_file, monkeypatch):
    """``--venue sim``: the in-process simulated venue's URL and demo key are used (the sim itself is
    stood in for here; its own tests cover it)."""
    from contextlib import asynccontextmanager
    from types import SimpleNamespace

    import kbot.sim
    from kbot.clock import WallClock
    from kbot.commands import markets

    fake = btc_fake(rsa_key.public_key())
    url = await start_rest(nursery, fake)
    started = []

    @asynccontextmanager
    async def running_sim(cfg, clock=None):
        started.append(cfg)
        yield SimpleNamespace(rest_url=url, ws_url="ws://unused", key_id="sim-demo-key", private_key_path=key_file, clock=WallClock())

    monkeypatch.setattr(kbot.sim, "running_sim", running_sim, raising=False)
    monkeypatch.setattr(kbot.sim, "SimConfig", lambda **kw: ("SimConfig", kw), raising=False)
    monkeypatch.setenv("KALSHI_REST_URL", "http://127.0.0.1:9/never-used")  # the sim's own URL wins
    rows = await markets._collect("sim", ["KXBTCD"])
    assert started and [r["ticker"] for r in rows] == ["KXBTCD-26AUG2317-T86749.99", "KXBTCD-26AUG2317-T86999.99"]
    assert all(ok is True for *_, ok in fake.log)
    assert markets.render(rows, "table").splitlines()[0].startswith("open BTC markets (2)")
