"""Helpers shared by commands that read kbot's configuration."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from kbot.confload import ConfigError, deep_merge


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="TOML", help="configuration file (default: ./kbot.toml when present)")
    parser.add_argument("--db", metavar="URL", help="database URL (default: sqlite:///./data/kbot.sqlite or KBOT_DB_URL)")


def load_from_args(args: argparse.Namespace, cli: dict[str, Any] | None = None) -> Any:
    """The effective AppConfig, or None after printing a clear message (exit 2)."""
    from pathlib import Path

    from kbot.config import load_config

    path = args.config
    if path is None and Path("kbot.toml").is_file():
        path = "kbot.toml"
    cli = dict(cli or {})
    if getattr(args, "db", None):
        cli = deep_merge(cli, {"storage": {"url": args.db}})
    try:
        return load_config(path, cli=cli)
    except (ConfigError, ValueError, TypeError) as exc:
        print(f"kbot: invalid configuration: {exc}", file=sys.stderr)
        return None


def database_url(args: argparse.Namespace) -> str:
    """The database the other commands should read: ``--db``, else the one ``kbot run`` would use
    with the same configuration (``--config``/``./kbot.toml``, ``KBOT_DB_URL``, ``.env``)."""
    if getattr(args, "db", None):
        return str(args.db)
    from pathlib import Path

    from kbot.config import load_config
    from storage.config import resolve_url

    path = getattr(args, "config", None)
    if path is None and Path("kbot.toml").is_file():
        path = "kbot.toml"
    try:
        return load_config(path).db_url
    except (ConfigError, ValueError, TypeError) as exc:
        print(f"kbot: ignoring the configuration for the database URL ({exc})", file=sys.stderr)
        return resolve_url(None)
