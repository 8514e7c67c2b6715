"""The ``kbot`` command line. Each subcommand lives in ``kbot/commands/<name>.py`` and exposes
``HELP`` (one line), ``add_arguments(parser)`` and ``main(args) -> int`` (the exit code).
Modules are imported only when their command runs, so ``kbot --help`` stays fast."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from kbot import __version__

# name -> one-line help. Order is the order shown by --help.
COMMANDS: dict[str, str] = {
    "run": "run the supervised actor tree (default: shadow mode against the built-in simulated venue)",
    "sim": "serve the simulated Kalshi + spot-exchange venue on loopback",
    "markets": "list the open BTC markets the REST client discovers (checks keys and connectivity)",
    "report": "run a SQL report over the database (kbot report --list)",
    "status": "the current tree, feeds, open markets, positions, today's PnL and last alerts",
    "top": "a live dashboard of the run from the database (refreshes every second; q quits)",
    "db": "database migrations: kbot db upgrade | kbot db current",
    "config": "show the effective configuration (secrets redacted)",
    "replay": "replay recorded markets (kbot run --record, or --format organics) through the same tree, fast",
    "backtest": "replay recordings once per configuration point (--set key=v1,v2) in parallel; one row per point",
    "kill": "the operator kill switch: refuse every new TAKE (--clear, --reset, --status)",
    "alert": "post a test alert through the configured webhook: kbot alert test",
    "bench": "run the benchmark suite (python -m bench)",
    "evaluate": "evaluate the model and decisions walk-forward on captured real markets (kxbtc-captures DIR)",
    "model": "fit the calibrated blend's parameters from captured real markets (kbot model fit kxbtc-captures DIR)",
    "completion": "print a shell completion script: kbot completion bash|zsh|tcsh",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kbot",
        description="kbot prices Kalshi's Bitcoin markets and trades them in shadow, paper or live mode.",
    )
    parser.add_argument("--version", action="version", version=f"kbot {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, help_text in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        module = importlib.import_module(f"kbot.commands.{name}")
        module.add_arguments(p)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 0
    module = importlib.import_module(f"kbot.commands.{args.command}")
    try:
        return int(module.main(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
