"""One market's edge from its reference data, the spot index and its quote (pure).

``price_market`` is what a pricer actor applies on every change (and ``kbot evaluate`` on
every captured market): horizon from ``close_ts`` (fallback ``expected_expiration_ts``), the raw
model probability and the calibrated final probability (``kbot.model.predict``), fee-aware EV of buying YES at the YES ask and NO at the NO ask at the reference size
(``kbot.model.ev``), and the reasons it cannot be traded on. It never raises on bad input: a
bad market, stale spot or stale quote becomes a reason on the edge.

Quote conventions (Kalshi books are bids only): a NO ask at q is a YES bid at 1 - q. When the
quote has no explicit NO side it is derived: ``no_ask = 1 - yes_bid`` (size ``yes_bid_size``),
``no_bid = 1 - yes_ask``. The displayed size at the best ask (``yes_asks[0]``/``no_asks[0]``
when the book source gives levels) is the depth at or better than a taker's limit price.

``EdgeThrottle`` decides when an edge is sent on: to the decision actor on every *material*
change (first edge, reasons, quote prices or sizes, sigma source, |d prob| >= ``prob_epsilon``,
or ``max_emit_interval_s`` without one), and as a snapshot for the record (``snapshot=True``)
on the first edge, when the reasons change, when the side with positive EV changes, and at
least every ``snapshot_interval_s``.
"""

from __future__ import annotations

from decimal import Decimal

from kbot.messages import Edge, IndexUpdate, MarketInfo, Quote
from kbot.model.blend import market_prob, shipped
from kbot.model.config import PricerConfig
from kbot.model.ev import taker_ev_values
from kbot.model.predict import Prediction, Predictor
from kbot.model.prob import strike_bounds
from kbot.model.settlement import WindowObservation

ONE = Decimal(1)


_DEFAULT: list[Predictor] = []


def default_predictor() -> Predictor:
    """The predictor of the parameters shipped with kbot (loaded once)."""
    if not _DEFAULT:
        _DEFAULT.append(Predictor(shipped()))
    return _DEFAULT[0]


def horizon_end(market: MarketInfo) -> float | None:
    """The time the settlement window ends: ``close_ts``, else ``expected_expiration_ts``."""
    return market.close_ts if market.close_ts is not None else market.expected_expiration_ts


def _quote_sides(
    q: Quote,
) -> tuple[Decimal | None, Decimal | None, Decimal | None, Decimal | None, Decimal | None, Decimal | None]:
    """(yes_bid, yes_ask, no_bid, no_ask, yes_ask_size, no_ask_size) with NO derived from YES."""
    yes_bid, yes_ask = q.yes_bid, q.yes_ask
    no_bid = q.no_bid if q.no_bid is not None else (ONE - yes_ask if yes_ask is not None else None)
    no_ask = q.no_ask if q.no_ask is not None else (ONE - yes_bid if yes_bid is not None else None)
    yes_size = q.yes_asks[0][1] if q.yes_asks else q.yes_ask_size
    no_size = q.no_asks[0][1] if q.no_asks else q.yes_bid_size
    return yes_bid, yes_ask, no_bid, no_ask, yes_size, no_size


def quote_age_limit(q: Quote, cfg: PricerConfig) -> float:
    return cfg.max_rest_quote_age_s if q.source == "rest" else cfg.max_quote_age_s


