"""The simulated venue's market calendar: BTC series, ticker names, strikes and texts (pure).

Follows Kalshi's real conventions (reference notes §7): tickers carry **US Eastern** times,
``close_time`` is UTC.

- ``KXBTC15M``: one market per 15-minute window, closing at :00/:15/:30/:45 ET.
  Event ``KXBTC15M-26AUG170130``, market ``KXBTC15M-26AUG170130-30`` (suffix = close minute).
  ``strike_type`` ``greater_or_equal``; ``floor_strike`` = 60 s average of the index before the
  window start (known only at the start, published late via ``metadata_updated``).
- ``KXBTCD``: hourly "above X" ladders, $100 apart around spot, ``strike_type`` ``greater``
  with ``floor_strike`` = X - 0.01 (``KXBTCD-26AUG2317-T86749.99``).
- ``KXBTC``: hourly range brackets, ``between`` ``floor``..``cap`` = floor + width - 0.01,
  ticker suffix ``B{midpoint}`` (``KXBTC-26MAR2715-B65375`` for 65250..65499.99).
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
from collections.abc import Iterator

import attrs

try:
    from zoneinfo import ZoneInfo

    ET = ZoneInfo("America/New_York")
except Exception as exc:  # pragma: no cover - depends on the host's tz database
    raise RuntimeError(
        "the simulated venue needs the IANA time zone America/New_York "
        "(install the system tz database or `pip install tzdata`)"
    ) from exc

MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")

SERIES_15M = "KXBTC15M"
SERIES_HOURLY_ABOVE = "KXBTCD"
SERIES_HOURLY_RANGE = "KXBTC"
SERIES = (SERIES_15M, SERIES_HOURLY_ABOVE, SERIES_HOURLY_RANGE)

_NS = uuid.UUID("6f1d2a8e-3c4b-4e55-9a57-5b1e0c0ffee5")

RULES_SECONDARY = (
    "The market resolves based on CF Benchmarks' corresponding Real Time Index (RTI). At the last "
    "minute before expiration, 60 RTI prices are collected. The official and final value is the "
    "average of these prices. (Simulated venue: the index is kbot's simulated BRTI.)"
)
SETTLEMENT_SOURCES = [{"name": "CF Benchmarks", "url": "https://www.cfbenchmarks.com/data/indices/BRTI"}]


@attrs.frozen(slots=True)
class SeriesSpec:
    ticker: str
    title: str
    frequency: str
    cadence: str  # product_metadata.cadence
    settlement_timer_s: int
    fee_type: str = "quadratic"
    fee_multiplier: float = 1.0


SERIES_SPECS: dict[str, SeriesSpec] = {
    SERIES_15M: SeriesSpec(SERIES_15M, "BTC price up or down in the next 15 minutes", "fifteen_min", "fifteen_min", 1),
    SERIES_HOURLY_ABOVE: SeriesSpec(SERIES_HOURLY_ABOVE, "Bitcoin price above/below", "hourly", "hourly", 60),
    SERIES_HOURLY_RANGE: SeriesSpec(SERIES_HOURLY_RANGE, "Bitcoin price range", "hourly", "hourly", 60),
}


@attrs.frozen(slots=True)
class StrikeSpec:
    """One market's strike: ``greater``/``greater_or_equal`` use ``floor``; ``between`` both."""

    strike_type: str
    floor: float | None
    cap: float | None = None


def to_et(ts: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts, tz=dt.UTC).astimezone(ET)


def _date_code(d: dt.datetime) -> str:
    return f"{d.year % 100:02d}{MONTHS[d.month - 1]}{d.day:02d}"


def tz_abbrev(d: dt.datetime) -> str:
    return d.tzname() or "ET"


def event_ticker(series: str, close_ts: float) -> str:
    d = to_et(close_ts)
    if series == SERIES_15M:
        return f"{series}-{_date_code(d)}{d.hour:02d}{d.minute:02d}"
    return f"{series}-{_date_code(d)}{d.hour:02d}"


def market_ticker(series: str, close_ts: float, strike: StrikeSpec) -> str:
    ev = event_ticker(series, close_ts)
    if series == SERIES_15M:
        return f"{ev}-{to_et(close_ts).minute:02d}"
    if series == SERIES_HOURLY_ABOVE:
        assert strike.floor is not None
        return f"{ev}-T{strike.floor:.2f}"
    assert strike.floor is not None and strike.cap is not None
    mid = (strike.floor + strike.cap + 0.01) / 2.0
    return f"{ev}-B{_num(mid)}"


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:.2f}".rstrip("0").rstrip(".")


def market_uuid(ticker: str) -> str:
    """A stable UUID per ticker (WS ``market_id``)."""
    return str(uuid.uuid5(_NS, ticker))


