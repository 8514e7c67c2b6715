"""Layout rules and the CLI skeleton."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest
import trio

from kbot.clock import ScaledClock, WallClock

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("kbot", "actors", "supervision", "storage")


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.add(node.module.split(".")[0])
    return out


def test_supervision_imports_nothing_of_ours():
    allowed = {"trio", "attrs", "loguru"}  # loguru: optional sink for the restart log line
    for f in (ROOT / "supervision").rglob("*.py"):
        ours = imports_of(f) & set(PACKAGES)
        assert not ours, f"{f} imports {ours}"
        third_party = imports_of(f) - set(sys.stdlib_module_names) - allowed - {"supervision"}
        assert not third_party, f"{f} imports {third_party}"


def test_storage_and_actors_do_not_import_app_wiring():
    for pkg, forbidden in (("storage", {"actors"}), ("actors", set())):
        for f in (ROOT / pkg).rglob("*.py"):
            assert not (imports_of(f) & forbidden), f


def test_every_module_imports_cleanly():
    """Catches import cycles: import each module in a fresh interpreter."""
    mods = []
    for pkg in PACKAGES:
        for f in sorted((ROOT / pkg).rglob("*.py")):
            rel = f.relative_to(ROOT).with_suffix("")
            if "migrations" in rel.parts or rel.name == "__main__":
                continue
            mods.append(".".join(rel.parts).removesuffix(".__init__"))
    code = "import importlib,sys\nfor m in sys.argv[1:]: importlib.import_module(m)\n"
    r = subprocess.run([sys.executable, "-c", code, *mods], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_cli_help_works():
    r = subprocess.run([sys.executable, "-m", "kbot", "--help"], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0 and "run" in r.stdout and "sim" in r.stdout


async def test_scaled_clock_runs_faster(autojump_clock):
    c = ScaledClock(epoch0=1_700_000_000.0, speed=60.0)
    t0 = trio.current_time()
    await c.sleep(900)  # a 15-minute market
    assert trio.current_time() - t0 == pytest.approx(15)
    assert c.now() == pytest.approx(1_700_000_900.0)
    await c.sleep_until(1_700_001_000.0)
    assert c.now() == pytest.approx(1_700_001_000.0)
    f = ScaledClock.follow(**c.advertise())
    assert f.now() == pytest.approx(c.now()) and f.speed == 60.0
    with pytest.raises(ValueError):
        ScaledClock(epoch0=0, speed=0)


async def test_wall_clock():
    import time

    assert abs(WallClock().now() - time.time()) < 1
