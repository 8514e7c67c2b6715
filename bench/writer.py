"""Writer throughput: edge snapshots through the recorder actor, end to end, next to raw
``sqlite3.executemany`` in the same run; and the cost of ``synchronous=FULL`` per commit.

    python -m bench.writer            # ~200k rows per measurement
    python -m bench.writer --quick    # a short run

Figures (rows/s, higher is better):

- ``raw executemany``: prebuilt tuples, one-row INSERT executemany, 5,000 rows per
  transaction, nothing else running: the ceiling for this schema on this machine.
- ``raw per-row commit``: one transaction per row: why batching is mandatory.
- ``BatchWriter.write``: mapping Edge -> row + multi-row INSERT ... ON CONFLICT, no actor.
- ``recorder, await send``: a producer task ``await recorder.send(edge)`` for every edge, then
  ``await recorder.flush()``: time from the first send to the acknowledgement that all are
  committed. Includes Trio's per-send checkpoint on the producer side.
- ``recorder, send_many(50)``: the same with a producer that sends a round of 50 markets'
  snapshots at once (``Recorder.send_many``: one checkpoint per call).

The edges are built before timing and ``gc.freeze()``-d: 200k long-lived prebuilt messages are
an artefact of the bench, and collecting them over and over would be measured otherwise.

Then commit latency with ``synchronous=NORMAL`` vs ``FULL`` (WAL mode) for a small money batch
(1 fill + 1 ledger entry) and a 5,000-edge batch: what FULL costs per commit, which is what
``money_synchronous=FULL`` pays on each batch holding money rows.
"""

from __future__ import annotations

import gc
import sqlite3
import statistics
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa
import trio

from actors.recorder import Recorder
from bench.suite import Row, main_alone
from kbot.messages import Edge, Fill, LedgerEntry
from storage.config import StorageConfig
from storage.db import open_database
from storage.mapping import MapContext, columns_of, edge_row
from storage.runs import start_run
from storage.schema import edges as edges_table
from storage.types import money_to_sqlite
from storage.writer import BatchWriter

T0 = 1_763_700_000.0


def make_edges(n: int, offset: int = 0) -> list[Edge]:
    """Distinct edge snapshots over 50 markets (as a pricer would send them)."""
    out = []
    for j in range(n):
        i = j + offset
        out.append(
            Edge(
                ts=T0 + i * 0.001, ticker=f"KXBTCD-25NOV2117-T{98000 + (i % 50) * 250}", event_ticker="KXBTCD-25NOV2117",
                series_ticker="KXBTCD", strike_type="greater", floor_strike=98000.0 + (i % 50) * 250, cap_strike=None,
                close_ts=T0 + 3600, spot=98123.5 + (i % 7), spot_avg_60s=98120.1, sigma=0.45, sigma_source="ewma",
                horizon_s=3600.0 - i * 0.001, prob_yes=0.4567, yes_bid=Decimal(f"0.{4500 + i % 100}"),
                yes_ask=Decimal(f"0.{4600 + i % 100}"), no_bid=Decimal(f"0.{5300 - i % 100}"),
                no_ask=Decimal(f"0.{5400 - i % 100}"), yes_ask_size=Decimal("120.00"), no_ask_size=Decimal("35.00"),
                market_mid=0.46, ev_yes=0.0123, ev_no=-0.0456, fee_yes=0.0175, fee_no=0.0173, implied_sigma=0.44,
                quote_ts=T0 + i * 0.001, index_ts=T0 + i * 0.001, model_version="bs-v1", reasons=(), snapshot=True,
            )  # fmt: skip
        )
    return out


def fresh(dirpath: Path, name: str, sync: str = "NORMAL") -> tuple[sa.Engine, str, str]:
    url = f"sqlite:///{dirpath / name}.sqlite"
    eng = open_database(url, StorageConfig(synchronous=sync))
    rid = start_run(eng, now=T0, mode="shadow", venue="bench", run_id="bench")
    return eng, rid, str(dirpath / f"{name}.sqlite")


