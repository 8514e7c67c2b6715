r"""Evidence of edge per bucket, and the gate ``no_demonstrated_edge`` (pure).

A *bucket* is series x time-to-close band x price band (``EvidenceConfig``; the price is the
market's YES probability, ``kbot.model.blend.market_prob``), e.g. ``KXBTC|30m-1h|0.30-0.70``.

Evidence comes from scored edge snapshots: every snapshot of a settled market, whatever was
decided on it (so it grows in shadow mode too), adds to its bucket

- the Brier scores of the final probability, the market's probability and the raw model;
- when the snapshot was a *would-be TAKE* (``would_take``: the better side's EV after the fee
  at one contract reaches ``min_ev``, its price is inside ``[min_price, max_price]``, the
  spread is not too wide and the pricer found nothing wrong), that side's realized PnL per
  contract after the taker fee.

Snapshots of one event are not independent (a market is snapshotted every few seconds, and
brackets of one event share one outcome), so the unit of evidence is the *event*: each
bucket keeps one mean per event (of the PnL of its would-be TAKEs, of the Brier advantage of
its snapshots), and the statistics are over those event means:

    mean = (1/n) sum m_e,    sd = sample standard deviation of the m_e,
    lower bound = mean - z * sd / sqrt(n),     z = Phi^-1(confidence)  (1.645 at 95 %)

(a one-sided normal-approximation bound on the mean per-event PnL per contract). The gate
passes a bucket only when ``n >= min_obs`` events with would-be TAKEs have settled and the
lower bound is above 0. With no evidence, with too little, or with a bound at or below zero
the decision is PASS ``no_demonstrated_edge``: kbot says it has no edge instead of trading.
The same rule, on by default, holds in every mode, so shadow shows exactly what live would do.

Walk-forward by construction: a snapshot is scored only after its market settled, and the
evidence a decision sees holds only what was scored before it. ``window_s`` forgets events
older than that (``prune``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from decimal import Decimal

import attrs
from scipy.special import ndtri

from kbot.messages import Edge
from kbot.model.blend import market_prob
from kbot.model.config import EvidenceConfig, GateConfig

REASON = "no_demonstrated_edge"


def _fmt_s(s: float) -> str:
    return f"{s / 3600:g}h" if s >= 3600 and s % 3600 == 0 else f"{s / 60:g}m"


def band_of(x: float, bands: tuple[float, ...]) -> int:
    """The index of the band ``x`` falls in: 0 below the first edge, len(bands) above the last."""
    i = 0
    for b in bands:
        if x < b:
            return i
        i += 1
    return i


def ttc_label(i: int, bands: tuple[float, ...]) -> str:
    lo = bands[i - 1] if i > 0 else 0.0
    if i >= len(bands):
        return f"{_fmt_s(lo)}+"
    return f"{_fmt_s(lo) if lo else '0'}-{_fmt_s(bands[i])}"


def price_label(i: int, bands: tuple[float, ...]) -> str:
    lo = bands[i - 1] if i > 0 else 0.0
    hi = bands[i] if i < len(bands) else 1.0
    return f"{lo:.2f}-{hi:.2f}"


def bucket_key(series: str, ttc_i: int, price_i: int, cfg: EvidenceConfig) -> str:
    return f"{series}|{ttc_label(ttc_i, cfg.ttc_bands_s)}|{price_label(price_i, cfg.price_bands)}"


def bucket_of(series: str, horizon_s: float | None, p_market: float | None, cfg: EvidenceConfig) -> str | None:
    """The bucket key, or None without a horizon or a market price."""
    if horizon_s is None or p_market is None or not math.isfinite(horizon_s) or horizon_s < 0:
        return None
    return bucket_key(series, band_of(horizon_s, cfg.ttc_bands_s), band_of(p_market, cfg.price_bands), cfg)


def edge_bucket(e: Edge, cfg: EvidenceConfig) -> str | None:
    mp = e.market_mid if e.market_mid is not None else market_prob(e.yes_bid, e.yes_ask)
    return bucket_of(e.series_ticker, e.horizon_s, mp, cfg)


def take_side(
    actionable: bool,
    yes_bid: Decimal | None,
    yes_ask: Decimal | None,
    no_ask: Decimal | None,
    ev_yes: float | None,
    ev_no: float | None,
    gates: GateConfig,
) -> tuple[str, Decimal] | None:
    """``(side, price)`` of the would-be TAKE (see ``would_take``) from an edge's fields."""
    if not actionable:
        return None
    if yes_bid is not None and yes_ask is not None and yes_ask - yes_bid > gates.max_spread:
        return None
    best: tuple[float, str, Decimal] | None = None
    for ev, side, price in ((ev_yes, "yes", yes_ask), (ev_no, "no", no_ask)):
        if ev is None or price is None:
            continue
        if best is None or ev > best[0]:
            best = (ev, side, price)
    if best is None or best[0] < gates.min_ev or not gates.min_price <= best[2] <= gates.max_price:
        return None
    return best[1], best[2]


