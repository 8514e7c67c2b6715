"""Implied volatility: recovers the sigma that generated the mids, for a ladder and for a
single 15-minute market; the per-event book and its filters."""

from __future__ import annotations

from decimal import Decimal as D

import numpy as np
import pytest

from kbot.model import prob_yes_ladder
from kbot.model.config import GateConfig
from kbot.model.implied import ImpliedVolBook, fit_implied_sigma
from kbot.model.prob import ladder_bounds
from tests.model.factories import T0, edge


def test_recovers_sigma_from_a_ladder():
    floors = [79_000.0 + 250 * i for i in range(9)]
    mids = prob_yes_ladder("greater", floors, [None] * 9, 80_000.0, 0.45, 3 * 3600)
    lo, hi, _ = ladder_bounds(["greater"] * 9, floors, [None] * 9)
    fit = fit_implied_sigma(lo, hi, mids, np.ones(9), 80_000.0, 3 * 3600)
    assert fit.sigma == pytest.approx(0.45, rel=1e-3) and fit.rmse < 1e-5 and not fit.at_bound


def test_one_market_determines_sigma():
    p = prob_yes_ladder("greater_or_equal", [80_300.0], [None], 80_000.0, 0.8, 600.0)
    lo, hi, _ = ladder_bounds(["greater_or_equal"], [80_300.0], [None])
    assert fit_implied_sigma(lo, hi, p, np.ones(1), 80_000.0, 600.0).sigma == pytest.approx(0.8, rel=1e-3)


def test_at_bound_and_invalid():
    lo, hi, _ = ladder_bounds(["greater"], [80_000.0], [None])
    fit = fit_implied_sigma(lo, hi, np.array([0.1]), np.ones(1), 90_000.0, 60.0 * 10)
    assert fit.at_bound
    assert fit_implied_sigma(lo, hi, np.array([]), np.ones(0), 80_000.0, 600.0) is None
    assert fit_implied_sigma(lo, hi, np.array([0.5]), np.ones(1), 80_000.0, 30.0) is None  # inside the window


def ladder_edges(sigma: float, spread: str = "0.02"):
    floors = [79_000.0 + 250 * i for i in range(9)]
    probs = prob_yes_ladder("greater", floors, [None] * 9, 80_000.0, sigma, 3600.0)
    out = []
    for f, p in zip(floors, probs, strict=True):
        mid = D(str(round(float(p), 4)))
        half = D(spread) / 2
        e = edge(floor_strike=f, ticker=f"EV-T{f}", spot=80_000.0, prob=float(p))
        out.append(
            e.__class__(
                **{
                    **{a: getattr(e, a) for a in e.__slots__ if not a.startswith("__")},
                    "yes_bid": mid - half,
                    "yes_ask": mid + half,
                    "event_ticker": "EV",
                }
            )
        )
    return out


def test_book_fits_filters_and_caches():
    cfg = GateConfig(implied_refresh_s=5.0, implied_min_mid=0.05)
    book = ImpliedVolBook(cfg)
    for e in ladder_edges(0.6):
        book.update(e)
    fit = book.implied("EV", T0)
    assert fit is not None and fit.sigma == pytest.approx(0.6, rel=0.02)
    assert fit.n < 9  # deep in/out of the money mids are left out
    # cached until the refresh interval
    assert book.implied("EV", T0 + 1) is fit
    # wide spreads are not informative
    wide = ImpliedVolBook(cfg)
    for e in ladder_edges(0.6, spread="0.20"):
        wide.update(e)
    assert wide.implied("EV", T0) is None
    # old points age out
    assert book.implied("EV", T0 + 100) is None
    book.prune(T0 + 10_000)
    assert book.implied("missing", T0) is None


def _at(e, ts):
    import attrs

    return attrs.evolve(e, ts=ts)


def test_period_start_fit_uses_the_points_before_the_period_whatever_their_arrival_order():
    """The decision's book: the fit of a period is taken as of its start, from each market's
    newest point before it, so the order edges reached the book in (how the actor's inbox
    batched them) cannot change it, and points of the period itself wait for the next one."""
    from kbot.model.implied import PeriodStartImpliedBook

    cfg = GateConfig(implied_refresh_s=5.0, implied_min_mid=0.05)
    start = (T0 // 5.0 + 1) * 5.0  # a period start after T0
    before = [_at(e, start - 1.0 + 0.01 * i) for i, e in enumerate(ladder_edges(0.6))]
    within = [_at(e, start + 0.5) for e in ladder_edges(0.9)]
    fits = []
    for order in (before + within, within[::-1] + before[::-1], before[::2] + within + before[1::2]):
        book = PeriodStartImpliedBook(cfg)
        got = None
        for e in order:
            book.update(e)
            if got is None and e.ts >= start:
                got = book.implied("EV", e.ts)  # the first edge of the period asks
        fits.append(book.implied("EV", start + 1.0))
    assert fits[0] is not None and fits[0].sigma == pytest.approx(0.6, rel=0.02)
    assert all(f == fits[0] for f in fits)  # byte for byte the same fit
    # the next period's fit has the points of this one
    book = PeriodStartImpliedBook(cfg)
    for e in before + within:
        book.update(e)
    assert book.implied("EV", start + 5.0).sigma == pytest.approx(0.9, rel=0.02)
    assert book.implied("EV", start - 2.0) is None  # nothing before the previous period


def test_period_start_fit_redone_when_a_point_of_before_arrives_late():
    from kbot.model.implied import PeriodStartImpliedBook

    cfg = GateConfig(implied_refresh_s=5.0, implied_min_mid=0.05)
    start = (T0 // 5.0 + 1) * 5.0
    edges = [_at(e, start - 1.0) for e in ladder_edges(0.6)]
    book = PeriodStartImpliedBook(cfg)
    book.update(edges[4])  # the market at the money
    first = book.implied("EV", start + 0.1)
    assert first is not None and first.n == 1
    for e in edges[:4] + edges[5:]:
        book.update(e)  # priced before the period, delivered after its fit was taken: the fit is dropped
    assert book.late == 1
    again = book.implied("EV", start + 0.2)
    assert again is not None and again.n > 1 and again.sigma == pytest.approx(0.6, rel=0.02)
    book.prune(start + 10_000)
    assert book._hist == {} and book.implied("EV", start + 10_000) is None
