"""The walk-forward engine of ``kbot evaluate`` (pure: captures in, lines and tallies out).

Captures are walked in time order. At each capture, in this order:

1. **Settlements known now** (the capture's ``previous_settlement``: an event that closed
   before it) score every snapshot kept for that event (``kbot.model.learn.score_snapshot``):
   the evidence per bucket grows (``Learner.add_score``), the snapshots join the refit pool,
   and the tallies of the summary get their outcomes. Nothing is learned before that.
2. **Refit** of the calibrated blend when due (``ModelConfig.refit_every_s`` after the last
   attempt; the first at the first capture): on the pool of settled snapshots of the last
   ``fit_window_s``, shrunk toward the base parameters (the shipped ones by default), exactly
   as the scorer actor does.
3. **The index** at the capture: the capture's spot (Coinbase BTC-USD) is the index; the price
   history (realized volatility, signals) and the EWMA sigma are fed with the spots of the
   captures so far. The EWMA runs on the captures' own spacing (about two an hour), so its
   configuration is the actors' ``VolConfig`` with a one-day half-life, a two-hour gap limit
   and eight returns to warm up (``capture_vol_config``): the only setting that differs from
   the actors', because the input differs (a capture every half hour, not an index every
   second).
4. **Every bracket with a quote** is priced with ``kbot.model.pricing.price_market`` (the
   pricer's function: raw model, calibrated blend, EVs at the captured asks) and decided with
   ``kbot.model.decide.evaluate`` (the decision's function: every gate, Kelly sizing, the
   evidence gate on the evidence learned so far), with the configuration the actors use, a
   fresh portfolio of ``ledger.starting_balance`` (each decision on its own: no exposure from
   earlier takes, no cooldowns) and an implied-volatility fit per event from the capture's
   ladder (the pricers' shared book, and the decision's own for ``vol_divergence``).

The captures carry no order-book depth: each quote is given ``assumed_depth`` contracts on both
sides (default: enough that the liquidity cap never binds before the order cap), which also
makes the book-imbalance signal 0. The funding-rate signal is absent (no funding in captures).
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

import attrs

from kbot.evaluate.captures import Capture, CapturedMarket
from kbot.messages import Decision, Edge, IndexUpdate, MarketInfo, ModelFit, Quote
from kbot.model.blend import BlendParams, FitRow
from kbot.model.config import (
    EvidenceConfig,
    GateConfig,
    ModelConfig,
    PricerConfig,
    RiskConfig,
    SignalConfig,
    SizingConfig,
    VolConfig,
)
from kbot.model.decide import build_decision, evaluate
from kbot.model.evidence import EvidenceTable
from kbot.model.history import PriceHistory
from kbot.model.implied import ImpliedVolBook
from kbot.model.learn import Learner, score_snapshot
from kbot.model.predict import Predictor
from kbot.model.pricing import price_market
from kbot.model.risk import RiskView
from kbot.model.signals import spot_signals
from kbot.model.vol import EwmaVol

ZERO = Decimal(0)
ONE = Decimal(1)


def capture_vol_config(vol: VolConfig) -> VolConfig:
    """The actors' volatility configuration adapted to a capture every half hour."""
    return attrs.evolve(vol, sample_interval_s=60.0, halflife_s=86400.0, max_gap_s=7200.0, min_samples=8,
                        rv_horizons_s=(3600.0, 86400.0))


