"""The Binance USD-M mark-price stream (funding rate): the parser on the documented payload, the
simulated venue's stream, the feed actor against it, and the spot index carrying the signal."""

from __future__ import annotations

import json
from functools import partial

import pytest
import trio

from actors.spot_feed import run_spot_feed
from actors.spot_index import SpotIndexCore
from kbot.actorkit import ActorStats, Collect
from kbot.messages import FeedStatus, FundingRate
from kbot.model.config import IndexConfig, SignalConfig, VolConfig
from kbot.model.index import IndexValue
from kbot.sim import SimConfig, running_sim
from kbot.sim.funding import BinanceUsdmProtocol as SimUsdm
from kbot.sim.funding import funding_rate_at
from kbot.sim.spot import SpotQuote
from kbot.venues.config import SpotFeedConfig, SpotFeedsConfig
from kbot.venues.spot.binance_usdm import BinanceUsdmProtocol, stream_url
from kbot.venues.wire import WireError

# Binance's documented example (reference/spot-feeds.md 2D, Mark-Price-Stream)
DOC = {"e": "markPriceUpdate", "E": 1562305380000, "s": "BTCUSDT", "p": "11794.15000000", "i": "11784.62659091",
       "P": "11784.25641265", "r": "0.00038167", "T": 1562306400000}


def test_the_documented_payload_raw_and_combined():
    proto = BinanceUsdmProtocol("wss://fstream.binance.com")
    assert proto.url() == "wss://fstream.binance.com/stream?streams=btcusdt@markPrice@1s"
    (f,) = proto.parse(json.dumps(DOC), recv_ts=1562305380.5)
    assert f == FundingRate(source="binance_usdm", ts=1562305380.0, symbol="BTCUSDT", mark_price=11794.15,
                            index_price=11784.62659091, funding_rate=0.00038167, next_funding_ts=1562306400.0,
                            recv_ts=1562305380.5)
    (g,) = proto.parse(json.dumps({"stream": "btcusdt@markPrice@1s", "data": DOC}), recv_ts=1562305381.0)
    with pytest.raises(WireError):  # a time a day away from its receipt is not a live update
        proto.parse(json.dumps(DOC), recv_ts=1562305380.0 + 2 * 86400)
    assert g.funding_rate == f.funding_rate
    assert proto.parse(json.dumps({**DOC, "s": "ETHUSDT"}), recv_ts=1562305380.5) == []
    assert proto.parse(json.dumps({"result": None, "id": 1}), recv_ts=1.0) == []
    neg = proto.parse(json.dumps({**DOC, "r": "-0.00012000", "i": "0.00000000"}), recv_ts=1562305380.5)[0]
    assert neg.funding_rate == -0.00012 and neg.index_price is None


@pytest.mark.parametrize("frame,kind", [
    ({**DOC, "r": "abc"}, "bad_value"),
    ({**DOC, "r": "0.9"}, "out_of_range"),
    ({**DOC, "p": "-1"}, "out_of_range"),
    ({k: v for k, v in DOC.items() if k != "E"}, "missing_field"),
    ({"e": "aggTrade", "s": "BTCUSDT"}, "unknown_type"),
    ({"code": -1121, "msg": "Invalid symbol."}, "error_frame"),
])
def test_unusable_frames_are_wire_errors(frame, kind):
    with pytest.raises(WireError) as exc:
        BinanceUsdmProtocol("wss://x").parse(json.dumps(frame), recv_ts=1.0)
    assert exc.value.kind == kind or kind == "missing_field"


def test_server_shutdown_asks_for_a_reconnect():
    p = BinanceUsdmProtocol("wss://x")
    assert p.parse(json.dumps({"e": "serverShutdown", "E": 1}), recv_ts=1.0) == [] and p.reconnect_reason


def test_config_keeps_it_off_by_default_and_out_of_the_price_feeds():
    feeds = SpotFeedsConfig()
    assert feeds.binance_usdm.exchange == "binance_usdm" and not feeds.binance_usdm.enabled
    assert feeds.binance_usdm.effective_url == "wss://fstream.binance.com"
    on = SpotFeedsConfig(binance_usdm={"enabled": True})
    assert on.binance_usdm.enabled and on.binance_usdm.link.max_age_s == 23.5 * 3600
    assert "binance_usdm" not in [f.exchange for f in on.enabled()]
    assert stream_url("ws://h/binance-usdm", "BTCUSDT").endswith("/stream?streams=btcusdt@markPrice@1s")


