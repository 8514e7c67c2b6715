"""The report's arithmetic (kbot.htmlreport.stats): exact drawdown, Wilson intervals that
contain the observed frequency, percentiles, thinning that keeps the points that matter."""

from __future__ import annotations

import math
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from kbot.htmlreport.stats import drawdown, percentiles, thin, wilson

money = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("100000"), places=4, allow_nan=False,
                    allow_infinity=False)  # fmt: skip


def test_drawdown_exact():
    eq = [Decimal(x) for x in ("1000", "1100", "990", "1050", "1200", "1150")]
    dd = drawdown(list(range(6)), eq)
    assert dd.series == tuple(Decimal(x) for x in ("0", "0", "-110", "-50", "0", "-50"))
    assert (dd.max_dd, dd.peak_ts, dd.trough_ts) == (Decimal(-110), 1, 2)
    assert dd.max_dd_frac == -0.1
    flat = drawdown([0, 1], [Decimal(5), Decimal(6)])
    assert (flat.max_dd, flat.trough_ts, flat.max_dd_frac) == (Decimal(0), None, 0.0)


@given(st.lists(money, min_size=1, max_size=200))
def test_drawdown_properties(eq):
    dd = drawdown(list(range(len(eq))), eq)
    assert all(d <= 0 for d in dd.series) and dd.max_dd == min(dd.series)
    assert all(e - d == max(eq[: i + 1]) for i, (e, d) in enumerate(zip(eq, dd.series)))  # exact: Decimal


@given(st.integers(min_value=1, max_value=100_000), st.data())
def test_wilson_contains_the_observed_frequency(n, data):
    k = data.draw(st.integers(min_value=0, max_value=n))
    lo, hi = wilson(k, n)
    assert 0.0 <= lo <= k / n <= hi <= 1.0


def test_wilson_values():
    lo, hi = wilson(50, 100)
    assert math.isclose(lo, 0.4038, abs_tol=1e-4) and math.isclose(hi, 0.5962, abs_tol=1e-4)
    assert wilson(0, 0) == (0.0, 1.0)


def test_percentiles_and_thin():
    assert percentiles([1.0, 2.0, 3.0, 4.0], (50,)) == (2.5,)
    assert all(math.isnan(x) for x in percentiles([], (50, 99)))
    assert thin(5, 10) == [0, 1, 2, 3, 4]
    idx = thin(1_000_000, 100, must=[777_778])
    assert idx[0] == 0 and idx[-1] == 999_999 and 777_778 in idx and len(idx) == 101
