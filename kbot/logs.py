"""Logging for ``kbot run``: loguru sinks and the routing of standard-library logging.

Sinks (all under ``log_dir``):
- ``kbot.jsonl``: every record at ``file_level`` and above as one JSON object per line
  (loguru ``serialize``), rotated by size and retained by count.
- ``restarts.jsonl``: the restart log: the JSON line of every supervision event
  (``event="supervision"``), exactly as emitted, one per line.
- ``tape.log``: the decision tape (``event="tape"``): one line per TAKE and unusual PASS,
  like a trader's blotter.
- the console: human-readable, ``console_level`` and above; supervision events only when
  something failed (crash, restart, give-up, stuck shutdown); the tape per ``console_tape`` ("takes": TAKE and kill-switch lines; "all"; "none").

Standard-library loggers of dependencies (hypercorn, httpx, alembic, trio-websocket, ...) are
routed into loguru so one configuration governs everything.

File sinks write synchronously from the Trio thread: small buffered appends, a few microseconds
each; no per-message INFO logging happens on hot paths, so this never stalls the loop.

Tracebacks are logged without loguru's ``diagnose`` variable dumps: those print the values of
local variables, configuration objects included, and a log must never carry a secret.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from types import FrameType
from typing import Any

from loguru import logger

CONSOLE_FORMAT = "<green>{time:HH:mm:ss.SSS}</green> <level>{level: <7}</level> <cyan>{name}</cyan> {message}"
TAPE_FORMAT = "{time:YYYY-MM-DD HH:mm:ss.SSS!UTC}Z {message}"


class InterceptHandler(logging.Handler):
    """Send standard-library log records to loguru (keeping level and origin)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            level: str | int = logger.level(record.levelname).name
        except ValueError:
            level = record.levelno
        frame: FrameType | None = logging.currentframe()
        depth = 2
        while frame is not None and frame.f_code.co_filename == logging.__file__:
            frame = frame.f_back
            depth += 1
        logger.bind(stdlib=record.name).opt(depth=depth, exception=record.exc_info).log(level, record.getMessage())


def route_stdlib_logging(level: int = logging.INFO) -> None:
    logging.basicConfig(handlers=[InterceptHandler()], level=level, force=True)
    # Chatty libraries: keep warnings, drop per-request INFO lines.
    for name in ("httpx", "httpcore", "hypercorn.access", "trio-websocket", "alembic.runtime.migration"):
        logging.getLogger(name).setLevel(logging.WARNING)


def _is(event: str):
    def f(record: Any) -> bool:
        return record["extra"].get("event") == event

    return f


_CONSOLE_SUPERVISION = frozenset({"crashed", "restarting", "gave_up", "shutdown_timeout"})


def _console_filter(show_tape: str | bool):
    def f(record: Any) -> bool:
        ev = record["extra"].get("event")
        if ev == "tape":
            if show_tape in (True, "all"):
                return True
            if show_tape == "takes":
                return record["message"].startswith(("TAKE", "KILL"))
            return False
        if ev == "supervision":
            # starts and stops of hundreds of pricers belong in the restart log, not on screen
            return record["extra"].get("supervision", {}).get("kind") in _CONSOLE_SUPERVISION
        return True

    return f


def setup_logging(
    log_dir: str | Path | None = "logs",
    *,
    console_level: str = "INFO",
    file_level: str = "DEBUG",
    console_tape: str | bool = "takes",
    rotation: str = "50 MB",
    retention: int = 10,
    console: bool = True,
) -> list[int]:
    """Install kbot's sinks (replacing loguru's default). Returns the sink ids."""
    logger.remove()
    ids: list[int] = []
    if console:
        ids.append(logger.add(sys.stderr, level=console_level, format=CONSOLE_FORMAT,
                              filter=_console_filter(console_tape), colorize=None, diagnose=False))
    if log_dir is not None:
        d = Path(log_dir)
        d.mkdir(parents=True, exist_ok=True)
        ids.append(logger.add(d / "kbot.jsonl", level=file_level, serialize=True, rotation=rotation,
                              retention=retention, encoding="utf-8", diagnose=False))
        ids.append(logger.add(d / "restarts.jsonl", level="DEBUG", format="{message}", filter=_is("supervision"),
                              rotation=rotation, retention=retention, encoding="utf-8"))
        ids.append(logger.add(d / "tape.log", level="DEBUG", format=TAPE_FORMAT, filter=_is("tape"),
                              rotation=rotation, retention=retention, encoding="utf-8"))
    route_stdlib_logging()
    return ids
