"""Alert webhooks (``kbot.alerts``): the four formats on the shapes Discord, Slack, Telegram and a
generic receiver take; URL redaction; pacing (rate limit, retries with backoff, Retry-After);
and a sink that never blocks the actor that raises the alert."""

from __future__ import annotations

import json
from decimal import Decimal

import httpx
import pytest
import trio

from actors.health import run_health
from kbot.actorkit import ActorStats, Collect
from kbot.alerts import (
    AlertSink,
    RateLimiter,
    WebhookConfig,
    backoff_s,
    detect_format,
    payload,
    reconciliation_alert,
    redact_url,
    retry_after_s,
    scrub,
    stopped_alert,
    webhook_body,
)
from kbot.clock import ScaledClock
from kbot.health import ActorSample, HealthConfig, HealthMonitor
from kbot.messages import Alert, LatencySample

DISCORD = "https://discord.com/api/webhooks/123456/SECRETtokenABC"
SLACK = "https://hooks.slack.com/services/T000/B000/SECRETxyz"
TELEGRAM = "https://api.telegram.org/bot123:SECRETbot/sendMessage"
GENERIC = "https://ops.example.net/hooks/SECRETgeneric?key=SECRETquery"
SECRETS = ("SECRET", "123456", "T000")

KILL = Alert(ts=1_764_000_000.0, kind="kill_switch", severity="critical", subject=None,
             message="tripped: loss: daily realized PnL -101 <= -100")  # fmt: skip
GAP = Alert(ts=1_764_000_000.0, kind="feed_gap", severity="warning", subject="kraken", message="feed kraken silent for 45s")


# ----------------------------------------------------------------------------- formats


def test_format_is_detected_from_the_webhook_host():
    assert detect_format(DISCORD) == "discord"
    assert detect_format("https://discordapp.com/api/webhooks/1/x") == "discord"
    assert detect_format(SLACK) == "slack"
    assert detect_format(TELEGRAM) == "telegram"
    assert detect_format(GENERIC) == "json"
    assert WebhookConfig(url=SLACK, format="auto").resolved_format == "slack"
    assert WebhookConfig(url=SLACK, format="json").resolved_format == "json"


def test_discord_payload_has_content_and_a_colored_embed_and_mentions_nobody():
    b = payload(KILL, "discord", origin="prod/live")
    assert "CRITICAL Kill switch" in b["content"] and "prod/live" in b["content"]
    (embed,) = b["embeds"]
    assert embed["title"] == "Kill switch" and embed["description"] == KILL.message
    assert embed["color"] == 0xE01E5A and embed["timestamp"] == "2025-11-24T16:00:00Z"
    assert b["allowed_mentions"] == {"parse": []}  # an alert text with @everyone pings no one
    assert len(b["content"]) <= 2000 and len(embed["description"]) <= 4096


def test_slack_payload_has_fallback_text_and_blocks():
    b = payload(GAP, "slack", origin="sim/shadow")
    assert b["text"].startswith("\u26a0\ufe0f WARNING Feed down \u00b7 kraken: feed kraken silent")
    section, context = b["blocks"]
    assert section["type"] == "section" and section["text"]["type"] == "mrkdwn"
    assert "*\u26a0\ufe0f WARNING Feed down*" in section["text"]["text"]
    assert "`feed_gap`" in context["elements"][0]["text"] and "sim/shadow" in context["elements"][0]["text"]


def test_telegram_payload_is_html_escaped_for_send_message():
    a = Alert(ts=1.0, kind="reconciliation", severity="critical", subject="KXBTC-<X>",
              message="ledger 5 vs venue 3 & rising")  # fmt: skip
    b = payload(a, "telegram", chat_id="-100123")
    assert b["chat_id"] == "-100123" and b["parse_mode"] == "HTML" and b["disable_web_page_preview"] is True
    assert "<b>\U0001f6a8 CRITICAL Reconciliation</b>" in b["text"]
    assert "KXBTC-&lt;X&gt;" in b["text"] and "venue 3 &amp; rising" in b["text"]


