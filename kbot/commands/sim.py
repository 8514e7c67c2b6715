"""`kbot sim`: serve the simulated Kalshi + spot-exchange venue on loopback until interrupted."""

from __future__ import annotations

import argparse
import sys

import trio

from kbot.sim.faults import FaultSpecError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="port to serve on (0 = any free port; default 8765)")
    parser.add_argument("--speed", type=float, default=1.0, help="sim clock speed, x real time (60: a 15-minute market in 15 s)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the index path, listings, participants and faults")
    parser.add_argument("--start", type=float, default=None, help="sim clock start, Unix seconds (default: now)")
    parser.add_argument("--data-dir", default="data/sim", help="where the demo key pair lives (default data/sim)")
    parser.add_argument(
        "--key-id", action="append", default=[], metavar="ID", help="register another API key id (repeatable, pairs with --public-key)"
    )
    parser.add_argument(
        "--public-key", action="append", default=[], metavar="PEM", help="the RSA public key file of the preceding --key-id"
    )
    parser.add_argument(
        "--faults",
        default="",
        metavar="SPEC",
        help="faults to inject, e.g. 'ws_drop:p=0.001,http_503:p=0.01:burst=3,late_strike:p=1:delay=45' (see kbot.sim.faults)",
    )
    parser.add_argument("--no-rate-limits", action="store_true", help="disable Kalshi-style token-bucket rate limits")
    parser.add_argument(
        "--mispricing", type=float, default=0.0, metavar="X",
        help="deliberate mispricing for demos: the market makers' quotes are off by X probability points at 50%% "
             "(up or down per market; default 0: quotes around the true probability with realistic lag and noise)",
    )
    parser.add_argument("--config-json", metavar="FILE", help=argparse.SUPPRESS)  # kbot run hands its [sim] here
    parser.add_argument("--exit-with-parent", type=int, metavar="PID", help=argparse.SUPPRESS)  # stop when PID is gone


def _config(args: argparse.Namespace):
    from kbot.sim.config import SimConfig

    if len(args.key_id) != len(args.public_key):
        raise ValueError("--key-id and --public-key must be given in pairs")
    if getattr(args, "config_json", None):
        from pathlib import Path

        return SimConfig.from_json(Path(args.config_json).read_text())
    return SimConfig(
        host=args.host,
        port=args.port,
        speed=args.speed,
        seed=args.seed,
        start_epoch=args.start,
        data_dir=args.data_dir,
        keys=tuple(zip(args.key_id, args.public_key, strict=True)),
        faults=args.faults,
        rate_limits=not args.no_rate_limits,
        mispricing=args.mispricing,
    )


def _banner(ep) -> str:
    lines = [
        "kbot simulated venue (Kalshi Trade API v2 + spot feeds)",
        f"  REST         {ep.rest_url}",
        f"  WebSocket    {ep.ws_url}",
        f"  Coinbase     {ep.coinbase_url}      (Advanced Trade: subscribe channel ticker, product BTC-USD)",
        f"  Binance      {ep.binance_url}       (append /ws/btcusdt@bookTicker or /stream?streams=...)",
        f"  Kraken       {ep.kraken_url}    (v2: subscribe channel ticker, symbol BTC/USD)",
        f"  sim clock    {ep.clock_url}  speed {ep.clock.speed:g}x",
    ]
    if ep.key_id:
        lines.append(f"  demo key     KALSHI_API_KEY_ID={ep.key_id} KALSHI_PRIVATE_KEY_PATH={ep.private_key_path}")
    lines.append(f"  faults       {ep.sim.faults.describe()}")
    lines.append("Ctrl-C to stop.")
    return "\n".join(lines)


def main(args: argparse.Namespace) -> int:
    try:
        config = _config(args)
    except (ValueError, TypeError, OSError, FaultSpecError) as exc:
        print(f"kbot sim: {exc}", file=sys.stderr)
        return 2

    from kbot.sim.server import running_sim
    from kbot.venues.kalshi.auth import CredentialsError

    async def serve() -> None:
        import gc

        async with running_sim(config) as ep:
            print(_banner(ep), flush=True)
            gc.collect()
            gc.freeze()  # start-up objects out of the collector's view (see kbot.app.freeze_startup_objects)
            if args.exit_with_parent:
                await _until_parent_exits(args.exit_with_parent)
                print("kbot sim: the kbot process that started it is gone: stopping", file=sys.stderr)
                return
            await trio.sleep_forever()

    try:
        trio.run(serve)
    except BaseException as exc:
        leaf = _leaf(exc)
        if isinstance(leaf, KeyboardInterrupt):
            print("kbot sim: stopped", file=sys.stderr)
            return 0
        if isinstance(leaf, CredentialsError):
            print(f"kbot sim: {leaf}", file=sys.stderr)
            return 2
        if isinstance(leaf, OSError):
            print(f"kbot sim: cannot serve on {config.host}:{config.port}: {leaf}", file=sys.stderr)
            return 1
        raise
    return 0


async def _until_parent_exits(pid: int) -> None:
    import os

    while os.getppid() == pid:  # noqa: ASYNC110 - nothing signals "the parent died"; a re-parented child sees a new ppid
        await trio.sleep(0.5)


def _leaf(exc: BaseException) -> BaseException:
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc
