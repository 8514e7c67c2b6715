"""A small key -> JSON-object store for state that must survive restarts (sigma fallback,
risk state, kill switch).

``StateStore`` is a synchronous protocol (load/save of one JSON object per key). Actors call it
through ``trio.to_thread.run_sync`` because file I/O blocks. ``JsonFileStateStore`` keeps one
file per key in a directory and writes atomically: write a temporary file in the same
directory, flush and fsync it, ``os.replace`` it over the old one, fsync the directory. A crash
at any point leaves either the old or the new content, never a torn file.

A file that exists but cannot be parsed raises ``StateStoreError``: callers decide what a
corrupt state means (the risk manager fails safe and trips its kill switch; the volatility
estimator starts cold). ``MemoryStateStore`` is for tests.

``BlockingIO`` is how an actor runs a blocking call: ``in_thread`` (the default, a Trio worker
thread) or ``inline`` (for in-memory stores in tests: under ``autojump_clock`` a thread hop
lets virtual time leap ahead while the thread runs, which would distort timing tests).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol

import trio

_KEY = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")


class StateStoreError(Exception):
    """A stored state exists but cannot be read."""


class StateStore(Protocol):
    def load(self, key: str) -> dict[str, Any] | None:
        """The stored object, None when there is none; ``StateStoreError`` when unreadable."""
        ...

    def save(self, key: str, value: dict[str, Any]) -> None: ...


BlockingIO = Callable[..., Awaitable[Any]]


async def in_thread(fn: Callable[..., Any], *args: Any) -> Any:
    """Run a blocking call in a worker thread."""
    return await trio.to_thread.run_sync(fn, *args)


async def inline(fn: Callable[..., Any], *args: Any) -> Any:
    """Run a call on the event loop (only for calls that do not block: in-memory stores)."""
    await trio.lowlevel.checkpoint()
    return fn(*args)


def _check_key(key: str) -> str:
    if not _KEY.match(key) or key in (".", ".."):
        raise ValueError(f"invalid state key {key!r} (letters, digits, _ . - only)")
    return key


def atomic_write_text(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` atomically (same-directory temp file, fsync, rename, fsync dir)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    try:
        dfd = os.open(path.parent, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


class JsonFileStateStore:
    """``<directory>/<key>.json`` per key."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)

    def path(self, key: str) -> Path:
        return self.directory / f"{_check_key(key)}.json"

    def load(self, key: str) -> dict[str, Any] | None:
        p = self.path(key)
        try:
            raw = p.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as e:
            raise StateStoreError(f"{p}: {e}") from e
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as e:
            raise StateStoreError(f"{p}: not valid JSON ({e})") from e
        if not isinstance(value, dict):
            raise StateStoreError(f"{p}: expected a JSON object")
        return value

    def save(self, key: str, value: dict[str, Any]) -> None:
        text = json.dumps(value, sort_keys=True, indent=1, allow_nan=False)
        atomic_write_text(self.path(key), text + "\n")


class MemoryStateStore:
    """In-memory store (tests); round-trips through JSON so it accepts what the file store does."""

    def __init__(self) -> None:
        self.data: dict[str, str] = {}
        self.saves = 0

    def load(self, key: str) -> dict[str, Any] | None:
        raw = self.data.get(_check_key(key))
        if raw is None:
            return None
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as e:
            raise StateStoreError(f"{key}: not valid JSON ({e})") from e
        if not isinstance(value, dict):
            raise StateStoreError(f"{key}: expected a JSON object")
        return value

    def save(self, key: str, value: dict[str, Any]) -> None:
        self.data[_check_key(key)] = json.dumps(value, sort_keys=True, allow_nan=False)
        self.saves += 1
