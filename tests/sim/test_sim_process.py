"""`kbot run --venue sim` runs the simulated venue in its own process (kbot.sim.process): started
on a free loopback port, followed through its clock advertisement, stopped on exit."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import trio

from kbot.sim.config import SimConfig
from kbot.sim.process import SimStartError, open_sim

ROOT = Path(__file__).resolve().parents[2]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (exited, not yet reaped by us) counts as gone
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


async def test_own_process_serves_follows_its_clock_and_stops(tmp_path, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    cfg = SimConfig(speed=30.0, seed=4, start_epoch=1_790_000_000.0, data_dir=str(tmp_path / "sim"), ladder_strikes=4,
                    brackets=2, hourly_ahead=1)
    async with open_sim(cfg, log_dir=tmp_path / "logs") as ep:
        assert ep.pid is not None and ep.pid != os.getpid() and _alive(ep.pid)
        assert ep.rest_url.startswith("http://127.0.0.1:") and ep.ws_url.startswith("ws://127.0.0.1:")
        assert ep.key_id and ep.private_key_path is not None and ep.private_key_path.exists()
        async with httpx.AsyncClient() as http:
            markets = (await http.get(ep.rest_url + "/markets", params={"status": "open"})).json()["markets"]
            assert markets
            adv = (await http.get(ep.base_url + "/sim/clock")).json()
        assert adv["speed"] == 30.0 and abs(ep.clock.now() - adv["epoch"]) < 30.0 * 0.5  # well within half a real second
        assert adv["epoch"] >= 1_790_000_000.0
        pid = ep.pid
    with trio.fail_after(10):
        while _alive(pid):
            await trio.sleep(0.05)
    assert "kbot simulated venue" in (tmp_path / "logs" / "sim.log").read_text()


async def test_in_process_for_tests(tmp_path):
    cfg = SimConfig(speed=30.0, data_dir=str(tmp_path / "sim"), ladder_strikes=4, brackets=2, in_process=True)
    async with open_sim(cfg, log_dir=tmp_path / "logs") as ep:
        assert ep.pid is None and ep.sim is not None and ep.clock is ep.sim.clock


async def test_a_venue_that_cannot_start_is_a_clear_error(tmp_path, monkeypatch):
    import types

    from kbot.sim import process

    monkeypatch.setattr(process, "sys", types.SimpleNamespace(executable="/bin/false"))  # a child that dies at once
    with pytest.raises(SimStartError, match=r"exited with code 1; see .*sim\.log"):
        async with open_sim(SimConfig(data_dir=str(tmp_path / "sim")), log_dir=tmp_path / "logs"):
            pass
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    with pytest.raises(SimStartError, match=r"sim\.data_dir"):
        async with open_sim(SimConfig(data_dir=str(blocker / "sim")), log_dir=tmp_path / "logs"):
            pass


def test_the_venue_exits_when_the_process_that_started_it_is_gone(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    # pid 1 is not its parent: as if kbot had died and the venue had been re-parented
    p = subprocess.run([sys.executable, "-m", "kbot", "sim", "--port", "0", "--data-dir", str(tmp_path / "sim"),
                        "--exit-with-parent", "1"], env=env, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and "is gone: stopping" in p.stderr