@attrs.frozen(kw_only=True)
class WalkConfig:
    pricer: PricerConfig = attrs.field(factory=PricerConfig)
    gates: GateConfig = attrs.field(factory=GateConfig)
    sizing: SizingConfig = attrs.field(factory=SizingConfig)
    risk: RiskConfig = attrs.field(factory=RiskConfig)
    evidence: EvidenceConfig = attrs.field(factory=EvidenceConfig)
    signals: SignalConfig = attrs.field(factory=SignalConfig)
    model: ModelConfig = attrs.field(factory=ModelConfig)
    vol: VolConfig = attrs.field(factory=VolConfig)
    starting_balance: Decimal = Decimal(1000)
    assumed_depth: Decimal | None = None  # None: 2 x max_contracts_per_order / liquidity_fraction
    refit: bool = True  # False: keep the base parameters (a frozen model, for comparisons)
    decide: bool = True  # False: price only (model selection: no decisions, no would-be trading)

    @classmethod
    def of(cls, app: Any, **kw: Any) -> WalkConfig:
        """The configuration the actors use (a ``kbot.config.AppConfig``), plus ``kw``."""
        return cls(pricer=app.pricer, gates=app.gates, sizing=app.sizing, risk=app.risk, evidence=app.evidence,
                   signals=app.signals, model=app.model, vol=app.vol, starting_balance=app.ledger.starting_balance,
                   **kw)

    def depth(self) -> Decimal:
        if self.assumed_depth is not None:
            return self.assumed_depth
        return (2 * self.sizing.max_contracts_per_order / Decimal(repr(self.gates.liquidity_fraction))).quantize(ONE)


@attrs.frozen(kw_only=True)
class Snapshot:
    """One priced and decided bracket, kept until its event settles."""

    capture_ts: float
    event_ticker: str
    edge: Edge
    decision: Decision | None


@attrs.define
class Tally:
    """One horizon bucket of the summary (money exact)."""

    events: int = 0  # settled event snapshots (captures)
    brier_final: float = 0.0  # summed per event
    brier_market: float = 0.0
    brier_market_norm: float = 0.0  # zero-bid brackets as 0, normalized per event (the data README's)
    brier_model: float = 0.0
    n_model: int = 0
    takes: int = 0
    wins: int = 0
    contracts: Decimal = ZERO
    cost: Decimal = ZERO  # price paid plus fees
    fees: Decimal = ZERO
    pnl: Decimal = ZERO  # after fees
    would_be: int = 0  # would-be TAKEs (before risk and evidence) and their PnL per contract
    would_be_pnl: float = 0.0


def horizon_bucket(horizon_s: float) -> str:
    if horizon_s < 1200.0:
        return "~5 min (<20m)"
    if horizon_s <= 3600.0:
        return "~37 min (20-60m)"
    return ">60 min"


def _view(balance: Decimal) -> RiskView:
    return RiskView(kill_reason=None, has_portfolio=True, balance=balance, total_exposure=ZERO,
                    market_exposure=ZERO, open_orders_total=0, open_orders_market=0, pending=False, takes_hour=0,
                    takes_day=0, daily_pnl=ZERO)


