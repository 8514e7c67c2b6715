"""Risk state for decisions: exposure, daily loss, open orders, dedup/cooldown, kill switch.

The ledger is the source of truth for money: it publishes ``PortfolioState`` (balance, open
exposure in total and per ticker, today's UTC realized PnL, open orders per ticker). Between a
TAKE and the ledger reflecting it there is a gap; ``RiskBook`` covers it with *pending* takes:

- A TAKE on a market is pending ("open decision": at most one per market) until a
  ``PortfolioState`` at or after the decision shows the market's exposure changed (for a
  TAKE recovered at start, whose exposure before is unknown: shows a position at all), or
  until ``pending_timeout_s`` has passed with no open order on that market. Its cost counts toward
  exposure while pending, and its cost and fee come off the cash the next decision may spend
  (``RiskView.balance``), so in-flight orders cannot breach the limits or overdraw the account.
- Cooldown: TAKE timestamps per market, counted over the trailing hour and the UTC day.

Kill switch, two triggers:

- ``loss``: today's realized PnL (a ``PortfolioState`` of today's UTC date) at or below
  ``-max_daily_loss``. Persisted; it resets by itself at the next UTC midnight.
- ``operator``: the kill file exists (``kbot.model.killswitch``). It lasts until the operator
  removes the file; the actor polls it and calls ``set_operator``.
- ``corrupt_state``: the persisted risk state could not be read at start (fail safe: a
  trip we cannot see must not be forgotten). Only ``reset_kill`` (an operator action) clears it.

Persisted state (``to_state``/``from_state``): the kill switch and the TAKE history/pending set
of the last day. ``seed`` accepts recent decisions (from the database) so dedup also recovers
when the state file is lost. Pure: every method takes ``now``.
"""

from __future__ import annotations

import functools
import math
from collections import deque
from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import attrs

from kbot.messages import Decision, PortfolioState
from kbot.model.config import GateConfig, RiskConfig

ZERO = Decimal(0)
DAY_S = 86400.0
HOUR_S = 3600.0


def utc_day(ts: float) -> str:
    """The UTC date of ``ts`` as ``YYYY-MM-DD`` (asked for every decision: cached per day)."""
    return _utc_day_of(math.floor(ts / DAY_S))


@functools.lru_cache(maxsize=64)
def _utc_day_of(day: int) -> str:
    return datetime.fromtimestamp(day * DAY_S, tz=UTC).date().isoformat()


@attrs.frozen(slots=True)
class KillState:
    tripped: bool = False
    trigger: str | None = None  # loss | corrupt_state
    reason: str | None = None
    ts: float | None = None
    day: str | None = None  # UTC date of the trip


@attrs.frozen(slots=True)
class RiskView:
    """What the gates need about risk for one market at one moment."""

    kill_reason: str | None
    has_portfolio: bool
    balance: Decimal
    total_exposure: Decimal  # ledger exposure + pending takes
    market_exposure: Decimal
    open_orders_total: int
    open_orders_market: int
    pending: bool
    takes_hour: int
    takes_day: int
    daily_pnl: Decimal


@attrs.define(slots=True)
class _Pending:
    decision_id: str
    ts: float
    cost: Decimal
    exposure_before: Decimal | None  # None: unknown (seeded): resolve once a position shows


