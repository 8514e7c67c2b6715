"""kbot's recording format, version 2 (the spec: ``docs/RECORDING.md``). Pure: no I/O.

A recording is a directory of files ``rec-<UTC start>-<run id>-<NNNN>.tsv.gz``. Each file is a
gzip stream of one or more gzip *members* (one per flush: a crash loses at most the member being
written) holding text lines, one record per line, seven tab-separated fields::

    KIND  T  RT  SOURCE  CONN  CHANNEL  PAYLOAD

- ``KIND``: one letter (below); ``KIND + "j"`` means PAYLOAD is JSON-string-escaped (the raw text
  held a newline or carriage return).
- ``T``: kbot's clock (epoch seconds, UTC; a simulated venue's scaled clock under ``--venue sim``)
  when the input reached kbot. ``RT``: Trio's monotonic clock (real seconds) at the same moment.
- ``SOURCE``: the feed (``kalshi_ws``, ``kalshi_rest``, ``coinbase``, ``binance``, ``kraken``).
  ``CONN``: connection number of that feed within the recording process (0 when not tracked).
  ``CHANNEL``: the Kalshi WS message type, or the REST path; may be empty.
- ``PAYLOAD``: the rest of the line, verbatim (it may contain tabs).

Kinds: ``H`` header (first record of every file; PAYLOAD a JSON object), ``F`` a received frame
(PAYLOAD the raw text), ``O``/``C`` a connection opened/closed (PAYLOAD the URL / the reason),
``W``/``U`` the Kalshi WS session was told to watch/unwatch markets (PAYLOAD a JSON list of
tickers), ``T`` the Kalshi WS session's housekeeping tick, ``D`` frames dropped before the
session saw them (PAYLOAD the count), ``Q`` one REST response (PAYLOAD a JSON object: method,
path, params, status, body), ``L`` records lost by the recorder itself (PAYLOAD the count),
``B`` a feed began handling a batch of frames (``T``: when; its frames follow), ``A`` an actor
woke and acted (version 2: a wake mark, ``kbot.wakes``; SOURCE: the actor, CHANNEL: the pricer's
ticker, ``T``: the actor's clock, PAYLOAD: what it acted on): a replay of a version 2 recording
makes each actor act exactly there.

The ``W``/``U``/``T``/``D``/``O``/``C`` records of ``kalshi_ws`` are the inputs of kbot's
Kalshi WebSocket session besides its frames: with them a replay drives the same session
through exactly the states the live one went through.
"""

from __future__ import annotations

import json
from typing import Any, NamedTuple

FORMAT = "kbot-recording"
VERSION = 2
READS = frozenset((1, 2))  # versions this kbot replays (1: no wake marks)
SUFFIX = ".tsv.gz"
PREFIX = "rec-"

HEADER, FRAME, OPEN, CLOSE, WATCH, UNWATCH, TICK, DROPPED, REST, LOST, BATCH, WAKE = (
    "H", "F", "O", "C", "W", "U", "T", "D", "Q", "L", "B", "A")
KINDS = frozenset((HEADER, FRAME, OPEN, CLOSE, WATCH, UNWATCH, TICK, DROPPED, REST, LOST, BATCH, WAKE))


class Rec(NamedTuple):
    """One decoded record (``payload`` unescaped)."""

    kind: str
    t: float
    rt: float
    source: str
    conn: int
    channel: str
    payload: str


class FormatError(ValueError):
    """A line that is not a record of this format."""


def _clean(field: str) -> str:
    if "\t" in field or "\n" in field or "\r" in field:
        return field.replace("\t", " ").replace("\n", " ").replace("\r", " ")
    return field


def encode(kind: str, t: float, rt: float, source: str, conn: int, channel: str, payload: str) -> str:
    """One line (with its newline). ``source``/``channel`` lose any tab or newline."""
    if "\n" in payload or "\r" in payload:
        kind, payload = kind + "j", json.dumps(payload)
    return f"{kind}\t{t!r}\t{rt!r}\t{_clean(source)}\t{conn}\t{_clean(channel)}\t{payload}\n"


def decode(line: str) -> Rec:
    """The record on one line (trailing newline optional). Raises ``FormatError``."""
    parts = line.rstrip("\n").split("\t", 6)
    if len(parts) != 7:
        raise FormatError(f"expected 7 tab-separated fields, got {len(parts)}")
    kind, t, rt, source, conn, channel, payload = parts
    try:
        if len(kind) == 2 and kind[1] == "j":
            kind, payload = kind[0], json.loads(payload)
        if kind not in KINDS:
            raise FormatError(f"unknown record kind {kind!r}")
        return Rec(kind, float(t), float(rt), source, int(conn), channel, payload)
    except (ValueError, TypeError) as exc:
        if isinstance(exc, FormatError):
            raise
        raise FormatError(str(exc)) from None


def header_payload(meta: dict[str, Any], file_seq: int) -> str:
    """The header record's JSON: format, version, file number and the recorder's ``meta``
    (kbot version, run id, venue, mode, clock speed, ...)."""
    return json.dumps({"format": FORMAT, "version": VERSION, "file_seq": file_seq, **meta}, sort_keys=True)


def parse_header(rec: Rec) -> dict[str, Any]:
    if rec.kind != HEADER:
        raise FormatError("a recording file must start with a header record")
    h = json.loads(rec.payload)
    if not isinstance(h, dict) or h.get("format") != FORMAT:
        raise FormatError("not a kbot recording")
    if h.get("version") not in READS:
        raise FormatError(f"recording format version {h.get('version')!r} (this kbot reads versions "
                          f"{', '.join(map(str, sorted(READS)))})")
    return h


def kalshi_channel(text: str) -> str:
    """The message type of a Kalshi WS frame when it leads the object (as Kalshi sends it), else ''.
    Cheap: no JSON parse."""
    if text.startswith('{"type":"'):
        end = text.find('"', 9)
        if 9 < end < 60:
            return text[9:end]
    return ""
