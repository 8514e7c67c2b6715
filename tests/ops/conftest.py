"""Operator-tool fixtures: a SQLite database with known rows (tests/storage/dataset.py) plus one
tick-to-decision latency sample."""

from __future__ import annotations

from pathlib import Path

import pytest

from kbot.messages import LatencySample
from storage.db import open_database
from storage.writer import BatchWriter
from tests.storage import dataset as ds
from tests.storage.records import T0


@pytest.fixture
def db(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'kbot.sqlite'}"
    eng = open_database(url)
    ds.build(eng)
    w = BatchWriter(eng, "run-1")
    w.write([LatencySample(ts=T0 + 2990, scope="tick_to_decision", interval_s=10.0, n=42, mean_ms=1.5, p50_ms=1.25,
                           p90_ms=3.0, p99_ms=9.5, p999_ms=12.0, max_ms=14.0)])  # fmt: skip
    w.close()
    eng.dispose()
    return url
