"""Configuration of the model layer and its actors (frozen attrs, sensible defaults).

Every class is constructible from plain TOML values: numbers, strings, booleans and lists.
Money fields are ``Decimal`` dollars and accept strings (``"0.05"``); tuples accept lists.
Invalid values fail at construction with a message naming the field (fail fast: a bad config
needs a human). ``config_digest`` gives a short stable fingerprint recorded with decisions.

Sections (the lead maps them to TOML tables): ``IndexConfig`` (spot index), ``VolConfig``
(volatility), ``PricerConfig`` (pricer actor), ``GateConfig`` (decision gates), ``SizingConfig``
(Kelly sizing and caps), ``RiskConfig`` (daily loss, kill switch, open orders), ``SignalConfig``
(market-wide signals), ``ModelConfig`` (the calibrated blend: parameters and walk-forward refit),
``EvidenceConfig`` (evidence buckets and the ``no_demonstrated_edge`` gate).
"""

from __future__ import annotations

import hashlib
import json
import math
from decimal import Decimal
from typing import Any

import attrs

from kbot.fees import FeeRounding


def _dec(x: Any) -> Decimal:
    """TOML -> Decimal: strings and ints exactly; floats through their shortest repr."""
    if isinstance(x, Decimal):
        return x
    if isinstance(x, bool):
        raise TypeError("expected a number or a decimal string, got a bool")
    return Decimal(str(x))


def _positive(inst: Any, att: attrs.Attribute, value: Any) -> None:
    if not (isinstance(value, (int, float, Decimal)) and math.isfinite(float(value)) and value > 0):
        raise ValueError(f"{type(inst).__name__}.{att.name} must be a finite number > 0, got {value!r}")


def _non_negative(inst: Any, att: attrs.Attribute, value: Any) -> None:
    if not (isinstance(value, (int, float, Decimal)) and math.isfinite(float(value)) and value >= 0):
        raise ValueError(f"{type(inst).__name__}.{att.name} must be a finite number >= 0, got {value!r}")


def _fraction(inst: Any, att: attrs.Attribute, value: Any) -> None:
    if not (isinstance(value, (int, float)) and 0 < value <= 1):
        raise ValueError(f"{type(inst).__name__}.{att.name} must be in (0, 1], got {value!r}")


def _price(inst: Any, att: attrs.Attribute, value: Decimal) -> None:
    if not Decimal(0) <= value <= Decimal(1):
        raise ValueError(f"{type(inst).__name__}.{att.name} must be a price in [0, 1] dollars, got {value}")


def _floats(x: Any) -> tuple[float, ...]:
    return tuple(float(v) for v in x)


def _strs(x: Any) -> tuple[str, ...]:
    if isinstance(x, str):
        return (x,)
    return tuple(str(v) for v in x)


@attrs.frozen(kw_only=True)
class IndexConfig:
    """Spot index: median of fresh exchange sources, Kalshi's BRTI preferred when fresh."""

    # A source counts when its latest tick is at most this old (by both its event time and
    # its receipt time, so neither a lagging feed nor a skewed exchange clock passes).
    max_age_s: float = attrs.field(default=3.0, validator=_positive)
    # BRTI is published once a second; a brti tick older than this is not used.
    brti_max_age_s: float = attrs.field(default=3.0, validator=_positive)
    # Fewer fresh exchange sources than this (and no usable BRTI): the index is stale.
    min_sources: int = attrs.field(default=2, validator=_positive)
    # Use the fresh BRTI value as the index (it is the settlement index itself)...
    prefer_brti: bool = True
    # ...unless it deviates from the median of >= min_sources fresh exchanges by more than this.
    brti_max_deviation_bps: float = attrs.field(default=50.0, validator=_positive)
    # An exchange tick this far from the median of at least two other fresh sources is not used
    # (counted as bad input ``out_of_band``): one exchange printing garbage or frozen on a stale
    # price cannot move the index. 0 turns the check off.
    source_max_deviation_bps: float = attrs.field(default=100.0, validator=_non_negative)
    # The source name Kalshi's CF Benchmarks stream arrives under.
    brti_source: str = "brti"
    # Use the quote mid (bid+ask)/2 when a tick carries a sane bid/ask, else its trade price.
    use_mid: bool = True
    # Regular grid: sample the index (trailing average, volatility) and emit at least this often.
    grid_s: float = attrs.field(default=1.0, validator=_positive)
    # Emit between grid points when the index moves at least this much (or stale/sources change).
    min_move_bps: float = attrs.field(default=0.5, validator=_non_negative)
    # Trailing average window (Kalshi settles on the 60 s simple average of BRTI before close).
    avg_window_s: float = attrs.field(default=60.0, validator=_positive)
    # Fraction of the window's grid samples required before the trailing average is reported.
    avg_min_coverage: float = attrs.field(default=0.9, validator=_fraction)


