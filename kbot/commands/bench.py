"""`kbot bench`: the benchmark suite (``python -m bench``), from a source checkout."""

from __future__ import annotations

import argparse
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("names", nargs="*", metavar="NAME",
                        help="benchmarks to run (default: all); --list shows them")
    parser.add_argument("--quick", action="store_true", help="smoke run: a few minutes for the whole suite, every figure")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    parser.add_argument("--markdown", action="store_true", help="also print the table as Markdown")


def main(args: argparse.Namespace) -> int:
    try:
        from bench.__main__ import run_from_args
    except ImportError:
        print("kbot bench: the benchmarks live in the source tree (bench/); run it from a kbot checkout",
              file=sys.stderr)
        return 2
    return run_from_args(args)
