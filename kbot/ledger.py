"""Position and PnL accounting (pure, exact Decimal arithmetic; no I/O, no clock reads).

One ``Book`` per trading mode (shadow, paper, live) holds cash and one net position per market,
as Kalshi does (``position_fp`` is a single signed number): YES contracts are positive, NO
contracts negative. Buying NO while holding YES closes YES (economically: selling YES at
1 - no_price), and vice versa.

Definitions (all dollars):
- ``cost``: what was paid for the contracts still held (excluding fees); ``avg_price`` =
  cost / count.
- ``fees``: fees paid on the contracts still held; fees of the part closed move into realized.
- ``realized_pnl``: net of fees: proceeds - cost basis - fees, for everything closed so far.
- ``unrealized_pnl``: count x exit-side price - cost (marked at the bid of the side held:
  what closing now would get before exit fees); None when the bid is unknown.
- equity = cash + sum of open positions marked at the exit side (cost when unmarked).

Every cash movement is an append-only ``LedgerEntry`` of a kind in ``CASH_KINDS`` (deposit,
buy, fee, sell, settlement, unwind, adjustment: reconciliation adopting the venue's cash; its
position adjustments carry amount 0), plus a non-cash ``realized_pnl`` entry whenever PnL is
realized, so PnL by day is a sum. ``CASH_KINDS`` is the one definition of "moves cash": the
book's cash is the sum of those entries and nothing else (``storage`` records the flag with
each entry; ``storage.queries.ledger_balance`` sums it).

Entry ids are ``<mode>:<ref>:<kind>``: unique within one run by construction (one deposit per
``ref``, one set of entries per fill id, one settlement or unwind per ticker), and the database
keys them by (run, entry id), so runs sharing a database never collide.

Applying the same fill or settling the same market twice is a no-op (idempotent by id). An
update that is refused (a malformed fill, a fill for a settled market) raises before it
changes anything: cash, positions and the applied-fill set are as they were.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

import attrs

from kbot.messages import Fill, LedgerEntry, MarketSettled, Mode, Position, Side

ZERO = Decimal(0)
ONE = Decimal(1)

# The ledger entry kinds that move cash, and the only ones summed into a cash balance:
#   deposit    + starting cash, or cash carried over from the previous run
#   buy        - contracts bought (count x price)
#   fee        - fees paid
#   sell       + $1 per YES+NO pair closed by netting
#   settlement + the payout of a settled position
#   unwind     + the cost of a position taken off the books without an outcome (``Book.unwind``)
# ``realized_pnl`` is bookkeeping, not cash: it says how much of the cash movements above was
# profit or loss, when it was realized.
CASH_KINDS: frozenset[str] = frozenset({"deposit", "buy", "fee", "sell", "settlement", "unwind", "adjustment"})
NON_CASH_KINDS: frozenset[str] = frozenset({"realized_pnl"})
KINDS: frozenset[str] = CASH_KINDS | NON_CASH_KINDS


def moves_cash(kind: str) -> bool:
    """True for the entry kinds that change the cash balance (``CASH_KINDS``)."""
    return kind in CASH_KINDS


def cash_balance(entries: Iterable[LedgerEntry]) -> Decimal:
    """The cash the entries add up to: the sum of the amounts of ``CASH_KINDS`` entries."""
    return sum((e.amount for e in entries if e.kind in CASH_KINDS), ZERO)


MICRO = Decimal("0.000001")  # allocation precision when part of a position is closed


def _share(total: Decimal, part: Decimal, whole: Decimal) -> Decimal:
    """``total * part / whole`` rounded to $0.000001 (exactly ``total`` when closing all), so
    every amount moved between cost, fees, realized and cash stays a finite decimal and the
    books reconcile to the last digit."""
    if part == whole:
        return total
    return (total * part / whole).quantize(MICRO)


def other(side: Side) -> Side:
    return "no" if side == "yes" else "yes"


@attrs.define(slots=True)
class _Pos:
    ticker: str
    side: Side
    count: Decimal = ZERO
    cost: Decimal = ZERO
    fees: Decimal = ZERO
    realized_pnl: Decimal = ZERO
    opened_ts: float = 0.0
    closed_ts: float | None = None
    status: str = "open"
    result: str | None = None
    mark: Decimal | None = None  # exit-side price of ``side``
    last_ts: float = 0.0

    def avg_price(self) -> Decimal:
        return (self.cost / self.count) if self.count else ZERO

    def unrealized(self) -> Decimal | None:
        if self.status != "open" or self.mark is None:
            return None
        return self.count * self.mark - self.cost


@attrs.frozen(slots=True)
class Applied:
    """What applying a fill or a settlement produced: entries to record, the position after."""

    entries: tuple[LedgerEntry, ...]
    position: Position | None
    realized: Decimal = ZERO


class Book:
    """Cash and positions of one mode in one run. Deterministic entry ids (``<mode>:<ref>:<kind>``,
    see the module docstring) so that re-recording after an actor restart is an idempotent
    upsert."""

    def __init__(self, mode: Mode, starting_balance: Decimal = ZERO) -> None:
        self.mode: Mode = mode
        self.cash = ZERO
        self.positions: dict[str, _Pos] = {}
        self.applied_fills: set[str] = set()
        self.settled: set[str] = set()
        self.realized_by_day: dict[str, Decimal] = {}
        self._starting = Decimal(starting_balance)

    # ------------------------------------------------------------------ entries

    def _entry(self, ts: float, ticker: str | None, kind: str, amount: Decimal, ref: str, note: str | None = None) -> LedgerEntry:
        return LedgerEntry(
            entry_id=f"{self.mode}:{ref}:{kind}", ts=ts, mode=self.mode, ticker=ticker, kind=kind,
            amount=amount, ref=ref, note=note,
        )

    def deposit(self, ts: float, amount: Decimal | None = None, ref: str = "initial") -> LedgerEntry:
        amount = self._starting if amount is None else Decimal(amount)
        self.cash += amount
        return self._entry(ts, None, "deposit", amount, ref)

    # ------------------------------------------------------------------ queries

    def position(self, ticker: str) -> Position | None:
        p = self.positions.get(ticker)
        return self._snapshot(p) if p is not None else None

    def open_positions(self) -> list[Position]:
        return [self._snapshot(p) for p in self.positions.values() if p.status == "open" and p.count > 0]

    def exposure(self) -> Decimal:
        """Cost of open positions (what can still be lost, excluding fees already paid)."""
        return sum((p.cost for p in self.positions.values() if p.status == "open"), ZERO)

    def exposure_by_ticker(self) -> dict[str, Decimal]:
        return {t: p.cost for t, p in self.positions.items() if p.status == "open" and p.count > 0}

    def equity(self) -> Decimal:
        total = self.cash
        for p in self.positions.values():
            if p.status != "open" or not p.count:
                continue
            total += p.count * p.mark if p.mark is not None else p.cost
        return total

    def daily_realized(self, day: str) -> Decimal:
        return self.realized_by_day.get(day, ZERO)

    def _snapshot(self, p: _Pos) -> Position:
        return Position(
            ts=p.last_ts, mode=self.mode, ticker=p.ticker, side=p.side, count=p.count,
            avg_price=p.avg_price(), cost=p.cost, fees=p.fees, realized_pnl=p.realized_pnl,
            unrealized_pnl=p.unrealized(), mark_price=p.mark, status=p.status, opened_ts=p.opened_ts,
            closed_ts=p.closed_ts, result=p.result,
        )

    def _realize(self, day: str, amount: Decimal) -> None:
        self.realized_by_day[day] = self.realized_by_day.get(day, ZERO) + amount

    # ------------------------------------------------------------------ updates

    def apply_fill(self, fill: Fill, day: str) -> Applied:
        """Apply one fill (``day``: the UTC date of the fill, for daily PnL). Idempotent.

        Raises ``ValueError`` (and changes nothing) for a malformed fill or a fill in a market
        this book has already settled (or unwound): a fill reported after its market's
        settlement must not reopen a position that will never be settled again."""
        if fill.fill_id in self.applied_fills:
            return Applied((), self.position(fill.ticker))
        if fill.count <= 0 or not ZERO <= fill.price <= ONE or fill.fee < 0:
            raise ValueError(f"invalid fill {fill.fill_id}: count {fill.count}, price {fill.price}, fee {fill.fee}")
        if fill.ticker in self.settled:
            raise ValueError(f"fill {fill.fill_id} for already settled market {fill.ticker}")
        if fill.action != "buy":
            # A sale of side s at price q is a purchase of the other side at 1 - q.
            fill = attrs.evolve(fill, side=other(fill.side), action="buy", price=ONE - fill.price)
        # Validated: from here on nothing raises.
        self.applied_fills.add(fill.fill_id)
        ref = fill.fill_id
        entries = [
            self._entry(fill.ts, fill.ticker, "buy", -(fill.count * fill.price), ref),
        ]
        if fill.fee:
            entries.append(self._entry(fill.ts, fill.ticker, "fee", -fill.fee, ref))
        self.cash -= fill.count * fill.price + fill.fee

        p = self.positions.get(fill.ticker)
        if p is None or p.status != "open" or p.count == 0:
            p = _Pos(ticker=fill.ticker, side=fill.side, opened_ts=fill.ts, realized_pnl=p.realized_pnl if p else ZERO,
                     last_ts=p.last_ts if p else 0.0)
            self.positions[fill.ticker] = p
        # The position's record is "newest ts wins": a fill applied late (stamped before the
        # position's last change, e.g. a TAKE executed at start-up repair) must still update it.
        p.last_ts = max(p.last_ts, fill.ts)
        realized = ZERO
        if fill.side == p.side:
            p.count += fill.count
            p.cost += fill.count * fill.price
            p.fees += fill.fee
        else:
            # Netting: buying the other side closes up to the held count at (1 - price).
            q = min(fill.count, p.count)
            basis = _share(p.cost, q, p.count)
            fee_basis = _share(p.fees, q, p.count)
            close_fee = _share(fill.fee, q, fill.count)
            proceeds = q * (ONE - fill.price)
            # We paid q*price now; the YES+NO pair pays $1 back: net cash +(1-price) per pair.
            self.cash += q * ONE
            entries.append(self._entry(fill.ts, fill.ticker, "sell", q * ONE, ref, note="netted against opposite side"))
            realized = proceeds - basis - fee_basis - close_fee
            p.count -= q
            p.cost -= basis
            p.fees -= fee_basis
            p.realized_pnl += realized
            rest = fill.count - q
            if rest > 0:  # flipped: the remainder opens the other side
                p.side = fill.side
                p.count = rest
                p.cost = rest * fill.price
                p.fees = fill.fee - close_fee
                p.mark = None
                p.opened_ts = fill.ts
            elif p.count == 0:
                p.cost = ZERO
                p.fees = ZERO
            entries.append(self._entry(fill.ts, fill.ticker, "realized_pnl", realized, ref))
            self._realize(day, realized)
        return Applied(tuple(entries), self._snapshot(p), realized)

    def mark(self, ticker: str, yes_bid: Decimal | None, no_bid: Decimal | None, ts: float) -> Position | None:
        """Mark an open position at its exit side (YES held: yes_bid; NO held: no_bid)."""
        p = self.positions.get(ticker)
        if p is None or p.status != "open" or p.count == 0:
            return None
        bid = yes_bid if p.side == "yes" else no_bid
        if bid == p.mark:
            return None
        p.mark = bid
        p.last_ts = ts
        return self._snapshot(p)

    def settle(self, s: MarketSettled, day: str) -> Applied:
        """Close the position in ``s.ticker`` at the settlement value, exactly once."""
        if s.ticker in self.settled:
            return Applied((), self.position(s.ticker))
        p = self.positions.get(s.ticker)
        self.settled.add(s.ticker)
        if p is None or p.status != "open":
            return Applied((), None)
        ref = f"settle:{s.ticker}"
        if s.result == "void":
            payout = p.cost  # voided markets return what was paid
        else:
            value = s.settlement_value if p.side == "yes" else ONE - s.settlement_value
            payout = p.count * value
        realized = payout - p.cost - p.fees
        # The position's record is "newest ts wins": a settlement stamped before the last fill
        # (a late report of an earlier determination) must still close it.
        ts = max(s.ts, p.last_ts)
        entries = []
        if payout:
            entries.append(self._entry(ts, s.ticker, "settlement", payout, ref, note=f"result {s.result}"))
        entries.append(self._entry(ts, s.ticker, "realized_pnl", realized, ref))
        self.cash += payout
        p.realized_pnl += realized
        p.status = "settled"
        p.closed_ts = ts
        p.last_ts = ts
        p.result = s.result
        p.mark = None
        self._realize(day, realized)
        snap = self._snapshot(p)
        return Applied(tuple(entries), snap, realized)

    def unwind(self, ticker: str, ts: float, day: str, reason: str) -> Applied:
        """Take an open position off the books without an outcome, exactly once: its cost comes
        back as cash (an ``unwind`` entry, like a voided market returns what was paid), the fees
        paid stay lost (realized PnL = -fees), the position is closed with status ``unwound``.

        For positions whose market can never settle for this book: the open shadow positions of
        a simulated run that ended (its simulated world ended with it). Nothing happens for a
        ticker without an open position."""
        p = self.positions.get(ticker)
        if ticker in self.settled or p is None or p.status != "open":
            return Applied((), self.position(ticker) if p is not None else None)
        self.settled.add(ticker)
        ref = f"unwind:{ticker}"
        ts = max(ts, p.last_ts)
        payout = p.cost
        realized = -p.fees
        entries = []
        if payout:
            entries.append(self._entry(ts, ticker, "unwind", payout, ref, note=reason))
        entries.append(self._entry(ts, ticker, "realized_pnl", realized, ref, note=reason))
        self.cash += payout
        p.realized_pnl += realized
        p.status = "unwound"
        p.closed_ts = ts
        p.last_ts = ts
        p.mark = None
        self._realize(day, realized)
        return Applied(tuple(entries), self._snapshot(p), realized)
    # ------------------------------------------------------------------ reconciliation

    def signed_positions(self) -> dict[str, Decimal]:
        """Open positions as the venue nets them: + YES contracts, - NO contracts."""
        return {t: (p.count if p.side == "yes" else -p.count) for t, p in self.positions.items()
                if p.status == "open" and p.count > 0}

    def adjust_position(self, ticker: str, change: Decimal, ts: float, ref: str, note: str | None = None) -> Applied:
        """Change the position in ``ticker`` by ``change`` signed contracts (+ YES, - NO): the
        venue's view, adopted by reconciliation. No cash moves: a non-cash ``adjustment`` entry
        records it. The average price of what is still held is kept; contracts that appear
        without a known price are carried at cost 0 (their price is unknown)."""
        if ticker in self.settled:
            raise ValueError(f"cannot adjust {ticker}: already settled")
        p = self.positions.get(ticker)
        before = ZERO if p is None or p.status != "open" else (p.count if p.side == "yes" else -p.count)
        target = before + Decimal(change)
        if p is None or p.status != "open":
            p = self.positions[ticker] = _Pos(ticker=ticker, side="yes" if target >= 0 else "no", opened_ts=ts,
                                               realized_pnl=p.realized_pnl if p else ZERO)
        side: Side = "yes" if target > 0 else ("no" if target < 0 else p.side)
        count = abs(target)
        if side == p.side and p.count:
            keep = min(count, p.count)
            p.cost = _share(p.cost, keep, p.count)
            p.fees = _share(p.fees, keep, p.count)
        else:
            p.cost = ZERO
            p.fees = ZERO
        p.side = side
        p.count = count
        p.mark = None
        p.last_ts = ts
        entry = self._entry(ts, ticker, "adjustment", ZERO, ref,
                            note=note or f"position {before} -> {target} contracts (venue)")
        return Applied((entry,), self._snapshot(p))

    def adjust_cash(self, change: Decimal, ts: float, ref: str, note: str | None = None) -> LedgerEntry:
        """Change cash by ``change`` dollars (what separates it from the venue's balance,
        adopted by reconciliation): one cash ``adjustment`` entry."""
        self.cash += Decimal(change)
        return self._entry(ts, None, "adjustment", Decimal(change), ref, note=note or "cash aligned with the venue")

    # ------------------------------------------------------------------ recovery

    def restore(self, positions: Iterable[Position], cash: Decimal, applied_fills: Iterable[str] = (),
                settled: Iterable[str] = (), realized_by_day: dict[str, Decimal] | None = None) -> None:
        """Rebuild state from the record (process restart)."""
        self.cash = Decimal(cash)
        for pos in positions:
            self.positions[pos.ticker] = _Pos(
                ticker=pos.ticker, side=pos.side, count=pos.count, cost=pos.cost, fees=pos.fees,
                realized_pnl=pos.realized_pnl, opened_ts=pos.opened_ts, closed_ts=pos.closed_ts,
                status=pos.status, result=pos.result, mark=pos.mark_price, last_ts=pos.ts,
            )
            if pos.status != "open":  # settled or unwound: closed for good
                self.settled.add(pos.ticker)
        self.applied_fills.update(applied_fills)
        self.settled.update(settled)
        if realized_by_day:
            self.realized_by_day.update(realized_by_day)
