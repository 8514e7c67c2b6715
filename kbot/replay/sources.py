"""Replay sources: kbot's own recordings (``kbot run --record``) as a ``ReplaySource``.

Third-party formats have their importers beside this module (``kbot.replay.organics``)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from pathlib import Path

from kbot.replay import format as fmt
from kbot.replay.driver import Event
from kbot.replay.engine import ReplaySource
from kbot.replay.reader import ReadStats, RecordingError, read_records, recording_files

_SKIP = frozenset((fmt.HEADER, fmt.LOST))


def kbot_recording(paths: Sequence[str | Path]) -> ReplaySource:
    """Every recording file under ``paths``, in recording order. The header's clock ``speed``
    (a simulated venue's ``--speed``) paces the replay's timers like the live run's."""
    files = recording_files(paths)
    speeds = {float(h.get("speed", 1.0)) for _, h in files}
    if len(speeds) > 1:
        raise RecordingError(f"recordings made at different clock speeds {sorted(speeds)}: replay them separately")
    ident = hashlib.blake2b(digest_size=8)
    for f, _ in files:
        ident.update(f"{f.name}:{f.stat().st_size};".encode())
    stats = ReadStats()

    def events() -> Iterator[Event]:
        for rec in read_records([f for f, _ in files], stats):
            if rec.kind not in _SKIP:
                yield rec

    # Wake marks (version 2) are followed only when every file has them: a pricer following
    # marks prices nowhere else, so a stretch without them would price nothing.
    marks = all(int(h.get("version", 1)) >= 2 for _, h in files)
    runs = sorted({str(h.get("run_id")) for _, h in files})
    venues = sorted({str(h.get("venue")) for _, h in files})
    return ReplaySource(
        name=f"kbot recording ({len(files)} file(s), run {', '.join(runs)})", identity=ident.hexdigest(),
        events=events, speed=speeds.pop(), has_rest=True, marks=marks,
        notes={"format": "kbot", "files": len(files), "runs": runs, "venues": venues, "read": stats,
               "wake_marks": marks},
    )
