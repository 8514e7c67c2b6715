"""One candidate -> exactly one Decision (pure): gates, side choice, sizing, risk.

Order of work (every gate is evaluated; the Decision lists every failing reason):

1. The pricer's reasons on the edge (stale inputs, unusable market) are carried over.
2. Market gates at decision time (``kbot.model.gates.market_gates``): edge/index age,
   one-sided book, spread, time to close, sigma source, model vs implied volatility; and the
   evidence gate ``no_demonstrated_edge`` (``kbot.model.evidence``): the edge's bucket must
   have shown net PnL after fees with a positive lower confidence bound out of sample.
3. Side: the EV of buying YES at the YES ask and NO at the NO ask are computed
   independently for one contract (the worst fee rounding); the side with the larger EV is the
   candidate (a PASS still names it, so reports can see what was on the table).
4. Size for that side (``kbot.model.sizing``: fractional Kelly ramped between ``min_ev`` and
   ``full_kelly_edge``, capped by order size, market and total exposure, balance and
   liquidity), then the EV and fee are recomputed for the sized count (fees round on the whole
   order) and gated: price range, ``ev_below_min``.
5. Risk gates (kill switch, portfolio known, duplicate/cooldown, open orders).

TAKE iff no reason and at least one contract. The Decision carries the edge (with the
event's implied sigma filled in), the sizing inputs (Kelly fraction, balance, exposure,
daily PnL) and the configuration digest: enough to reproduce it. Its id is derived from its
inputs, so a replay of the same inputs reproduces the same ids.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal

import attrs

from kbot.fees import FeeRounding
from kbot.messages import Decision, Edge
from kbot.model.config import EvidenceConfig, GateConfig, RiskConfig, SizingConfig
from kbot.model.ev import SideEV, side_ev, taker_evs
from kbot.model.evidence import EMPTY, EvidenceTable, evidence_gate
from kbot.model.gates import ROUTINE, market_gates, risk_gates, side_gates
from kbot.model.risk import RiskView
from kbot.model.sizing import size_order

ONE = Decimal(1)
ZERO = Decimal(0)
_EVIDENCE = EvidenceConfig()


def decision_id(edge: Edge, action: str, side: str | None, count: Decimal, reasons: tuple[str, ...] = ()) -> str:
    """Derived from the market data the decision was made on (the quote's and the index's event
    times, the quoted prices) and what was decided: never from when an actor got to it, so a
    replay of a recording reproduces a live run's ids (``kbot replay``). The decision actor
    disambiguates the rare repeat for one market (``DecisionCore``)."""
    raw = (f"{edge.ticker}|{edge.quote_ts!r}|{edge.index_ts!r}|{edge.yes_bid}|{edge.yes_ask}|{edge.no_bid}|"
           f"{edge.no_ask}|{action}|{side}|{count}|{','.join(reasons)}")
    return "d-" + hashlib.blake2b(raw.encode(), digest_size=10).hexdigest()


def _dedupe(reasons: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(reasons))


@attrs.frozen(slots=True)
class Evaluation:
    """Everything a Decision says, before it is built (cheap to compare for PASS dedup)."""

    action: str  # TAKE | PASS
    side: str | None
    reasons: tuple[str, ...]
    count: Decimal  # contracts bought (0 for PASS)
    final: SideEV | None  # the side's EV/fee at the sized count (or one contract)
    kelly: float | None


def evaluate(
    edge: Edge,
    *,
    now: float,
    risk: RiskView,
    implied_sigma: float | None,
    gates: GateConfig,
    sizing: SizingConfig,
    risk_config: RiskConfig,
    rounding: FeeRounding = FeeRounding.CENTICENT,
    evidence: EvidenceTable = EMPTY,
    evidence_config: EvidenceConfig = _EVIDENCE,
) -> Evaluation:
    """Gates, side, sizing and risk for one candidate (see the module docstring). With the
    default ``evidence`` (none) and ``evidence_config`` (gate on) every candidate PASSes
    ``no_demonstrated_edge``."""
    reasons: list[str] = list(edge.reasons)
    reasons += market_gates(edge, now, gates, implied_sigma)
    reasons += evidence_gate(edge, evidence, evidence_config)

    best: SideEV | None = None
    if edge.prob_yes is not None:
        yes, no = taker_evs(
            edge.prob_yes, edge.yes_ask, edge.no_ask, ONE, multiplier=edge.fee_multiplier, rounding=rounding
        )
        candidates = [s for s in (yes, no) if s is not None]
        if candidates:
            best = max(candidates, key=lambda s: s.ev)

    count = ZERO
    kelly: float | None = None
    final = best
    if best is not None:
        depth = edge.yes_ask_size if best.side == "yes" else edge.no_ask_size
        size = size_order(
            prob_side=best.prob,
            price=best.price,
            fee_per_contract=best.fee_per_contract,
            ev=best.ev,
            min_ev=gates.min_ev,
            balance=risk.balance,
            total_exposure=risk.total_exposure,
            market_exposure=risk.market_exposure,
            depth=depth,
            liquidity_fraction=gates.liquidity_fraction,
            config=sizing,
        )
        kelly = size.kelly_applied
        count = size.count
        if count >= 1:
            final = side_ev(best.side, best.prob, best.price, count, multiplier=edge.fee_multiplier, rounding=rounding)
        reasons += side_gates(final.price if final else None, final.ev if final else None, gates)
        reasons += size.reasons
    elif "missing_side" not in reasons and "no_probability" not in reasons:
        reasons.append("missing_side")

    reasons += risk_gates(risk, gates, risk_config)
    codes = _dedupe(reasons)
    take = not codes and count >= 1 and final is not None
    return Evaluation(
        action="TAKE" if take else "PASS",
        side=final.side if final is not None else None,
        reasons=codes,
        count=count if take else ZERO,
        final=final,
        kelly=kelly,
    )


def build_decision(
    ev: Evaluation,
    edge: Edge,
    *,
    now: float,
    risk: RiskView,
    implied_sigma: float | None,
    digest: str | None = None,
) -> Decision:
    """The Decision for an evaluation: the edge (with the event's implied sigma filled in when the
    pricer had none), sizing inputs, risk state and configuration digest; an id derived from its
    inputs."""
    final = ev.final
    if implied_sigma is not None and edge.implied_sigma is None:
        edge = attrs.evolve(edge, implied_sigma=implied_sigma)
    return Decision(
        decision_id=decision_id(edge, ev.action, ev.side, ev.count, ev.reasons),
        ts=now,
        ticker=edge.ticker,
        action=ev.action,  # type: ignore[arg-type]
        side=ev.side,  # type: ignore[arg-type]
        count=ev.count,
        limit_price=final.price if final is not None else None,
        prob_yes=edge.prob_yes,
        ev=final.ev if final is not None else None,
        fee=final.fee if ev.action == "TAKE" and final is not None else None,
        reasons=ev.reasons,
        edge=edge,
        kelly_fraction=ev.kelly,
        exposure=risk.total_exposure,
        daily_pnl=risk.daily_pnl,
        balance=risk.balance,
        config_digest=digest,
        mono=edge.mono,
    )


def decide(
    edge: Edge,
    *,
    now: float,
    risk: RiskView,
    implied_sigma: float | None,
    gates: GateConfig,
    sizing: SizingConfig,
    risk_config: RiskConfig,
    rounding: FeeRounding = FeeRounding.CENTICENT,
    digest: str | None = None,
    evidence: EvidenceTable = EMPTY,
    evidence_config: EvidenceConfig = _EVIDENCE,
) -> Decision:
    """One candidate -> exactly one Decision (``evaluate`` then ``build_decision``)."""
    ev = evaluate(
        edge,
        now=now,
        risk=risk,
        implied_sigma=implied_sigma,
        gates=gates,
        sizing=sizing,
        risk_config=risk_config,
        rounding=rounding,
        evidence=evidence,
        evidence_config=evidence_config,
    )
    return build_decision(ev, edge, now=now, risk=risk, implied_sigma=implied_sigma, digest=digest)


def is_unusual_pass(d: Decision, min_ev: float) -> bool:
    """A PASS worth a line on the tape: the EV cleared ``min_ev`` (a trade was on the table)
    and something other than routine market conditions stopped it (risk, kill switch,
    liquidity, cooldown, stale data, volatility doubts...)."""
    if d.action != "PASS" or d.ev is None or d.ev < min_ev:
        return False
    return any(r not in ROUTINE for r in d.reasons)