def bench_raw(dirpath: Path, n: int, batch: int) -> float:
    """Prebuilt row tuples through plain ``sqlite3``: ``batch`` rows per transaction with
    ``executemany`` (batch 1: one ``execute`` and one commit per row)."""
    eng, rid, path = fresh(dirpath, f"raw-{batch}")
    eng.dispose()
    cx = MapContext(run_id=rid, money=money_to_sqlite)
    rows = [r for r in (edge_row(e, cx) for e in make_edges(n)) if r is not None]
    if len(rows) != n:
        raise RuntimeError("make_edges must make snapshot edges (every one a row)")
    cols = columns_of(edges_table)
    sql = f"INSERT INTO edges ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA synchronous = NORMAL")
    t = time.perf_counter()
    for i in range(0, n, batch):
        con.execute("BEGIN")
        if batch == 1:
            con.execute(sql, rows[i])
        else:
            con.executemany(sql, rows[i : i + batch])
        con.execute("COMMIT")
    dt = time.perf_counter() - t
    con.close()
    return n / dt


def bench_batch_writer(dirpath: Path, n: int, batch: int = 5000) -> float:
    eng, rid, _ = fresh(dirpath, "writer")
    w = BatchWriter(eng, rid)
    es = make_edges(n)
    gc.collect()
    gc.freeze()
    t = time.perf_counter()
    for i in range(0, n, batch):
        w.write(es[i : i + batch])
    dt = time.perf_counter() - t
    gc.unfreeze()
    w.close()
    eng.dispose()
    return n / dt


def bench_recorder(dirpath: Path, n: int, *, chunk: int) -> tuple[float, int]:
    eng, rid, _ = fresh(dirpath, f"recorder-{chunk}")
    es = make_edges(n)
    gc.collect()
    gc.freeze()
    rec = Recorder(eng, rid, StorageConfig())

    async def main() -> float:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(rec.run)
            await trio.sleep(0.05)
            t = time.perf_counter()
            if chunk > 1:
                for i in range(0, n, chunk):
                    await rec.send_many(es[i : i + chunk])
            else:
                for e in es:
                    await rec.send(e)
            await rec.flush()
            dt = time.perf_counter() - t
            nursery.cancel_scope.cancel()
        return dt

    dt = trio.run(main)
    gc.unfreeze()
    with eng.connect() as c:
        stored = c.exec_driver_sql("SELECT COUNT(*) FROM edges").scalar()
    eng.dispose()
    assert stored == n, (stored, n)
    return n / dt, rec.stats.max_batch


def commit_latency(dirpath: Path, sync: str, commits: int, kind: str) -> float:
    """Median milliseconds per batch commit (BatchWriter on a WAL database)."""
    eng, rid, _ = fresh(dirpath, f"lat-{sync}-{kind}", sync)
    cfg = StorageConfig(synchronous=sync, money_synchronous=sync)
    w = BatchWriter(eng, rid, cfg)
    times = []
    for i in range(commits):
        if kind == "money":
            batch: list = [
                Fill(fill_id=f"f{i}", order_id=f"o{i}", ts=T0 + i, ticker="M", side="yes", action="buy",
                     count=Decimal(1), price=Decimal("0.45"), fee=Decimal("0.0175"), is_taker=True, mode="paper"),
                LedgerEntry(entry_id=f"l{i}", ts=T0 + i, mode="paper", ticker="M", kind="buy", amount=Decimal("-0.45")),
            ]  # fmt: skip
        else:
            batch = make_edges(5000, offset=i * 5000)
        t = time.perf_counter()
        w.write(batch)
        times.append(time.perf_counter() - t)
    w.close()
    eng.dispose()
    return statistics.median(times) * 1000


