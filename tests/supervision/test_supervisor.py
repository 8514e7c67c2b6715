"""Supervisor semantics: restart types x strategies, intensity, escalation, backoff, shutdown,
dynamic children and the event stream. Time is virtual (autojump_clock)."""

from __future__ import annotations

import functools
import random

import pytest
import trio

from supervision import (
    Backoff,
    ChildSpec,
    Restart,
    Strategy,
    SupervisionEvent,
    Supervisor,
    SupervisorGaveUp,
)

NOB = Backoff.none()


class Recorder:
    """Collects events; helpers to query them."""

    def __init__(self) -> None:
        self.events: list[SupervisionEvent] = []

    def __call__(self, ev: SupervisionEvent) -> None:
        self.events.append(ev)

    def kinds(self, child: str | None = None) -> list[str]:
        return [e.kind for e in self.events if child is None or e.child == child]

    def count(self, kind: str, child: str | None = None) -> int:
        return sum(1 for e in self.events if e.kind == kind and (child is None or e.child == child))


class Script:
    """A child whose behaviour per incarnation is scripted: 'crash', 'return', 'block'."""

    def __init__(self, name: str, plan: list[str], default: str = "block", log: list | None = None) -> None:
        self.name = name
        self.plan = list(plan)
        self.default = default
        self.runs = 0
        self.log = log if log is not None else []

    async def __call__(self) -> None:
        self.runs += 1
        action = self.plan.pop(0) if self.plan else self.default
        self.log.append(("start", self.name))
        try:
            await trio.sleep(1)  # run for a moment first
            if action == "crash":
                raise RuntimeError(f"{self.name} crashed")
            if action == "return":
                return
            await trio.sleep_forever()
        finally:
            self.log.append(("end", self.name))


def sup(children, strategy=Strategy.ONE_FOR_ONE, rec=None, **kw) -> Supervisor:
    kw.setdefault("max_restarts", 100)
    kw.setdefault("within_s", 5.0)
    return Supervisor("test", children, strategy, on_event=rec, log_events=False, **kw)


async def run_for(s: Supervisor, seconds: float) -> None:
    async with trio.open_nursery() as n:
        await n.start(s.run)
        await trio.sleep(seconds)
        n.cancel_scope.cancel()


# ---------------------------------------------------------------------------- restart types


@pytest.mark.parametrize("strategy", list(Strategy))
@pytest.mark.parametrize(
    "restart,action,restarted",
    [
        (Restart.PERMANENT, "crash", True),
        (Restart.PERMANENT, "return", True),
        (Restart.TRANSIENT, "crash", True),
        (Restart.TRANSIENT, "return", False),
        (Restart.TEMPORARY, "crash", False),
        (Restart.TEMPORARY, "return", False),
    ],
)
async def test_restart_type_decides_whether_child_comes_back(autojump_clock, strategy, restart, action, restarted):
    rec = Recorder()
    a = Script("a", [action])
    s = sup([ChildSpec("a", a, restart=restart, backoff=NOB)], strategy, rec)
    await run_for(s, 10)
    assert a.runs == (2 if restarted else 1)
    first_end = "crashed" if action == "crash" else "exited"
    assert rec.kinds("a")[:2] == ["started", first_end]
    assert rec.count("restarting", "a") == (1 if restarted else 0)
    if restart is Restart.TEMPORARY:
        assert [c.name for c in s.children()] == []  # forgotten


async def three(strategy, plan_b, rec, restarts=(Restart.PERMANENT,) * 3, log=None):
    log = [] if log is None else log
    a, b, c = Script("a", [], log=log), Script("b", plan_b, log=log), Script("c", [], log=log)
    specs = [
        ChildSpec("a", a, restart=restarts[0], backoff=NOB),
        ChildSpec("b", b, restart=restarts[1], backoff=NOB),
        ChildSpec("c", c, restart=restarts[2], backoff=NOB),
    ]
    s = sup(specs, strategy, rec)
    await run_for(s, 10)
    return a, b, c, s


async def test_one_for_one_restarts_only_the_failed_child(autojump_clock):
    rec = Recorder()
    a, b, c, _ = await three(Strategy.ONE_FOR_ONE, ["crash"], rec)
    assert (a.runs, b.runs, c.runs) == (1, 2, 1)