@attrs.frozen(kw_only=True)
class VolConfig:
    """EWMA volatility on a regular time grid, annualized with a 365.25-day year."""

    # Grid step of the log returns (not per tick: per-tick returns are dominated by noise).
    sample_interval_s: float = attrs.field(default=10.0, validator=_positive)
    # Half-life of the EWMA weights, in seconds (lambda per step = 0.5 ** (dt / halflife)).
    halflife_s: float = attrs.field(default=1800.0, validator=_positive)
    # Returns needed before the EWMA is trusted (before that: last good value or default).
    min_samples: int = attrs.field(default=30, validator=_positive)
    # No return is computed across a gap longer than this (stale index, restart): re-anchor.
    max_gap_s: float = attrs.field(default=60.0, validator=_positive)
    # A return beyond this many current standard deviations is clipped (one bad print must
    # not dominate the variance for hours). 0 disables clipping.
    clip_sigmas: float = attrs.field(default=10.0, validator=_non_negative)
    # Used when neither the EWMA nor a recent last good value is available.
    sigma_default: float = attrs.field(default=0.5, validator=_positive)
    # Guardrails: an EWMA sigma outside [sigma_min, sigma_max] (or non-finite) is rejected.
    sigma_min: float = attrs.field(default=0.05, validator=_positive)
    sigma_max: float = attrs.field(default=3.0, validator=_positive)
    # A last good value older than this is not used as a fallback.
    fallback_max_age_s: float = attrs.field(default=86400.0, validator=_positive)
    # A persisted EWMA state younger than this is resumed at start (else only its last good sigma).
    resume_max_age_s: float = attrs.field(default=3600.0, validator=_positive)
    # How often the spot index actor persists the estimator state.
    persist_interval_s: float = attrs.field(default=60.0, validator=_positive)
    # Realized-volatility diagnostics at two horizons (seconds): short, long.
    rv_horizons_s: tuple[float, ...] = attrs.field(default=(900.0, 14400.0), converter=_floats)

    def __attrs_post_init__(self) -> None:
        if self.sigma_min >= self.sigma_max:
            raise ValueError("VolConfig.sigma_min must be below sigma_max")
        if not self.sigma_min <= self.sigma_default <= self.sigma_max:
            raise ValueError("VolConfig.sigma_default must lie in [sigma_min, sigma_max]")
        if len(self.rv_horizons_s) != 2 or min(self.rv_horizons_s) <= 0:
            raise ValueError("VolConfig.rv_horizons_s must be two positive horizons (short, long)")


