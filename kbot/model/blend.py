r"""The calibrated blend: the probability decisions use (pure).

A logistic regression on logits, fitted on settled history, maps what is known at decision
time to the probability of YES:

    logit p = b0 + b1 * L_market + b2 * L_model
                 + (b3 * momentum + b4 * mean_reversion + b5 * funding) * D
                 + b6 * imbalance + b7 * regime * (L_model - L_market)

- ``L_market = logit(market_prob)``: the market's probability (``market_prob``: the YES mid,
  with a side that has no bid counted as 0 and a side that has no ask as 1: on real KXBTC
  ladders a zero-bid bracket with a stale ask at 0.20 wins about never). Logits are clipped at
  ``eps`` so a price of 0 or 1 stays finite.
- ``L_model = logit(p_model)`` from the probability model (``kbot.model.models``).
- ``D = slope / (p (1 - p))``: the derivative of ``L_model`` with respect to a shift of the
  expected log price by one standard deviation (``kbot.model.dist``). A directional signal in
  sigma units (momentum, mean reversion, funding) thus moves every contract of a ladder
  consistently: up for strikes above, down for strikes below, with one coefficient.
- ``imbalance`` (book depth, per market) enters in logit units; ``regime`` (-1/0/+1) scales how
  far the blend moves from the market toward the model.
- A missing market price makes ``L_market = L_model``; a missing signal is 0.

Coefficients are kept per horizon band (``bands_s``: edges in seconds) and per series, with
fallbacks: ``SERIES|band`` -> ``*|band`` -> the market prior ``(0, 1, 0, ...)``, which is
"the market's probability, unchanged". The logistic on logits is the calibration (Platt
scaling of both inputs at once); no separate isotonic step (measured: nothing to gain on
~350 captures, a real risk of overfitting).

Fitting (``fit_blend``) is ridge-regularized Newton (IRLS) toward the prior parameters (the
shipped ones, or the previous fit's), so a band with little new data stays where it was and
the result is deterministic for the same rows. Only informative rows are fitted (the market
or the model says more than ``0.002`` and less than ``0.998``): the far brackets of a ladder
say nothing about calibration. Walk-forward: the caller passes only markets settled before the
fit time (``kbot.model.walk``, the scorer actor).

``BlendParams`` persist as JSON with their fit time, data window and the model they blend;
``shipped()`` loads the parameters packaged with kbot (``kbot/model/params/``), produced by the
documented command ``kbot model fit`` from the shared real data.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

import attrs
import numpy as np

from kbot.model.models import SettlementModel, model_from_spec

FORMAT = "kbot-blend/1"
FEATURES = ("intercept", "market", "model", "momentum", "mean_reversion", "funding", "imbalance", "regime")
K = len(FEATURES)
MARKET_PRIOR = (0.0, 1.0) + (0.0,) * (K - 2)
# the signals and their column (``kbot report signals`` drops one at a time)
SIGNALS = {"momentum": 3, "mean_reversion": 4, "funding": 5, "imbalance": 6, "vol_regime": 7}
INFORMATIVE = 0.002
SHIPPED = "kxbtc.json"


def logit(p: float, eps: float) -> float:
    p = min(1.0 - eps, max(eps, p))
    return math.log(p / (1.0 - p))


def dot(th: Sequence[float], x: Sequence[float]) -> float:
    """``sum(a * b for a, b in zip(th, x, strict=True))`` added left to right in plain double
    arithmetic, written out for the blend's ``K`` features (every edge, and ~10 times per quiet
    band: ``Predictor.curve`` repeats these terms inline and must give the same bits; the
    builtin ``sum`` compensates its rounding from Python 3.12 on)."""
    if len(th) != K or len(x) != K:
        if len(th) != len(x):
            raise ValueError(f"blend coefficients for {len(th)} features, {len(x)} given")
        z = 0.0
        for a, b in zip(th, x, strict=True):
            z += a * b
        return z
    return (th[0] * x[0] + th[1] * x[1] + th[2] * x[2] + th[3] * x[3] + th[4] * x[4] + th[5] * x[5]
            + th[6] * x[6] + th[7] * x[7])


def sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def market_prob(yes_bid: Decimal | float | None, yes_ask: Decimal | float | None) -> float | None:
    """The market's probability of YES: the mid of the YES bid/ask; a missing or zero bid counts
    as 0 (nobody pays anything for YES), a missing ask or one at 1 as 1. None without either."""
    bid = None if yes_bid is None else float(yes_bid)
    ask = None if yes_ask is None else float(yes_ask)
    if bid is None and ask is None:
        return None
    if bid is None or bid <= 0.0:
        return 0.0
    if ask is None or ask >= 1.0:
        return 1.0
    return min(1.0, max(0.0, (bid + ask) / 2.0))


@attrs.frozen(kw_only=True)
class BlendInputs:
    p_model: float
    slope: float = 0.0
    p_market: float | None = None
    momentum: float | None = None
    mean_reversion: float | None = None
    funding: float | None = None
    imbalance: float | None = None
    vol_regime: int | None = None


def feature_vector(x: BlendInputs, eps: float) -> tuple[float, ...]:
    return features(x.p_model, x.slope, x.p_market, x.momentum, x.mean_reversion, x.funding, x.imbalance,
                    x.vol_regime, eps)


def features(p_model: float, slope: float, p_market: float | None, momentum: float | None,
             mean_reversion: float | None, funding: float | None, imbalance: float | None,
             vol_regime: int | None, eps: float) -> tuple[float, ...]:
    """The blend's feature vector (``FEATURES``); ``feature_vector`` of ``BlendInputs``."""
    lg = logit(p_model, eps)
    lm = lg if p_market is None else logit(p_market, eps)
    pc = min(1.0 - eps, max(eps, p_model))
    d = slope / (pc * (1.0 - pc))
    return (
        1.0,
        lm,
        lg,
        (momentum or 0.0) * d,
        (mean_reversion or 0.0) * d,
        (funding or 0.0) * d,
        imbalance or 0.0,
        float(vol_regime or 0) * (lg - lm),
    )


