"""Is kbot keeping up with its venue? (pure)

When the process cannot keep up (a simulated venue run at too high a ``--speed``, an overloaded
machine), venue messages wait in the socket and every decision is made on old data: pricers
and the decision actor then PASS with ``stale_spot``/``stale_quote``/``stale_edge``, or worse,
decide on a book that has already moved. Two signals, measured per health interval:

- **receipt lag**: venue event time -> kbot's receive time of book and ticker quotes, in real
  seconds (both are on kbot's clock; the simulated venue's clock runs ``speed`` times faster,
  so the lag is divided by ``speed``). The venue stamps a one-second batch with the second's
  start, so up to one venue second of it is normal.
- **stale decisions**: the share of decisions that PASS because an input was stale.

``KeepUpMeter`` collects both (a few hundred nanoseconds per message: counts and a fixed
histogram); ``take`` returns the interval's ``KeepUp`` and starts a new one. The health monitor
(``kbot.health``) raises the ``falling_behind`` alert from it; the tree feeds it from the feed
routes (``ReceiptTap``, quotes) and a ``KeepUpTap`` on the decision actor's output.
"""

from __future__ import annotations

import math
from typing import Any

import attrs

STALE_REASONS = frozenset({"stale_spot", "stale_quote", "stale_edge"})
# receipt-lag histogram: bucket upper edges in real seconds
_EDGES = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 60.0, 120.0, 300.0, math.inf)


@attrs.frozen(slots=True)
class KeepUp:
    """One interval: quotes seen, their receipt lag (p90 and max, real seconds, histogram
    resolution), decisions made and how many PASSed for stale inputs."""

    quotes: int
    lag_p90_s: float
    lag_max_s: float
    decisions: int
    stale: int

    @property
    def stale_share(self) -> float:
        return self.stale / self.decisions if self.decisions else 0.0


class KeepUpMeter:
    __slots__ = ("_counts", "_decisions", "_max", "_n", "_stale")

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self._counts = [0] * len(_EDGES)
        self._n = 0
        self._max = 0.0
        self._decisions = 0
        self._stale = 0

    def receipt(self, event_ts: float, recv_ts: float, speed: float = 1.0) -> None:
        """A venue message stamped ``event_ts`` arrived at ``recv_ts`` (kbot's clock)."""
        lag = (recv_ts - event_ts) / speed
        if lag != lag:  # NaN
            return
        self._n += 1
        if lag > self._max:
            self._max = lag
        for i, edge in enumerate(_EDGES):
            if lag <= edge:
                self._counts[i] += 1
                return

    def decision(self, reasons: tuple[str, ...], action: str) -> None:
        self._decisions += 1
        if action == "PASS" and not STALE_REASONS.isdisjoint(reasons):
            self._stale += 1

    def take(self) -> KeepUp:
        """The interval's figures; the meter starts a new interval."""
        p90 = 0.0
        if self._n:
            need, acc = 0.9 * self._n, 0
            for i, c in enumerate(self._counts):
                acc += c
                if acc >= need:
                    p90 = min(_EDGES[i], self._max)
                    break
        out = KeepUp(quotes=self._n, lag_p90_s=p90, lag_max_s=self._max, decisions=self._decisions, stale=self._stale)
        self._reset()
        return out


class KeepUpTap:
    """An outbox that counts every ``Decision`` it is sent (tee the decision actor's output)."""

    __slots__ = ("meter",)

    def __init__(self, meter: KeepUpMeter) -> None:
        self.meter = meter

    async def send(self, msg: Any) -> None:
        self.send_nowait(msg)

    def send_nowait(self, msg: Any) -> None:
        reasons = getattr(msg, "reasons", None)
        if reasons is not None:
            self.meter.decision(reasons, getattr(msg, "action", ""))


class ReceiptTap:
    """A route destination that meters the receipt lag of every quote it is sent (``Quote.ts``:
    the venue's event time; ``recv_ts``: kbot's receipt, both on kbot's clock)."""

    __slots__ = ("clock", "meter")

    def __init__(self, meter: KeepUpMeter, clock: Any) -> None:
        self.meter = meter
        self.clock = clock

    async def send(self, msg: Any) -> None:
        self.send_nowait(msg)

    def send_nowait(self, msg: Any) -> None:
        self.meter.receipt(msg.ts, msg.recv_ts, self.clock.speed)


def behind(k: KeepUp, *, speed: float, max_lag_s: float, max_stale_share: float, min_decisions: int = 20) -> str | None:
    """Why kbot is falling behind in this interval (None when it is not): quotes arrive more than
    ``max_lag_s`` real seconds (plus one venue second) late at p90, or more than
    ``max_stale_share`` of at least ``min_decisions`` decisions PASSed for stale inputs."""
    why = []
    if k.quotes and k.lag_p90_s > max_lag_s + 1.0 / speed:
        why.append(f"venue quotes reach kbot {k.lag_p90_s:.1f}s late (p90; max {k.lag_max_s:.1f}s)")
    if k.decisions >= min_decisions and k.stale_share > max_stale_share:
        why.append(f"{k.stale_share:.0%} of {k.decisions} decisions PASSed for stale data")
    return "; ".join(why) or None
