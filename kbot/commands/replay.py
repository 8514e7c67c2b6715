"""`kbot replay SOURCE...`: recorded inputs through the tree of `kbot run` on a virtual clock.

SOURCE: kbot's own recordings (`kbot run --record`: a directory of `rec-*.tsv.gz` files, or
files), or with `--format organics` a folder of the organics recorder layout (or some of its
`research_data/<session>` directories). The replay writes to its own database (default
`data/replay-<id>.sqlite`, run venue `replay`): `kbot report ... --db URL --run ID` works on it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from typing import Any

from kbot.commands.common import load_from_args

FORMATS = ("auto", "kbot", "organics")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_source_arguments(parser, "--format")
    add_replay_config_arguments(parser)
    parser.add_argument("--from", dest="t_from", metavar="T", help="start at this time (ISO 8601 UTC or epoch seconds)")
    parser.add_argument("--to", dest="t_to", metavar="T", help="stop at this time (ISO 8601 UTC or epoch seconds)")
    parser.add_argument("--latency-ms", type=float, metavar="N",
                        help="a TAKE fills against the recorded book N ms after the decision (default 100)")
    parser.add_argument("--fills", choices=("book", "shadow"),
                        help="book (default): taker walk of the recorded book; shadow: at the decided price, like kbot run")
    parser.add_argument("--seed", type=int, help="scheduler seed (default 0): a replay is deterministic for a seed")
    add_strategy_argument(parser)
    parser.add_argument("--output", choices=("table", "json"), default="table", help="summary format (default table)")


def add_strategy_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--strategy", choices=("taker", "maker"),
                        help="taker (default): TAKE/PASS decisions filled on the recorded book; maker: quotes in "
                             "the paper venue's queue model, filled by the recorded (or inferred) trades")


def add_replay_config_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="TOML", help="configuration file (default: ./kbot.toml when present)")
    parser.add_argument("--db", metavar="URL", help="the replay's database (default: a new data/replay-<id>.sqlite; "
                        "never the live database unless given here)")


def add_source_arguments(parser: argparse.ArgumentParser, flag: str) -> None:
    parser.add_argument("sources", nargs="+", metavar="SOURCE", help="recording directory/files, or an organics folder")
    parser.add_argument(flag, dest="source_format", choices=FORMATS, default="auto",
                        help="recording format: kbot (kbot run --record) or organics (default: auto-detect)")
    parser.add_argument("--sessions", metavar="GLOB", action="append",
                        help="organics: only sessions matching this pattern (repeatable)")


def parse_time(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        pass
    t = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.UTC)
    return t.timestamp()


def load_source(args: argparse.Namespace) -> Any:
    """The ``ReplaySource`` for the command line's SOURCE arguments."""
    from pathlib import Path

    fmt = args.source_format
    if fmt == "auto":
        p = Path(args.sources[0])
        fmt = "organics" if (p / "research_data").is_dir() or p.parent.name == "research_data" else "kbot"
    if fmt == "organics":
        from kbot.replay.organics import organics

        return organics(args.sources, sessions=args.sessions)
    from kbot.replay.sources import kbot_recording

    return kbot_recording(args.sources)


def replay_overrides(args: argparse.Namespace) -> dict[str, Any]:
    rp: dict[str, Any] = {}
    for key, name in (("latency_ms", "latency_ms"), ("fills", "fills"), ("seed", "seed")):
        v = getattr(args, key, None)
        if v is not None:
            rp[name] = v
    out: dict[str, Any] = {"replay": rp} if rp else {}
    if getattr(args, "strategy", None) is not None:
        out["maker"] = {"enabled": args.strategy == "maker"}
    return out


def quiet_logging(level: str = "WARNING") -> None:
    """Console only, warnings and errors; a replay's health alerts about feeds that a recording
    does not have are left out."""
    from loguru import logger

    logger.remove()
    logger.add(sys.stderr, level=level, format="{time:HH:mm:ss} {level: <7} {message}",
               filter=lambda r: r["extra"].get("event") not in ("tape", "alert") and r["name"] != "kbot.alerts")


def prepare(args: argparse.Namespace, command: str, check: Any = None) -> tuple[Any, Any, float | None, float | None] | None:
    """The configuration, the source and the --from/--to window of a replay command, or None after
    printing what is wrong (exit 2). ``check(cfg)`` may validate more (raising ValueError)."""
    from kbot.replay.organics import OrganicsError
    from kbot.replay.reader import RecordingError

    cfg = load_from_args(args, replay_overrides(args))
    if cfg is None:
        return None
    quiet_logging()
    try:
        if check is not None:
            check(cfg)
        t_from, t_to = parse_time(args.t_from), parse_time(args.t_to)
        return cfg, load_source(args), t_from, t_to
    except (RecordingError, OrganicsError, ValueError) as exc:
        print(f"kbot {command}: {exc}", file=sys.stderr)
        return None