@attrs.frozen(kw_only=True)
class PricerConfig:
    """Per-market pricer: when an input is too old to trade on, materiality, snapshot cadence."""

    # Longest a pricer's quiet band may hold index updates back (clock seconds; see kbot.model.band).
    max_band_s: float = attrs.field(default=30.0, validator=_positive)
    # Settlement averaging window of the BTC series (60 s BRTI average before close).
    window_s: float = attrs.field(default=60.0, validator=_non_negative)
    # An index update older than this (on the pricer's clock) is stale spot.
    max_index_age_s: float = attrs.field(default=5.0, validator=_positive)
    # A book/ticker quote older than this is stale. Books only change when someone trades or
    # quotes, and a quiet far-from-the-money book can go unchanged for a long time while its
    # subscription is perfectly healthy; the WS feed marks quotes stale explicitly on sequence
    # gaps and disconnects. So this is a last-resort guard against a silently dead feed.
    max_quote_age_s: float = attrs.field(default=3600.0, validator=_positive)
    # A polled REST quote older than this is stale.
    max_rest_quote_age_s: float = attrs.field(default=30.0, validator=_positive)
    # Fee rounding used for EV: "centicent" (current, per fill to $0.0001) or "cent" (classic).
    fee_rounding: FeeRounding = attrs.field(default=FeeRounding.CENTICENT, converter=FeeRounding)
    # EV on the edge is per contract at this reference size (the decision re-prices the fee
    # at the size it actually sizes).
    reference_count: Decimal = attrs.field(default=Decimal(1), converter=_dec, validator=_positive)
    # Material change: the probability moved at least this much (or the quote/reasons changed).
    prob_epsilon: float = attrs.field(default=0.001, validator=_non_negative)
    # Re-send an unchanged edge to the decision actor at least this often (cooldowns expire,
    # pending takes resolve: the candidate deserves a fresh look).
    max_emit_interval_s: float = attrs.field(default=15.0, validator=_positive)
    # Edge snapshot for the record at least this often per market (and on reason/side changes).
    snapshot_interval_s: float = attrs.field(default=10.0, validator=_positive)
    # Re-price at least this often without input (horizon and input ages move with time).
    idle_reprice_s: float = attrs.field(default=1.0, validator=_positive)
    # Inside the settlement window, index gaps longer than this make the observed partial
    # average incomplete (reason ``window_unobserved``: no trading on a guessed average).
    window_max_gap_s: float = attrs.field(default=3.0, validator=_positive)
    # Market statuses a pricer may trade in (Kalshi object status).
    tradable_statuses: tuple[str, ...] = attrs.field(default=("active", "open"), converter=_strs)


@attrs.frozen(kw_only=True)
class GateConfig:
    """Decision gates (every failing gate is reported, not only the first)."""

    # Minimum EV per contract after fees, in dollars.
    min_ev: float = attrs.field(default=0.02, validator=_non_negative)
    # YES ask - YES bid above this is too wide to trust the quote.
    max_spread: Decimal = attrs.field(default=Decimal("0.06"), converter=_dec, validator=_price)
    # Price of the side bought must lie in [min_price, max_price] (longshots lose takers money).
    min_price: Decimal = attrs.field(default=Decimal("0.05"), converter=_dec, validator=_price)
    max_price: Decimal = attrs.field(default=Decimal("0.95"), converter=_dec, validator=_price)
    # Time to close must lie in [min, max] seconds.
    min_time_to_close_s: float = attrs.field(default=30.0, validator=_non_negative)
    max_time_to_close_s: float = attrs.field(default=14400.0, validator=_positive)
    # An edge older than this when decided (decision actor's clock) is stale input.
    max_edge_age_s: float = attrs.field(default=2.0, validator=_positive)
    # The index behind an edge older than this is stale spot (re-checked at decision time).
    max_index_age_s: float = attrs.field(default=5.0, validator=_positive)
    # PASS when sigma comes from the configured default (the model is not calibrated).
    block_sigma_default: bool = True
    # PASS when sigma is a fallback (last good value) too; off by default.
    block_sigma_fallback: bool = False
    # PASS vol_divergence when model/implied sigma (either way) exceeds this ratio. 0 disables.
    max_vol_ratio: float = attrs.field(default=2.0, validator=_non_negative)
    # Implied-vol inputs: mids inside [implied_min_mid, 1 - implied_min_mid], spread at most
    # implied_max_spread, edges at most implied_max_age_s old; refit at most every refresh s.
    implied_min_mid: float = attrs.field(default=0.05, validator=_non_negative)
    implied_max_spread: Decimal = attrs.field(default=Decimal("0.10"), converter=_dec, validator=_price)
    implied_max_age_s: float = attrs.field(default=30.0, validator=_positive)
    implied_refresh_s: float = attrs.field(default=5.0, validator=_non_negative)
    # Cooldown: at most this many TAKEs per market per rolling hour and per UTC day.
    max_takes_per_hour: int = attrs.field(default=2, validator=_non_negative)
    max_takes_per_day: int = attrs.field(default=6, validator=_non_negative)
    # A TAKE stays "open" (blocking another on that market) until the ledger shows it, or this long.
    pending_timeout_s: float = attrs.field(default=30.0, validator=_positive)
    # Size at most this fraction of the displayed depth at or better than the limit price.
    liquidity_fraction: float = attrs.field(default=0.5, validator=_fraction)
    # A PASS identical to the previous one for its market (same side and reasons) is emitted
    # again only after this many seconds (0: emit every PASS).
    pass_repeat_s: float = attrs.field(default=30.0, validator=_non_negative)

    def __attrs_post_init__(self) -> None:
        if self.min_price > self.max_price:
            raise ValueError("GateConfig.min_price must not exceed max_price")
        if self.min_time_to_close_s >= self.max_time_to_close_s:
            raise ValueError("GateConfig.min_time_to_close_s must be below max_time_to_close_s")


