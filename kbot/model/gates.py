"""Decision gates (pure). Each returns the reason codes of every check that fails.

Reason codes (stable names: they are recorded, counted by reports and shown on the tape):

from the pricer (carried on the edge): ``stale_spot``, ``stale_quote``, ``missing_quote``,
``market_not_open``, ``closed``, ``missing_close_time``, ``missing_bounds``,
``unsupported_strike_type``, ``invalid_*``, ``window_unobserved``;

evidence (``kbot.model.evidence``): ``no_demonstrated_edge`` (the bucket's out-of-sample net PnL
per contract has no positive lower confidence bound over enough settled events);

market gates: ``stale_edge`` (the edge is older than ``max_edge_age_s`` when decided),
``stale_spot`` (its index is older than ``max_index_age_s``), ``missing_side`` (YES or NO ask
missing: a one-sided book), ``spread_too_wide``, ``time_to_close_out_of_range``,
``sigma_default``, ``sigma_fallback`` (if configured), ``vol_divergence``, ``no_probability``;

per side: ``price_out_of_range``, ``ev_below_min``;

risk gates: ``kill_switch``, ``no_portfolio``, ``duplicate`` (a TAKE already open on the
market, or open orders there), ``cooldown_hour``, ``cooldown_day``, ``risk_open_orders``;

sizing caps (``kbot.model.sizing``): ``size_zero``, ``max_order``, ``risk_market_exposure``,
``risk_total_exposure``, ``insufficient_balance``, ``liquidity``.
"""

from __future__ import annotations

from decimal import Decimal

from kbot.messages import Edge
from kbot.model.config import GateConfig, RiskConfig
from kbot.model.risk import RiskView
from kbot.model.vol import DEFAULT, FALLBACK_LAST

# Reasons that describe the market/model, not our own book: a PASS with only these is routine.
ROUTINE = frozenset(
    {
        "ev_below_min",
        "price_out_of_range",
        "time_to_close_out_of_range",
        "spread_too_wide",
        "missing_side",
        "missing_quote",
        "closed",
        "market_not_open",
        # the default state of a bucket: visible in `kbot report decisions` / `kbot report edge`,
        # not worth a tape line per candidate
        "no_demonstrated_edge",
    }
)


def market_gates(edge: Edge, now: float, cfg: GateConfig, implied_sigma: float | None) -> list[str]:
    reasons: list[str] = []
    if now - edge.ts > cfg.max_edge_age_s:
        reasons.append("stale_edge")
    if edge.index_ts is None or now - edge.index_ts > cfg.max_index_age_s:
        reasons.append("stale_spot")
    if edge.yes_ask is None or edge.no_ask is None:
        reasons.append("missing_side")
    if edge.yes_bid is not None and edge.yes_ask is not None and edge.yes_ask - edge.yes_bid > cfg.max_spread:
        reasons.append("spread_too_wide")
    if edge.close_ts is None:
        reasons.append("missing_close_time")
    else:
        ttc = edge.close_ts - now
        if not cfg.min_time_to_close_s <= ttc <= cfg.max_time_to_close_s:
            reasons.append("time_to_close_out_of_range")
    if edge.sigma_source == DEFAULT and cfg.block_sigma_default:
        reasons.append("sigma_default")
    if edge.sigma_source == FALLBACK_LAST and cfg.block_sigma_fallback:
        reasons.append("sigma_fallback")
    if vol_divergent(edge.sigma, implied_sigma, cfg.max_vol_ratio):
        reasons.append("vol_divergence")
    if edge.prob_yes is None:
        reasons.append("no_probability")
    return reasons


def vol_divergent(model: float | None, implied: float | None, max_ratio: float) -> bool:
    """Model and implied sigma differ by more than ``max_ratio`` either way (0: gate off)."""
    if max_ratio <= 0 or model is None or implied is None or model <= 0 or implied <= 0:
        return False
    return max(model / implied, implied / model) > max_ratio


def side_gates(price: Decimal | None, ev: float | None, cfg: GateConfig) -> list[str]:
    reasons: list[str] = []
    if price is not None and not cfg.min_price <= price <= cfg.max_price:
        reasons.append("price_out_of_range")
    if ev is None or ev < cfg.min_ev:
        reasons.append("ev_below_min")
    return reasons


def risk_gates(view: RiskView, gates: GateConfig, risk: RiskConfig) -> list[str]:
    reasons: list[str] = []
    if view.kill_reason is not None:
        reasons.append("kill_switch")
    if not view.has_portfolio:
        reasons.append("no_portfolio")
    if view.pending or view.open_orders_market > 0:
        reasons.append("duplicate")
    if view.takes_hour >= gates.max_takes_per_hour:
        reasons.append("cooldown_hour")
    if view.takes_day >= gates.max_takes_per_day:
        reasons.append("cooldown_day")
    if view.open_orders_total >= risk.max_open_orders:
        reasons.append("risk_open_orders")
    return reasons
