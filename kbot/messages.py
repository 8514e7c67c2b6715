"""Typed messages that flow between kbot's actors (frozen attrs classes with slots).

Conventions (one name per idea, the same in code, tables, logs and reports):

- ``ts``: event time, epoch seconds (float, UTC), from the venue when it says, else receipt.
- ``recv_ts``: when kbot received the input, epoch seconds on kbot's clock.
- ``mono``: ``time.perf_counter()`` when the *input that caused this message* reached the feed
  boundary; carried along the pipeline for latency metrics only (never an event time).
- Contract prices, fees, cash and PnL: ``decimal.Decimal`` **dollars**, exact, as on Kalshi's
  wire (``"0.4500"``), parsed once at the edge. YES-leg unless the field says ``no_``.
- Contract counts: ``Decimal`` contracts (Kalshi counts are fixed-point, 2 dp).
- BTC prices (spot, index, strikes), probabilities, sigma, EV: ``float`` (model quantities).
- ``ticker`` is the market ticker; ``event_ticker`` and ``series_ticker`` name the parents.

Nothing past a feed actor sees raw JSON; parse functions in ``kbot.venues`` produce these.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Literal, TypeVar

import attrs

Side = Literal["yes", "no"]
Action = Literal["TAKE", "PASS"]
Mode = Literal["shadow", "paper", "live"]

ZERO = Decimal(0)
ONE = Decimal(1)
_T = TypeVar("_T")



# ----------------------------------------------------------------------------- spot


@attrs.frozen(kw_only=True)
class SpotTick:
    """One BTC-USD observation from an exchange feed (``coinbase``, ``binance``, ``kraken``) or
    from Kalshi's CF Benchmarks stream (``brti``, which also carries its 60 s average)."""

    source: str
    ts: float
    price: float
    bid: float | None = None
    ask: float | None = None
    recv_ts: float
    mono: float = 0.0
    avg_60s: float | None = None  # brti only: Kalshi's trailing 60 s average
    # brti only, final minute before :00/:15/:30/:45: Kalshi's running 60 s average for that
    # quarter-hour close (the KXBTC15M settlement rule) and its tick count so far (60 at close)
    avg_60s_15min: float | None = None
    avg_60s_15min_n: int | None = None


@attrs.frozen(kw_only=True)
class FundingRate:
    """The BTC perpetual's mark price and funding rate (Binance USD-M ``markPriceUpdate``).
    ``funding_rate`` is per funding interval (8 h): 0.0001 = 0.01 %."""

    source: str  # binance_usdm
    ts: float
    symbol: str
    mark_price: float
    index_price: float | None
    funding_rate: float
    next_funding_ts: float | None
    recv_ts: float
    mono: float = 0.0


@attrs.frozen(kw_only=True)
class SpotSignals:
    """Market-wide features known at ``ts`` (``kbot.model.signals.spot_signals``): realized
    volatility at the configured horizons, momentum and mean reversion (sigma units), the
    volatility regime (-1/0/+1) and the funding rate with its signal. ``seq`` changes whenever
    any value does (pricers and the pricing board compare it, not the values)."""

    ts: float
    rv: tuple[float | None, ...]
    momentum: float | None = None
    mean_reversion: float | None = None
    vol_regime: int | None = None
    funding_rate: float | None = None
    funding: float | None = None
    seq: int = 0


@attrs.frozen(kw_only=True)
class IndexUpdate:
    """The combined spot index (median of fresh sources) with volatility."""

    ts: float
    price: float
    n_sources: int
    sources: tuple[str, ...]
    stale: bool
    avg_60s: float | None  # trailing 60 s simple average of the index (settlement rule)
    sigma: float  # annualized, year = 365.25 days
    sigma_source: str  # "ewma" | "fallback_last" | "default"
    sigma_reason: str | None = None  # why not "ewma"
    mono: float = 0.0
    method: str = "median"  # brti | median | median_brti_outlier | none (kbot.model.index)
    rv_short: float | None = None  # realized vol (annualized) over VolConfig.rv_horizons_s[0]
    rv_long: float | None = None  # realized vol over VolConfig.rv_horizons_s[1]
    signals: SpotSignals | None = None  # market-wide model features (kbot.model.signals)


# ----------------------------------------------------------------------------- reference data


