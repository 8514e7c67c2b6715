"""Settling the books of a run that ended (pure: no I/O, no clock).

A run killed with ``kill -9`` (or one that stopped with work left) can leave a TAKE without an
order, a fill its ledger never applied, positions open in a world that no longer exists, and a
last portfolio snapshot older than its last ledger entries. At start, ``kbot.runlife`` reads
such a run's record (``storage.queries.RecordedBooks`` and friends) and ``plan_repair`` says
what to record under that run's id so that, across crashes:

- every TAKE has exactly one outcome. A TAKE without an order is executed now when that has
  no effect outside kbot (shadow mode: the whole size at the decided price and fee, stamped at
  the decision's time, as the executor would have done a moment later); otherwise it is
  abandoned with a reason (paper: the order book of that moment is gone; live: only the
  venue can say whether an order left, and reconciliation asks it by client order id). A TAKE
  whose fill the book refuses (its market already settled) is abandoned too.
- every recorded fill is applied exactly once: a fill without its ledger entries is applied
  (the book is idempotent by fill id, so one already applied is not applied again).
- positions do not stay open forever. Only for simulated runs (their simulated world ended
  with them, so nothing will ever settle them): an open position is settled from the recorded
  settlement of its market when there is one, else unwound at cost (``Book.unwind``: the cost
  comes back, the fees stay lost, status ``unwound``). Positions of runs against Kalshi stay
  open: the next run of that venue and mode carries them over and settles them.
- the run's last portfolio snapshot equals its ledger cash: a closing snapshot is added
  whenever the books changed or the last one disagrees with them (balance, exposure, open
  positions), stamped after everything the run recorded (its end on its own clock).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any

import attrs

from kbot.ledger import MICRO, Book
from kbot.messages import DecisionAbandoned, Fill, LedgerUpdate, MarketSettled, PortfolioState, Side
from storage.queries import OrphanTake, RecordedBooks

# (decision_id, ticker, side, count, price, fee, now) -> the order events and fills of a shadow execution
ShadowExecution = Callable[..., list[Any]]

SNAPSHOT_STEP_S = 0.001  # a closing snapshot is stamped at least this long after the run's last one


def utc_day(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, tz=dt.UTC).date().isoformat()


@attrs.frozen(kw_only=True)
class RepairPlan:
    run_id: str
    records: tuple[Any, ...]  # to record under ``run_id``, in order
    executed: int = 0  # orphan TAKEs executed in shadow
    abandoned: int = 0  # orphan TAKEs abandoned
    applied: int = 0  # recorded fills applied
    settled: int = 0  # open positions settled from the record
    unwound: int = 0  # open positions unwound at cost
    refused_fills: tuple[str, ...] = ()  # recorded fills the book refuses (a settled market): left as they are
    cash: Decimal = Decimal(0)  # the run's cash after the repair
    snapshot: bool = False  # a closing portfolio snapshot is among the records

    def summary(self) -> str:
        parts = [f"{n} {what}" for n, what in (
            (self.executed, "TAKEs executed in shadow"), (self.abandoned, "TAKEs abandoned"),
            (self.applied, "fills applied"), (self.settled, "positions settled"), (self.unwound, "positions unwound"),
            (len(self.refused_fills), "fills refused"),
        ) if n]  # fmt: skip
        if self.snapshot:
            parts.append(f"closing snapshot, cash ${self.cash.quantize(MICRO)}")
        return ", ".join(parts) or "nothing to do"


def abandon_reason(mode: str, run_id: str) -> str:
    if mode == "paper":
        why = "a paper fill needs the order book of that moment, which is gone"
    elif mode == "live":
        why = ("whether an order reached the venue only the venue can say: reconciliation looks it up by its client "
               "order id (the decision id)")
    else:
        why = "it cannot be executed after the fact"
    return f"run {run_id} ended before its executor took this TAKE; not executed: {why}"


def plan_repair(
    books: RecordedBooks,
    *,
    orphans: Iterable[OrphanTake] = (),
    unapplied: Iterable[Fill] = (),
    settlements: Mapping[str, MarketSettled] | None = None,
    shadow_execution: ShadowExecution | None = None,
    simulated: bool = False,
    found_ts: float | None = None,
) -> RepairPlan:
    """The records that settle ``books`` (see the module docstring). ``shadow_execution``
    builds a shadow TAKE's order events and fill (``kbot.execution.shadow.shadow_events``); without it
    orphan TAKEs are abandoned. ``simulated``: the run traded a simulated world that is gone
    (settle or unwind its open positions). ``found_ts``: when abandonments are stamped (default:
    the run's end)."""
    mode = books.mode
    book = Book(mode)  # type: ignore[arg-type]
    book.restore(books.positions, books.cash, applied_fills=books.applied_fills, realized_by_day=books.realized_by_day)
    records: list[Any] = []
    counts = {"executed": 0, "abandoned": 0, "applied": 0, "settled": 0, "unwound": 0}
    refused: list[str] = []
    end = books.end_ts

    def apply(fill: Fill) -> bool:
        try:
            res = book.apply_fill(fill, utc_day(fill.ts))
        except ValueError:  # refused before it changed anything (kbot.ledger)
            return False
        if res.entries:
            records.append(LedgerUpdate(ts=fill.ts, entries=res.entries, position=res.position))
        return True

    for o in sorted(orphans, key=lambda o: (o.ts, o.decision_id)):
        end = max(end, o.ts, o.order_ts or o.ts)
        executable = o.side is not None and o.limit_price is not None and o.fee is not None and o.count > 0
        if mode == "shadow" and shadow_execution is not None and executable:
            # stamped when the executor would have: at the decision, or as the order already recorded
            events = shadow_execution(decision_id=o.decision_id, ticker=o.ticker, side=_side(o.side), count=o.count,
                                      price=o.limit_price, fee=o.fee, now=o.order_ts if o.order_ts is not None else o.ts)
            fills = [e for e in events if isinstance(e, Fill)]
            mark = len(records)
            records.extend(events)
            if len(fills) == 1 and apply(fills[0]):
                counts["executed"] += 1
                continue
            del records[mark:]  # the book refused the fill: nothing of it is recorded
            reason = f"run {books.run_id} ended before its executor took this TAKE, and its market had settled since"
        elif mode == "shadow" and shadow_execution is not None:
            reason = f"run {books.run_id} ended before its executor took this TAKE, which has nothing to execute"
        else:
            reason = abandon_reason(mode, books.run_id)
        records.append(DecisionAbandoned(ts=found_ts if found_ts is not None else end, decision_id=o.decision_id,
                                         ticker=o.ticker, mode=mode, reason=reason))  # type: ignore[arg-type]
        counts["abandoned"] += 1

    for f in sorted(unapplied, key=lambda f: (f.ts, f.fill_id)):
        end = max(end, f.ts)
        if f.fill_id in book.applied_fills:
            continue
        if apply(f):
            counts["applied"] += 1
        else:
            refused.append(f.fill_id)

    if simulated:
        known = settlements or {}
        note = f"run {books.run_id} ended and its simulated market can never settle: unwound at cost"
        for ticker, pos in sorted(book.positions.items()):
            if pos.status != "open":
                continue
            s = known.get(ticker)
            if s is not None:
                res = book.settle(s, utc_day(max(s.ts, pos.last_ts)))
                counts["settled"] += 1
            else:
                res = book.unwind(ticker, end, utc_day(max(end, pos.last_ts)), note)
                counts["unwound"] += 1
            if res.entries:
                records.append(LedgerUpdate(ts=res.entries[0].ts, entries=res.entries, position=res.position))

    exposure = book.exposure_by_ticker()
    snapshot = bool(records) or (books.last_balance, books.last_exposure, books.last_open_positions) != (
        book.cash, sum(exposure.values(), Decimal(0)), len(exposure))
    if snapshot:
        ts = max([end, *(r.ts for r in records)])
        if books.last_snapshot_ts is not None and ts < books.last_snapshot_ts + SNAPSHOT_STEP_S:
            ts = books.last_snapshot_ts + SNAPSHOT_STEP_S
        unreal = [p.unrealized_pnl for p in book.open_positions() if p.unrealized_pnl is not None]
        records.append(PortfolioState(
            ts=ts, mode=mode, balance=book.cash, exposure=sum(exposure.values(), Decimal(0)),  # type: ignore[arg-type]
            exposure_by_ticker=tuple(sorted(exposure.items())), daily_realized_pnl=book.daily_realized(utc_day(ts)),
            equity=book.equity(), unrealized_pnl=sum(unreal, Decimal(0)) if unreal else None,
            open_positions=len(exposure),
        ))  # fmt: skip
    return RepairPlan(run_id=books.run_id, records=tuple(records), refused_fills=tuple(refused), cash=book.cash,
                      snapshot=snapshot, **counts)


def _side(side: str | None) -> Side:
    if side not in ("yes", "no"):
        raise ValueError(f"not a side: {side!r}")
    return side  # type: ignore[return-value]
