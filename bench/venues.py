"""Venue client throughput: frames/s through the Kalshi WS session (parse + seq check + local
book + Quote) and through the spot parsers, beside the baseline of ``json.loads`` alone on the
same frames, measured in the same run. ``python -m bench.venues [--quick] [--frames N]``.

The Kalshi stream is synthetic (a 100-level snapshot then random deltas that keep every level
positive), so the figure is reproducible on a fresh machine; when ../shared/data is present the
real KXBTC15M delta stream of one recorded session is replayed too.
"""

from __future__ import annotations

import gzip
import json
import random
import time
from collections.abc import Callable
from pathlib import Path

from bench.suite import Row, main_alone
from kbot.actorkit import BadInputLog
from kbot.venues.config import KalshiWsConfig
from kbot.venues.kalshi.ws_session import KalshiWsSession
from kbot.venues.spot import CoinbaseProtocol, KrakenProtocol

TICKER = "KXBTC15M-26AUG171330-30"


def synthetic_kalshi(n: int, seed: int = 1) -> list[str]:
    rng = random.Random(seed)
    sizes = {("yes", c): 100 for c in range(1, 50)} | {("no", c): 100 for c in range(1, 50)}
    frames = [json.dumps({"type": "subscribed", "id": 1, "msg": {"channel": "orderbook_delta", "sid": 1}})]
    snap = {
        "market_ticker": TICKER,
        "market_id": "m",
        "yes_dollars_fp": [[f"{c / 100:.4f}", "100.00"] for c in range(1, 50)],
        "no_dollars_fp": [[f"{c / 100:.4f}", "100.00"] for c in range(1, 50)],
    }
    frames.append(json.dumps({"type": "orderbook_snapshot", "sid": 1, "seq": 1, "msg": snap}))
    keys = list(sizes)
    for seq in range(2, n + 2):
        side, c = keys[rng.randrange(len(keys))]
        d = rng.randint(1, 50) * (1 if sizes[(side, c)] < 150 or rng.random() < 0.3 else -1)
        sizes[(side, c)] += d
        frames.append(json.dumps({"type": "orderbook_delta", "sid": 1, "seq": seq, "msg": {
            "market_ticker": TICKER, "market_id": "m", "price_dollars": f"{c / 100:.4f}", "delta_fp": f"{d}.00", "side": side,
            "ts": "2026-08-17T17:20:00.000000Z", "ts_ms": 1787000000000 + seq}}))
    return frames


def organics_book_events(session: Path) -> list[tuple[str, int, str, dict]]:
    """(market, seq, kind, msg) of one organics_kxbtc15m recorder session (snapshots and deltas),
    ordered per market by seq (snapshot first at equal seq). Shared with the replay tests."""
    events = []
    for kind in ("orderbook_snapshot", "orderbook_delta"):
        for f in sorted(session.glob(f"raw_events/type={kind}/**/*.gz")):
            with gzip.open(f, "rt") as fh:
                for line in fh:
                    r = json.loads(line)
                    events.append((r["market_ticker"], r["sequence_number"], kind, r["payload_json"]))
    events.sort(key=lambda e: (e[0], e[1], e[2] != "orderbook_snapshot"))
    return events


def recorded_kalshi(limit: int) -> list[str] | None:
    root = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "organics_kxbtc15m" / "research_data"
    session = root / "rv600_next_evidence_shadow_20260513T230108Z"
    if not session.exists():
        return None
    events = organics_book_events(session)
    first = events[0][0]
    frames = [json.dumps({"type": "subscribed", "id": 1, "msg": {"channel": "orderbook_delta", "sid": 1}})]
    frames += [json.dumps({"type": k, "sid": 1, "seq": s, "msg": p}) for t, s, k, p in events if t == first][:limit]
    return frames


