"""Reading kbot's own recordings (``kbot run --record``; format ``kbot.replay.format``).

``recording_files(paths)`` finds the files (a directory means every recording file in it) and
orders them by their header's start, then name; ``read_records(files)`` yields every record of
every file in that order (the order the recorder wrote them: the order kbot saw its inputs).

A file cut short by a crash ends in a partial gzip member: the records before it are read, the
partial rest is counted in ``ReadStats.truncated_files`` and skipped. Lines that are not records
(a partial last line) are counted, never passed on.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import attrs
from loguru import logger

from kbot.replay import format as fmt


@attrs.define
class ReadStats:
    files: int = 0
    records: int = 0
    bad_lines: int = 0
    truncated_files: int = 0
    headers: list[dict[str, Any]] = attrs.field(factory=list)


class RecordingError(ValueError):
    """A path that holds no kbot recording, or a file of another format/version."""


def _header(path: Path) -> dict[str, Any]:
    try:
        with gzip.open(path, "rt", encoding="utf-8") as f:
            line = f.readline()
    except (OSError, EOFError, zlib.error) as exc:
        raise RecordingError(f"{path}: unreadable ({exc})") from None
    try:
        return fmt.parse_header(fmt.decode(line))
    except (fmt.FormatError, ValueError) as exc:
        raise RecordingError(f"{path}: {exc}") from None


def recording_files(paths: Iterable[str | Path]) -> list[tuple[Path, dict[str, Any]]]:
    """``(file, header)`` for every recording file under ``paths``, in recording order."""
    found: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found += sorted(x for x in p.iterdir() if x.name.startswith(fmt.PREFIX) and x.name.endswith(fmt.SUFFIX))
        elif p.is_file():
            found.append(p)
        else:
            raise RecordingError(f"{p}: no such file or directory")
    if not found:
        raise RecordingError(f"no recording files ({fmt.PREFIX}*{fmt.SUFFIX}) in {', '.join(map(str, paths))}")
    out = [(f, _header(f)) for f in found]
    out.sort(key=lambda fh: (float(fh[1].get("t", 0.0)), fh[0].name))
    return out


def read_records(files: Iterable[Path], stats: ReadStats | None = None) -> Iterator[fmt.Rec]:
    """Every record of ``files`` in order (headers included)."""
    stats = stats if stats is not None else ReadStats()
    decode = fmt.decode
    for path in files:
        stats.files += 1
        try:
            with gzip.open(path, "rt", encoding="utf-8", errors="surrogateescape") as f:
                for line in f:
                    if not line.endswith("\n"):
                        stats.bad_lines += 1  # a partial last line
                        continue
                    try:
                        rec = decode(line)
                    except fmt.FormatError:
                        stats.bad_lines += 1
                        continue
                    if rec.kind == fmt.HEADER:
                        stats.headers.append(fmt.parse_header(rec))
                    stats.records += 1
                    yield rec
        except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
            stats.truncated_files += 1
            logger.warning("recording {} ends in a partial block ({}): read up to there", path.name, exc)
