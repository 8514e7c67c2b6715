"""Reconciliation: kbot's view (the ledger's positions and cash, the order manager's orders,
the settlements it applied) against the venue's (positions, resting orders, balance,
settlement records). Pure: snapshots in, findings and ledger adjustments out.

Rules (the failures they prevent are the ones users of trading bots report most):

- Never infer "flat" from a missing row or an incomplete page. A venue listing that could not
  be read whole is ``None`` and nothing is concluded from it. A position the ledger holds but
  the venue's listing lacks is not a zero: it is confirmed by an explicit per-market query
  (``VenueSnapshot.confirmed``); a market with no record at all stays unknown.
- A difference must be seen in two consecutive passes, with the same values, before it is a
  mismatch (venue listings lag fills by about a second; a fill can be in flight). Markets with
  traffic since the ledger's last view (``busy``) and markets between kbot's settlement and
  the venue's payout (``settling``) are not compared in that pass, and nothing about them is
  cleared either.
- A mismatch raises a finding (``Reconciliation`` row, alert) and halts new orders in that
  market (``"*"``: the whole account, for cash) until a later pass finds agreement
  (``cleared``). With ``adopt`` the ledger takes the venue's view instead
  (``LedgerAdjustment``; finding ``adopted``), when the venue's value is known.
- An order kbot believes open that the venue does not list is a *miss*; after two consecutive
  misses it is resolved by a query (``orders_to_query``), never assumed canceled.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal

import attrs

from kbot.messages import Mode, OrderEvent, Reconciliation, VenueSettlement

ZERO = Decimal(0)
ALL = "*"  # halt key for the whole account
MISSES_BEFORE_QUERY = 2


@attrs.frozen(kw_only=True)
class LedgerAdjustment:
    """A command to the ledger (not a record: the ledger records the entries it makes):
    reconciliation adopting the venue's view: change one position (``kind="position"``:
    ``change`` signed contracts, + YES / - NO) or the cash balance (``kind="cash"``: ``change``
    dollars) of the ledger by what separates it from the venue. A change, not a target: fills
    applied after the comparison stay applied."""

    ts: float
    mode: Mode
    kind: str  # position | cash
    ticker: str | None
    change: Decimal
    ref: str  # names the reconciliation that decided it (ledger entry ids derive from it)
    reason: str


@attrs.frozen(kw_only=True)
class VenueSnapshot:
    """What the venue says, read at ``ts``. ``None`` for a part that could not be read whole."""

    ts: float
    positions: Mapping[str, Decimal] | None = None  # signed contracts (+ YES, - NO), non-zero rows
    orders: Mapping[str, OrderEvent] | None = None  # resting orders by venue order id
    balance: Decimal | None = None
    settlements: Mapping[str, VenueSettlement] = attrs.field(factory=dict)  # by ticker
    # explicit per-market answers for positions missing from the listing:
    # ticker -> signed contracts (0: a row says flat), or None (the venue has no record)
    confirmed: Mapping[str, Decimal | None] = attrs.field(factory=dict)
    records: tuple[object, ...] = ()  # the venue's own records read (balance, positions, settlements), for the record


@attrs.frozen(kw_only=True)
class LedgerView:
    ts: float
    positions: Mapping[str, Decimal]  # signed contracts of open positions
    cash: Decimal


@attrs.frozen(kw_only=True)
class Diff:
    kind: str  # position | balance | settlement | order
    ticker: str | None
    ledger: Decimal | str | None
    venue: Decimal | str | None
    detail: str = ""
    adoptable: bool = True

    @property
    def key(self) -> tuple[str, str | None]:
        return (self.kind, self.ticker)


def _txt(v: Decimal | str | None) -> str | None:
    return None if v is None else str(v)


def missing_rows(ledger: LedgerView, venue: VenueSnapshot) -> list[str]:
    """Markets where the ledger holds a position and the (complete) venue listing has no row:
    to be confirmed one by one before anything is concluded."""
    if venue.positions is None:
        return []
    return sorted(t for t, n in ledger.positions.items() if n and t not in venue.positions)


def position_diffs(ledger: LedgerView, venue: VenueSnapshot, *, skip: Iterable[str] = ()) -> tuple[list[Diff], set[str]]:
    """Position differences, and the markets that were compared. Nothing when the listing is
    incomplete; a missing row counts only through its explicit confirmation."""
    if venue.positions is None:
        return [], set()
    skip = set(skip)
    diffs: list[Diff] = []
    checked: set[str] = set()
    for t in sorted(set(ledger.positions) | set(venue.positions)):
        if t in skip:
            continue
        mine = ledger.positions.get(t, ZERO)
        if t in venue.positions:
            theirs: Decimal | None = venue.positions[t]
        elif not mine:
            continue
        elif t in venue.confirmed:
            theirs = venue.confirmed[t]
        else:
            continue  # a missing row, not confirmed: conclude nothing
        checked.add(t)
        if theirs is None:
            diffs.append(Diff(kind="position", ticker=t, ledger=mine, venue=None,
                              detail="the venue has no record of this position", adoptable=False))
        elif theirs != mine:
            diffs.append(Diff(kind="position", ticker=t, ledger=mine, venue=theirs))
    return diffs, checked


def balance_diff(ledger: LedgerView, venue: VenueSnapshot, tolerance: Decimal = ZERO) -> Diff | None:
    if venue.balance is None:
        return None
    if abs(ledger.cash - venue.balance) > tolerance:
        return Diff(kind="balance", ticker=None, ledger=ledger.cash, venue=venue.balance)
    return None


def settlement_diffs(kbot_settled: Mapping[str, tuple[str, Decimal]],
                     venue: Mapping[str, VenueSettlement]) -> tuple[list[Diff], set[str]]:
    """kbot's settlements (ticker -> (result, signed position at settlement)) against the
    venue's records: the contracts settled and the result."""
    diffs: list[Diff] = []
    checked: set[str] = set()
    for t, vs in venue.items():
        if t not in kbot_settled:
            continue
        result, held = kbot_settled[t]
        checked.add(t)
        theirs = vs.yes_count - vs.no_count
        if theirs != held or (result in ("yes", "no") and vs.result in ("yes", "no") and result != vs.result):
            diffs.append(Diff(kind="settlement", ticker=t, ledger=f"{held} {result}", venue=f"{theirs} {vs.result}",
                              detail="contracts or result settled differ", adoptable=False))
    return diffs, checked


