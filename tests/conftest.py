"""Shared test configuration.

- ``--soak`` enables tests marked ``soak`` (long soaks, fault storms); they are skipped otherwise.
- ``shared_data``: the path of ``../shared/data`` (real recordings, not in this repository);
  tests using it skip cleanly when it is absent.
- ``loguru_lines``: every loguru line (DEBUG and up) logged during the test, as text.
- The run fails when no test passed (CI must not go green on an empty or all-skipped run).
- Property tests (hypothesis) are derandomized by default: the same examples on every run, so a
  CI run cannot fail on a draw no earlier run saw. To explore new examples:
  ``pytest --hypothesis-profile explore`` (random draws; 500 examples where a test does not set
  its own number); a failure prints the example and a blob to reproduce it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings
from loguru import logger

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"

settings.register_profile("kbot", derandomize=True, print_blob=True)
settings.register_profile("explore", derandomize=False, print_blob=True, max_examples=500)
settings.load_profile("kbot")  # ``--hypothesis-profile explore`` (hypothesis's own option) overrides


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--soak", action="store_true", default=False, help="run long soak / fault-storm tests")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--soak"):
        return
    skip = pytest.mark.skip(reason="soak test: run with --soak")
    for item in items:
        if "soak" in item.keywords:
            item.add_marker(skip)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None or exitstatus != 0:
        return
    passed = len(reporter.stats.get("passed", []))
    if passed == 0 and not session.config.option.collectonly:
        reporter.write_line("no test passed: failing the run", red=True)
        session.exitstatus = pytest.ExitCode.NO_TESTS_COLLECTED


def shared_path(*parts: str) -> Path:
    """A path under ../shared, or skip the test when it is absent."""
    p = SHARED.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"{p} is not available (real data lives outside the repository)")
    return p


@pytest.fixture
def shared_data() -> Path:
    return shared_path("data")


@pytest.fixture
def shared_specs() -> Path:
    return shared_path("specs")


@pytest.fixture
def loguru_lines() -> Iterator[list[str]]:
    lines: list[str] = []
    sink_id = logger.add(lambda m: lines.append(str(m)), level="DEBUG")
    yield lines
    logger.remove(sink_id)