@attrs.frozen(kw_only=True)
class SizingConfig:
    """Fractional Kelly for a binary contract with the fee folded into the price, then caps."""

    # Fraction of full Kelly at full conviction.
    kelly_fraction: float = attrs.field(default=0.25, validator=_fraction)
    # EV per contract (dollars) at which the full kelly_fraction applies; between min_ev and
    # this the fraction ramps linearly from 0.
    full_kelly_edge: float = attrs.field(default=0.10, validator=_positive)
    # Caps: contracts per order, dollars at risk per market and in total, cash kept back.
    max_contracts_per_order: Decimal = attrs.field(default=Decimal(100), converter=_dec, validator=_positive)
    max_market_exposure: Decimal = attrs.field(default=Decimal(100), converter=_dec, validator=_positive)
    max_total_exposure: Decimal = attrs.field(default=Decimal(1000), converter=_dec, validator=_positive)
    balance_reserve: Decimal = attrs.field(default=Decimal(0), converter=_dec, validator=_non_negative)


@attrs.frozen(kw_only=True)
class RiskConfig:
    """Risk limits and the kill switch."""

    # Daily (UTC) realized loss, in dollars, that trips the kill switch until UTC midnight.
    max_daily_loss: Decimal = attrs.field(default=Decimal(100), converter=_dec, validator=_positive)
    # No new TAKE while this many orders are open in total.
    max_open_orders: int = attrs.field(default=20, validator=_positive)
    # Operator kill switch: while this file exists no TAKE is made (``kbot.model.killswitch``).
    kill_file: str = "data/KILL"
    # How often the decision actor looks for the kill file (seconds).
    kill_poll_s: float = attrs.field(default=1.0, validator=_positive)
    # State-store key of the persisted risk state.
    state_key: str = "risk"


def _ascending(inst: Any, att: attrs.Attribute, value: tuple[float, ...]) -> None:
    if any(not math.isfinite(v) or v <= 0 for v in value) or list(value) != sorted(set(value)):
        raise ValueError(f"{type(inst).__name__}.{att.name} must be strictly ascending positive numbers, got {value!r}")


@attrs.frozen(kw_only=True)
class SignalConfig:
    """Market-wide signals (``kbot.model.signals``), computed by the spot index actor from its
    volatility grid samples and the funding feed (and by ``kbot evaluate`` from captures)."""

    # Realized volatility horizons (seconds); the first is "short", the last "long" (regime).
    rv_horizons_s: tuple[float, ...] = attrs.field(default=(3600.0, 21600.0, 86400.0), converter=_floats,
                                                   validator=_ascending)
    # Momentum: the moves over these lookbacks must agree in sign.
    momentum_lookbacks_s: tuple[float, ...] = attrs.field(default=(900.0, 3600.0), converter=_floats,
                                                          validator=_ascending)
    # Mean reversion: the z-score of the move over this lookback (sign flipped).
    mean_reversion_lookback_s: float = attrs.field(default=14400.0, validator=_positive)
    # Signals in sigma units are clipped to +-z_clip.
    z_clip: float = attrs.field(default=3.0, validator=_positive)
    # Volatility regime: rv(short)/rv(long) below low = -1, above high = +1, else 0.
    vol_regime_low: float = attrs.field(default=0.75, validator=_positive)
    vol_regime_high: float = attrs.field(default=1.33, validator=_positive)
    # Funding: (rate - neutral) / scale, per 8 h interval; a rate older than max age is not used.
    funding_neutral: float = 0.0001
    funding_scale: float = attrs.field(default=0.0002, validator=_positive)
    funding_max_age_s: float = attrs.field(default=600.0, validator=_positive)
    # The price history keeps the longest horizon/lookback; returns across longer gaps are dropped.
    history_max_gap_s: float = attrs.field(default=7200.0, validator=_positive)
    # Book imbalance needs at least this many contracts displayed in total.
    imbalance_min_depth: float = attrs.field(default=1.0, validator=_non_negative)

    def __attrs_post_init__(self) -> None:
        if self.vol_regime_low >= self.vol_regime_high:
            raise ValueError("SignalConfig.vol_regime_low must be below vol_regime_high")

    @property
    def keep_s(self) -> float:
        return max(max(self.rv_horizons_s), 2.0 * max(self.momentum_lookbacks_s), 2.0 * self.mean_reversion_lookback_s)


