"""CLI commands that need no running tree: config show, kill, and fail-fast startup errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def kbot(cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    e = {k: v for k, v in os.environ.items() if not k.startswith(("KBOT_", "KALSHI_"))}
    e["PYTHONPATH"] = str(ROOT)
    e.update(env or {})
    return subprocess.run([sys.executable, "-m", "kbot", *args], cwd=cwd, env=e, capture_output=True, text=True,
                          timeout=120)


def test_config_show_merges_sources_and_redacts_secrets(tmp_path):
    (tmp_path / "kbot.toml").write_text('[gates]\nmin_ev = 0.03\n[health]\nwebhook_url = "https://hooks.example/SECRET"\n')
    (tmp_path / ".env").write_text("KBOT_SIZING__KELLY_FRACTION=0.1\nKBOT_GATES__MIN_EV=0.99\n")
    r = kbot(tmp_path, "config", "show", env={"KBOT_GATES__MIN_EV": "0.04"})
    assert r.returncode == 0, r.stderr
    assert "SECRET" not in r.stdout
    data = tomllib.loads(r.stdout)
    assert data["health"]["webhook_url"] == "<redacted>"
    assert data["gates"]["min_ev"] == 0.04  # environment beats .env and the file
    assert data["sizing"]["kelly_fraction"] == 0.1  # .env fills what the environment lacks
    assert data["venue"] == "sim" and data["sim"]["speed"] == 15.0
    j = json.loads(kbot(tmp_path, "config", "show", "--format", "json", "--venue", "demo").stdout)
    assert j["venue"] == "demo" and j["kalshi"]["venue"] == "demo"


def test_invalid_configuration_names_the_key(tmp_path):
    (tmp_path / "kbot.toml").write_text("[gates]\nmin_evv = 0.03\n")
    r = kbot(tmp_path, "config", "show")
    assert r.returncode == 2 and "gates.min_evv: unknown setting" in r.stderr
    (tmp_path / "kbot.toml").write_text('mode = "paperr"\n')
    r = kbot(tmp_path, "run")
    assert r.returncode == 2 and "mode" in r.stderr and "shadow, paper, live" in r.stderr


def test_live_mode_needs_two_opt_ins_and_says_how(tmp_path):
    r = kbot(tmp_path, "run", "--mode", "live", "--minutes", "0.1")
    assert r.returncode == 2
    assert "live] enabled = true" in r.stderr and "--i-accept-real-money" in r.stderr
    (tmp_path / "kbot.toml").write_text('mode = "live"\n')  # the mode alone, from the file: still one opt-in
    r = kbot(tmp_path, "run", "--minutes", "0.1")
    assert r.returncode == 2 and "two opt-ins" in r.stderr


def test_run_against_demo_without_keys_fails_fast_with_what_to_set(tmp_path):
    r = kbot(tmp_path, "run", "--venue", "demo", "--minutes", "1")
    assert r.returncode == 2
    assert "KALSHI_API_KEY_ID" in r.stderr
    assert "Traceback" not in r.stderr
    # the setting's real name, and nothing created before the key was checked (issue 12)
    assert "kalshi.key_id" in r.stderr and "venue.key_id" not in r.stderr
    assert not (tmp_path / "data").exists()


def test_kill_switch_commands(tmp_path):
    assert "off" in kbot(tmp_path, "kill", "--status").stdout
    r = kbot(tmp_path, "kill", "--reason", "maintenance")
    assert r.returncode == 0 and (tmp_path / "data" / "KILL").exists()
    assert "ON (maintenance)" in kbot(tmp_path, "kill", "--status").stdout
    assert "removed" in kbot(tmp_path, "kill", "--clear").stdout
    assert not (tmp_path / "data" / "KILL").exists()
    kbot(tmp_path, "kill", "--reset")
    assert (tmp_path / "data" / "KILL.reset").exists()


def test_example_config_is_valid_and_matches_defaults():
    from kbot.config import AppConfig, load_config

    cfg = load_config(ROOT / "ops" / "kbot.toml.example", environ={}, dotenv=None)
    assert cfg == load_config(None, environ={}, dotenv=None)  # the example shows the defaults
    assert isinstance(cfg, AppConfig)