@attrs.frozen(kw_only=True)
class SeriesInfo:
    ticker: str  # series ticker, e.g. KXBTCD
    title: str | None = None
    frequency: str | None = None
    fee_type: str | None = None  # quadratic | quadratic_with_maker_fees | flat
    fee_multiplier: Decimal | None = None
    updated_ts: float | None = None


@attrs.frozen(kw_only=True)
class EventInfo:
    event_ticker: str
    series_ticker: str
    title: str | None = None
    strike_ts: float | None = None
    fee_type_override: str | None = None
    fee_multiplier_override: Decimal | None = None
    updated_ts: float | None = None


@attrs.frozen(kw_only=True)
class EventFeeUpdate:
    """An event's fee override changed (WS ``event_fee_update``). ``None`` overrides mean the
    override was cleared: the series' fee type/multiplier apply again."""

    ts: float
    event_ticker: str
    fee_type_override: str | None
    fee_multiplier_override: Decimal | None
    recv_ts: float


@attrs.frozen(kw_only=True)
class MarketInfo:
    """A contract's reference data and lifecycle state. Bounds come from ``strike_type``,
    ``floor_strike`` and ``cap_strike`` only, never from the ticker."""

    ticker: str
    event_ticker: str
    series_ticker: str
    status: str  # Kalshi object status: initialized|inactive|active|closed|determined|...|finalized
    strike_type: str | None = None  # greater|greater_or_equal|less|less_or_equal|between|...
    floor_strike: float | None = None
    cap_strike: float | None = None
    open_ts: float | None = None
    close_ts: float | None = None
    expected_expiration_ts: float | None = None
    latest_expiration_ts: float | None = None
    settlement_timer_s: float | None = None
    result: str | None = None  # yes|no|scalar|void or None while undetermined
    settlement_value: Decimal | None = None  # dollars per YES contract once determined
    expiration_value: str | None = None  # e.g. the 60 s BRTI average, as Kalshi states it
    price_level_structure: str | None = None
    tick_size: Decimal | None = None  # smallest step from price_ranges, when uniform
    fee_type: str | None = None  # effective (series, overridden by event)
    fee_multiplier: Decimal | None = None  # effective (series, overridden by event)
    title: str | None = None
    yes_sub_title: str | None = None
    exchange_index: int | None = None
    updated_ts: float


# ----------------------------------------------------------------------------- market data


Levels = tuple[tuple[Decimal, Decimal], ...]  # ((price, count), ...) best first


@attrs.frozen(kw_only=True)
class Quote:
    """Top of book for one market, in YES-leg and NO-leg dollars.

    ``source``: ``rest`` (polled market), ``ticker`` (WS ticker channel) or ``book`` (kbot's
    local order book from ``orderbook_delta``). ``yes_asks``/``no_asks``: ask-side depth best
    first (a YES ask at p is a NO bid at 1-p), filled by the ``book`` source; empty otherwise.
    ``stale``: the book behind it may be out of date (sequence gap, resubscribing): pricers
    must not trade on it.
    """

    ts: float
    ticker: str
    yes_bid: Decimal | None
    yes_ask: Decimal | None
    no_bid: Decimal | None = None
    no_ask: Decimal | None = None
    yes_bid_size: Decimal | None = None
    yes_ask_size: Decimal | None = None
    last_price: Decimal | None = None
    volume: Decimal | None = None
    open_interest: Decimal | None = None
    yes_asks: Levels = ()
    no_asks: Levels = ()
    source: str = "book"
    stale: bool = False
    recv_ts: float
    mono: float = 0.0


