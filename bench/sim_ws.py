"""WebSocket messages per second the simulated venue sustains to one client, beside baselines
measured in the same run on the same machine.

    python -m bench.sim_ws [--quick] [--seconds S]

Each server runs in its own process (the client counts in this one), serving one client:

- ``bare``: a bare trio-websocket server pushing a pre-encoded ~300-byte message in a loop
  (what the socket stack alone can do: the ceiling);
- ``asgi``: the same push loop as a Starlette endpoint under Hypercorn on Trio (the sim's
  serving stack without the sim);
- ``sim at 60x / 240x / 1000x``: the simulated venue with the client subscribed to the order
  books of every open market plus ticker, trade, lifecycle and BRTI. At 60x it generates less
  than it could send (a realistic demo/test load); at 1000x it is saturated and reports how
  fast it falls behind its clock (it lags rather than stalling its sockets).

Target: the sim sustains >= 2,000 msgs/s to one client.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import httpx
import trio
from trio_websocket import ConnectionClosed, DisconnectionTimeout, open_websocket_url, serve_websocket

from bench.suite import Row, run_alone

MSG = json.dumps(
    {
        "type": "orderbook_delta",
        "sid": 1,
        "seq": 1,
        "msg": {
            "market_ticker": "KXBTCD-26AUG2317-T86749.99",
            "market_id": "9b0f6b43-5b68-4f9f-9f02-9a2d1b8ac1a1",
            "price_dollars": "0.4500",
            "delta_fp": "-54.00",
            "side": "yes",
            "ts": "2026-08-23T20:44:01Z",
            "ts_ms": 1787517841000,
        },
    },
    separators=(",", ":"),
)


# ---------------------------------------------------------------------------- servers (subprocess)
async def _serve_bare(port: int) -> None:
    async def handler(request):
        ws = await request.accept()
        try:
            while True:
                await ws.send_message(MSG)
        except ConnectionClosed:
            pass

    async with trio.open_nursery() as n:
        servers = await n.start(lambda task_status: serve_websocket(handler, "127.0.0.1", port, ssl_context=None, task_status=task_status))
        print(f"READY ws://127.0.0.1:{servers.port}/", flush=True)


async def _serve_asgi(port: int) -> None:
    from hypercorn.config import Config
    from hypercorn.trio import serve
    from starlette.applications import Starlette
    from starlette.routing import WebSocketRoute

    async def push(ws) -> None:
        await ws.accept()
        while True:
            await ws.send_text(MSG)

    hc = Config()
    hc.bind = [f"127.0.0.1:{port}"]
    hc.errorlog = None
    async with trio.open_nursery() as n:
        binds = await n.start(serve, Starlette(routes=[WebSocketRoute("/", push)]), hc)
        print(f"READY {binds[0].replace('http', 'ws')}/", flush=True)


async def _serve_sim(port: int, speed: float) -> None:
    from kbot.sim import SimConfig, running_sim

    cfg = SimConfig(port=port, speed=speed, seed=1, data_dir=tempfile.mkdtemp(prefix="kbot-bench-"), ws_queue=2_000_000, rate_limits=False)
    async with running_sim(cfg) as ep:
        print(f"READY {ep.ws_url} {ep.rest_url} {ep.key_id} {ep.private_key_path}", flush=True)
        await trio.sleep_forever()


# ---------------------------------------------------------------------------- client
async def _lag(status_url: str | None) -> float:
    if status_url is None:
        return 0.0
    async with httpx.AsyncClient() as c:
        return float((await c.get(status_url)).json()["lag_s"])


async def _count(
    url: str, seconds: float, headers: list[tuple[str, str]] | None = None, commands: Sequence[str] = (), status_url: str | None = None
) -> tuple[float, int, float]:
    """Messages/s received, average size, and how fast the sim fell behind its clock
    (sim seconds of lag gained per real second; ~0 = keeping up)."""
    result = (0.0, 0)
    lag0 = lag1 = 0.0
    try:
        async with open_websocket_url(
            url, extra_headers=[(k.encode(), v.encode()) for k, v in headers or []], message_queue_size=4096, max_message_size=2**22, disconnect_timeout=2
        ) as ws:
            for c in commands:
                await ws.send_message(c)
            await trio.sleep(0.5)  # warm up: skip the subscription burst
            lag0 = await _lag(status_url)
            n = 0
            nbytes = 0
            t0 = trio.current_time()
            with trio.move_on_after(seconds):
                while True:
                    m = await ws.get_message()
                    n += 1
                    nbytes += len(m)
            dt = trio.current_time() - t0
            result = (n / dt, nbytes // max(n, 1))
            lag1 = await _lag(status_url)
    except DisconnectionTimeout:
        pass  # the server keeps pushing while we close: the count is already taken
    return result[0], result[1], (lag1 - lag0) / seconds


def _spawn(*args: str) -> tuple[subprocess.Popen, list[str]]:
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parent.parent))
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.sim_ws", "--serve", *args], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line.startswith("READY"):
            return proc, line.split()[1:]
    proc.kill()
    raise RuntimeError(f"server {args} did not start")


def _sim_commands(rest_url: str) -> list[str]:
    markets = httpx.get(rest_url + "/markets", params={"status": "open", "limit": "1000"}).json()["markets"]
    tickers = [m["ticker"] for m in markets]
    return [
        json.dumps({"id": 1, "cmd": "subscribe", "params": {"channels": ["orderbook_delta"], "market_tickers": tickers}}),
        json.dumps({"id": 2, "cmd": "subscribe", "params": {"channels": ["ticker", "trade", "market_lifecycle_v2"]}}),
        json.dumps({"id": 3, "cmd": "subscribe", "params": {"channels": ["cfbenchmarks_value"], "index_ids": ["BRTI"]}}),
    ]


def measure(mode: str, seconds: float) -> tuple[float, int, int, float]:
    from kbot.venues.kalshi.auth import Credentials

    args = ["bare"] if mode == "bare" else ["asgi"] if mode == "asgi" else ["sim", mode[3:]]
    proc, info = _spawn(*args)
    try:
        if mode.startswith("sim"):
            ws_url, rest_url, key_id, key_path = info
            creds = Credentials.from_files(key_id, key_path)
            headers = list(creds.headers("GET", "/trade-api/ws/v2").items())
            cmds = _sim_commands(rest_url)
            status_url = rest_url.replace("/trade-api/v2", "/sim/status")
            rate, size, lag = trio.run(_count, ws_url, seconds, headers, cmds, status_url)
            n_markets = len(json.loads(cmds[0])["params"]["market_tickers"])
        else:
            rate, size, lag = trio.run(_count, info[0], seconds)
            n_markets = 0
    finally:
        proc.terminate()
        proc.wait(10)
    return rate, size, n_markets, lag


def measure_all(seconds: float) -> dict[str, float]:
    print(f"sim WebSocket: messages/s to one client, {seconds:g} s each, {os.cpu_count()} CPUs, servers in their own "
          "process", flush=True)
    out: dict[str, float] = {}
    for mode, label in (("bare", "baseline: bare trio-websocket push loop"), ("asgi", "baseline: Starlette/Hypercorn push loop")):
        rate, size, _, _ = measure(mode, seconds)
        out[mode] = rate
        print(f"  {label:<44} {rate:>9,.0f} msgs/s  (avg {size} B)", flush=True)
    best = 0.0
    for speed in (60, 240, 1000):
        rate, size, n, lag = measure(f"sim{speed}", seconds)
        keeping_up = lag < 0.05 * speed
        best = max(best, rate)
        out[f"sim{speed}"] = rate
        note = "keeps up with its clock" if keeping_up else f"saturated: falls behind {lag:,.0f} sim s per s"
        print(f"  {f'sim at {speed}x':<44} {rate:>9,.0f} msgs/s  (avg {size} B, {n} markets; {note})", flush=True)
    out["best"] = best
    verdict = "meets" if best >= 2000 else "is BELOW"
    print(
        f"sim: up to {best:,.0f} msgs/s to one client = {best / out['asgi']:.0%} of a bare push loop on the same "
        f"serving stack; {verdict} the 2,000 msgs/s target", flush=True,
    )
    return out


def rows(quick: bool, seconds: float | None = None) -> list[Row]:
    m = measure_all(seconds or (3.0 if quick else 8.0))
    return [
        Row(bench="sim_ws", what="simulated venue WS msgs/s to one client", workload="best of 60x/240x/1000x, all books",
            kbot=m["best"], baseline=m["asgi"], unit="msg/s", baseline_what="Starlette/Hypercorn push loop",
            target=2000.0),
        Row(bench="sim_ws", what="ASGI serving stack vs bare socket", workload="push loop, ~300 B messages",
            kbot=m["asgi"], baseline=m["bare"], unit="msg/s", baseline_what="bare trio-websocket push loop"),
    ]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.sim_ws", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="short measurements (3 s each)")
    p.add_argument("--seconds", type=float, default=None)
    p.add_argument("--serve", nargs="+", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.serve:
        mode = args.serve[0]
        if mode == "bare":
            trio.run(_serve_bare, 0)
        elif mode == "asgi":
            trio.run(_serve_asgi, 0)
        else:
            trio.run(_serve_sim, 0, float(args.serve[1]))
        return 0
    run_alone("sim_ws", lambda q: rows(q, args.seconds), args.quick)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
