"""`kbot run`: the supervised actor tree (shadow mode and the built-in simulated venue by default;
paper and live execution with --mode)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from kbot.commands.common import add_config_arguments, load_from_args


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_arguments(parser)
    parser.add_argument("--venue", choices=("sim", "demo", "prod"),
                        help="where to trade (default: sim, the built-in simulated venue; with KALSHI_REST_URL set, "
                             "the simulated venue a `kbot sim` serves there)")
    parser.add_argument("--mode", choices=("shadow", "paper", "live"),
                        help="shadow (default): hypothetical positions, no orders; paper: orders simulated against the "
                             "venue's public book and trades; live: REAL orders (needs --i-accept-real-money or "
                             "[live] enabled = true in the config file)")
    parser.add_argument("--strategy", choices=("taker", "maker"),
                        help="taker (default): TAKE/PASS decisions; maker: quote both sides of each market with "
                             "post-only orders around the model's fair value ([maker] in the config; README)")
    parser.add_argument("--i-accept-real-money", dest="accept_real_money", action="store_true",
                        help="the second opt-in for --mode live: kbot sends real orders with real money")
    parser.add_argument("--minutes", type=float, help="wall-clock minutes before a clean stop (default: run until interrupted)")
    parser.add_argument("--speed", type=float, help="simulated venue only: how many times faster than real time (default 15)")
    parser.add_argument("--seed", type=int, help="simulated venue only: random seed of the simulated world")
    parser.add_argument(
        "--mispricing", type=float, metavar="X",
        help="simulated venue only: make its market makers misprice by X probability points at 50%% (a demo of "
             "trading; default 0: a market as efficient as the real one)",
    )
    parser.add_argument("--record", nargs="?", const="", metavar="DIR",
                        help="record every raw frame and REST response for `kbot replay` (default DIR: "
                             "data/recordings; docs/RECORDING.md)")


def overrides(args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in ("venue", "mode", "minutes"):
        if getattr(args, key, None) is not None:
            out[key] = getattr(args, key)
    if getattr(args, "strategy", None) is not None:
        out["maker"] = {"enabled": args.strategy == "maker"}
    if getattr(args, "accept_real_money", False):
        out["live"] = {"enabled": True}
    sim: dict[str, Any] = {}
    if args.speed is not None:
        sim["speed"] = args.speed
    if args.seed is not None:
        sim["seed"] = args.seed
    if getattr(args, "mispricing", None) is not None:
        sim["mispricing"] = args.mispricing
    if sim:
        out["sim"] = sim
    if getattr(args, "record", None) is not None:
        out["record"] = {"enabled": True, **({"dir": args.record} if args.record else {})}
    return out


def main(args: argparse.Namespace) -> int:
    import trio

    from kbot.logs import setup_logging
    from kbot.process import run_kbot

    cfg = load_from_args(args, overrides(args))
    if cfg is None:
        return 2
    setup_logging(cfg.log_dir, console_level=cfg.logging.console_level, file_level=cfg.logging.file_level,
                  console_tape=cfg.logging.console_tape, rotation=cfg.logging.rotation, retention=cfg.logging.retention)
    try:
        return trio.run(run_kbot, cfg)
    except KeyboardInterrupt:  # a second Ctrl-C while stopping
        print("kbot: interrupted while stopping", file=sys.stderr)
        return 130
