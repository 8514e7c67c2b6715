"""Alert delivery: a loguru line tagged ``event="alert"`` always, and optionally a webhook.

The webhook body carries the text under both ``content`` (Discord) and ``text`` (Slack), so
one URL of either kind works. Delivery failures are logged (not raised): an unreachable chat
service must never disturb trading. The webhook URL is a secret (it authorizes posting) and is
never logged.
"""

from __future__ import annotations

import httpx
from loguru import logger

from kbot.messages import Alert

_LEVEL = {"info": "INFO", "warning": "WARNING", "critical": "ERROR"}


def format_alert(a: Alert) -> str:
    subject = f" [{a.subject}]" if a.subject else ""
    return f"kbot {a.severity.upper()} {a.kind}{subject}: {a.message}"


def webhook_body(a: Alert) -> dict[str, object]:
    text = format_alert(a)
    return {"content": text, "text": text, "kind": a.kind, "severity": a.severity, "subject": a.subject, "ts": a.ts}


class AlertSink:
    def __init__(self, webhook_url: str | None = None, *, timeout_s: float = 5.0,
                 client: httpx.AsyncClient | None = None) -> None:
        self.webhook_url = webhook_url
        self.timeout_s = timeout_s
        self._client = client
        self.sent = 0
        self.failed = 0

    async def send(self, alert: Alert) -> None:
        logger.bind(event="alert", kind=alert.kind, severity=alert.severity, subject=alert.subject).log(
            _LEVEL.get(alert.severity, "WARNING"), format_alert(alert)
        )
        if not self.webhook_url:
            return
        try:
            if self._client is None:
                self._client = httpx.AsyncClient(timeout=self.timeout_s)
            r = await self._client.post(self.webhook_url, json=webhook_body(alert))
            r.raise_for_status()
            self.sent += 1
        except httpx.HTTPError as exc:
            self.failed += 1
            logger.bind(event="alert_delivery").warning("alert webhook failed ({}): {}", type(exc).__name__,
                                                       alert.kind)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
