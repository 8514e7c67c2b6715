"""Supervision events: the restart log.

Every start, exit, crash, restart, stop, shutdown timeout and give-up is one
``SupervisionEvent``. A supervisor passes each to its ``on_event`` callback and, by default,
logs it as one JSON line tagged ``event="supervision"``. That stream is what operators read
(``logs/restarts.jsonl`` in kbot, plus the ``supervision_events`` table).

The default sink uses loguru when it is installed (kbot always has it) and falls back to the
standard ``logging`` module otherwise, so this package runs on trio + attrs + stdlib alone.
"""

from __future__ import annotations

import json
import logging
import traceback as _tb
from collections.abc import Callable
from typing import Any

import attrs

KINDS = ("started", "exited", "crashed", "restarting", "gave_up", "stopped", "shutdown_timeout")


@attrs.frozen(slots=True)
class SupervisionEvent:
    ts: float
    supervisor: str
    child: str | None
    kind: str
    reason: str | None = None
    traceback: str | None = None
    attempt: int = 0
    delay_s: float = 0.0

    def __attrs_post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown supervision event kind {self.kind!r}")

    def to_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"), sort_keys=False)


def describe(exc: BaseException | None) -> str | None:
    """``"TypeName: message"`` for an exception (the ``reason`` field)."""
    if exc is None:
        return None
    msg = str(exc)
    name = type(exc).__qualname__
    return f"{name}: {msg}" if msg else name


def format_traceback(exc: BaseException | None) -> str | None:
    if exc is None:
        return None
    return "".join(_tb.format_exception(type(exc), exc, exc.__traceback__))


EventSink = Callable[[SupervisionEvent], None]

_std_logger = logging.getLogger("supervision")


def _loguru_logger() -> Any:
    try:
        from loguru import logger  # optional: see module docstring
    except ImportError:  # pragma: no cover - kbot always installs loguru
        return None
    return logger


def log_event(event: SupervisionEvent) -> None:
    """Default sink: one JSON line, ``event="supervision"``; crashes at WARNING, rest at INFO."""
    line = event.to_json()
    level = "WARNING" if event.kind in ("crashed", "gave_up", "shutdown_timeout") else "INFO"
    lg = _loguru_logger()
    if lg is not None:
        lg.bind(event="supervision", supervision=event.to_dict()).log(level, line)
    else:  # pragma: no cover
        _std_logger.log(getattr(logging, level), line, extra={"event": "supervision"})
