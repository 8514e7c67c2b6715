"""Parity of a replay with the live run it replays: the share of the live run's TAKE decisions
the replay made too (same decision ids), and for each one that differs, what differed.

A decision id derives from the market data it was decided on (``kbot.model.decide.decision_id``),
so a TAKE made on the same quote and index, with the same outcome, has the same id in both. A
live run is not perfectly repeatable though: it decides when its tasks get to an input, and a
batch of TAKEs waits for a state save, so near a burst it can decide on a newer quote or index
than the replay (which takes no time to decide). ``explain`` names the inputs that differed.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import attrs


@attrs.frozen(kw_only=True)
class Take:
    decision_id: str
    ts: float
    ticker: str
    side: str
    count: str
    price: str
    quote_ts: float | None
    index_ts: float | None


@attrs.frozen(kw_only=True)
class Parity:
    live: int
    replay: int
    same: int
    live_only: list[Take]
    replay_only: list[Take]
    # every decision (TAKE and PASS): how many each run recorded and how many ids both have
    decisions_live: int = 0
    decisions_replay: int = 0
    decisions_same: int = 0

    @property
    def share(self) -> float:
        return self.same / self.live if self.live else 1.0


def takes(db_path: str) -> list[Take]:
    con = sqlite3.connect(db_path)
    try:
        rows = con.execute("select decision_id, ts, ticker, side, count, limit_price, quote_ts, index_ts from decisions "
                           "where action = 'TAKE' order by ts, decision_id").fetchall()
    finally:
        con.close()
    return [Take(decision_id=r[0], ts=r[1], ticker=r[2], side=r[3], count=str(r[4]), price=str(r[5]), quote_ts=r[6],
                 index_ts=r[7]) for r in rows]


def decision_ids(db_path: str) -> set[str]:
    con = sqlite3.connect(db_path)
    try:
        return {r[0] for r in con.execute("select decision_id from decisions")}
    finally:
        con.close()


def compare(live_db: str, replay_db: str) -> Parity:
    lt, rt = takes(live_db), takes(replay_db)
    li, ri = {t.decision_id for t in lt}, {t.decision_id for t in rt}
    ld, rd = decision_ids(live_db), decision_ids(replay_db)
    return Parity(live=len(lt), replay=len(rt), same=len(li & ri), live_only=[t for t in lt if t.decision_id not in ri],
                  replay_only=[t for t in rt if t.decision_id not in li], decisions_live=len(ld),
                  decisions_replay=len(rd), decisions_same=len(ld & rd))


def explain(p: Parity, speed: float = 1.0) -> list[str]:
    """One line per differing TAKE: the closest TAKE of the other run in the same market (same
    content, decided later/earlier on other data), or that the other run did not take it."""
    lines = []
    others = {"live": p.replay_only, "replay": p.live_only}
    for who, missing in (("live", p.live_only), ("replay", p.replay_only)):
        for t in missing:
            cands = [o for o in others[who] if o.ticker == t.ticker]
            o = min(cands, key=lambda o: abs(o.ts - t.ts), default=None)
            head = f"{who} only: {t.ticker} {t.side} {t.count} @ {t.price} at {t.ts:.3f} [{t.decision_id}]"
            if o is None or abs(o.ts - t.ts) > 60.0:
                lines.append(f"{head}: no TAKE in that market within 60 s in the other run")
                continue
            what = []
            if (o.side, o.count, o.price) != (t.side, t.count, t.price):
                what.append(f"the other took {o.side} {o.count} @ {o.price}")
            else:
                what.append("same trade")
            dt = o.ts - t.ts
            what.append(f"decided {abs(dt):.3f} s {'later' if dt > 0 else 'earlier'} there "
                        f"({abs(dt) / speed * 1000:.0f} ms of real time at {speed:g}x)")
            if o.quote_ts != t.quote_ts:
                what.append(f"on a quote of {o.quote_ts} instead of {t.quote_ts}")
            if o.index_ts != t.index_ts:
                what.append(f"on an index of {o.index_ts} instead of {t.index_ts}")
            lines.append(f"{head}: {', '.join(what)}")
    return lines


def report(p: Parity, speed: float = 1.0) -> dict[str, Any]:
    return {"live_takes": p.live, "replay_takes": p.replay, "same_ids": p.same, "share": p.share,
            "decisions": {"live": p.decisions_live, "replay": p.decisions_replay, "same_ids": p.decisions_same},
            "differences": explain(p, speed)}
