"""Ticker names (ET in tickers, UTC close times), strikes and the listing schedule."""

from __future__ import annotations

import datetime as dt

import pytest

from kbot.sim import calendar as cal
from kbot.sim.market import ListingPlan


def utc(*a: int) -> float:
    return dt.datetime(*a, tzinfo=dt.UTC).timestamp()


@pytest.mark.parametrize(
    "close,expected",
    [
        (utc(2026, 8, 17, 5, 30), "KXBTC15M-26AUG170130-30"),  # 1:30 AM EDT (reference example)
        (utc(2026, 2, 10, 0, 0), "KXBTC15M-26FEB091900-00"),  # 7 PM EST the day before in UTC terms
        (utc(2026, 9, 11, 14, 0), "KXBTC15M-26SEP111000-00"),
        (utc(2026, 4, 16, 5, 0), "KXBTC15M-26APR160100-00"),
    ],
)
def test_fifteen_minute_tickers(close, expected):
    assert cal.market_ticker(cal.SERIES_15M, close, cal.StrikeSpec("greater_or_equal", None)) == expected
    assert cal.event_ticker(cal.SERIES_15M, close) == expected.rsplit("-", 1)[0]


@pytest.mark.parametrize(
    "close,floor,expected",
    [
        (utc(2026, 8, 23, 21), 86749.99, "KXBTCD-26AUG2317-T86749.99"),
        (utc(2026, 10, 6, 4), 84999.99, "KXBTCD-26OCT0600-T84999.99"),
        (utc(2026, 10, 8, 16), 81999.99, "KXBTCD-26OCT0812-T81999.99"),
    ],
)
def test_hourly_above_tickers(close, floor, expected):
    assert cal.market_ticker(cal.SERIES_HOURLY_ABOVE, close, cal.StrikeSpec("greater", floor)) == expected


def test_range_bracket_tickers_use_midpoint():
    close = utc(2025, 11, 6, 17)  # 12 PM EST
    s = cal.StrikeSpec("between", 101750.0, 101999.99)
    assert cal.market_ticker(cal.SERIES_HOURLY_RANGE, close, s) == "KXBTC-25NOV0612-B101875"


def test_ladder_is_100_apart_around_spot_with_x99_floors():
    strikes = cal.ladder_strikes(95_234.0, 40, 100.0)
    floors = [s.floor for s in strikes]
    assert len(strikes) == 40 and all(s.strike_type == "greater" for s in strikes)
    assert all(round(b - a, 2) == 100.0 for a, b in zip(floors, floors[1:]))
    assert all(f is not None and round((f + 0.01) % 100, 2) == 0 for f in floors)
    assert floors[0] < 95_234 < floors[-1]


def test_brackets_are_adjacent_and_cover_spot():
    strikes = cal.bracket_strikes(95_234.0, 20, 250.0)
    assert all(s.strike_type == "between" for s in strikes)
    for a, b in zip(strikes, strikes[1:]):
        assert round(b.floor - a.cap, 2) == 0.01  # type: ignore[operator]
    assert any(s.floor <= 95_234 <= s.cap for s in strikes)  # type: ignore[operator]


def test_texts_follow_kalshi_rules():
    close = utc(2026, 8, 23, 21)
    t = cal.texts(cal.SERIES_HOURLY_ABOVE, close, cal.StrikeSpec("greater", 86749.99))
    assert t.yes_sub_title == "$86,750 or above"
    assert "simple average of the sixty seconds" in t.rules_primary and "5 PM EDT" in t.rules_primary
    t15 = cal.texts(cal.SERIES_15M, utc(2026, 8, 17, 5, 30), cal.StrikeSpec("greater_or_equal", None))
    assert "before 1:30 AM EDT" in t15.rules_primary and "before 1:15 AM EDT" in t15.rules_primary


def test_listing_plan_cadence():
    plan = ListingPlan(cal.SERIES, m15_ahead=1, hourly_ahead=3, hourly_initialized_s=300.0)
    start = utc(2026, 8, 17, 12)
    ls = list(plan.listings(start, start + 2 * 3600))
    m15 = [x for x in ls if x.series == cal.SERIES_15M]
    assert [x.close_ts - start for x in m15] == [1800.0 + 900.0 * i for i in range(1, 9)]
    assert all(x.open_ts == x.close_ts - 900 and x.created_ts == x.close_ts - 1800 for x in m15)
    for series in (cal.SERIES_HOURLY_ABOVE, cal.SERIES_HOURLY_RANGE):
        hs = [x for x in ls if x.series == series]
        assert [x.close_ts - start for x in hs] == [3 * 3600.0 + 3600.0 * i for i in range(1, 3)]
        assert all(x.open_ts == x.close_ts - 3 * 3600 and x.created_ts == x.open_ts - 300 for x in hs)
    assert [x.created_ts for x in ls] == sorted(x.created_ts for x in ls)
