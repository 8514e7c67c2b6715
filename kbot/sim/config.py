"""``SimConfig``: everything the simulated venue can be told, with defaults (TOML-friendly).

Defaults give a realistic venue: about 180 open markets (KXBTC15M current + next, three hourly
KXBTCD ladders of 40 strikes and three hourly KXBTC bracket sets of 20), two market makers,
random takers, a $10,000 demo balance on the crypto shard (exchange_index 2), Kalshi Basic
tier rate limits, no faults.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from decimal import Decimal

import attrs

from kbot.sim.calendar import SERIES
from kbot.sim.faults import FaultConfig


def _dec(x: object) -> Decimal:
    return x if isinstance(x, Decimal) else Decimal(str(x))


def _positive(_inst: object, attr: attrs.Attribute, value: float) -> None:
    if not value > 0:
        raise ValueError(f"{attr.name} must be > 0, got {value}")


def _nonneg(_inst: object, attr: attrs.Attribute, value: float) -> None:
    if value < 0:
        raise ValueError(f"{attr.name} must be >= 0, got {value}")


def _mispricing(_inst: object, attr: attrs.Attribute, value: float) -> None:
    if not 0.0 <= value <= 0.5:
        raise ValueError(f"{attr.name} must be between 0 and 0.5 (probability points at 50 %), got {value}")


def _faults(value: object) -> FaultConfig:
    return value if isinstance(value, FaultConfig) else FaultConfig(faults=value)


def _keys(value: Iterable[str | tuple[str, str]] | None) -> tuple[tuple[str, str], ...]:
    out = []
    for item in value or ():
        if isinstance(item, str):
            key_id, sep, path = item.partition("=")
            if not sep:
                raise ValueError(f"extra key {item!r}: expected KEY_ID=PUBLIC_KEY_PEM_PATH")
            out.append((key_id, path))
        else:
            key_id, path = item
            out.append((str(key_id), str(path)))
    return tuple(out)


def _series(value: Iterable[str]) -> tuple[str, ...]:
    s = tuple(value)
    for name in s:
        if name not in SERIES:
            raise ValueError(f"unknown series {name!r}; the sim lists {', '.join(SERIES)}")
    return s


@attrs.frozen(kw_only=True)
class SimConfig:
    # serving
    host: str = "127.0.0.1"  # loopback only unless you mean it
    port: int = attrs.field(default=0, validator=_nonneg)  # 0 = a free port
    data_dir: str = "data/sim"  # demo key pair lives here (0600), reused across runs
    demo_key: bool = True  # generate/reuse and register the demo key
    keys: tuple[tuple[str, str], ...] = attrs.field(default=(), converter=_keys)  # extra (key_id, public PEM path)
    # time and randomness
    speed: float = attrs.field(default=1.0, validator=_positive)  # sim clock runs this many times real time
    seed: int = 1  # index path, listings, agents and faults are reproducible per seed
    start_epoch: float | None = None  # sim clock start (epoch s); None = wall time now
    # index path
    index_start: float = attrs.field(default=95_000.0, validator=_positive)  # BTC at the start, dollars
    index_vol: float = attrs.field(default=0.29, validator=_positive)  # annualized vol of the normal regime (fitted: kbot.sim.pricepath)
    # market calendar
    series: tuple[str, ...] = attrs.field(default=SERIES, converter=_series)
    m15_ahead: int = attrs.field(default=1, validator=_nonneg)  # future KXBTC15M markets listed (initialized)
    hourly_ahead: int = attrs.field(default=3, validator=_positive)  # hourly events open at once per series
    hourly_initialized_s: float = attrs.field(default=300.0, validator=_nonneg)  # created this long before open
    ladder_strikes: int = attrs.field(default=40, validator=_positive)  # KXBTCD strikes per event
    ladder_spacing: float = attrs.field(default=100.0, validator=_positive)  # dollars between KXBTCD strikes
    brackets: int = attrs.field(default=20, validator=_positive)  # KXBTC brackets per event
    bracket_width: float = attrs.field(default=100.0, validator=_positive)  # dollars per KXBTC bracket (real: $100)
    strike_delay_s: float = attrs.field(default=2.0, validator=_nonneg)  # 15M floor_strike after window start
    determination_delay_s: float = attrs.field(default=1.0, validator=_nonneg)  # close -> determined
    retain_finalized_s: float = attrs.field(default=3600.0, validator=_nonneg)  # finalized markets stay listed
    exchange_index: int = attrs.field(default=2, validator=_nonneg)  # shard of crypto events
    # members
    initial_balance: Decimal = attrs.field(default=Decimal("10000"), converter=_dec)  # dollars, crypto shard
    initial_balance_shard0: Decimal = attrs.field(default=Decimal("0"), converter=_dec)  # dollars, shard 0
    # simulated participants
    market_makers: int = attrs.field(default=2, validator=_nonneg)
    taker_rate_15m: float = attrs.field(default=5.1, validator=_nonneg)  # taker arrivals / sim s per KXBTC15M market (real tape)
    taker_rate_hourly: float = attrs.field(default=0.01, validator=_nonneg)  # per hourly market
    # Deliberate mispricing for demos and tests (0 = the makers quote around the true probability,
    # with only realistic lag, tilt and noise): every maker's quote of a market is shifted by this
    # many probability points at 50 % (4x in log-odds), up or down per market, redrawn every 5 min.
    mispricing: float = attrs.field(default=0.0, validator=_mispricing)
    # protocol behaviour
    auth_skew_s: float = attrs.field(default=30.0, validator=_positive)  # |signed ts - wall time| allowed
    rate_limits: bool = True
    rate_tier: str = attrs.field(default="basic", validator=attrs.validators.in_(("basic", "advanced", "expert", "premier", "paragon", "prime", "prestige")))
    error_style: str = attrs.field(default="nested", validator=attrs.validators.in_(("nested", "flat")))
    strict_shard_routing: bool = True  # cancel by order_id alone goes to shard 0, like Kalshi
    ws_ping_interval_s: float = attrs.field(default=10.0, validator=_positive)  # real seconds
    ws_queue: int = attrs.field(default=20_000, validator=_positive)  # per-connection outbound messages
    # spot feeds
    feed_max_rate: float = attrs.field(default=50.0, validator=_positive)  # max messages / real s per feed connection
    # faults (all off by default): a spec string (see kbot.sim.faults) or a FaultConfig
    faults: FaultConfig = attrs.field(factory=FaultConfig, converter=_faults)
    # `kbot run --venue sim`: serve the venue inside kbot's own process instead of its own child
    # process (kbot.sim.process). In-process the venue and the bot share one core and one GIL:
    # for tests and debugging.
    in_process: bool = False

    def to_json(self) -> str:
        """This configuration as JSON (``from_json`` reads it back): how kbot hands it to the
        venue's own process."""
        d = attrs.asdict(self, recurse=True)
        d["faults"] = d["faults"]["faults"]
        return json.dumps(d, default=str)

    @classmethod
    def from_json(cls, text: str) -> SimConfig:
        d = json.loads(text)
        if not isinstance(d, dict):
            raise ValueError("a simulated venue configuration must be a JSON object")
        return cls(**d)
