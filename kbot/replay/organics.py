"""Importer: the recorder format of ``../shared/data/organics_kxbtc15m`` (see its SOURCE.md).

Layout of a folder (any subset of sessions)::

    research_data/<session>/raw_events/type=<event type>/day=*/hour=*/*.ndjson.gz
    logs/particle_research/real_shadow/<session>/independent_spot_ticks.ndjson.gz
    logs/particle_research/real_shadow/sidecar_spot_pairs/*/spot_ticks.ndjson.gz
    logs/particle_research/real_shadow/**/market_results*.json.gz

Each raw-event line is a wrapper ``{channel, event_type, local_recv_ns, market_ticker,
sequence_number, connection_id, payload_json, ...}`` whose ``payload_json`` is the verbatim
Kalshi WS v2 ``msg``. What the importer makes of it:

- ``ticker`` / ``orderbook_snapshot`` / ``orderbook_delta``: the Kalshi frame rebuilt around the
  verbatim ``msg`` (``{"type", "sid", "seq", "msg"}``, ``seq`` = the wrapper's
  ``sequence_number``), fed to kbot's ``KalshiWsSession`` at ``local_recv_ns``: the same parsers,
  sequence checks and book building as ``kbot run``. Sessions without recorded deltas (most of
  them: SOURCE.md) have no book: their snapshots are left out and only the ticker channel (top of
  book with sizes) is replayed, so nothing trades on a book frozen at its snapshot.
- ``ws_connected``: a new connection of the session (the recorder opened one per market);
  ``watch_market``: the session watches the market, and the market's reference data
  (``MarketInfo``) comes from it: ``close_time`` and ``strike`` (the 15-minute market's
  ``floor_strike``); strike type ``greater_or_equal``, open time 15 minutes before close, fees
  quadratic x1 (KXBTC15M's series values, ``reference/kalshi-api.md``); the event ticker is the
  market ticker up to its last ``-`` (Kalshi's naming; the recording does not carry it).
  ``market_rotated``: the session stops watching the previous market.
- Coinbase BTC-USD trade ticks (``spot-tick-v1``, trades, no bid/ask) become
  ``SpotTick(source="coinbase")`` with the trade price, event time ``exchange_ts_utc`` and receipt
  ``local_recv_ts_utc``; ticks from the session's own file and from the sidecar files that fall
  in its window (from ``SPOT_WARMUP_S`` before it) are merged and deduplicated by trade id. They
  are one exchange only: the replay's index needs ``index.min_sources = 1`` (set by
  ``CONFIG``) and has no BRTI.
- No trade channel was recorded: paper fills (``kbot backtest --strategy maker``) infer trades
  from the ticker channel's volume (``execution.paper.infer_trades``, set by ``CONFIG``;
  ``kbot.execution.fills.TradeInference``).
- Results: every ``market_results*.json`` in the folder (official, ``finalized``); a market
  settles (``MarketSettled``) ``SETTLE_DELAY_S`` after its close. A market without a result, or
  with conflicting results, is reported and never settled: nothing is guessed.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import heapq
import json
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
from loguru import logger

from kbot.messages import MarketInfo, MarketSettled, SpotTick
from kbot.replay import format as fmt
from kbot.replay.driver import Event, Msg
from kbot.replay.engine import ReplaySource

SERIES = "KXBTC15M"
SIDS = {"ticker": 1, "orderbook_delta": 2}
SETTLE_DELAY_S = 5.0
SPOT_WARMUP_S = 900.0
WINDOW_S = 900.0
# The replay configuration an organics recording needs (one exchange, no BRTI, NO-leg book
# prices, only the channels it recorded).
CONFIG: dict[str, Any] = {
    "index": {"min_sources": 1},
    "spot": {"binance": {"enabled": False}, "kraken": {"enabled": False}},
    "series": [SERIES],
    "kalshi": {"ws": {"use_yes_price": False, "trades": False, "lifecycle": False, "cfbenchmarks": False,
                      "fills": False, "user_orders": False, "market_positions": False}},
    # no trade channel was recorded: paper fills (the maker backtest) infer trades from volume
    "execution": {"paper": {"infer_trades": True}},
}
ONE, ZERO = Decimal(1), Decimal(0)


class OrganicsError(ValueError):
    pass


@attrs.define
class Result:
    result: str
    close_ts: float | None
    files: set[str] = attrs.field(factory=set)


@attrs.define
class SessionInfo:
    name: str
    start: float
    end: float
    events: int
    has_deltas: bool
    markets: list[str]
    spot_ticks: int


def _ts(s: str | None) -> float | None:
    if not s:
        return None
    return dt.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


def _gz_lines(path: Path) -> Iterator[str]:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        yield from f


def find_root(paths: Sequence[str | Path]) -> tuple[Path, list[str] | None]:
    """The folder of the layout and the sessions named by ``paths`` (None: all of them). A path
    is the folder itself or one of its ``research_data/<session>`` directories."""
    roots: set[Path] = set()
    sessions: list[str] = []
    for p in map(Path, paths):
        p = p.resolve()
        if (p / "research_data").is_dir():
            roots.add(p)
        elif p.parent.name == "research_data" and p.is_dir():
            roots.add(p.parent.parent)
            sessions.append(p.name)
        else:
            raise OrganicsError(f"{p}: neither an organics folder (with research_data/) nor one of its sessions")
    if len(roots) != 1:
        raise OrganicsError(f"sessions of more than one organics folder: {sorted(map(str, roots))}")
    return roots.pop(), (sessions or None)


def load_results(root: Path) -> tuple[dict[str, Result], dict[str, set[str]]]:
    """``ticker -> Result`` from every results file, and ``ticker -> {results}`` of conflicts."""
    out: dict[str, Result] = {}
    conflicts: dict[str, set[str]] = {}
    logs = root / "logs"
    for f in sorted(logs.rglob("market_results*.json.gz")) if logs.is_dir() else []:
        if "issues" in f.name:
            continue
        try:
            rows = json.loads(gzip.decompress(f.read_bytes()))
        except (OSError, ValueError) as exc:
            logger.warning("organics: unreadable results file {} ({})", f, exc)
            continue
        for r in rows if isinstance(rows, list) else []:
            if not isinstance(r, dict) or r.get("status", "finalized") != "finalized":
                continue
            ticker, res = r.get("market"), r.get("result")
            if not isinstance(ticker, str) or res not in ("yes", "no"):
                continue
            have = out.get(ticker)
            if have is None:
                out[ticker] = Result(res, _ts(r.get("close_time")), {str(f.relative_to(root))})
            elif have.result != res:
                conflicts.setdefault(ticker, {have.result}).add(res)
            else:
                have.files.add(str(f.relative_to(root)))
    for t in conflicts:
        out.pop(t, None)
    return out, conflicts


def _frame(kind: str, sid: int, seq: Any, payload: Any) -> str:
    f: dict[str, Any] = {"type": kind, "sid": sid}
    if seq is not None:
        f["seq"] = seq
    f["msg"] = payload
    return json.dumps(f, separators=(",", ":"))


def _market_info(payload: dict[str, Any], t: float) -> MarketInfo | None:
    ticker, close = payload.get("market_ticker"), _ts(payload.get("close_time"))
    strike = payload.get("strike")
    if not isinstance(ticker, str) or close is None:
        return None
    return MarketInfo(
        ticker=ticker, event_ticker=ticker.rsplit("-", 1)[0], series_ticker=SERIES,
        status=str(payload.get("status") or "active"), strike_type="greater_or_equal",
        floor_strike=float(strike) if isinstance(strike, (int, float)) else None, open_ts=close - WINDOW_S,
        close_ts=close, expected_expiration_ts=close, fee_type="quadratic", fee_multiplier=ONE, updated_ts=t,
    )


def _field(line: str, key: str) -> str | None:
    """The raw text of a top-level scalar field of a wrapper line (cheap; None when absent)."""
    i = line.find(f'"{key}":')
    if i < 0:
        return None
    i += len(key) + 3
    while i < len(line) and line[i] == " ":
        i += 1
    j = i
    if line.startswith('"', i):
        j = line.index('"', i + 1)
        return line[i + 1:j]
    while j < len(line) and line[j] not in ",}":
        j += 1
    return line[i:j].strip()


def _lazy_frame(line: str, et: str) -> str:
    """The Kalshi frame for a ticker/orderbook wrapper line: the verbatim ``payload_json`` text
    spliced into ``{"type", "sid", "seq", "msg"}`` (the recorder writes its keys sorted, so the
    payload ends where ``recorder_type`` begins); any other layout goes through ``json``."""
    sid = SIDS["ticker"] if et == "ticker" else SIDS["orderbook_delta"]
    seq = None if et == "ticker" else _field(line, "sequence_number")
    i = line.find('"payload_json":')
    j = line.find(',"recorder_type"', i) if i >= 0 else -1
    if i >= 0 and j > i and line[i + 15] == "{" and seq != "":
        head = f'{{"type":"{et}","sid":{sid}' + (f',"seq":{seq}' if seq not in (None, "null") else "")
        return f'{head},"msg":{line[i + 15:j]}}}'
    d = json.loads(line)
    return _frame(et, sid, None if et == "ticker" else d.get("sequence_number"), d.get("payload_json"))


def _session_events(root: Path, name: str) -> tuple[list[tuple[float, int, Any]], SessionInfo, dict[str, MarketInfo]]:
    """The session's events in receipt order. Book and ticker lines stay text until iterated
    (``_materialize``): a whole session parses only as far as a replay reads it."""
    base = root / "research_data" / name / "raw_events"
    if not base.is_dir():
        raise OrganicsError(f"{base}: no raw_events")
    rows: list[tuple[int, int, str, str]] = []  # (ns, n, event type, line)
    types = sorted(p.name.split("=", 1)[1] for p in base.glob("type=*"))
    has_deltas = "orderbook_delta" in types
    n = 0
    for typ in types:
        if typ == "orderbook_snapshot" and not has_deltas:
            continue  # a book without its deltas would freeze at the snapshot
        for f in sorted(base.glob(f"type={typ}/day=*/hour=*/*.ndjson.gz")):
            for line in _gz_lines(f):
                ns = _field(line, "local_recv_ns")
                et = _field(line, "event_type") or typ
                if ns is None or not ns.isdigit():
                    d = json.loads(line)
                    ns, et = str(d["local_recv_ns"]), str(d.get("event_type") or typ)
                rows.append((int(ns), n, et, line))
                n += 1
    rows.sort(key=lambda r: (r[0], r[1]))
    out: list[tuple[float, int, Any]] = []
    markets: dict[str, MarketInfo] = {}
    connected = False
    channels = {"ticker": SIDS["ticker"], **({"orderbook_delta": SIDS["orderbook_delta"]} if has_deltas else {})}
    k = 0
    for recv_ns, _, et, line in rows:
        t = recv_ns / 1e9
        evs: list[Any] = []
        if et in ("ticker", "orderbook_delta", "orderbook_snapshot"):
            evs.append((et, line))  # materialized when iterated
        elif et == "ws_connected":
            if connected:
                evs.append(fmt.Rec(fmt.CLOSE, t, t, "kalshi_ws", 0, "", "the recorder opened a new connection"))
            evs.append(fmt.Rec(fmt.OPEN, t, t, "kalshi_ws", 0, "", json.dumps({"channels": channels})))
            connected = True
        elif et == "watch_market":
            p = json.loads(line).get("payload_json")
            info = _market_info(p, t) if isinstance(p, dict) else None
            if info is not None:
                markets.setdefault(info.ticker, info)
                evs.append(Msg(t, info))
                evs.append(fmt.Rec(fmt.WATCH, t, t, "kalshi_ws", 0, "", json.dumps([info.ticker])))
        elif et == "market_rotated":
            p = json.loads(line).get("payload_json")
            prev = p.get("previous_market_ticker") if isinstance(p, dict) else None
            if isinstance(prev, str):
                evs.append(fmt.Rec(fmt.UNWATCH, t, t, "kalshi_ws", 0, "", json.dumps([prev])))
        # ws_subscribed: the replay answers the session's own subscribes (KalshiReplay)
        for ev in evs:
            out.append((t, k, ev))
            k += 1
    if connected and out:
        out.append((out[-1][0], k, fmt.Rec(fmt.CLOSE, out[-1][0], out[-1][0], "kalshi_ws", 0, "", "end of session")))
    start, end = (out[0][0], out[-1][0]) if out else (0.0, 0.0)
    return out, SessionInfo(name, start, end, len(out), has_deltas, sorted(markets), 0), markets


def _materialize(t: float, ev: Any) -> Any:
    if type(ev) is tuple:
        et, line = ev
        return fmt.Rec(fmt.FRAME, t, t, "kalshi_ws", 0, et, _lazy_frame(line, et))
    return ev


def _spot_files(root: Path, names: Iterable[str]) -> list[Path]:
    """The selected sessions' own tick files and every sidecar tick file."""
    rs = root / "logs" / "particle_research" / "real_shadow"
    own = [rs / n / "independent_spot_ticks.ndjson.gz" for n in names]
    return [f for f in own if f.is_file()] + sorted(rs.glob("sidecar_spot_pairs/*/spot_ticks.ndjson.gz")) + sorted(
        rs.glob("*/spot_ticks.ndjson.gz"))


