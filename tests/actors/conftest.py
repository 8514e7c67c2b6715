"""Fixtures shared by the actor tests."""

from __future__ import annotations

import pytest
from loguru import logger


@pytest.fixture
def tape_lines():
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(m.record["message"]), filter=lambda r: r["extra"].get("event") == "tape")
    yield lines
    logger.remove(sink)
