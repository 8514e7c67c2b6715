"""The process of ``kbot run``: startup, preflight, signals, the simulated venue's epoch, the
stop, exit codes. The tree it runs is ``kbot.tree``; what goes where is ``kbot.routes``.

1. Open (and migrate) the database; an unusable one is a startup error.
2. Pick the venue: the built-in simulated venue (started here, its clock starting after the
   previous simulated run), a ``kbot sim`` already serving at ``KALSHI_REST_URL``, or Kalshi
   (demo/prod) with credentials from the environment.
3. Preflight: one signed call (the balance), so bad keys fail now with a clear message.
4. Start the run row, build the tree, run it until ``--minutes`` elapse, SIGINT/SIGTERM, or the
   root supervisor gives up.
5. After the stop: the money actors drain their inboxes (``Tree.final_drain``), the recorder
   writes what is left, the run row is closed.

Exit codes: 0 clean stop; 1 the supervision tree gave up; 2 a startup problem a human must fix
(``StartupError``, the message says what).
"""

from __future__ import annotations

import functools
import gc
import json
import signal
import sys
import time
from contextlib import AsyncExitStack
from pathlib import Path

import attrs
import trio
from loguru import logger

from actors.recorder import Recorder
from kbot import __version__
from kbot.actorkit import BadInputSink, StatsRegistry, bad_inputs_to
from kbot.alerts import stopped_alert
from kbot.clock import Clock, WallClock
from kbot.config import AppConfig, config_digest
from kbot.execution.shadow import shadow_events
from kbot.preflight import KeyCheck, VenueSetupError, keep_verifying, venue_setup, verify_key
from kbot.runlife import heartbeat, settle_earlier_runs
from kbot.tree import Endpoints, Tree
from kbot.venues.config import ENV_REST_URL, ENV_WS_URL, KalshiEndpoints
from kbot.venues.kalshi.auth import Credentials
from kbot.venues.kalshi.rest import KalshiRestClient
from storage.db import open_database
from storage.runs import end_run, start_run
from supervision import SupervisorGaveUp


def freeze_startup_objects() -> None:
    """Take everything alive after start-up (modules, configuration, the database engine, the
    tree) out of the garbage collector's view (``gc.freeze``). Otherwise each full collection
    scans those ~150,000 objects again: a 30-70 ms pause on a small machine, landing on
    whatever decision is in flight. What is created later is collected as usual."""
    gc.collect()
    gc.freeze()


GIL_SWITCH_INTERVAL_S = 0.0002


def shorten_gil_switch_interval() -> None:
    """Let the recorder's SQLite thread have the GIL back within 0.2 ms instead of CPython's
    5 ms. ``sqlite3`` releases the GIL around every row it steps and must take it back for the
    next one; while the Trio thread is busy that wait is up to one switch interval per row (the
    convoy effect), so the writer crawls exactly when the tree is busiest. Measured on 2 cores
    (bench.saturation 20 s / bench.latency --quick): 5 ms 30,500 inputs/s, p99 4.5 ms; 0.2 ms
    36,400 inputs/s, p99 3.5 ms, max 6 ms instead of 10.6 ms (the tree gets the GIL back sooner too)."""
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)


def announce_mode(cfg: AppConfig) -> None:
    """Say loudly on the console and in the log when orders are real (live) or simulated (paper)."""
    ex = cfg.execution
    orders = (f"MAKER: post-only quotes on both sides, up to {cfg.maker.max_open_orders} open" if cfg.maker.enabled
              else f"{ex.time_in_force} at the decided price")
    if cfg.mode == "live":
        where = "the SIMULATED venue" if cfg.venue == "sim" else f"Kalshi {cfg.venue.upper()}"
        for _ in range(3):
            logger.bind(event="mode", mode="live").critical(
                "*** LIVE TRADING *** kbot sends REAL ORDERS to {} ({}; close cutoff {}s; "
                "kill switch: `kbot kill`)", where, orders, ex.close_cutoff_s)
    elif cfg.maker.enabled and cfg.mode == "shadow":
        logger.bind(event="mode", mode="shadow").warning(
            "*** MAKER (shadow) *** quotes are planned and recorded (maker_quotes, maker_actions); nothing is sent")
    elif cfg.mode == "paper":
        logger.bind(event="mode", mode="paper").warning(
            "*** PAPER TRADING *** orders are simulated against the venue's public book and trades (latency {}s); "
            "nothing is sent", ex.paper.latency_s)


class StartupError(Exception):
    """A problem a human must fix before kbot can run (exit code 2); the message says what."""


def _sim_clock_file(cfg: AppConfig) -> Path:
    return Path(cfg.sim.data_dir) / "clock.json"


