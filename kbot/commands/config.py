"""`kbot config show`: the effective configuration (defaults < kbot.toml < environment < flags),
secrets redacted, as TOML (default) or JSON."""

from __future__ import annotations

import argparse
import json

from kbot.commands.common import add_config_arguments, load_from_args


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION")
    show = sub.add_parser("show", help="print the effective configuration with secrets redacted")
    add_config_arguments(show)
    show.add_argument("--venue", choices=("sim", "demo", "prod"))
    show.add_argument("--format", choices=("toml", "json"), default="toml")


def main(args: argparse.Namespace) -> int:
    if getattr(args, "action", None) != "show":
        print("usage: kbot config show [--config TOML] [--db URL] [--venue V] [--format toml|json]")
        return 2
    from kbot.config import KALSHI_ENV, config_digest, effective
    from kbot.confload import environment_with_dotenv
    from kbot.tomlout import dumps

    cli = {"venue": args.venue} if args.venue else {}
    cfg = load_from_args(args, cli)
    if cfg is None:
        return 2
    data = effective(cfg)
    if args.format == "json":
        print(json.dumps(data, indent=2, sort_keys=False))
    else:
        print(f"# kbot effective configuration (digest {config_digest(cfg)}); secrets are redacted")
        env = environment_with_dotenv()
        from_env = [f"kalshi.{name} from {var}" for var, name in KALSHI_ENV.items() if env.get(var)]
        if from_env:
            print(f"# from the environment (or .env): {', '.join(from_env)}")
        print(dumps(data), end="")
    return 0
