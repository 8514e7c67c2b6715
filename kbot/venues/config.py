"""Configuration of the venue clients and feeds (frozen attrs, constructible from TOML values).

Precedence for Kalshi endpoints and keys: environment > config file > defaults by ``--venue``
(the lead's CLI flags sit above all of these). Environment variables:

- ``KALSHI_REST_URL``, ``KALSHI_WS_URL``: base URLs (e.g. a stand-in server or a proxy).
- ``KALSHI_API_KEY_ID``, ``KALSHI_PRIVATE_KEY_PATH``: the API key id and its PEM file.
- ``KBOT_ALLOW_INSECURE_KEY=1``: accept a key file readable by group/others.

Nested sections accept plain dicts (``KalshiConfig(rest={"tier": "advanced"})``), Decimal-free.
Time intervals named ``*_s`` are seconds. Network timeouts (connect, silence, ping, retry backoff,
the REST quote-polling fallback) run on Trio's clock (real seconds); market cadences of the REST
feed (discovery, settlement sweeps) run on the kbot ``Clock`` so they keep pace with a sped-up
simulated venue, with a real-time floor (see ``KalshiRestFeedConfig``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, TypeVar

import attrs

from kbot.venues.backoff import BackoffPolicy
from kbot.venues.kalshi.auth import ENV_KEY_ID, ENV_KEY_PATH, Credentials, CredentialsError
from kbot.venues.ratelimit import TIERS

ENV_REST_URL = "KALSHI_REST_URL"
ENV_WS_URL = "KALSHI_WS_URL"
ENV_ALLOW_INSECURE = "KBOT_ALLOW_INSECURE_KEY"

VENUES = ("prod", "demo", "sim")

# Kalshi's recommended hosts (changelog May 7 2026); the older shared hosts still work.
PROD_REST_URL = "https://external-api.kalshi.com/trade-api/v2"
PROD_WS_URL = "wss://external-api-ws.kalshi.com/trade-api/ws/v2"
DEMO_REST_URL = "https://external-api.demo.kalshi.co/trade-api/v2"
DEMO_WS_URL = "wss://external-api-ws.demo.kalshi.co/trade-api/ws/v2"

BTC_SERIES = ("KXBTC", "KXBTCD", "KXBTC15M")

T = TypeVar("T")


def _table(cls: type[T], v: T | Mapping[str, Any], **defaults: Any) -> T:
    """A nested section from either its class or a TOML table (``defaults`` fill unset keys)."""
    if isinstance(v, cls):
        return v
    if isinstance(v, Mapping):
        return cls(**{**defaults, **v})
    raise TypeError(f"expected a table for {cls.__name__}, got {type(v).__name__}")


# One named converter per section type: mypy's attrs plugin types ``__init__`` from a named
# converter's argument, and cannot see through a converter built by a factory.
def _backoff(v: BackoffPolicy | Mapping[str, Any]) -> BackoffPolicy:
    return _table(BackoffPolicy, v)


def _link(v: WsLinkConfig | Mapping[str, Any]) -> WsLinkConfig:
    return _table(WsLinkConfig, v)


def _rest(v: KalshiRestConfig | Mapping[str, Any]) -> KalshiRestConfig:
    return _table(KalshiRestConfig, v)


def _ws(v: KalshiWsConfig | Mapping[str, Any]) -> KalshiWsConfig:
    return _table(KalshiWsConfig, v)


def _rest_feed(v: KalshiRestFeedConfig | Mapping[str, Any]) -> KalshiRestFeedConfig:
    return _table(KalshiRestFeedConfig, v)


def _kalshi(v: KalshiConfig | Mapping[str, Any]) -> KalshiConfig:
    return _table(KalshiConfig, v)


def _spot(v: SpotFeedsConfig | Mapping[str, Any]) -> SpotFeedsConfig:
    return _table(SpotFeedsConfig, v)


def _coinbase(v: SpotFeedConfig | Mapping[str, Any]) -> SpotFeedConfig:
    return _table(SpotFeedConfig, v, exchange="coinbase")


def _binance(v: SpotFeedConfig | Mapping[str, Any]) -> SpotFeedConfig:
    return _table(SpotFeedConfig, v, exchange="binance", link={"max_age_s": 23.5 * 3600})


def _kraken(v: SpotFeedConfig | Mapping[str, Any]) -> SpotFeedConfig:
    return _table(SpotFeedConfig, v, exchange="kraken")


def _tuple_of_str(v: Any) -> tuple[str, ...]:
    if isinstance(v, str):
        v = [s for s in (p.strip() for p in v.split(",")) if s]
    return tuple(str(s) for s in v)


def _pos(_inst: object, attr: attrs.Attribute[Any], value: float) -> None:
    """``> 0`` for int and float fields alike (``attrs.validators.gt(0)`` types as int-only)."""
    if not value > 0:
        raise ValueError(f"'{attr.name}' must be > 0: {value!r}")


def _nonneg(_inst: object, attr: attrs.Attribute[Any], value: float) -> None:
    if not value >= 0:
        raise ValueError(f"'{attr.name}' must be >= 0: {value!r}")


@attrs.frozen(kw_only=True)
class KalshiEndpoints:
    rest_url: str  # ".../trade-api/v2"
    ws_url: str  # ".../trade-api/ws/v2"


def default_endpoints(venue: str) -> KalshiEndpoints | None:
    """Kalshi's hosts for ``prod``/``demo``; ``None`` for ``sim`` (the sim says where it is)."""
    if venue == "prod":
        return KalshiEndpoints(rest_url=PROD_REST_URL, ws_url=PROD_WS_URL)
    if venue == "demo":
        return KalshiEndpoints(rest_url=DEMO_REST_URL, ws_url=DEMO_WS_URL)
    if venue == "sim":
        return None
    raise ValueError(f"unknown venue {venue!r}; one of {', '.join(VENUES)}")