def fast_builder(cls: type[_T]) -> Callable[..., _T]:
    """A constructor of the frozen slotted attrs class ``cls`` taking every field positionally,
    in ``attrs.fields`` order, that sets the slots directly instead of going through the frozen
    ``__init__`` (which sets each field by name through ``object.__setattr__``): about twice as
    fast, for the one message built per book delta (``Quote``). It builds exactly what
    ``cls(**fields)`` builds, so it refuses a class whose ``__init__`` does more than assign:
    validators, converters, ``__attrs_post_init__``, a non-slotted class or ``init=False`` fields
    (a test compares the two on generated values)."""
    if not attrs.has(cls):
        raise TypeError(f"{cls.__name__}: fast_builder needs a slotted attrs class whose __init__ only assigns")
    fields = attrs.fields(cls)
    if "__slots__" not in cls.__dict__ or hasattr(cls, "__attrs_post_init__") or any(
            f.validator is not None or f.converter is not None or not f.init or f.alias != f.name for f in fields):
        raise TypeError(f"{cls.__name__}: fast_builder needs a slotted attrs class whose __init__ only assigns")
    names = [f.name for f in fields]
    setters = {f"_set_{n}": cls.__dict__[n].__set__ for n in names}
    body = "\n".join(f"    _set_{n}(o, {n})" for n in names)
    src = f"def build({', '.join(names)}):\n    o = _new(_cls)\n{body}\n    return o\n"
    scope: dict[str, object] = {"_new": object.__new__, "_cls": cls, **setters}
    exec(src, scope)  # generated from the class's own field names, as attrs does
    build = scope["build"]
    assert callable(build)
    return build


new_quote: Callable[[float, str, Decimal | None, Decimal | None, Decimal | None, Decimal | None, Decimal | None,
                     Decimal | None, Decimal | None, Decimal | None, Decimal | None, Levels, Levels, str, bool, float,
                     float], Quote] = fast_builder(Quote)
"""``Quote(...)`` with every field positional, in declaration order: ts, ticker, yes_bid, yes_ask,
no_bid, no_ask, yes_bid_size, yes_ask_size, last_price, volume, open_interest, yes_asks, no_asks,
source, stale, recv_ts, mono (``fast_builder``)."""


@attrs.frozen(kw_only=True)
class BookSnapshot:
    """Periodic top-N snapshot of a local order book (bids only, per Kalshi), for the record."""

    ts: float
    ticker: str
    yes_bids: Levels  # best first
    no_bids: Levels  # best first, NO-leg prices
    seq: int | None = None
    recv_ts: float


@attrs.frozen(kw_only=True)
class Trade:
    ts: float
    ticker: str
    trade_id: str
    yes_price: Decimal
    count: Decimal
    taker_side: str | None = None  # yes|no
    recv_ts: float


@attrs.frozen(kw_only=True)
class MarketLifecycle:
    """A ``market_lifecycle_v2`` event (or the REST equivalent): created, activated,
    deactivated, close_date_updated, determined, settled, metadata_updated,
    price_level_structure_updated. Fields absent from the event are None."""

    ts: float
    ticker: str
    event_type: str
    open_ts: float | None = None
    close_ts: float | None = None
    result: str | None = None
    settlement_value: Decimal | None = None
    determination_ts: float | None = None
    settled_ts: float | None = None
    strike_type: str | None = None
    floor_strike: float | None = None
    cap_strike: float | None = None
    event_ticker: str | None = None
    price_level_structure: str | None = None
    recv_ts: float


@attrs.frozen(kw_only=True)
class MarketSettled:
    """A market's outcome is known (determined or finalized). Closes positions exactly once."""

    ts: float
    ticker: str
    result: str  # yes | no | void | scalar
    settlement_value: Decimal  # dollars paid per YES contract (1 for yes, 0 for no)
    source: str  # ws | rest
    final: bool = False  # True once finalized/settled, False when only determined


@attrs.frozen(kw_only=True)
class FeedStatus:
    """A feed's connection state changed (connected, disconnected, stale, resubscribed)."""

    ts: float
    feed: str
    status: str
    detail: str | None = None


# ----------------------------------------------------------------------------- model & decisions


