"""``kbot report html``: one self-contained HTML page of a run (or of every run in a window).

Sections, each a figure over the numbers it shows:

- summary: the runs, TAKEs and PASSes, realized PnL, worst drawdown, model vs market Brier;
- equity and drawdown over time (portfolio snapshots), one line per run;
- realized PnL by UTC day and series (the ``pnl`` report);
- reliability diagrams with counts per bin: one per recorded probability kind (the model's,
  the final blended one, the market mid; ``storage.report_data.PROB_KINDS``), a kind whose
  column is absent or empty is named and skipped;
- Brier score and log loss of the model vs the market by series and horizon (``model``);
- TAKE/PASS by reason (``decisions``);
- tick-to-decision latency percentiles per health interval, and the feeds' receipt lag;
- feed gaps (the longest silences per feed, within each run);
- restarts (the restart log; ``restarts``).

It reads only the database (replay and backtest databases have the same tables, so the page
works on them too) through the same SQL reports as ``kbot report NAME`` plus the queries in
``storage.report_data``; figures are drawn by ``kbot.htmlreport.figures`` and the page put
together by ``kbot.htmlreport.page``. ``build_report`` is pure apart from the connection it
is given: time comes in as ``now``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from kbot.htmlreport.page import Section, Table, document
from storage import report_data as rd
from storage.report import format_time, run_report

STEPS = ("summary", "equity", "pnl", "reliability", "scores", "decisions", "latency", "gaps", "restarts")


def _table(rows: list[dict[str, Any]], columns: tuple[str, ...], caption: str, collapsed: bool = True) -> Table:
    return Table(columns=columns, rows=[tuple(r.get(c) for c in columns) for r in rows], caption=caption,
                 collapsed=collapsed)  # fmt: skip


def _signed(v: Decimal | float | None) -> tuple[str, str]:
    if v is None:
        return "-", ""
    return f"{v:+,.2f}", "pos" if v > 0 else "neg" if v < 0 else ""


def banner(runs: list[dict[str, Any]]) -> tuple[str, str] | None:
    venues = {(r["venue"], r["mode"]) for r in runs}
    if not venues:
        return None
    if any(v == "prod" and m == "live" for v, m in venues):
        return ("LIVE MONEY", "live")
    if {v for v, _ in venues} == {"sim"}:
        return ("SIMULATED VENUE", "sim")
    return (" / ".join(sorted({f"{v} {m}".upper() for v, m in venues})), "other")


def build_report(
    conn: sa.Connection,
    *,
    now: float,
    since: float | None,
    run_id: str | None,
    step: Callable[[str], None] | None = None,
) -> str:
    """The HTML document. ``step(name)`` is called as each section is done (progress)."""
    from kbot.htmlreport import figures as fg
    from kbot.htmlreport.stats import drawdown, percentiles, wilson

    since_v = 0.0 if since is None else since
    done = step or (lambda _name: None)

    def report(name: str) -> list[dict[str, Any]]:
        """A SQL report's rows over the window (the same as ``kbot report NAME``)."""
        return run_report(conn, name, now=now, since=since_v, run_id=run_id).dicts()

    sections: list[Section] = []

    # ------------------------------------------------------------------ equity (first: the summary uses it)
    points = rd.equity_points(conn, since=since_v, run_id=run_id)
    runs_eq: dict[str, tuple[list[float], list[Decimal]]] = defaultdict(lambda: ([], []))
    for p in points:
        runs_eq[p.run_id][0].append(p.ts)
        runs_eq[p.run_id][1].append(p.equity)
    eq_rows = []
    worst = Decimal(0)
    for rid, (ts, eq) in runs_eq.items():
        dd = drawdown(ts, eq)
        worst = min(worst, dd.max_dd)
        eq_rows.append((rid, ts[0], eq[0], ts[-1], eq[-1], eq[-1] - eq[0], dd.max_dd, dd.trough_ts))
    equity_section = Section(
        id="equity", title="Equity and drawdown",
        note="Equity = cash + open positions marked at the exit side (portfolio snapshots); drawdown = equity "
             "minus its running peak. One line per run: runs are separate accounts.",
        charts=(("equity", fg.equity_chart(dict(runs_eq)) if points else None,
                 f"{len(points):,} portfolio snapshots" if points else "no portfolio snapshot with equity recorded "
                 "in this window"),),
        tables=(Table(columns=("run_id", "first_ts", "first_equity", "last_ts", "last_equity", "change_pnl",
                               "max_drawdown_pnl", "trough_ts"), rows=eq_rows, caption="per run"),),
    )  # fmt: skip
    done("equity")

    # ------------------------------------------------------------------ summary
    runs = report("runs")
    if run_id is None and since is not None:  # runs that started before the window but recorded in it
        seen = {r["run_id"] for r in runs}
        runs += [r for r in run_report(conn, "runs", now=now, since=0.0, run_id=None).dicts()
                 if r["run_id"] not in seen and r["run_id"] in runs_eq]  # fmt: skip
    decisions = report("decisions")
    totals = {r["action"]: int(r["decisions"]) for r in decisions if r["reason"] == "(all)"}
    pnl = report("pnl")
    realized = rd.realized_total(conn, since=since_v, run_id=run_id)
    model = report("model")
    n_scored = sum(int(r["n"]) for r in model)
    both = [r for r in model if r["n_market"]]
    brier_gap = (sum(float(r["brier_minus_market"]) * int(r["n_market"]) for r in both)
                 / sum(int(r["n_market"]) for r in both)) if both else None  # fmt: skip
    cards = [
        ("runs", f"{len(runs)}", ""),
        ("TAKE decisions", f"{totals.get('TAKE', 0):,}", ""),
        ("PASS decisions (recorded)", f"{totals.get('PASS', 0):,}", ""),
        ("positions closed", f"{sum(int(r['positions']) for r in pnl):,}", ""),
        ("realized PnL (closed positions)", *_signed(realized)),
        ("worst drawdown", *_signed(worst if runs_eq else None)),
        ("scored snapshots", f"{n_scored:,}", ""),
        ("Brier model - market", f"{brier_gap:+.4f}" if brier_gap is not None else "-",
         "pos" if brier_gap is not None and brier_gap < 0 else "neg" if brier_gap else ""),
    ]  # fmt: skip
    sections.append(Section(
        id="summary", title="Summary",
        note="Brier model - market below zero: the model's probabilities beat the market mid on the same settled "
             "snapshots. Simulated-venue results say the machinery works, nothing about edge.",
        cards=tuple(cards),
        tables=(_table(runs, ("run_id", "mode", "venue", "version", "started_ts", "ended_ts", "duration_s",
                              "exit_status", "exit_reason"), "runs", collapsed=False),),
    ))  # fmt: skip
    done("summary")
    sections.append(equity_section)

    # ------------------------------------------------------------------ pnl by day and series
    sections.append(Section(
        id="pnl", title="Realized PnL by day and series",
        note="Positions closed (settled) each UTC day, net of fees as the ledger books them.",
        charts=(("pnl", fg.pnl_by_day_chart([(r["day"], r["series_ticker"], r["realized_pnl"]) for r in pnl])
                 if pnl else None, "realized PnL per UTC day, stacked by series" if pnl else
                 "no position closed in this window"),),
        tables=(_table(pnl, ("day", "series_ticker", "mode", "positions", "winners", "contracts", "cost", "fees",
                             "realized_pnl"), "the pnl report"),),
    ))  # fmt: skip
    done("pnl")

    # ------------------------------------------------------------------ reliability per probability kind
    charts: list[tuple[str, fg.Chart | None, str]] = []
    tables: list[Table] = []
    skipped: list[str] = []
    for kind in rd.PROB_KINDS:
        bins = rd.reliability_bins(conn, kind, since=since_v, run_id=run_id)
        if bins is None:
            skipped.append(f"{kind.label} (not recorded by this database: no column {'/'.join(kind.columns)})")
            continue
        if not bins:
            skipped.append(f"{kind.label} (no scored snapshot with it in this window)")
            continue
        charts.append((f"reliability-{kind.label}", fg.reliability_chart(kind.title, bins),
                       f"{kind.title}: {sum(b.n for b in bins):,} scored snapshots in {len(bins)} bins"))
        tables.append(Table(
            columns=("bin", "n", "mean_prob", "freq_yes", "ci95_low", "ci95_high"),
            rows=[(f"{b.bin / rd.BINS:.1f}-{(b.bin + 1) / rd.BINS:.1f}", b.n, b.mean_prob, b.freq_yes,
                   *wilson(b.freq_yes * b.n, b.n)) for b in bins],
            caption=f"{kind.label}: counts per bin", collapsed=True,
        ))  # fmt: skip
    if not charts:
        charts.append(("reliability", None, "no scored snapshot in this window (the scorer scores snapshots of "
                                            "settled markets)"))  # fmt: skip
    note = ("Each settled edge snapshot is binned by its predicted probability of YES; a calibrated probability "
            "lies on the diagonal. Bars: snapshots per bin (snapshots of one market are correlated: the "
            "intervals are optimistic).")  # fmt: skip
    if skipped:
        note += " Not drawn: " + "; ".join(skipped) + "."
    sections.append(Section(id="reliability", title="Reliability", note=note, charts=tuple(charts),
                            tables=tuple(tables)))  # fmt: skip
    done("reliability")

    # ------------------------------------------------------------------ scores
    sections.append(Section(
        id="scores", title="Brier and log loss: model vs market",
        note="By series and time to close (the model report). Market columns average over the snapshots that had "
             "a market mid (n_market).",
        charts=(("scores", fg.scores_chart(model) if model else None,
                 f"{n_scored:,} scored snapshots" if model else "no scored snapshot in this window"),),
        tables=(_table(model, ("series_ticker", "horizon", "n", "brier", "market_brier", "log_loss",
                               "market_log_loss", "n_market", "brier_minus_market"), "the model report"),),
    ))  # fmt: skip
    done("scores")

    # ------------------------------------------------------------------ decisions
    sections.append(Section(
        id="decisions", title="TAKE / PASS by reason",
        note="Recorded decisions (a repeated identical PASS is recorded only every pass_repeat_s). A PASS with "
             "several reasons counts under each.",
        charts=(("decisions", fg.decisions_chart(decisions) if decisions else None,
                 "decisions by reason" if decisions else "no decision recorded in this window"),),
        tables=(_table(decisions, ("action", "reason", "decisions", "markets", "share"), "the decisions report"),),
    ))  # fmt: skip
    done("decisions")

    # ------------------------------------------------------------------ latency
    lat = rd.latency_points(conn, since=since_v, run_id=run_id)
    lags = rd.feed_lags(conn, since=since_v)
    lat_rows = []
    if lat:
        n = sum(p.n for p in lat)
        lat_rows.append(("tick -> decision (per interval, real ms)", n, *percentiles([p.p50_ms for p in lat], (50,)),
                         *percentiles([p.p99_ms for p in lat], (50,)), max(p.p99_ms for p in lat),
                         max(p.max_ms for p in lat)))  # fmt: skip
    lag_rows = [(f.feed, len(f.lags_s), *percentiles(f.lags_s, (50, 90, 99)), max(f.lags_s)) for f in lags]
    sections.append(Section(
        id="latency", title="Latency",
        note="Tick to decision: from a feed frame's receipt to the decision it led to, real milliseconds, "
             "percentiles per health interval (table latency). Feed lag: receipt minus the venue's event time on "
             "the run's clock (a simulated venue's clock runs faster than real time; against a real venue it "
             "includes clock skew).",
        charts=(("latency", fg.latency_chart(lat) if lat else None,
                 f"{len(lat):,} health intervals" if lat else "no latency sample recorded in this window (recorded "
                 "since migration 0004, one per health interval with decisions)"),),
        tables=(
            Table(columns=("what", "decisions", "median_p50_ms", "median_p99_ms", "worst_p99_ms", "max_ms"),
                  rows=lat_rows, caption="tick to decision over the window"),
            Table(columns=("feed", "rows", "lag_p50_s", "lag_p90_s", "lag_p99_s", "lag_max_s"), rows=lag_rows,
                  caption="feed receipt lag (newest rows per source)", collapsed=True),
        ),
    ))  # fmt: skip
    done("latency")

    # ------------------------------------------------------------------ gaps
    gaps = rd.largest_gaps(conn, since=since_v, run_id=run_id)
    longest: dict[str, rd.Gap] = {}
    for g in gaps:
        if g.feed not in longest or g.gap_s > longest[g.feed].gap_s:
            longest[g.feed] = g
    sections.append(Section(
        id="gaps", title="Feed gaps",
        note="The longest silences of each feed (spot sources, quote sources, the index), on the run's clock: a gap "
             "between markets opening and closing is normal for quotes; a spot or index gap stops pricing.",
        charts=(("gaps", fg.gaps_chart(gaps) if gaps else None,
                 f"{len(gaps):,} longest gaps over {len({g.feed for g in gaps})} feeds" if gaps else
                 "no market data recorded in this window"),),
        tables=(Table(columns=("feed", "longest_gap_s", "gap_end_ts"),
                      rows=[(f, g.gap_s, g.ts) for f, g in sorted(longest.items())], caption="longest gap per feed"),),
    ))  # fmt: skip
    done("gaps")

    # ------------------------------------------------------------------ restarts
    events = rd.restart_events(conn, since=since_v, run_id=run_id)
    restarts = report("restarts")
    sections.append(Section(
        id="restarts", title="Restarts",
        note="Every crash, restart, stuck shutdown and give-up in the restart log.",
        charts=(("restarts", fg.restarts_chart(events) if events else None,
                 f"{len(events):,} supervision events" if events else "no crash or restart in this window"),),
        tables=(_table(restarts, ("supervisor", "child", "kind", "reason", "events", "max_attempt", "first_ts",
                                  "last_ts"), "the restarts report", collapsed=bool(restarts) and len(restarts) > 10),),
    ))  # fmt: skip
    done("restarts")

    window = "all time" if since is None else f"since {format_time(since)} UTC"
    scope = f"run {run_id}" if run_id else f"{len(runs)} run(s)"
    meta = [f"{scope}, {window}", f"generated {format_time(now)} UTC from the database"]
    from kbot import __version__

    return document(f"kbot report: {run_id}" if run_id else "kbot report", meta, banner(runs), sections,
                    f"kbot {__version__}; figures drawn with matplotlib; every number comes from the database")
