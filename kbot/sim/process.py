"""The simulated venue for ``kbot run --venue sim``: in its own process (default) or in kbot's.

``open_sim(config)`` is an async context manager that yields a ``SimHandle`` (the URLs, the
demo key and the clock kbot must use) and stops the venue when the block exits.

- Own process (default): ``python -m kbot sim --config-json FILE --exit-with-parent PID`` on a
  free loopback port. kbot reads the URLs from the banner the child prints, follows the child's
  clock through ``/sim/clock`` (the same advertisement a separately started ``kbot sim``
  gives; the two processes share the machine's wall clock, so the follower is exact), and uses
  the demo key the child keeps in ``config.data_dir``. The child's log goes to
  ``<log_dir>/sim.log``. The venue and kbot then run on two cores instead of sharing one
  interpreter: at the default market set the shared interpreter falls behind from ~30x. On exit
  the child gets SIGTERM, then SIGKILL after a grace period; it also exits by itself when kbot's
  process disappears (``--exit-with-parent``), so a killed kbot leaves no venue behind.
- In process (``config.in_process``, for tests and debugging): ``kbot.sim.running_sim`` in this
  Trio run, sharing one ``ScaledClock`` with the bot.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import attrs
import trio
from loguru import logger

from kbot.clock import ScaledClock
from kbot.sim.config import SimConfig

START_TIMEOUT_S = 60.0  # the child must print its banner within this (imports, key generation)
STOP_GRACE_S = 5.0
CONFIG_FILE = "sim-config.json"
_REST = re.compile(rb"REST\s+(http://\S+)/trade-api/v2")


class SimStartError(RuntimeError):
    """The simulated venue could not be started; the message says why and what to do."""


@attrs.frozen(kw_only=True)
class SimHandle:
    rest_url: str
    ws_url: str
    coinbase_url: str
    binance_url: str
    kraken_url: str
    binance_usdm_url: str
    key_id: str | None
    private_key_path: Path | None
    clock: ScaledClock
    base_url: str
    pid: int | None = None  # the venue's process (None: in kbot's own process)
    sim: Any = attrs.field(default=None, repr=False)  # the SimVenue when in process (tests)

    @property
    def where(self) -> str:
        return "in kbot's process" if self.pid is None else f"in its own process (pid {self.pid}, log logs/sim.log)"


def urls(base: str) -> dict[str, str]:
    """The venue's URLs from its base (``http://HOST:PORT``)."""
    ws = "ws" + base.removeprefix("http")
    return {
        "rest_url": f"{base}/trade-api/v2",
        "ws_url": f"{ws}/trade-api/ws/v2",
        "coinbase_url": f"{ws}/coinbase",
        "binance_url": f"{ws}/binance",
        "kraken_url": f"{ws}/kraken/v2",
        "binance_usdm_url": f"{ws}/binance-usdm",
        "base_url": base,
    }


async def follow_clock(base: str, *, timeout_s: float = 10.0) -> ScaledClock:
    """A clock following the venue's ``/sim/clock``. The advertised wall time is used when it
    falls inside the request's own window (same machine, same wall clock): exact; otherwise half
    the round trip is assumed to have passed since the reading."""
    import httpx

    async with httpx.AsyncClient(timeout=timeout_s) as client:
        w0, t0 = time.time(), trio.current_time()
        r = await client.get(f"{base}/sim/clock")
        rtt, w1 = trio.current_time() - t0, time.time()
        r.raise_for_status()
        adv = r.json()
    epoch, speed = float(adv["epoch"]), float(adv["speed"])
    wall = adv.get("wall")
    if isinstance(wall, (int, float)) and w0 - 0.005 <= wall <= w1 + 0.005:
        return ScaledClock.follow(epoch, speed, wall=float(wall))
    return ScaledClock.follow(epoch, speed, rtt_s=rtt)


def demo_key(data_dir: str | Path) -> tuple[str | None, Path | None]:
    """The demo key the venue keeps in ``data_dir`` (its id, its private key file)."""
    from kbot.sim.auth import DEMO_KEY_FILE, DEMO_KEY_ID_FILE

    d = Path(data_dir)
    if not (d / DEMO_KEY_ID_FILE).exists():
        return None, None
    return (d / DEMO_KEY_ID_FILE).read_text().strip(), d / DEMO_KEY_FILE


