"""The organics importer on the real recorded payloads in ../shared/data/organics_kxbtc15m
(skipped when absent): the rebuilt frames go through kbot's own Kalshi WS session (parsers,
sequence checks, books) without a bad input or a gap, reference data and results come from the
recording."""

from __future__ import annotations

import itertools

import trio

from kbot.actorkit import ActorStats, Collect
from kbot.messages import MarketInfo, MarketSettled, Quote, SpotTick
from kbot.replay.config import ReplayConfig  # noqa: F401 - the config the importer's settings land in
from kbot.replay.driver import KalshiReplay, Msg
from kbot.replay.organics import CONFIG, organics
from kbot.replay.overrides import apply
from kbot.venues.config import KalshiWsConfig
from kbot.venues.wslink import LinkHealth
from tests.conftest import shared_path

DELTAS = "rv600_next_evidence_shadow_20260513T215130Z"  # one of the sessions with orderbook_delta
TICKERS_ONLY = "rv600_next_evidence_shadow_20260513T202034Z"


def _feed(session: str, limit: int) -> tuple[KalshiReplay, Collect, list]:
    root = shared_path("data", "organics_kxbtc15m")
    src = organics([root], sessions=[session])
    out = Collect()
    ws_cfg = apply(KalshiWsConfig(), CONFIG["kalshi"]["ws"])
    k = KalshiReplay(ws_cfg, out, ActorStats("kalshi_ws"), LinkHealth(), answer_commands=True, sids=src.sids)
    direct: list = []

    async def main() -> None:
        for ev in itertools.islice(src.events(), limit):
            if type(ev) is Msg:
                direct.append(ev.msg)
            elif ev.source == "kalshi_ws":
                await k.apply(ev)

    trio.run(main)
    return k, out, [src, direct]


def test_real_book_stream_builds_books_without_gaps_or_bad_input():
    k, out, (src, direct) = _feed(DELTAS, 15_000)
    c = k.session.counters
    assert c.frames > 10_000 and c.gaps == 0 and c.duplicates == 0 and c.stale_sid == 0 and c.dropped_deltas == 0
    assert k.session.bad.total == 0
    books = [m for m in out.items if isinstance(m, Quote) and m.source == "book" and not m.stale]
    tickers = [m for m in out.items if isinstance(m, Quote) and m.source == "ticker"]
    assert len(books) > 5_000 and len(tickers) > 50
    for q in books[::500]:  # a coherent book: bid < ask, YES ask = 1 - best NO bid, depth best first
        assert q.yes_bid < q.yes_ask and q.no_ask == 1 - q.yes_bid
        assert list(q.yes_asks) == sorted(q.yes_asks) and q.yes_asks[0][0] == q.yes_ask
    # the session's reference data comes from watch_market, results from the results files
    infos = [m for m in direct if isinstance(m, MarketInfo)]
    assert infos and all(m.strike_type == "greater_or_equal" and m.floor_strike and m.close_ts for m in infos)
    assert {m.ticker for m in infos} <= set(src.notes["markets"]) and len(src.notes["markets"]) == 2
    assert src.notes["settled_from_results"] == 2 and not src.notes["no_result"]
    assert any(isinstance(m, SpotTick) and m.source == "coinbase" for m in direct)


def test_sessions_without_deltas_replay_the_ticker_channel_only():
    k, out, (_src, direct) = _feed(TICKERS_ONLY, 5_000)
    assert k.session.bad.total == 0 and k.session.counters.gaps == 0
    quotes = [m for m in out.items if isinstance(m, Quote)]
    assert quotes and {q.source for q in quotes if not q.stale} == {"ticker"}  # no book frozen at a snapshot
    assert not any(isinstance(m, MarketSettled) for m in direct[:10])  # results come after the close
