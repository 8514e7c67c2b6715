"""Maker quotes around a fair value (pure: no I/O, no clock reads).

A maker rests two post-only buy orders on one market: a YES bid at ``yes_bid`` and a NO bid at
``no_bid`` (a NO bid at q is a YES offer at 1 - q, so the pair is a two-sided YES market
``[yes_bid, 1 - no_bid]``). This module turns what the model knows at one moment into those two
prices, or into the reasons there is no quote, with these rules:

1. **Reservation price** (Avellaneda-Stoikov in probability space): the centre of the quotes is
   the fair value skewed against inventory,

       r = fair - inventory_skew * q / max_position

   with ``q`` the net YES position (YES contracts minus NO contracts). Long YES lowers both quotes
   (sell YES more eagerly, buy it less), long NO raises both. The skew is capped so that ``r`` stays
   inside ``[0, 1]``.

2. **Half-spread** widens with what makes a resting order dangerous:

       h = base_half_spread
           + vol_coef * fair_sd          (how far fair value moves while the quote rests)
           + time_coef * max(0, 1 - t / time_ref_s)   (the last minutes before close)
           + inventory_coef * |q| / max_position      (a full book wants to trade less)

   ``fair_sd`` is the standard deviation of the fair value over the quote's horizon; for a
   driftless-GBM digital it is ``phi(Phi^-1(p)) * sqrt(horizon / t)``, independent of sigma
   (``digital_fair_sd``). That term is the adverse selection a quote faces: near the strike and
   near the close the fair value jumps, and a resting order is picked off.

3. **Grid and book**: the YES bid is rounded *down* and the NO bid *down* to the market's tick
   (``tick``; Kalshi accepts whole cents on every price structure), both kept within
   ``[tick, 1 - tick]``. Post-only orders must not cross: a YES bid at or above the best YES ask
   (or a NO bid at or above the best NO ask, i.e. ``1 - best YES bid``) would take liquidity, so
   it is moved one tick below the opposite touch. The pair never crosses itself:
   ``yes_bid + no_bid < 1``.

4. **When not to quote** (reasons, never silent):
   ``cutoff`` inside the last ``cutoff_s`` seconds, ``stale_inputs``, ``no_fair_value``,
   ``spread_too_thin`` when the half-spread does not cover the maker fee at the fair value,
   and per side ``max_position`` when adding to a position already at the per-market limit.

The maker EV of a fill at ``price`` is ``q_side - price - maker_fee/count`` (``kbot.model.ev``);
it is an upper bound: fills come more often when fair value moves against the quote, which is
why markouts are measured after every fill (``markout``).
"""

from __future__ import annotations

import math
from decimal import ROUND_FLOOR, Decimal

import attrs
from scipy.special import ndtri

ONE = Decimal(1)
ZERO = Decimal(0)
CENT = Decimal("0.01")


@attrs.frozen(kw_only=True)
class MakerConfig:
    """Quote parameters. Prices and spreads are dollars per contract (= probability units)."""

    base_half_spread: float = 0.02
    vol_coef: float = 1.0
    time_coef: float = 0.02
    time_ref_s: float = 300.0
    inventory_coef: float = 0.02
    inventory_skew: float = 0.03
    horizon_s: float = 10.0  # the quote's expected resting time, for fair_sd
    size: Decimal = Decimal(1)  # contracts per quote
    max_position: Decimal = Decimal(10)  # |net YES contracts| per market
    cutoff_s: float = 60.0  # no quotes inside the last cutoff_s before close
    requote_threshold: float = 0.01  # replace a quote when its target moves by more than this
    min_edge: float = 0.0  # extra dollars the half-spread must clear beyond the maker fee

    def __attrs_post_init__(self) -> None:
        if self.max_position <= 0 or self.size <= 0:
            raise ValueError("maker max_position and size must be positive")
        for name in ("base_half_spread", "vol_coef", "time_coef", "inventory_coef", "inventory_skew", "cutoff_s",
                     "requote_threshold", "min_edge"):
            if getattr(self, name) < 0:
                raise ValueError(f"maker {name} must be >= 0")
        if self.time_ref_s <= 0 or self.horizon_s <= 0:
            raise ValueError("maker time_ref_s and horizon_s must be positive")


@attrs.frozen(kw_only=True)
class QuoteInputs:
    fair: float | None  # P(YES) the quotes centre on
    time_to_close_s: float
    inventory: Decimal  # net YES contracts (YES held minus NO held)
    best_yes_bid: Decimal | None
    best_yes_ask: Decimal | None
    tick: Decimal = CENT
    fair_sd: float | None = None  # None: digital_fair_sd(fair, horizon_s, time_to_close_s)
    maker_fee_per_contract: float = 0.0  # at the fair value, 0 where the series charges no maker fee
    stale: bool = False


@attrs.frozen(kw_only=True)
class QuotePlan:
    """The quotes to rest now. ``yes_bid``/``no_bid`` None: that side is not quoted (see reasons)."""

    yes_bid: Decimal | None
    no_bid: Decimal | None
    size: Decimal
    reservation: float | None
    half_spread: float | None
    reasons: tuple[str, ...] = ()
    yes_reasons: tuple[str, ...] = ()
    no_reasons: tuple[str, ...] = ()

    @property
    def quoting(self) -> bool:
        return self.yes_bid is not None or self.no_bid is not None