def rate(fn: Callable[[], None], n: int, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return n / best


def _loads_all(frames: list[str]) -> None:
    for f in frames:
        json.loads(f)


def _parse_all(proto: CoinbaseProtocol | KrakenProtocol, frame: str, n: int, recv: float) -> None:
    for _ in range(n):
        proto.parse(frame, recv)


def received_at(frames: list[str]) -> float:
    """A receive time for a stream: just after its last event (parsers check event times
    against their receipt, so a replay must be received when it happened)."""
    last = max((json.loads(f).get("msg") or {}).get("ts_ms") or 0 for f in frames)
    return last / 1000 + 1.0


def session_run(frames: list[str]) -> Callable[[], None]:
    recv = received_at(frames)

    def run() -> None:
        s = KalshiWsSession(KalshiWsConfig(use_yes_price=False, ticker=False, trades=False, lifecycle=False, cfbenchmarks=False),
                            bad=BadInputLog("bench"))
        s.watch([TICKER], recv, 0.0)
        s.on_connected(recv, 0.0)
        s.drain()
        for f in frames:
            s.on_text(f, recv, 0.0)
            s.drain()
        if s.bad.total:
            raise RuntimeError(f"bench frames rejected: {s.bad.counts}")
    return run


def measure_all(frames_n: int) -> list[tuple[str, float, float]]:
    global TICKER
    rows_ = []
    frames = synthetic_kalshi(frames_n)
    base = rate(lambda: _loads_all(frames), len(frames))
    rows_.append(("kalshi orderbook (synthetic)", base, rate(session_run(frames), len(frames))))

    rec = recorded_kalshi(frames_n)
    if rec:
        TICKER = json.loads(rec[1])["msg"]["market_ticker"]
        base = rate(lambda: _loads_all(rec), len(rec))
        rows_.append(("kalshi orderbook (recorded KXBTC15M)", base, rate(session_run(rec), len(rec))))

    cb = CoinbaseProtocol("x")
    cb_frame = json.dumps({"channel": "ticker", "client_id": "", "timestamp": "2026-04-07T14:30:03.000000Z", "sequence_num": 12,
                           "events": [{"type": "update", "tickers": [{"type": "ticker", "product_id": "BTC-USD", "price": "68900.50",
                                       "best_bid": "68900.00", "best_ask": "68901.00"}]}]})
    n = frames_n
    cb_recv = 1775572203.5  # just after the frame's timestamp
    assert cb.parse(cb_frame, cb_recv), "the coinbase bench frame must parse"
    rows_.append(("coinbase ticker", rate(lambda: _loads_all([cb_frame] * n), n), rate(lambda: _parse_all(cb, cb_frame, n, cb_recv), n)))
    kr = KrakenProtocol("x")
    kr_frame = json.dumps({"channel": "ticker", "type": "update", "data": [{"symbol": "BTC/USD", "bid": 105944.2, "ask": 105944.3, "last": 105899.4,
                                                                             "timestamp": "2022-12-25T09:30:59.123456Z"}]})
    kr_recv = 1671960659.5
    assert kr.parse(kr_frame, kr_recv), "the kraken bench frame must parse"
    rows_.append(("kraken ticker", rate(lambda: _loads_all([kr_frame] * n), n), rate(lambda: _parse_all(kr, kr_frame, n, kr_recv), n)))

    print(f"venue clients: frames parsed per second ({n:,} frames)")
    print(f"{'stream':40} {'json.loads only':>18} {'kbot client':>14} {'ratio':>7}")
    for name, b, k in rows_:
        print(f"{name:40} {b:>14,.0f} f/s {k:>10,.0f} f/s {k / b:>7.2f}", flush=True)
    return rows_


def rows(quick: bool, frames_n: int | None = None) -> list[Row]:
    out = []
    for name, b, k in measure_all(frames_n or (20_000 if quick else 100_000)):
        out.append(Row(bench="venues", what=f"client parse: {name}", workload="frames -> domain messages",
                       kbot=k, baseline=b, unit="frames/s", baseline_what="json.loads only"))
    return out


def main(argv: list[str] | None = None) -> int:
    return main_alone("venues", __doc__ or "", rows, argv, quick_help="fewer frames (20,000)",
                      option=("--frames", int, "frames per parser (default 100,000, quick 20,000)"))


if __name__ == "__main__":
    raise SystemExit(main())
