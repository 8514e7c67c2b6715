"""`kbot markets`: list the open BTC markets the REST client discovers (checks keys and connectivity).

One row per open market (as the venue's ``status=open`` listing says): ticker, series, strike type,
floor, cap, close time (UTC), status, yes bid/ask. Markets without usable bounds or close time (or
not in a tradable status) are listed on stderr with the reason; a close time already past on this
machine's clock is noted on stderr but the row is kept. With credentials (``KALSHI_API_KEY_ID`` + ``KALSHI_PRIVATE_KEY_PATH``) every
request is signed, so a wrong key shows up as a clear 401 message; without them the public market
data is listed. ``KALSHI_REST_URL`` points the command at another server (a proxy, a stand-in).
``--venue sim`` starts the built-in simulated venue in-process and lists its markets.

Exit codes: 0 listed (possibly none), 1 venue/network error, 2 configuration or credentials
problem, 3 the venue rejected the credentials (401/403).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from kbot.venues.config import BTC_SERIES, VENUES


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--venue",
        choices=VENUES,
        default="prod",
        help="prod or demo (Kalshi's hosts, or KALSHI_REST_URL), or sim (the built-in simulated venue); default prod",
    )
    parser.add_argument(
        "--series",
        default=",".join(BTC_SERIES),
        help=f"comma-separated series tickers (default {','.join(BTC_SERIES)})",
    )
    parser.add_argument("--format", choices=("table", "csv", "json"), default="table", help="output format (default table)")
    parser.add_argument("--config", metavar="TOML", help="configuration file for [kalshi] (default: ./kbot.toml when present)")


def main(args: argparse.Namespace) -> int:
    import trio
    from loguru import logger

    from kbot.venues.kalshi.auth import CredentialsError
    from kbot.venues.kalshi.errors import KalshiAuthError, KalshiError

    logger.remove()
    logger.add(sys.stderr, level="INFO", format="<level>{level: <7}</level> {message}")
    series = [s.strip().upper() for s in str(args.series).split(",") if s.strip()]
    if not series:
        print("kbot markets: --series is empty", file=sys.stderr)
        return 2
    kalshi, environ = _kalshi_config(args)
    if kalshi is None:
        return 2
    try:
        rows = trio.run(_collect, args.venue, series, kalshi, environ)
    except CredentialsError as e:
        print(f"kbot markets: {e}", file=sys.stderr)
        return 2
    except KalshiAuthError as e:
        print(f"kbot markets: {e}", file=sys.stderr)
        return 3
    except KalshiError as e:
        print(f"kbot markets: {e}", file=sys.stderr)
        return 1
    except ValueError as e:  # bad configuration (e.g. an unusable URL)
        print(f"kbot markets: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"kbot markets: network error: {e}", file=sys.stderr)
        return 1
    sys.stdout.write(render(rows, args.format))
    sys.stdout.flush()
    if not rows:
        print(f"no open markets found for {', '.join(series)}", file=sys.stderr)
    return 0


def _kalshi_config(args: argparse.Namespace) -> tuple[Any, dict[str, str]]:
    """The ``[kalshi]`` settings ``kbot run`` would use (``--config``/``./kbot.toml``, ``.env``),
    for the venue asked for; the environment includes ``.env`` values."""
    from pathlib import Path

    import attrs

    from kbot.config import load_config
    from kbot.confload import ConfigError, environment_with_dotenv

    path = args.config
    if path is None and Path("kbot.toml").is_file():
        path = "kbot.toml"
    try:
        cfg = load_config(path)
    except (ConfigError, ValueError, TypeError) as e:
        print(f"kbot markets: invalid configuration: {e}", file=sys.stderr)
        return None, {}
    return attrs.evolve(cfg.kalshi, venue=args.venue), environment_with_dotenv()


async def _collect(venue: str, series: list[str], cfg: Any = None, environ: dict[str, str] | None = None) -> list[dict[str, Any]]:
    from kbot.clock import WallClock
    from kbot.venues.config import KalshiConfig
    from kbot.venues.kalshi.auth import Credentials

    if venue == "sim":
        try:
            from kbot.sim import SimConfig, running_sim
        except ImportError as e:  # built in parallel; say so instead of a traceback
            raise ValueError(f"the simulated venue is not available in this build ({e})") from None
        async with running_sim(SimConfig(), clock=None) as ep:
            creds = Credentials.from_files(ep.key_id, str(ep.private_key_path))
            return await _list(ep.rest_url, creds, series, ep.clock)
    cfg = cfg if cfg is not None else KalshiConfig(venue=venue)
    endpoints = cfg.endpoints(environ)
    creds = cfg.credentials(environ, required=False)
    if creds is None:
        print(
            "no credentials (KALSHI_API_KEY_ID / KALSHI_PRIVATE_KEY_PATH): listing public market data only",
            file=sys.stderr,
        )
    return await _list(endpoints.rest_url, creds, series, WallClock())


async def _list(rest_url: str, creds: Any, series: list[str], clock: Any) -> list[dict[str, Any]]:
    from loguru import logger

    from kbot.venues.kalshi.discovery import discover
    from kbot.venues.kalshi.errors import KalshiApiError, KalshiAuthError
    from kbot.venues.kalshi.rest import KalshiRestClient

    async with KalshiRestClient(rest_url, creds, clock=clock) as client:
        try:
            st = await client.get_exchange_status()
            logger.info(
                "{}: exchange {}, trading {}",
                rest_url,
                "active" if st.exchange_active else "INACTIVE",
                "active" if st.trading_active else "PAUSED",
            )
        except KalshiAuthError:
            raise
        except (KalshiApiError, ValueError) as e:  # status is informative only
            logger.info("{}: exchange status unavailable ({})", rest_url, e)
        # the venue's status says what is open; a close time already past on this machine's clock
        # is shown (and noted), not hidden
        now = clock.now()
        found = await discover(client, series, now, require_future_close=False)
    for sk in found.skipped:
        logger.info("skipped {} ({}): {}", sk.ticker, sk.series_ticker, sk.reason)
    for pm in found.markets:
        if pm.info.close_ts is not None and pm.info.close_ts <= now:
            logger.info("{} is listed open but its close time {} has passed", pm.info.ticker, _utc(pm.info.close_ts))
    return [_row(pm) for pm in found.markets]


def _num(v: float | None) -> str:
    return "" if v is None else f"{v:.10g}"


def _price(d: Decimal | None) -> str:
    if d is None:
        return ""
    return f"{d:.2f}" if d == d.quantize(Decimal("0.01")) else format(d.normalize(), "f")


def _utc(ts: float | None) -> str:
    return "" if ts is None else datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _row(pm: Any) -> dict[str, Any]:
    i, q = pm.info, pm.quote
    return {
        "ticker": i.ticker,
        "series": i.series_ticker,
        "strike_type": i.strike_type or "",
        "floor": i.floor_strike,
        "cap": i.cap_strike,
        "close_time": _utc(i.close_ts),
        "status": i.status,
        "yes_bid": q.yes_bid,
        "yes_ask": q.yes_ask,
    }


COLUMNS = ("ticker", "series", "strike_type", "floor", "cap", "close_time", "status", "yes_bid", "yes_ask")


def _cells(r: dict[str, Any]) -> list[str]:
    return [
        r["ticker"],
        r["series"],
        r["strike_type"],
        _num(r["floor"]),
        _num(r["cap"]),
        r["close_time"],
        r["status"],
        _price(r["yes_bid"]),
        _price(r["yes_ask"]),
    ]


def render(rows: list[dict[str, Any]], fmt: str) -> str:
    if fmt == "json":
        out = [
            {**r, "yes_bid": None if r["yes_bid"] is None else str(r["yes_bid"]), "yes_ask": None if r["yes_ask"] is None else str(r["yes_ask"])}
            for r in rows
        ]
        return json.dumps(out, indent=2) + "\n"
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(COLUMNS)
        for r in rows:
            w.writerow(_cells(r))
        return buf.getvalue()
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"open BTC markets ({len(rows)})", title_justify="left")
    for c in COLUMNS:
        table.add_column(c, no_wrap=True, justify="right" if c in ("floor", "cap", "yes_bid", "yes_ask") else "left")
    for r in rows:
        table.add_row(*_cells(r))
    buf = io.StringIO()
    Console(file=buf, width=240, color_system=None, soft_wrap=False).print(table)
    return "\n".join(line.rstrip() for line in buf.getvalue().splitlines()) + "\n"