@attrs.define
class Reconciler:
    """The judgement across passes: suspicion, confirmation, halts, clearing."""

    mode: Mode
    adopt: bool = False
    suspects: dict[tuple[str, str | None], tuple[str | None, str | None]] = attrs.field(factory=dict)
    mismatched: dict[tuple[str, str | None], Diff] = attrs.field(factory=dict)
    halted: dict[str, str] = attrs.field(factory=dict)  # ticker (or "*") -> why
    passes: int = 0
    found: int = 0
    cleared: int = 0
    adopted: int = 0

    def is_halted(self, ticker: str) -> str | None:
        return self.halted.get(ticker) or self.halted.get(ALL)

    def judge(self, diffs: list[Diff], checked: set[tuple[str, str | None]], now: float, *,
              ref: str, at_once: bool = False) -> tuple[list[Reconciliation], list[LedgerAdjustment]]:
        """One pass: ``diffs`` found among the keys ``checked`` (compared this pass).
        ``at_once``: a difference counts without waiting for a second pass (start-up: nothing
        is in flight then)."""
        self.passes += 1
        findings: list[Reconciliation] = []
        adjust: list[LedgerAdjustment] = []
        seen = {d.key for d in diffs}
        for d in diffs:
            values = (_txt(d.ledger), _txt(d.venue))
            if not at_once and self.suspects.get(d.key) != values and d.key not in self.mismatched:
                self.suspects[d.key] = values  # first sighting: wait for the next pass
                continue
            if self.adopt and d.adoptable and d.venue is not None and d.kind in ("position", "balance"):
                adj = self._adjustment(d, now, ref)
                adjust.append(adj)
                findings.append(self._finding(d, "adopted", now, f"ledger takes the venue's view: {adj.reason}"))
                self.suspects.pop(d.key, None)
                if self.mismatched.pop(d.key, None) is not None:
                    self._unhalt(d)
                self.adopted += 1
                continue
            if d.key not in self.mismatched or self.mismatched[d.key] != d:
                self.mismatched[d.key] = d
                self.halted[d.ticker or ALL] = f"reconciliation: {d.kind} {_txt(d.ledger)} (kbot) vs {_txt(d.venue)} (venue)"
                findings.append(self._finding(d, "mismatch", now, d.detail))
                self.found += 1
        for key in [k for k in self.suspects if k in checked and k not in seen]:
            del self.suspects[key]
        for key in [k for k in self.mismatched if k in checked and k not in seen]:
            d = self.mismatched.pop(key)
            self._unhalt(d)
            findings.append(self._finding(d, "cleared", now, "kbot and the venue agree again"))
            self.cleared += 1
        return findings, adjust

    def _unhalt(self, d: Diff) -> None:
        key = d.ticker or ALL
        if not any((m.ticker or ALL) == key for m in self.mismatched.values()):
            self.halted.pop(key, None)

    def _finding(self, d: Diff, status: str, now: float, detail: str) -> Reconciliation:
        return Reconciliation(ts=now, mode=self.mode, kind=d.kind, ticker=d.ticker, status=status,
                              ledger=_txt(d.ledger), venue=_txt(d.venue), detail=detail)

    def _adjustment(self, d: Diff, now: float, ref: str) -> LedgerAdjustment:
        assert isinstance(d.venue, Decimal) and isinstance(d.ledger, Decimal)
        change = d.venue - d.ledger
        if d.kind == "balance":
            return LedgerAdjustment(ts=now, mode=self.mode, kind="cash", ticker=None, change=change,
                                    ref=f"{ref}:cash", reason=f"cash {d.ledger} -> {d.venue} (venue balance)")
        return LedgerAdjustment(ts=now, mode=self.mode, kind="position", ticker=d.ticker, change=change,
                                ref=f"{ref}:{d.ticker}", reason=f"position {d.ledger} -> {d.venue} contracts (venue)")


