"""End to end, live mode: ``kbot run --mode live`` as a subprocess against a simulated venue in
another process (here: this test's), over the real protocols, with the venue's faults on.

With faults on (dropped sockets, sequence gaps, 5xx and 429 bursts, answers lost after the
order was applied), a first process is killed (``kill -9``) right after the venue accepted an
order (``chaos.kill_after_orders``: before kbot recorded it), and a second runs to a clean stop.
Afterwards: the order the crash left unrecorded was found and recorded with its decision, never
sent again; the ledger's positions, cash and open orders equal the venue's exactly (as of the
run's end); every decision has at most one order; every venue fill is recorded and applied
once; no reconciliation mismatch is left open. A longer run with faults is a soak (``--soak``).

The figures of each run (orders, fills, lost answers resolved, reconciliation findings) are
printed (``pytest -s``)."""

from __future__ import annotations

import os
import sqlite3
import sys
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import trio

from kbot.sim import SimConfig, running_sim
from kbot.sim.accounts import contracts

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.e2e

SPEED = 60.0
FAULTS = ("ws_drop:p=0.0005:target=kalshi,seq_skip:p=0.001,http_500:p=0.01:burst=2,http_429:p=0.01:burst=3,"
          "lost_reply:p=0.1")
TOML = """
[sim]
data_dir = "{sim_dir}"

[execution]
max_decision_age_s = 60.0

[execution.reconcile]
every_s = 20.0
fill_poll_s = 10.0

[gates]
max_takes_per_hour = 6

[health]
interval_s = 5.0

[scorer]
every_s = 600.0
{extra}
"""


def sim_config(sim_dir: Path, seed: int, faults: str = "") -> SimConfig:
    return SimConfig(speed=SPEED, seed=seed, data_dir=str(sim_dir), ladder_strikes=6, brackets=4, hourly_ahead=1,
                     faults=faults)


async def run_live(tmp: Path, rest_url: str, sim_dir: Path, minutes: float, extra: str = "") -> Any:
    (tmp / "kbot.toml").write_text(TOML.format(sim_dir=sim_dir, extra=extra))
    env = dict(os.environ, PYTHONPATH=str(ROOT), KBOT_LOGGING__CONSOLE_LEVEL="ERROR", KALSHI_REST_URL=rest_url)
    env.pop("KBOT_DB_URL", None)
    return await trio.run_process(
        [sys.executable, "-m", "kbot", "run", "--venue", "sim", "--mode", "live", "--i-accept-real-money",
         "--minutes", str(minutes)],
        cwd=tmp, env=env, capture_stdout=True, capture_stderr=True, check=False)


def q(db: sqlite3.Connection, sql: str, *args: object) -> list[tuple[Any, ...]]:
    return db.execute(sql, args).fetchall()


def dec(x: Any) -> Decimal:
    return Decimal(str(x)) if x is not None else Decimal(0)


def venue_at(ep: Any, end: float) -> tuple[dict[str, Decimal], Decimal, set[str], list[Any], dict[str, Any]]:
    """The venue's account as of ``end`` (the venue kept running after kbot stopped): current
    positions and balance with the settlements paid after ``end`` taken back."""
    ex = ep.sim.exchange
    user = ep.sim.user_for(ep.key_id)
    acct = ex.accounts[user]
    later = {s.ticker: s for s in ex.settlements.get(user, ()) if s.settled_ts > end}
    positions = {t: contracts(p.position) for t, p in acct.positions.items() if p.position}
    for t, s in later.items():
        positions[t] = positions.get(t, Decimal(0)) + contracts(s.yes_count) - contracts(s.no_count)
    balance = acct.balance() - sum((Decimal(s.revenue_cents).scaleb(-2) for s in later.values()), Decimal(0))
    resting = {o.order_id for o in ex.user_orders(user) if o.status == "resting"}
    return {t: n for t, n in positions.items() if n}, balance, resting, list(ex.fills.get(user, ())), later