def informative(x: Sequence[float]) -> bool:
    lo = math.log(INFORMATIVE / (1.0 - INFORMATIVE))
    return not ((x[1] <= lo and x[2] <= lo) or (x[1] >= -lo and x[2] >= -lo))


def band_index(horizon_s: float, bands_s: Sequence[float]) -> int:
    i = 0
    for edge in bands_s:
        if horizon_s < edge:
            return i
        i += 1
    return i


@attrs.frozen(kw_only=True)
class BlendParams:
    fit_id: str
    fitted_ts: float | None
    window_start: float | None
    window_end: float | None
    model: Mapping[str, Any]  # the probability model's spec (kbot.model.models)
    eps: float = 1e-3
    bands_s: tuple[float, ...] = (1200.0, 14400.0)
    coefs: Mapping[str, tuple[float, ...]] = attrs.field(factory=dict)
    n_rows: Mapping[str, int] = attrs.field(factory=dict)
    lam: float = 10.0
    source: str = ""
    selection: Any = None  # the out-of-sample table the model was chosen by (informational)

    def coef(self, series: str, horizon_s: float) -> tuple[float, ...]:
        i = band_index(horizon_s, self.bands_s)
        c = self.coefs.get(f"{series}|{i}")
        if c is None:
            c = self.coefs.get(f"*|{i}")
        return c if c is not None else MARKET_PRIOR

    def probability_model(self) -> SettlementModel:
        return model_from_spec(self.model)

    def predict(self, series: str, horizon_s: float, x: BlendInputs) -> float:
        return self.predict_x(series, horizon_s, feature_vector(x, self.eps))

    def predict_x(self, series: str, horizon_s: float, x: tuple[float, ...]) -> float:
        """The final probability of a feature vector (``features``)."""
        z = dot(self.coef(series, horizon_s), x)
        return min(1.0 - self.eps, max(self.eps, sigmoid(z)))

    # ------------------------------------------------------------------ persistence

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "fit_id": self.fit_id,
            "fitted_ts": self.fitted_ts,
            "window_start": self.window_start,
            "window_end": self.window_end,
            "model": dict(self.model),
            "eps": self.eps,
            "bands_s": list(self.bands_s),
            "features": list(FEATURES),
            "coefs": {k: [round(v, 10) for v in c] for k, c in sorted(self.coefs.items())},
            "n_rows": dict(sorted(self.n_rows.items())),
            "lam": self.lam,
            "source": self.source,
            "selection": self.selection,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1, sort_keys=False)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> BlendParams:
        if d.get("format") != FORMAT:
            raise ValueError(f"not blend parameters of format {FORMAT!r} (got {d.get('format')!r})")
        if list(d.get("features", FEATURES)) != list(FEATURES):
            raise ValueError(f"blend parameters for features {d.get('features')!r}, this kbot uses {list(FEATURES)!r}")
        coefs: dict[str, tuple[float, ...]] = {}
        for k, c in dict(d.get("coefs", {})).items():
            vals = tuple(float(v) for v in c)
            if len(vals) != K or not all(math.isfinite(v) for v in vals):
                raise ValueError(f"blend coefficients {k!r} must be {K} finite numbers")
            coefs[str(k)] = vals
        model = dict(d.get("model") or {})
        model_from_spec(model)  # validate
        eps = float(d.get("eps", 1e-3))
        if not 0 < eps < 0.5:
            raise ValueError("blend eps must be in (0, 0.5)")
        return cls(
            fit_id=str(d["fit_id"]),
            fitted_ts=d.get("fitted_ts"),
            window_start=d.get("window_start"),
            window_end=d.get("window_end"),
            model=model,
            eps=eps,
            bands_s=tuple(float(b) for b in d.get("bands_s", (1200.0, 14400.0))),
            coefs=coefs,
            n_rows={str(k): int(v) for k, v in dict(d.get("n_rows", {})).items()},
            lam=float(d.get("lam", 10.0)),
            source=str(d.get("source", "")),
            selection=d.get("selection"),
        )

    @classmethod
    def from_json(cls, text: str) -> BlendParams:
        return cls.from_dict(json.loads(text))


