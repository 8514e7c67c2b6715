"""BTC market discovery: which open markets of KXBTC / KXBTCD / KXBTC15M can be priced.

Contract bounds come from ``strike_type`` / ``floor_strike`` / ``cap_strike`` only, never from the
ticker. ``market_problem`` (pure) says why a market cannot be used; discovery skips such markets
and logs the reason once per market and reason.

- KXBTC: ``between`` brackets (floor and cap; edge brackets may be ``less``/``greater``).
- KXBTCD: ``greater`` ladders (floor = X.99), hourly, daily and weekly events mixed in one series.
- KXBTC15M: ``greater_or_equal`` against the 60 s BRTI average before the window start; the
  ``floor_strike`` can be null or provisional in the list and arrive later (``metadata_updated`` on
  the WS, or ``GET /markets/{ticker}``): a market missing its bound is re-read individually (up to
  ``reread_max`` per pass) before it is skipped, and is reported as ``pending`` so the caller
  retries it on the next pass.
- The list can still show a just-closed 15M market for ~30 s after a boundary: markets whose
  ``close_time`` is not in the future are skipped.

Each usable market's ``MarketInfo`` carries the effective fee type and multiplier: the series'
values overridden by its event's ``fee_type_override`` / ``fee_multiplier_override`` when set.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import attrs
from loguru import logger

from kbot.messages import EventInfo, MarketInfo, SeriesInfo
from kbot.venues.kalshi.errors import KalshiApiError, KalshiAuthError
from kbot.venues.kalshi.rest import KalshiRestClient
from kbot.venues.kalshi.rest_parse import effective_fees
from kbot.venues.kalshi.types import ParsedMarket

NEEDS_FLOOR = frozenset({"greater", "greater_or_equal", "between"})
NEEDS_CAP = frozenset({"less", "less_or_equal", "between"})
SUPPORTED_STRIKES = NEEDS_FLOOR | NEEDS_CAP
TRADABLE_STATUSES = frozenset({"active", "inactive"})  # inactive = paused during tradable hours
LATE_BOUND = frozenset({"missing_floor_strike", "missing_cap_strike"})



def market_problem(m: MarketInfo, now: float, *, require_future_close: bool = True) -> str | None:
    """Why ``m`` cannot be priced, or None. Pure. ``require_future_close=False`` trusts the
    venue's ``status`` alone about whether the market is still open (a listing tool)."""
    if m.close_ts is None:
        return "missing_close_time"
    if require_future_close and m.close_ts <= now:
        return "past_close_time"
    if m.status not in TRADABLE_STATUSES:
        return f"status_{m.status}"
    st = m.strike_type
    if st is None:
        return "missing_strike_type"
    if st not in SUPPORTED_STRIKES:
        return f"unsupported_strike_type_{st}"
    if st in NEEDS_FLOOR and m.floor_strike is None:
        return "missing_floor_strike"
    if st in NEEDS_CAP and m.cap_strike is None:
        return "missing_cap_strike"
    for v in (m.floor_strike, m.cap_strike):
        if v is not None and (not math.isfinite(v) or v <= 0):
            return "bad_strike_value"
    if st == "between" and m.floor_strike is not None and m.cap_strike is not None and m.floor_strike > m.cap_strike:
        return "inverted_bounds"
    return None


def with_fees(m: MarketInfo, series: SeriesInfo | None, event: EventInfo | None) -> MarketInfo:
    fee_type, mult = effective_fees(series, event)
    if fee_type == m.fee_type and mult == m.fee_multiplier:
        return m
    return attrs.evolve(m, fee_type=fee_type, fee_multiplier=mult)


@attrs.frozen(kw_only=True)
class Skipped:
    ticker: str
    series_ticker: str
    reason: str


@attrs.frozen(kw_only=True)
class Discovery:
    series: dict[str, SeriesInfo]
    events: dict[str, EventInfo]
    markets: list[ParsedMarket]  # usable, fees applied, sorted by (series, close, floor)
    skipped: list[Skipped]
    pending: list[str]  # skipped only for a bound that may still arrive (15M floor_strike)


class SkipLog:
    """Logs each (ticker, reason) once: discovery runs every few seconds."""

    def __init__(self, max_keys: int = 50_000) -> None:
        self._seen: dict[tuple[str, str], None] = {}
        self._max = max_keys

    def note(self, s: Skipped) -> None:
        key = (s.ticker, s.reason)
        if key in self._seen:
            return
        if len(self._seen) >= self._max:
            self._seen.clear()
        self._seen[key] = None
        logger.bind(feed="kalshi_rest", ticker=s.ticker, reason=s.reason).info("skipping market {}: {}", s.ticker, s.reason)


