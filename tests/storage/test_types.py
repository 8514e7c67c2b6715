"""Money storage is exact: every decimal with at most 6 dp and |x| < 1e9 survives SQLite's
double storage; out-of-range and non-finite values are refused, never silently rounded."""

from __future__ import annotations

import sqlite3
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from storage.types import (
    MoneyRangeError,
    join_codes,
    money_from_sqlite,
    money_to_exact,
    money_to_sqlite,
    split_codes,
)

money = st.decimals(min_value=Decimal("-999999999.999999"), max_value=Decimal("999999999.999999"), places=6)


@given(money)
def test_sqlite_double_round_trip_is_exact(d):
    assert money_from_sqlite(money_to_sqlite(d)) == d


@given(st.lists(money, min_size=1, max_size=50))
def test_round_trip_through_a_real_column(values):
    con = sqlite3.connect(":memory:")
    con.execute("CREATE TABLE t (i INTEGER, v NUMERIC(24, 6))")  # the affinity SQLAlchemy gives Money
    con.executemany("INSERT INTO t VALUES (?, ?)", [(i, money_to_sqlite(v)) for i, v in enumerate(values)])
    got = [money_from_sqlite(v) for (v,) in con.execute("SELECT v FROM t ORDER BY i")]
    assert got == values


def test_more_than_six_places_read_back_rounded_to_micro_dollars():
    avg = Decimal(45) / Decimal(7)  # 6.428571428571...
    assert money_from_sqlite(money_to_sqlite(avg)) == Decimal("6.428571")
    assert money_to_exact(avg) == Decimal("6.428571")


@pytest.mark.parametrize("bad", [Decimal("1e9"), Decimal("-1e10"), Decimal("NaN"), Decimal("Infinity")])
def test_values_sqlite_cannot_hold_exactly_are_refused(bad):
    with pytest.raises(MoneyRangeError):
        money_to_sqlite(bad)


def test_exact_conversion():
    assert money_to_exact(Decimal("0.45")) == Decimal("0.450000")
    assert money_to_exact(3) == Decimal("3.000000")
    assert money_to_exact(0.1) == Decimal("0.100000")  # a float's shortest repr, not its binary expansion
    assert money_to_exact(None) is None and money_to_sqlite(None) is None
    with pytest.raises(MoneyRangeError):
        money_to_exact(Decimal("NaN"))


def test_code_lists():
    assert join_codes(("a", "b_c")) == "a,b_c" and split_codes("a,b_c") == ("a", "b_c")
    assert join_codes(()) == "" and split_codes("") == () and split_codes(None) == ()
    with pytest.raises(ValueError):
        join_codes(("a,b",))
