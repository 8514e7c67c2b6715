"""`kbot config`."""

from __future__ import annotations

import argparse

from kbot.commands import not_yet_available


def add_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def main(args: argparse.Namespace) -> int:
    return not_yet_available("config", "the 'kbot run' issue")
