"""The report's figures: plain data in, PNG bytes out (matplotlib's object API with the Agg
canvas: no pyplot, no global figure state, no display needed).

Each builder returns a ``Chart``: the PNG, how many data points it drew (the report writes it
beside the image, and the tests check that every figure has data), and a short alt text. A
builder never gets empty data: the page says "nothing recorded" instead of drawing an empty
frame.
"""

from __future__ import annotations

import datetime as _dt
import io
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import attrs
import matplotlib
import matplotlib.dates as mdates
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from kbot.htmlreport.stats import drawdown, thin, wilson
from storage.report_data import BINS, Gap, LatencyPoint, ProbBin, RestartEvent

DPI = 100
WIDTH_IN = 11.0
MAX_POINTS = 2000  # per line
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf")  # fmt: skip
STYLE: dict[Any, Any] = {
    "font.size": 10, "axes.titlesize": 11, "axes.titleweight": "bold", "axes.spines.top": False,
    "axes.spines.right": False, "axes.grid": True, "grid.alpha": 0.3, "legend.frameon": False,
    "legend.fontsize": 8, "figure.facecolor": "white",
}  # fmt: skip


@attrs.frozen(kw_only=True)
class Chart:
    png: bytes
    points: int
    alt: str


@contextmanager
def _figure(height_in: float, rows: int = 1, cols: int = 1, **kw: Any) -> Iterator[tuple[Figure, Any]]:
    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(WIDTH_IN, height_in), dpi=DPI, layout="constrained")
        FigureCanvasAgg(fig)
        axes = fig.subplots(rows, cols, squeeze=False, **kw)
        yield fig, axes


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    return buf.getvalue()


def _dates(ts: Sequence[float]) -> list[_dt.datetime]:
    return [_dt.datetime.fromtimestamp(t, _dt.UTC) for t in ts]


def _time_axis(ax: Any) -> None:
    loc = mdates.AutoDateLocator(tz=_dt.UTC)
    ax.xaxis.set_major_locator(loc)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(loc, tz=_dt.UTC))
    ax.set_xlabel("UTC")


def _short(run_id: str) -> str:
    return run_id if len(run_id) <= 24 else run_id[:15] + "\u2026" + run_id[-6:]


# ----------------------------------------------------------------------------- money


def equity_chart(runs: dict[str, tuple[list[float], list[Decimal]]]) -> Chart:
    """Equity (top) and drawdown from its running peak (bottom), one line per run."""
    n = 0
    with _figure(6.0, 2, 1, sharex=True, height_ratios=(3, 2)) as (fig, axes):
        top, bottom = axes[0][0], axes[1][0]
        for i, (run_id, (ts, eq)) in enumerate(sorted(runs.items(), key=lambda kv: kv[1][0][0])):
            dd = drawdown(ts, eq)
            trough = [ts.index(dd.trough_ts)] if dd.trough_ts is not None else []
            keep = thin(len(ts), MAX_POINTS, must=trough)
            x = _dates([ts[k] for k in keep])
            color = PALETTE[i % len(PALETTE)]
            label = _short(run_id) if i < 8 else None
            top.plot(x, [float(eq[k]) for k in keep], color=color, lw=1.2, label=label)
            worst = f"worst {dd.max_dd:,.2f} ({dd.max_dd_frac:.1%})" if dd.trough_ts is not None else "no drawdown"
            bottom.fill_between(x, [float(dd.series[k]) for k in keep], 0, color=color, alpha=0.35, step="post",
                                label=f"{label}: {worst}" if label else None)  # fmt: skip
            n += len(ts)
        top.set_title("equity")
        top.set_ylabel("dollars")
        top.legend(loc="upper left")
        bottom.set_title("drawdown from the running peak")
        bottom.set_ylabel("dollars")
        bottom.legend(loc="lower left")
        _time_axis(bottom)
        return Chart(png=_png(fig), points=n, alt="equity and drawdown over time")


