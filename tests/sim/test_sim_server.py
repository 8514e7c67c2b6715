"""``running_sim`` / ``SimEndpoints`` as agreed in the shared brief, the sim's own endpoints,
HTTP details (301 on trailing slashes), and ``kbot sim``'s banner."""

from __future__ import annotations

import argparse

import httpx
import trio

from kbot.clock import ScaledClock
from kbot.commands import sim as sim_cmd
from kbot.sim import SimConfig, SimEndpoints, running_sim


async def test_endpoints_and_shared_clock(sim_data_dir):
    clock = ScaledClock(epoch0=1_790_000_000.0, speed=60.0)
    async with running_sim(SimConfig(seed=1, data_dir=str(sim_data_dir), ladder_strikes=4, brackets=2), clock=clock) as ep:
        assert isinstance(ep, SimEndpoints) and ep.clock is clock
        port = ep.rest_url.split(":")[2].split("/")[0]
        assert ep.rest_url == f"http://127.0.0.1:{port}/trade-api/v2"
        assert ep.ws_url == f"ws://127.0.0.1:{port}/trade-api/ws/v2"
        assert ep.coinbase_url.startswith("ws://") and ep.binance_url.startswith("ws://") and ep.kraken_url.endswith("/kraken/v2")
        assert ep.key_id and ep.private_key_path is not None and ep.private_key_path.exists()
        async with httpx.AsyncClient() as http:
            adv = (await http.get(ep.clock_url)).json()
            assert set(adv) == {"epoch", "speed", "wall"} and adv["speed"] == 60.0
            follower = ScaledClock.follow(adv["epoch"], adv["speed"], wall=adv["wall"])
            assert abs(follower.now() - clock.now()) < 1.0  # same machine, same wall clock: exact
            status = (await http.get(ep.base_url + "/sim/status")).json()
            # lag is a speed figure (bench), not a behaviour: only its presence is checked here
            assert status["open_markets"] > 0 and status["lag_s"] >= 0
            r = await http.get(ep.rest_url + "/markets/?status=open")
            assert r.status_code == 301 and r.headers["location"].endswith("/trade-api/v2/markets?status=open")
        # the venue's clock drives the exchange: a few real seconds are minutes of sim time
        before = ep.sim.exchange.second
        await trio.sleep(0.5)
        assert ep.sim.exchange.second - before >= 20


def test_cli_banner_lists_every_url(sim_data_dir):
    p = argparse.ArgumentParser()
    sim_cmd.add_arguments(p)
    args = p.parse_args(["--port", "0", "--data-dir", str(sim_data_dir)])

    async def main() -> str:
        async with running_sim(sim_cmd._config(args)) as ep:
            return sim_cmd._banner(ep)

    text = trio.run(main)
    for word in ("REST", "WebSocket", "Coinbase", "Binance", "Kraken", "/sim/clock", "KALSHI_API_KEY_ID=", "KALSHI_PRIVATE_KEY_PATH="):
        assert word in text
