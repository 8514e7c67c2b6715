"""One module per ``kbot`` subcommand (see ``kbot.cli``)."""

from __future__ import annotations

import sys


def not_yet_available(name: str, issue: str) -> int:
    """The placeholder a command prints until its issue lands: a clear message, exit 2."""
    print(f"kbot {name}: not yet available ({issue}).", file=sys.stderr)
    return 2