class Walk:
    def __init__(self, base: BlendParams, cfg: WalkConfig | None = None) -> None:
        self.cfg = cfg = cfg or WalkConfig()
        self.base = base
        self.predictor = Predictor(base, cfg.signals)
        self.learner = Learner(base, gates=cfg.gates, evidence=cfg.evidence, model=cfg.model)
        self.history = PriceHistory(cfg.signals.keep_s, cfg.signals.history_max_gap_s)
        self.vol = EwmaVol(capture_vol_config(cfg.vol))
        self.pending: dict[str, list[Snapshot]] = {}
        self.pool: list[tuple[str, FitRow]] = []
        self.next_refit: float | None = None
        self.fits: list[ModelFit] = []
        self.tallies: dict[str, Tally] = {}
        self.signals_seq = 0
        self.unsettled_events: set[str] = set()
        self.depth = cfg.depth()
        self.view = _view(cfg.starting_balance)
        self.table: EvidenceTable = self.learner.book.table()

    # ------------------------------------------------------------------ steps

    def step(self, cap: Capture) -> list[dict[str, Any]]:
        t = cap.ts
        if cap.settlement is not None:
            self.settle(cap.settlement.event_ticker, cap.settlement.results, t)
        self._maybe_refit(t)
        self.learner.book.prune(t)
        if self.learner.book.version != self.table.version:
            self.table = self.learner.book.table()
        if cap.spot is not None and self.history.add(t, cap.spot):
            self.vol.add_sample(t, cap.spot)
        if cap.spot is None or cap.event_ticker is None or cap.close_ts is None or not cap.markets:
            return []
        return [self._line(cap, s) for s in self.price_and_decide(cap)]

    def settle(self, event: str, results: dict[str, str], now: float) -> int:
        """Score every snapshot kept for ``event``; returns how many were scored."""
        snaps = self.pending.pop(event, [])
        by_capture: dict[float, list[tuple[Snapshot, int]]] = {}
        n = 0
        keep: list[Snapshot] = []
        for s in snaps:
            if s.edge.close_ts is None or s.edge.close_ts > now:
                keep.append(s)  # not closed yet: a result "known" before the close is not used
                continue
            r = results.get(s.edge.ticker)
            if r not in ("yes", "no") or s.edge.prob_yes is None:
                continue
            y = 1 if r == "yes" else 0
            sc = score_snapshot(s.edge, y, self.cfg.gates, reasons=s.edge.reasons,
                                multiplier=s.edge.fee_multiplier)
            self.learner.add_score(sc, event)
            self.pool.extend(self.learner.fit_rows([(s.edge, y)]))
            by_capture.setdefault(s.capture_ts, []).append((s, y))
            if s.decision is not None:
                self._would_be(s, sc.take_pnl)
            n += 1
        if keep:
            self.pending[event] = keep
        for group in by_capture.values():
            self._tally(group)
        return n

    def _maybe_refit(self, now: float) -> None:
        if not self.cfg.refit:
            return
        if self.next_refit is not None and now < self.next_refit:
            return
        mc = self.cfg.model
        self.next_refit = now + mc.refit_every_s
        self.pool = [(tk, r) for tk, r in self.pool if r.ts >= now - mc.fit_window_s]
        done = self.learner.refit(self.pool, now)
        if done is not None:
            params, fit = done
            self.predictor = Predictor(params, self.cfg.signals)
            self.fits.append(fit)

    def index(self, cap: Capture) -> IndexUpdate:
        assert cap.spot is not None
        t = cap.ts
        est = self.vol.estimate(t)
        self.signals_seq += 1
        sig = spot_signals(self.history, t, self.cfg.signals, seq=self.signals_seq)
        return IndexUpdate(ts=t, price=cap.spot, n_sources=1, sources=("coinbase",), stale=False, avg_60s=None,
                           sigma=est.sigma, sigma_source=est.source, sigma_reason=est.reason, signals=sig)

    def _market(self, cap: Capture, m: CapturedMarket) -> MarketInfo:
        assert cap.event_ticker is not None
        return MarketInfo(ticker=m.ticker, event_ticker=cap.event_ticker, series_ticker=cap.series, status="active",
                          strike_type=m.strike_type, floor_strike=m.floor_strike, cap_strike=m.cap_strike,
                          open_ts=cap.open_ts, close_ts=cap.close_ts, fee_type="quadratic", fee_multiplier=ONE,
                          updated_ts=cap.ts)

    def _quote(self, cap: Capture, m: CapturedMarket) -> Quote:
        return Quote(ts=cap.ts, ticker=m.ticker, yes_bid=m.yes_bid, yes_ask=m.yes_ask, no_bid=m.no_bid,
                     no_ask=m.no_ask, yes_bid_size=self.depth, yes_ask_size=self.depth, source="rest", recv_ts=cap.ts)

    def price_and_decide(self, cap: Capture) -> list[Snapshot]:
        cfg, t = self.cfg, cap.ts
        event = cap.event_ticker
        assert event is not None
        index = self.index(cap)
        quoted = [m for m in cap.markets if m.yes_bid is not None or m.yes_ask is not None]
        pairs = [(self._market(cap, m), self._quote(cap, m)) for m in quoted]
        iv = None
        model = self.predictor.model
        if "implied" in model.vol_sources:  # the pricers' shared book, fitted with the model's tails
            book = ImpliedVolBook(cfg.gates, window_s=cfg.pricer.window_s, nu=model.nu)
            for mk, q in pairs:
                book.observe(event, mk.ticker, t, mk.strike_type, mk.floor_strike, mk.cap_strike, q.yes_bid,
                             q.yes_ask, index.price, cap.close_ts)
            fit = book.implied(event, t)
            iv = fit.sigma if fit is not None and not fit.at_bound else None
        edges = [price_market(mk, index, q, t, cfg.pricer, predictor=self.predictor, implied_sigma=iv)
                 for mk, q in pairs]
        if not cfg.decide:
            snaps = [Snapshot(capture_ts=t, event_ticker=event, edge=e, decision=None) for e in edges]
            self.pending.setdefault(event, []).extend(snaps)
            return snaps
        dec_book = ImpliedVolBook(cfg.gates, window_s=cfg.pricer.window_s)  # the decision actor's own
        for e in edges:
            dec_book.update(e)
        dfit = dec_book.implied(event, t)
        dsig = dfit.sigma if dfit is not None else None
        out = []
        for e in edges:
            ev = evaluate(e, now=t, risk=self.view, implied_sigma=dsig, gates=cfg.gates, sizing=cfg.sizing,
                          risk_config=cfg.risk, rounding=cfg.pricer.fee_rounding, evidence=self.table,
                          evidence_config=cfg.evidence)
            d = build_decision(ev, e, now=t, risk=self.view, implied_sigma=dsig)
            snap = Snapshot(capture_ts=t, event_ticker=event, edge=e, decision=d)
            self.pending.setdefault(event, []).append(snap)
            out.append(snap)
        return out

    # ------------------------------------------------------------------ output

    @staticmethod
    def _line(cap: Capture, s: Snapshot) -> dict[str, Any]:
        e, d = s.edge, s.decision
        return {
            "captured_at": cap.captured_at,
            "event_ticker": s.event_ticker,
            "ticker": e.ticker,
            "horizon_s": None if e.horizon_s is None else round(e.horizon_s, 3),
            "p_model": e.prob_model,
            "market_mid": e.market_mid,
            "p_yes": e.prob_yes,
            "action": None if d is None else d.action,
            "side": None if d is None else d.side,
            "price": None if d is None or d.limit_price is None else float(d.limit_price),
            "count": 0.0 if d is None else float(d.count),
            "fee": None if d is None or d.fee is None else float(d.fee),
            "reasons": [] if d is None else list(d.reasons),
        }

    def _tally(self, group: list[tuple[Snapshot, int]]) -> None:
        h = group[0][0].edge.horizon_s or 0.0
        tl = self.tallies.setdefault(horizon_bucket(h), Tally())
        tl.events += 1
        mids = [(s.edge.market_mid or 0.0) for s, _ in group]
        total = sum(mids)
        for (s, y), mid in zip(group, mids, strict=True):
            e = s.edge
            assert e.prob_yes is not None
            tl.brier_final += (e.prob_yes - y) ** 2
            tl.brier_market += (mid - y) ** 2
            tl.brier_market_norm += ((mid / total if total > 0 else 0.0) - y) ** 2
            if e.prob_model is not None:
                tl.brier_model += (e.prob_model - y) ** 2
                tl.n_model += 1
            d = s.decision
            if d is not None and d.action == "TAKE" and d.side is not None and d.limit_price is not None:
                won = (y == 1) == (d.side == "yes")
                fee = d.fee or ZERO
                tl.takes += 1
                tl.wins += won
                tl.contracts += d.count
                tl.fees += fee
                tl.cost += d.count * d.limit_price + fee
                tl.pnl += d.count * ((ONE if won else ZERO) - d.limit_price) - fee

    def _would_be(self, s: Snapshot, take_pnl: float | None) -> None:
        if take_pnl is None:
            return
        tl = self.tallies.setdefault(horizon_bucket(s.edge.horizon_s or 0.0), Tally())
        tl.would_be += 1
        tl.would_be_pnl += take_pnl

    def finish(self) -> None:
        """Events never settled within the captures (the last ones) are counted, not scored."""
        self.unsettled_events = set(self.pending)


def run_walk(captures: Iterable[Capture], base: BlendParams, cfg: WalkConfig | None = None,
             emit: Any = None) -> Walk:
    """Walk ``captures`` (time-ordered); ``emit(line)`` receives every output line."""
    w = Walk(base, cfg)
    for cap in captures:
        for line in w.step(cap):
            if emit is not None:
                emit(line)
    w.finish()
    return w
