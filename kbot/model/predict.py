"""One market's probabilities: the raw model's and the calibrated blend's (pure).

``Predictor.predict`` is the single code path from inputs to the probability decisions use:
the pricer actors call it through ``kbot.model.pricing.price_market`` and ``kbot evaluate``
calls the same ``price_market`` on captured markets. It

1. gathers the volatility estimates known now (``sigmas``): the index's EWMA sigma (source
   ``index``), the realized volatility at each ``SignalConfig.rv_horizons_s`` (``rv_<h>``,
   carried by ``IndexUpdate.signals``) and the event's implied volatility (``implied``);
2. runs the probability model named by the blend parameters (``kbot.model.models``): the raw
   model probability and its slope;
3. blends it with the market's probability and the signals (``kbot.model.blend``): the final
   probability.

The book imbalance is this market's own signal: displayed YES bids (= NO asks) against NO
bids (= YES asks) at the touch.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from decimal import Decimal

import attrs

from kbot.messages import IndexUpdate, MarketInfo
from kbot.model.blend import BlendParams, K, features, logit, market_prob
from kbot.model.config import SignalConfig
from kbot.model.dist import prob_slope_reason, tail
from kbot.model.models import rv_source
from kbot.model.prob import YEAR_S, strike_bounds
from kbot.model.signals import book_imbalance


@attrs.frozen(kw_only=True)
class Prediction:
    prob: float | None  # final: what decisions use
    prob_model: float | None  # the raw model
    market: float | None  # the market's probability (kbot.model.blend.market_prob)
    slope: float
    sigma: float | None
    sigma_source: str | None
    reason: str | None  # why there is no probability
    momentum: float | None = None
    mean_reversion: float | None = None
    funding: float | None = None
    imbalance: float | None = None
    vol_regime: int | None = None


def _no_probability(spot: float, horizon_s: float) -> float | None:
    """The curve of a market without a probability (no volatility, no usable strikes)."""
    return None


class Predictor:
    """The probability model and blend parameters in force (replaced whole on a refit)."""

    def __init__(self, params: BlendParams, signal_config: SignalConfig | None = None) -> None:
        self.params = params
        self.model = params.probability_model()
        self.signal_config = signal_config or SignalConfig()
        self._rv_names = tuple(rv_source(h) for h in self.signal_config.rv_horizons_s)

    @property
    def name(self) -> str:
        return self.model.name

    @property
    def version(self) -> str:
        return self.model.version

    @property
    def blend_id(self) -> str:
        return self.params.fit_id

    def sigmas(self, index: IndexUpdate | None, implied_sigma: float | None) -> dict[str, float | None]:
        out: dict[str, float | None] = {"implied": implied_sigma}
        if index is not None:
            out["index"] = index.sigma
            sig = index.signals
            if sig is not None:
                for name, v in zip(self._rv_names, sig.rv, strict=False):
                    out[name] = v
        return out

    def imbalance(self, yes_depth: Decimal | None, no_depth: Decimal | None) -> float | None:
        return book_imbalance(None if yes_depth is None else float(yes_depth),
                              None if no_depth is None else float(no_depth), self.signal_config.imbalance_min_depth)

    def predict(
        self,
        market: MarketInfo,
        spot: float | None,
        horizon_s: float | None,
        *,
        index: IndexUpdate | None,
        yes_bid: Decimal | None,
        yes_ask: Decimal | None,
        yes_depth: Decimal | None = None,
        no_depth: Decimal | None = None,
        implied_sigma: float | None = None,
        window_s: float = 60.0,
        observed_avg: float | None = None,
        observed_s: float = 0.0,
    ) -> Prediction:
        """``yes_depth``/``no_depth``: displayed YES bids and NO bids at the touch. (The same as
        calling ``self.model(ModelInputs(...))`` and ``self.params.predict(...)``, without
        building those records: this runs for every edge.)"""
        model = self.model
        sigma, source = model.pick(self.sigmas(index, implied_sigma), index.sigma_source if index is not None else None)
        prob: float | None = None
        slope = 0.0
        reason: str | None = "invalid_sigma"
        if sigma is not None:
            prob, slope, reason = prob_slope_reason(
                market.strike_type, market.floor_strike, market.cap_strike, spot, sigma, horizon_s, nu=model.nu,
                window_s=window_s, observed_avg=observed_avg, observed_s=observed_s,
            )
        mp = market_prob(yes_bid, yes_ask)
        sig = index.signals if index is not None else None
        imb = self.imbalance(yes_depth, no_depth)
        mom = sig.momentum if sig is not None else None
        mr = sig.mean_reversion if sig is not None else None
        fund = sig.funding if sig is not None else None
        regime = sig.vol_regime if sig is not None else None
        final = None
        if prob is not None and horizon_s is not None:
            x = features(prob, slope, mp, mom, mr, fund, imb, regime, self.params.eps)
            final = self.params.predict_x(market.series_ticker, horizon_s, x)
        return Prediction(
            prob=final,
            prob_model=prob,
            market=mp,
            slope=slope if prob is not None else 0.0,
            sigma=sigma,
            sigma_source=source if sigma is not None else None,
            reason=reason,
            momentum=mom,
            mean_reversion=mr,
            funding=fund,
            imbalance=imb,
            vol_regime=regime,
        )

    def curve(
        self,
        market: MarketInfo,
        *,
        index: IndexUpdate,
        yes_bid: Decimal | None,
        yes_ask: Decimal | None,
        yes_depth: Decimal | None = None,
        no_depth: Decimal | None = None,
        implied_sigma: float | None = None,
        window_s: float = 60.0,
    ) -> Callable[[float, float], float | None]:
        """The final probability as a function of ``(spot, horizon_s)`` with every other input
        held as now (the volatility source chosen now, the quote, the signals): what
        ``predict(...).prob`` gives for those two values before the settlement window, without
        building its records. The pricers use it to bound how far the index may move before
        anything they send could change (``PricerCore.quiet_band``)."""
        sigma, _ = self.model.pick(self.sigmas(index, implied_sigma), index.sigma_source)
        mp = market_prob(yes_bid, yes_ask)
        sig = index.signals
        imb = self.imbalance(yes_depth, no_depth)
        params, series, eps = self.params, market.series_ticker, self.params.eps
        bounds = strike_bounds(market.strike_type, market.floor_strike, market.cap_strike)
        tl = tail(self.model.nu)
        mom = (sig.momentum if sig is not None else None) or 0.0
        mr = (sig.mean_reversion if sig is not None else None) or 0.0
        fund = (sig.funding if sig is not None else None) or 0.0
        regime = float((sig.vol_regime if sig is not None else None) or 0)
        imb0 = imb or 0.0
        lm = None if mp is None else logit(mp, eps)
        rate = None if sigma is None else sigma * sigma / YEAR_S
        coefs: dict[int, tuple[float, ...]] = {}
        if rate is None or isinstance(bounds, str):
            return _no_probability
        k_lo, k_hi = bounds
        sf, pdf, bands = tl.sf, tl.pdf, params.bands_s
        lo_eps, hi_eps = eps, 1.0 - eps
        w23 = 2.0 * window_s / 3.0

        # The same arithmetic, in the same order, as ``prob_slope_reason`` (before the window:
        # effective strike = strike), ``logit``, ``features``, ``dot`` and ``sigmoid`` of
        # ``BlendParams.predict``, written out without their calls and records: a quiet band
        # evaluates this ~10 times (``max(a, b)`` is ``b if b > a else a``, ``min(a, b)`` is
        # ``b if b < a else a``: the same choices, ties and NaN included).
        def f(spot: float, horizon_s: float) -> float | None:
            if not spot > 0 or horizon_s < window_s:
                return None
            v = rate * (horizon_s - w23)
            if not v > 0:
                return None
            sd = math.sqrt(v)
            if k_lo is None:
                g_lo, f_lo = 1.0, 0.0
            else:
                d = (math.log(k_lo / spot) + 0.5 * v) / sd
                g_lo, f_lo = sf(d), pdf(d)
            if k_hi is None:
                g_hi, f_hi = 0.0, 0.0
            else:
                d = (math.log(k_hi / spot) + 0.5 * v) / sd
                g_hi, f_hi = sf(d), pdf(d)
            p = g_lo - g_hi
            p = p if p > 0.0 else 0.0
            p = p if p < 1.0 else 1.0
            pc = p if p > lo_eps else lo_eps
            pc = pc if pc < hi_eps else hi_eps
            lg = math.log(pc / (1.0 - pc))
            lmv = lg if lm is None else lm
            d = (f_lo - f_hi) / (pc * (1.0 - pc))
            band = 0
            for b in bands:
                if horizon_s < b:
                    break
                band += 1
            th = coefs.get(band)
            if th is None:
                th = coefs[band] = params.coef(series, horizon_s)
                if len(th) != K:
                    raise ValueError(f"blend coefficients for {len(th)} features, {K} given")
            z = (th[0] * 1.0 + th[1] * lmv + th[2] * lg + th[3] * (mom * d) + th[4] * (mr * d) + th[5] * (fund * d)
                 + th[6] * imb0 + th[7] * (regime * (lg - lmv)))
            if z >= 0:
                q = 1.0 / (1.0 + math.exp(-z))
            else:
                e = math.exp(z)
                q = e / (1.0 + e)
            q = q if q > lo_eps else lo_eps
            return q if q < hi_eps else hi_eps

        return f