def sim_start_epoch(cfg: AppConfig, wall_now: float, *, after: float | None = None) -> float:
    """Where the simulated world's clock starts. Tickers name times, and the markets and
    settlements tables are keyed by ticker, so a new simulated run must never relive the
    times of an earlier one: it starts after the previous run's end plus the listing horizon
    (hourly events are listed ahead), or at wall time if that is later. The previous end is the
    saved clock (a clean stop saves it) or ``after`` (the latest end of a simulated run in the
    database: a killed run never saved its clock), whichever is later."""
    if cfg.sim.start_epoch is not None:
        return cfg.sim.start_epoch
    try:
        last: float | None = float(json.loads(_sim_clock_file(cfg).read_text())["epoch"])
    except (OSError, ValueError, KeyError, TypeError):
        last = None
    if after is not None:
        last = after if last is None else max(last, after)
    if last is None:
        return wall_now
    horizon = (cfg.sim.hourly_ahead + 1) * 3600.0 + cfg.sim.hourly_initialized_s
    return max(wall_now, last + horizon)


def save_sim_epoch(cfg: AppConfig, epoch: float) -> None:
    p = _sim_clock_file(cfg)
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(json.dumps({"epoch": epoch}))
    except OSError as exc:  # not fatal: the next run falls back to wall time
        logger.warning("could not save the simulated clock to {}: {}", p, exc)


async def _stop_on_signals(scope: trio.CancelScope, stopped_by: list[str]) -> None:
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for sig in signals:
            name = signal.Signals(sig).name
            logger.warning("received {}: stopping cleanly", name)
            stopped_by.append(name)
            scope.cancel()
            return


async def _stop_after(seconds: float, scope: trio.CancelScope) -> None:
    await trio.sleep(seconds)
    logger.info("--minutes elapsed: stopping cleanly")
    scope.cancel()


def _sim_base(rest_url: str) -> str:
    base = rest_url.rstrip("/")
    return base.removesuffix("/trade-api/v2")


async def connect_external_sim(cfg: AppConfig, env: dict[str, str]) -> tuple[Clock, Endpoints]:
    """``--venue sim`` with ``KALSHI_REST_URL`` (or ``kalshi.rest_url``) set: use the simulated
    venue already serving there (``kbot sim``, e.g. in its own process) instead of starting one.
    The clock follows the sim's ``/sim/clock``; the WebSocket URL defaults to the sim's (override:
    ``KALSHI_WS_URL``), the spot feeds use the sim's exchanges; the key is ``KALSHI_API_KEY_ID`` /
    ``KALSHI_PRIVATE_KEY_PATH`` if set, else the sim's demo key in ``sim.data_dir`` (the same
    default directory as ``kbot sim --data-dir``)."""
    import httpx

    from kbot.sim.process import demo_key, follow_clock
    from kbot.venues.kalshi.auth import CredentialsError

    rest_url = env.get(ENV_REST_URL) or cfg.kalshi.rest_url or ""
    base = _sim_base(rest_url)
    ws_base = "ws" + base.removeprefix("http")  # http -> ws, https -> wss
    ws_url = env.get(ENV_WS_URL) or cfg.kalshi.ws_url or f"{ws_base}/trade-api/ws/v2"
    try:
        clock = await follow_clock(base)
    except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
        raise StartupError(
            f"no simulated venue answers at {base}/sim/clock ({exc}); start one with `kbot sim`, or unset "
            f"{ENV_REST_URL} to run the built-in one") from exc
    try:
        creds = cfg.kalshi.credentials(env, required=False)
        if creds is None:
            key_id, key_path = demo_key(cfg.sim.data_dir)
            creds = Credentials.from_files(key_id, str(key_path) if key_path else None)
    except (CredentialsError, OSError) as exc:
        raise StartupError(
            f"no key for the simulated venue at {base}: {exc}. Set KALSHI_API_KEY_ID and KALSHI_PRIVATE_KEY_PATH "
            f"to the demo key `kbot sim` printed, or run kbot in the directory whose {cfg.sim.data_dir} holds it"
        ) from exc
    endpoints = Endpoints(
        kalshi=KalshiEndpoints(rest_url=rest_url, ws_url=ws_url), credentials=creds,
        spot_urls={"coinbase": f"{ws_base}/coinbase", "binance": f"{ws_base}/binance", "kraken": f"{ws_base}/kraken/v2",
                   "binance_usdm": f"{ws_base}/binance-usdm"},
    )
    return clock, endpoints


async def settle_after_stop(tree: Tree) -> bool:
    """After the tree stopped: ``Tree.final_drain``, then run the recorder until everything it was
    sent is written (at most ``storage.drain_s + 5`` s). False when it could not drain in time."""
    with trio.CancelScope(shield=True):
        await tree.final_drain()
    limit = tree.cfg.storage.drain_s + 5.0
    with trio.move_on_after(limit) as drain:
        async with trio.open_nursery() as n:
            n.start_soon(tree.recorder.run)
            await tree.recorder.flush()
            n.cancel_scope.cancel()
    if drain.cancelled_caught:
        logger.error("the recorder could not drain within {}s: some records of the last moments are missing", limit)
        return False
    return True


