"""`kbot alert test`: post a test alert through the configured webhook, to check it end to end.

    kbot alert test [--config TOML] [--message TEXT]

Uses ``[health] webhook_url`` / ``KBOT_HEALTH__WEBHOOK_URL`` (``.env`` too), ``webhook_format``
and ``telegram_chat_id`` exactly as ``kbot run`` does (same payload, same retries). Prints where
it went with the URL redacted. Exit codes: 0 delivered; 1 not delivered (the reason is printed);
2 no webhook configured or an invalid configuration.
"""

from __future__ import annotations

import argparse
import sys
import time

from kbot.commands.common import add_config_arguments, load_from_args


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="alert_command", metavar="ACTION")
    p = sub.add_parser("test", help="post a test alert through the configured webhook",
                       description="post a test alert through the configured webhook")  # fmt: skip
    add_config_arguments(p)
    p.add_argument("--message", default="test alert from `kbot alert test`: the webhook works",
                   help="the alert's text")  # fmt: skip


def main(args: argparse.Namespace) -> int:
    if getattr(args, "alert_command", None) != "test":
        print("usage: kbot alert test [--config TOML] [--message TEXT]", file=sys.stderr)
        return 2
    cfg = load_from_args(args)
    if cfg is None:
        return 2
    if not cfg.health.webhook_url:
        print("kbot alert test: no webhook configured: set [health] webhook_url or KBOT_HEALTH__WEBHOOK_URL",
              file=sys.stderr)
        return 2
    import trio

    from kbot.alerts import AlertSink, redact_url
    from kbot.messages import Alert

    sink = AlertSink.from_config(cfg.health, origin=f"{cfg.venue}/{cfg.mode}")
    alert = Alert(ts=time.time(), kind="test", severity="info", subject=None, message=args.message)

    async def post() -> bool:
        try:
            return await sink.deliver(alert)
        finally:
            await sink.aclose()

    ok = trio.run(post)
    where = f"the {sink.format} webhook at {redact_url(sink.webhook_url)}"
    print(f"delivered to {where}" if ok else f"NOT delivered to {where} (see above)")
    return 0 if ok else 1