@attrs.frozen(kw_only=True)
class OrderCheck:
    """What comparing kbot's open orders with the venue's resting orders found."""

    updates: tuple[OrderEvent, ...] = ()  # the venue's view of orders kbot knows: apply them
    adopt: tuple[OrderEvent, ...] = ()  # kbot's client ids kbot does not know (a previous process)
    foreign: tuple[OrderEvent, ...] = ()  # resting orders that are not kbot's
    missing: tuple[str, ...] = ()  # kbot's open orders (venue ids) the venue does not list


def check_orders(known: Mapping[str, str], venue: Mapping[str, OrderEvent] | None, *, ours: set[str],
                 is_ours: Callable[[str], bool]) -> OrderCheck:
    """``known``: kbot's open orders, venue id -> client order id. ``venue``: the complete
    listing of resting orders (None: incomplete, nothing concluded). ``ours``: venue ids kbot
    knows at all (open or finished). ``is_ours(cid)``: whether a client order id is kbot's."""
    if venue is None:
        return OrderCheck()
    updates = [ev for oid, ev in venue.items() if oid in known or oid in ours]
    adopt = [ev for oid, ev in venue.items() if oid not in ours and is_ours(ev.client_order_id)]
    foreign = [ev for oid, ev in venue.items() if oid not in ours and not is_ours(ev.client_order_id)]
    missing = [oid for oid in known if oid not in venue]
    return OrderCheck(updates=tuple(updates), adopt=tuple(adopt), foreign=tuple(foreign), missing=tuple(sorted(missing)))