class RiskBook:
    def __init__(self, gates: GateConfig, risk: RiskConfig) -> None:
        self.gates = gates
        self.risk = risk
        self.portfolio: PortfolioState | None = None
        self.kill = KillState()
        self.operator_reason: str | None = None
        self._pending: dict[str, _Pending] = {}
        self._takes: dict[str, deque[tuple[float, str]]] = {}
        self._exposure_by: dict[str, Decimal] = {}
        self._orders_by: dict[str, int] = {}

    # ------------------------------------------------------------------ inputs

    def on_portfolio(self, ps: PortfolioState, now: float) -> bool:
        """Take the ledger's state. Returns True when this tripped the kill switch."""
        if self.portfolio is not None and ps.ts < self.portfolio.ts:
            return False  # out of order
        self.portfolio = ps
        self._exposure_by = dict(ps.exposure_by_ticker)
        self._orders_by = dict(ps.open_orders)
        for ticker, p in list(self._pending.items()):
            if ps.ts < p.ts:
                continue
            exposure = self._exposure_by.get(ticker, ZERO)
            if p.exposure_before is None:
                reflected = exposure > 0
            else:
                reflected = exposure != p.exposure_before
            if reflected:
                del self._pending[ticker]
        if (
            not self.kill.tripped
            and utc_day(ps.ts) == utc_day(now)
            and ps.daily_realized_pnl <= -self.risk.max_daily_loss
        ):
            self.kill = KillState(
                True,
                "loss",
                f"daily realized PnL {ps.daily_realized_pnl} <= -{self.risk.max_daily_loss}",
                now,
                utc_day(now),
            )
            return True
        return False

    def on_take(self, d: Decision) -> None:
        """Record a TAKE (pending until the ledger shows it; counted for cooldown)."""
        assert d.action == "TAKE" and d.limit_price is not None
        cost = d.count * d.limit_price + (d.fee or ZERO)
        before = self._exposure_by.get(d.ticker, ZERO) if self.portfolio is not None else None
        self._pending[d.ticker] = _Pending(d.decision_id, d.ts, cost, before)
        self._takes.setdefault(d.ticker, deque()).append((d.ts, d.decision_id))

    def seed(self, decisions: Iterable[Decision], now: float) -> int:
        """Recover dedup/cooldown from recent decisions (e.g. read back from the database).
        Returns the number of TAKEs taken into account (duplicates of known ids are skipped)."""
        known = {i for q in self._takes.values() for _, i in q}
        n = 0
        for d in sorted(decisions, key=lambda d: d.ts):
            if d.action != "TAKE" or d.decision_id in known or now - d.ts > DAY_S:
                continue
            self._takes.setdefault(d.ticker, deque()).append((d.ts, d.decision_id))
            known.add(d.decision_id)
            n += 1
            if now - d.ts < self.gates.pending_timeout_s and d.limit_price is not None:
                self._pending[d.ticker] = _Pending(d.decision_id, d.ts, d.count * d.limit_price, None)
        for q in self._takes.values():
            ordered = sorted(q)
            q.clear()
            q.extend(ordered)
        return n

    def set_operator(self, reason: str | None) -> bool:
        """The kill file appeared (reason) or disappeared (None). Returns True on a change."""
        changed = reason != self.operator_reason
        self.operator_reason = reason
        return changed

    def reset_kill(self) -> None:
        """Operator reset of a persisted trip (loss or corrupt state)."""
        self.kill = KillState()

    def roll(self, now: float) -> bool:
        """Time passes: reset a loss trip after UTC midnight, expire pending takes, drop old
        history. Returns True when the kill state changed."""
        changed = False
        if (
            self.kill.tripped
            and self.kill.trigger == "loss"
            and self.kill.day is not None
            and utc_day(now) > self.kill.day
        ):
            self.kill = KillState()
            changed = True
        timeout = self.gates.pending_timeout_s
        for ticker, p in list(self._pending.items()):
            if now - p.ts >= timeout and self._orders_by.get(ticker, 0) == 0:
                del self._pending[ticker]
        for ticker, q in list(self._takes.items()):
            while q and now - q[0][0] > DAY_S:
                q.popleft()
            if not q:
                del self._takes[ticker]
        return changed

    # ------------------------------------------------------------------ outputs

    def kill_reason(self) -> str | None:
        if self.operator_reason is not None:
            return f"operator: {self.operator_reason}"
        if self.kill.tripped:
            return f"{self.kill.trigger}: {self.kill.reason}"
        return None

    def view(self, ticker: str, now: float) -> RiskView:
        ps = self.portfolio
        pending_cost = sum((p.cost for p in self._pending.values()), ZERO)
        own = self._pending.get(ticker)
        today = utc_day(now)
        takes = self._takes.get(ticker, ())
        takes_hour = sum(1 for ts, _ in takes if now - ts < HOUR_S)
        takes_day = sum(1 for ts, _ in takes if utc_day(ts) == today)
        return RiskView(
            kill_reason=self.kill_reason(),
            has_portfolio=ps is not None,
            # cash not yet committed: in-flight TAKEs (cost and fee) are spent before the ledger shows them
            balance=(ps.balance - pending_cost) if ps is not None else ZERO,
            total_exposure=(ps.exposure if ps is not None else ZERO) + pending_cost,
            market_exposure=self._exposure_by.get(ticker, ZERO) + (own.cost if own is not None else ZERO),
            open_orders_total=sum(self._orders_by.values()),
            open_orders_market=self._orders_by.get(ticker, 0),
            pending=own is not None,
            takes_hour=takes_hour,
            takes_day=takes_day,
            daily_pnl=ps.daily_realized_pnl if ps is not None and utc_day(ps.ts) == today else ZERO,
        )

    # ------------------------------------------------------------------ persistence

    def to_state(self) -> dict[str, Any]:
        k = self.kill
        return {
            "version": 1,
            "kill": {"tripped": k.tripped, "trigger": k.trigger, "reason": k.reason, "ts": k.ts, "day": k.day},
            "takes": {t: [[ts, i] for ts, i in q] for t, q in self._takes.items()},
            "pending": {t: {"id": p.decision_id, "ts": p.ts, "cost": str(p.cost)} for t, p in self._pending.items()},
        }

    def load_state(self, state: dict[str, Any], now: float) -> None:
        """Restore persisted state. Raises ``ValueError`` on a malformed state (the caller
        trips ``corrupt_state``)."""
        if not isinstance(state, dict) or state.get("version") != 1:
            raise ValueError("unknown risk state version")
        k = state.get("kill") or {}
        if not isinstance(k, dict):
            raise ValueError("malformed kill state")
        if k.get("tripped"):
            trigger = k.get("trigger")
            if trigger not in ("loss", "corrupt_state"):
                raise ValueError(f"unknown kill trigger {trigger!r}")
            self.kill = KillState(True, trigger, k.get("reason"), k.get("ts"), k.get("day"))
        for ticker, items in (state.get("takes") or {}).items():
            q = self._takes.setdefault(str(ticker), deque())
            for ts, i in items:
                ts = float(ts)
                if math.isfinite(ts) and now - ts <= DAY_S:
                    q.append((ts, str(i)))
        for ticker, p in (state.get("pending") or {}).items():
            ts = float(p["ts"])
            if now - ts < self.gates.pending_timeout_s:
                self._pending[str(ticker)] = _Pending(str(p["id"]), ts, Decimal(str(p["cost"])), None)

    def trip_corrupt(self, detail: str, now: float) -> None:
        self.kill = KillState(True, "corrupt_state", f"risk state unreadable: {detail}", now, utc_day(now))