def market_only(model: Mapping[str, Any] | None = None, bands_s: tuple[float, ...] = (1200.0, 14400.0)) -> BlendParams:
    """Parameters with no fit at all: the market's probability (the model only where there is
    no market price)."""
    return BlendParams(fit_id="prior", fitted_ts=None, window_start=None, window_end=None,
                       model=dict(model or SettlementModel(name="gbm-avg60", version="v1").spec()), bands_s=bands_s)


def model_only(model: Mapping[str, Any], bands_s: tuple[float, ...] = (1200.0, 14400.0)) -> BlendParams:
    """Parameters that pass the raw model probability through (clipped at ``eps``): the original
    behaviour, for comparisons (``kbot evaluate --raw-model``) and tests of the pricing mechanics."""
    coefs = {f"*|{i}": (0.0, 0.0, 1.0) + (0.0,) * (K - 3) for i in range(len(bands_s) + 1)}
    return BlendParams(fit_id="model-only", fitted_ts=None, window_start=None, window_end=None, model=dict(model),
                       bands_s=bands_s, coefs=coefs)


def shipped(name: str = SHIPPED) -> BlendParams:
    """Parameters packaged with kbot (``kbot/model/params/``): ``kxbtc.json`` (the default, made
    by ``kbot model fit`` from the shared real data) or ``gbm-raw.json`` (the original pricer:
    the GBM at the index's sigma, unblended; for demonstrations and tests of the trading path)."""
    text = resources.files("kbot.model").joinpath("params", name).read_text(encoding="utf-8")
    return BlendParams.from_json(text)


def packaged() -> list[str]:
    return sorted(e.name.removesuffix(".json") for e in resources.files("kbot.model").joinpath("params").iterdir()
                  if e.name.endswith(".json"))


def load_params(path: str | Path | None) -> BlendParams:
    """``path``: a ``kbot model fit --out`` file, the name of packaged parameters (``kxbtc``,
    ``gbm-raw``), or empty for the shipped default."""
    if not path:
        return shipped()
    p = Path(path)
    if p.is_file():
        return BlendParams.from_json(p.read_text(encoding="utf-8"))
    if str(path) in packaged():
        return shipped(f"{path}.json")
    raise FileNotFoundError(f"no blend parameters file {str(path)!r} (packaged: {', '.join(packaged())})")


# ----------------------------------------------------------------------------- fitting


@attrs.frozen(kw_only=True)
class FitRow:
    ts: float
    series: str
    horizon_s: float
    cluster: str  # the event: rows of one event are not independent
    x: tuple[float, ...]
    y: int


def irls(x: np.ndarray, y: np.ndarray, prior: np.ndarray, lam: float, *, max_iter: int = 100) -> np.ndarray | None:
    """Ridge-regularized logistic regression toward ``prior`` by damped Newton steps:
    minimizes ``sum logloss + lam/2 |theta - prior|^2``. None when it does not converge."""
    th = prior.astype(float).copy()
    k = len(th)

    def objective(t: np.ndarray) -> float:
        z = np.clip(x @ t, -35.0, 35.0)
        return float(np.sum(np.logaddexp(0.0, z) - y * z) + 0.5 * lam * np.sum((t - prior) ** 2))

    f = objective(th)
    for _ in range(max_iter):
        z = np.clip(x @ th, -35.0, 35.0)
        p = 1.0 / (1.0 + np.exp(-z))
        w = p * (1.0 - p)
        g = x.T @ (p - y) + lam * (th - prior)
        h = (x.T * w) @ x + (lam + 1e-9) * np.eye(k)
        try:
            step = np.linalg.solve(h, g)
        except np.linalg.LinAlgError:
            return None
        t = 1.0
        while t > 1e-6:
            cand = th - t * step
            fc = objective(cand)
            if fc <= f + 1e-12:
                break
            t *= 0.5
        else:
            return th if np.all(np.isfinite(th)) else None
        th, f = cand, fc
        if float(np.max(np.abs(t * step))) < 1e-9:
            break
    return th if np.all(np.isfinite(th)) else None


