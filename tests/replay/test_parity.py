"""Parity: record a `kbot run --venue sim` session, replay its recording, and compare the TAKE
decisions: the replay must make the live run's TAKEs (same decision ids) for at least 99% of
them; the rest is printed with what differed.

The live run is a real process against the in-process simulated venue (a small market set;
volatility warm after one minute), at 3x real time for three minutes and at 15x (every real
millisecond the live tree takes is 15 ms of market time) for a minute and a half. Its recording
holds the wake marks (``kbot.wakes``): where each pricer, the spot index, the decision actor, the
executor and the ledger acted among the inputs. The replay follows them with ``--fills shadow``
(fills where the live executor made them), so it acts on the live run's inputs at the live run's
moments; the test also prints how many marks it followed and at how many the replay's pricer held
other inputs than the live one (none expected).

Minutes of wall time: opt-in with ``--soak``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kbot.replay.parity import compare, explain

ROOT = Path(__file__).resolve().parents[2]
CONFIG = """
[sim]
speed = {speed}
seed = 7
mispricing = 0.08
ladder_strikes = 6
brackets = 4
hourly_ahead = 1

[vol]
min_samples = 6

# the trading path (as the e2e tests): without deliberate mispricing, the GBM pricer unblended and
# the evidence gate off, a fresh run makes no TAKE and parity measures nothing
[model]
params_file = "gbm-raw"
[evidence]
gate = false
"""


def kbot(tmp: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), KBOT_LOGGING__CONSOLE_LEVEL="WARNING")
    env.pop("KBOT_DB_URL", None)
    return subprocess.run([sys.executable, "-m", "kbot", *args], cwd=tmp, env=env, capture_output=True, text=True,
                          timeout=timeout)


@pytest.mark.soak
@pytest.mark.parametrize(("speed", "minutes"), [(3.0, "3"), (15.0, "1.5")])
def test_replay_of_a_recorded_sim_run_makes_its_takes(tmp_path, speed, minutes):
    (tmp_path / "kbot.toml").write_text(CONFIG.format(speed=speed))
    live = kbot(tmp_path, "run", "--venue", "sim", "--minutes", minutes, "--record")
    assert live.returncode == 0, live.stderr[-3000:]
    rep = kbot(tmp_path, "replay", "data/recordings", "--fills", "shadow", "--db", "sqlite:///replay.sqlite",
               "--output", "json")
    assert rep.returncode == 0, rep.stderr[-3000:]
    summary = json.loads(rep.stdout)
    marks = summary["wake_marks"]
    p = compare(str(tmp_path / "data" / "kbot.sqlite"), str(tmp_path / "replay.sqlite"))
    print(f"\nparity at {speed:g}x: {p.same} of {p.live} live TAKEs made by the replay ({p.share:.1%}); replay TAKEs "
          f"{p.replay}; replayed {summary['events']:,} events in {summary['wall_s']} s; wake marks followed "
          f"{marks['delivered']:,}, inputs differed at {marks['differed']:,}, actor not running at {marks['unmatched']:,}; "
          f"all decisions (TAKE and PASS): {p.decisions_same} of {p.decisions_live} live ids in the replay "
          f"(replay {p.decisions_replay})")
    for line in explain(p, speed) + marks["samples"] + [f"not running: {m}" for m in marks["missing"]]:
        print("  " + line)
    assert p.live >= 10, "the live run made too few TAKEs to measure parity"
    assert p.share >= 0.99
