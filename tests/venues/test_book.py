"""The local order book: exact Decimal arithmetic, pruning, both-side depth in one convention,
property tests against a naive model, and replays of real Kalshi snapshot/delta streams."""

from __future__ import annotations

import gzip
import json
from collections import defaultdict
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.venues import organics_book_events
from kbot.venues.kalshi import ws_parse as wp
from kbot.venues.kalshi.book import BookError, OrderBook, stale_quote
from kbot.venues.kalshi.rest_parse import parse_orderbook

D = Decimal


def test_reference_orderbook_example():
    """REST shape (reference §3.5): ascending, best = last; YES ask = 1 - best NO bid."""
    body = {"orderbook_fp": {"yes_dollars": [["0.0100", "200.00"], ["0.4200", "13.00"]], "no_dollars": [["0.0100", "100.00"], ["0.5600", "17.00"]]}}
    b = parse_orderbook(body, "T")
    assert b.best_yes_bid() == (D("0.42"), D("13"))
    assert b.best_no_bid() == (D("0.56"), D("17"))
    assert b.yes_ask() == (D("0.44"), D("17"))
    assert b.no_ask() == (D("0.58"), D("13"))
    assert b.yes_asks() == ((D("0.44"), D("17")), (D("0.99"), D("100")))
    assert b.no_asks() == ((D("0.58"), D("13")), (D("0.99"), D("200")))
    assert b.yes_bids() == ((D("0.42"), D("13")), (D("0.01"), D("200")))
    assert not b.crossed
    q = b.quote(ts=1.0, recv_ts=2.0, depth=1)
    assert (q.yes_bid, q.yes_ask, q.no_bid, q.no_ask) == (D("0.42"), D("0.44"), D("0.56"), D("0.58"))
    assert (q.yes_bid_size, q.yes_ask_size) == (D(13), D(17))
    assert q.yes_asks == ((D("0.44"), D("17")),) and q.no_asks == ((D("0.58"), D("13")),)
    assert q.source == "book" and not q.stale


def test_legacy_orderbook_shapes():
    legacy = {"orderbook": {"yes": [[1, 200], [42, 13]], "no": [[56, 17]]}}
    b = parse_orderbook(legacy, "T")
    assert b.best_yes_bid() == (D("0.42"), D(13)) and b.yes_ask() == (D("0.44"), D(17))
    bare = {"yes": [[42, 13]], "no": None}
    assert parse_orderbook(bare, "T").best_no_bid() is None


def test_deltas_exact_and_pruned():
    b = OrderBook.from_levels("T", [(D("0.40"), D("10.5"))], [(D("0.55"), D("3"))])
    b.apply("yes", D("0.40"), D("-0.25"))
    assert b.best_yes_bid() == (D("0.40"), D("10.25"))
    b.apply("yes", D("0.41"), D("0.01"))
    assert b.best_yes_bid() == (D("0.41"), D("0.01"))
    b.apply("yes", D("0.41"), D("-0.01"))
    assert b.best_yes_bid() == (D("0.40"), D("10.25")) and b.level_count() == (1, 1)
    b.apply("no", D("0.55"), D("-3"))
    assert b.yes_ask() is None and b.level_count() == (1, 0)
    with pytest.raises(BookError):
        b.apply("no", D("0.20"), D("-1"))  # delta on an empty level
    with pytest.raises(BookError):
        b.apply("yes", D("0.40"), D("-11"))  # would go negative: removed, then raised
    assert b.best_yes_bid() is None


def test_crossed_and_stale_quote():
    b = OrderBook.from_levels("T", [(D("0.60"), D(1))], [(D("0.45"), D(1))])
    assert b.crossed
    q = stale_quote("T", ts=1, recv_ts=1)
    assert q.stale and q.yes_bid is None and q.yes_ask is None and q.yes_asks == ()


prices = st.integers(min_value=1, max_value=999).map(lambda n: D(n) / 1000)
sizes = st.integers(min_value=1, max_value=100_000).map(lambda n: D(n) / 100)
sides = st.sampled_from(["yes", "no"])


@settings(max_examples=200, deadline=None)
@given(
    snap_yes=st.lists(st.tuples(prices, sizes), max_size=15),
    snap_no=st.lists(st.tuples(prices, sizes), max_size=15),
    ops=st.lists(st.tuples(sides, prices, st.integers(min_value=-100_000, max_value=100_000).map(lambda n: D(n) / 100)), max_size=60),
)
def test_book_matches_naive_model(snap_yes, snap_no, ops):
    book = OrderBook.from_levels("T", snap_yes, snap_no)
    model: dict[str, dict[Decimal, Decimal]] = {"yes": defaultdict(D), "no": defaultdict(D)}
    for p, s in snap_yes:
        model["yes"][p] += s
    for p, s in snap_no:
        model["no"][p] += s
    for side, price, delta in ops:
        new = model[side].get(price, D(0)) + delta
        if new < 0:
            with pytest.raises(BookError):
                book.apply(side, price, delta)
            model[side].pop(price, None)
        else:
            before = (book.yes_asks(3), book.no_asks(3))
            rank = book.apply(side, price, delta)
            if rank >= 3:  # the rank contract: deeper changes leave the best 3 levels alone
                assert (book.yes_asks(3), book.no_asks(3)) == before
            if new == 0:
                model[side].pop(price, None)
            else:
                model[side][price] = new
        # invariants after every step
        for s, ladder in (("yes", book.yes_bids()), ("no", book.no_bids())):
            expect = sorted(((p, q) for p, q in model[s].items() if q > 0), reverse=True)
            assert list(ladder) == expect
            assert all(q > 0 for _, q in ladder)
        yb, nb = book.best_yes_bid(), book.best_no_bid()
        assert book.yes_ask() == (None if nb is None else (1 - nb[0], nb[1]))
        assert book.no_ask() == (None if yb is None else (1 - yb[0], yb[1]))
        assert list(book.yes_asks()) == [(1 - p, q) for p, q in book.no_bids()]
        asks = [p for p, _ in book.yes_asks()]
        assert asks == sorted(asks)  # cheapest first


