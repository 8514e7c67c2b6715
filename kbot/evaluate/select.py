"""Choosing the probability model by out-of-sample score and fitting the blend's parameters
(``kbot model fit``; pure: captures in, parameters out).

1. Every candidate model (volatility source x tails, ``CANDIDATES``) prices every captured
   bracket walk-forward (``kbot.evaluate.walk``, no blend: the raw model). Its inputs are all
   known before each capture and it has no fitted parameter, so its Brier per event is out of
   sample by construction.
2. The candidate with the lowest mean Brier per event over the horizon buckets is chosen.
3. The ridge weight of its blend is chosen the same way: the blend is walked forward with daily
   refits from the market prior for each weight in ``LAMBDAS``, and the weight with the lowest
   out-of-sample Brier per event of the final probability wins (ties within ``1e-4``: the
   larger weight, closer to the market).
4. The blend is fitted once on every settled snapshot of the captures (thinned as the live refit
   does) with that weight; the tables of steps 1 and 3 go into the parameters' ``selection``.

Ties within ``1e-4`` go to the earlier candidate (simpler first). The data must end before
whatever the parameters are later evaluated on (``--until``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs

from kbot.evaluate.captures import Capture
from kbot.evaluate.walk import Walk, WalkConfig, run_walk
from kbot.model.blend import BlendParams, fit_blend, market_only, model_only, thin
from kbot.model.models import SettlementModel

VOLS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("ewma", ("index",)),
    ("rv1h", ("rv_1h", "index")),
    ("rv6h", ("rv_6h", "index")),
    ("rv24h", ("rv_24h", "index")),
    ("implied", ("implied", "rv_6h", "index")),
)
TAILS: tuple[tuple[str, float | None], ...] = (("gbm", None), ("t10", 10.0), ("t5", 5.0), ("t3", 3.0))


def candidates() -> list[SettlementModel]:
    return [SettlementModel(name=f"{tn}-{vn}", version="v1", vol_sources=vs, nu=nu) for tn, nu in TAILS
            for vn, vs in VOLS]


def _brier(w: Walk, attr: str) -> dict[str, float]:
    return {k: getattr(t, attr) / t.events for k, t in w.tallies.items() if t.events}


def score_candidates(captures: Sequence[Capture], cfg: WalkConfig,
                     models: Sequence[SettlementModel] | None = None) -> list[dict[str, Any]]:
    """The raw model's Brier per event per horizon bucket for each candidate, best first."""
    rows: list[dict[str, Any]] = []
    for i, m in enumerate(models or candidates()):
        w = run_walk(captures, model_only(m.spec()), _no_refit(cfg))
        b = _brier(w, "brier_model")
        rows.append({"model": m.spec(), "order": i, "brier_model": b,
                     "mean": sum(b.values()) / len(b) if b else float("inf")})
    best = min(float(r["mean"]) for r in rows)
    rows.sort(key=lambda r: (r["mean"] > best + 1e-4, r["mean"], r["order"]))
    return rows


def _no_refit(cfg: WalkConfig) -> WalkConfig:
    return attrs.evolve(cfg, refit=False, decide=False)


LAMBDAS = (10.0, 100.0, 1000.0)


def fit_params(captures: Sequence[Capture], model: SettlementModel, cfg: WalkConfig, *, lam: float, now: float,
               source: str, selection: Any) -> tuple[BlendParams, Walk]:
    """The blend of ``model`` fitted on every settled snapshot of ``captures`` with ridge weight
    ``lam`` (kept in the parameters: later refits use it), and the walk that collected them."""
    prior = attrs.evolve(market_only(model.spec()), lam=lam)
    w = run_walk(captures, prior, _no_refit(cfg))
    data = thin(w.pool, cfg.model.fit_sample_s)
    params = fit_blend(data, prior, now=now, lam=lam, min_rows=cfg.model.fit_min_rows, source=source,
                       selection=selection)
    return params, w


def walk_forward(captures: Sequence[Capture], model: SettlementModel, cfg: WalkConfig, lam: float) -> Walk:
    """The blend of ``model`` refitted walk-forward (daily by default) from the market prior with
    ridge weight ``lam``: its out-of-sample record."""
    return run_walk(captures, attrs.evolve(market_only(model.spec()), lam=lam),
                    attrs.evolve(cfg, decide=False, model=attrs.evolve(cfg.model, fit_lambda=lam)))


def choose_lambda(captures: Sequence[Capture], model: SettlementModel, cfg: WalkConfig,
                  lambdas: Sequence[float] = LAMBDAS) -> tuple[float, list[dict[str, Any]]]:
    """The ridge weight whose walk-forward blend has the lowest mean Brier per event of the final
    probability (ties within 1e-4: the larger weight, i.e. closer to the market)."""
    rows: list[dict[str, Any]] = []
    for lam in lambdas:
        w = walk_forward(captures, model, cfg, lam)
        b = _brier(w, "brier_final")
        rows.append({"lam": lam, "brier_final": b, "brier_market": _brier(w, "brier_market"),
                     "mean": sum(b.values()) / len(b) if b else float("inf")})
    best = min(float(r["mean"]) for r in rows)
    chosen = max(float(r["lam"]) for r in rows if float(r["mean"]) <= best + 1e-4)
    return chosen, rows