def digital_fair_sd(p: float, horizon_s: float, time_to_close_s: float) -> float:
    """Standard deviation of a driftless-GBM digital's fair value over ``horizon_s``.

    A digital "above K" is worth ``Phi(d)``; its sensitivity to log spot is ``phi(d)/(sigma sqrt(t))``
    and log spot moves ``sigma sqrt(h)`` in ``h``, so the fair value moves ``phi(d) sqrt(h/t)``
    (first order), with ``d = Phi^-1(p)``: sigma cancels. For a range bracket (a difference of two
    digitals) this is an approximation that uses the bracket's own probability."""
    if not 0.0 < p < 1.0 or time_to_close_s <= 0.0:
        return 0.0
    d = float(ndtri(p))
    phi = math.exp(-0.5 * d * d) / math.sqrt(2.0 * math.pi)
    return phi * math.sqrt(min(1.0, horizon_s / time_to_close_s))


def _floor_tick(x: float, tick: Decimal) -> Decimal:
    return (Decimal(repr(x)) / tick).to_integral_value(rounding=ROUND_FLOOR) * tick


def _side(price: Decimal, opposite_ask: Decimal | None, tick: Decimal, *, full: bool) -> tuple[Decimal | None, tuple[str, ...]]:
    """One post-only bid: moved below the opposite touch so it cannot take, clamped to the grid's
    interior, dropped when the position on that side is full or the price falls off the grid."""
    if full:
        return None, ("max_position",)
    if opposite_ask is not None and price >= opposite_ask:
        price = opposite_ask - tick
    if price < tick:
        return None, ("price_out_of_range",)
    return min(price, ONE - tick), ()


def plan_quotes(inp: QuoteInputs, cfg: MakerConfig) -> QuotePlan:
    """The two post-only bids for one market now, or the reasons there are none (module docstring)."""
    def none(reason: str, r: float | None = None, h: float | None = None) -> QuotePlan:
        return QuotePlan(yes_bid=None, no_bid=None, size=cfg.size, reservation=r, half_spread=h, reasons=(reason,))

    if inp.stale:
        return none("stale_inputs")
    if inp.fair is None or not math.isfinite(inp.fair) or not 0.0 <= inp.fair <= 1.0:
        return none("no_fair_value")
    if inp.time_to_close_s <= cfg.cutoff_s:
        return none("cutoff")
    tick = inp.tick if inp.tick > 0 else CENT
    q = float(inp.inventory / cfg.max_position)
    fair = inp.fair
    fair_sd = inp.fair_sd if inp.fair_sd is not None else digital_fair_sd(fair, cfg.horizon_s, inp.time_to_close_s)
    r = min(1.0, max(0.0, fair - cfg.inventory_skew * q))
    late = max(0.0, 1.0 - inp.time_to_close_s / cfg.time_ref_s)
    h = cfg.base_half_spread + cfg.vol_coef * fair_sd + cfg.time_coef * late + cfg.inventory_coef * abs(q)
    if h <= 0.0 or h < inp.maker_fee_per_contract + cfg.min_edge:
        return none("spread_too_thin", r, h)

    # YES bid below r - h; NO bid below (1 - r) - h, i.e. a YES offer above r + h.
    yes_bid, yes_reasons = _side(_floor_tick(r - h, tick), inp.best_yes_ask, tick,
                                 full=inp.inventory + cfg.size > cfg.max_position)
    best_no_ask = None if inp.best_yes_bid is None else ONE - inp.best_yes_bid
    no_bid, no_reasons = _side(_floor_tick((1.0 - r) - h, tick), best_no_ask, tick,
                               full=-inp.inventory + cfg.size > cfg.max_position)
    # The pair never crosses itself: with h > 0 and rounding down, yes_bid + no_bid <= 1 - 2h < 1
    # already; the guard keeps that true whatever a later edit does to the steps above.
    if yes_bid is not None and no_bid is not None and yes_bid + no_bid >= ONE:
        no_bid, no_reasons = None, ("self_cross",)
    return QuotePlan(yes_bid=yes_bid, no_bid=no_bid, size=cfg.size, reservation=r, half_spread=h,
                     yes_reasons=yes_reasons, no_reasons=no_reasons)


def needs_replace(resting: Decimal | None, target: Decimal | None, cfg: MakerConfig) -> bool:
    """Whether a resting quote must be cancelled/replaced to follow its target: a side that appears
    or disappears always; a price change only beyond ``requote_threshold`` (hysteresis against
    churning the venue's rate limit on every tick of the fair value)."""
    if resting is None or target is None:
        return resting != target
    return abs(float(target - resting)) > cfg.requote_threshold + 1e-12


def markout(side: str, price: Decimal, mid_later: float) -> float:
    """Markout of a maker fill (dollars per contract, before fees): what the filled contract is
    worth at the later mid minus what was paid. Negative on average = adverse selection."""
    value = mid_later if side == "yes" else 1.0 - mid_later
    return value - float(price)


__all__ = [
    "MakerConfig",
    "QuoteInputs",
    "QuotePlan",
    "digital_fair_sd",
    "markout",
    "needs_replace",
    "plan_quotes",
]
