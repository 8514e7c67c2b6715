"""``kbot top``'s screen (pure): a ``storage.dashboard.TopSnapshot`` in, rich renderables out.

Panels: the run header (LIVE / DEMO / SIMULATED / REPLAY banner, mode and venue, status, uptime,
restarts, tick-to-decision latency), the spot index and its sources with ages, the feeds with
status, the actors with inbox depth and errors, the money (today's realized PnL and exposure
against the limits, equity, open orders), the kill switch, open positions with marks and
unrealized PnL, the last TAKEs and the open alerts.

Nothing here reads a clock, a file or the database: ``TopView`` carries what the command
found (the instant ages are measured from, the kill file, the limits of the local
configuration) so tests render exact screens with rich's recording console.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import attrs
from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from kbot.commands.status import actor_rows, fmt_age
from storage.dashboard import TopSnapshot, open_alerts
from storage.report import format_time

FEED_ACTORS = ("coinbase", "binance", "kraken", "kalshi_ws", "kalshi_rest")
WIDE = 150  # at least this many columns: two columns of panels side by side
_SEVERITY_STYLE = {"critical": "bold red", "warning": "yellow", "info": "green"}


@attrs.frozen(kw_only=True)
class Limits:
    """Risk limits from the configuration ``kbot top`` found (the run's own is not recorded)."""

    max_daily_loss: Decimal
    max_total_exposure: Decimal
    max_open_orders: int


@attrs.frozen(kw_only=True)
class TopView:
    snap: TopSnapshot
    clock: str  # "wall" or "run": what ``snap.status.now`` is (kbot.commands.status.choose_now)
    wall: float
    limits: Limits | None = None
    kill_file: str | None = None  # the reason in the local kill file, when there is one
    rows: int = 8  # rows per list (positions, TAKEs, alerts)
    refresh_s: float | None = None  # live: the refresh period shown in the header; None: one-shot


def banner(venue: str, mode: str) -> Text:
    """What kind of money is at stake, in one look."""
    if venue == "sim":
        return Text(" SIMULATED VENUE ", style="bold black on cyan")
    if venue in ("replay", "backtest"):
        return Text(f" {venue.upper()} ", style="bold black on magenta")
    if mode == "live" and venue == "prod":
        return Text(" LIVE MONEY ", style="bold white on red")
    if venue == "demo":
        return Text(f" DEMO {mode.upper()} ", style="bold black on yellow")
    return Text(f" {venue.upper()} {mode.upper()} ", style="bold black on yellow")


def _money(v: Decimal | None, sign: bool = False) -> str:
    if v is None:
        return "-"
    return f"${v:+,.2f}" if sign else f"${v:,.2f}"


def _pnl(v: Decimal | None) -> Text:
    if v is None:
        return Text("-")
    return Text(_money(v, sign=True), style="green" if v > 0 else "red" if v < 0 else "")


def _gauge(used: Decimal, limit: Decimal, width: int = 20) -> Text:
    """``[#####.....] 42%``: green, yellow from 60 %, red from 80 %."""
    frac = float(used / limit) if limit > 0 else 0.0
    frac = max(0.0, frac)
    filled = min(width, round(frac * width))
    style = "red" if frac >= 0.8 else "yellow" if frac >= 0.6 else "green"
    t = Text("[")
    t.append("#" * filled, style=style)
    t.append("." * (width - filled), style="dim")
    t.append(f"] {frac:.0%}")
    return t


def _table(title: str, columns: Sequence[str], right: Sequence[str] = ()) -> Table:
    t = Table(title=title, title_justify="left", title_style="bold", header_style="bold", box=None,
              pad_edge=False, show_edge=False, expand=False)  # fmt: skip
    for c in columns:
        t.add_column(c, justify="right" if c in right else "left", no_wrap=True, overflow="ellipsis")
    return t


def header(v: TopView) -> RenderableType:
    s = v.snap.status
    run = s.run
    assert run is not None
    line = Text()
    line.append("kbot top ", style="bold")
    line.append_text(banner(run.venue, run.mode))
    line.append(f"  run {run.run_id}  {run.mode}/{run.venue}  ")
    status = run.exit_status or "?"
    line.append(status, style="bold green" if status == "running" else "bold yellow")
    end = run.ended_ts if run.ended_ts is not None else s.now
    line.append(f"  uptime {fmt_age(end - run.started_ts)}")
    line.append("  restarts ")
    line.append(str(v.snap.restarts), style="bold red" if v.snap.restarts else "")
    lat = v.snap.latency
    if lat is not None:
        line.append(f"  tick->decision p50 {lat.p50_ms:.2f} ms p99 {lat.p99_ms:.1f} ms")
    second = Text(style="dim")
    second.append(f"as of {format_time(s.now)} UTC")
    if v.clock == "run":
        second.append(" (the run's simulated clock, ahead of the wall clock)")
    if run.ended_ts is not None:
        second.append(f"; ended {format_time(run.ended_ts)} UTC" + (f": {run.exit_reason}" if run.exit_reason else ""))
    if v.refresh_s is not None:
        second.append(f"; refresh {v.refresh_s:g}s; q or Ctrl-C quits")
    from kbot.commands.status import run_liveness

    live = run_liveness(s, wall=v.wall)
    parts: list[RenderableType] = [line, second]
    if live is not None and live.verdict in ("dead", "silent"):
        parts.append(Text(f"this run is not alive: {live.reason}", style="bold red"))
    return Group(*parts)


def spot_panel(v: TopView) -> RenderableType:
    s, idx = v.snap.status, v.snap.index
    head = Text()
    if idx is None:
        head.append("spot index: none recorded yet", style="yellow")
    else:
        head.append("BTC ", style="bold")
        head.append(f"{idx.price:,.2f}", style="bold red" if idx.stale else "bold")
        head.append(f"  {'STALE' if idx.stale else f'{idx.n_sources} sources'}", style="red" if idx.stale else "")
        head.append(f"  sigma {idx.sigma:.3f} ({idx.sigma_source})  age {fmt_age(s.now - idx.ts)}")
    t = _table("", ["source", "price", "age"], right=["price", "age"])
    for p in v.snap.spot:
        age = s.now - p.ts
        t.add_row(p.source, f"{p.price:,.2f}", Text(fmt_age(age), style="red" if age > 30 else ""))
    return Group(head, t) if v.snap.spot else head


def feeds_panel(v: TopView) -> RenderableType:
    s = v.snap.status
    health = {h.actor: h for h in s.health}
    status = {f.feed: f for f in s.feeds}
    t = _table("feeds", ["feed", "status", "last msg", "restarts", "errors"], right=["last msg", "restarts", "errors"])
    for name in FEED_ACTORS:
        h, f = health.get(name), status.get(name)
        if h is None and f is None:
            continue
        state = (f.status if f is not None and f.status else None) or (h.state if h is not None else None) or "?"
        ok = state in ("connected", "ok") or state.endswith("markets")
        age = h.last_msg_age_s if h is not None else None
        t.add_row(name, Text(state, style="green" if ok else "yellow"), fmt_age(age) or "-",
                  str(h.restarts if h else 0), str(h.errors if h else 0))  # fmt: skip
    quotes = [f for f in s.feeds if f.feed.startswith("quotes:")]
    for f in quotes:
        t.add_row(f.feed, "", fmt_age(f.age_s) or "-", "", "")
    return t


def actors_panel(v: TopView) -> RenderableType:
    current, stopped = actor_rows(v.snap.status)
    t = _table("actors", ["actor", "depth", "peak", "errors", "restarts", "state"],
               right=["depth", "peak", "errors", "restarts"])  # fmt: skip
    for r in current:
        bad = r["errors"] or r["restarts"]
        t.add_row(Text(r["actor"], style="yellow" if bad else ""), str(r["inbox_depth"]), str(r["inbox_peak"]),
                  str(r["errors"]), str(r["restarts"]), (r["state"] or "")[:40])  # fmt: skip
    if not current:
        return Text("actors: no health snapshot recorded for this run yet", style="yellow")
    if stopped:
        return Group(t, Text(f"{len(stopped)} stopped reporting", style="dim"))
    return t


def money_panel(v: TopView) -> RenderableType:
    s, lim = v.snap.status, v.limits
    pf, pnl = s.portfolio, s.pnl
    t = Table.grid(padding=(0, 2))
    t.add_column(style="bold")
    t.add_column(justify="right")
    t.add_column()
    realized = pnl.realized if pnl is not None else None
    t.add_row("realized today", _pnl(realized),
              _gauge(-realized, lim.max_daily_loss) if lim and realized is not None and realized < 0 else Text(""))
    if lim is not None:
        t.add_row("  daily loss limit", _money(-lim.max_daily_loss), "")
    t.add_row("unrealized", _pnl(pnl.unrealized if pnl else None), "")
    t.add_row("fees today", _money(pnl.fees if pnl else None), "")
    if pf is not None:
        t.add_row("equity", _money(pf.equity), Text(f"balance {_money(pf.balance)}", style="dim"))
        t.add_row("exposure", _money(pf.exposure), _gauge(pf.exposure, lim.max_total_exposure) if lim else Text(""))
        if lim is not None:
            t.add_row("  exposure limit", _money(lim.max_total_exposure), "")
        t.add_row("open positions", str(pf.open_positions), "")
        t.add_row("open orders", str(pf.open_orders),
                  Text(f"max {lim.max_open_orders}", style="dim") if lim else Text(""))
    else:
        t.add_row("equity", "-", Text("no portfolio snapshot yet", style="dim"))
    parts: list[RenderableType] = [Text("money", style="bold"), t]
    if lim is not None:
        parts.append(Text("limits: this host's configuration (a run records only its digest)", style="dim"))
    return Group(*parts)


def kill_panel(v: TopView) -> RenderableType:
    """ON when the local kill file exists, the decision actor reports a trip, or the newest
    kill-switch alert tripped it."""
    health = {h.actor: h for h in v.snap.status.health}
    decision = health.get("decision")
    reasons = []
    if v.kill_file is not None:
        reasons.append(f"kill file: {v.kill_file}")
    if decision is not None and decision.state and decision.state.startswith("kill:"):
        reasons.append(decision.state.removeprefix("kill:").strip())
    last = next((a for a in v.snap.alerts if a.kind == "kill_switch"), None)
    t = Text("kill switch ", style="bold")
    if reasons:
        t.append(" ON ", style="bold white on red")
        t.append("  " + "; ".join(dict.fromkeys(reasons)))
    elif last is not None and last.severity == "critical" and decision is None:
        t.append(" ON? ", style="bold black on yellow")
        t.append(f"  last alert: {last.message}")
    else:
        t.append(" off ", style="bold black on green")
        if last is not None:
            t.append(f"  last change {format_time(last.ts)}: {last.message}", style="dim")
    return t


def positions_panel(v: TopView) -> RenderableType:
    ps = v.snap.status.positions
    if not ps:
        return Text("open positions: 0", style="bold")
    ps = sorted(ps, key=lambda p: abs(p.unrealized_pnl or Decimal(0)), reverse=True)
    t = _table(f"open positions: {len(ps)}" + (f" (largest {v.rows} by |unrealized|)" if len(ps) > v.rows else ""),
               ["ticker", "side", "count", "avg", "mark", "unrealized"], right=["count", "avg", "mark", "unrealized"])
    for p in ps[: v.rows]:
        t.add_row(p.ticker, p.side, f"{p.count.normalize():f}", f"{p.avg_price:.4f}",
                  f"{p.mark_price:.4f}" if p.mark_price is not None else "-", _pnl(p.unrealized_pnl))  # fmt: skip
    return t


def takes_panel(v: TopView) -> RenderableType:
    takes = v.snap.takes[: v.rows]
    if not takes:
        return Text("last TAKEs: none in this run", style="bold")
    t = _table("last TAKEs", ["time", "ticker", "side", "count @ price", "p(yes)", "EV"], right=["p(yes)", "EV"])
    for d in takes:
        price = f"{d.limit_price:.4f}" if d.limit_price is not None else "-"
        t.add_row(format_time(d.ts)[11:], d.ticker, (d.side or "-").upper(), f"{d.count.normalize():f} @ {price}",
                  f"{d.prob_yes:.3f}" if d.prob_yes is not None else "-", f"{d.ev:+.4f}" if d.ev is not None else "-")
    return t


def alerts_panel(v: TopView) -> RenderableType:
    on = open_alerts(v.snap.alerts)
    if not on:
        return Text("open alerts: none", style="bold green")
    t = _table(f"open alerts: {len(on)}", ["since", "severity", "kind", "subject", "message"])
    for a in on[: v.rows]:
        t.add_row(format_time(a.ts)[11:], Text(a.severity, style=_SEVERITY_STYLE.get(a.severity, "")), a.kind,
                  a.subject, a.message[:80])  # fmt: skip
    return t


def render(v: TopView, *, width: int = WIDE) -> RenderableType:
    """The whole screen: two columns of panels when ``width`` allows, else one."""
    left: list[Any] = [spot_panel(v), feeds_panel(v), actors_panel(v)]
    right: list[Any] = [money_panel(v), kill_panel(v), positions_panel(v), takes_panel(v), alerts_panel(v)]
    gap = Text("")
    if width >= WIDE:
        grid = Table.grid(padding=(0, 3), expand=True)
        grid.add_column(ratio=1)
        grid.add_column(ratio=1)
        grid.add_row(Group(*_spaced(left)), Group(*_spaced(right)))
        body: RenderableType = grid
    else:
        body = Group(*_spaced(right[:2] + left[:1] + right[2:] + left[1:]))
    return Panel(Group(header(v), gap, body), border_style="blue", padding=(0, 1))


def _spaced(parts: list[Any]) -> list[Any]:
    out: list[Any] = []
    for p in parts:
        if out:
            out.append(Text(""))
        out.append(p)
    return out
