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
- ``daily_loss_near`` (warning): today's (UTC) realized PnL at or below
  ``-daily_loss_warn_fraction * max_daily_loss``: the kill switch trips at the full limit.
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

import math
from collections import deque
from collections.abc import Iterable, Mapping
from decimal import Decimal

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
    # today's realized loss at or beyond this fraction of risk.max_daily_loss -> daily_loss_near
    # (the kill switch trips at the full limit); 0 turns the alert off
    daily_loss_warn_fraction: float = 0.8
    # Alert webhook (kbot.alerts): the URL is a secret (env KBOT_HEALTH__WEBHOOK_URL or .env)
    webhook_url: str | None = None
    webhook_format: str = "auto"  # auto (from the URL's host) | discord | slack | telegram | json
    telegram_chat_id: str | None = None  # the chat a Telegram bot posts to (webhook_format telegram)
    behind_lag_s: float = 2.0  # venue quotes later than this (p90, real s) -> falling_behind
    behind_stale_share: float = 0.5  # ... or more than this share of decisions PASS for stale data
    behind_grace_s: float = 30.0  # not before this long after the start
    webhook_timeout_s: float = 5.0
    webhook_rate_per_min: float = 20.0  # at most this many posts a minute (Telegram groups allow 20) ...
    webhook_burst: int = 5  # ... after a burst of this many
    webhook_retries: int = 5  # retries of a failed post (network error, 429, 5xx), backing off
    webhook_backoff_s: float = 1.0  # first retry after this, doubling ...
    webhook_backoff_max_s: float = 60.0  # ... up to this (also caps a service's Retry-After)
    webhook_queue: int = 100  # alerts waiting for the webhook; beyond: dropped from the webhook only

    def __attrs_post_init__(self) -> None:
        if self.interval_s <= 0:
            raise ValueError("health.interval_s must be > 0")
        if not 0 < self.backlog_fraction <= 1:
            raise ValueError("health.backlog_fraction must be in (0, 1]")
        if not 0 <= self.daily_loss_warn_fraction <= 1:
            raise ValueError("health.daily_loss_warn_fraction must be in [0, 1] (0: off)")
        if self.webhook_format not in ("auto", "discord", "slack", "telegram", "json"):
            raise ValueError("health.webhook_format must be auto, discord, slack, telegram or json")
        if self.webhook_url and self.resolved_format == "telegram" and not self.telegram_chat_id:
            raise ValueError("health.telegram_chat_id is required with webhook_format = telegram")
        if self.webhook_rate_per_min <= 0 or self.webhook_burst < 1 or self.webhook_queue < 1:
            raise ValueError("health.webhook_rate_per_min must be > 0, webhook_burst and webhook_queue >= 1")
        if self.webhook_retries < 0 or self.webhook_backoff_s <= 0 or self.webhook_backoff_max_s < self.webhook_backoff_s:
            raise ValueError("health.webhook_retries must be >= 0 and 0 < webhook_backoff_s <= webhook_backoff_max_s")

    @property
    def resolved_format(self) -> str:
        """The webhook format in use (``auto`` resolved from the URL's host)."""
        from kbot.alerts import WebhookConfig

        return WebhookConfig(url=self.webhook_url, format=self.webhook_format).resolved_format


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
    """``max_daily_loss``: the risk limit (dollars) the ``daily_loss_near`` alert warns about
    (None: no such alert)."""

    def __init__(self, cfg: HealthConfig, *, max_daily_loss: Decimal | None = None) -> None:
        self.cfg = cfg
        self.max_daily_loss = max_daily_loss
        self._speed = 1.0  # the clock's speed at the last check: message times -> real seconds
        self._last_errors: dict[str, int] = {}
        self._restart_marks: deque[tuple[float, int]] = deque()
        self._active: dict[tuple[str, str], float] = {}  # (kind, subject) -> last alerted ts

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
        daily_pnl: tuple[float, Decimal] | None = None,
        keepup: KeepUp | None = None,
    ) -> tuple[list[HealthSnapshot], list[Alert]]:
        """``daily_pnl``: ``(ts, realized PnL of ts's UTC day)`` from the ledger's last portfolio
        state (None: none yet)."""
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

        loss = self._loss_near(now, daily_pnl)
        if loss is not None:
            self._raise(now, "daily_loss_near", "risk", "warning", loss, alerts, seen)

        for key in [k for k in self._active if k not in seen]:
            del self._active[key]
            kind, subject = key
            alerts.append(Alert(ts=now, kind="resolved", severity="info", subject=subject, message=f"{kind} cleared"))
        return snaps, alerts

    def _loss_near(self, now: float, daily_pnl: tuple[float, Decimal] | None) -> str | None:
        """The message when today's realized loss is near the daily limit, else None."""
        limit, frac = self.max_daily_loss, self.cfg.daily_loss_warn_fraction
        if daily_pnl is None or limit is None or limit <= 0 or frac <= 0:
            return None
        ts, pnl = daily_pnl
        if math.floor(ts / 86400.0) != math.floor(now / 86400.0):
            return None  # yesterday's figure: the day rolled over
        warn_at = -limit * Decimal(str(frac))
        if pnl > warn_at:
            return None
        return (f"realized PnL today ${pnl:,.2f} is {float(-pnl / limit):.0%} of the daily loss limit ${limit:,.2f} "
                f"(the kill switch trips at -${limit:,.2f})")
