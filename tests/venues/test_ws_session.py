"""The sans-I/O Kalshi WS state machine: subscriptions, add/delete markets, per-sid sequence gaps
(stale quotes, get_snapshot, resubscribe), terminal errors, optional channels, reconnect, bad input."""

from __future__ import annotations

import json
from decimal import Decimal

from kbot.actorkit import BadInputLog
from kbot.messages import BookSnapshot, FeedStatus, MarketLifecycle, MarketSettled, Quote, SpotTick, Trade
from kbot.venues.config import KalshiWsConfig
from kbot.venues.kalshi.ws_session import KalshiWsSession

D = Decimal
T1, T2, T3 = "KXBTCD-26AUG2317-T86749.99", "KXBTCD-26AUG2317-T86999.99", "KXBTC15M-26AUG171330-30"


class Driver:
    """Feeds a session and plays the server's side of the handshake."""

    def __init__(self, **cfg):
        self.bad = BadInputLog("test")
        self.s = KalshiWsSession(KalshiWsConfig(**cfg), bad=self.bad)
        self.rt = 0.0
        self.now = 1_787_000_000.0
        self.sids: dict[str, int] = {}
        self.seq: dict[int, int] = {}
        self.msgs: list = []
        self.cmds: list = []
        self.next_sid = 1

    def drain(self):
        msgs, cmds, rec = self.s.drain()
        self.msgs += msgs
        self.cmds += cmds
        return msgs, cmds, rec

    def frame(self, obj) -> tuple:
        self.s.on_text(obj if isinstance(obj, str) else json.dumps(obj), self.now, self.rt)
        return self.drain()

    def connect(self):
        self.s.on_connected(self.now, self.rt)
        return self.drain()

    def ack_all(self, cmds):
        """Answer subscribe commands like Kalshi (one subscribed per channel)."""
        for c in cmds:
            if c["cmd"] == "subscribe":
                ch = c["params"]["channels"][0]
                sid = self.next_sid
                self.next_sid += 1
                self.sids[ch], self.seq[sid] = sid, 0
                self.frame({"id": c["id"], "type": "subscribed", "msg": {"channel": ch, "sid": sid}})

    def push(self, channel, type_, msg, *, skip=0, seq=True):
        sid = self.sids[channel]
        f = {"type": type_, "sid": sid, "msg": msg}
        if seq:
            self.seq[sid] += 1 + skip
            f["seq"] = self.seq[sid]
        return self.frame(f)

    def snapshot(self, ticker, yes, no, skip=0):
        msg = {"market_ticker": ticker, "market_id": "m"}
        if yes:
            msg["yes_dollars_fp"] = yes
        if no:
            msg["no_dollars_fp"] = no
        return self.push("orderbook_delta", "orderbook_snapshot", msg, skip=skip)

    def delta(self, ticker, side, price, delta, skip=0):
        return self.push("orderbook_delta", "orderbook_delta",
                         {"market_ticker": ticker, "market_id": "m", "price_dollars": price, "delta_fp": delta, "side": side, "ts_ms": 1787000000123}, skip=skip)


def quotes(msgs, source="book"):
    return [m for m in msgs if isinstance(m, Quote) and m.source == source]


def live_driver(tickers=(T1, T2), **cfg) -> Driver:
    cfg.setdefault("use_yes_price", False)
    d = Driver(**cfg)
    d.s.watch(tickers, d.now, d.rt)
    _, cmds, _ = d.connect()
    d.ack_all(cmds)
    for t in tickers:
        d.snapshot(t, [["0.4000", "10.00"], ["0.4200", "5.00"]], [["0.5000", "7.00"], ["0.5500", "3.00"]])
    return d


def test_connect_subscribes_every_channel_with_pinned_use_yes_price():
    d = Driver(use_yes_price=False)
    d.s.watch([T1, T2], d.now, d.rt)
    msgs, cmds, _ = d.connect()
    by_ch = {c["params"]["channels"][0]: c for c in cmds}
    assert set(by_ch) == {"orderbook_delta", "ticker", "trade", "market_lifecycle_v2", "cfbenchmarks_value"}
    assert by_ch["orderbook_delta"]["params"] == {"channels": ["orderbook_delta"], "market_tickers": [T1, T2], "use_yes_price": False}
    assert by_ch["ticker"]["params"]["market_tickers"] == [T1, T2]
    assert by_ch["cfbenchmarks_value"]["params"]["index_ids"] == ["BRTI"]
    assert "market_tickers" not in by_ch["market_lifecycle_v2"]["params"]
    assert [c["id"] for c in cmds] == list(range(1, 6))
    assert any(isinstance(m, FeedStatus) and m.status == "connected" for m in msgs)


