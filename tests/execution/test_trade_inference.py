"""Trades inferred from the ticker channel's volume (recordings without a trade channel), and a
maker quote behind displayed size that fills only after enough volume traded at its price: in
the paper venue, and through a whole replay of an organics-layout recording."""

from __future__ import annotations

import gzip
import json
import math
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from kbot.config import load_config
from kbot.execution.fills import BookView, TradeInference, infer_trade
from kbot.execution.orders import OrderSpec
from kbot.execution.paper import PaperVenue
from kbot.messages import Fill, MarketInfo, Quote, Trade
from kbot.replay.engine import run_replay
from kbot.replay.organics import organics
from tests.replay.synth import REPLAY_SETTINGS, STRIKE, _gz, _wrap, iso, ticker_for

T = "KXBTC15M-X"


def tq(ts: float, volume: str | None, last: str | None, bid: str = "0.39", ask: str = "0.40") -> Quote:
    return Quote(ts=ts, ticker=T, yes_bid=D(bid), yes_ask=D(ask), volume=D(volume) if volume else None,
                 last_price=D(last) if last else None, source="ticker", recv_ts=ts,
                 yes_bid_size=D(100), yes_ask_size=D(100))


def test_infer_trade_sides_from_the_earlier_top_of_book():
    def side(last: str) -> Any:
        got = infer_trade(T, D(100), D("0.39"), D("0.42"), tq(1.0, "110", last))
        return got.taker_side if isinstance(got, Trade) else got

    assert side("0.39") == "no" and side("0.38") == "no"  # at or under the bid: a seller
    assert side("0.42") == "yes" and side("0.45") == "yes"  # at or over the ask: a buyer
    assert side("0.40") == "no" and side("0.41") == "yes"  # inside: the nearer touch
    assert infer_trade(T, D(100), D("0.39"), D("0.41"), tq(1.0, "110", "0.40")) == "unclassified"  # the mid
    got = infer_trade(T, D(100), D("0.39"), D("0.42"), tq(1.0, "110", "0.39"))
    assert isinstance(got, Trade) and got.count == D(10) and got.yes_price == D("0.39")
    assert infer_trade(T, D(100), None, None, tq(1.0, "100", "0.39")) is None  # no volume added
    assert infer_trade(T, D(100), None, None, tq(1.0, "120", None)) == "no_price"


def test_inference_restarts_on_a_volume_reset_and_stops_for_markets_with_real_trades():
    inf = TradeInference()
    assert inf.on_quote(tq(1.0, "100", "0.39")) is None  # the first message sets the count
    assert inf.on_quote(tq(2.0, "150", "0.39")) is not None
    assert inf.on_quote(tq(3.0, "20", "0.39")) is None  # a new subscription: counts again from here
    assert inf.on_quote(tq(4.0, "30", "0.39")).count == D(10)  # type: ignore[union-attr]
    inf.on_trade(Trade(ts=5.0, ticker=T, trade_id="real-1", yes_price=D("0.39"), count=D(1), taker_side="no",
                       recv_ts=5.0))
    assert inf.on_quote(tq(6.0, "90", "0.39")) is None
    assert inf.counts["inferred"] == 2


def test_top_only_book_leaves_the_queue_below_the_best_bid_unknown():
    book = BookView(ticker=T, yes_asks=((D("0.40"), D(100)),), no_asks=((D("0.61"), D(50)),), top_only=True)
    assert book.displayed_bid("yes", D("0.39")) == D(50)
    assert book.displayed_bid("yes", D("0.38")).is_infinite()
    assert book.displayed_bid("yes", D("0.395")) == D(0)  # better than the best bid: nobody ahead


def _venue() -> PaperVenue:
    v = PaperVenue(latency_s=0.0, shrink_queue=False, infer_trades=True)
    v.on_market(MarketInfo(ticker=T, event_ticker="E", series_ticker="KXBTC15M", status="active", close_ts=1e6,
                           updated_ts=0.0))
    return v