def test_generic_json_carries_every_field_and_the_one_line_text():
    b = webhook_body(GAP)
    assert b["kind"] == "feed_gap" and b["severity"] == "warning" and b["subject"] == "kraken"
    assert b["title"] == "Feed down" and b["ts"] == GAP.ts and b["time"] == "2025-11-24T16:00:00Z"
    assert b["text"] == b["content"] == "kbot WARNING feed_gap [kraken]: feed kraken silent for 45s"
    json.dumps(b)  # serializable as is


def test_long_messages_are_cut_to_what_each_service_takes():
    a = Alert(ts=1.0, kind="error_spike", severity="warning", subject="x", message="y" * 10_000)
    assert len(payload(a, "discord")["embeds"][0]["description"]) <= 4096
    assert len(payload(a, "slack")["blocks"][0]["text"]["text"]) <= 3000
    assert len(payload(a, "telegram", chat_id="1")["text"]) <= 4096


def test_alert_helpers_for_other_parts():
    r = reconciliation_alert(5.0, "KXBTCD-T1", "venue position 3, ledger 5")
    assert (r.kind, r.severity, r.subject) == ("reconciliation", "critical", "KXBTCD-T1")
    s = stopped_alert(6.0, "supervisor 'root' gave up")
    assert (s.kind, s.severity) == ("kbot_stopped", "critical")


def test_urls_are_redacted_to_scheme_and_host():
    assert redact_url(DISCORD) == "https://discord.com/<redacted>"
    assert redact_url(TELEGRAM) == "https://api.telegram.org/<redacted>"
    assert redact_url(None) == "(none)" and redact_url("not a url") == "<redacted>"
    text = f"Client error '404 Not Found' for url '{DISCORD}'"
    assert "SECRET" not in scrub(text, DISCORD) and "discord.com" in scrub(text, DISCORD)


def test_config_rejects_telegram_without_chat_and_unknown_formats():
    with pytest.raises(ValueError, match="telegram_chat_id"):
        HealthConfig(webhook_url=TELEGRAM)
    with pytest.raises(ValueError, match="webhook_format"):
        HealthConfig(webhook_format="teams")
    assert HealthConfig(webhook_url=TELEGRAM, telegram_chat_id="42").resolved_format == "telegram"


# ----------------------------------------------------------------------------- pacing (pure)


def test_rate_limiter_allows_a_burst_then_the_rate():
    rl = RateLimiter(per_min=60, burst=2)
    assert rl.wait_s(0.0) == 0.0
    rl.take(0.0)
    rl.take(0.0)
    assert rl.wait_s(0.0) == pytest.approx(1.0)
    assert rl.wait_s(0.5) == pytest.approx(0.5)
    assert rl.wait_s(1.0) == 0.0


def test_backoff_doubles_up_to_the_cap_and_honors_what_the_service_asks():
    assert [backoff_s(n, 1.0, 10.0) for n in (1, 2, 3, 4, 5)] == [1.0, 2.0, 4.0, 8.0, 10.0]
    assert backoff_s(1, 1.0, 10.0, asked=7.5) == 7.5
    assert backoff_s(1, 1.0, 10.0, asked=900.0) == 10.0


def test_retry_after_from_header_discord_body_and_telegram_body():
    assert retry_after_s(httpx.Response(429, headers={"Retry-After": "3"})) == 3.0
    assert retry_after_s(httpx.Response(429, json={"message": "rate limited", "retry_after": 1.25})) == 1.25
    assert retry_after_s(httpx.Response(429, json={"ok": False, "parameters": {"retry_after": 9}})) == 9.0
    assert retry_after_s(httpx.Response(429, headers={"Retry-After": "Wed, 21 Oct 2026 07:28:00 GMT"})) is None
    assert retry_after_s(httpx.Response(503, text="busy")) is None


# ----------------------------------------------------------------------------- delivery


def _sink(url: str, handler, **cfg) -> AlertSink:
    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    fmt = cfg.pop("format", "auto")
    return AlertSink(config=WebhookConfig(url=url, format=fmt, **cfg), client=client, origin="sim/shadow",
                     stats=ActorStats("alerts"))