def ledger_at(db: sqlite3.Connection, venue_later: dict[str, Any]) -> tuple[dict[str, Decimal], Decimal]:
    """The ledger as of the end of the last run, comparable with the venue's: a market the
    ledger settled (kbot settles at determination) that the venue paid only after the end is
    counted as still held, and its payout taken back."""
    run = q(db, "select run_id from runs order by started_ts desc limit 1")[0][0]
    cash = sum((dec(a) for a, in q(db, "select amount from ledger_entries where run_id = ? and kind in "
                                       "('deposit','buy','sell','fee','settlement','adjustment')", run)), Decimal(0))
    positions: dict[str, Decimal] = {}
    for ticker, side, count, status in q(db, "select ticker, side, count, status from positions where run_id = ?", run):
        if status == "open" and dec(count):
            positions[ticker] = dec(count) if side == "yes" else -dec(count)
    for t, s in venue_later.items():
        paid = sum((dec(a) for a, in q(db, "select amount from ledger_entries where run_id = ? and ticker = ? "
                                           "and kind = 'settlement'", run, t)), Decimal(0))
        if q(db, "select 1 from positions where run_id = ? and ticker = ? and status = 'settled'", run, t):
            positions[t] = positions.get(t, Decimal(0)) + contracts(s.yes_count) - contracts(s.no_count)
            cash -= paid
    return {t: n for t, n in positions.items() if n}, cash


def check_books_agree(db: sqlite3.Connection, ep: Any) -> dict[str, int]:
    end = q(db, "select max(ended_ts) from runs")[0][0]
    v_pos, v_cash, v_resting, v_fills, later = venue_at(ep, end)
    l_pos, l_cash = ledger_at(db, later)
    # every venue fill recorded once, applied once; no fill after the run
    assert all(f.ts <= end for f in v_fills)
    ids = [r[0] for r in q(db, "select fill_id from fills where mode = 'live'")]
    missing = [(f.fill_id, f.order.order_id, f.order.client_order_id, f.ts, str(contracts(f.count)), f.order.status,
                q(db, "select status, filled_count, reason from orders where order_id = ?", f.order.order_id))
               for f in v_fills if f.fill_id not in set(ids)]
    assert not missing, ("venue fills kbot never recorded", missing, end)
    assert sorted(ids) == sorted(f.fill_id for f in v_fills)
    applied = Counter(r[0] for r in q(db, "select ref from ledger_entries where kind = 'buy'"))
    assert all(applied[f.fill_id] == 1 for f in v_fills), "a fill applied twice or not at all"
    # settlements: the contracts the ledger settled are the venue's
    for t, n in q(db, "select ticker, count from positions where status = 'settled'"):
        vs = next((s for s in ep.sim.exchange.settlements.get(ep.sim.user_for(ep.key_id), ()) if s.ticker == t), None)
        if vs is not None:
            assert dec(n) == contracts(vs.yes_count) + contracts(vs.no_count), ("settled contracts", t, n, vs)
    assert l_pos == v_pos, ("positions", l_pos, v_pos)
    assert l_cash == v_cash, ("cash", l_cash, v_cash)
    open_orders = q(db, "select count(*) from orders where mode = 'live' and status in ('pending','resting','partially_filled')")
    assert open_orders == [(0,)] and v_resting == set()
    # every decision at most one order; the venue's orders are kbot's, one per client order id
    per_decision = q(db, "select decision_id, count(*) from orders where decision_id is not null group by decision_id")
    assert all(n == 1 for _, n in per_decision)
    user = ep.sim.user_for(ep.key_id)
    cids = Counter(o.client_order_id for o in ep.sim.exchange.user_orders(user))
    assert all(n == 1 for n in cids.values())
    return {"venue_orders": len(cids), "venue_fills": len(v_fills), "positions_at_end": len(v_pos)}


