"""Message factories for model and actor tests (hand-written, documented wire semantics)."""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

from kbot.messages import Edge, IndexUpdate, MarketInfo, PortfolioState, Quote
from kbot.model.blend import market_only, model_only
from kbot.model.models import GBM_AVG60
from kbot.model.predict import Predictor
from kbot.model.state import ModelState

T0 = 1_780_000_000.0  # 2026-05-28T20:26:40Z

# The original pricer: the GBM at the index's sigma, passed through unblended. Tests of the
# pricing mechanics use it (the final probability moves with the index, exactly as the GBM).
GBM = Predictor(model_only(GBM_AVG60.spec()))
# No fit at all: the market's probability (the model where there is no market price).
MARKET = Predictor(market_only(GBM_AVG60.spec()))


def gbm_state(window_s: float = 60.0) -> ModelState:
    return ModelState(GBM, window_s=window_s)


def market(**kw: Any) -> MarketInfo:
    args: dict[str, Any] = dict(
        ticker="KXBTCD-26MAY2817-T80249.99",
        event_ticker="KXBTCD-26MAY2817",
        series_ticker="KXBTCD",
        status="active",
        strike_type="greater",
        floor_strike=80_249.99,
        cap_strike=None,
        close_ts=T0 + 3600.0,
        fee_type="quadratic",
        fee_multiplier=D(1),
        updated_ts=T0,
    )
    args.update(kw)
    return MarketInfo(**args)


def index(ts: float = T0, price: float = 80_000.0, **kw: Any) -> IndexUpdate:
    args: dict[str, Any] = dict(
        ts=ts,
        price=price,
        n_sources=3,
        sources=("binance", "coinbase", "kraken"),
        stale=False,
        avg_60s=price,
        sigma=0.5,
        sigma_source="ewma",
    )
    args.update(kw)
    return IndexUpdate(**args)


def quote(ts: float = T0, yes_bid: str = "0.40", yes_ask: str = "0.42", **kw: Any) -> Quote:
    args: dict[str, Any] = dict(
        ts=ts,
        ticker="KXBTCD-26MAY2817-T80249.99",
        yes_bid=D(yes_bid) if yes_bid is not None else None,
        yes_ask=D(yes_ask) if yes_ask is not None else None,
        yes_bid_size=D(500),
        yes_ask_size=D(500),
        recv_ts=ts,
    )
    args.update(kw)
    return Quote(**args)


def portfolio(ts: float = T0, balance: str = "1000", exposure: str = "0", **kw: Any) -> PortfolioState:
    args: dict[str, Any] = dict(ts=ts, mode="shadow", balance=D(balance), exposure=D(exposure))
    args.update(kw)
    return PortfolioState(**args)


def edge(
    ts: float = T0, prob: float = 0.60, yes_ask: str | None = "0.50", no_ask: str | None = "0.52", **kw: Any
) -> Edge:
    """A tradable edge: YES underpriced (p 0.60 vs ask 0.50), one hour to close."""
    ya = D(yes_ask) if yes_ask is not None else None
    na = D(no_ask) if no_ask is not None else None
    args: dict[str, Any] = dict(
        ts=ts,
        ticker="KXBTCD-26MAY2817-T80249.99",
        event_ticker="KXBTCD-26MAY2817",
        series_ticker="KXBTCD",
        strike_type="greater",
        floor_strike=80_249.99,
        cap_strike=None,
        close_ts=ts + 3600.0,
        # the mid (0.49) is what the model gives at sigma ~0.5 for this spot: no vol divergence
        spot=80_239.0,
        spot_avg_60s=80_239.0,
        sigma=0.5,
        sigma_source="ewma",
        horizon_s=3600.0,
        prob_yes=prob,
        yes_bid=(D(1) - na) if na is not None else None,
        yes_ask=ya,
        no_bid=(D(1) - ya) if ya is not None else None,
        no_ask=na,
        yes_ask_size=D(1000),
        no_ask_size=D(1000),
        quote_ts=ts,
        index_ts=ts,
        fee_multiplier=D(1),
    )
    args.update(kw)
    return Edge(**args)