def _params_file(inst: Any, att: attrs.Attribute, value: str) -> None:
    if not value:
        return
    from pathlib import Path

    from kbot.model.blend import packaged

    if not (Path(value).is_file() or value in packaged()):
        raise ValueError(f"{type(inst).__name__}.{att.name}: no parameters file {value!r} "
                         f"(a `kbot model fit --out` file, or one of {', '.join(packaged())})")


@attrs.frozen(kw_only=True)
class ModelConfig:
    """The probability decisions use (``kbot.model.blend``): where its parameters come from and
    how they are refitted walk-forward on settled history."""

    # A parameters file (JSON, ``kbot model fit --out``) or the name of packaged parameters
    # (``kxbtc``: the default; ``gbm-raw``: the original GBM pricer, unblended); empty: the default.
    params_file: str = attrs.field(default="", validator=_params_file)
    # Refit the blend on markets settled before now at most this often (clock seconds).
    refit_every_s: float = attrs.field(default=86400.0, validator=_positive)
    # ... on edge snapshots of the last fit_window_s seconds,
    fit_window_s: float = attrs.field(default=30 * 86400.0, validator=_positive)
    # ... at most one snapshot per market per fit_sample_s (snapshots seconds apart are not
    # independent evidence),
    fit_sample_s: float = attrs.field(default=300.0, validator=_non_negative)
    # ... with at least this many informative rows per band (else the band keeps its prior),
    fit_min_rows: int = attrs.field(default=200, validator=_positive)
    # ... shrunk toward the prior (the shipped parameters) with this ridge weight (None: the
    # weight chosen with the parameters, ``lam`` in the parameters file).
    fit_lambda: float | None = attrs.field(default=None, validator=attrs.validators.optional(_non_negative))
    # At most this many rows are fetched for one refit (the newest).
    fit_max_rows: int = attrs.field(default=200_000, validator=_positive)


@attrs.frozen(kw_only=True)
class EvidenceConfig:
    """Evidence per bucket (series x time-to-close band x price band) and the gate
    ``no_demonstrated_edge`` (``kbot.model.evidence``). The gate is on by default in every mode."""

    gate: bool = True
    # Band edges: time to close in seconds, price as the market's YES probability in (0, 1).
    ttc_bands_s: tuple[float, ...] = attrs.field(default=(180.0, 600.0, 1800.0, 3600.0, 14400.0), converter=_floats,
                                                 validator=_ascending)
    price_bands: tuple[float, ...] = attrs.field(default=(0.1, 0.3, 0.7, 0.9), converter=_floats, validator=_ascending)
    # A bucket is tradable when the lower bound of its net PnL per contract is above 0 over at
    # least min_obs settled observations (events: snapshots of one event are one observation).
    min_obs: int = attrs.field(default=30, validator=_positive)
    # One-sided confidence of the lower bound (normal approximation over event means).
    confidence: float = attrs.field(default=0.95, validator=_fraction)
    # Only snapshots of the last window_s seconds count.
    window_s: float = attrs.field(default=30 * 86400.0, validator=_positive)

    def __attrs_post_init__(self) -> None:
        if max(self.price_bands) >= 1.0:
            raise ValueError("EvidenceConfig.price_bands must lie inside (0, 1)")
        if not 0.5 <= self.confidence < 1.0:
            raise ValueError("EvidenceConfig.confidence must be in [0.5, 1)")


def config_digest(*configs: Any) -> str:
    """A short stable fingerprint of configuration objects (recorded with every decision)."""

    def default(o: Any) -> Any:
        if isinstance(o, Decimal):
            return str(o)
        if isinstance(o, FeeRounding):
            return o.value
        raise TypeError(type(o))

    payload = [{"class": type(c).__name__, **attrs.asdict(c)} for c in configs]
    raw = json.dumps(payload, sort_keys=True, default=default).encode()
    return hashlib.sha256(raw).hexdigest()[:16]