@attrs.frozen(kw_only=True)
class Edge:
    """A pricer's view of one market at one moment: the model probability and fee-aware EV
    of buying YES at the YES ask and NO at the NO ask. ``reasons`` lists why it cannot be
    acted on (``stale_spot``, ``missing_quote``, ...); empty when it is a valid candidate."""

    ts: float
    ticker: str
    event_ticker: str
    series_ticker: str
    strike_type: str | None
    floor_strike: float | None
    cap_strike: float | None
    close_ts: float | None
    spot: float | None
    spot_avg_60s: float | None
    sigma: float | None
    sigma_source: str | None
    horizon_s: float | None
    prob_yes: float | None
    yes_bid: Decimal | None
    yes_ask: Decimal | None
    no_bid: Decimal | None
    no_ask: Decimal | None
    yes_ask_size: Decimal | None = None
    no_ask_size: Decimal | None = None
    market_mid: float | None = None  # (yes_bid + yes_ask) / 2, market-implied P(yes)
    ev_yes: float | None = None  # dollars per contract, after taker fee, buying YES at yes_ask
    ev_no: float | None = None  # dollars per contract, after taker fee, buying NO at no_ask
    fee_yes: float | None = None  # taker fee per contract at yes_ask
    fee_no: float | None = None
    implied_sigma: float | None = None
    quote_ts: float | None = None
    index_ts: float | None = None
    model_version: str = ""
    reasons: tuple[str, ...] = ()
    snapshot: bool = False  # True: this edge is also an edge snapshot for the record
    mono: float = 0.0
    fee_multiplier: Decimal | None = None  # the market's effective fee multiplier (None = 1)
    observed_avg: float | None = None  # inside the settlement window: observed partial average
    observed_s: float | None = None  # seconds of the window that average covers
    sigma_reason: str | None = None  # why sigma_source is not "ewma" (from the IndexUpdate)
    # The model (kbot.model.models, kbot.model.blend). ``prob_yes`` above is the *final*
    # probability decisions use; ``prob_model`` the raw model probability before the blend;
    # ``market_mid`` the market's (kbot.model.blend.market_prob). The scorer scores all three.
    prob_model: float | None = None
    model_name: str = ""  # the probability model (name); ``model_version`` its version
    blend_id: str | None = None  # the calibrated blend's fit that made ``prob_yes``
    model_slope: float | None = None  # dP/d(location shift in sd), for directional signals
    sig_momentum: float | None = None
    sig_mean_reversion: float | None = None
    sig_funding: float | None = None
    sig_imbalance: float | None = None
    vol_regime: int | None = None


@attrs.frozen(kw_only=True)
class Decision:
    """TAKE or PASS for one candidate, with every failing reason code and what is needed to
    reproduce it (the edge, the sizing inputs and the risk state it saw)."""

    decision_id: str
    ts: float
    ticker: str
    action: Action
    side: Side | None  # the side taken (TAKE) or the better side considered (PASS)
    count: Decimal  # contracts to buy (0 for PASS)
    limit_price: Decimal | None  # price of the side bought, dollars
    prob_yes: float | None
    ev: float | None  # dollars per contract after fees for ``side``
    fee: Decimal | None  # total taker fee for ``count`` at ``limit_price``
    reasons: tuple[str, ...]
    edge: Edge
    kelly_fraction: float | None = None
    exposure: Decimal | None = None  # open exposure (dollars) when decided
    daily_pnl: Decimal | None = None
    balance: Decimal | None = None
    config_digest: str | None = None
    mono: float = 0.0


# ----------------------------------------------------------------------------- maker quotes


@attrs.frozen(kw_only=True)
class QuoteTarget:
    """The maker strategy's wanted quotes in one market (``kbot.strategy.maker``): a post-only
    YES bid and NO bid of ``size`` each, or None per side with the reasons. Sent when it changed
    by more than the requote threshold (or its reasons changed), so a target is also the record
    of a quote change."""

    ts: float
    ticker: str
    series_ticker: str
    yes_bid: Decimal | None
    no_bid: Decimal | None
    size: Decimal
    fair: float | None  # the fair value P(YES) the quotes centre on
    reservation: float | None  # fair value skewed against inventory
    half_spread: float | None
    inventory: Decimal  # net YES contracts when planned
    time_to_close_s: float | None
    close_ts: float | None
    best_yes_bid: Decimal | None
    best_yes_ask: Decimal | None
    reasons: tuple[str, ...] = ()  # why no quote at all
    yes_reasons: tuple[str, ...] = ()  # why no YES bid
    no_reasons: tuple[str, ...] = ()  # why no NO bid

    @property
    def quoting(self) -> bool:
        return self.yes_bid is not None or self.no_bid is not None


@attrs.frozen(kw_only=True)
class QuoteAction:
    """One thing the maker did to a resting quote, with its reason: ``place``, ``replace``
    (cancel/replace as one amend), ``cancel``, ``fill`` (a maker fill of the quote), ``refused``
    (not sent: ``max_open_orders``, ``max_position``, a guard of the executor) or ``deferred``
    (waits for the rate limit). In shadow mode nothing is sent and every action is recorded."""

    ts: float
    ticker: str
    side: Side
    action: str
    client_order_id: str | None
    price: Decimal | None
    prev_price: Decimal | None
    count: Decimal
    reason: str
    mode: Mode
    fair: float | None = None


