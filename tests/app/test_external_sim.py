"""``kbot run --venue sim`` against a simulated venue already serving elsewhere (``kbot sim`` in its
own process): ``KALSHI_REST_URL`` names it, the clock follows its ``/sim/clock``, the key is its
demo key. Here the sim runs in-process on loopback; the bot reaches it only through its URLs."""

from __future__ import annotations

import sqlite3

import pytest

from kbot.config import AppConfig
from kbot.process import StartupError, connect_external_sim, run_kbot
from kbot.sim import SimConfig, running_sim
from storage.config import StorageConfig


def app_config(tmp_path, sim_dir, **kw) -> AppConfig:
    return AppConfig(data_dir=str(tmp_path / "data"), log_dir=str(tmp_path / "logs"), sim=SimConfig(data_dir=str(sim_dir)),
                     storage=StorageConfig(url=f"sqlite:///{tmp_path / 'kbot.sqlite'}"), **kw)


async def test_connects_to_the_sim_at_the_given_url(tmp_path):
    sim_dir = tmp_path / "sim"
    async with running_sim(SimConfig(speed=10.0, seed=2, data_dir=str(sim_dir))) as ep:
        clock, endpoints = await connect_external_sim(app_config(tmp_path, sim_dir), {"KALSHI_REST_URL": ep.rest_url})
        assert clock.speed == 10.0 and abs(clock.now() - ep.clock.now()) < 5.0
        assert endpoints.kalshi.rest_url == ep.rest_url and endpoints.kalshi.ws_url == ep.ws_url
        assert endpoints.spot_urls == {"coinbase": ep.coinbase_url, "binance": ep.binance_url, "kraken": ep.kraken_url,
                                       "binance_usdm": ep.binance_usdm_url}
        assert endpoints.credentials.key_id == ep.key_id
        # KALSHI_WS_URL still wins over the derived one
        _, e2 = await connect_external_sim(app_config(tmp_path, sim_dir),
                                           {"KALSHI_REST_URL": ep.rest_url, "KALSHI_WS_URL": "ws://elsewhere/x"})
        assert e2.kalshi.ws_url == "ws://elsewhere/x"
        # without the demo key where the config says, and no key in the environment: say what to do
        with pytest.raises(StartupError, match="KALSHI_API_KEY_ID"):
            await connect_external_sim(app_config(tmp_path, tmp_path / "nokey"), {"KALSHI_REST_URL": ep.rest_url})


async def test_no_sim_at_the_url_is_a_startup_error(tmp_path):
    with pytest.raises(StartupError, match="kbot sim"):
        await connect_external_sim(app_config(tmp_path, tmp_path / "sim"),
                                   {"KALSHI_REST_URL": "http://127.0.0.1:9/trade-api/v2"})


@pytest.mark.e2e
async def test_run_against_an_external_sim(tmp_path):
    sim_dir = tmp_path / "sim"
    async with running_sim(SimConfig(speed=60.0, seed=3, data_dir=str(sim_dir), ladder_strikes=4, brackets=3,
                                     hourly_ahead=1)) as ep:
        cfg = app_config(tmp_path, sim_dir, minutes=0.15)
        code = await run_kbot(cfg, environ={"KALSHI_REST_URL": ep.rest_url})
    assert code == 0
    db = sqlite3.connect(tmp_path / "kbot.sqlite")
    assert db.execute("select venue, exit_status from runs").fetchall() == [("sim", "ok")]
    assert db.execute("select count(*) from markets").fetchone()[0] > 0
    assert db.execute("select count(*) from spot_ticks").fetchone()[0] > 0
    # the sim's world: not saved as the embedded sim's clock (that file is for the built-in venue)
    assert not (sim_dir / "clock.json").exists()
