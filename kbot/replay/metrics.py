"""What a replay made, per series: the rows of ``kbot replay`` and ``kbot backtest`` (pure core,
plus one reader of a replay database).

Per series (and ``ALL``):

- ``decisions``: decisions emitted (TAKE and PASS); ``takes``: TAKEs; ``contracts``: contracts
  filled (a TAKE may fill partially or not at all against the recorded book).
- ``settled``: filled TAKEs whose market settled yes/no; ``hit_rate``: the share of them whose
  side won. ``open``: filled TAKEs whose market has no result (not in PnL).
- ``pnl``: dollars after fees over settled TAKEs (payout - cost - fees); ``return_on_cost``:
  pnl / (cost + fees); ``max_drawdown``: the largest fall of cumulative pnl from its running peak,
  TAKEs ordered by settlement time (dollars, >= 0).
- ``brier`` / ``log_loss``: of the model probability, and ``market_brier`` /
  ``market_log_loss``: of the market mid, over the same decisions: those on settled markets that
  have both (``n_scored`` of them; paired, so the two columns compare like with like: a decision
  without a market mid would score the model on moments the market is not scored on);
  ``brier_advantage`` = market_brier - brier (> 0: the model beat the market).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

import attrs

from kbot.scoring import brier, log_loss

ZERO = Decimal(0)


@attrs.frozen(kw_only=True)
class DecisionRow:
    decision_id: str
    ts: float
    ticker: str
    series: str
    action: str
    side: str | None
    prob_yes: float | None
    market_mid: float | None


@attrs.frozen(kw_only=True)
class FillRow:
    decision_id: str
    count: Decimal
    price: Decimal
    fee: Decimal


@attrs.frozen(kw_only=True)
class SeriesRow:
    series: str
    decisions: int
    takes: int
    contracts: Decimal
    settled: int
    open: int
    hit_rate: float | None
    pnl: Decimal
    cost: Decimal
    return_on_cost: float | None
    max_drawdown: Decimal
    n_scored: int
    brier: float | None
    log_loss: float | None
    n_market: int
    market_brier: float | None
    market_log_loss: float | None
    brier_advantage: float | None

    def as_dict(self) -> dict[str, Any]:
        return {k: (str(v) if isinstance(v, Decimal) else v) for k, v in attrs.asdict(self).items()}


def _mean(xs: Sequence[float]) -> float | None:
    return sum(xs) / len(xs) if xs else None


def max_drawdown(pnls: Iterable[Decimal]) -> Decimal:
    peak = cum = dd = ZERO
    for x in pnls:
        cum += x
        peak = max(peak, cum)
        dd = max(dd, peak - cum)
    return dd


def series_rows(decisions: Sequence[DecisionRow], fills: Sequence[FillRow],
                results: dict[str, tuple[str, float]]) -> list[SeriesRow]:
    """Rows per series and ``ALL`` (see the module docstring). ``results``: ticker -> (yes|no,
    settlement time)."""
    by_decision: dict[str, list[FillRow]] = {}
    for f in fills:
        by_decision.setdefault(f.decision_id, []).append(f)
    groups: dict[str, list[DecisionRow]] = {}
    for d in decisions:
        groups.setdefault(d.series, []).append(d)
    out = [_row(s, ds, by_decision, results) for s, ds in sorted(groups.items())]
    if len(groups) != 1:
        out.append(_row("ALL", list(decisions), by_decision, results))
    return out


def _row(series: str, ds: Sequence[DecisionRow], by_decision: dict[str, list[FillRow]],
         results: dict[str, tuple[str, float]]) -> SeriesRow:
    takes = [d for d in ds if d.action == "TAKE"]
    contracts = ZERO
    settled: list[tuple[float, float, Decimal, bool]] = []  # (settle ts, decision ts, pnl, won)
    cost_total = ZERO
    n_open = 0
    for d in takes:
        fs = by_decision.get(d.decision_id, [])
        n = sum((f.count for f in fs), ZERO)
        if n <= 0:
            continue
        contracts += n
        res = results.get(d.ticker)
        if res is None or res[0] not in ("yes", "no"):
            n_open += 1
            continue
        cost = sum((f.count * f.price for f in fs), ZERO)
        fees = sum((f.fee for f in fs), ZERO)
        won = d.side == res[0]
        settled.append((res[1], d.ts, (n if won else ZERO) - cost - fees, won))
        cost_total += cost + fees
    settled.sort(key=lambda x: (x[0], x[1]))
    pnl = sum((x[2] for x in settled), ZERO)
    scored = [(d, 1 if results[d.ticker][0] == "yes" else 0) for d in ds
              if d.prob_yes is not None and d.ticker in results and results[d.ticker][0] in ("yes", "no")]
    both = [(d, o) for d, o in scored if d.market_mid is not None]
    b = [brier(d.prob_yes, o) for d, o in both]  # type: ignore[arg-type]
    mb = [brier(d.market_mid, o) for d, o in both]  # type: ignore[arg-type]
    adv = [brier(d.market_mid, o) - brier(d.prob_yes, o) for d, o in both]  # type: ignore[arg-type]
    return SeriesRow(
        series=series, decisions=len(ds), takes=len(takes), contracts=contracts, settled=len(settled), open=n_open,
        hit_rate=_mean([1.0 if x[3] else 0.0 for x in settled]), pnl=pnl, cost=cost_total,
        return_on_cost=float(pnl / cost_total) if cost_total > 0 else None,
        max_drawdown=max_drawdown(x[2] for x in settled), n_scored=len(both), brier=_mean(b),
        log_loss=_mean([log_loss(d.prob_yes, o) for d, o in both]),  # type: ignore[arg-type]
        n_market=len(both), market_brier=_mean(mb),
        market_log_loss=_mean([log_loss(d.market_mid, o) for d, o in both]),  # type: ignore[arg-type]
        brier_advantage=_mean(adv),
    )


# ----------------------------------------------------------------------------- reading a replay


def read_run(db_url: str, run_id: str) -> tuple[list[DecisionRow], list[FillRow], dict[str, tuple[str, float]]]:
    import sqlalchemy as sa

    from storage.db import create_engine

    engine = create_engine(db_url, read_only=True)
    try:
        with engine.connect() as conn:
            ds = [DecisionRow(decision_id=r[0], ts=r[1], ticker=r[2], series=r[3], action=r[4], side=r[5],
                              prob_yes=r[6], market_mid=r[7])
                  for r in conn.execute(sa.text(
                      "select decision_id, ts, ticker, series_ticker, action, side, prob_yes, market_mid "
                      "from decisions where run_id = :r order by ts, decision_id"), {"r": run_id})]
            fs = [FillRow(decision_id=r[0], count=Decimal(str(r[1])), price=Decimal(str(r[2])), fee=Decimal(str(r[3])))
                  for r in conn.execute(sa.text(
                      "select decision_id, count, price, fee from fills where run_id = :r and decision_id is not null "
                      "order by fill_id"), {"r": run_id})]
            res = {r[0]: (r[1], r[2]) for r in conn.execute(sa.text(
                "select ticker, result, ts from settlements where result in ('yes', 'no')"))}
    finally:
        engine.dispose()
    return ds, fs, res


def run_rows(db_url: str, run_id: str) -> list[dict[str, Any]]:
    return [r.as_dict() for r in series_rows(*read_run(db_url, run_id))]


COLUMNS = (
    ("series", "series", "{}"), ("decisions", "decisions", "{:,}"), ("takes", "TAKEs", "{:,}"),
    ("contracts", "contracts", "{}"), ("settled", "settled", "{:,}"), ("hit_rate", "hit", "{:.3f}"),
    ("pnl", "PnL $", "{}"), ("return_on_cost", "RoC", "{:+.3f}"), ("max_drawdown", "maxDD $", "{}"),
    ("n_scored", "scored", "{:,}"), ("brier", "Brier", "{:.4f}"), ("market_brier", "mkt Brier", "{:.4f}"),
    ("brier_advantage", "adv", "{:+.4f}"), ("log_loss", "logloss", "{:.4f}"), ("market_log_loss", "mkt ll", "{:.4f}"),
)


def _cell(v: Any, f: str) -> str:
    if v is None:
        return "-"
    if isinstance(v, str) and f != "{}":
        try:
            v = float(v)
        except ValueError:
            return v
    return f.format(v)


def render_rows(rows: Sequence[dict[str, Any]], lead: Sequence[tuple[str, str]] = ()) -> str:
    """A plain text table of metric rows (``lead``: extra leading columns ``(key, title)``)."""
    cols = [(k, t, "{}") for k, t in lead] + list(COLUMNS)
    table = [[t for _, t, _ in cols]] + [[_cell(r.get(k), f) for k, _, f in cols] for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(cols))]
    return "\n".join("  ".join(c.rjust(w) if i >= len(lead) + 1 else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True)))
                     for row in table)
