"""Scorer actor: rates the model against outcomes and the market, keeps the evidence of edge,
and refits the calibrated blend walk-forward.

Receives: nothing; every ``every_s`` of the clock it asks the database (``ScorerDb``, queries
          run in worker threads) for edge snapshots whose market has settled and that have no
          score yet.
Applies:  ``kbot.scoring.score`` (pure): Brier and log loss of the final probability, of the raw
          model probability and of the market's probability at the same moment, the PnL of
          taking YES/NO at the ask after fees, and the snapshot's would-be TAKE
          (``kbot.model.evidence.would_take``) with its PnL. Each score also goes into the
          ``EvidenceBook`` (per bucket, per event; ``kbot.model.evidence``).
          Every ``ModelConfig.refit_every_s``: ``kbot.model.blend.fit_blend`` on the scored
          snapshots of the last ``fit_window_s`` (settled before now: walk-forward), thinned to
          one per market per ``fit_sample_s``, shrunk toward the base parameters (shipped, or
          ``params_file``).
Sends:    ``Score`` records and ``ModelFit`` records to ``out`` (the recorder, which upserts:
          idempotent). Publishes the evidence table and a refitted predictor in the tree's
          ``ModelState`` (read by the decision actor and the pricers).
Start:    the newest recorded fit of the same model (``model_fits``), when it is a refit of the
          base parameters configured now, replaces them; the evidence of the last ``EvidenceConfig.window_s`` is read back from the
          record (aggregated per event in SQL). Until then the evidence is empty: every
          candidate PASSes ``no_demonstrated_edge`` (fail safe).
Fails:    an edge it cannot score (missing probability, bad values) is counted and skipped; a
          failing query crashes the actor (the supervisor restarts it with backoff); a fit that
          does not converge keeps the previous parameters for that band.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from loguru import logger

from kbot.actorkit import ActorStats, BadInputLog, Outbox
from kbot.clock import Clock
from kbot.messages import Score
from kbot.model.blend import BlendParams
from kbot.model.config import EvidenceConfig, GateConfig, ModelConfig
from kbot.model.learn import Learner, score_snapshot
from kbot.model.predict import Predictor
from kbot.model.state import ModelState
from kbot.statestore import BlockingIO, in_thread
from storage import queries

Fetch = Callable[[int, int], Awaitable[list[Any]]]  # (after_id, limit) -> rows


def score_row(e: Any, gates: GateConfig | None = None) -> Score:
    """The score of one settled snapshot read back from the record (``UnscoredEdge``)."""
    return score_snapshot(e, e.outcome, gates or GateConfig(), reasons=getattr(e, "reasons", ""),
                          edge_id=e.edge_id)


class ScorerDb:
    """The scorer's queries, each on its own connection through ``io`` (a worker thread; a replay
    on a virtual clock runs them inline)."""

    def __init__(self, engine: Any, io: BlockingIO = in_thread) -> None:
        self.engine = engine
        self.io = io

    async def _run(self, fn: Callable[..., Any], **kw: Any) -> Any:
        def q() -> Any:
            with self.engine.connect() as conn:
                return fn(conn, **kw)

        return await self.io(q)

    async def unscored(self, after_id: int, limit: int) -> list[Any]:
        return await self._run(queries.unscored_edges, limit=limit, after_id=after_id)

    async def evidence(self, since: float, cfg: EvidenceConfig) -> list[Any]:
        return await self._run(
            queries.evidence_clusters, since=since, ttc_bands=cfg.ttc_bands_s, price_bands=cfg.price_bands
        )

    async def training(self, since: float, until: float, limit: int) -> list[Any]:
        return await self._run(queries.training_rows, since=since, until=until, limit=limit)

    async def latest_fit(self, model_name: str) -> str | None:
        return await self._run(queries.latest_model_fit, model_name=model_name)


async def run_scorer(
    db: Any,
    out: Outbox,
    *,
    clock: Clock,
    stats: ActorStats,
    every_s: float = 60.0,
    batch: int = 5000,
    model: ModelState | None = None,
    base: BlendParams | None = None,
    gates: GateConfig | None = None,
    evidence: EvidenceConfig | None = None,
    model_config: ModelConfig | None = None,
) -> None:
    """``db``: a ``ScorerDb`` (or anything with its methods; a bare ``fetch(after_id, limit)``
    callable scores only). ``model``: where the evidence and refits are published (None: score
    only). ``base``: the parameters refits shrink toward (default: ``model.base``, the configured ones)."""
    bad = BadInputLog("scorer")
    gates = gates or GateConfig()
    ecfg = evidence or EvidenceConfig()
    mcfg = model_config or ModelConfig()
    fetch: Fetch = db.unscored if hasattr(db, "unscored") else db
    learning = model is not None and hasattr(db, "evidence")
    base = base or (model.base if model is not None else None)
    core = Learner(base, gates=gates, evidence=ecfg, model=mcfg) if base is not None else None
    next_refit = float("inf")
    if learning and core is not None and model is not None:
        now = clock.now()
        text = await db.latest_fit(core.base.probability_model().name)
        next_refit = now
        if text is not None:
            try:
                latest = BlendParams.from_json(text)
            except (ValueError, KeyError, TypeError) as exc:
                bad.record("unreadable_model_fit", text[:200], str(exc))
            else:
                # only a refit of the parameters configured now (not of a base since replaced)
                if latest.source == core.refit_source:
                    model.set_predictor(Predictor(latest, model.predictor.signal_config))
                    if latest.fitted_ts is not None:
                        next_refit = latest.fitted_ts + mcfg.refit_every_s
                    logger.bind(event="model").info("blend {} (fitted {}) in force", latest.fit_id,
                                                    latest.fitted_ts)
        core.load_evidence(await db.evidence(now - ecfg.window_s, ecfg))
        model.set_evidence(core.book.table(), now)
        n_tradable = sum(1 for s in model.evidence.rows() if s.tradable)
        logger.bind(event="model").info("evidence loaded: {} buckets, {} tradable", len(model.evidence.stats),
                                        n_tradable)
    skipped: set[int] = set()  # unscorable edges, not counted twice
    while True:
        await clock.sleep(every_s)
        # Edges come oldest first. Within a round, move past what was just fetched (its scores
        # may not be committed yet); each round starts from the beginning again, because an
        # old edge becomes scorable only when its market settles.
        after_id = 0
        while True:
            rows = await fetch(after_id, batch)
            stats.msgs_in += len(rows)
            stats.last_msg_ts = clock.now()
            for e in rows:
                if e.edge_id in skipped:
                    continue
                try:
                    rec = score_row(e, gates)
                except (ValueError, TypeError) as exc:
                    bad.record("unscorable_edge", e, str(exc))
                    stats.errors += 1
                    skipped.add(e.edge_id)
                    continue
                if core is not None:
                    core.add_score(rec, getattr(e, "event_ticker", "") or "")
                await out.send(rec)
                stats.msgs_out += 1
            if len(rows) < batch:
                break
            after_id = max(e.edge_id for e in rows)
        if not learning or core is None or model is None:
            continue
        now = clock.now()
        core.book.prune(now)
        if core.book.version != model.evidence.version:
            model.set_evidence(core.book.table(), now)
        if now >= next_refit:
            next_refit = now + mcfg.refit_every_s
            rows = await db.training(now - mcfg.fit_window_s, now, mcfg.fit_max_rows)
            done = core.refit(core.fit_rows((r, r.outcome) for r in rows), now)
            if done is not None:
                params, fit = done
                model.set_predictor(Predictor(params, model.predictor.signal_config))
                await out.send(fit)
                logger.bind(event="model").info("blend refitted: {} on {} rows of {} events", fit.fit_id, fit.n_rows,
                                                fit.n_events)
        tradable = [s.bucket for s in model.evidence.rows() if s.tradable]
        stats.state = f"blend {model.predictor.blend_id}; tradable: {', '.join(tradable) or 'none'}"