def pnl_by_day_chart(rows: Sequence[tuple[str, str, Decimal]]) -> Chart:
    """Realized PnL of positions closed each UTC day, stacked by series: ``(day, series, pnl)``."""
    days = sorted({d for d, _, _ in rows})
    series = sorted({s for _, s, _ in rows})
    by: dict[tuple[str, str], float] = defaultdict(float)
    for d, s, v in rows:
        by[(d, s)] += float(v)
    with _figure(4.2) as (fig, axes):
        ax = axes[0][0]
        pos = [0.0] * len(days)
        neg = [0.0] * len(days)
        xs = range(len(days))
        for i, s in enumerate(series):
            vals = [by.get((d, s), 0.0) for d in days]
            bottoms = [pos[k] if x >= 0 else neg[k] for k, x in enumerate(vals)]
            ax.bar(xs, vals, bottom=bottoms, color=PALETTE[i % len(PALETTE)], label=s, width=0.6)
            for k, x in enumerate(vals):
                if x >= 0:
                    pos[k] += x
                else:
                    neg[k] += x
        for k, d in enumerate(days):
            total = sum(by.get((d, s), 0.0) for s in series)
            ax.annotate(f"{total:+,.2f}", (k, pos[k] if total >= 0 else neg[k]), ha="center", fontsize=8,
                        xytext=(0, 3 if total >= 0 else -11), textcoords="offset points")  # fmt: skip
        ax.axhline(0, color="black", lw=0.8)
        ax.set_xlim(-0.6, max(len(days), 7) - 0.4)  # a day's bar stays a bar with one day of data
        ax.set_xticks(list(xs), days, rotation=30 if len(days) > 6 else 0, ha="right" if len(days) > 6 else "center")
        ax.set_ylabel("dollars")
        ax.set_title("realized PnL by UTC day and series")
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
        return Chart(png=_png(fig), points=len(rows), alt="realized PnL by day and series")


# ----------------------------------------------------------------------------- model


def reliability_chart(title: str, bins: Sequence[ProbBin]) -> Chart:
    """Observed frequency of YES against the mean probability per bin (Wilson 95 % intervals),
    over the count of scored snapshots per bin."""
    with _figure(5.6, 2, 1, height_ratios=(3, 1.2)) as (fig, axes):
        ax, cnt = axes[0][0], axes[1][0]
        ax.plot([0, 1], [0, 1], color="grey", lw=1, ls="--", label="perfectly calibrated")
        xs = [b.mean_prob for b in bins]
        ys = [b.freq_yes for b in bins]
        ci = [wilson(b.freq_yes * b.n, b.n) for b in bins]
        err = [[y - lo for y, (lo, _) in zip(ys, ci)], [hi - y for y, (_, hi) in zip(ys, ci)]]
        ax.errorbar(xs, ys, yerr=err, fmt="o-", color=PALETTE[0], ms=5, capsize=3, label="observed (95% CI)")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_xlabel("predicted probability of YES (bin mean)")
        ax.set_ylabel("observed frequency of YES")
        ax.set_title(f"reliability: {title}")
        ax.legend(loc="upper left")
        edges = [b.bin / BINS for b in bins]
        cnt.bar(edges, [b.n for b in bins], width=1 / BINS, align="edge", color=PALETTE[0], alpha=0.6,
                edgecolor="white")  # fmt: skip
        for b in bins:
            cnt.annotate(f"{b.n:,}", (b.bin / BINS + 0.5 / BINS, b.n), ha="center", fontsize=7, xytext=(0, 2),
                         textcoords="offset points")  # fmt: skip
        cnt.set_xlim(0, 1)
        counts = [b.n for b in bins]
        if max(counts) > 20 * max(1, min(counts)):
            cnt.set_yscale("log")
        cnt.set_ylabel("snapshots")
        cnt.set_xlabel("probability bin")
        n = sum(b.n for b in bins)
        return Chart(png=_png(fig), points=n, alt=f"reliability diagram of the {title}, {n} scored snapshots")


