"""kbot evaluate's walk-forward engine and command on captures written by the tests (and, when
../shared/data is present, on two real days): the same functions as the actors, nothing from
after a decision, deterministic refits, the exact output line."""

from __future__ import annotations

import json
import os
from pathlib import Path

import attrs
import pytest

from kbot import cli
from kbot.actorkit import BadInputLog
from kbot.evaluate.captures import read_captures
from kbot.evaluate.walk import Walk, WalkConfig, run_walk
from kbot.model.blend import market_only, model_only
from kbot.model.config import EvidenceConfig, ModelConfig
from kbot.model.learn import Learner
from kbot.model.models import SettlementModel
from tests.conftest import shared_path
from tests.model.captures_fixture import write_captures

MODEL = SettlementModel(name="t5-implied", version="v1", vol_sources=("implied", "index"), nu=5.0)
KEYS = ["captured_at", "event_ticker", "ticker", "horizon_s", "p_model", "market_mid", "p_yes", "action", "side",
        "price", "count", "fee", "reasons"]
# refit every 4 hours on little data, evidence from 3 events: the fixture is small
SMALL = WalkConfig(model=ModelConfig(refit_every_s=4 * 3600.0, fit_min_rows=20, fit_lambda=10.0),
                   evidence=EvidenceConfig(min_obs=3))


@pytest.fixture(scope="module")
def captures(tmp_path_factory):
    folder = write_captures(tmp_path_factory.mktemp("caps"), events=12)
    bad = BadInputLog("test")
    caps = read_captures(folder, bad)
    assert bad.total == 0
    return folder, caps


def lines_of(caps, cfg=SMALL, base=None):
    out: list[dict] = []
    w = run_walk(caps, base or market_only(MODEL.spec()), cfg, out.append)
    return w, out


def test_reading_the_layout(captures):
    _, caps = captures
    assert len(caps) == 25  # 12 events x 2 captures + the last settlement; the ETH line is skipped
    assert [c.ts for c in caps] == sorted(c.ts for c in caps)
    assert caps[0].settlement is None and caps[2].settlement is not None
    assert caps[2].settlement.event_ticker == caps[0].event_ticker and len(caps[0].markets) == 24
    assert caps[-1].markets == () and caps[-1].settlement is not None
    assert {c.series for c in caps} == {"KXBTC"}


def test_a_capture_read_twice_counts_once(captures, tmp_path):
    folder, caps = captures
    src = folder / "crypto_hourly"
    (tmp_path / "crypto_hourly").mkdir()
    for f in src.glob("dt=*.jsonl.gz"):
        (tmp_path / "crypto_hourly" / f.name).write_bytes(f.read_bytes())
        (tmp_path / "crypto_hourly" / f.name.replace(".jsonl.gz", "-copy.jsonl.gz")).write_bytes(f.read_bytes())
    bad = BadInputLog("test")
    again = read_captures(tmp_path, bad)
    assert [c.ts for c in again] == [c.ts for c in caps] and bad.counts["duplicate_capture"] == len(caps)


def test_every_quoted_bracket_gives_one_line_in_the_exact_shape(captures):
    _, caps = captures
    w, lines = lines_of(caps)
    assert len(lines) == 24 * 24
    assert all(list(line) == KEYS for line in lines)
    first = lines[0]
    assert first["action"] in ("TAKE", "PASS") and isinstance(first["reasons"], list)
    assert 0.0 <= first["p_yes"] <= 1.0 and 0.0 <= first["p_model"] <= 1.0
    assert 2000 < first["horizon_s"] < 2300
    # nothing is learned before anything settled: the first event's decisions have no evidence
    assert all("no_demonstrated_edge" in ln["reasons"] for ln in lines[:48])
    assert w.unsettled_events == set() and sum(t.events for t in w.tallies.values()) == 24


def test_a_decision_never_depends_on_a_later_capture(captures):
    """Prefix invariance: walking only the first k captures gives the same lines for them as
    walking everything (no quote, spot or result from after a decision reaches it)."""
    _, caps = captures
    _, full = lines_of(caps)
    for k in (5, 12, 19):
        _, part = lines_of(caps[:k])
        assert part == full[: len(part)]