async def _deliver_all(sink: AlertSink, alerts: list[Alert], *, until: float = 600.0) -> None:
    async with trio.open_nursery() as n:
        n.start_soon(sink.run)
        for a in alerts:
            sink.send_nowait(a)
        with trio.move_on_after(until):
            while sink.sent + sink.failed < len(alerts):
                await trio.sleep(0.01)
        n.cancel_scope.cancel()


async def test_a_5xx_is_retried_with_backoff_then_delivered(autojump_clock, loguru_lines):
    posts: list[tuple[float, dict]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        posts.append((trio.current_time(), json.loads(request.content)))
        return httpx.Response(502 if len(posts) < 3 else 204)

    sink = _sink(DISCORD, handler, backoff_s=1.0)
    t0 = trio.current_time()
    await _deliver_all(sink, [KILL])
    assert sink.sent == 1 and sink.failed == 0 and sink.stats.msgs_out == 1
    assert [round(t - t0, 3) for t, _ in posts] == [0.0, 1.0, 3.0]  # backoff 1 s, then 2 s
    assert "embeds" in posts[0][1]  # Discord format chosen from the host
    assert not any(s in line for line in loguru_lines for s in SECRETS)
    assert any("retry 1/5" in line and "https://discord.com/<redacted>" in line for line in loguru_lines)


async def test_429_waits_what_the_service_asks(autojump_clock):
    times: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        times.append(trio.current_time())
        if len(times) == 1:
            return httpx.Response(429, headers={"Retry-After": "7"}, json={"ok": False})
        return httpx.Response(200, text="ok")

    sink = _sink(SLACK, handler)
    await _deliver_all(sink, [GAP])
    assert sink.sent == 1 and times[1] - times[0] == pytest.approx(7.0)


async def test_a_refusal_is_not_retried_and_the_log_names_no_secret(autojump_clock, loguru_lines):
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(404, json={"message": "Unknown Webhook", "code": 10015})

    sink = _sink(DISCORD, handler)
    await _deliver_all(sink, [KILL])
    assert len(calls) == 1 and sink.failed == 1 and sink.sent == 0 and sink.stats.errors == 1
    (line,) = [m for m in loguru_lines if "not delivered" in m]
    assert "HTTP 404 Unknown Webhook" in line and "check health.webhook_url" in line
    assert not any(s in m for m in loguru_lines for s in SECRETS)


async def test_network_errors_are_retried_and_scrubbed(autojump_clock, loguru_lines):
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"cannot connect to {GENERIC}", request=request)

    sink = _sink(GENERIC, handler, retries=2, backoff_s=0.5)
    await _deliver_all(sink, [GAP])
    assert sink.failed == 1 and sink.sent == 0
    assert sum("retry" in m for m in loguru_lines) == 2
    assert not any(s in m for m in loguru_lines for s in SECRETS)


async def test_telegram_ok_false_is_a_refusal(autojump_clock):
    bodies = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        return httpx.Response(200, json={"ok": False, "description": "Bad Request: chat not found"})

    sink = _sink(TELEGRAM, handler, chat_id="-10042")
    await _deliver_all(sink, [KILL])
    assert sink.failed == 1 and len(bodies) == 1 and bodies[0]["chat_id"] == "-10042"


async def test_posts_are_rate_limited(autojump_clock):
    times: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        times.append(trio.current_time())
        return httpx.Response(204)

    sink = _sink(GENERIC, handler, rate_per_min=30, burst=2)
    t0 = trio.current_time()
    await _deliver_all(sink, [GAP] * 5)
    assert [round(t - t0, 3) for t in times] == [0.0, 0.0, 2.0, 4.0, 6.0]


async def test_a_hung_webhook_never_blocks_the_sender_and_overflow_is_counted(autojump_clock, loguru_lines):
    async def handler(request: httpx.Request) -> httpx.Response:
        await trio.sleep_forever()
        raise AssertionError  # pragma: no cover

    sink = _sink(GENERIC, handler, queue=3)
    async with trio.open_nursery() as n:
        n.start_soon(sink.run)
        await trio.sleep(0.1)  # the delivery task waits for the first alert
        t0 = trio.current_time()
        for _ in range(10):
            await sink.send(GAP)  # never waits: the actor goes on
        assert trio.current_time() == t0
        await trio.sleep(1.0)
        assert sink.pending == 3 and sink.dropped == 6  # one in flight, three queued
        n.cancel_scope.cancel()
    assert sum("queue full" in m for m in loguru_lines) == 1  # once per overflow, not per alert
    assert sum("kbot WARNING feed_gap" in m for m in loguru_lines) == 10  # every alert is still logged


