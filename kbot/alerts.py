"""Alert delivery: a loguru line tagged ``event="alert"`` always, and optionally a webhook.

What raises alerts (``Alert.kind``; each has a human title in ``TITLES``):

- health (``kbot.health``): ``spot_gap`` and ``quote_gap`` (data gaps), ``feed_gap`` (a feed is
  down: silent too long), ``error_spike``, ``restart_storm``, ``backlog``, ``daily_loss_near``
  (today's realized loss close to the kill switch's limit) and ``resolved``;
- the decision actor: ``kill_switch`` (tripped / reset);
- execution (paper/live): ``reconciliation`` (kbot and the venue disagree: critical; the ledger
  took the venue's view: warning; cleared: info; ``reconciliation_alert`` builds it) and
  ``kalshi_auth`` (Kalshi refused the key while trading);
- the process: ``kbot_stopped`` when the supervision tree gave up (``stopped_alert``).

Formats (``health.webhook_format``): ``discord`` (an incoming webhook: ``content`` + one colored
embed), ``slack`` (incoming webhook: ``text`` + Block Kit blocks), ``telegram`` (the Bot API's
``sendMessage``: the URL is ``https://api.telegram.org/bot<token>/sendMessage`` and
``health.telegram_chat_id`` names the chat), ``json`` (generic: every field of the alert, plus
the one-line text under ``text`` and ``content``, which Slack- and Discord-compatible receivers
such as Mattermost show), and ``auto`` (the default: chosen from the URL's host; any other
host gets ``json``).

Delivery never blocks an actor: ``AlertSink.send`` logs the alert and puts it in a bounded
queue (``webhook_queue``; when full, the alert is dropped from the webhook only and counted:
it is still in the log and the ``alerts`` table). ``AlertSink.run`` (a child of the tree) posts
from that queue at most ``webhook_rate_per_min`` per minute with bursts of ``webhook_burst``,
and retries a failed post (network error, HTTP 429 or 5xx) up to ``webhook_retries`` times with
exponential backoff from ``webhook_backoff_s`` (capped at ``webhook_backoff_max_s``), or after
the ``Retry-After`` the service asks for. Other 4xx answers (a wrong URL, a revoked webhook, a
bad chat id) are not retried: they need a human, and the log line says so.

The webhook URL is a secret (it authorizes posting; Telegram's carries the bot token): it is
never logged. ``redact_url`` keeps only scheme and host; error texts are scrubbed of the URL
before they are logged (httpx puts it in its exception messages).
"""

from __future__ import annotations

import datetime as _dt
import html
import math
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import attrs
import httpx
import trio
from loguru import logger

from kbot.messages import Alert

if TYPE_CHECKING:
    from kbot.actorkit import ActorStats
    from kbot.health import HealthConfig

_LEVEL = {"info": "INFO", "warning": "WARNING", "critical": "ERROR"}
FORMATS = ("auto", "discord", "slack", "telegram", "json")

TITLES: dict[str, str] = {
    "kill_switch": "Kill switch",
    "restart_storm": "Restart storm",
    "feed_gap": "Feed down",
    "spot_gap": "Data gap: spot index",
    "quote_gap": "Data gap: quotes",
    "daily_loss_near": "Daily loss near limit",
    "reconciliation": "Reconciliation",
    "kalshi_auth": "Kalshi refused the API key",
    "error_spike": "Error spike",
    "backlog": "Backlog",
    "kbot_stopped": "kbot stopped",
    "resolved": "Resolved",
}
_ICON = {"critical": "\U0001f6a8", "warning": "\u26a0\ufe0f", "info": "\u2705"}  # rotating light, warning, check
_COLOR = {"critical": 0xE01E5A, "warning": 0xECB22E, "info": 0x2EB67D}  # Discord embed colors
# What each service takes in one message (Discord content 2000, embed description 4096; Telegram
# 4096; Slack section text 3000): longer messages are cut with an ellipsis.
_LIMIT = {"discord": 1900, "slack": 2900, "telegram": 4000, "json": 8000}


def format_alert(a: Alert) -> str:
    """The one-line form: the log line, and the text of every webhook format."""
    subject = f" [{a.subject}]" if a.subject else ""
    return f"kbot {a.severity.upper()} {a.kind}{subject}: {a.message}"


def title(a: Alert) -> str:
    return TITLES.get(a.kind, a.kind.replace("_", " ").capitalize())


def reconciliation_alert(ts: float, ticker: str | None, detail: str, severity: str = "critical") -> Alert:
    """The alert execution raises when the ledger and the venue disagree (critical: new orders
    in that market halt until a human looks), when the ledger took the venue's view (warning) and
    when a disagreement cleared (info)."""
    return Alert(ts=ts, kind="reconciliation", severity=severity, subject=ticker, message=detail)


