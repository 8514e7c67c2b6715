"""Probability models behind one pluggable interface (pure).

A model is a pure function of what is known at decision time (``ModelInputs``: the market's
strikes, the index, the horizon, the observed part of the settlement window and the
volatility estimates available) returning the probability that the market settles YES
(``ModelOutput``), with a ``name`` and a ``version`` that travel with every edge and decision
(``Edge.model_name``, ``Edge.model_version``).

``SettlementModel`` is the family kbot ships: the settlement-rule probability of
``kbot.model.prob`` (60 s average, effective time and strike) with

- volatility from the first usable source of ``vol_sources``, in order: ``implied`` (the
  event's implied volatility from the market's mids, ``kbot.model.implied``), ``rv_<h>`` (the
  realized volatility of the index over horizon ``h``, ``kbot.model.history``; e.g. ``rv_6h``)
  or ``index`` (the spot index's EWMA sigma with its own ``ewma``/``fallback_last``/``default``
  source). A source is usable when it is present and inside ``sigma_range``.
- tails: ``nu=None`` is the normal (GBM), a number the standardized Student-t of
  ``kbot.model.dist``.

``gbm-avg60`` v1 (index sigma, normal tails) is the original pricer. Which model the blend uses
is chosen by out-of-sample score (``kbot model fit``) and named in its parameters.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Protocol

import attrs

from kbot.model.dist import prob_slope_reason


@attrs.frozen(kw_only=True)
class ModelInputs:
    strike_type: str | None
    floor_strike: float | None
    cap_strike: float | None
    spot: float | None
    horizon_s: float | None
    window_s: float = 60.0
    observed_avg: float | None = None
    observed_s: float = 0.0
    sigmas: Mapping[str, float | None] = attrs.field(factory=dict)  # source -> annualized sigma
    index_sigma_source: str | None = None  # ewma | fallback_last | default (for source "index")


@attrs.frozen(kw_only=True)
class ModelOutput:
    prob: float | None
    slope: float  # dP / d(location shift in standard deviations of the log settlement value)
    sigma: float | None  # the volatility used
    sigma_source: str | None  # implied | rv_<h> | ewma | fallback_last | default
    reason: str | None  # why there is no probability


class ProbabilityModel(Protocol):
    name: str
    version: str

    def __call__(self, x: ModelInputs) -> ModelOutput: ...


def rv_source(horizon_s: float) -> str:
    """The sigma source name of a realized-volatility horizon: ``rv_1h``, ``rv_90s``..."""
    if horizon_s % 3600 == 0:
        return f"rv_{horizon_s / 3600:g}h"
    if horizon_s % 60 == 0:
        return f"rv_{horizon_s / 60:g}m"
    return f"rv_{horizon_s:g}s"


def _strs(v: Any) -> tuple[str, ...]:
    return tuple(str(x) for x in v)


def _pair(v: Any) -> tuple[float, float]:
    lo, hi = v
    return float(lo), float(hi)


@attrs.frozen(kw_only=True)
class SettlementModel:
    name: str
    version: str
    vol_sources: tuple[str, ...] = attrs.field(default=("index",), converter=_strs)
    nu: float | None = None
    sigma_range: tuple[float, float] = attrs.field(default=(0.05, 3.0), converter=_pair)

    def __attrs_post_init__(self) -> None:
        if not self.vol_sources:
            raise ValueError("a model needs at least one volatility source")
        for s in self.vol_sources:
            if s not in ("implied", "index") and not s.startswith("rv_"):
                raise ValueError(f"unknown volatility source {s!r} (implied, index, rv_<horizon>)")
        if self.nu is not None and not self.nu > 2:
            raise ValueError(f"Student-t tails need nu > 2, got {self.nu!r}")
        lo, hi = self.sigma_range
        if not 0 < lo < hi:
            raise ValueError(f"sigma_range must be 0 < lo < hi, got {self.sigma_range!r}")

    def pick_sigma(self, x: ModelInputs) -> tuple[float | None, str | None]:
        return self.pick(x.sigmas, x.index_sigma_source)

    def pick(self, sigmas: Mapping[str, float | None], index_source: str | None) -> tuple[float | None, str | None]:
        """The first usable volatility of ``vol_sources`` and its source name."""
        lo, hi = self.sigma_range
        for src in self.vol_sources:
            s = sigmas.get(src)
            if s is None or not math.isfinite(s):
                continue
            if src == "index":
                # the index's own guardrails and fallbacks already apply; its source says which
                return s, index_source or "index"
            if lo <= s <= hi:
                return s, src
        return None, None

    def __call__(self, x: ModelInputs) -> ModelOutput:
        sigma, source = self.pick_sigma(x)
        if sigma is None:
            return ModelOutput(prob=None, slope=0.0, sigma=None, sigma_source=None, reason="invalid_sigma")
        p, slope, why = prob_slope_reason(
            x.strike_type,
            x.floor_strike,
            x.cap_strike,
            x.spot,
            sigma,
            x.horizon_s,
            nu=self.nu,
            window_s=x.window_s,
            observed_avg=x.observed_avg,
            observed_s=x.observed_s,
        )
        return ModelOutput(prob=p, slope=slope, sigma=sigma, sigma_source=source, reason=why)

    def spec(self) -> dict[str, Any]:
        return {
            "kind": "settlement",
            "name": self.name,
            "version": self.version,
            "vol_sources": list(self.vol_sources),
            "nu": self.nu,
            "sigma_range": list(self.sigma_range),
        }


GBM_AVG60 = SettlementModel(name="gbm-avg60", version="v1", vol_sources=("index",), nu=None)


def model_from_spec(spec: Mapping[str, Any] | None) -> SettlementModel:
    """A model from its JSON spec (``SettlementModel.spec``); None: the original GBM."""
    if not spec:
        return GBM_AVG60
    kind = spec.get("kind", "settlement")
    if kind != "settlement":
        raise ValueError(f"unknown model kind {kind!r}")
    nu = spec.get("nu")
    return SettlementModel(
        name=str(spec["name"]),
        version=str(spec.get("version", "v1")),
        vol_sources=_strs(spec.get("vol_sources", ("index",))),
        nu=None if nu is None else float(nu),
        sigma_range=_pair(spec.get("sigma_range", (0.05, 3.0))),
    )
