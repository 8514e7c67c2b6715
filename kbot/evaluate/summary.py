"""The summary of a walk: per horizon bucket, Brier per event and the would-be trading."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from kbot.evaluate.walk import Tally, Walk

ORDER = ("~37 min (20-60m)", "~5 min (<20m)", ">60 min")


def _day(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M")


def _money(x: Decimal) -> str:
    return f"{'-' if x < 0 else ''}${abs(x):,.2f}"


def summary_lines(w: Walk, *, n_captures: int, first_ts: float | None, last_ts: float | None,
                  n_lines: int) -> list[str]:
    out = []
    span = f"{_day(first_ts)} .. {_day(last_ts)} UTC" if first_ts is not None and last_ts is not None else "-"
    out.append(f"captures: {n_captures} ({span}); bracket lines: {n_lines}; events not settled by the last "
               f"capture (not scored): {len(w.unsettled_events)}")
    p = w.predictor
    out.append(f"model: {p.name} {p.version}; blend in force at the end: {p.blend_id}; refits: {len(w.fits)}"
               + (f" (last on {w.fits[-1].n_rows} snapshots of {w.fits[-1].n_events} events)" if w.fits else ""))
    out.append("Brier per event = the sum over an event's quoted brackets of (p - outcome)^2, averaged over "
               "settled event snapshots. mid: the market's probability (a bracket without a bid counts 0); "
               "mid (norm.): the same normalized to sum 1 per event.")
    head = (f"{'horizon':<18} {'events':>6} {'p_yes':>7} {'mid':>7} {'mid(norm.)':>10} {'p_model':>7} "
            f"{'takes':>5} {'hit':>5} {'contracts':>9} {'cost':>10} {'PnL after fees':>14} {'return':>7} "
            f"{'would-be':>8} {'PnL/contract':>12}")
    out.append(head)
    keys = [k for k in ORDER if k in w.tallies] + [k for k in sorted(w.tallies) if k not in ORDER]
    for k in keys:
        t: Tally = w.tallies[k]
        n = max(t.events, 1)
        hit = f"{t.wins / t.takes:.2f}" if t.takes else "-"
        ret = f"{float(t.pnl / t.cost):+.1%}" if t.cost > 0 else "-"
        wb = f"{t.would_be_pnl / t.would_be:+.4f}" if t.would_be else "-"
        out.append(
            f"{k:<18} {t.events:>6} {t.brier_final / n:>7.4f} {t.brier_market / n:>7.4f} "
            f"{t.brier_market_norm / n:>10.4f} {t.brier_model / n:>7.4f} {t.takes:>5} {hit:>5} "
            f"{float(t.contracts):>9.0f} {_money(t.cost):>10} {_money(t.pnl):>14} {ret:>7} {t.would_be:>8} {wb:>12}"
        )
    out.append("would-be: snapshots whose better side cleared min_ev at the ask after the fee (before risk and "
               "evidence); PnL/contract: their mean realized PnL per contract after the fee.")
    table = w.learner.book.table()
    tradable = [s for s in table.rows() if s.tradable]
    out.append(f"evidence at the end: {len(table.stats)} buckets; tradable (no_demonstrated_edge lifted): "
               + (", ".join(f"{s.bucket} (n={s.n_obs}, PnL {s.pnl:+.4f}, bound {s.pnl_lcb:+.4f})" for s in tradable
                            if s.pnl is not None and s.pnl_lcb is not None) or "none"))
    return out