# ----------------------------------------------------------------------------- trading


@attrs.frozen(kw_only=True)
class OrderEvent:
    """An order's life: ``new``, ``resting``, ``filled``, ``partially_filled``, ``canceled``,
    ``rejected``. Prices are of the side bought (``side``); ``book_side``/``yes_price`` give
    the V2 wire form (bid = buy YES, ask = sell YES; price always YES-leg)."""

    ts: float
    order_id: str
    client_order_id: str
    decision_id: str | None
    ticker: str
    side: Side
    action: str  # buy | sell
    count: Decimal
    price: Decimal
    status: str
    mode: Mode
    filled_count: Decimal = Decimal(0)
    reason: str | None = None


@attrs.frozen(kw_only=True)
class Fill:
    fill_id: str
    order_id: str
    ts: float
    ticker: str
    side: Side
    action: str  # buy | sell
    count: Decimal
    price: Decimal  # dollars per contract of ``side``
    fee: Decimal  # dollars, total for this fill
    is_taker: bool
    mode: Mode
    decision_id: str | None = None


@attrs.frozen(kw_only=True)
class DecisionAbandoned:
    """A TAKE that will never be executed, and why: its run ended before the executor took it
    and executing it afterwards would not stay inside kbot (paper, live). Its one outcome,
    where an executed TAKE has an order."""

    ts: float
    decision_id: str
    ticker: str
    mode: Mode
    reason: str


@attrs.frozen(kw_only=True)
class LedgerEntry:
    """Append-only cash/fee/PnL movement. ``amount`` is signed dollars (cash in > 0)."""

    entry_id: str
    ts: float
    mode: Mode
    ticker: str | None
    kind: str  # deposit | buy | sell | fee | settlement | unwind | realized_pnl (kbot.ledger.CASH_KINDS)
    amount: Decimal
    ref: str | None = None  # fill id, settlement ticker, ...
    note: str | None = None


@attrs.frozen(kw_only=True)
class Position:
    """State of one position (per run, mode and ticker)."""

    ts: float
    mode: Mode
    ticker: str
    side: Side
    count: Decimal
    avg_price: Decimal  # dollars per contract, excluding fees
    cost: Decimal  # dollars paid for contracts held, excluding fees
    fees: Decimal
    realized_pnl: Decimal
    unrealized_pnl: Decimal | None
    mark_price: Decimal | None  # exit-side (bid) price used for unrealized PnL
    status: str  # open | settled | unwound (closed without an outcome: kbot.ledger.Book.unwind)
    opened_ts: float
    closed_ts: float | None = None
    result: str | None = None


@attrs.frozen(kw_only=True)
class LedgerUpdate:
    """What one fill, settlement or unwind did to a book: its ledger entries and the position
    after. One record, so the recorder commits the entries and the position in one transaction:
    a crash never leaves a fill's cash recorded without its position, or half its entries."""

    ts: float
    entries: tuple[LedgerEntry, ...]
    position: Position | None = None


@attrs.frozen(kw_only=True)
class PortfolioState:
    """The ledger's view for risk and sizing, published on every change: cash balance,
    open exposure (cost of open positions) in total and per ticker, today's (UTC) realized
    PnL, and open orders per ticker."""

    ts: float
    mode: Mode
    balance: Decimal
    exposure: Decimal
    exposure_by_ticker: tuple[tuple[str, Decimal], ...] = ()
    daily_realized_pnl: Decimal = Decimal(0)
    open_orders: tuple[tuple[str, int], ...] = ()
    equity: Decimal | None = None  # balance + open positions marked at the exit side
    unrealized_pnl: Decimal | None = None
    open_positions: int = 0
    # signed contracts per open position (+ YES, - NO, as the venue nets them): what the
    # executor's reconciliation compares with the venue (not recorded)
    positions: tuple[tuple[str, Decimal], ...] = ()


@attrs.frozen(kw_only=True)
class VenueBalance:
    """The venue's view of the account's cash (REST ``/portfolio/balance``), dollars."""

    ts: float
    balance: Decimal
    portfolio_value: Decimal | None = None
    by_exchange_index: tuple[tuple[int, Decimal], ...] = ()  # per shard balances