async def test_one_for_all_restarts_every_child_in_order(autojump_clock):
    rec = Recorder()
    log: list = []
    a, b, c, _ = await three(Strategy.ONE_FOR_ALL, ["crash"], rec, log=log)
    assert (a.runs, b.runs, c.runs) == (2, 2, 2)
    # siblings stopped in reverse start order, then all started again in start order
    after_crash = log[log.index(("end", "b")) + 1 :]
    assert after_crash[:2] == [("end", "c"), ("end", "a")]
    assert after_crash[2:5] == [("start", "a"), ("start", "b"), ("start", "c")]
    assert rec.count("stopped", "a") >= 1 and rec.count("stopped", "c") >= 1


async def test_rest_for_one_restarts_failed_and_later_children(autojump_clock):
    rec = Recorder()
    a, b, c, _ = await three(Strategy.REST_FOR_ONE, ["crash"], rec)
    assert (a.runs, b.runs, c.runs) == (1, 2, 2)


@pytest.mark.parametrize("strategy", [Strategy.ONE_FOR_ALL, Strategy.REST_FOR_ONE])
async def test_temporary_sibling_is_dropped_by_group_restart(autojump_clock, strategy):
    rec = Recorder()
    _a, _b, c, s = await three(
        strategy, ["crash"], rec, restarts=(Restart.PERMANENT, Restart.PERMANENT, Restart.TEMPORARY)
    )
    assert c.runs == 1
    assert "c" not in [ch.name for ch in s.children()]


@pytest.mark.parametrize("strategy", [Strategy.ONE_FOR_ALL, Strategy.REST_FOR_ONE])
async def test_transient_sibling_is_restarted_by_group_restart(autojump_clock, strategy):
    rec = Recorder()
    _a, _b, c, _ = await three(
        strategy, ["crash"], rec, restarts=(Restart.PERMANENT, Restart.PERMANENT, Restart.TRANSIENT)
    )
    assert c.runs == 2


@pytest.mark.parametrize("strategy", [Strategy.ONE_FOR_ALL, Strategy.REST_FOR_ONE])
async def test_normal_exit_of_transient_does_not_restart_group(autojump_clock, strategy):
    rec = Recorder()
    a, b, c, _ = await three(
        strategy, ["return"], rec, restarts=(Restart.PERMANENT, Restart.TRANSIENT, Restart.PERMANENT)
    )
    assert (a.runs, b.runs, c.runs) == (1, 1, 1)


# ---------------------------------------------------------------------------- failures


async def test_exception_group_from_child_is_a_failure(autojump_clock):
    rec = Recorder()
    runs = []

    async def child() -> None:
        runs.append(1)
        if len(runs) == 1:
            async with trio.open_nursery() as n:
                async def boom() -> None:
                    raise ValueError("inner")
                n.start_soon(boom)
                await trio.sleep_forever()
        await trio.sleep_forever()

    s = sup([ChildSpec("g", child, backoff=NOB)], rec=rec)
    await run_for(s, 5)
    assert len(runs) == 2
    crash = next(e for e in rec.events if e.kind == "crashed")
    assert "ExceptionGroup" in crash.reason and "inner" in crash.traceback


async def test_keyboard_interrupt_is_never_swallowed(autojump_clock):
    async def child() -> None:
        await trio.sleep(1)
        raise KeyboardInterrupt

    s = sup([ChildSpec("k", child, backoff=NOB)])
    with pytest.RaisesGroup(KeyboardInterrupt, flatten_subgroups=True, allow_unwrapped=True):
        async with trio.open_nursery() as n:
            await n.start(s.run)
            await trio.sleep(10)


async def test_child_ignoring_nothing_is_cancelled_with_supervisor(autojump_clock):
    """Cancelling the supervisor's caller stops children and returns cleanly (no failure)."""
    rec = Recorder()
    a = Script("a", [])
    s = sup([ChildSpec("a", a)], rec=rec)
    with trio.move_on_after(3):
        await s.run()
    assert rec.kinds("a") == ["started", "stopped"]


# ---------------------------------------------------------------------------- intensity


async def test_gives_up_after_more_than_max_restarts_within_window(autojump_clock):
    rec = Recorder()
    calls = []

    async def crasher() -> None:
        calls.append(trio.current_time())
        raise RuntimeError("always")

    other = Script("other", [])
    s = Supervisor(
        "sup",
        [ChildSpec("other", other), ChildSpec("crasher", crasher, backoff=NOB)],
        max_restarts=3,
        within_s=5,
        on_event=rec,
        log_events=False,
    )
    with pytest.raises(SupervisorGaveUp) as info:
        await s.run()
    # 3 restarts allowed, the 4th failure gives up: 4 runs in total
    assert len(calls) == 4
    assert isinstance(info.value.__cause__, RuntimeError)
    assert rec.events[-1].kind in ("stopped",)  # siblings stopped after giving up
    gave = [e for e in rec.events if e.kind == "gave_up"]
    assert len(gave) == 1 and gave[0].child == "crasher" and "always" in gave[0].reason
    assert rec.count("stopped", "other") == 1