def test_market_channels_wait_for_a_market():
    d = Driver()
    _, cmds, _ = d.connect()
    assert {c["params"]["channels"][0] for c in cmds} == {"market_lifecycle_v2", "cfbenchmarks_value"}
    d.ack_all(cmds)
    d.s.watch([T1], d.now, d.rt)
    _, cmds, _ = d.drain()
    assert {c["params"]["channels"][0] for c in cmds} == {"orderbook_delta", "ticker", "trade"}


def test_snapshot_then_deltas_emit_quotes_on_change():
    d = live_driver()
    q = quotes(d.msgs)[-1]
    assert q.ticker == T2 and q.yes_bid == D("0.42") and q.yes_ask == D("0.45") and q.no_ask == D("0.58")
    assert q.yes_asks == ((D("0.45"), D("3")), (D("0.50"), D("7"))) and not q.stale
    assert sum(isinstance(m, BookSnapshot) for m in d.msgs) == 2
    d.msgs.clear()
    d.delta(T1, "yes", "0.4300", "2.00")
    q = quotes(d.msgs)[-1]
    assert q.yes_bid == D("0.43") and q.yes_bid_size == D(2) and q.ts == 1787000000.123
    d.msgs.clear()
    d.delta(T1, "yes", "0.3000", "1.00")  # below the quoted depth of 10? no: depth includes it
    d.delta(T1, "yes", "0.3000", "-1.00")
    assert len(quotes(d.msgs)) == 2
    d.msgs.clear()
    d2 = live_driver(book_depth=1)
    d2.msgs.clear()
    d2.delta(T1, "yes", "0.3000", "1.00")  # outside a depth of 1: nothing to say
    assert quotes(d2.msgs) == []


def test_use_yes_price_no_levels_converted_to_no_leg():
    d = Driver(use_yes_price=True)
    d.s.watch([T1], d.now, d.rt)
    _, cmds, _ = d.connect()
    d.ack_all(cmds)
    # NO bid at NO-price 0.45 is reported at the YES-leg price 0.55
    d.snapshot(T1, [["0.4000", "10.00"]], [["0.5500", "4.00"]])
    q = quotes(d.msgs)[-1]
    assert q.no_bid == D("0.45") and q.yes_ask == D("0.55")
    d.delta(T1, "no", "0.5400", "1.00")  # NO bid at 0.46
    assert quotes(d.msgs)[-1].yes_ask == D("0.54")


def test_seq_gap_marks_books_stale_and_requests_snapshots():
    d = live_driver()
    d.msgs.clear()
    d.cmds.clear()
    d.delta(T1, "yes", "0.4300", "1.00", skip=1)  # seq jumps by 2
    stale = [m for m in quotes(d.msgs) if m.stale]
    assert {m.ticker for m in stale} == {T1, T2} and all(m.yes_bid is None for m in stale)
    assert any(isinstance(m, FeedStatus) and m.status == "gap" for m in d.msgs)
    req = d.cmds[-1]
    assert req["cmd"] == "update_subscription" and req["params"]["action"] == "get_snapshot"
    assert req["params"]["sids"] == [d.sids["orderbook_delta"]] and req["params"]["market_tickers"] == [T1, T2]
    d.msgs.clear()
    d.delta(T1, "yes", "0.4400", "1.00")  # dropped: the book waits for its snapshot
    assert quotes(d.msgs) == [] and d.s.counters.dropped_deltas == 2  # the gap frame's own delta too
    d.snapshot(T1, [["0.4100", "1.00"]], [["0.5000", "1.00"]])
    q = quotes(d.msgs)[-1]
    assert q.ticker == T1 and not q.stale and q.yes_bid == D("0.41")
    assert d.s.book(T2) is None and d.s.book(T1) is not None
    assert not any(isinstance(m, FeedStatus) and m.status == "resynced" for m in d.msgs)
    d.snapshot(T2, [["0.3000", "1.00"]], [])
    assert [m.status for m in d.msgs if isinstance(m, FeedStatus)][-1] == "resynced"


