"""Scorer actor: rates the model against outcomes and against the market, periodically.

Receives: nothing; every ``every_s`` of the clock it asks ``fetch`` (a reader-connection query
          run in a worker thread) for edge snapshots whose market has settled and that have no
          score yet.
Applies:  ``kbot.scoring.score`` (pure): Brier and log loss of the model probability and of the
          market mid at the same moment, and the PnL of taking YES/NO at the ask after fees.
Sends:    ``Score`` records to ``out`` (the recorder, which upserts by edge id: idempotent).
Fails:    an edge it cannot score (missing probability, bad values) is counted and skipped; a
          failing query crashes the actor (the supervisor restarts it with backoff).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any, Protocol

from kbot.actorkit import ActorStats, BadInputLog, Outbox
from kbot.clock import Clock
from kbot.messages import Score
from kbot.scoring import score


class UnscoredEdgeLike(Protocol):
    edge_id: int
    ts: float
    ticker: str
    series_ticker: str
    horizon_s: float | None
    prob_yes: float
    yes_bid: Decimal | None
    yes_ask: Decimal | None
    no_ask: Decimal | None
    outcome: int


Fetch = Callable[[int, int], Awaitable[list[Any]]]  # (after_id, limit) -> rows


def score_row(e: UnscoredEdgeLike) -> Score:
    r = score(e.prob_yes, e.outcome, e.yes_bid, e.yes_ask, e.no_ask)
    return Score(
        edge_id=e.edge_id, ts=e.ts, ticker=e.ticker, series_ticker=e.series_ticker, horizon_s=e.horizon_s or 0.0,
        outcome=r.outcome, prob_yes=e.prob_yes, market_prob=r.market_prob, brier=r.brier, log_loss=r.log_loss,
        market_brier=r.market_brier, market_log_loss=r.market_log_loss, pnl_yes=r.pnl_yes, pnl_no=r.pnl_no,
    )


async def run_scorer(
    fetch: Fetch,
    out: Outbox,
    *,
    clock: Clock,
    stats: ActorStats,
    every_s: float = 60.0,
    batch: int = 5000,
) -> None:
    bad = BadInputLog("scorer")
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
                    rec = score_row(e)
                except (ValueError, TypeError) as exc:
                    bad.record("unscorable_edge", e, str(exc))
                    stats.errors += 1
                    skipped.add(e.edge_id)
                    continue
                await out.send(rec)
                stats.msgs_out += 1
            if len(rows) < batch:
                break
            after_id = max(e.edge_id for e in rows)
