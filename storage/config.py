"""Storage configuration (the ``[storage]`` section of kbot's TOML config).

The database URL is resolved in this order: ``--db URL`` on the command line, the
``KBOT_DB_URL`` environment variable, ``StorageConfig.url``, ``DEFAULT_URL``.
"""

from __future__ import annotations

import os

import attrs

DEFAULT_URL = "sqlite:///./data/kbot.sqlite"
ENV_URL = "KBOT_DB_URL"

_SYNC = ("OFF", "NORMAL", "FULL", "EXTRA")


def _positive(_inst: object, attr: attrs.Attribute, value: float) -> None:
    if not value > 0:
        raise ValueError(f"storage.{attr.name} must be > 0 (got {value!r})")


def _sync_mode(_inst: object, attr: attrs.Attribute, value: str) -> None:
    if value.upper() not in _SYNC:
        raise ValueError(f"storage.{attr.name} must be one of {', '.join(_SYNC)} (got {value!r})")


def _edges_policy(_inst: object, attr: attrs.Attribute, value: str) -> None:
    if value not in ("snapshots", "all"):
        raise ValueError(f"storage.{attr.name} must be 'snapshots' or 'all' (got {value!r})")


@attrs.frozen(slots=True, kw_only=True)
class StorageConfig:
    # SQLAlchemy URL; None: KBOT_DB_URL, else the default SQLite file under ./data
    url: str | None = None
    # the recorder writes a batch when it holds this many records ...
    batch_rows: int = attrs.field(default=5000, validator=_positive)
    # ... or when its oldest record has waited this long (milliseconds), whichever comes first
    batch_ms: float = attrs.field(default=50.0, validator=_positive)
    # recorder inbox capacity (records); senders wait when it is full (lossless backpressure)
    inbox_capacity: int = attrs.field(default=100_000, validator=_positive)
    # SQLite: synchronous for ordinary batches (WAL + NORMAL survives a process crash)
    synchronous: str = attrs.field(default="NORMAL", validator=_sync_mode)
    # SQLite: synchronous for batches that hold money rows (orders, fills, positions, ledger,
    # settlements): FULL also survives power loss / an OS crash (see bench/writer.py)
    money_synchronous: str = attrs.field(default="FULL", validator=_sync_mode)
    # SQLite: how long a statement waits for another connection's lock (milliseconds)
    busy_timeout_ms: int = attrs.field(default=5000, validator=_positive)
    # first retry delay after "database is locked" past the busy timeout; doubles per retry
    lock_retry_initial_s: float = attrs.field(default=0.05, validator=_positive)
    lock_retry_max_s: float = attrs.field(default=2.0, validator=_positive)
    # give up (crash the recorder; the supervisor restarts it) after this many locked retries
    lock_retries: int = attrs.field(default=20, validator=_positive)
    # "snapshots": record only Edge messages with snapshot=True; "all": every Edge received
    record_edges: str = attrs.field(default="snapshots", validator=_edges_policy)
    # on shutdown, keep writing what is already in the inbox for at most this long (seconds)
    drain_s: float = attrs.field(default=5.0, validator=_positive)


def resolve_url(url: str | None = None, config: StorageConfig | None = None) -> str:
    """``url`` (e.g. ``--db``), else ``KBOT_DB_URL``, else ``config.url``, else the default."""
    if url:
        return url
    env = os.environ.get(ENV_URL)
    if env:
        return env
    if config is not None and config.url:
        return config.url
    return DEFAULT_URL
