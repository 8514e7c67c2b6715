"""The Kalshi key, checked before anything is created, and kept checking when it could not be.

``kbot run --venue demo|prod`` resolves its endpoints and its key (``venue_setup``) and proves
the key with one signed call (``verify_key``, ``GET /portfolio/balance``) before it creates or
migrates the database: a missing, unreadable or rejected key stops it with exit code 2 and
nothing touched. Three outcomes:

- ``verified``: the venue accepted the signed call.
- ``rejected``: the venue refused the key (401/403). Fatal: no retry can fix a wrong key.
- ``unverified``: no answer (no network, DNS, a venue outage, retries exhausted). kbot starts
  (its public feeds may well work, and shadow mode sends nothing) but says so loudly and keeps
  trying (``keep_verifying``): a critical ``key_unverified`` alert, the ``preflight`` row of
  health and ``kbot status`` ("key NOT verified: ..."), a log line per attempt, until the venue
  answers; then a ``resolved`` alert. A later rejection stops the run (exit code 2).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal

import attrs
import trio
from loguru import logger

from kbot.actorkit import ActorStats, Outbox
from kbot.clock import Clock
from kbot.messages import Alert
from kbot.venues.config import KalshiConfig, KalshiEndpoints
from kbot.venues.kalshi.auth import Credentials, CredentialsError
from kbot.venues.kalshi.errors import KalshiAuthError, KalshiError

KeyStatus = Literal["verified", "rejected", "unverified"]
RETRY_S = (5.0, 10.0, 20.0, 30.0)  # real seconds between attempts while unverified (then every 30 s)


class VenueSetupError(Exception):
    """The configuration or the key is wrong: a human must fix it (the message says what)."""


@attrs.frozen(kw_only=True)
class KeyCheck:
    status: KeyStatus
    detail: str = ""

    @property
    def message(self) -> str:
        if self.status == "verified":
            return "Kalshi accepted the API key"
        if self.status == "rejected":
            return (f"Kalshi rejected the API key ({self.detail}); check KALSHI_API_KEY_ID / KALSHI_PRIVATE_KEY_PATH "
                    "(or kalshi.key_id / kalshi.private_key_path) and that the key belongs to this environment "
                    "(demo keys work only on demo)")
        return (f"the Kalshi API key could NOT be verified: no answer from the venue ({self.detail}); kbot keeps "
                "running on its public data and retries (`kbot status` shows it)")


def venue_setup(kalshi: KalshiConfig, env: Mapping[str, str]) -> tuple[KalshiEndpoints, Credentials]:
    """Endpoints and the key for ``--venue demo|prod`` (reads the key file: no network, no
    database). Raises ``VenueSetupError`` with what to set."""
    try:
        endpoints = kalshi.endpoints(env)
        creds = kalshi.credentials(env, required=True)
    except (CredentialsError, ValueError) as exc:
        raise VenueSetupError(str(exc)) from exc
    if creds is None:  # pragma: no cover - required=True never returns None
        raise VenueSetupError("no Kalshi API key configured")
    return endpoints, creds


async def verify_key(rest: Any) -> KeyCheck:
    """One signed call (``rest.get_balance()``) and what it says about the key."""
    try:
        await rest.get_balance()
    except KalshiAuthError as exc:
        return KeyCheck(status="rejected", detail=str(exc))
    except (KalshiError, OSError) as exc:
        return KeyCheck(status="unverified", detail=f"{type(exc).__name__}: {exc}")
    return KeyCheck(status="verified")


async def keep_verifying(
    rest: Any,
    first: KeyCheck,
    *,
    stats: ActorStats,
    alerts: Outbox,
    clock: Clock,
    on_rejected: Callable[[KeyCheck], None],
    retry_s: tuple[float, ...] = RETRY_S,
) -> None:
    """While the key is unverified: retry (real seconds: ``retry_s``, then its last value),
    showing it (``stats.state`` for health/status, one log line per attempt, a critical alert at
    once and a ``resolved`` one when verified). Returns once verified; calls ``on_rejected`` and
    returns if the venue rejects the key."""
    check = first
    attempts = 1
    await alerts.send(Alert(ts=clock.now(), kind="key_unverified", severity="critical", subject="kalshi",
                            message=check.message))
    while check.status == "unverified":
        delay = retry_s[min(attempts - 1, len(retry_s) - 1)]
        stats.state = f"key NOT verified ({check.detail[:120]}); attempt {attempts}, next in {delay:g}s"
        stats.errors += 1
        logger.bind(event="preflight", attempt=attempts).warning(
            "{}; attempt {} failed, next in {:g}s", check.message, attempts, delay)
        await trio.sleep(delay)
        check = await verify_key(rest)
        attempts += 1
    stats.last_msg_ts = clock.now()
    if check.status == "rejected":
        stats.state = "key REJECTED"
        logger.bind(event="preflight").critical("{}: stopping", check.message)
        on_rejected(check)
        return
    stats.state = f"key verified (after {attempts} attempts)"
    logger.bind(event="preflight", attempt=attempts).info("Kalshi accepted the API key after {} attempts", attempts)
    await alerts.send(Alert(ts=clock.now(), kind="resolved", severity="info", subject="kalshi",
                            message=f"key_unverified cleared: Kalshi accepted the API key after {attempts} attempts"))
