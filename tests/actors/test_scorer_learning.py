"""The scorer actor keeps the evidence and refits the blend walk-forward, publishing both in the
shared ModelState; the decision actor's gate reads it; the record reads back into the same
evidence (kbot report edge/signals)."""

from __future__ import annotations

import math
import random
from decimal import Decimal as D
from functools import partial

import attrs
import pytest
import sqlalchemy as sa
import trio

from actors.decision import decision_inbox_key, run_decision
from actors.scorer import run_scorer
from kbot.actorkit import ActorStats, Collect
from kbot.clock import ScaledClock
from kbot.messages import Decision, ModelFit, Score
from kbot.model.blend import BlendParams, market_only
from kbot.model.config import EvidenceConfig, GateConfig, ModelConfig, RiskConfig
from kbot.model.evidence import edge_bucket
from kbot.model.learn import Learner
from kbot.model.models import GBM_AVG60
from kbot.model.predict import Predictor
from kbot.model.state import ModelState
from kbot.statestore import MemoryStateStore
from supervision import LatestMailbox
from tests.model.factories import T0, edge, portfolio


@attrs.frozen
class Row:  # what storage.queries.unscored_edges / training_rows return (the fields used)
    edge_id: int
    ts: float
    ticker: str
    event_ticker: str
    series_ticker: str
    horizon_s: float
    prob_yes: float
    prob_model: float
    market_mid: float
    yes_bid: D
    yes_ask: D
    no_ask: D
    ev_yes: float
    ev_no: float
    reasons: str
    outcome: int
    model_slope: float = 0.1
    sig_momentum: float | None = None
    sig_mean_reversion: float | None = None
    sig_funding: float | None = None
    sig_imbalance: float | None = None
    vol_regime: int | None = None
    close_ts: float | None = None


def rows(n_events: int, seed: int = 5) -> list[Row]:
    """Markets whose true probability the model knows better than the mid: YES at 0.30 wins ~45 %."""
    rng = random.Random(seed)
    out = []
    for i in range(n_events * 4):
        won = 1 if rng.random() < 0.45 else 0
        out.append(Row(edge_id=i + 1, ts=T0 + 60.0 * i, ticker=f"M{i}", event_ticker=f"E{i // 4}",
                       series_ticker="KXBTC", horizon_s=2200.0, prob_yes=0.45, prob_model=0.45, market_mid=0.29,
                       yes_bid=D("0.28"), yes_ask=D("0.30"), no_ask=D("0.72"), ev_yes=0.45 - 0.30 - 0.0147,
                       ev_no=0.55 - 0.72 - 0.0142, reasons="", outcome=won, close_ts=T0 + 60.0 * i + 2200.0))
    return out


class FakeDb:
    def __init__(self, unscored: list[Row], training: list[Row], fit: str | None = None) -> None:
        self.unscored_rows = unscored
        self.training_rows = training
        self.fit = fit
        self.calls: list[str] = []

    async def unscored(self, after_id, limit):
        self.calls.append("unscored")
        return [r for r in self.unscored_rows if r.edge_id > after_id][:limit]

    async def evidence(self, since, cfg):
        self.calls.append("evidence")
        return []

    async def training(self, since, until, limit):
        self.calls.append("training")
        return [r for r in self.training_rows if since <= r.ts < until][:limit]

    async def latest_fit(self, model_name):
        self.calls.append("latest_fit")
        return self.fit


MCFG = ModelConfig(refit_every_s=3600.0, fit_min_rows=50, fit_lambda=1.0, fit_sample_s=0.0)


async def test_scores_grow_the_evidence_and_a_refit_is_published_and_recorded(autojump_clock):
    clock = ScaledClock(epoch0=T0 + 10**5)
    state = ModelState(Predictor(market_only(GBM_AVG60.spec())))
    data = rows(60)
    db = FakeDb(data, data)
    out = Collect()
    with trio.move_on_after(61):
        await run_scorer(db, out, clock=clock, stats=ActorStats("scorer"), every_s=60, model=state,
                         evidence=EvidenceConfig(min_obs=30), model_config=MCFG)
    assert db.calls[:2] == ["latest_fit", "evidence"]
    scores = out.of(Score)
    assert len(scores) == len(data) and all(s.take_side == "yes" and s.prob_model == 0.45 for s in scores)
    assert scores[0].take_pnl == pytest.approx(scores[0].outcome - 0.30 - 0.0147)
    (fit,) = out.of(ModelFit)
    assert state.predictor.blend_id == fit.fit_id and fit.n_events == 60 and fit.window_end < fit.ts
    assert BlendParams.from_json(fit.params).coefs["*|1"] != market_only().coefs.get("*|1")
    bucket = edge_bucket(edge(market_mid=0.29, horizon_s=2200.0, series_ticker="KXBTC"), EvidenceConfig())
    s = state.evidence.stats[bucket]
    assert s.n_obs == 60 and s.pnl is not None and s.pnl > 0 and s.tradable


async def test_the_newest_recorded_fit_is_loaded_at_start(autojump_clock):
    clock = ScaledClock(epoch0=T0)
    base = market_only(GBM_AVG60.spec())
    stale = attrs.evolve(base, fit_id="b-other", fitted_ts=T0 - 10.0, source="walk-forward refit of b-older")
    state = ModelState(Predictor(base))
    with trio.move_on_after(30):
        await run_scorer(FakeDb([], [], fit=stale.to_json()), Collect(), clock=clock, stats=ActorStats("scorer"),
                         every_s=60, model=state, model_config=ModelConfig())
    assert state.predictor.blend_id == "prior"  # a refit of other parameters is not used
    stored = attrs.evolve(base, fit_id="b-stored", fitted_ts=T0 - 10.0, source="walk-forward refit of prior")
    with trio.move_on_after(30):
        await run_scorer(FakeDb([], [], fit=stored.to_json()), Collect(), clock=clock, stats=ActorStats("scorer"),
                         every_s=60, model=state, model_config=ModelConfig())
    assert state.predictor.blend_id == "b-stored"
    bad = FakeDb([], [], fit="{not json")
    with trio.move_on_after(1):
        await run_scorer(bad, Collect(), clock=clock, stats=ActorStats("scorer"), every_s=60, model=state)