def test_paper_quote_behind_displayed_size_fills_only_after_that_volume_traded_at_its_price():
    v = _venue()
    # depth: YES bids 0.39 x 100 (NO asks 0.61), YES asks 0.40 x 100
    v.on_quote(Quote(ts=1.0, ticker=T, yes_bid=D("0.39"), yes_ask=D("0.40"), recv_ts=1.0,
                     yes_asks=((D("0.40"), D(100)),), no_asks=((D("0.61"), D(100)),)))
    v.on_quote(tq(1.0, "1000", "0.40"))
    v.submit("q1", OrderSpec(ticker=T, side="yes", count=D(2), price=D("0.39"), time_in_force="good_till_canceled",
                             post_only=True), 1.0)
    v.step(1.0)
    fills: list[Fill] = []
    for i, vol in enumerate(("1040", "1080")):  # 80 sold into the 0.39 bid: still 20 ahead
        fills += [m for m in v.on_quote(tq(2.0 + i, vol, "0.39")) if isinstance(m, Fill)]
    fills += [m for m in v.on_quote(tq(4.0, "1130", "0.40")) if isinstance(m, Fill)]  # bought at the ask: not ours
    assert fills == []
    fills += [m for m in v.on_quote(tq(5.0, "1121", "0.39")) if isinstance(m, Fill)]  # volume went down: reset
    fills += [m for m in v.on_quote(tq(6.0, "1142", "0.39")) if isinstance(m, Fill)]  # 21 more: 1 reaches us
    assert [(f.count, f.price, f.is_taker, f.ts) for f in fills] == [(D(1), D("0.39"), False, 6.0)]
    fills = [m for m in v.on_quote(tq(7.0, "1150", "0.38")) if isinstance(m, Fill)]  # traded through us
    assert [(f.count, f.price) for f in fills] == [(D(1), D("0.39"))]


def test_paper_quote_under_a_top_only_book_fills_only_when_trades_go_through_it():
    v = _venue()
    v.on_quote(tq(1.0, "1000", "0.40"))  # ticker channel only: the top of book is all that is known
    v.submit("q1", OrderSpec(ticker=T, side="yes", count=D(1), price=D("0.37"), time_in_force="good_till_canceled",
                             post_only=True), 1.0)
    v.step(1.0)
    assert not [m for m in v.on_quote(tq(2.0, "5000", "0.39")) if isinstance(m, Fill)]  # above our bid
    assert not [m for m in v.on_quote(tq(3.0, "6000", "0.37", bid="0.37", ask="0.39")) if isinstance(m, Fill)]
    # at our price with the queue unknown... once the bid is there the queue is its displayed size (100)
    fills = [m for m in v.on_quote(tq(4.0, "6050", "0.36", bid="0.37", ask="0.39")) if isinstance(m, Fill)]
    assert [(f.count, f.price) for f in fills] == [(D(1), D("0.37"))]  # traded through 0.37


# ----------------------------------------------------------------------------- through a replay


def _session(root: Path, close: float) -> dict[str, Any]:
    """One organics-layout session: a one-tick book YES 0.39/0.40 (100 displayed at the YES bid),
    ticker frames every 5 s whose volume grows by 40 at the YES bid (sellers), spot far above the
    strike (so the model's fair value is near 1 and the maker's YES bid is held one tick under
    the ask: at 0.39, behind the 100 displayed there)."""
    ticker = ticker_for(close)
    start = close - 400.0
    ev: dict[str, list[str]] = {}

    def add(kind: str, row: dict[str, Any]) -> None:
        ev.setdefault(kind, []).append(json.dumps(row))

    add("watch_market", _wrap(start, "watch_market", ticker, {"close_time": iso(close), "market_ticker": ticker,
                                                              "status": "active", "strike": STRIKE}))
    add("ws_connected", _wrap(start + 0.1, "ws_connected", ticker, {"market_ticker": ticker}))
    add("ws_subscribed", _wrap(start + 0.15, "ws_subscribed", ticker,
                               {"id": 1, "msg": {"channel": "ticker", "sid": 1}, "type": "subscribed"}))
    add("orderbook_snapshot", _wrap(start + 0.2, "orderbook_snapshot", ticker, {
        "market_ticker": ticker, "yes_dollars_fp": [["0.3900", "100.00"], ["0.3800", "500.00"]],
        "no_dollars_fp": [["0.6000", "100.00"], ["0.5900", "500.00"]]}, 1, "orderbook_delta"))
    volume = 1000.0
    frames = []
    t = start + 1.0
    while t < close - 1.0:
        frames.append((t + 0.05, t))  # (received, the frame's own time: the trade's)
        add("ticker", _wrap(t + 0.05, "ticker", ticker, {
            "market_ticker": ticker, "yes_bid_dollars": "0.3900", "yes_ask_dollars": "0.4000",
            "yes_bid_size_fp": "100.00", "yes_ask_size_fp": "100.00", "price_dollars": "0.3900",
            "volume_fp": f"{volume:.2f}", "open_interest_fp": "500.00", "ts": int(t), "ts_ms": int(t * 1000),
            "time": iso(t)}, None, "ticker"))
        volume += 40.0
        t += 5.0
    base = root / "research_data" / "s1" / "raw_events"
    for kind, rows in ev.items():
        _gz(base / f"type={kind}" / "day=x" / "hour=x" / "part-synth.ndjson.gz", rows)
    logs = root / "logs" / "particle_research" / "real_shadow" / "s1"
    ticks = [json.dumps({"exchange_ts_utc": iso(k + 0.2), "local_recv_ns": int((k + 0.3) * 1e9),
                         "local_recv_ts_utc": iso(k + 0.3), "price": round(STRIKE + 2000.0 + 3.0 * math.sin(k), 2),
                         "raw_event_type": "match", "schema_version": "spot-tick-v1",
                         "source": "coinbase_btcusd_matches", "symbol": "BTC-USD", "trade_id": f"s1-{k}"})
             for k in range(int(start - 120.0), int(close))]
    _gz(logs / "independent_spot_ticks.ndjson.gz", ticks)
    rows = [{"close_time": iso(close).replace(".000000", ""), "market": ticker, "result": "yes",
             "source": "kalshi_public_market", "status": "finalized"}]
    (logs / "market_results_full_refresh.json.gz").write_bytes(gzip.compress(json.dumps(rows).encode()))
    return {"ticker": ticker, "frames": frames}


