"""Child process of test_durability: records numbered fills, ledger entries and edges through
the recorder, acknowledging every 50 with a Flush and printing the last acknowledged number.
Runs until killed, or until ``--until`` records were sent."""

from __future__ import annotations

import argparse
import sys
from decimal import Decimal

import trio

from actors.recorder import Recorder
from kbot.messages import Fill, LedgerEntry
from storage.config import StorageConfig
from storage.db import open_database
from storage.runs import start_run
from tests.storage.records import T0, Distinct, edge


def records(i: int, v: Distinct) -> list:
    return [
        Fill(fill_id=f"f{i}", order_id=f"o{i}", ts=T0 + i, ticker="M", side="yes", action="buy", count=Decimal(1),
             price=Decimal("0.4500"), fee=Decimal("0.0175"), is_taker=True, mode="paper"),  # fmt: skip
        LedgerEntry(entry_id=f"l{i}", ts=T0 + i, mode="paper", ticker="M", kind="buy", amount=Decimal("-0.45")),
        edge(v, ts=T0 + i),
    ]


async def main(url: str, run_id: str, until: int | None) -> None:
    engine = open_database(url)
    try:
        start_run(engine, now=T0, mode="paper", venue="sim", run_id=run_id)
    except Exception:
        pass
    rec = Recorder(engine, run_id, StorageConfig(batch_rows=300, batch_ms=5))
    v = Distinct()
    async with trio.open_nursery() as n:
        n.start_soon(rec.run)
        i = 0
        while until is None or i < until:
            for r in records(i, v):
                await rec.send(r)
            if i % 50 == 49:
                await rec.flush()
                print(i, flush=True)  # everything up to i is durable
            i += 1
        await rec.flush()
        print(i - 1, flush=True)
        n.cancel_scope.cancel()


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("url")
    p.add_argument("run_id")
    p.add_argument("--until", type=int)
    a = p.parse_args()
    trio.run(main, a.url, a.run_id, a.until)
    sys.exit(0)
