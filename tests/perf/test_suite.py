"""The benchmark suite's bookkeeping (rows, ratios, targets, latest.json), not its figures:
benchmarks print numbers, tests never assert timings."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

from bench.__main__ import BENCHMARKS
from bench.suite import Row, markdown, percentile, save, table

ROOT = Path(__file__).resolve().parents[2]


def test_ratio_says_how_many_times_better_kbot_is():
    fast = Row(bench="b", what="w", workload="x", kbot=200.0, baseline=50.0, unit="msg/s")
    assert fast.ratio == 4.0 and fast.target_met is None
    quick = Row(bench="b", what="w", workload="x", kbot=0.5, baseline=5000.0, unit="ms", better="lower", target=5.0)
    assert quick.ratio == 10_000.0 and quick.target_met is True
    slow = Row(bench="b", what="w", workload="x", kbot=9.0, baseline=3.0, unit="ms", better="lower", target=5.0)
    assert slow.ratio == 1 / 3 and slow.target_met is False
    none = Row(bench="b", what="w", workload="x", kbot=math.nan, baseline=None, unit="x", target=1.0)
    assert none.ratio is None and none.target_met is None


def test_table_and_markdown_show_every_row():
    rows = [Row(bench="latency", what="p99", workload="200 mkts", kbot=4.2, baseline=9000.0, unit="ms", better="lower",
                baseline_what="polling", target=5.0),
            Row(bench="writer", what="rows/s", workload="edges", kbot=120_000.0, baseline=200_000.0, unit="rows/s")]
    t = table(rows)
    assert "latency" in t and "4.20 ms" in t and "<= 5.00 ms: met" in t and "0.60x" in t
    md = markdown(rows)
    assert md.count("\n") == 3 and "(polling)" in md and "120,000 rows/s" in md


def test_save_replaces_or_merges_rows_with_machine_info(tmp_path):
    path = tmp_path / "latest.json"
    a = Row(bench="a", what="x", workload="w", kbot=1.0, baseline=2.0, unit="u")
    b = Row(bench="b", what="y", workload="w", kbot=3.0, baseline=None, unit="u")
    save([a, b], benches={"a": {}, "b": {}}, quick=True, merge=False, path=path)
    a2 = Row(bench="a", what="x", workload="w", kbot=5.0, baseline=2.0, unit="u")
    save([a2], benches={"a": {"seconds": 1}}, quick=False, merge=True, path=path)
    data = json.loads(path.read_text())
    assert {(r["bench"], r["kbot"]) for r in data["rows"]} == {("a", 5.0), ("b", 3.0)}
    assert data["machine"]["cores"] and data["machine"]["python"] and data["date"]
    assert set(data["benchmarks"]) == {"a", "b"}
    assert next(r for r in data["rows"] if r["bench"] == "a")["ratio"] == 2.5


def test_percentile_is_nearest_rank():
    assert percentile([3.0, 1.0, 2.0], 0.5) == 2.0 and percentile([1.0], 0.99) == 1.0
    assert math.isnan(percentile([], 0.5))


def test_every_benchmark_runs_alone_and_in_the_suite():
    for name in BENCHMARKS:
        mod = __import__(f"bench.{name}", fromlist=["rows", "main"])
        assert callable(mod.rows) and callable(mod.main), name
    out = subprocess.run([sys.executable, "-m", "kbot", "bench", "--list"], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0 and all(n in out.stdout for n in BENCHMARKS)
    bad = subprocess.run([sys.executable, "-m", "bench", "nosuch"], cwd=ROOT, capture_output=True, text=True)
    assert bad.returncode == 2 and "unknown benchmark" in bad.stderr


def test_main_alone_passes_quick_and_the_size_option(monkeypatch):
    import bench.suite as suite

    seen = []
    monkeypatch.setattr(suite, "run_alone", lambda name, fn, quick: seen.append((name, quick, fn(quick))))
    rows_fn = lambda quick, value: [("rows", quick, value)]
    assert suite.main_alone("x", "doc", rows_fn, ["--quick", "--n", "3"], quick_help="h", option=("--n", int, "n")) == 0
    assert suite.main_alone("x", "doc", rows_fn, [], quick_help="h", option=("--n", int, "n")) == 0
    assert seen == [("x", True, [("rows", True, 3)]), ("x", False, [("rows", False, None)])]