def test_snapshot_timeout_escalates_to_resubscribe_then_reconnect():
    d = live_driver(resync_timeout_s=5)
    d.delta(T1, "yes", "0.4300", "1.00", skip=3)
    d.cmds.clear()
    for _ in range(2):  # a second get_snapshot, then a resubscribe
        d.rt += 6
        d.s.tick(d.now, d.rt)
        d.drain()
    kinds = [(c["cmd"], c.get("params", {}).get("action")) for c in d.cmds]
    assert kinds[0] == ("update_subscription", "get_snapshot")
    assert ("unsubscribe", None) in kinds and ("subscribe", None) in kinds
    assert any(isinstance(m, FeedStatus) and m.status == "resubscribing" for m in d.msgs)
    # keep failing: more than MAX_RESUBSCRIBES in a row asks for a reconnect
    reason = None
    for _ in range(10):
        d.rt += 11
        d.s.tick(d.now, d.rt)
        _, _, rec = d.drain()
        reason = reason or rec
    assert reason is not None and "orderbook_delta" in reason


def test_terminal_errors_resubscribe_the_channel():
    d = live_driver()
    d.cmds.clear()
    sid = d.sids["orderbook_delta"]
    d.frame({"type": "error", "sid": sid, "msg": {"code": 25, "msg": "Subscription buffer overflow"}})
    assert [c["cmd"] for c in d.cmds] == ["unsubscribe", "subscribe"]
    assert d.cmds[0]["params"] == {"sids": [sid]}
    assert d.cmds[1]["params"]["market_tickers"] == [T1, T2]
    assert all(m.stale for m in quotes(d.msgs)[-2:])
    d.cmds.clear()
    d.frame({"type": "error", "sid": d.sids["trade"], "msg": {"code": 10, "msg": "Channel error"}})
    assert [c["cmd"] for c in d.cmds] == ["unsubscribe", "subscribe"] and d.cmds[1]["params"]["channels"] == ["trade"]


def test_cfbenchmarks_not_entitled_is_ignored_gracefully():
    d = Driver()
    d.s.watch([T1], d.now, d.rt)
    _, cmds, _ = d.connect()
    cfb = next(c for c in cmds if c["params"]["channels"] == ["cfbenchmarks_value"])
    d.ack_all([c for c in cmds if c is not cfb])
    d.frame({"id": cfb["id"], "type": "error", "msg": {"code": 9, "msg": "Authentication required"}})
    assert any(isinstance(m, FeedStatus) and m.status == "unavailable" and "cfbenchmarks" in m.detail for m in d.msgs)
    d.cmds.clear()
    d.rt += 100
    d.s.tick(d.now, d.rt)
    d.drain()
    assert not any(c["cmd"] == "subscribe" for c in d.cmds)  # not retried on this connection
    assert d.s.subs["cfbenchmarks_value"].state == "unavailable"


def test_watch_and_unwatch_use_update_subscription():
    d = live_driver()
    d.cmds.clear()
    d.s.watch([T3], d.now, d.rt)
    d.drain()
    adds = [c for c in d.cmds if c["cmd"] == "update_subscription"]
    assert {c["params"]["action"] for c in adds} == {"add_markets"} and len(adds) == 3
    assert all(c["params"]["market_tickers"] == [T3] for c in adds)
    d.cmds.clear()
    d.s.unwatch([T1, T3], d.now, d.rt)
    d.drain()
    dels = [c for c in d.cmds if c["cmd"] == "update_subscription"]
    assert all(c["params"]["action"] == "delete_markets" and c["params"]["market_tickers"] == sorted([T1, T3]) for c in dels)
    assert len(dels) == 3
    d.cmds.clear()
    d.s.unwatch([T2], d.now, d.rt)
    d.drain()
    assert {c["cmd"] for c in d.cmds} == {"unsubscribe"} and len(d.cmds) == 3
    assert d.s.books == {}


def test_watch_while_subscribing_is_sent_after_the_ack():
    d = Driver()
    d.s.watch([T1], d.now, d.rt)
    _, cmds, _ = d.connect()
    d.s.watch([T2], d.now, d.rt)
    d.s.unwatch([T1], d.now, d.rt)
    d.drain()
    d.cmds.clear()
    d.ack_all(cmds)
    ups = [c for c in d.cmds if c["cmd"] == "update_subscription"]
    assert {(c["params"]["action"], tuple(c["params"]["market_tickers"])) for c in ups} == {("add_markets", (T2,)), ("delete_markets", (T1,))}


