"""`kbot replay` and `kbot backtest` end to end on a synthetic organics-layout recording."""

from __future__ import annotations

import csv
import io
import json
import sqlite3

import pytest

from kbot.cli import main
from tests.replay.synth import write_session

SETTINGS = ["--set", "gates.max_vol_ratio=0", "--set", "vol.min_samples=5", "--set", "model.params_file=gbm-raw",
            "--set", "evidence.gate=false"]


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("org")
    write_session(root, "s1", result="yes")
    return root


def test_replay_command_writes_its_own_database_and_summarizes(folder, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = tmp_path / "kbot.toml"
    cfg.write_text("[gates]\nmax_vol_ratio = 0.0\n[vol]\nmin_samples = 5\n"
                   '[model]\nparams_file = "gbm-raw"\n[evidence]\ngate = false\n')
    assert main(["replay", "--format", "organics", str(folder), "--config", str(cfg), "--output", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["run_id"].startswith("replay-") and out["takes"] >= 1 and out["events"] > 0
    assert out["db"].startswith("sqlite:///./data/replay-") and out["source"]["settled_from_results"] == 1
    db = sqlite3.connect(tmp_path / out["db"].removeprefix("sqlite:///./"))
    assert db.execute("select venue from runs").fetchall() == [("replay",)]
    assert [r["series"] for r in out["series"]] == ["KXBTC15M"]


def test_backtest_two_points_in_parallel_workers(folder, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rc = main(["backtest", str(folder), *SETTINGS, "--set", "gates.min_ev=0.02,0.99", "--jobs", "2",
               "--format", "csv", "--out", str(tmp_path / "bt")])
    assert rc == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [(r["point"], r["gates.min_ev"], r["series"]) for r in rows] == [("1", "0.02", "KXBTC15M"), ("2", "0.99", "KXBTC15M")]
    assert int(rows[0]["takes"]) >= 1 and int(rows[1]["takes"]) == 0  # nothing clears a 99-cent bar
    assert float(rows[0]["brier"]) >= 0 and rows[0]["hit_rate"] != ""
    assert sorted(p.name for p in (tmp_path / "bt").glob("point-*.sqlite")) == ["point-1.sqlite", "point-2.sqlite"]


def test_bad_grid_fails_before_any_worker(folder, capsys):
    assert main(["backtest", str(folder), "--set", "gates.min_ev=lots"]) == 2
    assert "gates.min_ev" in capsys.readouterr().err