async def run_kbot(cfg: AppConfig, *, environ: dict[str, str] | None = None) -> int:
    """Run the whole tree until ``cfg.minutes`` elapse, a signal arrives, or the root gives up.
    Returns the process exit code: 0 clean stop, 1 the tree gave up, 2 a startup problem."""
    from kbot.confload import environment_with_dotenv

    env = environment_with_dotenv() if environ is None else environ  # .env may hold the Kalshi keys
    try:
        return await _run(cfg, env)
    except StartupError as exc:
        logger.error("kbot cannot start: {}", exc)
        return 2


async def _rest_and_key(stack: AsyncExitStack, cfg: AppConfig, endpoints: Endpoints, clock: Clock
                        ) -> tuple[KalshiRestClient, KeyCheck]:
    """The REST client, and a signed call: a rejected key fails now with a clear message, not
    in a restart loop; an unverified one (no answer) is said loudly and retried later."""
    rest = await stack.enter_async_context(
        KalshiRestClient(endpoints.kalshi.rest_url, endpoints.credentials, cfg=cfg.kalshi.rest, clock=clock)
    )
    key = await verify_key(rest)
    if key.status == "rejected":
        raise StartupError(key.message)
    if key.status == "unverified":
        logger.bind(event="preflight").critical(key.message)
    return rest, key