def figures(db: sqlite3.Connection) -> str:
    findings = Counter((k, s) for k, s in q(db, "select kind, status from reconciliation"))
    statuses = Counter(s for s, in q(db, "select status from orders where mode = 'live'"))
    takes = q(db, "select count(*) from decisions where action = 'TAKE'")[0][0]
    found = q(db, "select count(*) from orders where reason like 'found by query%'")[0][0]
    return (f"{takes} TAKEs; orders by status {dict(statuses)}; {found} lost answers resolved by query; "
            f"reconciliation {dict(findings)}")


def no_open_mismatch(db: sqlite3.Connection) -> None:
    rows = q(db, "select kind, ticker, status from reconciliation order by ts")
    open_: set[tuple[str, str]] = set()
    for kind, ticker, status in rows:
        if status == "mismatch" and kind != "start":
            open_.add((kind, ticker))
        elif status in ("cleared", "adopted"):
            open_.discard((kind, ticker))
    assert not open_, open_


async def test_live_with_faults_killed_after_an_accepted_order_then_restarted(tmp_path: Path):
    """Faults on throughout; the first process is killed (SIGKILL) right after the venue accepted
    its 3rd order; the second runs to a clean stop. Then the books must agree exactly."""
    sim_dir = tmp_path / "sim"
    async with running_sim(sim_config(sim_dir, seed=21, faults=FAULTS)) as ep:
        first = await run_live(tmp_path, ep.rest_url, sim_dir, minutes=1.0, extra="[chaos]\nkill_after_orders = 3\n")
        assert first.returncode == -9, ("the chaos kill did not happen", first.returncode,
                                        first.stderr.decode()[-2000:])
        user = ep.sim.user_for(ep.key_id)
        placed = [o.client_order_id for o in ep.sim.exchange.user_orders(user)]
        db = sqlite3.connect(tmp_path / "data" / "kbot.sqlite")
        lost = [c for c in placed if c not in {r[0] for r in q(db, "select client_order_id from orders")}]
        db.close()
        second = await run_live(tmp_path, ep.rest_url, sim_dir, minutes=0.3)
        assert second.returncode == 0, second.stderr.decode()[-3000:]
        fired = dict(ep.sim.faults.counts)
        db = sqlite3.connect(tmp_path / "data" / "kbot.sqlite")
        books = check_books_agree(db, ep)
    runs = q(db, "select run_id, exit_status from runs order by started_ts")
    assert len(runs) == 2 and runs[1][1] == "ok"
    # what the crash left unrecorded was found at the restart and recorded with its decision
    recorded = dict(q(db, "select client_order_id, decision_id from orders"))
    assert lost and all(recorded.get(c) == c.removeprefix("kb-") for c in lost), (lost, recorded)
    no_open_mismatch(db)
    start = q(db, "select detail from reconciliation where kind = 'start' and run_id = ?", runs[1][0])
    print(f"\nlive vs sim, faults on, kill -9 after the 3rd accepted order ({len(placed)} orders at the venue then, "
          f"{len(lost)} unrecorded), restart: {start[0][0] if start else '-'}\n  {figures(db)}\n  venue: {books}; "
          f"faults fired {fired}")
    assert sum(fired.values()) >= 1


@pytest.mark.soak
async def test_live_against_the_sim_with_faults_for_longer(tmp_path: Path):
    sim_dir = tmp_path / "sim"
    async with running_sim(sim_config(sim_dir, seed=23, faults=FAULTS)) as ep:
        proc = await run_live(tmp_path, ep.rest_url, sim_dir, minutes=4.0)
        assert proc.returncode == 0, proc.stderr.decode()[-3000:]
        fired = dict(ep.sim.faults.counts)
        db = sqlite3.connect(tmp_path / "data" / "kbot.sqlite")
        books = check_books_agree(db, ep)
    no_open_mismatch(db)
    print(f"\nlive vs sim with faults, 4 minutes at {SPEED:g}x: {figures(db)}\n  venue: {books}; faults fired {fired}")