def price_market(
    market: MarketInfo,
    index: IndexUpdate | None,
    quote: Quote | None,
    now: float,
    cfg: PricerConfig,
    *,
    window: WindowObservation | None = None,
    mono: float = 0.0,
    predictor: Predictor | None = None,
    implied_sigma: float | None = None,
) -> Edge:
    """The edge of ``market`` at ``now``. ``predictor``: the probability model and calibrated
    blend in force (None: the parameters shipped with kbot); ``implied_sigma``: the event's
    implied volatility when known (one of the model's volatility sources)."""
    reasons: list[str] = []
    if market.status not in cfg.tradable_statuses:
        reasons.append("market_not_open")
    bounds = strike_bounds(market.strike_type, market.floor_strike, market.cap_strike)
    if isinstance(bounds, str):
        reasons.append(bounds)
    end = horizon_end(market)
    horizon: float | None = None
    if end is None:
        reasons.append("missing_close_time")
    else:
        horizon = end - now
        if horizon <= 0:
            reasons.append("closed")

    spot = index.price if index is not None and index.price > 0 else None
    if index is None or index.stale or spot is None or now - index.ts > cfg.max_index_age_s:
        reasons.append("stale_spot")

    yes_bid = yes_ask = no_bid = no_ask = yes_size = no_size = None
    if quote is None:
        reasons.append("missing_quote")
    else:
        yes_bid, yes_ask, no_bid, no_ask, yes_size, no_size = _quote_sides(quote)
        if quote.stale or now - quote.ts > quote_age_limit(quote, cfg):
            reasons.append("stale_quote")

    observed_avg: float | None = None
    observed_s: float | None = None
    if horizon is not None and 0 < horizon < cfg.window_s:
        if window is None or not window.complete:
            reasons.append("window_unobserved")
        if window is not None and window.avg is not None:
            observed_avg, observed_s = window.avg, window.observed_s

    model = predictor or default_predictor()
    pred: Prediction | None = None
    prob: float | None = None
    if spot is not None and horizon is not None and horizon > 0 and not isinstance(bounds, str):
        pred = model.predict(
            market,
            spot,
            horizon,
            index=index,
            yes_bid=yes_bid,
            yes_ask=yes_ask,
            # displayed YES bids are NO asks and NO bids are YES asks (Kalshi books are bids only)
            yes_depth=no_size,
            no_depth=yes_size,
            implied_sigma=implied_sigma,
            window_s=cfg.window_s,
            observed_avg=observed_avg,
            observed_s=observed_s or 0.0,
        )
        prob = pred.prob
        if pred.reason is not None:
            reasons.append(pred.reason)
    sigma = pred.sigma if pred is not None and pred.sigma is not None else (index.sigma if index is not None else None)
    if pred is not None and pred.sigma_source is not None:
        sigma_source: str | None = pred.sigma_source
    else:
        sigma_source = index.sigma_source if index is not None else None
    from_index = index is not None and sigma_source == index.sigma_source and sigma == index.sigma

    ev_yes = ev_no = fee_yes = fee_no = None
    if prob is not None:
        ev_yes, fee_yes, ev_no, fee_no = taker_ev_values(
            prob, yes_ask, no_ask, cfg.reference_count, market.fee_multiplier, cfg.fee_rounding
        )

    mid = pred.market if pred is not None else market_prob(yes_bid, yes_ask)
    return Edge(
        ts=now,
        ticker=market.ticker,
        event_ticker=market.event_ticker,
        series_ticker=market.series_ticker,
        strike_type=market.strike_type,
        floor_strike=market.floor_strike,
        cap_strike=market.cap_strike,
        close_ts=end,
        spot=spot,
        spot_avg_60s=index.avg_60s if index is not None else None,
        sigma=sigma,
        sigma_source=sigma_source,
        sigma_reason=index.sigma_reason if index is not None and from_index else None,
        horizon_s=horizon,
        prob_yes=prob,
        yes_bid=yes_bid,
        yes_ask=yes_ask,
        no_bid=no_bid,
        no_ask=no_ask,
        yes_ask_size=yes_size,
        no_ask_size=no_size,
        market_mid=mid,
        ev_yes=ev_yes,
        ev_no=ev_no,
        fee_yes=fee_yes,
        fee_no=fee_no,
        quote_ts=quote.ts if quote is not None else None,
        index_ts=index.ts if index is not None else None,
        model_version=model.version,
        reasons=tuple(dict.fromkeys(reasons)),
        mono=mono,
        fee_multiplier=market.fee_multiplier,
        observed_avg=observed_avg,
        observed_s=observed_s,
        implied_sigma=implied_sigma,
        prob_model=pred.prob_model if pred is not None else None,
        model_name=model.name,
        blend_id=model.blend_id,
        model_slope=pred.slope if pred is not None and pred.prob_model is not None else None,
        sig_momentum=pred.momentum if pred is not None else None,
        sig_mean_reversion=pred.mean_reversion if pred is not None else None,
        sig_funding=pred.funding if pred is not None else None,
        sig_imbalance=pred.imbalance if pred is not None else None,
        vol_regime=pred.vol_regime if pred is not None else None,
    )


def positive_side(e: Edge) -> str | None:
    """The side whose EV is the larger and positive (YES on a tie; a missing EV counts as -1e9)."""
    y, n = e.ev_yes, e.ev_no
    if (-1e9 if n is None else n) > (-1e9 if y is None else y):
        return "no" if n is not None and n > 0 else None
    return "yes" if y is not None and y > 0 else None


def edge_top(e: Edge) -> tuple[Decimal | None, ...]:
    """The top of book an edge was priced on (what the throttle compares)."""
    return e.yes_bid, e.yes_ask, e.no_bid, e.no_ask, e.yes_ask_size, e.no_ask_size