async def test_restarts_spread_out_in_time_do_not_give_up(autojump_clock):
    runs = []

    async def slow_crasher() -> None:
        runs.append(1)
        await trio.sleep(3)  # 2 restarts per 5 s window at most
        if len(runs) < 10:
            raise RuntimeError("periodic")
        await trio.sleep_forever()

    s = Supervisor("sup", [ChildSpec("c", slow_crasher, backoff=NOB)], max_restarts=2, within_s=5, log_events=False)
    await run_for(s, 60)
    assert len(runs) == 10


async def test_escalation_through_two_levels(autojump_clock):
    """inner gives up -> middle restarts it -> ... middle gives up -> root gives up."""
    rec = Recorder()
    inner_runs = []

    async def crasher() -> None:
        inner_runs.append(1)
        raise RuntimeError("leaf failure")

    def make_inner() -> Supervisor:
        return Supervisor("inner", [ChildSpec("leaf", crasher, backoff=NOB)], max_restarts=1, within_s=10,
                          on_event=rec, log_events=False)

    inner = make_inner()
    middle = Supervisor("middle", [ChildSpec("inner", inner.run, backoff=NOB)], max_restarts=1, within_s=10,
                        on_event=rec, log_events=False)
    root = Supervisor("root", [ChildSpec("middle", middle.run, backoff=NOB)], max_restarts=0, within_s=10,
                      on_event=rec, log_events=False)
    with pytest.raises(SupervisorGaveUp) as info:
        await root.run()
    assert info.value.supervisor == "root"
    # the cause chain walks down the tree
    cause = info.value.__cause__
    assert isinstance(cause, SupervisorGaveUp) and cause.supervisor == "middle"
    assert isinstance(cause.__cause__, SupervisorGaveUp) and cause.__cause__.supervisor == "inner"
    gave_up_by = [e.supervisor for e in rec.events if e.kind == "gave_up"]
    # inner gives up twice (middle restarted it once), then middle, then root
    assert gave_up_by == ["inner", "inner", "middle", "root"]
    assert len(inner_runs) == 4


async def test_root_gave_up_is_not_wrapped_in_exception_group(autojump_clock):
    async def crasher() -> None:
        raise RuntimeError("x")

    s = Supervisor("r", [ChildSpec("c", crasher, backoff=NOB)], max_restarts=0, within_s=1, log_events=False)
    async with trio.open_nursery() as n:
        with pytest.raises(SupervisorGaveUp):
            await s.run()
        n.cancel_scope.cancel()


# ---------------------------------------------------------------------------- backoff


def test_backoff_schedule_without_jitter():
    b = Backoff(initial_s=0.1, max_s=1.0, multiplier=2.0, jitter=0.0)
    assert [round(b.delay(n), 6) for n in range(1, 7)] == [0.1, 0.2, 0.4, 0.8, 1.0, 1.0]
    assert b.base_delay(10_000) == 1.0  # no overflow
    assert Backoff.none().delay(5) == 0.0


def test_backoff_jitter_stays_within_fraction():
    b = Backoff(initial_s=1.0, max_s=100, multiplier=2, jitter=0.1)
    rng = random.Random(7)
    for n in range(1, 6):
        base = b.base_delay(n)
        for _ in range(200):
            d = b.delay(n, rng)
            assert base * 0.9 - 1e-12 <= d <= base * 1.1 + 1e-12


def test_backoff_validation():
    with pytest.raises(ValueError):
        Backoff(jitter=1.5)
    with pytest.raises(ValueError):
        Backoff(multiplier=0.5)
    with pytest.raises(ValueError):
        Backoff().base_delay(0)


