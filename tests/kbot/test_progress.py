"""kbot.progress: a bar on a terminal, nothing (and no cost) elsewhere, prints kept above it."""

from __future__ import annotations

import io
import sys

from kbot.progress import progress, track


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_off_when_the_stream_is_not_a_terminal(capsys):
    with progress("work", total=10, unit="rows") as bar:
        bar.advance(4)
        bar.update(completed=7, description="more work")
    assert not bar.enabled and bar.completed == 7
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""


def test_a_bar_with_count_unit_and_percentage_on_a_terminal():
    tty = Tty()
    with progress("prune quotes", total=200, unit="rows", stream=tty, min_interval_s=0.0) as bar:
        for _ in range(4):
            bar.advance(50)
    text = tty.getvalue()
    assert bar.enabled and "prune quotes" in text and "200/200" in text and "rows" in text and "100%" in text


def test_prints_inside_a_redirected_bar_stay_whole():
    tty = Tty()
    with progress("bench", total=2, stream=tty, redirect=True) as bar:
        print("=== latency: 12 s")
        bar.advance()
        print("=== writer: 3 s", file=sys.stderr)
        bar.advance()
    text = tty.getvalue()
    assert "=== latency: 12 s" in text and "=== writer: 3 s" in text and "2/2" in text


def test_track_counts_items(capsys):
    assert list(track(range(5), "frames", enabled=False)) == [0, 1, 2, 3, 4]
    tty_items = list(track(["a", "b"], "frames"))
    assert tty_items == ["a", "b"] and capsys.readouterr().err == ""
