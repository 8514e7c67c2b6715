"""Falling behind is never silent: the keep-up meter, the falling_behind alert, its health actor
wiring and the line in `kbot status`."""

from __future__ import annotations

import trio

from actors.health import run_health
from kbot.actorkit import ActorStats, Collect
from kbot.alerts import AlertSink
from kbot.clock import ScaledClock
from kbot.health import ActorSample, HealthConfig, HealthMonitor
from kbot.keepup import KeepUp, KeepUpMeter, KeepUpTap, behind
from kbot.messages import Alert


def test_meter_measures_receipt_lag_in_real_seconds_and_stale_passes():
    m = KeepUpMeter()
    for i in range(100):
        m.receipt(1000.0, 1000.0 + 60.0 * (0.01 if i < 85 else 4.0), speed=60.0)  # 15 % arrive 4 real s late
    m.decision(("stale_spot",), "PASS")
    m.decision(("ev_below_min",), "PASS")
    m.decision((), "TAKE")
    k = m.take()
    assert k.quotes == 100 and k.lag_p90_s == 4.0 and k.lag_max_s == 4.0
    assert k.decisions == 3 and k.stale == 1
    assert m.take() == KeepUp(quotes=0, lag_p90_s=0.0, lag_max_s=0.0, decisions=0, stale=0)  # a new interval


async def test_tap_counts_decisions():
    from kbot.messages import Decision

    m = KeepUpMeter()
    tap = KeepUpTap(m)
    d = Decision(decision_id="d", ts=1.0, ticker="T", action="PASS", side=None, count=0, limit_price=None, prob_yes=None,
                 ev=None, fee=None, reasons=("stale_quote",), edge=None)
    await tap.send(d)
    tap.send_nowait(object())  # not a decision: ignored
    assert m.take().stale == 1


def test_behind_on_lag_or_bulk_stale_decisions():
    ok = KeepUp(quotes=500, lag_p90_s=0.05, lag_max_s=0.3, decisions=200, stale=3)
    assert behind(ok, speed=60.0, max_lag_s=2.0, max_stale_share=0.5) is None
    late = KeepUp(quotes=500, lag_p90_s=5.0, lag_max_s=20.0, decisions=200, stale=3)
    assert "5.0s late" in (behind(late, speed=60.0, max_lag_s=2.0, max_stale_share=0.5) or "")
    # a one-second venue batch is normal at 1x: up to max_lag + 1 venue second
    assert behind(KeepUp(quotes=5, lag_p90_s=2.5, lag_max_s=2.5, decisions=0, stale=0), speed=1.0, max_lag_s=2.0,
                  max_stale_share=0.5) is None
    stale = KeepUp(quotes=0, lag_p90_s=0.0, lag_max_s=0.0, decisions=100, stale=80)
    assert "80% of 100 decisions" in (behind(stale, speed=60.0, max_lag_s=2.0, max_stale_share=0.5) or "")
    few = KeepUp(quotes=0, lag_p90_s=0.0, lag_max_s=0.0, decisions=5, stale=5)
    assert behind(few, speed=60.0, max_lag_s=2.0, max_stale_share=0.5) is None


def test_falling_behind_alert_says_what_to_do_and_resolves():
    m = HealthMonitor(HealthConfig())
    late = KeepUp(quotes=500, lag_p90_s=10.0, lag_max_s=30.0, decisions=300, stale=250)
    _, alerts = m.check(100.0, [], spot_last=100.0, started_ts=-1e6, speed=120.0, keepup=late)
    (a,) = alerts
    assert a.kind == "falling_behind" and a.severity == "warning"
    assert "lower --speed (now 120x)" in a.message and "10.0s late" in a.message and "83%" in a.message
    live = HealthMonitor(HealthConfig())
    _, alerts = live.check(100.0, [], spot_last=100.0, started_ts=-1e6, speed=1.0, keepup=late)
    assert "CPU" in alerts[0].message
    ok = KeepUp(quotes=500, lag_p90_s=0.01, lag_max_s=0.02, decisions=300, stale=0)
    _, alerts = m.check(200.0, [], spot_last=200.0, started_ts=-1e6, speed=120.0, keepup=ok)
    assert [(x.kind, x.message) for x in alerts] == [("resolved", "falling_behind cleared")]
    # not in the first behind_grace_s real seconds (books arriving, volatility warming up)
    fresh = HealthMonitor(HealthConfig())
    assert fresh.check(100.0, [], spot_last=100.0, started_ts=0.0, speed=10.0, keepup=late)[1] == []


class Sources:
    def __init__(self, meter: KeepUpMeter) -> None:
        self.meter = meter

    def samples(self):
        return [ActorSample("decision")]

    def feed_last(self):
        return {}

    def spot_last(self):
        return None

    def quote_last(self):
        return {}

    def total_restarts(self):
        return 0

    def summary(self):
        return ""

    def keepup(self):
        return self.meter.take()

    def daily_pnl(self):
        return None


async def test_health_actor_raises_it_from_the_trees_meter(autojump_clock):
    clock = ScaledClock(epoch0=1000.0, speed=60.0)
    meter = KeepUpMeter()
    for _ in range(50):
        meter.receipt(1000.0, 1000.0 + 600.0, speed=60.0)  # ten real seconds late
    out = Collect()
    monitor = HealthMonitor(HealthConfig(interval_s=10, spot_gap_s=1e9, behind_grace_s=0.0))
    with trio.move_on_after(15):
        await run_health(Sources(meter), out, monitor, AlertSink(None), clock=clock, stats=ActorStats("health"),
                         started_ts=1000.0)
    assert [a.kind for a in out.of(Alert)] == ["falling_behind"]


def test_status_shows_it(tmp_path):
    import argparse

    import sqlalchemy as sa

    from kbot.commands import status as status_cmd
    from storage.db import open_database
    from storage.runs import start_run
    from storage.schema import alerts

    url = f"sqlite:///{tmp_path / 'k.sqlite'}"
    engine = open_database(url)
    run_id = start_run(engine, now=1000.0, mode="shadow", venue="sim", config_digest="x", version="t")
    msg = "kbot is falling behind the venue: venue quotes reach kbot 9.0s late (p90; max 12.0s); lower --speed (now 120x)"
    with engine.begin() as conn:
        conn.execute(sa.insert(alerts), [dict(run_id=run_id, ts=1010.0, kind="falling_behind", severity="warning",
                                              subject="kbot", message=msg)])
    engine.dispose()
    args = argparse.Namespace(db=url, config=None, run=None, limit=10, format="json", expand=False)
    import contextlib
    import io
    import json

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert status_cmd.main(args, now=1020.0) == 0
    assert json.loads(buf.getvalue())["falling_behind"]["message"] == msg
    args.format = "table"
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        status_cmd.main(args, now=1020.0)
    assert "FALLING BEHIND" in buf.getvalue() and "lower --speed" in buf.getvalue()
    # resolved: no longer shown
    engine = open_database(url)
    with engine.begin() as conn:
        conn.execute(sa.insert(alerts), [dict(run_id=run_id, ts=1015.0, kind="resolved", severity="info", subject="kbot",
                                              message="falling_behind cleared")])
    engine.dispose()
    args.format = "json"
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        status_cmd.main(args, now=1020.0)
    assert json.loads(buf.getvalue())["falling_behind"] is None
