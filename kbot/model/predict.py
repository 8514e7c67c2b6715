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

from collections.abc import Callable
from decimal import Decimal

import attrs

from kbot.messages import IndexUpdate, MarketInfo
from kbot.model.blend import BlendInputs, BlendParams, market_prob
from kbot.model.config import SignalConfig
from kbot.model.dist import prob_slope_reason
from kbot.model.models import ModelInputs, rv_source
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
        """``yes_depth``/``no_depth``: displayed YES bids and NO bids at the touch."""
        out = self.model(
            ModelInputs(
                strike_type=market.strike_type,
                floor_strike=market.floor_strike,
                cap_strike=market.cap_strike,
                spot=spot,
                horizon_s=horizon_s,
                window_s=window_s,
                observed_avg=observed_avg,
                observed_s=observed_s,
                sigmas=self.sigmas(index, implied_sigma),
                index_sigma_source=index.sigma_source if index is not None else None,
            )
        )
        mp = market_prob(yes_bid, yes_ask)
        sig = index.signals if index is not None else None
        imb = book_imbalance(
            None if yes_depth is None else float(yes_depth),
            None if no_depth is None else float(no_depth),
            self.signal_config.imbalance_min_depth,
        )
        mom = sig.momentum if sig is not None else None
        mr = sig.mean_reversion if sig is not None else None
        fund = sig.funding if sig is not None else None
        regime = sig.vol_regime if sig is not None else None
        final = None
        if out.prob is not None and horizon_s is not None:
            final = self.params.predict(
                market.series_ticker,
                horizon_s,
                BlendInputs(
                    p_model=out.prob,
                    slope=out.slope,
                    p_market=mp,
                    momentum=mom,
                    mean_reversion=mr,
                    funding=fund,
                    imbalance=imb,
                    vol_regime=regime,
                ),
            )
        return Prediction(
            prob=final,
            prob_model=out.prob,
            market=mp,
            slope=out.slope,
            sigma=out.sigma,
            sigma_source=out.sigma_source,
            reason=out.reason,
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
        sigma, _ = self.model.pick_sigma(ModelInputs(
            strike_type=market.strike_type, floor_strike=market.floor_strike, cap_strike=market.cap_strike,
            spot=None, horizon_s=None, sigmas=self.sigmas(index, implied_sigma),
            index_sigma_source=index.sigma_source,
        ))
        mp = market_prob(yes_bid, yes_ask)
        sig = index.signals
        imb = book_imbalance(None if yes_depth is None else float(yes_depth),
                             None if no_depth is None else float(no_depth), self.signal_config.imbalance_min_depth)
        nu, params, series = self.model.nu, self.params, market.series_ticker
        st, lo, hi = market.strike_type, market.floor_strike, market.cap_strike
        mom = sig.momentum if sig is not None else None
        mr = sig.mean_reversion if sig is not None else None
        fund = sig.funding if sig is not None else None
        regime = sig.vol_regime if sig is not None else None

        def f(spot: float, horizon_s: float) -> float | None:
            if sigma is None:
                return None
            p, slope, _ = prob_slope_reason(st, lo, hi, spot, sigma, horizon_s, nu=nu, window_s=window_s)
            if p is None:
                return None
            return params.predict(series, horizon_s, BlendInputs(
                p_model=p, slope=slope, p_market=mp, momentum=mom, mean_reversion=mr, funding=fund,
                imbalance=imb, vol_regime=regime))

        return f