def measure(quick: bool, rows: int | None = None) -> dict[str, float]:
    """Every figure above, printed as it comes; returned for the suite's rows."""
    n = rows or (20_000 if quick else 200_000)
    commits = 20 if quick else 100
    out: dict[str, float] = {"rows": n}
    gc.collect()
    with tempfile.TemporaryDirectory(prefix="kbot-bench-") as d:
        dirpath = Path(d)
        print(f"3. writer: edge snapshots, {n:,} rows per measurement, SQLite {sqlite3.sqlite_version}, WAL, "
              "synchronous=NORMAL", flush=True)
        raw = out["raw"] = bench_raw(dirpath, n, 5000)
        print(f"  raw sqlite3 executemany (baseline)   {raw:>10,.0f} rows/s", flush=True)
        per_row = out["per_row"] = bench_raw(dirpath, min(n, 2000), 1)
        print(f"  raw per-row commit                   {per_row:>10,.0f} rows/s", flush=True)
        bw = out["batch_writer"] = bench_batch_writer(dirpath, n)
        print(f"  BatchWriter.write (no actor)         {bw:>10,.0f} rows/s  ({bw / raw:.0%} of raw)", flush=True)
        r_await, mb1 = bench_recorder(dirpath, n, chunk=1)
        out["recorder_await"] = r_await
        print(f"  recorder, await send per edge        {r_await:>10,.0f} rows/s  ({r_await / raw:.0%} of raw; "
              f"max batch {mb1})", flush=True)
        r_many, mb2 = bench_recorder(dirpath, n, chunk=50)
        out["recorder_many"] = r_many
        print(f"  recorder, send_many(50)              {r_many:>10,.0f} rows/s  ({r_many / raw:.0%} of raw; "
              f"max batch {mb2})", flush=True)
        target = 100_000
        best = max(r_await, r_many)
        print(f"  target >= {target:,} rows/s end to end: {'met' if best >= target else 'NOT met'}")
        print(f"commit latency per batch, median of {commits} (ms): NORMAL vs FULL")
        for kind, label in (("money", "money batch (1 fill + 1 ledger entry)"), ("edges", "5,000 edge snapshots")):
            k = commits if kind == "money" else max(3, commits // 10)
            normal = commit_latency(dirpath, "NORMAL", k, kind)
            full = commit_latency(dirpath, "FULL", k, kind)
            out[f"commit_{kind}_normal_ms"], out[f"commit_{kind}_full_ms"] = normal, full
            print(f"  {label:40s} NORMAL {normal:7.2f}   FULL {full:7.2f}   (+{full - normal:.2f} ms)", flush=True)
    return out


def rows(quick: bool, n: int | None = None) -> list[Row]:
    m = measure(quick, n)
    wl = f"{int(m['rows']):,} edge snapshots, WAL"
    base = "raw sqlite3 executemany"
    return [
        Row(bench="writer", what="recorder, await send per edge", workload=wl, kbot=m["recorder_await"],
            baseline=m["raw"], unit="rows/s", baseline_what=base, target=100_000),
        Row(bench="writer", what="recorder, send_many(50)", workload=wl, kbot=m["recorder_many"], baseline=m["raw"],
            unit="rows/s", baseline_what=base, target=100_000),
        Row(bench="writer", what="BatchWriter.write (no actor)", workload=wl, kbot=m["batch_writer"],
            baseline=m["raw"], unit="rows/s", baseline_what=base),
        Row(bench="writer", what="money batch commit, synchronous=FULL", workload="1 fill + 1 ledger entry",
            kbot=m["commit_money_full_ms"], baseline=m["commit_money_normal_ms"], unit="ms", better="lower",
            baseline_what="synchronous=NORMAL"),
    ]


def main(argv: list[str] | None = None) -> int:
    return main_alone("writer", __doc__.split("\n\n")[0] or "", rows, argv, quick_help="short run (20k rows, fewer commits)",
                      option=("--rows", int, "rows per throughput measurement (default 200000, quick 20000)"))


if __name__ == "__main__":
    raise SystemExit(main())