def scores_chart(rows: Sequence[dict[str, Any]]) -> Chart:
    """Brier score and log loss, model vs market, per series and horizon (``model`` report rows)."""
    labels = [f"{r['series_ticker']}\n{r['horizon']}\nn={int(r['n']):,}" for r in rows]
    xs = list(range(len(rows)))
    w = 0.38
    with _figure(5.6, 2, 1, sharex=True) as (fig, axes):
        for ax, metric in ((axes[0][0], "brier"), (axes[1][0], "log_loss")):
            model = [r[metric] for r in rows]
            market = [r[f"market_{metric}"] if r[f"market_{metric}"] is not None else float("nan") for r in rows]
            ax.bar([x - w / 2 for x in xs], model, width=w, color=PALETTE[0], label="model")
            ax.bar([x + w / 2 for x in xs], market, width=w, color=PALETTE[1], label="market mid")
            ax.set_ylabel(metric.replace("_", " "))
            ax.set_title(f"{metric.replace('_', ' ')} (lower is better)")
            ax.legend(loc="upper right")
        axes[1][0].set_xticks(xs, labels, fontsize=8)
        return Chart(png=_png(fig), points=sum(int(r["n"]) for r in rows),
                     alt="Brier score and log loss of the model and the market by series and horizon")


# ----------------------------------------------------------------------------- decisions


def decisions_chart(rows: Sequence[dict[str, Any]]) -> Chart:
    """Decisions per reason, TAKE and PASS (``decisions`` report rows, without the totals)."""
    reasons = [r for r in rows if r["reason"] != "(all)"]
    reasons.sort(key=lambda r: (r["action"] != "TAKE", -int(r["decisions"])))
    reasons = reasons[:25]
    labels = [f"{r['action']} {r['reason']}" for r in reasons]
    vals = [int(r["decisions"]) for r in reasons]
    colors = [PALETTE[2] if r["action"] == "TAKE" else PALETTE[7] for r in reasons]
    with _figure(max(2.5, 0.32 * len(reasons) + 1.2)) as (fig, axes):
        ax = axes[0][0]
        ys = list(range(len(reasons)))[::-1]
        ax.barh(ys, vals, color=colors)
        ax.set_yticks(ys, labels, fontsize=8)
        for y, v, r in zip(ys, vals, reasons):
            ax.annotate(f"{v:,} ({float(r['share']):.0%})", (v, y), va="center", fontsize=7, xytext=(3, 0),
                        textcoords="offset points")  # fmt: skip
        ax.set_xscale("log" if vals and max(vals) > 50 * max(1, min(vals)) else "linear")
        ax.set_xlabel("decisions (a PASS with several reasons counts under each)")
        ax.set_title("TAKE / PASS by reason")
        return Chart(png=_png(fig), points=sum(vals), alt="decisions by action and reason")


# ----------------------------------------------------------------------------- operations


def latency_chart(points: Sequence[LatencyPoint]) -> Chart:
    """Tick-to-decision percentiles per health interval (real milliseconds, log scale)."""
    keep = thin(len(points), MAX_POINTS)
    pts = [points[k] for k in keep]
    x = _dates([p.ts for p in pts])
    with _figure(4.2) as (fig, axes):
        ax = axes[0][0]
        for name, color in (("max_ms", PALETTE[3]), ("p99_ms", PALETTE[1]), ("p90_ms", PALETTE[4]),
                            ("p50_ms", PALETTE[0])):  # fmt: skip
            ax.plot(x, [max(getattr(p, name), 1e-3) for p in pts], color=color, lw=1, label=name.removesuffix("_ms"),
                    marker="." if len(pts) < 60 else None)  # fmt: skip
        ax.set_yscale("log")
        ax.set_ylabel("milliseconds (real)")
        ax.set_title("tick -> decision latency per health interval")
        ax.legend(loc="upper left", ncol=4)
        _time_axis(ax)
        return Chart(png=_png(fig), points=len(points), alt="tick to decision latency percentiles over time")