@asynccontextmanager
async def open_sim(config: SimConfig, *, log_dir: str | Path = "logs") -> AsyncIterator[SimHandle]:
    """Run the simulated venue for the duration of the block (see the module docstring)."""
    if config.in_process:
        from kbot.sim.server import running_sim

        epoch0 = config.start_epoch if config.start_epoch is not None else time.time()
        async with running_sim(config, clock=ScaledClock(epoch0=epoch0, speed=config.speed)) as ep:
            yield SimHandle(
                rest_url=ep.rest_url, ws_url=ep.ws_url, coinbase_url=ep.coinbase_url, binance_url=ep.binance_url,
                kraken_url=ep.kraken_url, binance_usdm_url=ep.binance_usdm_url, key_id=ep.key_id, private_key_path=ep.private_key_path, clock=ep.clock,
                base_url=ep.base_url, sim=ep.sim,
            )
        return
    async with _child(config, Path(log_dir)) as handle:
        yield handle


def _prepare(config: SimConfig, log_dir: Path) -> tuple[Path, Path, Any]:
    """The configuration file the child reads and its log file (opened for appending)."""
    data_dir = Path(config.data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    log_dir.mkdir(parents=True, exist_ok=True)
    cfg_file = data_dir / CONFIG_FILE
    cfg_file.write_text(attrs.evolve(config, port=0, in_process=False).to_json())
    log_path = log_dir / "sim.log"
    log = open(log_path, "ab")  # noqa: SIM115 - closed by _child
    log.write(f"\n--- kbot sim started by kbot run (pid {os.getpid()}) at {time.strftime('%Y-%m-%d %H:%M:%S')}\n".encode())
    log.flush()
    return cfg_file, log_path, log


@asynccontextmanager
async def _child(config: SimConfig, log_dir: Path) -> AsyncIterator[SimHandle]:
    try:
        cfg_file, log_path, log = await trio.to_thread.run_sync(_prepare, config, log_dir)
    except OSError as exc:
        raise SimStartError(f"cannot prepare the simulated venue's files ({exc}): check sim.data_dir and the log directory") from exc
    cmd = [sys.executable, "-m", "kbot", "sim", "--config-json", str(cfg_file), "--exit-with-parent", str(os.getpid())]
    try:
        try:
            proc = await trio.lowlevel.open_process(cmd, stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL)
        except OSError as exc:
            raise SimStartError(f"could not start the simulated venue ({exc}); set [sim] in_process = true to run it in kbot's process") from exc
        stopping = False
        try:
            base = await _read_banner(proc, log, log_path)
            clock = await follow_clock(base)
            key_id, key_path = await trio.to_thread.run_sync(demo_key, config.data_dir)
            handle = SimHandle(**urls(base), key_id=key_id, private_key_path=key_path, clock=clock, pid=proc.pid)
            async with trio.open_nursery() as nursery:
                nursery.start_soon(_drain, proc, log)

                async def watch() -> None:
                    code = await proc.wait()
                    if not stopping:
                        logger.critical(
                            "the simulated venue's process exited (code {}) while kbot runs: every feed will fail; "
                            "see {} and restart kbot", code, log_path)

                nursery.start_soon(watch)
                try:
                    yield handle
                finally:
                    stopping = True
                    nursery.cancel_scope.cancel()
        finally:
            stopping = True
            await _stop(proc)
    finally:
        log.close()


async def _read_banner(proc: trio.Process, log: Any, log_path: Path) -> str:
    """The venue's base URL from the banner ``kbot sim`` prints once it serves."""
    assert proc.stdout is not None
    buf = b""
    with trio.move_on_after(START_TIMEOUT_S) as timeout:
        while True:
            chunk = await proc.stdout.receive_some(4096)
            if not chunk:
                break
            buf += chunk
            await trio.to_thread.run_sync(log.write, chunk)
            m = _REST.search(buf)
            if m:
                await trio.to_thread.run_sync(log.flush)
                return m.group(1).decode()
    with trio.move_on_after(2.0):  # stdout closed: it is exiting, wait for its code
        await proc.wait()
    code = proc.poll()
    why = f"it exited with code {code}" if code is not None else "it did not report its address"
    if timeout.cancelled_caught:
        why += f" within {START_TIMEOUT_S:g} s"
    raise SimStartError(f"the simulated venue did not start: {why}; see {log_path}")


async def _drain(proc: trio.Process, log: Any) -> None:
    """Keep reading the child's stdout (a full pipe would block it) into its log."""
    assert proc.stdout is not None
    while chunk := await proc.stdout.receive_some(4096):
        await trio.to_thread.run_sync(log.write, chunk)


async def _stop(proc: trio.Process) -> None:
    """SIGTERM, then SIGKILL after ``STOP_GRACE_S`` (the process we started, by its handle)."""
    with trio.CancelScope(shield=True):
        if proc.poll() is None:
            proc.terminate()
            with trio.move_on_after(STOP_GRACE_S):
                await proc.wait()
            if proc.poll() is None:
                logger.warning("the simulated venue did not stop within {} s: killing it", STOP_GRACE_S)
                proc.kill()
                await proc.wait()
        if proc.stdout is not None:
            await proc.stdout.aclose()