def stopped_alert(ts: float, reason: str) -> Alert:
    """The process is about to exit because its supervision tree gave up."""
    return Alert(ts=ts, kind="kbot_stopped", severity="critical", subject=None, message=reason)


def detect_format(url: str) -> str:
    """``auto``: the format a webhook URL's host speaks; ``json`` for any other host."""
    host = (urlsplit(url).hostname or "").lower()
    if host in ("discord.com", "discordapp.com", "canary.discord.com", "ptb.discord.com"):
        return "discord"
    if host == "hooks.slack.com":
        return "slack"
    if host == "api.telegram.org":
        return "telegram"
    return "json"


def redact_url(url: str | None) -> str:
    """What of a webhook URL may be logged: scheme, host and port (the path, the query and any
    user:password authorize)."""
    if not url:
        return "(none)"
    parts = urlsplit(url)
    if not parts.scheme or not parts.hostname:
        return "<redacted>"
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    return f"{parts.scheme}://{parts.hostname}{port}/<redacted>"


def scrub(text: str, url: str | None) -> str:
    """``text`` with the secret URL (and its path alone) replaced by its redacted form."""
    if not url:
        return text
    text = text.replace(url, redact_url(url))
    path = urlsplit(url).path
    if len(path) > 1:
        text = text.replace(path, "/<redacted>")
    return text


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def _iso(ts: float) -> str:
    return _dt.datetime.fromtimestamp(ts, _dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def payload(a: Alert, fmt: str, *, origin: str = "", chat_id: str | None = None) -> dict[str, Any]:
    """The JSON body for ``fmt`` (discord | slack | telegram | json). ``origin`` names the
    sender (e.g. ``sim/shadow``) so operators with several kbots know which one speaks."""
    head = f"{_ICON.get(a.severity, '')} {a.severity.upper()} {title(a)}".strip()
    who = f"kbot {origin}".strip()
    when = _iso(a.ts)
    limit = _LIMIT.get(fmt, 8000)
    message = _cut(a.message, limit)
    if fmt == "discord":
        embed: dict[str, Any] = {
            "title": _cut(f"{title(a)}" + (f": {a.subject}" if a.subject else ""), 250),
            "description": message,
            "color": _COLOR.get(a.severity, 0x888888),
            "timestamp": when,
            "footer": {"text": _cut(f"{who} \u00b7 {a.kind}", 200)},
        }
        # content drives the push notification text; the embed carries the detail
        return {"username": "kbot", "content": _cut(f"**{head}** ({who})", 1900), "embeds": [embed],
                "allowed_mentions": {"parse": []}}
    if fmt == "slack":
        subject = f" \u00b7 {a.subject}" if a.subject else ""
        return {
            "text": _cut(f"{head}{subject}: {a.message}", 2900),  # fallback for notifications
            "blocks": [
                {"type": "section", "text": {"type": "mrkdwn", "text": _cut(f"*{head}*{subject}\n{message}", 2900)}},
                {"type": "context", "elements": [{"type": "mrkdwn", "text": f"{who} \u00b7 `{a.kind}` \u00b7 {when}"}]},
            ],
        }
    if fmt == "telegram":
        subject = f" \u00b7 {html.escape(a.subject)}" if a.subject else ""
        text = (f"<b>{html.escape(head)}</b>{subject}\n{html.escape(message)}\n"
                f"<i>{html.escape(who)} \u00b7 {a.kind} \u00b7 {when}</i>")
        return {"chat_id": chat_id, "text": _cut(text, 4096), "parse_mode": "HTML",
                "disable_web_page_preview": True}
    return {
        "source": "kbot", "origin": origin, "kind": a.kind, "title": title(a), "severity": a.severity,
        "subject": a.subject, "message": message, "ts": a.ts, "time": when, "text": format_alert(a),
        "content": format_alert(a),
    }  # fmt: skip


def webhook_body(a: Alert) -> dict[str, Any]:
    """The generic JSON body (``json`` format)."""
    return payload(a, "json")


# ----------------------------------------------------------------------------- pacing (pure)


class RateLimiter:
    """Token bucket: ``burst`` posts at once, then ``per_min`` per minute. Pure: time is passed in."""

    def __init__(self, per_min: float, burst: int) -> None:
        if per_min <= 0 or burst < 1:
            raise ValueError("rate per minute must be > 0 and burst >= 1")
        self.rate = per_min / 60.0
        self.burst = float(burst)
        self.tokens = float(burst)
        self.at: float | None = None

    def _refill(self, now: float) -> None:
        if self.at is not None:
            self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now

    def wait_s(self, now: float) -> float:
        """Seconds until a post may go (0: now)."""
        self._refill(now)
        return 0.0 if self.tokens >= 1.0 else (1.0 - self.tokens) / self.rate

    def take(self, now: float) -> None:
        self._refill(now)
        self.tokens -= 1.0


def retry_after_s(response: httpx.Response) -> float | None:
    """The wait a service asked for: the ``Retry-After`` header (seconds), Discord's
    ``retry_after`` or Telegram's ``parameters.retry_after`` in the JSON body."""
    header = response.headers.get("retry-after")
    if header:
        try:
            v = float(header)
            if math.isfinite(v) and v >= 0:
                return v
        except ValueError:
            pass  # an HTTP date: fall back to the body or to backoff
    try:
        body = response.json()
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(body, dict):
        return None
    params = body.get("parameters")
    for asked in (body.get("retry_after"), params.get("retry_after") if isinstance(params, dict) else None):
        if isinstance(asked, (int, float)) and math.isfinite(asked) and asked >= 0:
            return float(asked)
    return None


def backoff_s(attempt: int, base: float, cap: float, asked: float | None = None) -> float:
    """Wait before retry ``attempt`` (1, 2, ...): what the service asked for (up to ``cap``),
    else ``base * 2**(attempt-1)`` up to ``cap``. No jitter: one client per webhook has no herd."""
    if asked is not None:
        return min(asked, cap)
    return min(base * 2.0 ** (attempt - 1), cap)


def _retryable(status: int) -> bool:
    return status == 429 or status >= 500


def _describe(response: httpx.Response) -> str:
    """The service's own words about a refusal (Telegram ``description``, Discord ``message``,
    Slack's plain-text body), short."""
    try:
        body = response.json()
        if isinstance(body, dict):
            text = body.get("description") or body.get("message") or body.get("error") or ""
            return _cut(str(text), 200)
    except (ValueError, UnicodeDecodeError):
        pass
    return _cut(response.text.strip(), 200)


# ----------------------------------------------------------------------------- the sink


@attrs.frozen(kw_only=True)
class WebhookConfig:
    url: str | None = None
    format: str = "auto"
    chat_id: str | None = None
    timeout_s: float = 5.0
    rate_per_min: float = 20.0
    burst: int = 5
    retries: int = 5
    backoff_s: float = 1.0
    backoff_max_s: float = 60.0
    queue: int = 100

    @classmethod
    def from_health(cls, h: HealthConfig) -> WebhookConfig:
        return cls(url=h.webhook_url, format=h.webhook_format, chat_id=h.telegram_chat_id, timeout_s=h.webhook_timeout_s,
                   rate_per_min=h.webhook_rate_per_min, burst=h.webhook_burst, retries=h.webhook_retries,
                   backoff_s=h.webhook_backoff_s, backoff_max_s=h.webhook_backoff_max_s, queue=h.webhook_queue)

    @property
    def resolved_format(self) -> str:
        if self.format == "auto":
            return detect_format(self.url) if self.url else "json"
        return self.format


class AlertSink:
    """Logs every alert; queues it for the webhook; ``run`` delivers the queue.

    The queue belongs to the sink (the tree keeps it), so a restarted ``run`` continues with what
    was waiting. ``stats`` (optional) counts alerts queued (in), posted (out) and failed (errors)
    for health. ``sleep``/``now`` are Trio's (real seconds; tests use the autojump clock)."""

    def __init__(
        self,
        webhook_url: str | None = None,
        *,
        timeout_s: float = 5.0,
        client: httpx.AsyncClient | None = None,
        config: WebhookConfig | None = None,
        origin: str = "",
        stats: ActorStats | None = None,
        sleep: Callable[[float], Awaitable[None]] = trio.sleep,
        now: Callable[[], float] = trio.current_time,
    ) -> None:
        cfg = config if config is not None else WebhookConfig(url=webhook_url, timeout_s=timeout_s)
        self.cfg = cfg
        self.webhook_url = cfg.url
        self.format = cfg.resolved_format
        if self.format not in FORMATS[1:]:
            raise ValueError(f"health.webhook_format: expected one of {', '.join(FORMATS)}, got {cfg.format!r}")
        if self.format == "telegram" and cfg.url and not cfg.chat_id:
            raise ValueError("health.telegram_chat_id is required for Telegram alerts (the chat the bot posts to)")
        self.origin = origin
        self.stats = stats
        self._client = client
        self._sleep = sleep
        self._now = now
        self._limiter = RateLimiter(cfg.rate_per_min, cfg.burst)
        self._send, self._recv = trio.open_memory_channel[Alert](cfg.queue)
        self.sent = 0
        self.failed = 0
        self.dropped = 0
        self._dropping = False

    @classmethod
    def from_config(cls, h: HealthConfig, *, origin: str = "", stats: ActorStats | None = None) -> AlertSink:
        return cls(config=WebhookConfig.from_health(h), origin=origin, stats=stats)

    @property
    def pending(self) -> int:
        return self._send.statistics().current_buffer_used

    # ------------------------------------------------------------------ the actors' side

    def send_nowait(self, alert: Alert) -> None:
        """Log the alert and queue it for the webhook; never waits (a full queue drops it from
        the webhook only, counted and logged once per overflow)."""
        logger.bind(event="alert", kind=alert.kind, severity=alert.severity, subject=alert.subject).log(
            _LEVEL.get(alert.severity, "WARNING"), format_alert(alert)
        )
        if not self.webhook_url:
            return
        try:
            self._send.send_nowait(alert)
        except trio.WouldBlock:
            self.dropped += 1
            if not self._dropping:
                self._dropping = True
                logger.bind(event="alert_delivery").warning(
                    "alert webhook queue full ({} waiting): alerts are dropped from the webhook until it drains "
                    "(they are still logged and recorded)", self.cfg.queue)
            return
        self._dropping = False
        if self.stats is not None:
            self.stats.msgs_in += 1

    async def send(self, alert: Alert) -> None:
        """Same as ``send_nowait`` (kept async: the sink is an outbox like any other)."""
        self.send_nowait(alert)

    # ------------------------------------------------------------------ delivery

    async def run(self) -> None:
        """Deliver queued alerts until cancelled (a child of the tree). Without a webhook URL
        it only waits."""
        if not self.webhook_url:
            await trio.sleep_forever()
        async for alert in self._recv:
            wait = self._limiter.wait_s(self._now())
            if wait > 0:
                await self._sleep(wait)
            self._limiter.take(self._now())
            await self.deliver(alert)

    async def deliver(self, alert: Alert, *, retries: int | None = None) -> bool:
        """Post one alert, retrying per the configuration. True when the service took it."""
        retries = self.cfg.retries if retries is None else retries
        body = payload(alert, self.format, origin=self.origin, chat_id=self.cfg.chat_id)
        attempt = 0
        while True:
            attempt += 1
            asked: float | None = None
            try:
                r = await self._http().post(self.webhook_url or "", json=body)
            except httpx.HTTPError as exc:
                why = f"{type(exc).__name__}: {scrub(str(exc), self.webhook_url)}"
                retry = True
            else:
                if 200 <= r.status_code < 300 and self._accepted(r):
                    self.sent += 1
                    if self.stats is not None:
                        self.stats.msgs_out += 1
                    return True
                why = f"HTTP {r.status_code} {scrub(_describe(r), self.webhook_url)}".strip()
                retry = _retryable(r.status_code)
                asked = retry_after_s(r) if retry else None
            if not retry or attempt > retries:
                self.failed += 1
                if self.stats is not None:
                    self.stats.errors += 1
                hint = "" if retry else " (not retried: check health.webhook_url / webhook_format / telegram_chat_id)"
                logger.bind(event="alert_delivery", kind=alert.kind, status=why).error(
                    "alert {} not delivered to the {} webhook at {} after {} attempt(s): {}{}", alert.kind, self.format,
                    redact_url(self.webhook_url), attempt, why, hint)
                return False
            delay = backoff_s(attempt, self.cfg.backoff_s, self.cfg.backoff_max_s, asked)
            logger.bind(event="alert_delivery", kind=alert.kind).warning(
                "alert webhook ({} at {}) failed: {}; retry {}/{} in {:.1f}s", self.format, redact_url(self.webhook_url),
                why, attempt, retries, delay)
            await self._sleep(delay)

    def _accepted(self, r: httpx.Response) -> bool:
        """Telegram answers 200 with ``{"ok": false}`` on some refusals."""
        if self.format != "telegram":
            return True
        try:
            body = r.json()
        except (ValueError, UnicodeDecodeError):
            return True
        return not (isinstance(body, dict) and body.get("ok") is False)

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self.cfg.timeout_s)
        return self._client

    async def aclose(self, flush_s: float = 3.0) -> None:
        """At stop: one last attempt (no retries, at most ``flush_s`` in all) for what is still
        queued, then close the client. What cannot go is counted in the log."""
        left: list[Alert] = []
        while True:
            try:
                left.append(self._recv.receive_nowait())
            except (trio.WouldBlock, trio.EndOfChannel, trio.ClosedResourceError):
                break
        if left and self.webhook_url:
            with trio.move_on_after(flush_s):
                while left:
                    await self.deliver(left[0], retries=0)
                    left.pop(0)
            if left:
                logger.bind(event="alert_delivery").warning(
                    "{} alert(s) not sent to the webhook at stop (they are in the log and the alerts table)", len(left))
        if self._client is not None:
            await self._client.aclose()
            self._client = None

