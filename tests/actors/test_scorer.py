from decimal import Decimal as D

import attrs
import pytest
import trio

from actors.scorer import run_scorer
from kbot.actorkit import ActorStats, Collect
from kbot.clock import ScaledClock
from kbot.messages import Score


@attrs.frozen
class Row:
    edge_id: int
    ts: float
    ticker: str
    series_ticker: str
    horizon_s: float | None
    prob_yes: float
    yes_bid: D | None
    yes_ask: D | None
    no_ask: D | None
    outcome: int
    market_mid: float | None = None
    event_ticker: str = "E"
    reasons: str = ""
    ev_yes: float | None = None
    ev_no: float | None = None
    prob_model: float | None = None


async def test_scorer_scores_pages_and_skips_bad_rows(autojump_clock):
    rows = [Row(i, float(i), "M", "KXBTCD", 60.0, 0.7, D("0.60"), D("0.64"), D("0.40"), 1) for i in range(1, 6)]
    rows.append(Row(6, 6.0, "M", "KXBTCD", 60.0, 1.7, None, None, None, 1))  # invalid probability
    calls = []

    async def fetch(after_id, limit):
        calls.append(after_id)
        return [r for r in rows if r.edge_id > after_id][:limit]

    out = Collect()
    stats = ActorStats("scorer")
    with trio.move_on_after(61):
        await run_scorer(fetch, out, clock=ScaledClock(epoch0=0.0), stats=stats, every_s=60, batch=2)
    scores = out.of(Score)
    assert [s.edge_id for s in scores] == [1, 2, 3, 4, 5]
    assert scores[0].brier == pytest.approx(0.09) and scores[0].market_prob == pytest.approx(0.62)
    assert calls == [0, 2, 4, 6]  # paged within the round
    assert stats.errors == 1