def test_a_result_planted_before_the_close_is_not_used(captures):
    """A capture that 'knows' the current event's results before it closed (a planted future
    signal): nothing is scored, learned or decided differently from it."""
    _, caps = captures
    w0, clean = lines_of(caps)
    planted = []
    for i, c in enumerate(caps):
        planted.append(c)
        later = next((x for x in caps[i + 1:] if x.settlement is not None
                      and x.settlement.event_ticker == c.event_ticker), None)
        if later is not None and c.event_ticker is not None:
            planted.append(attrs.evolve(later, ts=c.ts + 1.0, captured_at=c.captured_at + "+1s", markets=(),
                                        event_ticker=None, spot=None))
    w1, dirty = lines_of(planted)
    assert dirty == clean
    assert [f.fit_id for f in w1.fits] == [f.fit_id for f in w0.fits]


def test_refits_are_walk_forward_and_deterministic(captures, monkeypatch):
    _, caps = captures
    seen: list[tuple[float, list]] = []
    real = Learner.refit

    def spy(self, rows, now):
        seen.append((now, list(rows)))
        return real(self, rows, now)

    monkeypatch.setattr(Learner, "refit", spy)
    w1, a = lines_of(caps)
    w2, b = lines_of(caps)
    assert a == b and [f.fit_id for f in w1.fits] == [f.fit_id for f in w2.fits] and w1.fits
    for fit in w1.fits:
        assert fit.window_end is not None and fit.window_end < fit.ts and fit.n_events >= 1
    # every snapshot a refit saw belongs to an event that had closed (and settled) before it
    closes = {c.event_ticker: c.close_ts for c in caps if c.event_ticker}
    assert any(rows for _, rows in seen)
    for now, rows in seen:
        assert all(closes[r.cluster] <= now for _, r in rows)


def test_the_raw_model_and_a_frozen_blend_for_comparison(captures):
    _, caps = captures
    w, lines = lines_of(caps, attrs.evolve(SMALL, refit=False), model_only(MODEL.spec()))
    assert not w.fits and all(ln["p_yes"] == pytest.approx(min(max(ln["p_model"], 1e-3), 1 - 1e-3)) for ln in lines)


def test_the_command_writes_lines_and_a_summary(captures, tmp_path, capsys, monkeypatch):
    folder, _ = captures
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "lines.jsonl"
    assert cli.main(["evaluate", "kxbtc-captures", str(folder), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(lines) == 24 * 24 and list(lines[0]) == KEYS
    assert "~37 min (20-60m)" in text and "~5 min (<20m)" in text and "evidence at the end" in text
    # default configuration: 12 events are far too few for evidence, so nothing is traded
    assert all(x["action"] == "PASS" and "no_demonstrated_edge" in x["reasons"] for x in lines)
    assert cli.main(["evaluate", "kxbtc-captures", str(tmp_path / "nothing")]) == 2


def test_model_fit_and_show_on_the_fixture(captures, tmp_path, capsys, monkeypatch):
    folder, _ = captures
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "params.json"
    assert cli.main(["model", "fit", "kxbtc-captures", str(folder), "--until", "2026-08-02",
                     "--candidates", "gbm-ewma,t5-implied", "--out", str(out)]) == 0
    params = json.loads(out.read_text())
    assert params["format"] == "kbot-blend/1" and params["model"]["name"] in ("gbm-ewma", "t5-implied")
    assert [c["name"] for c in params["selection"]["candidates"]] and params["selection"]["until"] == "2026-08-02"
    assert params["window_end"] < params["fitted_ts"]
    assert cli.main(["evaluate", "kxbtc-captures", str(folder), "--params", str(out), "--no-refit"]) == 0
    assert cli.main(["model", "show", str(out)]) == 0
    assert params["model"]["name"] in capsys.readouterr().out


def test_two_real_days(tmp_path):
    """The command on two of the shared days (linked, never copied): it reads the real layout,
    prices every quoted bracket and, with no evidence yet, trades nothing."""
    src = shared_path("data", "kalshi_headless_kxbtc_hourly", "crypto_hourly")
    days = sorted(src.glob("dt=*.jsonl.gz"))[1:3]
    (tmp_path / "crypto_hourly").mkdir()
    for d in days:
        os.symlink(d, tmp_path / "crypto_hourly" / d.name)
    bad = BadInputLog("real")
    caps = read_captures(tmp_path, bad)
    w: Walk
    w, lines = lines_of(caps, WalkConfig())
    assert len(caps) >= 80 and len(lines) > 10_000
    assert {ln["action"] for ln in lines} == {"PASS"}
    for name, t in w.tallies.items():
        assert t.events >= 30, name
        assert 0.2 < t.brier_market / t.events < 1.2 and 0.2 < t.brier_final / t.events < 1.2
    assert Path(days[0]).exists()