@attrs.frozen(kw_only=True)
class VenuePosition:
    """The venue's view of one market position (REST ``/portfolio/positions`` or WS
    ``market_position``): ``position`` is signed, + YES contracts, - NO contracts."""

    ts: float
    ticker: str
    position: Decimal
    market_exposure: Decimal | None = None  # dollars (cost of the position)
    realized_pnl: Decimal | None = None
    fees_paid: Decimal | None = None
    total_traded: Decimal | None = None
    source: str = "rest"  # rest | ws


@attrs.frozen(kw_only=True)
class VenueSettlement:
    """A settlement of the account's position in one market (REST ``/portfolio/settlements``)."""

    ts: float  # settled_time
    ticker: str
    event_ticker: str | None
    result: str  # yes | no | scalar | void
    yes_count: Decimal
    no_count: Decimal
    yes_cost: Decimal  # dollars
    no_cost: Decimal
    revenue: Decimal  # dollars paid out
    fee: Decimal  # dollars
    value: Decimal | None = None  # dollars per YES contract, when stated


@attrs.frozen(kw_only=True)
class Reconciliation:
    """One finding of a reconciliation between kbot's view (ledger, orders) and the venue's.

    ``status``: ``mismatch`` (differs in two consecutive passes: alert, new orders halted in
    that market), ``cleared`` (a mismatch went away), ``adopted`` (the ledger took the venue's
    view), ``found`` (something kbot did not know and took in: an order of a previous process,
    a missed fill), ``ok`` (a start-up pass that found nothing to do). ``ledger``/``venue``:
    the two values as text (contracts, dollars, a status)."""

    ts: float
    mode: Mode
    kind: str  # position | order | balance | settlement | fill | start
    ticker: str | None
    status: str
    ledger: str | None = None
    venue: str | None = None
    detail: str = ""


# ----------------------------------------------------------------------------- evaluation & ops


@attrs.frozen(kw_only=True)
class Score:
    edge_id: int
    ts: float  # edge snapshot time
    ticker: str
    series_ticker: str
    horizon_s: float
    outcome: int  # 1 yes, 0 no
    prob_yes: float
    market_prob: float | None
    brier: float
    log_loss: float
    market_brier: float | None
    market_log_loss: float | None
    pnl_yes: float | None  # dollars per contract, taking YES at the ask with fee
    pnl_no: float | None
    prob_model: float | None = None  # the raw model probability and its scores
    model_brier: float | None = None
    model_log_loss: float | None = None
    take_side: str | None = None  # the would-be TAKE of the snapshot (kbot.model.evidence.would_take)
    take_pnl: float | None = None  # its realized PnL per contract after the taker fee


@attrs.frozen(kw_only=True)
class ModelFit:
    """A fit of the calibrated blend (``kbot.model.blend``), for the record (``model_fits``)."""

    fit_id: str
    ts: float  # when it was fitted
    model_name: str
    window_start: float | None  # the settled data it saw: snapshots in [start, end]
    window_end: float | None
    n_rows: int
    n_events: int
    params: str  # the parameters as JSON (kbot.model.blend.BlendParams.to_json)


@attrs.frozen(kw_only=True)
class HealthSnapshot:
    ts: float
    actor: str
    inbox_depth: int
    inbox_peak: int
    msgs_in: int
    msgs_out: int
    last_msg_age_s: float | None
    restarts: int
    errors: int
    state: str | None = None


@attrs.frozen(kw_only=True)
class LatencySample:
    """Latency percentiles over one health interval, in real milliseconds (``scope``:
    ``tick_to_decision``: a feed frame's receipt to the decision it led to)."""

    ts: float  # end of the interval, on the run's clock
    scope: str
    interval_s: float  # real seconds the sample covers
    n: int
    mean_ms: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    p999_ms: float
    max_ms: float


@attrs.frozen(kw_only=True)
class Alert:
    ts: float
    kind: str  # spot_gap | quote_gap | feed_gap | restart_storm | kill_switch | daily_loss_near | ... (kbot.alerts)
    severity: str  # info | warning | critical
    subject: str | None
    message: str


@attrs.frozen(kw_only=True)
class BadInput:
    """A wire message that could not be used: counted and logged once per kind by the feed."""

    ts: float
    source: str
    kind: str
    sample: str
