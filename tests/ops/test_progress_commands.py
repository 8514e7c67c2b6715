"""Long commands show progress on a terminal: `kbot db prune` counts first and deletes under a
bar; off a terminal (systemd, cron) it prints a line per batch as before."""

from __future__ import annotations

from decimal import Decimal

import pytest

from kbot import cli, progress
from kbot.commands import db as db_command
from kbot.messages import Quote
from storage.db import open_database
from storage.runs import start_run
from storage.writer import BatchWriter
from tests.storage.records import T0


@pytest.fixture
def old_db(tmp_path) -> str:
    url = f"sqlite:///{tmp_path / 'kbot.sqlite'}"
    eng = open_database(url)
    start_run(eng, now=T0, mode="shadow", venue="sim", run_id="old")
    w = BatchWriter(eng, "old")
    w.write([Quote(ts=T0 + i, ticker="M1", yes_bid=Decimal("0.45"), yes_ask=Decimal("0.47"), source="ticker",
                   recv_ts=T0 + i)
             for i in range(120)])  # fmt: skip
    w.close()
    eng.dispose()
    return url


def prune(*argv: str) -> int:
    return db_command.main(cli.build_parser().parse_args(["db", "prune", "--older-than", "30d", *argv]))


def test_prune_under_a_bar_on_a_terminal(old_db, capsys, monkeypatch):
    monkeypatch.setattr(progress, "is_terminal", lambda stream=None: True)
    assert prune("--db", old_db) == 0
    out = capsys.readouterr()
    assert "deleted 120" in out.out
    assert "prune quotes" in out.err and "120/120" in out.err and "rows" in out.err
    assert "deleted so far" not in out.err  # the per-batch lines are for journals


def test_prune_off_a_terminal_prints_lines(old_db, capsys):
    assert prune("--db", old_db) == 0
    out = capsys.readouterr()
    assert "deleted 120" in out.out and "quotes: 120 deleted so far" in out.err