def fit_id_of(coefs: Mapping[str, Sequence[float]], window: tuple[float | None, float | None], model: Mapping[str, Any]) -> str:
    raw = json.dumps([sorted((k, [round(v, 10) for v in c]) for k, c in coefs.items()), window, dict(model)],
                     sort_keys=True, default=str)
    return "b-" + hashlib.blake2b(raw.encode(), digest_size=6).hexdigest()


def fit_blend(
    rows: Iterable[FitRow],
    prior: BlendParams,
    *,
    now: float,
    lam: float = 10.0,
    min_rows: int = 200,
    source: str = "",
    selection: Any = None,
) -> BlendParams:
    """Refit every band (``*|band``, and ``SERIES|band`` for series with enough rows) with at
    least ``min_rows`` informative rows, shrunk toward ``prior``; other bands keep the prior's
    coefficients. Deterministic: rows are sorted before fitting. The caller guarantees that
    every row's market settled before ``now`` (walk-forward)."""
    data = sorted((r for r in rows if informative(r.x)), key=lambda r: (r.ts, r.cluster, r.series, r.x, r.y))
    coefs: dict[str, tuple[float, ...]] = dict(prior.coefs)
    counts: dict[str, int] = {}
    groups: dict[str, list[FitRow]] = {}
    for r in data:
        i = band_index(r.horizon_s, prior.bands_s)
        groups.setdefault(f"*|{i}", []).append(r)
        groups.setdefault(f"{r.series}|{i}", []).append(r)
    for key in sorted(groups):
        g = groups[key]
        counts[key] = len(g)
        if len(g) < min_rows:
            continue
        _, _, band = key.partition("|")
        base = prior.coefs.get(key) or prior.coefs.get(f"*|{band}") or MARKET_PRIOR
        th = irls(np.array([r.x for r in g]), np.array([r.y for r in g], dtype=float), np.array(base), lam)
        if th is not None:
            coefs[key] = tuple(float(v) for v in th)
    window = (data[0].ts, data[-1].ts) if data else (prior.window_start, prior.window_end)
    return BlendParams(
        fit_id=fit_id_of(coefs, window, prior.model),
        fitted_ts=now,
        window_start=window[0],
        window_end=window[1],
        model=prior.model,
        eps=prior.eps,
        bands_s=prior.bands_s,
        coefs=coefs,
        n_rows=counts,
        lam=lam,
        source=source or prior.source,
        selection=selection if selection is not None else prior.selection,
    )


class EdgeLike(Protocol):
    """What a fit row is made of: an ``Edge`` or a recorded snapshot (same attribute names)."""

    @property
    def ts(self) -> float: ...
    @property
    def ticker(self) -> str: ...
    @property
    def event_ticker(self) -> str: ...
    @property
    def series_ticker(self) -> str: ...
    @property
    def horizon_s(self) -> float | None: ...
    @property
    def prob_model(self) -> float | None: ...
    @property
    def model_slope(self) -> float | None: ...
    @property
    def market_mid(self) -> float | None: ...
    @property
    def sig_momentum(self) -> float | None: ...
    @property
    def sig_mean_reversion(self) -> float | None: ...
    @property
    def sig_funding(self) -> float | None: ...
    @property
    def sig_imbalance(self) -> float | None: ...
    @property
    def vol_regime(self) -> int | None: ...


def fit_row(e: EdgeLike, outcome: int, eps: float) -> FitRow | None:
    """The blend's features of a settled snapshot (None without a model probability)."""
    if e.prob_model is None or e.horizon_s is None or outcome not in (0, 1):
        return None
    x = BlendInputs(
        p_model=e.prob_model,
        slope=e.model_slope or 0.0,
        p_market=e.market_mid,
        momentum=e.sig_momentum,
        mean_reversion=e.sig_mean_reversion,
        funding=e.sig_funding,
        imbalance=e.sig_imbalance,
        vol_regime=e.vol_regime,
    )
    return FitRow(ts=e.ts, series=e.series_ticker, horizon_s=e.horizon_s, cluster=e.event_ticker,
                  x=feature_vector(x, eps), y=outcome)


def thin(rows: Iterable[tuple[str, Any]], sample_s: float, ts: Callable[[Any], float] = lambda r: r.ts) -> list[Any]:
    """At most one row per market (the ``str``) per ``sample_s`` seconds, oldest kept: snapshots
    seconds apart are one observation, not many. ``ts``: a row's time (default its ``ts``)."""
    out: list[Any] = []
    last: dict[str, float] = {}
    for ticker, r in sorted(rows, key=lambda tr: (ts(tr[1]), tr[0])):
        t = ts(r)
        t0 = last.get(ticker)
        if t0 is not None and t - t0 < sample_s:
            continue
        last[ticker] = t
        out.append(r)
    return out
