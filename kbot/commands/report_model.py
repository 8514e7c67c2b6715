"""The model's reports, computed in Python from the record (``kbot report edge``, ``kbot report
signals``): the same functions the scorer and the gate use (``kbot.model.evidence``,
``kbot.model.learn``), so the table shows exactly what the decisions see."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from storage.report import ReportInfo, ReportResult

DESCRIPTIONS = {
    "edge": "evidence per bucket (series x time to close x price): Brier final/market/model, advantage with its "
            "95% lower bound, would-be TAKE PnL per contract after fees with its bound, tradable (the gate)",
    "signals": "each signal's out-of-sample contribution to the calibrated blend (walk-forward by day: Brier "
               "without it minus with it), its coverage and coefficients",
}


def infos() -> list[ReportInfo]:
    return [ReportInfo(name=n, description=d, sql="", params=frozenset()) for n, d in DESCRIPTIONS.items()]


def _r(x: float | None, nd: int = 4) -> float | None:
    return None if x is None else round(x, nd)


def edge_report(conn: sa.Connection, cfg: Any, *, since: float) -> ReportResult:
    from kbot.model.blend import load_params
    from kbot.model.learn import Learner
    from storage import queries

    learner = Learner(load_params(cfg.model.params_file), gates=cfg.gates, evidence=cfg.evidence, model=cfg.model)
    learner.load_evidence(queries.evidence_clusters(conn, since=since, ttc_bands=cfg.evidence.ttc_bands_s,
                                                    price_bands=cfg.evidence.price_bands))
    cols = ("bucket", "events", "snapshots", "brier_final", "brier_market", "brier_model", "advantage",
            "advantage_lcb", "obs", "takes", "pnl_per_contract", "pnl_lcb", "tradable")
    rows = []
    for s in learner.book.table().rows():
        rows.append((s.bucket, s.n_events, s.n_snapshots, _r(s.brier_final), _r(s.brier_market), _r(s.brier_model),
                     _r(s.advantage), _r(s.advantage_lcb), s.n_obs, s.n_takes, _r(s.pnl), _r(s.pnl_lcb),
                     "yes" if s.tradable else "no"))
    return ReportResult(name="edge", columns=cols, rows=rows)


def signals_report(conn: sa.Connection, cfg: Any, *, since: float, now: float) -> ReportResult:
    from kbot.model.blend import fit_row, load_params, thin
    from kbot.model.learn import signal_contributions
    from storage import queries

    base = load_params(cfg.model.params_file)
    rows = queries.training_rows(conn, since=since, until=now, limit=cfg.model.fit_max_rows)
    pairs = []
    for r in rows:
        fr = fit_row(r, r.outcome, base.eps)
        if fr is not None:
            close = r.close_ts if r.close_ts is not None else fr.ts + (r.horizon_s or 0.0)
            pairs.append((r.ticker, (fr, close)))
    data = thin(pairs, cfg.model.fit_sample_s, ts=lambda rc: rc[0].ts)
    lam = cfg.model.fit_lambda if cfg.model.fit_lambda is not None else base.lam
    out = signal_contributions(data, base, lam=lam, min_rows=cfg.model.fit_min_rows)
    cols = ("signal", "coverage", "n_test", "brier_with", "brier_without", "contribution", "coefficients")
    table = [(o["signal"], _r(o["coverage"], 3), o["n_test"], _r(o["brier_with"], 5), _r(o["brier_without"], 5),
              _r(o["contribution"], 6), " ".join(f"{k}={v:+.3f}" for k, v in o["coefficient"].items()))
             for o in out]
    return ReportResult(name="signals", columns=cols, rows=table)