def test_ok_replies_take_part_in_the_sequence():
    """Cockpit capture: an update_subscription ``ok`` carries the next seq of its sid."""
    d = live_driver()
    sid = d.sids["orderbook_delta"]
    d.msgs.clear()
    d.seq[sid] += 1
    d.frame({"id": 9, "sid": sid, "seq": d.seq[sid], "type": "ok", "msg": {"market_tickers": [T1, T2]}})
    d.delta(T1, "yes", "0.4300", "1.00")
    assert d.s.counters.gaps == 0 and quotes(d.msgs)


def test_disconnect_stales_books_and_reconnect_resubscribes_everything():
    d = live_driver()
    d.msgs.clear()
    d.s.on_disconnected(d.now, "peer closed")
    d.drain()
    assert {m.ticker for m in quotes(d.msgs) if m.stale} == {T1, T2}
    assert any(isinstance(m, FeedStatus) and m.status == "disconnected" for m in d.msgs)
    d.cmds.clear()
    _, cmds, _ = d.connect()
    assert {c["params"]["channels"][0] for c in cmds} == {"orderbook_delta", "ticker", "trade", "market_lifecycle_v2", "cfbenchmarks_value"}
    assert cmds[0]["id"] == 1  # ids restart per connection
    old_sid = d.sids["orderbook_delta"]
    d.sids.clear()
    d.ack_all(cmds)
    d.msgs.clear()
    d.push("orderbook_delta", "orderbook_delta", {"market_ticker": T1, "price_dollars": "0.1", "delta_fp": "1", "side": "yes"})
    assert quotes(d.msgs) == []  # book not live until its new snapshot
    assert d.sids["orderbook_delta"] != old_sid


def test_lifecycle_determined_and_settled_and_filtering():
    d = live_driver()
    d.msgs.clear()
    d.push("market_lifecycle_v2", "market_lifecycle_v2",
           {"market_ticker": T1, "event_type": "determined", "result": "yes", "settlement_value": "1.0000", "determination_ts": 1787000100})
    d.push("market_lifecycle_v2", "market_lifecycle_v2", {"market_ticker": T1, "event_type": "settled", "settled_ts": 1787000160})
    d.push("market_lifecycle_v2", "market_lifecycle_v2", {"market_ticker": "KXNBAGAME-X", "event_type": "created"})
    d.push("market_lifecycle_v2", "market_lifecycle_v2",
           {"event_type": "metadata_updated", "market_ticker": "KXBTC15M-26AUG171345-45", "strike_type": "greater_or_equal", "floor_strike": 77025})
    lcs = [m for m in d.msgs if isinstance(m, MarketLifecycle)]
    assert [(m.ticker, m.event_type) for m in lcs] == [(T1, "determined"), (T1, "settled"), ("KXBTC15M-26AUG171345-45", "metadata_updated")]
    assert lcs[2].floor_strike == 77025.0 and lcs[2].strike_type == "greater_or_equal"
    settled = [m for m in d.msgs if isinstance(m, MarketSettled)]
    assert [(m.result, m.settlement_value, m.final, m.ts) for m in settled] == [("yes", D(1), False, 1787000100.0), ("yes", D(1), True, 1787000160.0)]


def test_brti_ticks_and_trades():
    d = live_driver()
    d.msgs.clear()
    d.push("cfbenchmarks_value", "cfbenchmarks_value", {
        "index_id": "BRTI", "received_at": 1786999999123,
        "data": "{\"type\":\"value\",\"id\":\"BRTI\",\"time\":1786999999123,\"value\":\"68000.12\"}",
        "avg_60s_data": {"value": "68000.12000000", "window_size": 3, "window_start_ts_ms": 1786999939123, "window_end_ts_exclusive": 1786999999123},
        "last_60s_windowed_average_15min": {"value": "68000.23000000", "window_size": 14, "window_start_ts_ms": 1, "window_end_ts_exclusive": 2},
    })
    d.push("trade", "trade", {"trade_id": "t1", "market_ticker": T1, "yes_price_dollars": "0.3600", "no_price_dollars": "0.6400",
                              "count_fp": "136.00", "taker_side": "no", "taker_outcome_side": "no", "taker_book_side": "ask",
                              "is_block_trade": False, "ts": 1786999999, "ts_ms": 1786999999000})
    tick = next(m for m in d.msgs if isinstance(m, SpotTick))
    assert (tick.source, tick.price, tick.avg_60s, tick.avg_60s_15min, tick.avg_60s_15min_n, tick.ts) == (
        "brti", 68000.12, 68000.12, 68000.23, 14, 1786999999.123)
    tr = next(m for m in d.msgs if isinstance(m, Trade))
    assert (tr.yes_price, tr.count, tr.taker_side) == (D("0.36"), D(136), "no")


