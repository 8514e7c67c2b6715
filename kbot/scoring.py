"""Scoring a probability against an outcome, and against the market (pure).

For each edge snapshot whose market has settled, three probabilities are scored:
- Brier score ``(p - o)^2`` and log loss ``-(o ln p + (1-o) ln(1-p))`` of the final probability
  (the one decisions use), of the raw model probability before the calibrated blend, and of
  the market's probability at the same moment (``kbot.model.blend.market_prob``: the YES mid,
  a side without a bid counted as 0); probabilities are clipped to [eps, 1-eps] for the log
  loss so a confident miss is finite.
- the PnL per contract of taking YES at the YES ask and NO at the NO ask, after the taker fee
  for one contract (what the decision actor would have paid), so model skill can be compared
  with what the market actually offered.
"""

from __future__ import annotations

import math
from decimal import Decimal

import attrs

from kbot.fees import FeeRounding, trade_fee
from kbot.model.blend import market_prob

EPS = 1e-6


def brier(p: float, outcome: int) -> float:
    return (p - outcome) ** 2


def log_loss(p: float, outcome: int, eps: float = EPS) -> float:
    p = min(1.0 - eps, max(eps, p))
    return -math.log(p) if outcome else -math.log(1.0 - p)


def take_pnl(ask: Decimal | None, won: bool, *, multiplier: Decimal = Decimal(1),
             rounding: FeeRounding = FeeRounding.CENTICENT) -> float | None:
    """PnL of buying one contract at ``ask`` (fee included) that pays $1 if ``won``."""
    if ask is None or not Decimal(0) < ask < Decimal(1):
        return None
    fee = trade_fee(Decimal(1), ask, multiplier=multiplier, rounding=rounding)
    return float((Decimal(1) if won else Decimal(0)) - ask - fee)


@attrs.frozen(slots=True)
class ScoreRow:
    outcome: int
    brier: float
    log_loss: float
    market_prob: float | None
    market_brier: float | None
    market_log_loss: float | None
    pnl_yes: float | None
    pnl_no: float | None
    model_brier: float | None = None
    model_log_loss: float | None = None


def score(prob_yes: float, outcome: int, yes_bid: Decimal | None, yes_ask: Decimal | None,
          no_ask: Decimal | None, *, multiplier: Decimal = Decimal(1), prob_model: float | None = None,
          market: float | None = None) -> ScoreRow:
    """``market``: the market's probability as recorded (default: from the YES bid/ask)."""
    if outcome not in (0, 1):
        raise ValueError(f"outcome must be 0 or 1, got {outcome!r}")
    if not 0.0 <= prob_yes <= 1.0:
        raise ValueError(f"prob_yes must be in [0, 1], got {prob_yes!r}")
    if prob_model is not None and not 0.0 <= prob_model <= 1.0:
        raise ValueError(f"prob_model must be in [0, 1], got {prob_model!r}")
    m = market if market is not None else market_prob(yes_bid, yes_ask)
    return ScoreRow(
        outcome=outcome,
        brier=brier(prob_yes, outcome),
        log_loss=log_loss(prob_yes, outcome),
        market_prob=m,
        market_brier=brier(m, outcome) if m is not None else None,
        market_log_loss=log_loss(m, outcome) if m is not None else None,
        pnl_yes=take_pnl(yes_ask, outcome == 1, multiplier=multiplier),
        pnl_no=take_pnl(no_ask, outcome == 0, multiplier=multiplier),
        model_brier=brier(prob_model, outcome) if prob_model is not None else None,
        model_log_loss=log_loss(prob_model, outcome) if prob_model is not None else None,
    )


def outcome_of(result: str | None) -> int | None:
    """1/0 for yes/no results; None for void, scalar or unknown (not scored)."""
    return {"yes": 1, "no": 0}.get((result or "").lower())
