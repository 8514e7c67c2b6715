"""The benchmark suite's common ground: result rows, the table, ``bench/results/latest.json``.

Every benchmark module has ``rows(quick: bool) -> list[Row]`` (what the suite runs) and a
``main`` (``python -m bench.<name>``: its own detailed print-out, then its rows, merged into
``latest.json``). A ``Row`` is one figure of kbot beside a baseline measured in the same run:

- ``kbot`` / ``baseline``: the figures, in ``unit``;
- ``better``: ``"higher"`` (throughput) or ``"lower"`` (latency, memory): it orients ``ratio``;
- ``ratio``: how many times better kbot's figure is than the baseline's (> 1: kbot is better;
  a baseline that is a ceiling, e.g. raw ``sqlite3``, gives a ratio below 1 by design);
- ``target``: the issue's target for the figure, and whether it was met.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import platform
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import attrs

RESULTS = Path(__file__).resolve().parent / "results"
LATEST = RESULTS / "latest.json"


@attrs.frozen(kw_only=True)
class Row:
    bench: str  # module name (latency, saturation, writer, ...)
    what: str  # the figure, e.g. "tick -> Decision p99"
    workload: str  # what was run to get it
    kbot: float
    baseline: float | None
    unit: str
    better: str = "higher"  # "higher" | "lower"
    baseline_what: str = ""  # what the baseline is
    target: float | None = None  # the target in ``unit`` (same direction as ``better``)
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.baseline is None or not _finite(self.kbot) or not _finite(self.baseline):
            return None
        if self.better == "higher":
            return self.kbot / self.baseline if self.baseline else None
        return self.baseline / self.kbot if self.kbot else math.inf

    @property
    def target_met(self) -> bool | None:
        if self.target is None or not _finite(self.kbot):
            return None
        return self.kbot >= self.target if self.better == "higher" else self.kbot <= self.target

    def as_dict(self) -> dict[str, Any]:
        d = attrs.asdict(self)
        d["ratio"] = self.ratio
        d["target_met"] = self.target_met
        return {k: (None if isinstance(v, float) and not math.isfinite(v) and k != "ratio" else v) for k, v in d.items()}


def _finite(x: float | None) -> bool:
    return x is not None and math.isfinite(x)


def machine() -> dict[str, Any]:
    try:
        load = os.getloadavg()
    except OSError:  # pragma: no cover - not on Linux/macOS
        load = None
    return {
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_model": _cpu_model(),
        "loadavg_at_start": [round(x, 2) for x in load] if load else None,
    }


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


# ----------------------------------------------------------------------------- formatting


def fmt(x: float | None, unit: str = "") -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    if math.isinf(x):
        return "inf"
    a = abs(x)
    if a >= 1e6:
        s = f"{x / 1e6:.2f}M"
    elif a >= 10_000:
        s = f"{x:,.0f}"
    elif a >= 100:
        s = f"{x:.0f}"
    elif a >= 10:
        s = f"{x:.1f}"
    elif a >= 1:
        s = f"{x:.2f}"
    else:
        s = f"{x:.3g}"
    return f"{s} {unit}".rstrip()


def fmt_ratio(r: float | None) -> str:
    if r is None:
        return "-"
    if math.isinf(r):
        return "inf"
    return f"{r:,.0f}x" if r >= 100 else f"{r:.2f}x" if r < 10 else f"{r:.1f}x"


def table(rows: Iterable[Row]) -> str:
    rows = list(rows)
    head = ("bench", "what", "workload", "kbot", "baseline", "ratio", "target")
    body = []
    for r in rows:
        tgt = "-"
        if r.target is not None:
            op = ">=" if r.better == "higher" else "<="
            tgt = f"{op} {fmt(r.target, r.unit)}: " + ("met" if r.target_met else "NOT met")
        body.append((r.bench, r.what, r.workload, fmt(r.kbot, r.unit), fmt(r.baseline, r.unit) if r.baseline is not None
                     else "-", fmt_ratio(r.ratio), tgt))
    widths = [max(len(h), *(len(b[i]) for b in body)) if body else len(h) for i, h in enumerate(head)]
    line = lambda cells: "  ".join(c.ljust(w) if i < 3 else c.rjust(w) if i < 6 else c
                                   for i, (c, w) in enumerate(zip(cells, widths, strict=True)))
    out = [line(head), "  ".join("-" * w for w in widths)]
    out += [line(b) for b in body]
    return "\n".join(out)


def markdown(rows: Iterable[Row]) -> str:
    """The same table in Markdown (docs/PERFORMANCE.md)."""
    out = ["| bench | what | workload | kbot | baseline | ratio | target |", "|---|---|---|--:|--:|--:|---|"]
    for r in rows:
        tgt = "-"
        if r.target is not None:
            op = "&ge;" if r.better == "higher" else "&le;"
            tgt = f"{op} {fmt(r.target, r.unit)}: " + ("met" if r.target_met else "**not met**")
        base = fmt(r.baseline, r.unit) if r.baseline is not None else "-"
        if r.baseline_what and r.baseline is not None:
            base += f" ({r.baseline_what})"
        out.append(f"| {r.bench} | {r.what} | {r.workload} | {fmt(r.kbot, r.unit)} | {base} | {fmt_ratio(r.ratio)} | {tgt} |")
    return "\n".join(out)


# ----------------------------------------------------------------------------- results file


def load_latest(path: Path = LATEST) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def save(rows: list[Row], *, benches: dict[str, dict[str, Any]], quick: bool, merge: bool,
         path: Path = LATEST) -> Path:
    """Write ``rows`` to ``latest.json``. ``merge``: keep the rows of benchmarks not run now (a
    single benchmark run alone updates its own rows only); otherwise replace everything."""
    data = load_latest(path) if merge else {}
    old_rows = [r for r in data.get("rows", []) if r.get("bench") not in benches] if merge else []
    info = dict(data.get("benchmarks", {})) if merge else {}
    info.update(benches)
    out = {
        "date": now_iso(),
        "quick": quick,
        "machine": machine(),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "benchmarks": info,
        "rows": old_rows + [r.as_dict() for r in rows],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(out, indent=2, default=str) + "\n")
    os.replace(tmp, path)
    return path


def run_alone(name: str, rows_fn: Callable[[bool], list[Row]], quick: bool) -> list[Row]:
    """What ``python -m bench.<name>`` does after its own print-out: the rows, printed as the
    suite's table and merged into ``latest.json``."""
    import time

    t0 = time.perf_counter()
    rows = rows_fn(quick)
    secs = time.perf_counter() - t0
    print()
    print(table(rows))
    path = save(rows, benches={name: {"date": now_iso(), "quick": quick, "seconds": round(secs, 1)}},
                quick=quick, merge=True)
    print(f"\n(rows merged into {path})")
    return rows


def main_alone(
    name: str,
    doc: str,
    rows_fn: Callable[[bool, Any], list[Row]],
    argv: list[str] | None,
    *,
    quick_help: str,
    option: tuple[str, type, str] | None = None,
) -> int:
    """``python -m bench.<name> [--quick] [--<option> N]`` for a benchmark whose only knob is
    one size (``rows_fn(quick, value)``; value None: the benchmark's default)."""
    import argparse

    ap = argparse.ArgumentParser(prog=f"python -m bench.{name}", description=doc.strip().splitlines()[0])
    ap.add_argument("--quick", action="store_true", help=quick_help)
    if option is not None:
        ap.add_argument(option[0], type=option[1], help=option[2], dest="value", metavar="N")
    args = ap.parse_args(argv)
    value = getattr(args, "value", None)
    run_alone(name, lambda q: rows_fn(q, value), args.quick)
    return 0


def percentile(xs: list[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in [0, 1]) of an unsorted list; NaN when empty."""
    if not xs:
        return math.nan
    s = sorted(xs)
    return s[min(len(s) - 1, max(0, math.ceil(q * len(s)) - 1))]