async def test_without_a_url_alerts_are_only_logged(autojump_clock, loguru_lines):
    sink = AlertSink(None)
    async with trio.open_nursery() as n:
        n.start_soon(sink.run)
        sink.send_nowait(KILL)
        await trio.sleep(5)
        n.cancel_scope.cancel()
    assert sink.pending == 0 and sink.sent == 0
    assert any("kbot CRITICAL kill_switch" in m for m in loguru_lines)


async def test_close_makes_one_last_attempt_for_queued_alerts(autojump_clock):
    got = []

    def handler(request: httpx.Request) -> httpx.Response:
        got.append(json.loads(request.content)["kind"])
        return httpx.Response(204)

    sink = _sink(GENERIC, handler)
    sink.send_nowait(KILL)
    sink.send_nowait(GAP)
    await sink.aclose()
    assert got == ["kill_switch", "feed_gap"]


# ----------------------------------------------------------------------------- daily loss near the limit


def test_daily_loss_near_limit_warns_once_and_resolves_on_a_new_day():
    m = HealthMonitor(HealthConfig(alert_cooldown_s=1e9, daily_loss_warn_fraction=0.8), max_daily_loss=Decimal(100))
    day = 1_764_000_000.0 - 1_764_000_000.0 % 86400  # 00:00 UTC
    now = day + 3600

    def loss(pnl: str, ts: float = now) -> list[Alert]:
        return m.check(now, [], spot_last=now, started_ts=now, daily_pnl=(ts, Decimal(pnl)))[1]

    assert loss("-79.99") == []
    (a,) = loss("-80")
    assert (a.kind, a.severity, a.subject) == ("daily_loss_near", "warning", "risk")
    assert "-80.00" in a.message and "80%" in a.message and "$100.00" in a.message
    assert loss("-95") == []  # still on: within the cooldown
    # yesterday's figure does not count today
    (r,) = loss("-95", ts=day - 10)
    assert (r.kind, r.subject) == ("resolved", "risk")


def test_daily_loss_alert_off_without_a_limit_or_with_fraction_zero():
    for m in (HealthMonitor(HealthConfig()), HealthMonitor(HealthConfig(daily_loss_warn_fraction=0.0),
                                                            max_daily_loss=Decimal(100))):
        assert m.check(10.0, [], spot_last=10.0, started_ts=0.0, daily_pnl=(10.0, Decimal(-1000)))[1] == []


class _Sources:
    def samples(self):
        return [ActorSample("decision", msgs_in=3)]

    def feed_last(self):
        return {}

    def spot_last(self):
        return 1e12

    def quote_last(self):
        return {}

    def total_restarts(self):
        return 0

    def keepup(self):
        return None

    def daily_pnl(self):
        return (1000.0, Decimal("-90"))


async def test_health_actor_queues_alerts_and_records_latency(autojump_clock):
    from kbot.latency import LatencyMeter

    out = Collect()
    sink = _sink(GENERIC, lambda r: httpx.Response(204))
    meter = LatencyMeter()
    for ms in (1.0, 2.0, 3.0):
        meter.add(ms / 1000.0)
    with trio.move_on_after(15):
        await run_health(_Sources(), out, HealthMonitor(HealthConfig(interval_s=10), max_daily_loss=Decimal(100)),
                         sink, clock=ScaledClock(epoch0=1000.0), stats=ActorStats("health"), started_ts=1000.0,
                         latency=meter)  # fmt: skip
    assert [a.kind for a in out.of(Alert)] == ["daily_loss_near"]
    assert sink.pending == 1  # queued for the sink's own task, not posted by the health actor
    (lat,) = out.of(LatencySample)
    assert lat.scope == "tick_to_decision" and lat.n == 3 and lat.ts == pytest.approx(1010.0)
    assert 1.0 <= lat.p50_ms <= 2.1 and lat.max_ms == 3.0 and lat.interval_s == 10
