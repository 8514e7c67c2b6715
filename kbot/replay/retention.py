"""Retention for recordings (``kbot db prune`` applies it beside the database's): delete
recording files whose last write is older than a cutoff. A file is only ever appended to while
its recorder runs, so its modification time is the time of its last record; the file being
written is never that old (the cutoff is at least a day back)."""

from __future__ import annotations

import os
from pathlib import Path

import attrs

from kbot.replay import format as fmt


@attrs.frozen(slots=True)
class RecordingPrune:
    directory: Path
    files: tuple[Path, ...]  # deleted (or that would be, in a dry run)
    bytes: int
    kept: int
    dry_run: bool


def prune_recordings(directory: Path, cutoff: float, *, dry_run: bool = False) -> RecordingPrune:
    if not directory.is_dir():
        return RecordingPrune(directory, (), 0, 0, dry_run)
    old: list[Path] = []
    size = kept = 0
    for p in sorted(directory.iterdir()):
        if not (p.name.startswith(fmt.PREFIX) and p.name.endswith(fmt.SUFFIX)) or not p.is_file():
            continue
        st = p.stat()
        if st.st_mtime < cutoff:
            old.append(p)
            size += st.st_size
        else:
            kept += 1
    if not dry_run:
        for p in old:
            os.unlink(p)
    return RecordingPrune(directory, tuple(old), size, kept, dry_run)
