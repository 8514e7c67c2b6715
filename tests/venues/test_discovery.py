"""BTC market discovery: bounds from strike_type/floor/cap only, skip reasons, late 15M strikes
re-read from GET /markets/{ticker}, effective fees from series and event overrides."""

from __future__ import annotations

from decimal import Decimal

import attrs
import pytest
from kfakes import FakeRest, event, market, series, start_rest

from kbot.messages import EventInfo, MarketInfo, SeriesInfo
from kbot.venues.backoff import BackoffPolicy
from kbot.venues.config import KalshiRestConfig
from kbot.venues.kalshi import discovery
from kbot.venues.kalshi.rest import KalshiRestClient

NOW = 1_787_000_000.0
FAST = KalshiRestConfig(tier="prestige", backoff_5xx=BackoffPolicy(initial_s=0.001, max_s=0.01))


def info(**kw) -> MarketInfo:
    base = dict(ticker="T", event_ticker="E", series_ticker="KXBTCD", status="active", strike_type="greater",
                floor_strike=86749.99, close_ts=NOW + 3600, updated_ts=NOW)
    base.update(kw)
    return MarketInfo(**base)


@pytest.mark.parametrize(
    "kw,reason",
    [
        ({}, None),
        ({"strike_type": "between", "floor_strike": 72000.0, "cap_strike": 72499.99}, None),
        ({"strike_type": "less", "floor_strike": None, "cap_strike": 70000.0}, None),
        ({"strike_type": "greater_or_equal", "floor_strike": None}, "missing_floor_strike"),
        ({"strike_type": "between", "cap_strike": None}, "missing_cap_strike"),
        ({"strike_type": "between", "floor_strike": 5.0, "cap_strike": 4.0}, "inverted_bounds"),
        ({"strike_type": None}, "missing_strike_type"),
        ({"strike_type": "structured"}, "unsupported_strike_type_structured"),
        ({"close_ts": None}, "missing_close_time"),
        ({"close_ts": NOW}, "past_close_time"),
        ({"status": "closed"}, "status_closed"),
        ({"status": "inactive"}, None),
        ({"floor_strike": float("nan")}, "bad_strike_value"),
    ],
)
def test_market_problem(kw, reason):
    assert discovery.market_problem(info(**kw), NOW) == reason


def test_bounds_never_come_from_the_ticker():
    m = info(ticker="KXBTCD-26AUG2317-T86749.99", floor_strike=None)
    assert discovery.market_problem(m, NOW) == "missing_floor_strike"


def test_effective_fees():
    s = SeriesInfo(ticker="KXBTCD", fee_type="quadratic", fee_multiplier=Decimal(1))
    e = EventInfo(event_ticker="E", series_ticker="KXBTCD", fee_multiplier_override=Decimal("0.5"))
    m = discovery.with_fees(info(), s, e)
    assert (m.fee_type, m.fee_multiplier) == ("quadratic", Decimal("0.5"))
    assert discovery.with_fees(info(), s, None).fee_multiplier == Decimal(1)
    e2 = attrs.evolve(e, fee_type_override="flat", fee_multiplier_override=None)
    assert discovery.with_fees(info(), s, e2).fee_type == "flat"


async def test_discover_against_fake(nursery, creds):
    fake = FakeRest(creds.private_key.public_key(), page_size=100)
    late = market("KXBTC15M-26AUG171330-30", "KXBTC15M-26AUG171330", strike_type="greater_or_equal", floor=None)
    fake.markets = [
        market("KXBTCD-26AUG2317-T86749.99", "KXBTCD-26AUG2317"),
        market("KXBTCD-26AUG2317-T86999.99", "KXBTCD-26AUG2317", floor=None),
        market("KXBTC-26AUG2317-B86875", "KXBTC-26AUG2317", strike_type="between", floor=86750, cap=86999.99),
        market("KXBTC15M-26AUG171315-15", "KXBTC15M-26AUG171315", strike_type="greater_or_equal", floor=63000.0, close="2020-01-01T00:00:00Z"),
        late,
    ]
    fake.series = {"KXBTCD": series("KXBTCD"), "KXBTC15M": series("KXBTC15M", fee_multiplier=2)}  # KXBTC series missing: 404
    fake.events = [event("KXBTCD-26AUG2317", "KXBTCD", fee_type_override="quadratic_with_maker_fees", fee_multiplier_override=0.25)]
    url = await start_rest(nursery, fake)
    listing_has_null = True

    def fill_strike_on_detail(request):
        nonlocal listing_has_null
        if request.url.path.endswith("/markets/KXBTC15M-26AUG171330-30"):
            late["floor_strike"] = 63485.16  # the detail GET has the strike the list lacked

    fake.on_request = fill_strike_on_detail
    async with KalshiRestClient(url, creds, cfg=FAST) as c:
        d = await discovery.discover(c, ["KXBTC", "KXBTCD", "KXBTC15M"], NOW)
    got = {pm.info.ticker: pm.info for pm in d.markets}
    assert set(got) == {"KXBTCD-26AUG2317-T86749.99", "KXBTC-26AUG2317-B86875", "KXBTC15M-26AUG171330-30"}
    assert got["KXBTC15M-26AUG171330-30"].floor_strike == 63485.16
    assert (got["KXBTC15M-26AUG171330-30"].fee_type, got["KXBTC15M-26AUG171330-30"].fee_multiplier) == ("quadratic", Decimal(2))
    assert (got["KXBTCD-26AUG2317-T86749.99"].fee_type, got["KXBTCD-26AUG2317-T86749.99"].fee_multiplier) == ("quadratic_with_maker_fees", Decimal("0.25"))
    assert got["KXBTC-26AUG2317-B86875"].fee_type is None  # series unavailable: fees unknown, market still listed
    assert {(s.ticker, s.reason) for s in d.skipped} == {
        ("KXBTCD-26AUG2317-T86999.99", "missing_floor_strike"),
        ("KXBTC15M-26AUG171315-15", "past_close_time"),
    }
    assert d.pending == ["KXBTCD-26AUG2317-T86999.99"]
    assert all(ok for *_, ok in fake.log)


async def test_server_ignoring_series_filter_cannot_mislabel(nursery, creds):
    fake = FakeRest(creds.private_key.public_key(), page_size=100)
    fake.markets = [
        market("KXBTCD-26AUG2317-T86749.99", "KXBTCD-26AUG2317"),
        market("KXBTC-26AUG2317-B86875", "KXBTC-26AUG2317", strike_type="between", floor=86750, cap=86999.99),
    ]
    fake.events = [event("KXBTCD-26AUG2317", "KXBTCD"), event("KXBTC-26AUG2317", "KXBTC")]
    plain_filter = fake._filter
    fake._filter = lambda q: plain_filter({k: v for k, v in q.items() if k != "series_ticker"})  # a sloppy server
    url = await start_rest(nursery, fake)
    async with KalshiRestClient(url, creds, cfg=FAST) as c:
        d = await discovery.discover(c, ["KXBTC", "KXBTCD"], NOW)
    assert {(pm.info.ticker, pm.info.series_ticker) for pm in d.markets} == {
        ("KXBTCD-26AUG2317-T86749.99", "KXBTCD"), ("KXBTC-26AUG2317-B86875", "KXBTC")}
