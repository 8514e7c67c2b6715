"""kbot's configuration: one TOML file (sections below), the environment, ``.env`` and CLI flags.

Precedence, lowest first: defaults < ``kbot.toml`` < environment (``KBOT_<SECTION>__<KEY>``, plus
the venues' own ``KALSHI_*`` variables and ``KBOT_DB_URL``) < ``.env`` (only for variables not
already set) < CLI flags. Validated at start; an invalid value fails with the dotted key.

Sections: top level (venue, mode, minutes, series, paths), ``[kalshi]`` (endpoints, keys, REST/WS
behaviour), ``[spot]`` (exchange feeds), ``[sim]`` (the built-in simulated venue), ``[index]``,
``[vol]``, ``[pricer]``, ``[gates]``, ``[sizing]``, ``[risk]``, ``[signals]``, ``[model]``,
``[evidence]`` (model and decisions),
``[execution]`` (orders, paper fills, reconciliation), ``[maker]`` (the maker strategy, off by
default), ``[live]`` (the opt-in for real orders),
``[ledger]``, ``[scorer]``, ``[health]``, ``[storage]``, ``[logging]``, ``[tree]`` (mailboxes
and supervision), ``[chaos]`` (test hooks: crash actors on purpose), ``[record]`` (``kbot run
--record``) and ``[replay]`` (``kbot replay`` / ``kbot backtest``). ``kbot config show``
prints the effective configuration with secrets redacted; ``ops/kbot.toml.example`` documents
every key.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

import attrs

from kbot.confload import (
    ConfigError,
    build,
    deep_merge,
    digest,
    env_overrides,
    environment_with_dotenv,
    redact,
    to_plain,
)
from kbot.execution.config import LIVE_OPT_IN_HELP, ExecutionConfig, LiveConfig
from kbot.health import HealthConfig
from kbot.model.config import (
    EvidenceConfig,
    GateConfig,
    IndexConfig,
    ModelConfig,
    PricerConfig,
    RiskConfig,
    SignalConfig,
    SizingConfig,
    VolConfig,
)
from kbot.replay.config import RecordConfig, ReplayConfig
from kbot.sim.config import SimConfig
from kbot.strategy.maker import MakerSettings
from kbot.venues.config import ENV_ALLOW_INSECURE, ENV_REST_URL, ENV_WS_URL, KalshiConfig, SpotFeedsConfig
from kbot.venues.kalshi.auth import ENV_KEY_ID, ENV_KEY_PATH
from storage.config import StorageConfig

VENUES = ("sim", "demo", "prod")
MODES = ("shadow", "paper", "live")
BTC_SERIES = ("KXBTC", "KXBTCD", "KXBTC15M")


def _sim_default() -> SimConfig:
    # `kbot run --venue sim` runs the simulated world 15x faster by default: a two-minute demo
    # sees 15-minute markets open, trade, close and settle, and on two cores the tree keeps up
    # with the realistic venue (in its own process) at 15x; at 30x it falls behind and says so
    # (the falling_behind alert). See docs/PERFORMANCE.md.
    return SimConfig(speed=15.0)


@attrs.frozen
class LedgerConfig:
    # dollars of (hypothetical) cash in shadow and paper mode; live mode starts from the venue's balance
    starting_balance: Decimal = Decimal("1000")
    publish_every_s: float = 10.0  # PortfolioState/positions for the record at least this often (clock s)
    # Adopt open positions of the previous run of the same mode and venue at start (demo/prod):
    # a restarted process keeps following and settling them. Never for the simulated venue,
    # whose world is new in every run.
    carry_positions: bool = True

    def __attrs_post_init__(self) -> None:
        if self.starting_balance < 0:
            raise ValueError("ledger.starting_balance must be >= 0")
        if self.publish_every_s <= 0:
            raise ValueError("ledger.publish_every_s must be > 0")


@attrs.frozen
class ScorerConfig:
    every_s: float = 60.0  # clock seconds between scoring rounds
    batch: int = 5000  # edges per query

    def __attrs_post_init__(self) -> None:
        if self.every_s <= 0 or self.batch <= 0:
            raise ValueError("scorer.every_s and scorer.batch must be > 0")


@attrs.frozen
class LoggingConfig:
    console_level: str = "INFO"
    file_level: str = "DEBUG"
    # tape lines on the console too: "takes" (TAKEs and kill-switch lines), "all" (also unusual
    # PASSes), "none". logs/tape.log always has them all.
    console_tape: str = "takes"
    summary_every_s: float = 30.0  # a one-line status summary on the console every N real seconds (0: off)

    def __attrs_post_init__(self) -> None:
        if self.console_tape not in ("takes", "all", "none"):
            raise ValueError("logging.console_tape must be takes, all or none")
    rotation: str = "50 MB"
    retention: int = 10


@attrs.frozen
class TreeConfig:
    """Mailbox sizes and supervision intensities (see kbot/tree.py for why each is what it is)."""

    executor_inbox: int = 10_000  # decisions: bounded, lossless
    ledger_inbox: int = 10_000  # fills, order events, settlements: bounded, lossless
    markets_inbox: int = 50_000  # market reference data and lifecycle: bounded, lossless
    control_inbox: int = 10_000  # subscribe/unsubscribe/refresh commands
    root_max_restarts: int = 10
    root_within_s: float = 60.0
    feeds_max_restarts: int = 30
    feeds_within_s: float = 60.0
    pricers_max_restarts: int = 200
    pricers_within_s: float = 60.0
    registry_tick_s: float = 1.0  # clock seconds between market-registry time checks


@attrs.frozen
class ChaosConfig:
    """Test hooks, off by default: crash the named actors on purpose every N clock seconds
    (e.g. ``crash = {decision = 600.0, ledger = 900.0, "pricer" = 1200.0}``; ``pricer`` means
    every pricer). The restart log then shows the restarts; nothing may be lost."""

    crash: dict[str, float] = attrs.field(factory=dict)
    # Kill the whole process (SIGKILL, as ``kill -9``) right after the venue accepted the N-th
    # order, before kbot records it (0: never): the restart must find the order, not resend it.
    kill_after_orders: int = 0

    def __attrs_post_init__(self) -> None:
        if self.kill_after_orders < 0:
            raise ValueError("chaos.kill_after_orders must be >= 0")
        for name, period in self.crash.items():
            if not isinstance(period, (int, float)) or period <= 0:
                raise ValueError(f"chaos.crash.{name} must be a positive number of seconds")


def _record_config(v: Any) -> RecordConfig:
    """``record = true`` (shorthand for ``[record] enabled = true``) or the ``[record]`` table."""
    if isinstance(v, RecordConfig):
        return v
    if isinstance(v, bool):
        return RecordConfig(enabled=v)
    if isinstance(v, Mapping):
        return cast(RecordConfig, build(RecordConfig, v, "record"))
    raise ConfigError(f"record: expected true/false or a table of settings, got {v!r}")


@attrs.frozen
class AppConfig:
    venue: str = "sim"  # sim (built-in simulated venue) | demo | prod
    mode: str = "shadow"  # shadow (hypothetical positions) | paper (simulated orders on the live book) | live
    minutes: float | None = None  # wall-clock minutes before a clean stop; None = until interrupted
    series: tuple[str, ...] = BTC_SERIES
    data_dir: str = "data"  # state files (sigma fallback, risk state), sim keys, default database
    log_dir: str = "logs"
    kalshi: KalshiConfig = attrs.field(factory=KalshiConfig)
    spot: SpotFeedsConfig = attrs.field(factory=SpotFeedsConfig)
    sim: SimConfig = attrs.field(factory=_sim_default)
    index: IndexConfig = attrs.field(factory=IndexConfig)
    vol: VolConfig = attrs.field(factory=VolConfig)
    pricer: PricerConfig = attrs.field(factory=PricerConfig)
    gates: GateConfig = attrs.field(factory=GateConfig)
    sizing: SizingConfig = attrs.field(factory=SizingConfig)
    risk: RiskConfig = attrs.field(factory=RiskConfig)
    signals: SignalConfig = attrs.field(factory=SignalConfig)
    model: ModelConfig = attrs.field(factory=ModelConfig)
    evidence: EvidenceConfig = attrs.field(factory=EvidenceConfig)
    execution: ExecutionConfig = attrs.field(factory=ExecutionConfig)
    maker: MakerSettings = attrs.field(factory=MakerSettings)  # the maker strategy (kbot run --strategy maker)
    live: LiveConfig = attrs.field(factory=LiveConfig)
    ledger: LedgerConfig = attrs.field(factory=LedgerConfig)
    scorer: ScorerConfig = attrs.field(factory=ScorerConfig)
    health: HealthConfig = attrs.field(factory=HealthConfig)
    storage: StorageConfig = attrs.field(factory=StorageConfig)
    logging: LoggingConfig = attrs.field(factory=LoggingConfig)
    tree: TreeConfig = attrs.field(factory=TreeConfig)
    chaos: ChaosConfig = attrs.field(factory=ChaosConfig)
    record: RecordConfig = attrs.field(factory=RecordConfig, converter=lambda v: _record_config(v))
    replay: ReplayConfig = attrs.field(factory=ReplayConfig)

    def __attrs_post_init__(self) -> None:
        if self.venue not in VENUES:
            raise ConfigError(f"venue: expected one of {', '.join(VENUES)}, got {self.venue!r}")
        if self.mode not in MODES:
            raise ConfigError(f"mode: expected one of {', '.join(MODES)}, got {self.mode!r}")
        if self.mode == "live" and not self.live.enabled:
            raise ConfigError(f"mode live refused: {LIVE_OPT_IN_HELP}")
        if self.minutes is not None and self.minutes <= 0:
            raise ConfigError("minutes: must be > 0 (omit it to run until interrupted)")
        unknown = [s for s in self.series if s not in BTC_SERIES]
        if unknown or not self.series:
            raise ConfigError(f"series: expected a non-empty subset of {', '.join(BTC_SERIES)}, got {list(self.series)}")

    @property
    def db_url(self) -> str:
        return self.storage.url or f"sqlite:///./{self.data_dir}/kbot.sqlite"

    @property
    def state_dir(self) -> Path:
        return Path(self.data_dir) / "state" / self.venue


def load_config(
    path: str | Path | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    cli: Mapping[str, Any] | None = None,
    dotenv: str | Path | None = ".env",
) -> AppConfig:
    """Defaults < TOML < environment (+ .env) < CLI overrides (a nested dict)."""
    data: dict[str, Any] = {}
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"config file {str(p)!r} not found")
        try:
            data = tomllib.loads(p.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {str(p)!r} is not valid TOML: {exc}") from None
    env = environment_with_dotenv(dotenv, environ)
    overrides = env_overrides(env)
    if "db_url" in overrides:  # KBOT_DB_URL (the storage issue's name)
        overrides.setdefault("storage", {})["url"] = overrides.pop("db_url")
    data = deep_merge(data, overrides)
    if cli:
        data = deep_merge(data, cli)
    cfg = build(AppConfig, data)
    # One venue setting: the Kalshi client follows the top-level venue. The venues' own variables
    # (KALSHI_API_KEY_ID, ...) win over the file; folded in here, the configuration shown and
    # digested is the one in effect.
    return attrs.evolve(cfg, kalshi=attrs.evolve(cfg.kalshi, venue=cfg.venue, **kalshi_environment(env)))


# The venues' own environment variables -> the [kalshi] setting each overrides.
KALSHI_ENV = {
    ENV_KEY_ID: "key_id", ENV_KEY_PATH: "private_key_path", ENV_REST_URL: "rest_url", ENV_WS_URL: "ws_url",
}  # fmt: skip


def kalshi_environment(env: Mapping[str, str]) -> dict[str, Any]:
    """The ``[kalshi]`` settings the environment overrides (non-empty ``KALSHI_*`` variables,
    ``KBOT_ALLOW_INSECURE_KEY``)."""
    out: dict[str, Any] = {name: env[var] for var, name in KALSHI_ENV.items() if env.get(var)}
    if env.get(ENV_ALLOW_INSECURE, "").lower() in ("1", "true", "yes"):
        out["allow_insecure_key"] = True
    return out


def effective(cfg: AppConfig) -> dict[str, Any]:
    """The configuration as plain data with secrets redacted (``kbot config show``)."""
    return redact(to_plain(cfg))


def config_digest(cfg: AppConfig) -> str:
    return digest(to_plain(cfg))