async def fetch_series(client: KalshiRestClient, tickers: Iterable[str]) -> dict[str, SeriesInfo]:
    """Series reference data (fee type/multiplier). A series the venue does not serve is logged
    and left out (fees then unknown); auth errors propagate."""
    out: dict[str, SeriesInfo] = {}
    for t in tickers:
        try:
            out[t] = await client.get_series(t)
        except KalshiAuthError:
            raise
        except KalshiApiError as e:
            logger.bind(feed="kalshi_rest").warning("series {} unavailable: {}", t, e)
        except ValueError as e:  # WireError: already counted by the client
            logger.bind(feed="kalshi_rest").warning("series {} unreadable: {}", t, e)
    return out


async def fetch_events(client: KalshiRestClient, series: Iterable[str], *, status: str = "open") -> dict[str, EventInfo]:
    out: dict[str, EventInfo] = {}
    for s in series:
        try:
            for info, _ in await client.list_events(series_ticker=s, status=status):
                out[info.event_ticker] = info
        except KalshiAuthError:
            raise
        except KalshiApiError as e:
            logger.bind(feed="kalshi_rest").warning("events of {} unavailable: {}", s, e)
    return out


async def open_markets(
    client: KalshiRestClient,
    series: Sequence[str],
    now: float,
    *,
    reread_max: int = 20,
    series_info: dict[str, SeriesInfo] | None = None,
    events: dict[str, EventInfo] | None = None,
    skip_log: SkipLog | None = None,
    require_future_close: bool = True,
) -> tuple[list[ParsedMarket], list[Skipped], list[str]]:
    """(usable markets with fees applied, skipped markets, pending tickers) for ``series``.

    A market listed under a series whose event (per ``events``) belongs to another series is left
    out, and each ticker is taken once: a server ignoring the ``series_ticker`` filter cannot
    mislabel markets."""
    usable: list[ParsedMarket] = []
    skipped: list[Skipped] = []
    pending: list[str] = []
    seen: set[str] = set()
    budget = reread_max
    for s in series:
        for pm in await client.list_markets(series_ticker=s, status="open"):
            ev = (events or {}).get(pm.info.event_ticker)
            if pm.info.ticker in seen or (ev is not None and ev.series_ticker != s):
                continue
            seen.add(pm.info.ticker)
            problem = market_problem(pm.info, now, require_future_close=require_future_close)
            if problem in LATE_BOUND and budget > 0:
                budget -= 1
                try:
                    pm = await client.get_market(pm.info.ticker, series_ticker=s)
                    problem = market_problem(pm.info, now, require_future_close=require_future_close)
                except KalshiAuthError:
                    raise
                except (KalshiApiError, ValueError) as e:
                    logger.bind(feed="kalshi_rest").debug("re-read of {} failed: {}", pm.info.ticker, e)
            if problem is not None:
                sk = Skipped(ticker=pm.info.ticker, series_ticker=s, reason=problem)
                skipped.append(sk)
                if skip_log is not None:
                    skip_log.note(sk)
                if problem in LATE_BOUND:
                    pending.append(pm.info.ticker)
                continue
            info = with_fees(pm.info, (series_info or {}).get(s), (events or {}).get(pm.info.event_ticker))
            usable.append(ParsedMarket(info=info, quote=pm.quote) if info is not pm.info else pm)
    usable.sort(key=lambda p: (p.info.series_ticker, p.info.close_ts or 0.0, p.info.floor_strike or p.info.cap_strike or 0.0))
    return usable, skipped, pending


async def discover(
    client: KalshiRestClient,
    series: Sequence[str],
    now: float,
    *,
    reread_max: int = 20,
    skip_log: SkipLog | None = None,
    require_future_close: bool = True,
) -> Discovery:
    """Series, events (fee overrides) and usable open markets of ``series`` in one pass."""
    series_info = await fetch_series(client, series)
    events = await fetch_events(client, series)
    markets, skipped, pending = await open_markets(
        client, series, now, reread_max=reread_max, series_info=series_info, events=events, skip_log=skip_log,
        require_future_close=require_future_close,
    )
    return Discovery(series=series_info, events=events, markets=markets, skipped=skipped, pending=pending)