@attrs.frozen(kw_only=True)
class WsLinkConfig:
    """One WebSocket connection's plumbing (see ``kbot.venues.wslink``)."""

    connect_timeout_s: float = attrs.field(default=10.0, validator=_pos)  # TCP+TLS+upgrade
    silence_s: float = attrs.field(default=20.0, validator=_pos)  # no frame this long -> ping probe
    ping_timeout_s: float = attrs.field(default=10.0, validator=_pos)  # probe unanswered -> reconnect
    queue_frames: int = attrs.field(default=20_000, validator=_pos)  # our frame queue (socket -> parser)
    # trio-websocket's own queue between its reader task and get_message(); we drain it at once
    # into ``queue_frames``, so it only absorbs scheduling jitter. When it is full trio-websocket
    # stops reading the socket and stops answering pings.
    ws_message_queue: int = attrs.field(default=256, validator=_pos)
    max_message_bytes: int = attrs.field(default=16 * 1024 * 1024, validator=_pos)  # larger closes 1009
    drain_batch: int = attrs.field(default=1000, validator=_pos)  # frames handed on per scheduler pass
    max_age_s: float | None = None  # reconnect proactively after this long (Binance: 24 h limit)
    stable_after_s: float = attrs.field(default=60.0, validator=_pos)  # connected this long resets backoff


@attrs.frozen(kw_only=True)
class KalshiRestConfig:
    """The REST client: timeouts, rate-limit budget, retries."""

    timeout_s: float = attrs.field(default=10.0, validator=_pos)  # per request (read/write/pool)
    connect_timeout_s: float = attrs.field(default=5.0, validator=_pos)
    tier: str = attrs.field(default="basic", validator=attrs.validators.in_(tuple(TIERS)))  # account tier
    rate_fraction: float = attrs.field(default=0.8, validator=[_pos, attrs.validators.le(1)])  # of tier budget
    max_retries_429: int = attrs.field(default=8, validator=_nonneg)  # 429 retries before giving up
    max_retries_5xx: int = attrs.field(default=4, validator=_nonneg)  # 5xx/transport retries
    backoff_429: BackoffPolicy = attrs.field(
        default=BackoffPolicy(initial_s=0.5, max_s=30.0), converter=_backoff
    )
    backoff_5xx: BackoffPolicy = attrs.field(
        default=BackoffPolicy(initial_s=0.25, max_s=10.0), converter=_backoff
    )
    page_limit: int = attrs.field(default=1000, validator=[_pos, attrs.validators.le(1000)])  # /markets page size
    max_pages: int = attrs.field(default=100, validator=_pos)  # pagination guard


@attrs.frozen(kw_only=True)
class KalshiWsConfig:
    """The Kalshi WebSocket client and feed."""

    ticker: bool = True  # ticker channel -> Quote(source="ticker")
    orderbook: bool = True  # orderbook_delta -> local books -> Quote(source="book")
    trades: bool = True  # trade channel -> Trade
    lifecycle: bool = True  # market_lifecycle_v2 (+ event_lifecycle, event_fee_update)
    fills: bool = False  # fill channel (live mode)
    user_orders: bool = False  # user_orders channel (live mode)
    market_positions: bool = False  # market_positions channel (live mode)
    cfbenchmarks: bool = True  # cfbenchmarks_value (BRTI + 60 s averages); ignored when not entitled
    cfbenchmarks_index: str = "BRTI"
    # Pinned explicitly: Kalshi will flip the default to true and then remove the flag. With true,
    # NO-side levels arrive in YES-leg prices; the book converts either form to NO-leg prices.
    use_yes_price: bool = True
    book_depth: int = attrs.field(default=10, validator=_pos)  # ask levels per side carried on Quote
    book_snapshot_s: float = attrs.field(default=60.0, validator=_pos)  # BookSnapshot per market (record)
    resync_timeout_s: float = attrs.field(default=10.0, validator=_pos)  # snapshot after gap -> resubscribe
    tick_s: float = attrs.field(default=1.0, validator=_pos)  # housekeeping cadence (real seconds)
    # real seconds without any frame while markets are watched -> reconnect, even though pings are
    # answered (a server that keeps the socket but stopped streaming); BTC markets are never this quiet
    max_quiet_s: float = attrs.field(default=120.0, validator=_pos)
    # created/lifecycle events of markets not (yet) watched pass when the ticker starts with one of
    # these (series + "-"); a noise filter only, the registry confirms by REST
    lifecycle_series: tuple[str, ...] = attrs.field(default=BTC_SERIES, converter=_tuple_of_str)
    link: WsLinkConfig = attrs.field(factory=WsLinkConfig, converter=_link)
    backoff: BackoffPolicy = attrs.field(
        default=BackoffPolicy(initial_s=0.5, max_s=30.0), converter=_backoff
    )


