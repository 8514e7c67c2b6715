"""The operator kill switch: a file whose presence stops every new TAKE.

The CLI (or an operator with a shell) calls ``request_kill`` to create it and ``clear_kill``
to remove it; the decision actor polls ``read_kill`` every ``RiskConfig.kill_poll_s`` and PASSes
every candidate with ``kill_switch`` while the file exists. A file survives restarts by
nature. Its content is a small JSON object (reason, ts, by) written atomically; a file whose
content cannot be parsed still counts as a kill request (fail safe).

The automatic trip on daily loss lives in the persisted risk state (``kbot.model.risk``) and
resets at UTC midnight; ``request_reset`` is the operator action that clears a persisted trip
(loss before midnight, or a corrupt state) without waiting: it leaves a ``<kill_file>.reset``
marker that the decision actor consumes.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from kbot.statestore import atomic_write_text


def request_kill(path: str | os.PathLike[str], reason: str, *, ts: float, by: str | None = None) -> None:
    """Trip the operator kill switch (idempotent: a second call replaces the reason)."""
    body = {"reason": reason or "operator request", "ts": ts, "by": by}
    atomic_write_text(Path(path), json.dumps(body, sort_keys=True) + "\n")


def clear_kill(path: str | os.PathLike[str]) -> bool:
    """Remove the kill file. Returns False when there was none."""
    try:
        Path(path).unlink()
    except FileNotFoundError:
        return False
    return True


def read_kill(path: str | os.PathLike[str]) -> str | None:
    """The kill reason when the file exists, else None."""
    p = Path(path)
    try:
        raw = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as e:
        return f"kill file unreadable ({e.__class__.__name__})"
    try:
        body: Any = json.loads(raw)
        reason = body.get("reason") if isinstance(body, dict) else None
    except json.JSONDecodeError:
        reason = None
    return str(reason) if reason else "kill file present"


def reset_path(kill_file: str | os.PathLike[str]) -> Path:
    p = Path(kill_file)
    return p.with_name(p.name + ".reset")


def request_reset(kill_file: str | os.PathLike[str], *, ts: float, by: str | None = None) -> None:
    """Ask the decision actor to clear a persisted automatic trip (daily loss before UTC
    midnight, or a corrupt risk state). The actor consumes the request on its next poll (or
    at its next start) and removes the marker. Does not touch the operator kill file."""
    atomic_write_text(reset_path(kill_file), json.dumps({"ts": ts, "by": by}) + "\n")


def consume_reset(kill_file: str | os.PathLike[str]) -> bool:
    """True (and the marker removed) when a reset was requested."""
    try:
        reset_path(kill_file).unlink()
    except FileNotFoundError:
        return False
    return True