def ladder_strikes(spot: float, n: int, spacing: float) -> list[StrikeSpec]:
    """KXBTCD: ``n`` "above X" strikes ``spacing`` apart, centred on spot (floor = X - 0.01)."""
    center = round(spot / spacing) * spacing
    first = center - (n // 2) * spacing
    return [StrikeSpec("greater", round(first + i * spacing - 0.01, 2)) for i in range(n) if first + i * spacing > 0]


def bracket_strikes(spot: float, n: int, width: float) -> list[StrikeSpec]:
    """KXBTC: ``n`` adjacent brackets ``width`` wide covering spot (floor..floor+width-0.01)."""
    base = math.floor(spot / width) * width - (n // 2) * width
    out = []
    for i in range(n):
        lo = base + i * width
        if lo > 0:
            out.append(StrikeSpec("between", round(lo, 2), round(lo + width - 0.01, 2)))
    return out


def quarter_closes(after: float, until: float) -> Iterator[float]:
    """Quarter-hour boundaries ``c`` with ``after < c <= until`` (UTC quarter hours are ET ones)."""
    c = (math.floor(after / 900.0) + 1) * 900.0
    while c <= until:
        yield c
        c += 900.0


def hour_closes(after: float, until: float) -> Iterator[float]:
    c = (math.floor(after / 3600.0) + 1) * 3600.0
    while c <= until:
        yield c
        c += 3600.0


def _money(x: float, dp: int = 2) -> str:
    return f"${x:,.{dp}f}" if dp else f"${x:,.0f}"


def _time_words(d: dt.datetime) -> str:
    hour = d.hour % 12 or 12
    ampm = "AM" if d.hour < 12 else "PM"
    t = f"{hour}:{d.minute:02d} {ampm}" if d.minute else f"{hour} {ampm}"
    return f"{t} {tz_abbrev(d)}"


def _date_words(d: dt.datetime) -> str:
    return f"{d.strftime('%b')} {d.day}, {d.year}"


@attrs.frozen(slots=True)
class MarketTexts:
    title: str
    subtitle: str
    yes_sub_title: str
    no_sub_title: str
    rules_primary: str
    event_title: str
    event_sub_title: str


def texts(series: str, close_ts: float, strike: StrikeSpec) -> MarketTexts:
    d = to_et(close_ts)
    when = f"{_time_words(d)} on {_date_words(d)}"
    if series == SERIES_15M:
        start = to_et(close_ts - 900)
        target = "the target price" if strike.floor is None else _money(strike.floor)
        rules = (
            f"If the simple average of the sixty seconds of CF Benchmarks' BRTI before {_time_words(d)} on "
            f"{_date_words(d)} is at least the simple average of the sixty seconds of CF Benchmarks' BRTI before "
            f"{_time_words(start)} on {_date_words(start)}, then the market resolves to Yes."
        )
        sub = f"Target Price: {target}"
        return MarketTexts(
            title="BTC price up in next 15 mins?",
            subtitle=sub,
            yes_sub_title=sub,
            no_sub_title=sub,
            rules_primary=rules,
            event_title="BTC price up in next 15 mins?",
            event_sub_title=f"{_time_words(start)} - {_time_words(d)}",
        )
    if series == SERIES_HOURLY_ABOVE:
        assert strike.floor is not None
        x = strike.floor + 0.01
        label = f"{_money(x, 0)} or above"
        rules = (
            f"If the simple average of the sixty seconds of CF Benchmarks' Bitcoin Real-Time Index (BRTI) before "
            f"{_time_words(d)} is above {strike.floor:.2f} at {when}, then the market resolves to Yes."
        )
        return MarketTexts(
            title=f"Bitcoin price on {_date_words(d)}?",
            subtitle=label,
            yes_sub_title=label,
            no_sub_title=label,
            rules_primary=rules,
            event_title=f"Bitcoin price on {_date_words(d)}?",
            event_sub_title=f"At {when}",
        )
    assert strike.floor is not None and strike.cap is not None
    label = f"{_money(strike.floor, 0)} to {strike.cap:,.2f}"
    rules = (
        f"If the simple average of the sixty seconds of CF Benchmarks' Bitcoin Real-Time Index (BRTI) before "
        f"{_time_words(d)} is between {_num(strike.floor)}-{strike.cap:.2f} at {when}, then the market resolves to Yes."
    )
    return MarketTexts(
        title=f"Bitcoin price range on {_date_words(d)}?",
        subtitle=label,
        yes_sub_title=label,
        no_sub_title=label,
        rules_primary=rules,
        event_title=f"Bitcoin price range on {_date_words(d)}?",
        event_sub_title=f"At {when}",
    )


def fifteen_min_sub_title(floor: float) -> str:
    return f"Target Price: {_money(floor)}"