async def test_backoff_delays_grow_then_reset_after_stable_run(autojump_clock):
    rec = Recorder()
    starts: list[float] = []
    plan = ["crash"] * 4 + ["stable_then_crash", "crash", "block"]

    async def child() -> None:
        starts.append(trio.current_time())
        action = plan.pop(0)
        if action == "crash":
            raise RuntimeError("fail")
        if action == "stable_then_crash":
            await trio.sleep(20)  # longer than reset_after_s
            raise RuntimeError("fail after a stable period")
        await trio.sleep_forever()

    backoff = Backoff(initial_s=1.0, max_s=4.0, multiplier=2.0, jitter=0.0, reset_after_s=10.0)
    s = sup([ChildSpec("c", child, backoff=backoff)], rec=rec)
    await run_for(s, 200)
    delays = [e.delay_s for e in rec.events if e.kind == "restarting"]
    assert delays == [1.0, 2.0, 4.0, 4.0, 1.0, 2.0]
    gaps = [round(b - a, 6) for a, b in zip(starts, starts[1:])]
    assert gaps == [1.0, 2.0, 4.0, 4.0, 21.0, 2.0]
    attempts = [e.attempt for e in rec.events if e.kind == "restarting"]
    assert attempts == [1, 2, 3, 4, 5, 6]


async def test_other_children_are_supervised_during_a_backoff_delay(autojump_clock):
    slow = Script("slow", ["crash"])
    fast = Script("fast", ["block", "crash"])
    fast.plan = ["crash"]
    s = sup(
        [
            ChildSpec("slow", slow, backoff=Backoff(initial_s=30, jitter=0)),
            ChildSpec("fast", fast, backoff=NOB),
        ]
    )
    async with trio.open_nursery() as n:
        await n.start(s.run)
        await trio.sleep(5)
        # slow is still waiting out its 30 s delay; fast has already been restarted
        assert slow.runs == 1 and fast.runs == 2
        assert {c.name: c.state for c in s.children()} == {"slow": "restarting", "fast": "running"}
        await trio.sleep(40)
        assert slow.runs == 2
        n.cancel_scope.cancel()


# ---------------------------------------------------------------------------- shutdown


async def test_shutdown_stops_children_in_reverse_start_order(autojump_clock):
    log: list = []
    kids = [Script(n, [], log=log) for n in "abcd"]
    s = sup([ChildSpec(k.name, k) for k in kids])
    await run_for(s, 5)
    ends = [name for what, name in log if what == "end"]
    assert ends == ["d", "c", "b", "a"]


async def test_shutdown_timeout_names_the_stuck_child_and_moves_on(autojump_clock):
    rec = Recorder()
    log: list = []
    release = trio.Event()

    async def stubborn() -> None:
        try:
            await trio.sleep_forever()
        finally:
            with trio.CancelScope(shield=True):
                await release.wait()  # ignores cancellation until released
            log.append("stubborn ended")

    polite = Script("polite", [], log=log)

    async def releaser() -> None:
        await trio.sleep(100)
        release.set()

    s = sup([ChildSpec("polite", polite), ChildSpec("stubborn", stubborn, shutdown_s=2.0)], rec=rec)
    async with trio.open_nursery() as outer:
        outer.start_soon(releaser)
        async with trio.open_nursery() as n:
            await n.start(s.run)
            await trio.sleep(1)
            t0 = trio.current_time()
            n.cancel_scope.cancel()
        # the supervisor's nursery is held open by the stuck task until it is released
        assert trio.current_time() == pytest.approx(100)
    kinds = [(e.child, e.kind) for e in rec.events if e.kind in ("stopped", "shutdown_timeout")]
    assert kinds == [("stubborn", "shutdown_timeout"), ("polite", "stopped")]
    timeout_ev = next(e for e in rec.events if e.kind == "shutdown_timeout")
    assert timeout_ev.child == "stubborn"
    assert "stubborn ended" in log
    assert t0 == pytest.approx(1)


async def test_terminate_child_uses_shutdown_timeout(autojump_clock):
    rec = Recorder()

    async def stubborn() -> None:
        try:
            await trio.sleep_forever()
        finally:
            with trio.CancelScope(shield=True):
                await trio.sleep(50)

    s = sup([], rec=rec)
    async with trio.open_nursery() as n:
        await n.start(s.run)
        await s.start_child(ChildSpec("stuck", stubborn, shutdown_s=3))
        t0 = trio.current_time()
        await s.terminate_child("stuck")
        assert trio.current_time() - t0 == pytest.approx(3)
        assert rec.kinds("stuck")[-1] == "shutdown_timeout"
        n.cancel_scope.cancel()


# ---------------------------------------------------------------------------- dynamic children