def test_bad_input_counted_connection_state_kept():
    d = live_driver()
    d.msgs.clear()
    d.frame("{not json")
    d.frame('["a list"]')
    d.frame({"type": "mystery", "msg": {}})
    d.push("ticker", "ticker", {"market_ticker": T1, "yes_bid_dollars": True}, seq=False)
    d.push("trade", "trade", {"trade_id": "t", "market_ticker": T1, "yes_price_dollars": "1.5000", "count_fp": "1.00"})
    d.push("trade", "trade", {"market_ticker": T1, "yes_price_dollars": "0.5000", "count_fp": "1.00"})
    assert d.bad.counts == {
        "frame:bad_json": 1, "frame:not_object": 1, "unknown_type": 1,
        "ticker:wrong_type": 1, "trade:out_of_range": 1, "trade:missing_field": 1,
    }
    assert not any(isinstance(m, (Trade, Quote)) for m in d.msgs)
    # a malformed delta cannot be applied: that book resyncs, the other is untouched
    d.delta(T1, "yes", "abc", "1.00")
    assert d.bad.counts["orderbook_delta:bad_value"] == 1
    assert [m.ticker for m in quotes(d.msgs) if m.stale] == [T1]
    assert d.cmds[-1]["params"] == {"sids": [d.sids["orderbook_delta"]], "market_tickers": [T1], "action": "get_snapshot"}
    d.msgs.clear()
    d.delta(T2, "no", "0.5500", "1.00")
    assert quotes(d.msgs) and d.s.book(T2) is not None


def test_negative_level_resyncs_the_book():
    d = live_driver()
    d.msgs.clear()
    d.delta(T1, "yes", "0.4200", "-6.00")  # only 5 there
    assert [m.ticker for m in quotes(d.msgs) if m.stale] == [T1]
    assert d.cmds[-1]["params"]["action"] == "get_snapshot"


def test_crossed_book_withholds_quotes_until_uncrossed():
    d = live_driver()
    d.msgs.clear()
    d.delta(T1, "yes", "0.5000", "1.00")  # YES bid 0.50 vs YES ask 0.45: crossed
    assert quotes(d.msgs) == []
    d.delta(T1, "no", "0.5500", "-3.00")  # the NO 0.55 level matched away -> ask 0.50; still locked
    d.delta(T1, "yes", "0.5000", "-1.00")
    q = quotes(d.msgs)[-1]
    assert q.yes_bid == D("0.42") and q.yes_ask == D("0.50")


def test_periodic_book_snapshots_for_the_record():
    d = live_driver(book_snapshot_s=60)
    d.msgs.clear()
    d.now += 61
    d.s.tick(d.now, d.rt)
    d.drain()
    snaps = [m for m in d.msgs if isinstance(m, BookSnapshot)]
    assert {s.ticker for s in snaps} == {T1, T2} and snaps[0].yes_bids[0] == (D("0.42"), D(5))


def test_unknown_sid_for_a_replaced_subscription_is_ignored():
    """An update in flight for a sid that was replaced (e.g. the last market unwatched, then a new
    one watched) comes back as "unknown sid": it must not resubscribe again and again."""
    d = live_driver()
    old = d.sids["orderbook_delta"]
    d.cmds.clear()
    d.s.watch([T3], d.now, d.rt)
    d.drain()
    stale_update = next(c for c in d.cmds if c["cmd"] == "update_subscription" and c["params"]["sids"] == [old])
    d.s.unwatch([T1, T2, T3], d.now, d.rt)  # everything unwatched: channels unsubscribed
    d.drain()
    d.s.watch([T1], d.now, d.rt)  # and watched again: a new subscription
    _, cmds, _ = d.drain()
    d.ack_all([c for c in cmds if c["cmd"] == "subscribe"])
    assert d.sids["orderbook_delta"] != old
    d.cmds.clear()
    d.frame({"id": stale_update["id"], "type": "error", "msg": {"code": 7, "msg": "Unknown subscription ID"}})
    assert not any(c["cmd"] in ("subscribe", "unsubscribe") for c in d.cmds)
    # an unknown sid for the live subscription still resubscribes it
    d.frame({"type": "error", "sid": d.sids["orderbook_delta"], "msg": {"code": 7, "msg": "Unknown subscription ID"}})
    assert [c["cmd"] for c in d.cmds] == ["unsubscribe", "subscribe"]
