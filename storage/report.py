"""SQL reports: plain ``.sql`` files in ``storage/reports/``, run by ``kbot report NAME``.

A report file starts with ``-- NAME: one-line description`` (more ``--`` lines may follow)
and is one SELECT with named parameters, all optional to use:

- ``:since``  epoch seconds; from ``--since 24h | 7d | 90m | 2026-11-01 | all`` (all: 0)
- ``:now``    epoch seconds when the report runs
- ``:run_id`` a run id (``--run ID``) or NULL; filter with
  ``(CAST(:run_id AS VARCHAR(64)) IS NULL OR x.run_id = :run_id)`` (the CAST gives PostgreSQL
  the parameter's type when it is NULL)

SQL stays portable between SQLite and PostgreSQL; group by UTC day with ``kbot_day(ts)``
(provided on both, see ``storage/db.py`` and migration 0001). Times are numbers in the
database: the formatter shows columns named ``ts`` or ``*_ts`` as UTC times.
"""

from __future__ import annotations

import csv
import datetime as _dt
import io
import json
import re
from collections.abc import Sequence
from decimal import Decimal
from importlib import resources
from typing import Any

import attrs
import sqlalchemy as sa

REPORTS_PACKAGE = "storage"
REPORTS_DIR = "reports"
_HEADER = re.compile(r"^--\s*([a-z0-9_]+)\s*:\s*(.+?)\s*$")
_PARAM = re.compile(r"(?<![:\w]):([a-z_][a-z0-9_]*)")
PARAMS = ("since", "now", "run_id")
MONEY_WORDS = ("pnl", "price", "cost", "fee", "amount", "balance", "exposure", "equity")


class UnknownReport(LookupError):
    pass


@attrs.frozen(slots=True)
class ReportInfo:
    name: str
    description: str
    sql: str
    params: frozenset[str]


@attrs.frozen(slots=True)
class ReportResult:
    name: str
    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]

    def dicts(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, r)) for r in self.rows]


def _parse(name: str, sql: str) -> ReportInfo:
    first = sql.lstrip().splitlines()[0] if sql.strip() else ""
    m = _HEADER.match(first)
    if not m or m.group(1) != name:
        raise ValueError(f"report {name}.sql must start with '-- {name}: <one-line description>'")
    body = "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--"))
    params = frozenset(_PARAM.findall(body))
    unknown = params - set(PARAMS)
    if unknown:
        raise ValueError(f"report {name}.sql uses unknown parameters {sorted(unknown)} (known: {PARAMS})")
    return ReportInfo(name=name, description=m.group(2), sql=sql, params=params)


def list_reports() -> list[ReportInfo]:
    root = resources.files(REPORTS_PACKAGE).joinpath(REPORTS_DIR)
    out = []
    for entry in sorted(root.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".sql"):
            out.append(_parse(entry.name[: -len(".sql")], entry.read_text(encoding="utf-8")))
    return out


def load_report(name: str) -> ReportInfo:
    for r in list_reports():
        if r.name == name:
            return r
    names = ", ".join(r.name for r in list_reports())
    raise UnknownReport(f"no report named {name!r} (available: {names})")


def run_report(
    conn: sa.Connection, name: str, *, now: float, since: float | None = None, run_id: str | None = None
) -> ReportResult:
    info = load_report(name)
    values = {"since": 0.0 if since is None else float(since), "now": float(now), "run_id": run_id}
    params = {k: v for k, v in values.items() if k in info.params}
    res = conn.execute(sa.text(info.sql), params)
    return ReportResult(name=name, columns=tuple(res.keys()), rows=[tuple(r) for r in res])


# ----------------------------------------------------------------------------- arguments

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$", re.I)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_since(text: str | None, now: float) -> float | None:
    """``24h``/``90m``/``7d``/``2w``/``30s`` ago, an ISO date or datetime (UTC unless it says
    otherwise), an epoch number, or ``all`` (None)."""
    if text is None or text.strip().lower() in ("", "all"):
        return None
    m = _DURATION.match(text)
    if m:
        return now - float(m.group(1)) * _UNITS[m.group(2).lower()]
    try:
        return float(text)
    except ValueError:
        pass
    try:
        d = _dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"--since {text!r}: use 24h, 90m, 7d, 2w, an ISO date/time (UTC) or 'all'") from None
    if d.tzinfo is None:
        d = d.replace(tzinfo=_dt.UTC)
    return d.timestamp()


# ----------------------------------------------------------------------------- formatting


def is_time_column(name: str) -> bool:
    return name == "ts" or name.endswith("_ts")


def format_time(v: float | Decimal) -> str:
    return _dt.datetime.fromtimestamp(float(v), _dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def format_value(column: str, v: Any) -> str:
    """Times (``ts``, ``*_ts``) as UTC, money (names with pnl/price/cost/fee/amount/balance/
    exposure/equity) with 4 dp, durations (``*_s``) with 1 dp, other floats with 4 dp, integers and
    other decimals as they are."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if not isinstance(v, (int, float, Decimal)):
        return str(v)
    if is_time_column(column):
        return format_time(v)
    if _is_money(column):
        return f"{v:,.4f}"
    if column.endswith("_s"):
        return f"{v:,.1f}"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, Decimal):
        return f"{v.normalize():f}"
    return f"{v:.4f}" if v == 0 or abs(v) >= 1e-3 else f"{v:.3g}"


def _is_money(column: str) -> bool:
    return any(w in column for w in MONEY_WORDS)


def to_csv(result: ReportResult) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(result.columns)
    for row in result.rows:
        w.writerow([format_value(c, v) for c, v in zip(result.columns, row)])
    return buf.getvalue()


def _json_value(v: Any) -> Any:
    if isinstance(v, Decimal):
        return str(v)
    return v


def to_json(result: ReportResult) -> str:
    """Numbers stay numbers (times: epoch seconds; exact decimals: strings)."""
    rows = [{c: _json_value(v) for c, v in zip(result.columns, row)} for row in result.rows]
    return json.dumps({"report": result.name, "columns": list(result.columns), "rows": rows}, indent=2)


def to_table(result: ReportResult, title: str | None = None) -> Any:
    """A ``rich.table.Table`` (numbers right-aligned)."""
    from rich.table import Table

    table = Table(title=title, show_lines=False, header_style="bold")
    numeric = [_numeric_column(result.rows, i) for i in range(len(result.columns))]
    for c, num in zip(result.columns, numeric):
        table.add_column(
            c, justify="right" if num and not is_time_column(c) else "left", overflow="fold", min_width=min(len(c), 12)
        )
    for row in result.rows:
        table.add_row(*[format_value(c, v) for c, v in zip(result.columns, row)])
    return table


def _numeric_column(rows: Sequence[tuple[Any, ...]], i: int) -> bool:
    vals = [r[i] for r in rows if r[i] is not None]
    return bool(vals) and all(isinstance(v, (int, float, Decimal)) and not isinstance(v, bool) for v in vals)
