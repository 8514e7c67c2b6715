"""`kbot --version` and shell completion generated from the parser (checked in a real bash)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kbot import __version__, cli
from kbot.commands import completion

ROOT = Path(__file__).resolve().parents[2]


def test_version(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"kbot {__version__}"


def test_every_command_is_in_the_completion_scripts():
    for shell in completion.SHELLS:
        text = completion.script(shell)
        assert all(name in text for name in cli.COMMANDS), shell


@pytest.mark.skipif(shutil.which("bash") is None, reason="no bash")
def test_bash_completes_commands_actions_and_options(tmp_path):
    script = tmp_path / "kbot.bash"
    script.write_text(completion.script("bash"))

    def complete(*words: str) -> list[str]:
        line = " ".join(words)
        code = (f"source {script}; COMP_WORDS=({line}); COMP_CWORD={len(words) - 1}; COMP_LINE='{line}'; "
                f"COMP_POINT={len(line)}; _shtab_kbot kbot '{words[-1]}' '{words[-2]}'; echo \"${{COMPREPLY[@]}}\"")
        r = subprocess.run(["bash", "--norc", "--noprofile", "-c", code], capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stderr
        return r.stdout.split()

    assert complete("kbot", "to") == ["top"]
    assert set(complete("kbot", "db", "")) >= {"upgrade", "current", "prune"}
    assert "--older-than" in complete("kbot", "db", "prune", "--")
    assert "--out" in complete("kbot", "report", "--")


def test_completion_command_prints_the_script():
    r = subprocess.run([sys.executable, "-m", "kbot", "completion", "zsh"], capture_output=True, text=True, timeout=60,
                       env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})  # fmt: skip
    assert r.returncode == 0 and r.stdout.startswith("#compdef kbot")