def test_replay_maker_quote_behind_displayed_size_fills_after_enough_volume_at_its_price(tmp_path):
    close = 1_790_001_000.0
    info = _session(tmp_path / "src", close)
    cfg = load_config(None, environ={}, dotenv=None)
    db = f"sqlite:///{tmp_path / 'm.sqlite'}"
    settings = {**REPLAY_SETTINGS, "maker": {"enabled": True, "quote": {"max_position": 1}},
                "execution": {"paper": {"queue_shrinks_with_book": False}}}
    r = run_replay(organics([tmp_path / "src"]), cfg, db_url=db, settings=settings)
    eng = sa.create_engine(db)
    with eng.connect() as c:
        placed = c.execute(sa.text("select ts, price from maker_actions where run_id = :r and action = 'place' "
                                   "and side = 'yes' order by ts"), {"r": r.run_id}).all()
        fills = c.execute(sa.text("select ts, price, count, is_taker from fills where run_id = :r order by ts"),
                          {"r": r.run_id}).all()
    eng.dispose()
    assert placed and D(str(placed[0][1])) == D("0.39")
    assert len(fills) == 1 and D(str(fills[0][1])) == D("0.39") and not fills[0][3]
    # resting from placed + latency; 40 contracts sold at 0.39 per ticker frame: the 100 ahead are
    # gone after three frames, the third one's excess fills the quote
    rest_ts = placed[0][0] + cfg.replay.latency_ms / 1000.0
    after = [ts for recv, ts in info["frames"] if recv > rest_ts]
    assert abs(fills[0][0] - after[2]) < 1e-3


def test_a_maker_replay_is_deterministic(tmp_path):
    _session(tmp_path / "src", 1_790_001_000.0)
    cfg = load_config(None, environ={}, dotenv=None)
    settings = {**REPLAY_SETTINGS, "maker": {"enabled": True}}
    rows = []
    for k in (1, 2):
        db = f"sqlite:///{tmp_path / f'm{k}.sqlite'}"
        r = run_replay(organics([tmp_path / "src"]), cfg, db_url=db, settings=settings)
        eng = sa.create_engine(db)
        with eng.connect() as c:
            rows.append([c.execute(sa.text(f"select {cols} from {table} order by {cols}")).all() for table, cols in (
                ("maker_actions", "ts, ticker, side, action, client_order_id, price, prev_price, count, reason"),
                ("maker_quotes", "ts, ticker, yes_bid, no_bid, fair, reasons"),
                ("fills", "fill_id, ts, price, count"), ("orders", "client_order_id, status, price, filled_count"))])
        eng.dispose()
        assert r.run_id
    assert rows[0] == rows[1] and rows[0][0]
