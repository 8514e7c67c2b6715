"""A local Kalshi order book for one market: pure, exact (Decimal), bids only.

Kalshi publishes bids only: YES bids at YES prices and NO bids at NO-leg prices. A NO bid at q
is a YES ask at 1 - q, so:

    best YES ask = 1 - best NO bid        best NO ask = 1 - best YES bid

This class keeps both bid ladders keyed by their own leg's price (``yes`` by YES price, ``no`` by
NO price), whatever ``use_yes_price`` mode the feed ran in (``kbot.venues.kalshi.ws_parse``
converts YES-leg NO levels back to NO-leg prices before they get here). Depth is exposed on both
sides in one convention, *best first*:

- ``yes_bids(n)`` / ``no_bids(n)``: bid ladders, highest price first;
- ``yes_asks(n)`` / ``no_asks(n)``: what a buyer of that side can take, cheapest first
  (``yes_asks`` are the NO bids mirrored to ``1 - q``).

Snapshots replace the book; deltas are signed increments applied exactly; a level that reaches
zero is removed. A level that would go negative means the book and the venue disagree (a lost
message): ``BookError`` is raised after removing it, and the caller resynchronises.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterable
from decimal import Decimal

from kbot.messages import BookSnapshot, Levels, Quote, new_quote

ZERO = Decimal(0)
ONE = Decimal(1)


class BookError(ValueError):
    """The book cannot be trusted any more (negative level): resynchronise."""


_MIRRORED: dict[Decimal, Decimal] = {}


def _mirror(p: Decimal) -> Decimal:
    """``1 - p``, remembered: book prices sit on a grid of at most a few thousand values."""
    m = _MIRRORED.get(p)
    if m is None:
        m = ONE - p
        if len(_MIRRORED) < 100_000:
            _MIRRORED[p] = m
    return m


class _Ladder:
    """price -> size with prices kept sorted ascending (best bid = last)."""

    __slots__ = ("sizes", "prices", "_mirrored")

    def __init__(self) -> None:
        self.sizes: dict[Decimal, Decimal] = {}
        self.prices: list[Decimal] = []
        self._mirrored: tuple[int, Levels] | None = None  # (n, mirrored(n)) until the ladder changes

    def replace(self, levels: Iterable[tuple[Decimal, Decimal]]) -> None:
        self._mirrored = None
        sizes: dict[Decimal, Decimal] = {}
        for price, size in levels:
            if size > ZERO:
                sizes[price] = sizes.get(price, ZERO) + size
        self.sizes = sizes
        self.prices = sorted(sizes)

    def add(self, price: Decimal, delta: Decimal) -> int:
        """Apply a signed delta; returns the level's rank from the best (0 = best), before a
        removal / after an insertion, so callers can tell whether the top N levels changed.
        The remembered ``mirrored(n)`` is updated in place of being rebuilt (a delta changes one
        level: the tuple is re-sliced around it)."""
        sizes = self.sizes
        prices = self.prices
        old = sizes.get(price)
        if old is None:
            if delta > ZERO:
                sizes[price] = delta
                insort(prices, price)
                rank = len(prices) - 1 - bisect_left(prices, price)
                c = self._mirrored
                if c is not None and rank < c[0]:
                    n, m = c
                    self._mirrored = (n, (m[:rank] + ((_mirror(price), delta),) + m[rank:])[:n])
                return rank
            if delta == ZERO:
                return len(prices)
            self._mirrored = None
            raise BookError(f"delta {delta} at {price} on an empty level")
        i = bisect_left(prices, price)
        rank = len(prices) - 1 - i
        new = old + delta
        c = self._mirrored
        if new > ZERO:
            sizes[price] = new
            if c is not None and rank < c[0]:
                m = c[1]
                self._mirrored = (c[0], m[:rank] + ((m[rank][0], new),) + m[rank + 1:])
            return rank
        del sizes[price]
        del prices[i]
        if c is not None and rank < c[0]:
            n, m = c
            k = len(prices)
            if k >= n:  # the level that moves up into the best n
                p = prices[k - n]
                m = m[:rank] + m[rank + 1:] + ((_mirror(p), sizes[p]),)
            else:
                m = m[:rank] + m[rank + 1:]
            self._mirrored = (n, m)
        if new < ZERO:
            self._mirrored = None
            raise BookError(f"level {price} went negative ({old} {delta:+})")
        return rank

    def best(self) -> tuple[Decimal, Decimal] | None:
        if not self.prices:
            return None
        p = self.prices[-1]
        return p, self.sizes[p]

    def top(self, n: int) -> Levels:
        prices, sizes = self.prices, self.sizes
        k = len(prices)
        return tuple((prices[i], sizes[prices[i]]) for i in range(k - 1, max(-1, k - 1 - n), -1))

    def mirrored(self, n: int) -> Levels:
        """The best ``n`` levels as the other side's asks (``1 - price``), best first; kept until the
        ladder changes (a delta changes one side of a book: the other side's stays as it was)."""
        c = self._mirrored
        if c is not None and c[0] == n:
            return c[1]
        sizes, mm = self.sizes, _MIRRORED
        out = tuple([(mm[p] if p in mm else _mirror(p), sizes[p]) for p in self.prices[: -n - 1 : -1]]) if n > 0 else ()
        self._mirrored = (n, out)
        return out

    def __len__(self) -> int:
        return len(self.prices)


class OrderBook:
    """Bids-only book of one market (see the module docstring)."""

    __slots__ = ("ticker", "_yes", "_no")

    def __init__(self, ticker: str) -> None:
        self.ticker = ticker
        self._yes = _Ladder()
        self._no = _Ladder()

    @classmethod
    def from_levels(
        cls, ticker: str, yes: Iterable[tuple[Decimal, Decimal]], no: Iterable[tuple[Decimal, Decimal]]
    ) -> OrderBook:
        book = cls(ticker)
        book.replace(yes, no)
        return book

    # ------------------------------------------------------------------ updates

    def replace(self, yes: Iterable[tuple[Decimal, Decimal]], no: Iterable[tuple[Decimal, Decimal]]) -> None:
        """Apply a snapshot: both ladders replaced (levels with size <= 0 are dropped)."""
        self._yes.replace(yes)
        self._no.replace(no)

    def apply(self, side: str, price: Decimal, delta: Decimal) -> int:
        """Apply one signed delta to ``side`` ('yes' or 'no'; ``price`` in that side's leg).
        Returns the touched level's rank from that side's best bid (0 = best): a delta at rank
        >= N leaves the best N levels of both sides unchanged."""
        if side == "yes":
            return self._yes.add(price, delta)
        if side == "no":
            return self._no.add(price, delta)
        raise ValueError(f"side must be 'yes' or 'no', not {side!r}")

    def clear(self) -> None:
        self.replace((), ())

    # ------------------------------------------------------------------ reads

    def best_yes_bid(self) -> tuple[Decimal, Decimal] | None:
        return self._yes.best()

    def best_no_bid(self) -> tuple[Decimal, Decimal] | None:
        return self._no.best()

    def yes_ask(self) -> tuple[Decimal, Decimal] | None:
        b = self._no.best()
        return None if b is None else (ONE - b[0], b[1])

    def no_ask(self) -> tuple[Decimal, Decimal] | None:
        b = self._yes.best()
        return None if b is None else (ONE - b[0], b[1])

    def yes_bids(self, n: int = 1 << 30) -> Levels:
        return self._yes.top(n)

    def no_bids(self, n: int = 1 << 30) -> Levels:
        return self._no.top(n)

    def yes_asks(self, n: int = 1 << 30) -> Levels:
        return self._no.mirrored(n)

    def no_asks(self, n: int = 1 << 30) -> Levels:
        return self._yes.mirrored(n)

    @property
    def crossed(self) -> bool:
        """YES bid >= YES ask (best YES bid + best NO bid >= 1): not a state a venue rests in."""
        y, n = self._yes.best(), self._no.best()
        return y is not None and n is not None and y[0] + n[0] >= ONE

    @property
    def empty(self) -> bool:
        return not self._yes and not self._no

    def level_count(self) -> tuple[int, int]:
        return len(self._yes), len(self._no)

    def size_at(self, side: str, price: Decimal) -> Decimal:
        ladder = self._yes if side == "yes" else self._no
        return ladder.sizes.get(price, ZERO)

    # ------------------------------------------------------------------ domain messages

    def depth_key(self, depth: int) -> tuple[Levels, Levels]:
        """``(yes_asks, no_asks)`` to ``depth``: what a Quote of this book carries beyond its top."""
        return self._no.mirrored(depth), self._yes.mirrored(depth)

    def quote_state(self, depth: int) -> tuple[tuple[Decimal, Decimal] | None, tuple[Decimal, Decimal] | None,
                                                tuple[Levels, Levels]]:
        """``(best_yes_bid(), best_no_bid(), depth_key(depth))`` in one call (per book delta)."""
        y, n = self._yes, self._no
        yp, np_ = y.prices, n.prices
        return ((yp[-1], y.sizes[yp[-1]]) if yp else None, (np_[-1], n.sizes[np_[-1]]) if np_ else None,
                (n.mirrored(depth), y.mirrored(depth)))

    def quote(self, *, ts: float, recv_ts: float, depth: int, mono: float = 0.0, source: str = "book",
              asks: tuple[Levels, Levels] | None = None,
              tops: tuple[tuple[Decimal, Decimal] | None, tuple[Decimal, Decimal] | None] | None = None) -> Quote:
        """``asks``: ``depth_key(depth)``, ``tops``: the best bids (``quote_state``), when the caller
        already has them."""
        yb, nb = tops if tops is not None else (self._yes.best(), self._no.best())
        yes_asks, no_asks = asks if asks is not None else self.depth_key(depth)
        mm = _MIRRORED  # (a falsy 0 only takes the slower way to the same value)
        if yb is None:
            yes_bid = no_ask = yes_bid_size = None
        else:
            yes_bid, yes_bid_size = yb
            no_ask = mm.get(yes_bid) or _mirror(yes_bid)
        if nb is None:
            no_bid = yes_ask = yes_ask_size = None
        else:
            no_bid, yes_ask_size = nb
            yes_ask = mm.get(no_bid) or _mirror(no_bid)
        # ``Quote(ts=..., ...)`` field by field in declaration order (``messages.new_quote``: per book delta)
        return new_quote(ts, self.ticker, yes_bid, yes_ask, no_bid, no_ask, yes_bid_size, yes_ask_size, None, None, None,
                         yes_asks, no_asks, source, False, recv_ts, mono)

    def snapshot(self, *, ts: float, recv_ts: float, depth: int, seq: int | None = None) -> BookSnapshot:
        return BookSnapshot(
            ts=ts, ticker=self.ticker, yes_bids=self._yes.top(depth), no_bids=self._no.top(depth), seq=seq, recv_ts=recv_ts
        )


def stale_quote(ticker: str, *, ts: float, recv_ts: float, source: str = "book") -> Quote:
    """What pricers receive while a book is unreliable: no prices, ``stale=True``."""
    return Quote(ts=ts, ticker=ticker, yes_bid=None, yes_ask=None, source=source, stale=True, recv_ts=recv_ts)
