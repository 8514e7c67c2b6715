"""Fixtures for the simulated-venue tests: a reusable demo-key directory and signed clients."""

from __future__ import annotations

from pathlib import Path

import pytest

from kbot.sim.auth import demo_key


@pytest.fixture(scope="session")
def sim_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data dir whose demo key pair is generated once per test session."""
    d = tmp_path_factory.mktemp("simdata")
    demo_key(d)
    return d
