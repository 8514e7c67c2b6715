"""Learning from settled snapshots (pure): scores, evidence, walk-forward refits.

The scorer actor and ``kbot evaluate`` both use these, so the evidence a live decision sees and
the evidence of an evaluation are made the same way:

- ``score_snapshot``: one settled edge snapshot -> ``Score`` (Brier/log loss of the final, raw
  model and market probabilities; PnL per side; the would-be TAKE and its realized PnL).
- ``Learner``: the ``EvidenceBook`` fed with scores (per bucket, per event) and the refit of
  the calibrated blend on settled snapshots, shrunk toward the base parameters.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any, Protocol

from kbot.messages import ModelFit, Score
from kbot.model.blend import SIGNALS, BlendParams, FitRow, fit_blend, fit_row, sigmoid, thin
from kbot.model.config import EvidenceConfig, GateConfig, ModelConfig
from kbot.model.evidence import EvidenceBook, bucket_key, bucket_of, take_side
from kbot.scoring import score


class SnapshotLike(Protocol):
    """An ``Edge`` or a recorded snapshot (same attribute names)."""

    @property
    def ts(self) -> float: ...
    @property
    def ticker(self) -> str: ...
    @property
    def series_ticker(self) -> str: ...
    @property
    def horizon_s(self) -> float | None: ...
    @property
    def prob_yes(self) -> float | None: ...
    @property
    def market_mid(self) -> float | None: ...
    @property
    def yes_bid(self) -> Decimal | None: ...
    @property
    def yes_ask(self) -> Decimal | None: ...
    @property
    def no_ask(self) -> Decimal | None: ...
    @property
    def ev_yes(self) -> float | None: ...
    @property
    def ev_no(self) -> float | None: ...
    @property
    def prob_model(self) -> float | None: ...


def score_snapshot(
    e: SnapshotLike, outcome: int, gates: GateConfig, *, reasons: Any = (), edge_id: int = 0,
    multiplier: Decimal | None = None,
) -> Score:
    """The score of one settled snapshot. ``reasons``: the edge's (empty: actionable), for the
    would-be TAKE (``kbot.model.evidence.take_side``)."""
    if e.prob_yes is None:
        raise ValueError("a snapshot without a probability cannot be scored")
    mult = Decimal(1) if multiplier is None else multiplier
    r = score(e.prob_yes, outcome, e.yes_bid, e.yes_ask, e.no_ask, multiplier=mult, prob_model=e.prob_model,
              market=e.market_mid)
    side = take_side(not reasons, e.yes_bid, e.yes_ask, e.no_ask, e.ev_yes, e.ev_no, gates)
    pnl = None if side is None else (r.pnl_yes if side[0] == "yes" else r.pnl_no)
    return Score(
        edge_id=edge_id, ts=e.ts, ticker=e.ticker, series_ticker=e.series_ticker, horizon_s=e.horizon_s or 0.0,
        outcome=r.outcome, prob_yes=e.prob_yes, market_prob=r.market_prob, brier=r.brier, log_loss=r.log_loss,
        market_brier=r.market_brier, market_log_loss=r.market_log_loss, pnl_yes=r.pnl_yes, pnl_no=r.pnl_no,
        prob_model=e.prob_model, model_brier=r.model_brier, model_log_loss=r.model_log_loss,
        take_side=side[0] if side is not None and pnl is not None else None, take_pnl=pnl,
    )  # fmt: skip


class Learner:
    """Evidence and refits (no I/O, time passed in)."""

    def __init__(self, base: BlendParams, *, gates: GateConfig, evidence: EvidenceConfig, model: ModelConfig) -> None:
        self.base = base
        self.gates = gates
        self.evidence_config = evidence
        self.model_config = model
        self.book = EvidenceBook(evidence)

    @property
    def refit_source(self) -> str:
        """What a refit's parameters say they are (``BlendParams.source``): a refit of this base."""
        return f"walk-forward refit of {self.base.fit_id}"

    def add_score(self, s: Score, event_ticker: str) -> None:
        bucket = bucket_of(s.series_ticker, s.horizon_s, s.market_prob, self.evidence_config)
        if bucket is None:
            return
        self.book.add(bucket, event_ticker, s.ts, brier_final=s.brier, brier_market=s.market_brier,
                      brier_model=s.model_brier, take_pnl=s.take_pnl)

    def load_evidence(self, rows: Iterable[Any]) -> None:
        """Aggregates per (series, ttc band, price band, event) read back from the record
        (``storage.queries.evidence_clusters``)."""
        cfg = self.evidence_config
        for r in rows:
            self.book.add_cluster(
                bucket_key(r.series_ticker, int(r.ttc_i), int(r.price_i), cfg), r.event_ticker or "",
                last_ts=float(r.last_ts), n=int(r.n), sum_brier=float(r.sum_brier), n_market=int(r.n_market),
                sum_brier_market=float(r.sum_brier_market), sum_brier_paired=float(r.sum_brier_paired),
                n_model=int(r.n_model), sum_brier_model=float(r.sum_brier_model), n_takes=int(r.n_takes),
                sum_pnl=float(r.sum_pnl),
            )  # fmt: skip

    def fit_rows(self, snapshots: Iterable[tuple[Any, int]]) -> list[tuple[str, FitRow]]:
        """``(ticker, FitRow)`` of settled ``(snapshot, outcome)`` pairs with a model probability."""
        eps = self.base.eps
        out = []
        for e, y in snapshots:
            fr = fit_row(e, y, eps)
            if fr is not None:
                out.append((e.ticker, fr))
        return out

    def refit(self, rows: list[tuple[str, FitRow]], now: float) -> tuple[BlendParams, ModelFit] | None:
        """A walk-forward refit on settled snapshots (the caller passes only markets settled
        before ``now``), thinned to one per market per ``fit_sample_s``; None when no band had
        enough rows to move from the base parameters."""
        mc = self.model_config
        data = thin(rows, mc.fit_sample_s)
        lam = mc.fit_lambda if mc.fit_lambda is not None else self.base.lam
        params = fit_blend(data, self.base, now=now, lam=lam, min_rows=mc.fit_min_rows, source=self.refit_source)
        if dict(params.coefs) == dict(self.base.coefs):
            return None
        fit = ModelFit(
            fit_id=params.fit_id, ts=now, model_name=self.base.probability_model().name,
            window_start=params.window_start, window_end=params.window_end, n_rows=len(data),
            n_events=len({r.cluster for r in data}), params=params.to_json(),
        )
        return params, fit