def would_take(e: Edge, gates: GateConfig) -> tuple[str, Decimal] | None:
    """``(side, price)`` of the TAKE the decision would consider on this edge before risk and
    evidence: the better side's EV (after the taker fee, one contract) at least ``min_ev``, the
    price of that side inside ``[min_price, max_price]``, the spread at most ``max_spread`` and
    no reason on the edge. None otherwise."""
    return take_side(not e.reasons and e.prob_yes is not None, e.yes_bid, e.yes_ask, e.no_ask, e.ev_yes, e.ev_no,
                     gates)


@attrs.frozen(kw_only=True)
class BucketStats:
    bucket: str
    n_events: int  # settled events with snapshots in the bucket
    n_snapshots: int
    brier_final: float | None  # mean over event means
    brier_market: float | None
    brier_model: float | None
    advantage: float | None  # Brier of the market minus Brier of the final probability (> 0: better)
    advantage_lcb: float | None
    n_obs: int  # settled events with would-be TAKEs (the gate's observations)
    n_takes: int  # would-be TAKE snapshots
    pnl: float | None  # mean per-event PnL per contract of the would-be TAKEs, after fees
    pnl_sd: float | None
    pnl_lcb: float | None
    tradable: bool


def lower_bound(values: list[float], z: float) -> tuple[float | None, float | None, float | None]:
    """``(mean, sd, mean - z sd / sqrt n)``; the bound is None below two values."""
    n = len(values)
    if n == 0:
        return None, None, None
    mean = math.fsum(values) / n
    if n < 2:
        return mean, None, None
    var = math.fsum((v - mean) ** 2 for v in values) / (n - 1)
    sd = math.sqrt(var)
    return mean, sd, mean - z * sd / math.sqrt(n)


@attrs.define(slots=True)
class _Cluster:
    last_ts: float = 0.0
    n: int = 0
    bf: float = 0.0
    bg: float = 0.0
    ng: int = 0
    bm_adv: float = 0.0  # sum of (market - final) where the market had a price
    bm: float = 0.0
    nm: int = 0
    takes: int = 0
    pnl: float = 0.0