@attrs.frozen(kw_only=True)
class KalshiRestFeedConfig:
    """The REST feed actor: discovery, quote-polling fallback, settlement sweep.

    Market cadences (``discovery_s``, ``series_refresh_s``, ``full_refresh_s``, ``settlement_s``)
    are kbot-clock seconds, so they keep pace with a sped-up simulated venue, but never run more
    often than every ``min_period_real_s`` real seconds (the rate limits are real time). The
    fallback (``poll_s``, ``ws_stale_s``) is about the network and is in real seconds."""

    series: tuple[str, ...] = attrs.field(default=BTC_SERIES, converter=_tuple_of_str)
    discovery_s: float = attrs.field(default=30.0, validator=_pos)  # list open markets per series
    series_refresh_s: float = attrs.field(default=600.0, validator=_pos)  # series fee fields
    full_refresh_s: float = attrs.field(default=300.0, validator=_pos)  # re-send every MarketInfo
    settlement_s: float = attrs.field(default=30.0, validator=_pos)  # settlement sweep cadence
    settlement_lookback_s: float = attrs.field(default=6 * 3600.0, validator=_pos)  # kbot-clock seconds
    min_period_real_s: float = attrs.field(default=1.0, validator=_pos)  # floor for the cadences above
    poll_s: float = attrs.field(default=2.0, validator=_pos)  # real s: quote polling while the WS is down
    ws_stale_s: float = attrs.field(default=10.0, validator=_pos)  # real s: WS quiet this long counts as down
    reread_max: int = attrs.field(default=20, validator=_nonneg)  # GET /markets/{t} per cycle for late strikes


@attrs.frozen(kw_only=True)
class KalshiConfig:
    venue: str = attrs.field(default="prod", validator=attrs.validators.in_(VENUES))
    rest_url: str | None = None  # overrides the venue default (env KALSHI_REST_URL wins)
    ws_url: str | None = None  # overrides the venue default (env KALSHI_WS_URL wins)
    key_id: str | None = None  # env KALSHI_API_KEY_ID wins
    private_key_path: str | None = None  # env KALSHI_PRIVATE_KEY_PATH wins
    allow_insecure_key: bool = False  # accept a key file readable by group/others
    rest: KalshiRestConfig = attrs.field(factory=KalshiRestConfig, converter=_rest)
    ws: KalshiWsConfig = attrs.field(factory=KalshiWsConfig, converter=_ws)
    rest_feed: KalshiRestFeedConfig = attrs.field(
        factory=KalshiRestFeedConfig, converter=_rest_feed
    )

    def endpoints(self, environ: Mapping[str, str] | None = None) -> KalshiEndpoints:
        """Effective URLs: env > config > venue default. ``sim`` needs the sim's URLs given
        (``rest_url``/``ws_url``, or use ``with_endpoints`` from ``SimEndpoints``)."""
        env = os.environ if environ is None else environ
        default = default_endpoints(self.venue)
        rest = env.get(ENV_REST_URL) or self.rest_url or (default.rest_url if default else None)
        ws = env.get(ENV_WS_URL) or self.ws_url or (default.ws_url if default else None)
        if not rest or not ws:
            missing = ENV_REST_URL if not rest else ENV_WS_URL
            raise ValueError(f"venue {self.venue!r} has no default URL: set {missing} or kalshi.rest_url/ws_url")
        return KalshiEndpoints(rest_url=rest.rstrip("/"), ws_url=ws.rstrip("/"))

    def credentials(self, environ: Mapping[str, str] | None = None, *, required: bool) -> Credentials | None:
        """Load the API key (env > config). ``required=False`` returns ``None`` when neither a key
        id nor a key path is configured; anything half-configured, missing or unreadable raises
        ``CredentialsError`` naming the variable to set."""
        env = os.environ if environ is None else environ
        key_id = env.get(ENV_KEY_ID) or self.key_id
        key_path = env.get(ENV_KEY_PATH) or self.private_key_path
        if not required and not key_id and not key_path:
            return None
        allow = self.allow_insecure_key or env.get(ENV_ALLOW_INSECURE, "").lower() in ("1", "true", "yes")
        return Credentials.from_files(key_id, key_path, allow_insecure=allow)