def signal_contributions(
    rows: Iterable[tuple[FitRow, float]], base: BlendParams, *, lam: float, min_rows: int, day_s: float = 86400.0
) -> list[dict[str, Any]]:
    """Each signal's out-of-sample contribution: walk forward by day; for every day, fit the
    blend on the snapshots of markets closed before the day began (``(row, close_ts)``), once
    with every feature and once with the signal's column removed, and score both on that day's
    snapshots. ``contribution`` = Brier without the signal minus Brier with it (mean per
    snapshot over the days; > 0: the signal helps out of sample). ``coverage``: the share of
    snapshots where the signal was present (non-zero)."""
    data = sorted(rows, key=lambda rc: (rc[0].ts, rc[0].cluster, rc[0].x))
    if not data:
        return []
    first_day = int(data[0][0].ts // day_s)
    last_day = int(data[-1][0].ts // day_s)
    out = []
    for name, col in SIGNALS.items():
        with_sum = without_sum = 0.0
        n_test = 0
        present = sum(1 for r, _ in data if r.x[col] != 0.0)
        for day in range(first_day + 1, last_day + 1):
            start = day * day_s
            train = [r for r, close in data if close < start]
            test = [r for r, _ in data if start <= r.ts < start + day_s]
            if not train or not test:
                continue
            full = fit_blend(train, base, now=start, lam=lam, min_rows=min_rows)
            drop = fit_blend([_without(r, col) for r in train], base, now=start, lam=lam, min_rows=min_rows)
            for r in test:
                with_sum += (_predict(full, r) - r.y) ** 2
                without_sum += (_predict(drop, _without(r, col)) - r.y) ** 2
                n_test += 1
        everything = fit_blend([r for r, _ in data], base, now=data[-1][0].ts, lam=lam, min_rows=min_rows)
        coefs = {k: c[col] for k, c in sorted(everything.coefs.items()) if k.startswith("*|")}
        out.append({
            "signal": name,
            "coverage": present / len(data),
            "n_test": n_test,
            "brier_with": with_sum / n_test if n_test else None,
            "brier_without": without_sum / n_test if n_test else None,
            "contribution": (without_sum - with_sum) / n_test if n_test else None,
            "coefficient": coefs,
        })
    return out


def _without(r: FitRow, col: int) -> FitRow:
    x = list(r.x)
    x[col] = 0.0
    return FitRow(ts=r.ts, series=r.series, horizon_s=r.horizon_s, cluster=r.cluster, x=tuple(x), y=r.y)


def _predict(p: BlendParams, r: FitRow) -> float:
    th = p.coef(r.series, r.horizon_s)
    z = sum(a * b for a, b in zip(th, r.x, strict=True))
    return min(1.0 - p.eps, max(p.eps, sigmoid(z)))
