"""Health checks (pure): per-actor snapshots, data gaps, error and restart spikes -> alerts.

The health actor samples the tree every ``interval_s`` (inbox depth/peak, messages in/out,
last message age, restarts, errors per actor; last message time per feed; last index update;
last quote per open market) and hands the samples to ``HealthMonitor.check``, which returns the
``HealthSnapshot`` rows to record and the ``Alert``s to raise.

Alerts (kind, severity):
- ``spot_gap`` (critical): no index update for ``spot_gap_s``: pricing has stopped.
- ``feed_gap`` (warning): a feed silent for ``feed_gap_s``.
- ``quote_gap`` (warning): open markets without a quote for ``quote_gap_s`` (one alert for all
  of them, naming a few).
- ``error_spike`` (warning): an actor counted more than ``error_spike`` errors since the last
  check.
- ``restart_storm`` (critical): more than ``restart_storm`` restarts across the tree within
  ``restart_window_s``.
- ``backlog`` (warning): a bounded inbox more than ``backlog_fraction`` full.
- ``falling_behind`` (warning): kbot does not keep up with its venue (``kbot.keepup``): quotes
  arrive more than ``behind_lag_s`` late, or most decisions PASS for stale data. The message
  says what to do (lower ``--speed`` against the simulated venue).
- ``resolved`` (info): a condition above has cleared.

Each (kind, subject) alerts once, then again only after ``alert_cooldown_s`` while it lasts.

All health durations (interval, thresholds, ages) are *real* seconds, also when the simulated
venue runs its clock faster: health is about whether this process keeps up, and operators
think in wall time. Message times are on kbot's clock; ``speed`` converts their ages.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping

import attrs

from kbot.keepup import KeepUp, behind
from kbot.messages import Alert, HealthSnapshot


@attrs.frozen
class HealthConfig:
    interval_s: float = 10.0  # sampling period (real seconds, like every duration here)
    spot_gap_s: float = 15.0  # no index update for this long -> spot_gap
    feed_gap_s: float = 30.0  # a feed silent for this long -> feed_gap
    quote_gap_s: float = 180.0  # an open market without a quote for this long -> quote_gap
    error_spike: int = 50  # errors per actor per interval
    restart_storm: int = 10  # restarts across the tree ...
    restart_window_s: float = 300.0  # ... within this window
    backlog_fraction: float = 0.8  # bounded inbox fuller than this -> backlog
    alert_cooldown_s: float = 600.0  # repeat an ongoing alert at most this often
    behind_lag_s: float = 2.0  # venue quotes later than this (p90, real s) -> falling_behind
    behind_stale_share: float = 0.5  # ... or more than this share of decisions PASS for stale data
    behind_grace_s: float = 30.0  # not before this long after the start
    webhook_url: str | None = None  # Discord/Slack-compatible incoming webhook (JSON POST)
    webhook_timeout_s: float = 5.0

    def __attrs_post_init__(self) -> None:
        if self.interval_s <= 0:
            raise ValueError("health.interval_s must be > 0")
        if not 0 < self.backlog_fraction <= 1:
            raise ValueError("health.backlog_fraction must be in (0, 1]")


@attrs.frozen(slots=True)
class ActorSample:
    name: str
    inbox_depth: int = 0
    inbox_peak: int = 0
    inbox_capacity: int | None = None
    msgs_in: int = 0
    msgs_out: int = 0
    last_msg_ts: float | None = None
    restarts: int = 0
    errors: int = 0
    state: str | None = None


class HealthMonitor:
    def __init__(self, cfg: HealthConfig) -> None:
        self.cfg = cfg
        self._last_errors: dict[str, int] = {}
        self._restart_marks: deque[tuple[float, int]] = deque()
        self._active: dict[tuple[str, str], float] = {}  # (kind, subject) -> last alerted ts
        self._speed = 1.0  # the clock's speed at the last check (cooldowns are real seconds)

    def _raise(self, now: float, kind: str, subject: str, severity: str, message: str, out: list[Alert], seen: set) -> None:
        key = (kind, subject)
        seen.add(key)
        last = self._active.get(key)
        if last is not None and (now - last) / self._speed < self.cfg.alert_cooldown_s:  # real seconds
            return
        self._active[key] = now
        out.append(Alert(ts=now, kind=kind, severity=severity, subject=subject, message=message))

    def check(
        self,
        now: float,
        samples: Iterable[ActorSample],
        *,
        feed_last: Mapping[str, float | None] = {},
        spot_last: float | None = None,
        quote_last: Mapping[str, float | None] = {},
        total_restarts: int = 0,
        started_ts: float | None = None,
        speed: float = 1.0,
        keepup: KeepUp | None = None,
    ) -> tuple[list[HealthSnapshot], list[Alert]]:
        cfg = self.cfg
        self._speed = speed
        snaps: list[HealthSnapshot] = []
        alerts: list[Alert] = []
        seen: set[tuple[str, str]] = set()
        # Grace period: nothing is "silent" before it had the time to speak once.
        since = started_ts if started_ts is not None else now

        def age(ts: float | None) -> float:
            return (now - (ts if ts is not None else since)) / speed

        for s in samples:
            snaps.append(
                HealthSnapshot(
                    ts=now, actor=s.name, inbox_depth=s.inbox_depth, inbox_peak=s.inbox_peak, msgs_in=s.msgs_in,
                    msgs_out=s.msgs_out, last_msg_age_s=age(s.last_msg_ts) if s.last_msg_ts is not None else None,
                    restarts=s.restarts, errors=s.errors, state=s.state,
                )
            )
            new_errors = s.errors - self._last_errors.get(s.name, 0)
            self._last_errors[s.name] = s.errors
            if new_errors > cfg.error_spike:
                self._raise(now, "error_spike", s.name, "warning",
                            f"{s.name}: {new_errors} errors in the last {cfg.interval_s:g}s", alerts, seen)
            if s.inbox_capacity and s.inbox_depth > cfg.backlog_fraction * s.inbox_capacity:
                self._raise(now, "backlog", s.name, "warning",
                            f"{s.name}: inbox {s.inbox_depth}/{s.inbox_capacity}", alerts, seen)

        if age(spot_last) > cfg.spot_gap_s:
            self._raise(now, "spot_gap", "index", "critical",
                        f"no spot index update for {age(spot_last):.0f}s: pricing stopped", alerts, seen)
        for feed, ts in sorted(feed_last.items()):
            if age(ts) > cfg.feed_gap_s:
                self._raise(now, "feed_gap", feed, "warning", f"feed {feed} silent for {age(ts):.0f}s", alerts, seen)
        silent = sorted(t for t, ts in quote_last.items() if age(ts) > cfg.quote_gap_s)
        if silent:
            names = ", ".join(silent[:5]) + (f" and {len(silent) - 5} more" if len(silent) > 5 else "")
            self._raise(now, "quote_gap", "markets", "warning",
                        f"{len(silent)} open markets without a quote for > {cfg.quote_gap_s:g}s: {names}", alerts, seen)

        if keepup is not None and age(None) > cfg.behind_grace_s:  # start-up (snapshots, warm-up) is not falling behind
            why = behind(keepup, speed=speed, max_lag_s=cfg.behind_lag_s, max_stale_share=cfg.behind_stale_share)
            if why is not None:
                todo = (f"lower --speed (now {speed:g}x)" if speed > 1.0
                        else "the machine is too slow or too busy: check its CPU load, or watch fewer series")
                self._raise(now, "falling_behind", "kbot", "warning",
                            f"kbot is falling behind the venue: {why}; decisions are made on old data: {todo}", alerts, seen)

        real_now = now / speed
        self._restart_marks.append((real_now, total_restarts))
        while self._restart_marks and real_now - self._restart_marks[0][0] > cfg.restart_window_s:
            self._restart_marks.popleft()
        recent = total_restarts - self._restart_marks[0][1]
        if recent > cfg.restart_storm:
            self._raise(now, "restart_storm", "tree", "critical",
                        f"{recent} restarts in the last {cfg.restart_window_s:g}s", alerts, seen)

        for key in [k for k in self._active if k not in seen]:
            del self._active[key]
            kind, subject = key
            alerts.append(Alert(ts=now, kind="resolved", severity="info", subject=subject, message=f"{kind} cleared"))
        return snaps, alerts