SPOT_EXCHANGES = ("coinbase", "binance", "kraken", "binance_usdm")

_SPOT_DEFAULTS: dict[str, tuple[str, str]] = {
    "coinbase": ("wss://advanced-trade-ws.coinbase.com", "BTC-USD"),
    # market-data-only host; wss://stream.binance.com:9443 also works; Binance.US: wss://stream.binance.us:9443 + btcusd
    "binance": ("wss://data-stream.binance.vision", "btcusdt"),
    "kraken": ("wss://ws.kraken.com/v2", "BTC/USD"),
    # not a spot feed: the BTC perpetual's mark price and funding rate (a model signal)
    "binance_usdm": ("wss://fstream.binance.com", "btcusdt"),
}


@attrs.frozen(kw_only=True)
class SpotFeedConfig:
    """One spot exchange feed. ``url``/``symbol`` default per exchange."""

    exchange: str = attrs.field(validator=attrs.validators.in_(SPOT_EXCHANGES))
    enabled: bool = True
    url: str | None = None
    symbol: str | None = None
    stale_after_s: float = attrs.field(default=30.0, validator=_pos)  # no price this long -> reconnect
    rejected_retry_s: float = attrs.field(default=3600.0, validator=_pos)  # after a 4xx upgrade (e.g. 451)
    kraken_event_trigger: str = attrs.field(default="bbo", validator=attrs.validators.in_(("bbo", "trades")))
    link: WsLinkConfig = attrs.field(factory=WsLinkConfig, converter=_link)
    backoff: BackoffPolicy = attrs.field(
        default=BackoffPolicy(initial_s=1.0, max_s=60.0), converter=_backoff
    )

    @property
    def effective_url(self) -> str:
        return (self.url or _SPOT_DEFAULTS[self.exchange][0]).rstrip("/")

    @property
    def effective_symbol(self) -> str:
        return self.symbol or _SPOT_DEFAULTS[self.exchange][1]


def _binance_default() -> SpotFeedConfig:
    # Binance.com refuses US IPs (HTTP 451): off by default; the feed is harmless when enabled there.
    # Connections are cut at 24 h: reconnect proactively a little before.
    return SpotFeedConfig(exchange="binance", enabled=False, link=WsLinkConfig(max_age_s=23.5 * 3600))


@attrs.frozen(kw_only=True)
class SpotFeedsConfig:
    coinbase: SpotFeedConfig = attrs.field(
        factory=lambda: SpotFeedConfig(exchange="coinbase"),
        converter=_coinbase,
    )
    binance: SpotFeedConfig = attrs.field(
        factory=_binance_default,
        converter=_binance,
    )
    kraken: SpotFeedConfig = attrs.field(
        factory=lambda: SpotFeedConfig(exchange="kraken"),
        converter=_kraken,
    )
    # The Binance USD-M mark-price stream (funding rate: a model signal, not a price source).
    # Binance.com refuses US IPs like the spot feed: off by default.
    binance_usdm: SpotFeedConfig = attrs.field(
        factory=lambda: SpotFeedConfig(exchange="binance_usdm", enabled=False,
                                       link=WsLinkConfig(max_age_s=23.5 * 3600)),
        converter=lambda v: v
        if isinstance(v, SpotFeedConfig)
        else SpotFeedConfig(**{"exchange": "binance_usdm", "enabled": False, "link": {"max_age_s": 23.5 * 3600},
                               **v}),
    )

    def enabled(self) -> list[SpotFeedConfig]:
        """The enabled spot *price* feeds (the funding feed is not one)."""
        return [f for f in (self.coinbase, self.binance, self.kraken) if f.enabled]


@attrs.frozen(kw_only=True)
class VenueConfig:
    """Everything of the venues area: ``[kalshi]`` and ``[spot]`` sections."""

    kalshi: KalshiConfig = attrs.field(factory=KalshiConfig, converter=_kalshi)
    spot: SpotFeedsConfig = attrs.field(factory=SpotFeedsConfig, converter=_spot)


__all__ = [
    "BTC_SERIES",
    "CredentialsError",
    "KalshiConfig",
    "KalshiEndpoints",
    "KalshiRestConfig",
    "KalshiRestFeedConfig",
    "KalshiWsConfig",
    "SpotFeedConfig",
    "SpotFeedsConfig",
    "VenueConfig",
    "WsLinkConfig",
    "default_endpoints",
]