class EvidenceBook:
    """Per bucket, per event: sums of scores and of would-be TAKE PnL. ``table()`` gives the
    frozen view the decision uses."""

    def __init__(self, cfg: EvidenceConfig) -> None:
        self.cfg = cfg
        self.z = float(ndtri(cfg.confidence))
        self._b: dict[str, dict[str, _Cluster]] = {}
        self.version = 0

    def add(
        self,
        bucket: str,
        event: str,
        ts: float,
        *,
        brier_final: float,
        brier_market: float | None = None,
        brier_model: float | None = None,
        take_pnl: float | None = None,
    ) -> None:
        c = self._b.setdefault(bucket, {}).get(event)
        if c is None:
            c = self._b[bucket][event] = _Cluster()
        c.last_ts = max(c.last_ts, ts)
        c.n += 1
        c.bf += brier_final
        if brier_model is not None:
            c.bg += brier_model
            c.ng += 1
        if brier_market is not None:
            c.bm += brier_market
            c.bm_adv += brier_market - brier_final
            c.nm += 1
        if take_pnl is not None:
            c.takes += 1
            c.pnl += take_pnl
        self.version += 1

    def add_cluster(
        self,
        bucket: str,
        event: str,
        *,
        last_ts: float,
        n: int,
        sum_brier: float,
        n_market: int = 0,
        sum_brier_market: float = 0.0,
        sum_brier_paired: float = 0.0,
        n_model: int = 0,
        sum_brier_model: float = 0.0,
        n_takes: int = 0,
        sum_pnl: float = 0.0,
    ) -> None:
        """Add an aggregate of an event's snapshots in a bucket (the record read back at start).
        ``sum_brier_paired``: the final probability's Brier summed over the ``n_market``
        snapshots that had a market price (the advantage compares like with like)."""
        c = self._b.setdefault(bucket, {}).get(event)
        if c is None:
            c = self._b[bucket][event] = _Cluster()
        c.last_ts = max(c.last_ts, last_ts)
        c.n += n
        c.bf += sum_brier
        c.nm += n_market
        c.bm += sum_brier_market
        c.bm_adv += sum_brier_market - sum_brier_paired
        c.ng += n_model
        c.bg += sum_brier_model
        c.takes += n_takes
        c.pnl += sum_pnl
        self.version += 1

    def prune(self, now: float) -> int:
        """Forget events last seen more than ``window_s`` before ``now``; returns how many."""
        cutoff = now - self.cfg.window_s
        dropped = 0
        for bucket in list(self._b):
            clusters = self._b[bucket]
            for ev in [ev for ev, c in clusters.items() if c.last_ts < cutoff]:
                del clusters[ev]
                dropped += 1
            if not clusters:
                del self._b[bucket]
        if dropped:
            self.version += 1
        return dropped

    def stats(self, bucket: str) -> BucketStats:
        clusters = list(self._b.get(bucket, {}).values())

        def mean(xs: list[float]) -> float | None:
            return math.fsum(xs) / len(xs) if xs else None

        bf = [c.bf / c.n for c in clusters if c.n]
        bm = [c.bm / c.nm for c in clusters if c.nm]
        bg = [c.bg / c.ng for c in clusters if c.ng]
        adv, _, adv_lcb = lower_bound([c.bm_adv / c.nm for c in clusters if c.nm], self.z)
        pnls = [c.pnl / c.takes for c in clusters if c.takes]
        pnl, sd, lcb = lower_bound(pnls, self.z)
        tradable = len(pnls) >= self.cfg.min_obs and lcb is not None and lcb > 0.0
        return BucketStats(
            bucket=bucket,
            n_events=len(clusters),
            n_snapshots=sum(c.n for c in clusters),
            brier_final=mean(bf),
            brier_market=mean(bm),
            brier_model=mean(bg),
            advantage=adv,
            advantage_lcb=adv_lcb,
            n_obs=len(pnls),
            n_takes=sum(c.takes for c in clusters),
            pnl=pnl,
            pnl_sd=sd,
            pnl_lcb=lcb,
            tradable=tradable,
        )

    def buckets(self) -> list[str]:
        return sorted(self._b)

    def table(self) -> EvidenceTable:
        return EvidenceTable(stats={b: self.stats(b) for b in self.buckets()}, version=self.version)


@attrs.frozen(kw_only=True)
class EvidenceTable:
    """What the decision reads: bucket -> statistics (immutable; replaced, never mutated)."""

    stats: Mapping[str, BucketStats] = attrs.field(factory=dict)
    version: int = 0

    def tradable(self, bucket: str | None) -> bool:
        if bucket is None:
            return False
        s = self.stats.get(bucket)
        return s is not None and s.tradable

    def rows(self) -> Iterable[BucketStats]:
        return (self.stats[b] for b in sorted(self.stats))


EMPTY = EvidenceTable()


def evidence_gate(e: Edge, table: EvidenceTable, cfg: EvidenceConfig) -> list[str]:
    """``["no_demonstrated_edge"]`` unless the edge's bucket is tradable (gate off: [])."""
    if not cfg.gate:
        return []
    return [] if table.tradable(edge_bucket(e, cfg)) else [REASON]