def gaps_chart(gaps: Sequence[Gap]) -> Chart:
    """When each feed went silent and for how long (its longest silences), and its longest gap."""
    feeds = sorted({g.feed for g in gaps})
    with _figure(4.6, 1, 2, width_ratios=(3, 1.3)) as (fig, axes):
        ax, bars = axes[0][0], axes[0][1]
        for i, f in enumerate(feeds):
            mine = [g for g in gaps if g.feed == f]
            ax.scatter(_dates([g.ts for g in mine]), [max(g.gap_s, 1e-3) for g in mine], s=12,
                       color=PALETTE[i % len(PALETTE)], label=f, alpha=0.8)  # fmt: skip
        ax.set_yscale("log")
        ax.set_ylabel("seconds without a record (run clock)")
        ax.set_title("longest silences per feed, at the time they ended")
        ax.legend(loc="upper left", ncol=2)
        _time_axis(ax)
        longest = [max(g.gap_s for g in gaps if g.feed == f) for f in feeds]
        ys = list(range(len(feeds)))[::-1]
        bars.barh(ys, longest, color=[PALETTE[i % len(PALETTE)] for i in range(len(feeds))])
        for y, v in zip(ys, longest):
            bars.annotate(f"{v:,.1f}s", (v, y), va="center", fontsize=7, xytext=(3, 0), textcoords="offset points")
        bars.set_yticks(ys, feeds, fontsize=8)
        bars.set_xlim(0, max(longest) * 1.25)
        bars.set_title("longest gap (s)")
        return Chart(png=_png(fig), points=len(gaps), alt="feed gaps over time and the longest per feed")


def restarts_chart(events: Sequence[RestartEvent], group_over: int = 3) -> Chart:
    """Crashes and restarts over time, one row per child (the 20 with most events); children
    named ``kind:key`` (one pricer per market) share a ``kind:*`` row when there are more than
    ``group_over`` of a kind."""
    names = {e.child or e.supervisor for e in events}
    per_kind: dict[str, int] = defaultdict(int)
    for name in names:
        if ":" in name:
            per_kind[name.split(":", 1)[0]] += 1

    def who(e: RestartEvent) -> str:
        name = e.child or e.supervisor
        kind = name.split(":", 1)[0]
        return f"{kind}:* ({per_kind[kind]})" if ":" in name and per_kind[kind] > group_over else name

    count: dict[str, int] = defaultdict(int)
    for e in events:
        count[who(e)] += 1
    children = sorted(count, key=lambda c: -count[c])[:20]
    row = {c: i for i, c in enumerate(children[::-1])}
    marks = {"crashed": ("x", PALETTE[3]), "restarting": ("o", PALETTE[0]), "gave_up": ("X", "black"),
             "shutdown_timeout": ("s", PALETTE[1])}  # fmt: skip
    with _figure(max(2.6, 0.3 * len(children) + 1.4)) as (fig, axes):
        ax = axes[0][0]
        for kind, (marker, color) in marks.items():
            mine = [e for e in events if e.kind == kind and who(e) in row]
            if mine:
                hollow = {"facecolors": "none", "edgecolors": color} if marker == "o" else {"color": color}
                ax.scatter(_dates([e.ts for e in mine]), [row[who(e)] for e in mine], marker=marker, s=28,
                           label=kind, alpha=0.8, **hollow)  # fmt: skip
        ax.set_yticks(list(row.values()), [f"{c}: {count[c]} events" for c in row], fontsize=8)
        ax.set_title("crashes and restarts")
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
        _time_axis(ax)
        return Chart(png=_png(fig), points=len(events), alt="supervision crashes and restarts over time")
