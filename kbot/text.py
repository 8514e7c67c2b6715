"""Text made safe for logs, error details and the database, whatever came off the wire.

- ``short(v)``: a bounded ``repr`` of any value (a decoded JSON document included): never deep (a
  nested value's plain ``repr`` recurses once per level and can exceed the interpreter's limit)
  and never long.
- ``clean_text(s)``: ``s`` with lone surrogates (from ``\\ud800`` JSON escapes) backslash-escaped,
  so it can be encoded as UTF-8 (SQLite, log files); valid text is returned unchanged.
"""

from __future__ import annotations

import reprlib
from typing import Any

_short = reprlib.Repr()
_short.maxlevel = 3
_short.maxstring = 60
_short.maxother = 60
_short.maxlist = _short.maxdict = _short.maxtuple = _short.maxset = 6


def short(v: Any) -> str:
    return clean_text(_short.repr(v))


def clean_text(s: str) -> str:
    if s.isascii():
        return s
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return s.encode("utf-8", "backslashreplace").decode("utf-8")
    return s