def best_ev_at(e: Edge, p: float, price_range: tuple[Decimal, Decimal] | None = None) -> float | None:
    """The larger of the two taker EVs of ``e``'s book at probability ``p`` (None: no side has
    an EV). Exact by linearity: EV = P(side) - price - fee per contract, and neither the price
    nor the fee depends on p, so YES moves by +dp and NO by -dp. With ``price_range`` (the
    decision's ``min_price``/``max_price``) a side whose ask lies outside it does not count."""
    if e.prob_yes is None:
        return None
    dp = p - e.prob_yes
    ev_yes, ev_no = e.ev_yes, e.ev_no
    if price_range is not None:
        lo, hi = price_range
        if e.yes_ask is None or not lo <= e.yes_ask <= hi:
            ev_yes = None
        if e.no_ask is None or not lo <= e.no_ask <= hi:
            ev_no = None
    if ev_yes is None:
        return None if ev_no is None else ev_no - dp
    if ev_no is None:
        return ev_yes + dp
    return max(ev_yes + dp, ev_no - dp)


class EdgeThrottle:
    """Per-market memory of what was last sent: material change and snapshot cadence.

    An edge is material to the decision actor when its reasons, sigma source or the presence of
    a probability changed, when ``max_emit_interval_s`` passed, or when its top of book changed
    or its probability moved by ``prob_epsilon`` since the last edge sent. With ``min_ev`` (the
    decision's ``gates.min_ev``) a probability move or a new top of book is not material while
    both the last edge sent and the new one are *below the bar*: the better side's EV under
    ``min_ev``. Such an edge can only be a PASS with ``ev_below_min`` (the decision takes
    nothing whose EV at the sized count is below ``min_ev``, and the EV at the reference count is
    at least the EV at one contract: fees round up on the whole order), so re-deciding it on
    every 0.1 pp move or book change only re-records the same PASS. It is re-decided when its
    reasons change and at least every ``max_emit_interval_s``, which also refreshes its point in
    the decision's implied-vol fit.

    With ``price_range`` (the decision's ``min_price``/``max_price``) a side priced outside it
    does not count towards the bar: the decision PASSes such a side with
    ``price_out_of_range`` whatever its EV (it picks the better EV side first, then checks its
    price), so an edge whose in-range sides are all under ``min_ev`` can only be a PASS too.
    """

    def __init__(self, cfg: PricerConfig, min_ev: float | None = None,
                 price_range: tuple[Decimal, Decimal] | None = None) -> None:
        self.cfg = cfg
        self.min_ev = min_ev
        self.price_range = price_range
        self._sent: Edge | None = None
        self._sent_ts = float("-inf")
        self._snap: Edge | None = None
        self._snap_ts = float("-inf")

    def material(self, e: Edge) -> bool:
        last = self._sent
        if last is None or e.ts - self._sent_ts >= self.cfg.max_emit_interval_s:
            return True
        if e.reasons != last.reasons or e.sigma_source != last.sigma_source:
            return True
        if (e.prob_yes is None) != (last.prob_yes is None):
            return True
        top_moved = edge_top(e) != edge_top(last)
        prob_moved = (
            e.prob_yes is not None and last.prob_yes is not None and abs(e.prob_yes - last.prob_yes) >= self.cfg.prob_epsilon
        )
        if not top_moved and not prob_moved:
            return False
        return not (self.below_bar(last) and self.below_bar(e))

    def below_bar(self, e: Edge, p: float | None = None, guard: float = 0.0) -> bool:
        """True when ``e``'s better taker EV (at ``p``, default its own probability) is under
        ``min_ev - guard``: the decision can only PASS it (see the class docstring)."""
        if self.min_ev is None or e.prob_yes is None:
            return False
        best = best_ev_at(e, e.prob_yes if p is None else p, self.price_range)
        if best is None:  # no side in range (with an EV at all): only a PASS
            return self.price_range is not None and (e.ev_yes is not None or e.ev_no is not None)
        return best < self.min_ev - guard

    def snapshot_due(self, e: Edge) -> bool:
        last = self._snap
        if last is None or e.ts - self._snap_ts >= self.cfg.snapshot_interval_s:
            return True
        return e.reasons != last.reasons or positive_side(e) != positive_side(last)

    @property
    def last_sent(self) -> Edge | None:
        return self._sent

    @property
    def last_snapshot(self) -> Edge | None:
        return self._snap

    def next_due(self) -> float:
        """When an edge becomes material/snapshot-due by time alone."""
        return min(self._sent_ts + self.cfg.max_emit_interval_s, self._snap_ts + self.cfg.snapshot_interval_s)

    def sent(self, e: Edge) -> None:
        self._sent, self._sent_ts = e, e.ts

    def snapped(self, e: Edge) -> None:
        self._snap, self._snap_ts = e, e.ts