def main(args: argparse.Namespace) -> int:
    import json
    import time

    from kbot.replay.engine import run_replay

    prepared = prepare(args, "replay")
    if prepared is None:
        return 2
    cfg, source, t_from, t_to = prepared
    print(f"replaying {source.name} ...", file=sys.stderr, flush=True)
    wall0 = time.time()

    def progress(p: Any) -> None:
        stamp = dt.datetime.fromtimestamp(p.last_t, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
        print(f"  {p.events:>12,} events, at {stamp} UTC ({time.time() - wall0:.0f} s)", file=sys.stderr, flush=True)

    try:
        r = run_replay(source, cfg, db_url=args.db, t_from=t_from, t_to=t_to, on_progress=progress, progress_every=200_000)
    except ValueError as exc:
        print(f"kbot replay: {exc}", file=sys.stderr)
        return 2
    summary = summarize(r)
    if args.output == "json":
        print(json.dumps(summary, indent=2, default=str))
    else:
        print(render(summary))
    return 0 if r.gave_up is None else 1


def summarize(r: Any) -> dict[str, Any]:
    """What a replay did and made, read back from its database."""
    from kbot.replay.metrics import run_rows
    from kbot.strategy.report import run_report

    notes = dict(r.notes)
    read = notes.pop("read", None)
    out: dict[str, Any] = {
        "run_id": r.run_id, "db": r.db_url, "events": r.events, "wall_s": round(r.wall_s, 2),
        "events_per_s": round(r.events / r.wall_s) if r.wall_s > 0 else None,
        "market_time_s": round(r.market_s, 1), "x_real_time": round(r.market_s / r.wall_s, 1) if r.wall_s > 0 else None,
        "decisions": r.decisions, "takes": r.takes, "fills": r.fills, "unfilled_takes": len(r.unfilled),
        "unfilled_reasons": _count_values(r.unfilled), "rest": r.rest, "gave_up": r.gave_up,
        "wake_marks": r.marks,
        "series": run_rows(r.db_url, r.run_id),
        "fill_quality": run_report(r.db_url, r.run_id),
    }
    if read is not None:
        out["recording"] = {"files": read.files, "records": read.records, "bad_lines": read.bad_lines,
                            "truncated_files": read.truncated_files}
    out["source"] = notes
    return out


def _count_values(d: dict[str, str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for v in d.values():
        out[v] = out.get(v, 0) + 1
    return out


def render(s: dict[str, Any]) -> str:
    from kbot.replay.metrics import render_rows

    lines = [
        f"replay {s['run_id']}: {s['events']:,} events, {s['market_time_s']:,.0f} s of market time in {s['wall_s']:.1f} s "
        f"({s['events_per_s']:,} events/s, {s['x_real_time']:,}x real time)",
        f"  decisions {s['decisions']:,}, TAKEs {s['takes']:,}, fills {s['fills']:,}, TAKEs not (fully) filled "
        f"{s['unfilled_takes']:,} {s['unfilled_reasons'] or ''}".rstrip(),
    ]
    src = s["source"]
    if src.get("format") == "organics":
        lines.append(f"  organics: {len(src['sessions'])} session(s), {len(src['markets'])} markets, "
                     f"{src['settled_from_results']} settled from official results")
        if src["no_result"]:
            lines.append(f"  markets WITHOUT a result (not settled, not scored): {', '.join(src['no_result'])}")
        if src["conflicting_results"]:
            lines.append(f"  markets with CONFLICTING results (not settled): {src['conflicting_results']}")
    if s["rest"]["served"] or s["rest"]["unanswered"]:
        lines.append(f"  REST responses served from the recording: {s['rest']['served']:,} "
                     f"(not found: {s['rest']['unanswered']:,})")
    pm = s.get("wake_marks")
    if pm:
        lines.append(f"  wake marks followed: {pm['delivered']:,} (inputs differed from the live actor's at "
                     f"{pm['differed']:,}; marks of an actor not running: {pm['unmatched']:,})")
    if "recording" in s and (s["recording"]["truncated_files"] or s["recording"]["bad_lines"]):
        lines.append(f"  recording: {s['recording']['truncated_files']} file(s) cut short, "
                     f"{s['recording']['bad_lines']} unreadable line(s) skipped")
    lines.append("")
    lines.append(render_rows(s["series"]))
    if s.get("fill_quality"):
        from kbot.strategy.report import render as render_quality

        lines += ["", "fill quality (kbot report maker):", render_quality(s["fill_quality"])]
    lines.append("")
    lines.append(f"database: {s['db']}   (kbot report model --since all --db {s['db']} --run {s['run_id']})")
    if s["gave_up"]:
        lines.append(f"THE TREE GAVE UP: {s['gave_up']}")
    return "\n".join(lines)