async def _run(cfg: AppConfig, env: dict[str, str]) -> int:
    wall_start = time.time()
    async with AsyncExitStack() as stack:
        clock: Clock
        if cfg.venue in ("demo", "prod"):
            # Configuration and key first: when they are wrong nothing is created or migrated.
            try:
                kendpoints, creds = venue_setup(cfg.kalshi, env)
            except VenueSetupError as exc:
                raise StartupError(str(exc)) from exc
            clock = WallClock()
            endpoints = Endpoints(kalshi=kendpoints, credentials=creds,
                                  spot_urls={"coinbase": None, "binance": None, "kraken": None, "binance_usdm": None})
            rest, key = await _rest_and_key(stack, cfg, endpoints, clock)
        try:
            engine = await trio.to_thread.run_sync(open_database, cfg.db_url, cfg.storage)
        except Exception as exc:
            raise StartupError(f"database {cfg.db_url!r} could not be opened/upgraded: {exc}") from exc
        # Earlier runs killed with their books open: close them, settle what they left (kbot.runlife).
        earlier = await settle_earlier_runs(engine, shadow_execution=shadow_events, storage_cfg=cfg.storage)
        logger.bind(event="startup_repair").info(earlier.summary())

        external_sim = cfg.venue == "sim" and bool(env.get(ENV_REST_URL) or cfg.kalshi.rest_url)
        if cfg.venue in ("demo", "prod"):
            pass
        elif external_sim:
            clock, endpoints = await connect_external_sim(cfg, env)
            logger.warning(
                "*** SIMULATED VENUE *** kbot is trading against the simulated venue at {} (speed {}x); nothing here "
                "is real.", endpoints.kalshi.rest_url, clock.speed,
            )
            for f in cfg.state_dir.glob("*.json"):
                f.unlink(missing_ok=True)
        elif cfg.venue == "sim":
            from kbot.sim.process import SimStartError, open_sim

            epoch0 = sim_start_epoch(cfg, wall_start, after=earlier.latest_sim_end)
            sim_cfg = attrs.evolve(cfg.sim, start_epoch=epoch0, series=tuple(cfg.series))
            try:
                ep = await stack.enter_async_context(open_sim(sim_cfg, log_dir=cfg.log_dir))
            except SimStartError as exc:
                raise StartupError(str(exc)) from exc
            clock = ep.clock
            endpoints = Endpoints(
                kalshi=KalshiEndpoints(rest_url=ep.rest_url, ws_url=ep.ws_url),
                credentials=Credentials.from_files(ep.key_id, str(ep.private_key_path) if ep.private_key_path else None),
                spot_urls={"coinbase": ep.coinbase_url, "binance": ep.binance_url, "kraken": ep.kraken_url,
                           "binance_usdm": ep.binance_usdm_url},
            )
            logger.warning(
                "*** SIMULATED VENUE *** kbot is trading against its built-in simulated Kalshi and exchanges "
                "(speed {}x, seed {}, mispricing {}, {}); nothing here is real. Use --venue demo|prod with API keys "
                "for the real API.", cfg.sim.speed, cfg.sim.seed, cfg.sim.mispricing, ep.where,
            )
            # The simulated world is new in every run: start the risk and volatility state fresh.
            for f in cfg.state_dir.glob("*.json"):
                f.unlink(missing_ok=True)
        if cfg.venue == "sim":
            rest, key = await _rest_and_key(stack, cfg, endpoints, clock)

        started = clock.now()
        run_id = await trio.to_thread.run_sync(functools.partial(
            start_run, engine, now=started, mode=cfg.mode, venue=cfg.venue, config_digest=config_digest(cfg),
            version=__version__, wall_now=time.time(),
        ))
        logger.bind(event="run", run_id=run_id).info(
            "run {} started: venue {}, mode {}, database {}", run_id, cfg.venue, cfg.mode, cfg.db_url)
        announce_mode(cfg)
        stats = StatsRegistry()
        recorder = Recorder(engine, run_id, cfg.storage, actor_stats=stats.get("recorder"), clock=clock)
        # The venue's world outlives this run on Kalshi, and for live mode against a `kbot sim` in
        # its own process: open positions are carried (the built-in sim starts a new world).
        persistent = cfg.venue != "sim" or (external_sim and cfg.mode == "live")
        tree = Tree(cfg, clock=clock, recorder=recorder, endpoints=endpoints, rest_client=rest, engine=engine,
                    run_id=run_id, started_ts=started, stats=stats, open_ledger=True, persistent_venue=persistent)
        stack.enter_context(bad_inputs_to(BadInputSink(recorder.send_nowait, clock)))  # closed with the run
        if cfg.record.enabled:  # kbot run --record: raw inputs to data/recordings (kbot.replay.recording)
            from kbot.replay.recording import open_recording, recording_meta

            tree.recording = await stack.enter_async_context(open_recording(
                cfg.record, cfg.record.directory(cfg.data_dir), recording_meta(cfg, run_id, clock, __version__), clock))
            rest.recorder = tree.recording.frame_hook
        root = tree.root()
        freeze_startup_objects()
        shorten_gil_switch_interval()

        gave_up: SupervisorGaveUp | None = None
        stopped_by: list[str] = []
        rejected: list[str] = []
        stats.get("preflight").state = "key verified" if key.status == "verified" else "key NOT verified"
        async with trio.open_nursery() as nursery:
            async def supervise() -> None:
                nonlocal gave_up
                try:
                    await root.run()
                except SupervisorGaveUp as exc:
                    gave_up = exc
                finally:
                    nursery.cancel_scope.cancel()

            def key_rejected(check: KeyCheck) -> None:
                rejected.append(check.message)
                nursery.cancel_scope.cancel()

            nursery.start_soon(supervise)
            nursery.start_soon(_stop_on_signals, nursery.cancel_scope, stopped_by)
            nursery.start_soon(heartbeat, engine, run_id)
            if key.status == "unverified":
                nursery.start_soon(functools.partial(
                    keep_verifying, rest, key, stats=stats.get("preflight"), alerts=tree.alerts_out, clock=clock,
                    on_rejected=key_rejected))
            if cfg.minutes is not None:
                nursery.start_soon(_stop_after, cfg.minutes * 60.0, nursery.cancel_scope)

        # The tree has stopped. Settle what the lossless mailboxes still hold (an actor may have
        # been down, waiting out a restart backoff, when the stop came), then write what the last
        # moments produced (the final supervision events and ledger entries), then close the run.
        await settle_after_stop(tree)
        ended = clock.now()
        status, reason, code = "ok", None, 0
        if stopped_by:
            status, reason = "interrupted", f"stopped by {stopped_by[0]}"
        if gave_up is not None:
            status, reason, code = "error", str(gave_up), 1
            cause = gave_up.__cause__
            logger.critical("kbot stopped: {} (last failure: {!r}); see logs/restarts.jsonl and `kbot report restarts`",
                            gave_up, cause)
            tree.alert_sink.send_nowait(stopped_alert(clock.now(), f"{gave_up} (last failure: {cause!r})"))
        if rejected:
            status, reason, code = "error", rejected[0], 2
            logger.critical("kbot stopped: {}", rejected[0])
        await trio.to_thread.run_sync(functools.partial(end_run, engine, run_id, now=ended, status=status, reason=reason,
                                                        wall_now=time.time()))
        if cfg.venue == "sim" and not external_sim:
            save_sim_epoch(cfg, ended)
        await tree.alert_sink.aclose()
        if tree.latency_run.n:
            lat = tree.latency_run.summary().as_ms()
            logger.bind(event="latency", scope="run", **lat).info(
                "tick-to-decision over the run: p50 {} ms, p99 {} ms, p99.9 {} ms, max {} ms ({} decisions)",
                lat["p50_ms"], lat["p99_ms"], lat["p999_ms"], lat["max_ms"], lat["n"])
        logger.bind(event="run", run_id=run_id).info(
            "run {} ended ({}) after {:.0f}s ({:.0f}s of market time)", run_id, status, time.time() - wall_start,
            ended - started)
        return code
