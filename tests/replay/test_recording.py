"""The recording format and ``kbot run --record``'s writer: round trips, crash safety, append-only
files, rotation, a bounded buffer, the Kalshi WS session tap, retention."""

from __future__ import annotations

import gzip
import json
import os
import time
from pathlib import Path

import pytest
import trio
from hypothesis import given
from hypothesis import strategies as st

from kbot.clock import ScaledClock
from kbot.replay import format as fmt
from kbot.replay.config import RecordConfig
from kbot.replay.reader import ReadStats, read_records, recording_files
from kbot.replay.recording import RecordingWriter, open_recording
from kbot.replay.retention import prune_recordings

T0 = 1_790_000_000.0


@given(payload=st.text(), source=st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12),
       t=st.floats(0, 2e9), rt=st.floats(0, 1e7))
def test_any_payload_round_trips(payload, source, t, rt):
    line = fmt.encode(fmt.FRAME, t, rt, source, 3, "orderbook_delta", payload)
    assert line.endswith("\n") and line.count("\n") == 1 and "\r" not in line
    rec = fmt.decode(line)
    assert (rec.kind, rec.t, rec.rt, rec.conn, rec.channel, rec.payload) == (fmt.FRAME, t, rt, 3, "orderbook_delta", payload)


def test_ten_lines_of_python_read_a_recording(tmp_path):
    """The reader the spec (docs/RECORDING.md) gives, on a file the writer made."""
    run(tmp_path, [("kalshi_ws", '{"type":"ticker","sid":1,"msg":{}}'), ("coinbase", "{}")])
    recs = []
    for path in sorted(tmp_path.glob("rec-*.tsv.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as f:
            for line in f:
                kind, t, _rt, source, _conn, _channel, payload = line.rstrip("\n").split("\t", 6)
                if kind.endswith("j"):
                    kind, payload = kind[0], json.loads(payload)
                recs.append((kind, float(t), source, payload))
    assert [r[0] for r in recs] == ["H", "F", "F"]
    assert json.loads(recs[0][3])["format"] == "kbot-recording"
    assert recs[1][2:] == ("kalshi_ws", '{"type":"ticker","sid":1,"msg":{}}')


def run(directory: Path, frames: list[tuple[str, str]], cfg: RecordConfig | None = None, flush_each: bool = True) -> RecordingWriter:
    async def main() -> RecordingWriter:
        clock = ScaledClock(epoch0=T0)
        async with open_recording(cfg or RecordConfig(enabled=True), directory, {"run_id": "r1", "speed": 1.0}, clock) as w:
            for i, (src, text) in enumerate(frames):
                w.frame_hook(src, T0 + i, text)
                if flush_each:
                    await w.flush()
        return w

    return trio.run(main)


def test_a_crash_loses_at_most_the_last_buffer_and_a_restart_never_rewrites(tmp_path):
    w = run(tmp_path, [("coinbase", f'{{"n":{i}}}') for i in range(5)])
    (path,) = w.files
    data = path.read_bytes()
    for cut in range(1, 30):  # the process died while writing its last block, anywhere in it
        path.write_bytes(data[:-cut])
        stats = ReadStats()
        got = [json.loads(r.payload)["n"] for r in read_records([path], stats) if r.kind == fmt.FRAME]
        assert got in ([0, 1, 2, 3], [0, 1, 2, 3, 4]), cut  # every block before the last, never a partial line
        assert stats.truncated_files == 1
    path.write_bytes(data[:-20])
    before = path.read_bytes()
    w2 = run(tmp_path, [("coinbase", '{"n":99}')])  # restarted: a new file, the old one untouched
    assert w2.files[0] != path and path.read_bytes() == before
    files = [f for f, _ in recording_files([tmp_path])]
    assert set(files) == {path, w2.files[0]}


def test_files_rotate_and_an_existing_name_is_never_reused(tmp_path):
    cfg = RecordConfig(enabled=True, rotate_mb=0.000_2)  # ~200 bytes per file
    w = run(tmp_path, [("coinbase", "x" * 150) for _ in range(4)], cfg)
    assert len(w.files) >= 3 and len(set(w.files)) == len(w.files)
    recs = list(read_records([f for f, _ in recording_files([tmp_path])]))
    assert sum(r.kind == fmt.FRAME for r in recs) == 4
    assert all(fmt.parse_header(r)["run_id"] == "r1" for r in recs if r.kind == fmt.HEADER)
    with pytest.raises(FileExistsError):  # files are created exclusively
        open(w.files[0], "xb")  # noqa: SIM115


def test_a_full_buffer_drops_and_counts_never_blocks(tmp_path):
    cfg = RecordConfig(enabled=True, buffer_mb=0.000_5)  # 500 bytes
    w = run(tmp_path, [("coinbase", "y" * 100) for _ in range(20)] + [("kraken", "{}")], cfg, flush_each=False)
    assert w.lost > 0 and w.records + w.lost == 21
    recs = list(read_records(w.files))
    lost = [int(r.payload) for r in recs if r.kind == fmt.LOST]
    assert sum(lost) == w.lost  # the loss is in the recording itself


class FakeSession:
    def __init__(self) -> None:
        self.calls: list[tuple] = []
        self.counters = "counters"

    def __getattr__(self, name: str):
        return lambda *a: self.calls.append((name, *a))


def test_the_session_tap_records_every_input_in_order(tmp_path):
    async def main() -> list[fmt.Rec]:
        clock = ScaledClock(epoch0=T0)
        async with open_recording(RecordConfig(enabled=True), tmp_path, {"run_id": "r"}, clock) as w:
            inner = FakeSession()
            s = w.wrap_session(inner)
            s.watch(iter(["B", "A"]), T0, 1.0)
            s.on_connected(T0 + 1, 2.0)
            s.on_text('{"type":"orderbook_delta","sid":2}', T0 + 2, 3.0, 0.5)
            s.tick(T0 + 3, 4.0)
            s.on_frames_dropped(7, T0 + 4, 5.0)
            s.unwatch(["A"], T0 + 5, 6.0)
            s.on_disconnected(T0 + 6, "gone")
            assert s.counters == "counters"  # everything else is the session's own
            assert [c[0] for c in inner.calls] == ["watch", "on_connected", "on_text", "tick", "on_frames_dropped",
                                                   "unwatch", "on_disconnected"]
        return [r for r in read_records(w.files) if r.kind != fmt.HEADER]

    recs = trio.run(main)
    assert [(r.kind, r.conn) for r in recs] == [("W", 0), ("O", 1), ("F", 1), ("T", 1), ("D", 1), ("U", 1), ("C", 1)]
    assert json.loads(recs[0].payload) == ["A", "B"] and recs[2].channel == "orderbook_delta"
    assert (recs[2].t, recs[2].rt) == (T0 + 2, 3.0) and recs[4].payload == "7" and recs[6].payload == "gone"


def test_retention_deletes_only_old_recording_files(tmp_path):
    old, new, other = tmp_path / "rec-a-r-0001.tsv.gz", tmp_path / "rec-b-r-0001.tsv.gz", tmp_path / "notes.txt"
    for p in (old, new, other):
        p.write_bytes(b"x" * 10)
    day = 86_400.0
    os.utime(old, (time.time() - 40 * day, time.time() - 40 * day))
    os.utime(other, (time.time() - 40 * day, time.time() - 40 * day))
    dry = prune_recordings(tmp_path, time.time() - 30 * day, dry_run=True)
    assert dry.files == (old,) and old.exists()
    res = prune_recordings(tmp_path, time.time() - 30 * day)
    assert res.files == (old,) and res.kept == 1 and not old.exists() and new.exists() and other.exists()


class FakeProtocol:
    source = "coinbase"
    reconnect_reason: str | None = None

    def parse(self, text: str, recv_ts: float, mono: float = 0.0) -> list[str]:
        return [text.upper()]


def test_spot_frames_are_recorded_as_parsed_with_batch_markers(tmp_path):
    async def main() -> list[fmt.Rec]:
        clock = ScaledClock(epoch0=T0)
        async with open_recording(RecordConfig(enabled=True), tmp_path, {"run_id": "r"}, clock) as w:
            inner = FakeProtocol()
            p = w.wrap_protocol(inner)
            p.on_batch(T0 + 0.5, 9.0)
            assert p.parse("a", T0 + 0.1) == ["A"] and p.parse("b", T0 + 0.2) == ["B"]
            p.reconnect_reason = None  # the client clears it on the protocol it holds: reaches the parser
            inner.reconnect_reason = "bye"
            assert p.reconnect_reason == "bye" and p.source == "coinbase"
            s = w.wrap_session(FakeSession())
            s.on_batch(T0 + 1.0, 10.0)
        return [r for r in read_records(w.files) if r.kind != fmt.HEADER]

    recs = trio.run(main)
    assert [(r.kind, r.source, r.t, r.payload) for r in recs] == [
        ("B", "coinbase", T0 + 0.5, ""), ("F", "coinbase", T0 + 0.1, "a"), ("F", "coinbase", T0 + 0.2, "b"),
        ("B", "kalshi_ws", T0 + 1.0, "")]