@settings(max_examples=100, deadline=None)
@given(levels=st.lists(st.tuples(prices, sizes), max_size=20), depth=st.integers(min_value=1, max_value=25))
def test_quote_depth_is_a_prefix(levels, depth):
    b = OrderBook.from_levels("T", levels, levels)
    q = b.quote(ts=0, recv_ts=0, depth=depth)
    assert q.yes_asks == b.yes_asks()[:depth] and q.no_asks == b.no_asks()[:depth]
    assert len(q.yes_asks) <= depth


# ----------------------------------------------------------------------------- replays of real streams


def _need(path):
    if not path.exists():
        pytest.skip(f"{path} is not available (real data lives outside the repository)")
    return path


def test_replay_cockpit_ws_session(shared_data):
    """269 verbatim frames (Aug 2026): contiguous seq per sid, every delta applies cleanly."""
    path = _need(shared_data / "kalshi_cockpit_fixtures" / "ws_orderbook_stream.json")
    frames = json.loads(path.read_text())["frames"]
    books: dict[str, OrderBook] = {}
    last_seq = None
    deltas = 0
    for f in frames:
        env = wp.parse_envelope(json.dumps(f["frame"]))
        if env.seq is not None:
            assert last_seq is None or env.seq == last_seq + 1
            last_seq = env.seq
        if env.type == "orderbook_snapshot":
            lv = wp.parse_orderbook_snapshot(env.msg, use_yes_price=False)
            books[lv.ticker] = OrderBook.from_levels(lv.ticker, lv.yes, lv.no)
        elif env.type == "orderbook_delta":
            d = wp.parse_orderbook_delta(env.msg, use_yes_price=False, recv_ts=f["received_ms"] / 1000)
            books[d.ticker].apply(d.side, d.price, d.delta)
            deltas += 1
    assert deltas == 245 and len(books) == 12
    assert not any(b.crossed for b in books.values())


def _checkpoints(session_dir):
    cps = defaultdict(dict)
    for f in session_dir.glob("book_checkpoints/**/*.gz"):
        with gzip.open(f, "rt") as fh:
            for line in fh:
                r = json.loads(line)
                cps[r["market_ticker"]][r["sequence_number"]] = r
    return cps


def test_replay_organics_kxbtc15m_against_recorder_checkpoints(shared_data):
    """Real KXBTC15M streams (May 2026): snapshot seq 1 then contiguous deltas per market; no level
    ever goes negative, and the best bid of each side equals the recorder's own top-of-book
    checkpoint at the same seq. (The recorder folds sub-cent levels into whole cents, so levels with
    another level less than a cent below them are not compared.) Locked/crossed states occur only
    transiently, between the deltas of one match."""
    session = _need(shared_data / "organics_kxbtc15m" / "research_data" / "particle_shadow_spotmerge_oos_20260511T121730Z")
    events = organics_book_events(session)
    checkpoints = _checkpoints(session)
    books: dict[str, OrderBook] = {}
    last: dict[str, int] = {}
    applied = compared = run = longest_crossed_run = 0
    cent = D("0.01")
    for ticker, seq, kind, payload in events:
        if kind == "orderbook_snapshot":
            lv = wp.parse_orderbook_snapshot(payload, use_yes_price=False)
            books[ticker] = OrderBook.from_levels(ticker, lv.yes, lv.no)
        else:
            assert seq == last[ticker] + 1, f"gap in {ticker} at {seq}"
            ts_ms = payload.get("ts_ms")  # received when it happened (parsers check times against receipt)
            d = wp.parse_orderbook_delta(payload, use_yes_price=False, recv_ts=ts_ms / 1000 if ts_ms else 1.78e9)
            books[ticker].apply(d.side, d.price, d.delta)  # raises BookError if a level went negative
            applied += 1
        last[ticker] = seq
        b = books[ticker]
        run = run + 1 if b.crossed else 0
        longest_crossed_run = max(longest_crossed_run, run)
        cp = checkpoints.get(ticker, {}).get(seq)
        if cp is None or not cp["yes_bid_prices"] or not cp["no_bid_prices"]:
            continue
        for ladder, prices_c, sizes_ in ((b.yes_bids(2), cp["yes_bid_prices"], cp["yes_bid_sizes"]), (b.no_bids(2), cp["no_bid_prices"], cp["no_bid_sizes"])):
            best = ladder[0]
            if best[0] % cent or (len(ladder) > 1 and ladder[1][0] > best[0] - cent):
                continue
            assert (best[0] * 100, float(best[1])) == (prices_c[0], sizes_[0]), f"{ticker} seq {seq}"
            compared += 1
    assert applied > 50_000 and compared > 500
    assert longest_crossed_run < 20
