"""The parser probe of issue 12: mutated frames into every public parse entry point; how many
escape as exceptions (by kind), how many pass as garbage domain messages (by kind), and how the
rest was rejected (``WireError`` kinds, i.e. what a feed counts as bad input).

    .venv/bin/python -m tests.venues.fuzz_probe --frames 110000 --seed 12

Deterministic for a seed. See ``tests/venues/fuzzing.py`` for the seeds, the mutator and what
counts as valid.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter

from loguru import logger

from tests.venues import fuzzing


def _by_kind(c: Counter[str]) -> Counter[str]:
    out: Counter[str] = Counter()
    for key, n in c.items():
        out[key.split(": ", 1)[1]] += n
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=110_000)
    ap.add_argument("--seed", type=int, default=12)
    ap.add_argument("--samples", action="store_true", help="print one sample frame per escape/garbage kind")
    args = ap.parse_args(argv)
    logger.remove()  # the parsers' bad-input log lines are the expected outcome here
    t0 = time.perf_counter()
    rep = fuzzing.run(args.frames, args.seed)
    dt = time.perf_counter() - t0
    escaped, garbage = sum(rep.escaped.values()), sum(rep.garbage.values())
    print(f"{rep.frames:,} mutated frames over {len(fuzzing.entry_points())} entry points, seed {args.seed}, {dt:.1f} s")
    print(f"  valid domain messages: {rep.ok:,}   rejected as WireError: {sum(rep.rejected.values()):,}   "
          f"escaped as exceptions: {escaped:,}   garbage passed: {garbage:,}")
    if escaped:
        print("escaped, by exception: " + ", ".join(f"{k} {n:,}" for k, n in _by_kind(rep.escaped).most_common()))
        for k, n in rep.escaped.most_common():
            print(f"  {n:6,}  {k}")
    if garbage:
        print("garbage, by kind: " + ", ".join(f"{k} {n:,}" for k, n in _by_kind(rep.garbage).most_common()))
        for k, n in rep.garbage.most_common():
            print(f"  {n:6,}  {k}")
    print("rejected (bad input), by kind: " + ", ".join(f"{k} {n:,}" for k, n in rep.rejected.most_common()))
    if args.samples:
        for k, s in sorted(rep.samples.items()):
            print(f"  {k}: {s[:300]}")
    return 1 if escaped or garbage else 0


if __name__ == "__main__":
    sys.exit(main())