async def test_dynamic_children_start_terminate_and_list(autojump_clock):
    rec = Recorder()
    s = sup([], rec=rec)
    async with trio.open_nursery() as n:
        await n.start(s.run)
        a = Script("m1", ["crash"])
        await s.start_child(ChildSpec("m1", a, restart=Restart.TRANSIENT, backoff=NOB))
        await s.start_child(ChildSpec("m2", Script("m2", [])))
        with pytest.raises(ValueError, match="already has a child named 'm1'"):
            await s.start_child(ChildSpec("m1", a))
        await trio.sleep(5)
        info = {c.name: c for c in s.children()}
        assert info["m1"].restarts == 1 and info["m1"].state == "running"
        assert info["m2"].restarts == 0 and info["m2"].started_at is not None
        await s.terminate_child("m1")
        assert [c.name for c in s.children()] == ["m2"]
        with pytest.raises(KeyError):
            await s.terminate_child("nope")
        # the name can be used again once the child is gone
        await s.start_child(ChildSpec("m1", Script("m1", [])))
        assert sorted(c.name for c in s.children()) == ["m1", "m2"]
        n.cancel_scope.cancel()
    assert rec.kinds("m2") == ["started", "stopped"]


async def test_start_child_requires_running_supervisor():
    s = sup([])
    with pytest.raises(RuntimeError):
        await s.start_child(ChildSpec("x", Script("x", [])))


async def test_terminate_child_waiting_for_restart(autojump_clock):
    rec = Recorder()
    s = sup([], rec=rec)
    async with trio.open_nursery() as n:
        await n.start(s.run)
        c = Script("c", ["crash"])
        await s.start_child(ChildSpec("c", c, backoff=Backoff(initial_s=100, jitter=0)))
        await trio.sleep(5)
        assert s.children()[0].state == "restarting"
        await s.terminate_child("c")
        await trio.sleep(200)
        assert c.runs == 1  # the scheduled restart did not happen
        assert s.children() == []
        n.cancel_scope.cancel()


# ---------------------------------------------------------------------------- events


async def test_event_stream_contents(autojump_clock):
    rec = Recorder()
    c = Script("c", ["crash"])
    s = Supervisor("sup1", [ChildSpec("c", c, backoff=Backoff(initial_s=0.5, jitter=0))], on_event=rec,
                   log_events=False, now=lambda: 1234.5)
    await run_for(s, 10)
    assert [e.kind for e in rec.events] == ["started", "crashed", "restarting", "started", "stopped"]
    started, crashed, restarting, started2, _stopped = rec.events
    assert all(e.supervisor == "sup1" and e.child == "c" and e.ts == 1234.5 for e in rec.events)
    assert crashed.reason == "RuntimeError: c crashed"
    assert "Traceback" in crashed.traceback and "RuntimeError" in crashed.traceback
    assert restarting.attempt == 1 and restarting.delay_s == 0.5
    assert started2.attempt == 1
    assert started.reason is None and started.traceback is None
    d = crashed.to_dict()
    assert set(d) == {"ts", "supervisor", "child", "kind", "reason", "traceback", "attempt", "delay_s"}


async def test_events_are_logged_as_json_lines_tagged_supervision(autojump_clock):
    import json

    from loguru import logger

    lines = []
    sink = logger.add(lambda m: lines.append(m.record), level="INFO")
    try:
        c = Script("c", ["crash"])
        s = Supervisor("logged", [ChildSpec("c", c, backoff=NOB)])
        await run_for(s, 3)
    finally:
        logger.remove(sink)
    sup_lines = [r for r in lines if r["extra"].get("event") == "supervision"]
    kinds = [json.loads(r["message"])["kind"] for r in sup_lines]
    assert kinds == ["started", "crashed", "restarting", "started", "stopped"]
    assert sup_lines[1]["level"].name == "WARNING"


async def test_broken_event_sink_does_not_break_supervision(autojump_clock):
    def bad_sink(ev: SupervisionEvent) -> None:
        raise ValueError("sink broken")

    c = Script("c", ["crash"])
    s = Supervisor("s", [ChildSpec("c", c, backoff=NOB)], on_event=bad_sink, log_events=False)
    await run_for(s, 3)
    assert c.runs == 2


async def test_run_reports_started_after_initial_children_run(autojump_clock):
    began = []

    async def child(name: str) -> None:
        began.append(name)
        await trio.sleep_forever()

    s = sup([ChildSpec(n, functools.partial(child, n)) for n in "xyz"])
    async with trio.open_nursery() as n:
        await n.start(s.run)
        assert began == ["x", "y", "z"]
        assert [c.state for c in s.children()] == ["running"] * 3
        with pytest.raises(RuntimeError, match="already running"):
            await s.run()
        n.cancel_scope.cancel()