def _q(ts: float) -> SpotQuote:
    return SpotQuote(ts=ts, bid=100.0, ask=100.5, last=100.2, last_size=0.1, bid_qty=1.0, ask_qty=1.0, taker_buy=True,
                     trade_id=1, volume_24h=10.0, open_24h=99.0, low_24h=98.0, high_24h=101.0)


def test_the_sim_stream_throttles_and_shapes_like_binance():
    raw = SimUsdm.from_path("/binance-usdm/ws/btcusdt@markPrice", "")
    comb = SimUsdm.from_path("/binance-usdm/stream", "streams=btcusdt@markPrice@1s")
    assert (raw.streams, raw.combined, comb.combined) == (["btcusdt@markPrice"], False, True)
    t0 = 1_790_000_000.0  # a 2026 time: the parser refuses times outside 2000-2200
    sent_raw = [x for t in range(10) for x in raw.on_quote(_q(t0 + t))]
    sent_comb = [x for t in range(10) for x in comb.on_quote(_q(t0 + t))]
    assert len(sent_raw) == 4 and len(sent_comb) == 10  # every 3 s vs every second
    (f,) = BinanceUsdmProtocol("ws://h", "btcusdt").parse(sent_comb[0], recv_ts=t0)
    assert f.funding_rate == pytest.approx(funding_rate_at(t0)) and f.next_funding_ts == (t0 // 28800 + 1) * 28800
    rates = [funding_rate_at(t * 3600.0, seed=6) for t in range(24 * 7)]
    assert -0.0002 < min(rates) < 0.0001 < max(rates) < 0.0004
    assert json.loads(comb.on_text(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": 3}), 0.0, None)[0]) == {
        "result": ["btcusdt@markPrice@1s"], "id": 3}


@pytest.fixture(scope="module")
def sim_data_dir(tmp_path_factory):
    from kbot.sim.auth import demo_key

    d = tmp_path_factory.mktemp("simdata")
    demo_key(d)
    return d


async def test_the_feed_actor_against_the_sim(sim_data_dir):
    cfg = SimConfig(speed=5.0, seed=6, data_dir=str(sim_data_dir), ladder_strikes=4, brackets=2)
    async with running_sim(cfg) as ep:
        out, stats = Collect(), ActorStats("binance_usdm")
        feed = SpotFeedConfig(exchange="binance_usdm", url=ep.binance_usdm_url)
        async with trio.open_nursery() as n:
            n.start_soon(partial(run_spot_feed, feed, out, stats, ep.clock))  # the venue's clock: its times are live
            with trio.fail_after(15):
                while len(out.of(FundingRate)) < 2:
                    await trio.sleep(0.05)
            n.cancel_scope.cancel()
    rates = out.of(FundingRate)
    assert all(r.symbol == "BTCUSDT" and r.source == "binance_usdm" and abs(r.funding_rate) < 0.001 for r in rates)
    assert out.of(FeedStatus)[0].status == "connected" and stats.msgs_in >= 2


def test_the_spot_index_puts_the_funding_signal_on_its_updates():
    core = SpotIndexCore(IndexConfig(), VolConfig(), signal_config=SignalConfig())
    f = FundingRate(source="binance_usdm", ts=990.0, symbol="BTCUSDT", mark_price=1.0, index_price=None,
                    funding_rate=0.0005, next_funding_ts=None, recv_ts=990.0)
    assert core.on_funding(f) is None
    assert core.on_funding(FundingRate(**{**_fields(f), "ts": 980.0})) == "out_of_order"
    assert core.on_funding(FundingRate(**{**_fields(f), "ts": 995.0, "funding_rate": float("nan")})) == "bad_funding_rate"
    v = IndexValue(ts=1000.0, price=80_000.0, n_sources=3, sources=("a", "b", "c"), stale=False, method="median")
    core.grid_sample(1000.0, v)
    u = core.update(v)
    assert u.signals is not None and u.signals.funding == pytest.approx(2.0) and u.signals.funding_rate == 0.0005
    seq = u.signals.seq
    core.grid_sample(1010.0, v)  # nothing changed: the same signals (the pricing board keeps sleeping)
    assert core.update(v).signals.seq == seq


def _fields(f: FundingRate) -> dict:
    return {k: getattr(f, k) for k in ("source", "ts", "symbol", "mark_price", "index_price", "funding_rate",
                                       "next_funding_ts", "recv_ts")}
