"""`kbot model fit kxbtc-captures DIR --until DATE [--out FILE]`: choose the probability model by
out-of-sample score on the captures before DATE and fit the calibrated blend on them
(``kbot.evaluate.select``); the parameters shipped with kbot (``kbot/model/params/kxbtc.json``)
are made by this command from the shared real data. `kbot model show [FILE]` prints parameters."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path

HELP = "fit the calibrated blend's parameters from captured real markets (kbot model fit kxbtc-captures DIR)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION")
    fit = sub.add_parser("fit", help="choose the model and fit the blend on captures before --until")
    fit.add_argument("source", choices=("kxbtc-captures",))
    fit.add_argument("dir", metavar="DIR")
    fit.add_argument("--until", required=True, metavar="DATE",
                     help="use only captures before this UTC date/time (ISO): never the data you evaluate on")
    fit.add_argument("--out", metavar="FILE", help="where to write the parameters (JSON; default: stdout)")
    fit.add_argument("--config", metavar="TOML", help="configuration file (default: ./kbot.toml when present)")
    fit.add_argument("--candidates", metavar="NAMES", help="comma-separated candidate names (default: all)")
    show = sub.add_parser("show", help="print blend parameters (default: the shipped ones)")
    show.add_argument("file", nargs="?", metavar="FILE")


def _until(text: str) -> float:
    dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


def main(args: argparse.Namespace) -> int:
    if args.action == "show":
        return _show(args)
    if args.action != "fit":
        print("kbot model: fit or show (kbot model --help)", file=sys.stderr)
        return 2
    from kbot.actorkit import BadInputLog
    from kbot.commands.common import load_from_args
    from kbot.evaluate.captures import capture_files, read_captures
    from kbot.evaluate.select import candidates, choose_lambda, fit_params, score_candidates
    from kbot.evaluate.walk import WalkConfig

    folder = Path(args.dir)
    if not capture_files(folder):
        print(f"kbot model fit: no captures in {folder}", file=sys.stderr)
        return 2
    try:
        until = _until(args.until)
    except ValueError:
        print(f"kbot model fit: --until {args.until!r} is not an ISO date/time", file=sys.stderr)
        return 2
    cfg = load_from_args(args)
    if cfg is None:
        return 2
    wcfg = WalkConfig.of(cfg)
    bad = BadInputLog("kxbtc-captures")
    caps = read_captures(folder, bad, until=until)
    if not caps:
        print(f"kbot model fit: no captures before {args.until}", file=sys.stderr)
        return 2
    models = candidates()
    if args.candidates:
        wanted = set(args.candidates.split(","))
        models = [m for m in models if m.name in wanted]
        if not models:
            print(f"kbot model fit: no candidate named {args.candidates!r}", file=sys.stderr)
            return 2
    log = sys.stderr
    print(f"{len(caps)} captures before {args.until}; scoring {len(models)} candidate models (raw, out of sample)",
          file=log)
    table = score_candidates(caps, wcfg, models)
    for r in table:
        b = "  ".join(f"{k} {v:.4f}" for k, v in sorted(r["brier_model"].items()))
        print(f"  {r['model']['name']:<14} mean {r['mean']:.4f}   {b}", file=log)
    chosen = models[table[0]["order"]]
    print(f"chosen: {chosen.name}; its blend refitted walk-forward (daily) from the market prior, out of sample:",
          file=log)
    lam, lam_rows = choose_lambda(caps, chosen, wcfg)
    for r in lam_rows:
        b = "  ".join(f"{k} p_yes {v:.4f} (mid {r['brier_market'][k]:.4f})" for k, v in sorted(r["brier_final"].items()))
        print(f"  lambda {r['lam']:>6g}  mean {r['mean']:.4f}   {b}", file=log)
    print(f"ridge weight chosen: {lam:g}", file=log)
    source = f"kbot model fit kxbtc-captures {folder.name} --until {args.until}"
    selection = {"candidates": [{"name": r["model"]["name"], "mean_brier_model": round(r["mean"], 6),
                                 "brier_model": {k: round(v, 6) for k, v in r["brier_model"].items()}} for r in table],
                 "chosen": chosen.name,
                 "lambdas": [{"lam": r["lam"], "mean_brier_final": round(r["mean"], 6),
                              "brier_final": {k: round(v, 6) for k, v in r["brier_final"].items()},
                              "brier_market": {k: round(v, 6) for k, v in r["brier_market"].items()}}
                             for r in lam_rows],
                 "lam": lam, "captures": len(caps), "until": args.until}
    params, _ = fit_params(caps, chosen, wcfg, lam=lam, now=until, source=source, selection=selection)
    text = params.to_json() + "\n"
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
        print(f"wrote {args.out} ({params.fit_id}; rows per band {dict(params.n_rows)})", file=log)
    else:
        sys.stdout.write(text)
    return 0


def _show(args: argparse.Namespace) -> int:
    from kbot.model.blend import FEATURES, load_params

    try:
        p = load_params(args.file)
    except (OSError, ValueError, KeyError) as exc:
        print(f"kbot model show: {exc}", file=sys.stderr)
        return 2
    print(f"fit {p.fit_id}: model {p.model.get('name')} {p.model.get('version')} "
          f"(volatility {', '.join(p.model.get('vol_sources', []))}; tails nu={p.model.get('nu')})")
    print(f"fitted {p.fitted_ts}; data window {p.window_start} .. {p.window_end}; source: {p.source or '-'}")
    print("coefficients (" + ", ".join(FEATURES) + "):")
    for k, c in sorted(p.coefs.items()):
        print(f"  {k:<12} n={p.n_rows.get(k, 0):>6}  " + " ".join(f"{v:+.4f}" for v in c))
    return 0
