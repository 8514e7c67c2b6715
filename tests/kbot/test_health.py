import pytest
import trio

from actors.health import run_health
from kbot.actorkit import ActorStats, Collect
from kbot.alerts import AlertSink
from kbot.clock import ScaledClock
from kbot.health import ActorSample, HealthConfig, HealthMonitor
from kbot.messages import Alert, HealthSnapshot


def test_snapshots_and_gap_alerts_with_cooldown_and_resolution():
    m = HealthMonitor(HealthConfig(spot_gap_s=15, feed_gap_s=30, quote_gap_s=60, alert_cooldown_s=100))
    samples = [ActorSample("pricer:A", inbox_depth=1, inbox_peak=3, msgs_in=10, msgs_out=9, last_msg_ts=95.0)]
    snaps, alerts = m.check(100.0, samples, feed_last={"coinbase": 99.0, "kraken": 60.0}, spot_last=99.0,
                            quote_last={"A": 99.0, "B": 30.0}, started_ts=0.0)
    assert snaps == [HealthSnapshot(ts=100.0, actor="pricer:A", inbox_depth=1, inbox_peak=3, msgs_in=10, msgs_out=9,
                                    last_msg_age_s=5.0, restarts=0, errors=0, state=None)]
    assert {(a.kind, a.subject) for a in alerts} == {("feed_gap", "kraken"), ("quote_gap", "markets")}
    # still silent 10 s later: within cooldown, no repeat
    _, alerts = m.check(110.0, samples, feed_last={"kraken": 60.0}, spot_last=109.0, quote_last={"B": 30.0},
                        started_ts=0.0)
    assert alerts == []
    # kraken recovers; B still silent; spot goes silent
    _, alerts = m.check(130.0, samples, feed_last={"kraken": 129.0}, spot_last=109.0, quote_last={"B": 30.0},
                        started_ts=0.0)
    kinds = {(a.kind, a.subject, a.severity) for a in alerts}
    assert ("resolved", "kraken", "info") in kinds and ("spot_gap", "index", "critical") in kinds
    assert not any(a.kind == "quote_gap" for a in alerts)


def test_grace_period_before_first_message():
    m = HealthMonitor(HealthConfig(spot_gap_s=15, feed_gap_s=30))
    _, alerts = m.check(10.0, [], feed_last={"coinbase": None}, spot_last=None, started_ts=0.0)
    assert alerts == []
    _, alerts = m.check(40.0, [], feed_last={"coinbase": None}, spot_last=None, started_ts=0.0)
    assert {a.kind for a in alerts} == {"feed_gap", "spot_gap"}


def test_error_spike_backlog_and_restart_storm():
    m = HealthMonitor(HealthConfig(error_spike=5, restart_storm=3, restart_window_s=100))
    s1 = [ActorSample("ws", errors=2, inbox_depth=90, inbox_capacity=100)]
    _, alerts = m.check(10.0, s1, spot_last=10.0, total_restarts=0, started_ts=0)
    assert [a.kind for a in alerts] == ["backlog"]
    s2 = [ActorSample("ws", errors=20, inbox_depth=0, inbox_capacity=100)]
    _, alerts = m.check(20.0, s2, spot_last=20.0, total_restarts=5, started_ts=0)
    assert {a.kind for a in alerts} == {"error_spike", "restart_storm", "resolved"}
    _, alerts = m.check(200.0, [ActorSample("ws", errors=21)], spot_last=200.0, total_restarts=5, started_ts=0)
    assert {a.kind for a in alerts} == {"resolved"}


class FakeSources:
    def __init__(self) -> None:
        self.spot = None

    def samples(self):
        return [ActorSample("decision", msgs_in=3)]

    def feed_last(self):
        return {"coinbase": None}

    def spot_last(self):
        return self.spot

    def quote_last(self):
        return {}

    def total_restarts(self):
        return 0

    def keepup(self):
        return None

    def daily_pnl(self):
        return None


async def test_health_actor_records_snapshots_and_alerts(autojump_clock):
    clock = ScaledClock(epoch0=1000.0, speed=1.0)
    out = Collect()
    sink = AlertSink(None)
    monitor = HealthMonitor(HealthConfig(interval_s=10, spot_gap_s=15, feed_gap_s=25))
    with trio.move_on_after(35):
        await run_health(FakeSources(), out, monitor, sink, clock=clock, stats=ActorStats("health"), started_ts=1000.0)
    snaps = out.of(HealthSnapshot)
    assert [s.ts for s in snaps] == pytest.approx([1010.0, 1020.0, 1030.0])
    kinds = [a.kind for a in out.of(Alert)]
    assert kinds == ["spot_gap", "feed_gap"]  # spot silent > 15 s at t=20, the feed > 25 s at t=30


async def test_health_actor_logs_the_latency_of_each_interval(autojump_clock):
    from loguru import logger

    from kbot.latency import LatencyMeter

    lines: list[dict] = []
    sink_id = logger.add(lambda m: lines.append(m.record["extra"]), level="DEBUG",
                         filter=lambda r: r["extra"].get("event") == "latency")
    meter = LatencyMeter()
    for ms in (0.2, 0.4, 30.0):
        meter.add(ms / 1000.0)
    try:
        with trio.move_on_after(25):
            await run_health(FakeSources(), Collect(), HealthMonitor(HealthConfig(interval_s=10)), AlertSink(None),
                             clock=ScaledClock(epoch0=1000.0), stats=ActorStats("health"), started_ts=1000.0,
                             latency=meter)
    finally:
        logger.remove(sink_id)
    assert len(lines) == 1  # the second interval had no decision: no line
    assert lines[0]["n"] == 3 and lines[0]["max_ms"] == 30.0 and 0.2 <= lines[0]["p50_ms"] <= 0.41
    assert meter.n == 0  # a new interval started


def test_alert_cooldown_is_in_real_seconds_under_a_fast_clock():
    """A simulated clock at 15x: 600 clock seconds are 40 real seconds, not a cooldown's 600."""
    m = HealthMonitor(HealthConfig(restart_storm=1, restart_window_s=1e6, alert_cooldown_s=600))
    speed = 15.0
    assert m.check(0.0, [], spot_last=0.0, total_restarts=0, speed=speed)[1] == []
    assert [a.kind for a in m.check(1.0, [], spot_last=1.0, total_restarts=5, speed=speed)[1]] == ["restart_storm"]
    # 100 real seconds later (1,500 clock seconds): still within the cooldown
    assert m.check(1500.0, [], spot_last=1500.0, total_restarts=9, speed=speed)[1] == []
    # 601 real seconds after the first
    assert [a.kind for a in m.check(1 + 601 * speed, [], spot_last=1 + 601 * speed, total_restarts=20, speed=speed)[1]] == [
        "restart_storm"
    ]
