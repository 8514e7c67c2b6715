"""`kbot evaluate kxbtc-captures DIR [--out FILE.jsonl]`: price and decide every captured KXBTC
bracket with the code and configuration the actors use, walk-forward (``kbot.evaluate``), and
print per horizon bucket the Brier per event of the final probability and of the market, and
what the default decision rule would have made after fees."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HELP = "evaluate the model and decisions walk-forward on captured real markets (kxbtc-captures DIR)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", choices=("kxbtc-captures",), help="the layout of DIR (crypto_hourly/dt=*.jsonl.gz)")
    parser.add_argument("dir", metavar="DIR", help="the folder of captures")
    parser.add_argument("--out", metavar="FILE.jsonl", help="one JSON line per captured bracket with a quote")
    parser.add_argument("--config", metavar="TOML", help="configuration file (default: ./kbot.toml when present)")
    parser.add_argument("--params", metavar="FILE", help="blend parameters to start from (default: model.params_file, "
                        "else the ones shipped with kbot)")
    parser.add_argument("--no-refit", action="store_true", help="keep the starting parameters (no walk-forward refit)")
    parser.add_argument("--raw-model", action="store_true",
                        help="decide on the raw model probability (no blend, no refit): the model without calibration")


def main(args: argparse.Namespace) -> int:
    from kbot.actorkit import BadInputLog
    from kbot.commands.common import load_from_args
    from kbot.evaluate.captures import capture_files, read_captures
    from kbot.evaluate.summary import summary_lines
    from kbot.evaluate.walk import WalkConfig, run_walk
    from kbot.model.blend import load_params, model_only

    folder = Path(args.dir)
    if not capture_files(folder):
        print(f"kbot evaluate: no captures in {folder} (expected {folder}/crypto_hourly/dt=*.jsonl.gz)",
              file=sys.stderr)
        return 2
    cfg = load_from_args(args)
    if cfg is None:
        return 2
    try:
        base = load_params(args.params or cfg.model.params_file)
    except (OSError, ValueError, KeyError) as exc:
        print(f"kbot evaluate: cannot read the blend parameters: {exc}", file=sys.stderr)
        return 2
    refit = not (args.no_refit or args.raw_model)
    if args.raw_model:
        base = model_only(base.model, base.bands_s)
    wcfg = WalkConfig.of(cfg, refit=refit)
    bad = BadInputLog("kxbtc-captures")
    captures = read_captures(folder, bad)
    out = None
    n = 0
    try:
        if args.out:
            out = sys.stdout if args.out == "-" else open(args.out, "w", encoding="utf-8")  # noqa: SIM115

        def emit(line: dict) -> None:
            nonlocal n
            n += 1
            if out is not None:
                out.write(json.dumps(line, separators=(",", ":")) + "\n")

        w = run_walk(captures, base, wcfg, emit)
    finally:
        if out is not None and out is not sys.stdout:
            out.close()
    report = sys.stderr if args.out == "-" else sys.stdout
    print(f"kbot evaluate kxbtc-captures {folder}" + (" (raw model)" if args.raw_model else "")
          + ("" if refit else " (no refit)"), file=report)
    for line in summary_lines(w, n_captures=len(captures), first_ts=captures[0].ts if captures else None,
                              last_ts=captures[-1].ts if captures else None, n_lines=n):
        print(line, file=report)
    if bad.total:
        print(f"bad input skipped: {dict(sorted(bad.counts.items()))}", file=report)
    return 0