def _spot_ticks(files: Iterable[Path], windows: Sequence[tuple[float, float]]) -> list[SpotTick]:
    """Ticks received inside any of ``windows``, each trade once (by trade id), in receipt order."""
    import bisect

    starts = [w[0] for w in windows]
    seen: set[str] = set()
    out = []
    for f in files:
        for line in _gz_lines(f):
            d = json.loads(line)
            recv = int(d.get("local_recv_ns") or 0) / 1e9
            i = bisect.bisect_right(starts, recv) - 1
            if i < 0 or recv > windows[i][1]:
                continue
            tid = str(d.get("trade_id"))
            px = d.get("price")
            ts = _ts(d.get("exchange_ts_utc"))
            if tid in seen or not isinstance(px, (int, float)) or isinstance(px, bool) or ts is None:
                continue
            seen.add(tid)
            out.append(SpotTick(source="coinbase", ts=ts, price=float(px), recv_ts=recv))
    out.sort(key=lambda s: (s.recv_ts, s.ts))
    return out


def _merge_windows(ws: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    for a, b in sorted(ws):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def organics(paths: Sequence[str | Path], *, sessions: Sequence[str] | None = None) -> ReplaySource:
    """An organics folder (or some of its ``research_data/<session>`` directories) as a
    ``ReplaySource``; ``sessions``: glob patterns of session names to keep."""
    import fnmatch

    root, named = find_root(paths)
    names = named or sorted(p.name for p in (root / "research_data").iterdir() if p.is_dir())
    if sessions:
        names = [n for n in names if any(fnmatch.fnmatch(n, pat) for pat in sessions)]
    if not names:
        raise OrganicsError(f"no session of {root} matches {list(sessions or [])}")
    results, conflicts = load_results(root)
    per: list[list[tuple[float, int, Any]]] = []
    infos: list[SessionInfo] = []
    markets: dict[str, MarketInfo] = {}
    for name in names:
        evs, info, mk = _session_events(root, name)
        if not evs:
            continue
        if any(o.start < info.end and info.start < o.end for o in infos):
            logger.warning("organics: session {} overlaps an earlier one: left out (one feed per market)", name)
            continue
        per.append(evs)
        infos.append(info)
        for t, m in mk.items():
            markets.setdefault(t, m)
    windows = _merge_windows([(i.start - SPOT_WARMUP_S, i.end) for i in infos])
    ticks = _spot_ticks(_spot_files(root, [i.name for i in infos]), windows)
    for i in infos:
        i.spot_ticks = sum(1 for s in ticks if i.start <= s.recv_ts <= i.end)
    per.append([(s.recv_ts, k, Msg(s.recv_ts, s)) for k, s in enumerate(ticks)])
    settle: list[tuple[float, int, Event]] = []
    no_result: list[str] = []
    for j, (ticker, m) in enumerate(sorted(markets.items())):
        r = results.get(ticker)
        if r is None:
            no_result.append(ticker)
            continue
        close = m.close_ts if m.close_ts is not None else r.close_ts
        if close is None:
            no_result.append(ticker)
            continue
        at = close + SETTLE_DELAY_S
        settle.append((at, j, Msg(at, MarketSettled(ts=at, ticker=ticker, result=r.result,
                                                   settlement_value=ONE if r.result == "yes" else ZERO,
                                                   source="organics", final=True))))
    per.append(sorted(settle, key=lambda e: (e[0], e[1])))
    ident = hashlib.blake2b(f"{root.name}|{','.join(f'{i.name}:{i.events}' for i in infos)}".encode(), digest_size=8).hexdigest()

    def events() -> Iterator[Event]:
        for t, _k, ev in heapq.merge(*per, key=lambda e: (e[0], e[1])):
            yield _materialize(t, ev)

    notes = {
        "format": "organics", "root": str(root), "sessions": [attrs.asdict(i) for i in infos],
        "markets": sorted(markets), "settled_from_results": len(settle), "no_result": no_result,
        "conflicting_results": {t: sorted(v) for t, v in conflicts.items() if t in markets},
    }
    if not infos:
        raise OrganicsError(f"no usable session in {root} ({', '.join(names[:5])}{'...' if len(names) > 5 else ''})")
    last = max([i.end for i in infos] + [e[0] for e in settle])
    return ReplaySource(name=f"organics {root.name} ({len(infos)} session(s))", identity=ident, events=events,
                        speed=1.0, has_rest=False, answer_commands=True, sids=dict(SIDS), notes=notes,
                        config=CONFIG, span=(min(min(e[0] for e in p) for p in per if p), last))