async def test_the_decision_gate_follows_the_published_evidence(tmp_path, autojump_clock):
    clock = ScaledClock(epoch0=T0)
    state = ModelState(Predictor(market_only(GBM_AVG60.spec())))
    inbox, out = LatestMailbox(decision_inbox_key), Collect()
    async with trio.open_nursery() as n:
        await n.start(partial(run_decision, inbox, out, clock=clock, gates=GateConfig(),
                              risk=RiskConfig(kill_file=str(tmp_path / "KILL")), store=MemoryStateStore(),
                              io=lambda f, *a: _inline(f, *a), model=state))
        inbox.send_nowait(portfolio(ts=clock.now()))
        e = edge(ts=clock.now(), market_mid=0.49)
        inbox.send_nowait(e)
        await clock.sleep(0.5)
        learner = Learner(market_only(), gates=GateConfig(), evidence=EvidenceConfig(), model=ModelConfig())
        for i in range(35):
            learner.book.add(edge_bucket(e, EvidenceConfig()), f"E{i}", T0, brier_final=0.2, take_pnl=0.05 + 0.001 * i)
        state.set_evidence(learner.book.table(), clock.now())
        inbox.send_nowait(edge(ts=clock.now(), ticker="OTHER-TICKER", market_mid=0.49))
        await clock.sleep(0.5)
        n.cancel_scope.cancel()
    first, second = out.of(Decision)
    assert first.action == "PASS" and first.reasons == ("no_demonstrated_edge",)
    assert second.action == "TAKE" and second.reasons == ()


async def _inline(f, *a):
    return f(*a)


def test_scores_read_back_from_the_record_give_the_same_evidence(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    """Scores written to SQLite and aggregated by storage.queries.evidence_clusters give the
    evidence the scorer built row by row (what `kbot report edge` and a restarted scorer see)."""
    from kbot.model.learn import score_snapshot
    from storage import queries
    from storage.db import open_database
    from storage.runs import start_run
    from storage.writer import BatchWriter
    from tests.storage.records import edge as record_edge

    engine = open_database(f"sqlite:///{tmp_path / 'k.sqlite'}")
    w = BatchWriter(engine, start_run(engine, now=T0, mode="shadow", venue="sim"))
    ecfg, gates = EvidenceConfig(), GateConfig()
    learner = Learner(market_only(), gates=gates, evidence=ecfg, model=ModelConfig())
    edges = []
    rng = random.Random(2)
    for i in range(40):
        mid = [0.2, 0.5, 0.8][i % 3]
        e = record_edge(ticker=f"M{i}", ts=T0 + i, event_ticker=f"E{i // 5}", series_ticker="KXBTC", horizon_s=2200.0,
                        market_mid=mid, prob_yes=mid + 0.1, prob_model=mid + 0.05, reasons=(),
                        yes_bid=D(str(mid - 0.01)), yes_ask=D(str(mid + 0.01)), no_ask=D(str(1.01 - mid)),
                        ev_yes=0.09 - 0.015, ev_no=-0.3)
        edges.append(e)
    w.write(edges)
    with engine.connect() as c:
        ids = {r.ticker: r.id for r in c.execute(sa.text("SELECT id, ticker FROM edges"))}
    scores = []
    for e in edges:
        s = score_snapshot(e, rng.randint(0, 1), gates, reasons=e.reasons, edge_id=ids[e.ticker])
        scores.append(s)
        learner.add_score(s, e.event_ticker)
    w.write(scores)
    w.close()
    other = Learner(market_only(), gates=gates, evidence=ecfg, model=ModelConfig())
    with engine.connect() as c:
        other.load_evidence(queries.evidence_clusters(c, since=0.0, ttc_bands=ecfg.ttc_bands_s,
                                                      price_bands=ecfg.price_bands))
    a, b = learner.book.table(), other.book.table()
    assert set(a.stats) == set(b.stats) and len(a.stats) == 3
    for k in a.stats:
        for f in ("n_events", "n_snapshots", "n_obs", "n_takes"):
            assert getattr(a.stats[k], f) == getattr(b.stats[k], f), (k, f)
        for f in ("brier_final", "brier_market", "brier_model", "advantage", "pnl"):
            x, y = getattr(a.stats[k], f), getattr(b.stats[k], f)
            assert (x is None and y is None) or x == pytest.approx(y), (k, f)
    assert math.isfinite(sum(s.brier for s in scores))
    engine.dispose()
    # the reports read the same evidence back (and the signals' walk-forward runs on the record)
    import json

    from kbot import cli

    url = f"sqlite:///{tmp_path / 'k.sqlite'}"
    assert cli.main(["report", "edge", "--db", url, "--since", "all", "--format", "json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    rows = rep["rows"] if isinstance(rep, dict) else rep
    assert len(rows) == 3 and {r["tradable"] for r in rows} == {"no"}
    assert cli.main(["report", "signals", "--db", url, "--since", "all"]) == 0
    assert "momentum" in capsys.readouterr().out
    assert cli.main(["report", "--list"]) == 0
    listed = capsys.readouterr().out
    assert "edge" in listed and "signals" in listed
