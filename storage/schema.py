"""The database schema (SQLAlchemy 2.x Core): one table per kind of fact.

Conventions (see ``storage/README.md``):

- Names follow ``kbot.messages``: ``ticker``, ``event_ticker``, ``series_ticker``, ``ts``
  (event time, epoch seconds, float, UTC), ``recv_ts`` (kbot's receipt time), ``*_ts`` for
  other instants. Reports format times; the database keeps numbers.
- Money and counts: ``Money`` (exact decimals, ``storage.types``). Model quantities (BTC
  prices, strikes, probabilities, sigma, EV): ``Double``.
- Every table has a natural unique key so that writing the same fact twice is an idempotent
  upsert: its primary key, or its unique constraint when the primary key is a surrogate
  ``id`` (``natural_key``). ``storage.writer.UPSERTS`` says whether a repeat is ignored
  (append-only facts) or updates the row (state: markets, orders, positions, ...), and then
  only when it is at least as new.
- Per-run facts (what this process computed or decided) carry ``run_id`` (a foreign key to
  ``runs``) inside their key; venue facts seen by any run (ticks, quotes, markets, trades,
  fills, settlements) are keyed on the venue's identity and carry the ``run_id`` that first
  recorded them, without a foreign key, so re-ingesting them from another run is a no-op.
- Lists of codes (reasons, sources) are comma-joined text (``storage.types.join_codes``);
  decision reasons are also one row each in ``decision_reasons`` for the reports.

Changing anything here needs a migration (``storage/migrations``); a test fails when the
models and the migration head differ.
"""

from __future__ import annotations

import sqlalchemy as sa

from storage.types import Money

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = sa.MetaData(naming_convention=NAMING)

F = sa.Double  # model quantities and times
Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # SQLite: INTEGER PRIMARY KEY = rowid
Str = sa.String


def _run_fk(nullable: bool = False) -> sa.Column:
    return sa.Column("run_id", Str(64), sa.ForeignKey("runs.run_id"), nullable=nullable)


def _run_seen() -> sa.Column:
    """The run that first recorded a venue fact (informational, no foreign key)."""
    return sa.Column("run_id", Str(64), nullable=True)


# ----------------------------------------------------------------------------- runs

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("run_id", Str(64), primary_key=True),
    sa.Column("started_ts", F, nullable=False),
    sa.Column("ended_ts", F),
    sa.Column("mode", Str(16), nullable=False),  # shadow | paper | live
    sa.Column("venue", Str(32), nullable=False),  # sim | kalshi | kalshi-demo | replay ...
    sa.Column("config_digest", Str(64)),
    sa.Column("version", Str(32)),
    sa.Column("host", Str(255)),
    sa.Column("pid", sa.Integer),
    # running | ok | error | interrupted, or, set by a later run that found the process gone
    # (storage.runs.close_dead_runs): killed (its pid is gone on this host) | unknown (silent)
    sa.Column("exit_status", Str(32)),
    sa.Column("exit_reason", sa.Text),
    # added by migration 0005: the process that owns a running row (storage.runs.process_token:
    # boot id + start time of the pid, so a reused pid is not mistaken for it) and the wall-clock
    # time of its last heartbeat (real time even when the run's own clock is simulated)
    sa.Column("proc_start", Str(64)),
    sa.Column("heartbeat_ts", F),
    sa.Index(None, "started_ts"),
)

# ----------------------------------------------------------------------------- ingestion

spot_ticks = sa.Table(
    "spot_ticks",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("source", Str(32), nullable=False),
    sa.Column("ts", F, nullable=False),
    sa.Column("price", F, nullable=False),
    sa.Column("bid", F),
    sa.Column("ask", F),
    sa.Column("avg_60s", F),
    sa.Column("recv_ts", F, nullable=False),
    _run_seen(),
    sa.UniqueConstraint("source", "ts", "recv_ts", "price"),
    sa.Index(None, "ts"),
)

index_prices = sa.Table(
    "index_prices",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    _run_fk(),
    sa.Column("ts", F, nullable=False),
    sa.Column("price", F, nullable=False),
    sa.Column("n_sources", sa.Integer, nullable=False),
    sa.Column("sources", Str(255), nullable=False),
    sa.Column("stale", sa.Boolean, nullable=False),
    sa.Column("avg_60s", F),
    sa.Column("sigma", F, nullable=False),
    sa.Column("sigma_source", Str(32), nullable=False),
    sa.Column("sigma_reason", Str(255)),
    sa.UniqueConstraint("run_id", "ts"),
    sa.Index(None, "ts"),
)

series = sa.Table(
    "series",
    metadata,
    sa.Column("series_ticker", Str(64), primary_key=True),
    sa.Column("title", sa.Text),
    sa.Column("frequency", Str(32)),
    sa.Column("fee_type", Str(64)),
    sa.Column("fee_multiplier", Money),
    sa.Column("updated_ts", F),
)

events = sa.Table(
    "events",
    metadata,
    sa.Column("event_ticker", Str(64), primary_key=True),
    sa.Column("series_ticker", Str(64), nullable=False),
    sa.Column("title", sa.Text),
    sa.Column("strike_ts", F),
    sa.Column("fee_type_override", Str(64)),
    sa.Column("fee_multiplier_override", Money),
    sa.Column("updated_ts", F),
    sa.Index(None, "series_ticker"),
)

markets = sa.Table(
    "markets",
    metadata,
    sa.Column("ticker", Str(64), primary_key=True),
    sa.Column("event_ticker", Str(64), nullable=False),
    sa.Column("series_ticker", Str(64), nullable=False),
    sa.Column("status", Str(32), nullable=False),
    sa.Column("strike_type", Str(32)),
    sa.Column("floor_strike", F),
    sa.Column("cap_strike", F),
    sa.Column("open_ts", F),
    sa.Column("close_ts", F),
    sa.Column("expected_expiration_ts", F),
    sa.Column("latest_expiration_ts", F),
    sa.Column("settlement_timer_s", F),
    sa.Column("result", Str(16)),
    sa.Column("settlement_value", Money),
    sa.Column("expiration_value", Str(64)),
    sa.Column("price_level_structure", Str(64)),
    sa.Column("tick_size", Money),
    sa.Column("fee_type", Str(64)),
    sa.Column("fee_multiplier", Money),
    sa.Column("title", sa.Text),
    sa.Column("yes_sub_title", sa.Text),
    sa.Column("exchange_index", sa.Integer),
    sa.Column("updated_ts", F, nullable=False),
    sa.Index(None, "series_ticker", "close_ts"),
    sa.Index(None, "status", "close_ts"),
    sa.Index(None, "event_ticker"),
)

market_events = sa.Table(
    "market_events",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("ticker", Str(64), nullable=False),
    sa.Column("ts", F, nullable=False),
    sa.Column("event_type", Str(64), nullable=False),
    sa.Column("open_ts", F),
    sa.Column("close_ts", F),
    sa.Column("result", Str(16)),
    sa.Column("settlement_value", Money),
    sa.Column("determination_ts", F),
    sa.Column("settled_ts", F),
    sa.Column("strike_type", Str(32)),
    sa.Column("floor_strike", F),
    sa.Column("cap_strike", F),
    sa.Column("event_ticker", Str(64)),
    sa.Column("price_level_structure", Str(64)),
    sa.Column("recv_ts", F, nullable=False),
    _run_seen(),
    sa.UniqueConstraint("ticker", "ts", "event_type"),
)

quotes = sa.Table(
    "quotes",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("ts", F, nullable=False),
    sa.Column("ticker", Str(64), nullable=False),
    sa.Column("source", Str(16), nullable=False),  # rest | ticker | book
    sa.Column("yes_bid", Money),
    sa.Column("yes_ask", Money),
    sa.Column("no_bid", Money),
    sa.Column("no_ask", Money),
    sa.Column("yes_bid_size", Money),
    sa.Column("yes_ask_size", Money),
    sa.Column("last_price", Money),
    sa.Column("volume", Money),
    sa.Column("open_interest", Money),
    sa.Column("stale", sa.Boolean, nullable=False),
    sa.Column("recv_ts", F, nullable=False),
    _run_seen(),
    sa.UniqueConstraint("ticker", "ts", "source"),
    sa.Index(None, "ts"),
)

book_snapshots = sa.Table(
    "book_snapshots",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("ts", F, nullable=False),
    sa.Column("ticker", Str(64), nullable=False),
    sa.Column("seq", sa.BigInteger),
    sa.Column("yes_bids", sa.Text, nullable=False),  # "price:count,..." best first, YES leg
    sa.Column("no_bids", sa.Text, nullable=False),  # same, NO leg
    sa.Column("recv_ts", F, nullable=False),
    _run_seen(),
    sa.UniqueConstraint("ticker", "ts"),
)

trades = sa.Table(
    "trades",
    metadata,
    sa.Column("trade_id", Str(64), primary_key=True),
    sa.Column("ts", F, nullable=False),
    sa.Column("ticker", Str(64), nullable=False),
    sa.Column("yes_price", Money, nullable=False),
    sa.Column("count", Money, nullable=False),
    sa.Column("taker_side", Str(8)),
    sa.Column("recv_ts", F, nullable=False),
    _run_seen(),
    sa.Index(None, "ticker", "ts"),
)

settlements = sa.Table(
    "settlements",
    metadata,
    sa.Column("ticker", Str(64), primary_key=True),
    sa.Column("ts", F, nullable=False),
    sa.Column("result", Str(16), nullable=False),
    sa.Column("settlement_value", Money, nullable=False),
    sa.Column("source", Str(16), nullable=False),
    sa.Column("final", sa.Boolean, nullable=False),
    _run_seen(),
)

event_fee_updates = sa.Table(  # append-only: every change of an event's fee override
    "event_fee_updates",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("event_ticker", Str(64), nullable=False),
    sa.Column("ts", F, nullable=False),
    sa.Column("fee_type_override", Str(64)),  # NULL (both): the override was cleared
    sa.Column("fee_multiplier_override", Money),
    sa.Column("recv_ts", F, nullable=False),
    _run_seen(),
    sa.UniqueConstraint("event_ticker", "ts"),
)

feed_events = sa.Table(
    "feed_events",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    _run_fk(),
    sa.Column("ts", F, nullable=False),
    sa.Column("feed", Str(64), nullable=False),
    sa.Column("status", Str(32), nullable=False),
    sa.Column("detail", sa.Text),
    sa.UniqueConstraint("run_id", "feed", "ts", "status"),
    sa.Index(None, "feed", "ts"),
)

# ----------------------------------------------------------------------------- model & decisions

funding_rates = sa.Table(  # BTC perpetual mark price and funding rate (Binance USD-M)
    "funding_rates",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("source", Str(32), nullable=False),
    sa.Column("ts", F, nullable=False),
    sa.Column("symbol", Str(32), nullable=False),
    sa.Column("mark_price", F, nullable=False),
    sa.Column("index_price", F),
    sa.Column("funding_rate", F, nullable=False),
    sa.Column("next_funding_ts", F),
    sa.Column("recv_ts", F, nullable=False),
    _run_fk(nullable=True),
    sa.UniqueConstraint("source", "ts", "run_id"),
)

_EDGE_INPUTS = (  # shared by edges and decisions (a decision keeps the edge it saw)
    ("event_ticker", Str(64), False),
    ("series_ticker", Str(64), False),
    ("strike_type", Str(32), True),
    ("floor_strike", F, True),
    ("cap_strike", F, True),
    ("close_ts", F, True),
    ("spot", F, True),
    ("spot_avg_60s", F, True),
    ("sigma", F, True),
    ("sigma_source", Str(32), True),
    ("horizon_s", F, True),
    ("yes_bid", Money, True),
    ("yes_ask", Money, True),
    ("no_bid", Money, True),
    ("no_ask", Money, True),
    ("yes_ask_size", Money, True),
    ("no_ask_size", Money, True),
    ("market_mid", F, True),
    ("ev_yes", F, True),
    ("ev_no", F, True),
    ("fee_yes", F, True),
    ("fee_no", F, True),
    ("implied_sigma", F, True),
    ("quote_ts", F, True),
    ("index_ts", F, True),
    ("model_version", Str(64), False),
)


_EDGE_MODEL = (  # the model behind an edge's probabilities (kbot.model): edges and decisions
    ("prob_model", F, True),  # raw model probability (prob_yes is the final one, market_mid the market's)
    ("model_name", Str(64), True),  # the probability model; model_version is its version
    ("blend_id", Str(32), True),  # the calibrated blend's fit (model_fits.fit_id) behind prob_yes
    ("model_slope", F, True),  # dP/d(location shift in sd): how directional signals enter
    ("sig_momentum", F, True),  # the signals the blend saw (kbot.model.signals)
    ("sig_mean_reversion", F, True),
    ("sig_funding", F, True),
    ("sig_imbalance", F, True),
    ("vol_regime", sa.Integer, True),
)


def _edge_columns() -> list[sa.Column]:
    return [sa.Column(name, type_, nullable=nullable) for name, type_, nullable in _EDGE_INPUTS]


def _edge_model_columns() -> list[sa.Column]:
    return [sa.Column(name, type_, nullable=nullable) for name, type_, nullable in _EDGE_MODEL]


edges = sa.Table(
    "edges",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    _run_fk(),
    sa.Column("ts", F, nullable=False),
    sa.Column("ticker", Str(64), nullable=False),
    sa.Column("prob_yes", F),
    *_edge_columns(),
    sa.Column("reasons", Str(255), nullable=False),  # comma-joined; "" = actionable
    *_edge_model_columns(),
    # (ticker, ts, run_id): also serves lookups and joins by ticker (the scorer's)
    sa.UniqueConstraint("ticker", "ts", "run_id"),
)

decisions = sa.Table(
    "decisions",
    metadata,
    sa.Column("decision_id", Str(64), primary_key=True),
    _run_fk(),
    sa.Column("ts", F, nullable=False),
    sa.Column("ticker", Str(64), nullable=False),
    sa.Column("action", Str(8), nullable=False),
    sa.Column("side", Str(8)),
    sa.Column("count", Money, nullable=False),
    sa.Column("limit_price", Money),
    sa.Column("prob_yes", F),
    sa.Column("ev", F),
    sa.Column("fee", Money),
    sa.Column("reasons", Str(255), nullable=False),
    sa.Column("kelly_fraction", F),
    sa.Column("exposure", Money),
    sa.Column("daily_pnl", Money),
    sa.Column("balance", Money),
    sa.Column("config_digest", Str(64)),
    # the edge the decision saw, inline (it need not be a recorded snapshot)
    sa.Column("edge_ts", F, nullable=False),
    sa.Column("edge_reasons", Str(255), nullable=False),
    *_edge_columns(),
    *_edge_model_columns(),
    sa.CheckConstraint("action IN ('TAKE', 'PASS')", name="action"),
    sa.Index(None, "run_id", "ts"),
    sa.Index(None, "ticker", "ts"),
)

decision_reasons = sa.Table(
    "decision_reasons",
    metadata,
    sa.Column("decision_id", Str(64), sa.ForeignKey("decisions.decision_id"), primary_key=True),
    sa.Column("reason", Str(64), primary_key=True),
    sa.Index(None, "reason"),
)

# ----------------------------------------------------------------------------- trading

orders = sa.Table(  # one row per order: its latest state
    "orders",
    metadata,
    sa.Column("order_id", Str(64), primary_key=True),
    sa.Column("client_order_id", Str(64), nullable=False),
    sa.Column("decision_id", Str(64)),
    _run_fk(),
    sa.Column("mode", Str(16), nullable=False),
    sa.Column("ticker", Str(64), nullable=False),
    sa.Column("side", Str(8), nullable=False),
    sa.Column("action", Str(8), nullable=False),
    sa.Column("count", Money, nullable=False),
    sa.Column("price", Money, nullable=False),
    sa.Column("status", Str(32), nullable=False),
    sa.Column("filled_count", Money, nullable=False),
    sa.Column("reason", sa.Text),
    sa.Column("created_ts", F, nullable=False),
    sa.Column("updated_ts", F, nullable=False),
    sa.UniqueConstraint("client_order_id"),
    sa.Index(None, "run_id", "status"),
    sa.Index(None, "ticker"),
    sa.Index(None, "decision_id"),  # a TAKE's outcome (start-up repair, invariant checks)
)

# A TAKE that will never be executed, and why (the run that decided it died before its
# executor took it, and executing it now would not be shadow-only). Every TAKE has exactly one
# outcome: an order (orders.decision_id) or a row here.
abandoned_decisions = sa.Table(
    "abandoned_decisions",
    metadata,
    sa.Column("decision_id", Str(64), primary_key=True),
    _run_fk(),  # the run that made the decision
    sa.Column("ts", F, nullable=False),  # when it was found abandoned (the closing run's clock)
    sa.Column("ticker", Str(64), nullable=False),
    sa.Column("mode", Str(16), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
)

order_events = sa.Table(  # every OrderEvent: the order's life
    "order_events",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("order_id", Str(64), nullable=False),
    _run_fk(),
    sa.Column("ts", F, nullable=False),
    sa.Column("status", Str(32), nullable=False),
    sa.Column("filled_count", Money, nullable=False),
    sa.Column("reason", sa.Text),
    sa.UniqueConstraint("order_id", "ts", "status", "filled_count"),
)

fills = sa.Table(
    "fills",
    metadata,
    sa.Column("fill_id", Str(64), primary_key=True),
    sa.Column("order_id", Str(64), nullable=False),
    sa.Column("decision_id", Str(64)),
    _run_seen(),
    sa.Column("mode", Str(16), nullable=False),
    sa.Column("ts", F, nullable=False),
    sa.Column("ticker", Str(64), nullable=False),
    sa.Column("side", Str(8), nullable=False),
    sa.Column("action", Str(8), nullable=False),
    sa.Column("count", Money, nullable=False),
    sa.Column("price", Money, nullable=False),
    sa.Column("fee", Money, nullable=False),
    sa.Column("is_taker", sa.Boolean, nullable=False),
    sa.Index(None, "ticker", "ts"),
    sa.Index(None, "order_id"),
    sa.Index(None, "ts"),
)

positions = sa.Table(  # latest state per run, mode and ticker
    "positions",
    metadata,
    _run_fk(),
    sa.Column("mode", Str(16), nullable=False),
    sa.Column("ticker", Str(64), nullable=False),
    sa.Column("ts", F, nullable=False),
    sa.Column("side", Str(8), nullable=False),
    sa.Column("count", Money, nullable=False),
    sa.Column("avg_price", Money, nullable=False),
    sa.Column("cost", Money, nullable=False),
    sa.Column("fees", Money, nullable=False),
    sa.Column("realized_pnl", Money, nullable=False),
    sa.Column("unrealized_pnl", Money),
    sa.Column("mark_price", Money),
    sa.Column("status", Str(16), nullable=False),  # open | settled | unwound (kbot.ledger.Book.unwind)
    sa.Column("opened_ts", F, nullable=False),
    sa.Column("closed_ts", F),
    sa.Column("result", Str(16)),
    sa.PrimaryKeyConstraint("run_id", "mode", "ticker"),
    sa.Index(None, "status", "mode"),
    sa.Index(None, "closed_ts"),
)

ledger_entries = sa.Table(  # append-only cash/fee/PnL movements of each run's book
    "ledger_entries",
    metadata,
    _run_fk(),
    sa.Column("entry_id", Str(64), nullable=False),  # unique within the run (kbot.ledger)
    sa.Column("ts", F, nullable=False),
    sa.Column("mode", Str(16), nullable=False),
    sa.Column("ticker", Str(64)),
    sa.Column("kind", Str(32), nullable=False),
    sa.Column("amount", Money, nullable=False),
    sa.Column("ref", Str(128)),
    sa.Column("note", sa.Text),
    # true when the entry moves cash (kind in kbot.ledger.CASH_KINDS, decided when written):
    # a run's cash balance is SUM(amount) WHERE cash; realized_pnl rows are bookkeeping
    sa.Column("cash", sa.Boolean, nullable=False),
    sa.PrimaryKeyConstraint("run_id", "entry_id"),  # per run: runs sharing a database never collide
    sa.Index(None, "run_id", "mode", "ts"),
    sa.Index(None, "ts"),
)

portfolio_snapshots = sa.Table(
    "portfolio_snapshots",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    _run_fk(),
    sa.Column("ts", F, nullable=False),
    sa.Column("mode", Str(16), nullable=False),
    sa.Column("balance", Money, nullable=False),
    sa.Column("exposure", Money, nullable=False),
    sa.Column("daily_realized_pnl", Money, nullable=False),
    sa.Column("open_orders", sa.Integer, nullable=False),  # total over tickers
    sa.Column("exposure_by_ticker", sa.Text, nullable=False),  # "ticker:dollars,..."
    # added by 0003 (NULL / 0 in snapshots recorded before): balance + open positions marked
    # at the exit side, their unrealized PnL, and how many positions are open
    sa.Column("equity", Money),
    sa.Column("unrealized_pnl", Money),
    sa.Column("open_positions", sa.Integer, nullable=False, server_default=sa.text("0")),
    sa.UniqueConstraint("run_id", "mode", "ts"),
)

# The venue's view of the account (what the venue says, beside what the ledger computed), for
# reconciliation. Per-run facts, unlike other venue facts: the messages do not name the
# account and Kalshi's demo and production exchanges share tickers, so the run (whose
# ``venue`` says which account) is part of the key. A repeated poll of an unchanged state
# carries the venue's own timestamp and is a no-op.

venue_balances = sa.Table(
    "venue_balances",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    _run_fk(),
    sa.Column("ts", F, nullable=False),
    sa.Column("balance", Money, nullable=False),
    sa.Column("portfolio_value", Money),
    sa.Column("by_exchange_index", sa.Text, nullable=False),  # "index:dollars,..." ("" when none)
    sa.UniqueConstraint("run_id", "ts"),
)

venue_positions = sa.Table(
    "venue_positions",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    _run_fk(),
    sa.Column("ts", F, nullable=False),
    sa.Column("ticker", Str(64), nullable=False),
    sa.Column("source", Str(16), nullable=False),  # rest | ws
    sa.Column("position", Money, nullable=False),  # signed: + YES contracts, - NO contracts
    sa.Column("market_exposure", Money),
    sa.Column("realized_pnl", Money),
    sa.Column("fees_paid", Money),
    sa.Column("total_traded", Money),
    # (run_id, ticker, ts, source): also serves "latest venue position per ticker of a run"
    sa.UniqueConstraint("run_id", "ticker", "ts", "source"),
)

venue_settlements = sa.Table(  # one per run and market: a market settles an account once
    "venue_settlements",
    metadata,
    _run_fk(),
    sa.Column("ticker", Str(64), nullable=False),
    sa.Column("ts", F, nullable=False),  # the venue's settled_time
    sa.Column("event_ticker", Str(64)),
    sa.Column("result", Str(16), nullable=False),
    sa.Column("yes_count", Money, nullable=False),
    sa.Column("no_count", Money, nullable=False),
    sa.Column("yes_cost", Money, nullable=False),
    sa.Column("no_cost", Money, nullable=False),
    sa.Column("revenue", Money, nullable=False),
    sa.Column("fee", Money, nullable=False),
    sa.Column("value", Money),
    sa.PrimaryKeyConstraint("run_id", "ticker"),
    sa.Index(None, "ts"),
)

reconciliation = sa.Table(  # findings of reconciliation with the venue (kbot.execution.reconcile)
    "reconciliation",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    _run_fk(),
    sa.Column("ts", F, nullable=False),
    sa.Column("mode", Str(16), nullable=False),
    sa.Column("kind", Str(32), nullable=False),  # position | order | balance | settlement | fill | start
    sa.Column("ticker", Str(64), nullable=False),  # "" for the account (balance, start)
    sa.Column("status", Str(16), nullable=False),  # mismatch | cleared | adopted | found | ok
    sa.Column("ledger", Str(255)),  # kbot's value, as text
    sa.Column("venue", Str(255)),  # the venue's value, as text
    sa.Column("detail", sa.Text, nullable=False),
    sa.UniqueConstraint("run_id", "ts", "kind", "ticker", "status"),
    sa.Index(None, "ts"),
)

# ----------------------------------------------------------------------------- the maker strategy

maker_quotes = sa.Table(  # every quote change of the maker (kbot.messages.QuoteTarget)
    "maker_quotes",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    _run_fk(),
    sa.Column("ts", F, nullable=False),
    sa.Column("ticker", Str(64), nullable=False),
    sa.Column("series_ticker", Str(32), nullable=False),
    sa.Column("yes_bid", Money),  # NULL: no YES bid (see reasons)
    sa.Column("no_bid", Money),
    sa.Column("size", Money, nullable=False),
    sa.Column("fair", F),
    sa.Column("reservation", F),
    sa.Column("half_spread", F),
    sa.Column("inventory", Money, nullable=False),
    sa.Column("time_to_close_s", F),
    sa.Column("best_yes_bid", Money),
    sa.Column("best_yes_ask", Money),
    sa.Column("reasons", Str(255), nullable=False),  # why no quote at all ("" when quoting)
    sa.Column("yes_reasons", Str(255), nullable=False),  # why no YES bid ("" when there is one)
    sa.Column("no_reasons", Str(255), nullable=False),
    sa.UniqueConstraint("run_id", "ts", "ticker"),
    sa.Index(None, "ticker", "ts"),
)

maker_actions = sa.Table(  # every place, replace, cancel, refusal and fill of a quote (QuoteAction)
    "maker_actions",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    _run_fk(),
    sa.Column("ts", F, nullable=False),
    sa.Column("mode", Str(16), nullable=False),
    sa.Column("ticker", Str(64), nullable=False),
    sa.Column("side", Str(8), nullable=False),
    sa.Column("action", Str(16), nullable=False),  # place | replace | cancel | fill | refused
    sa.Column("client_order_id", Str(96), nullable=False),  # "" when none (a refusal before an order)
    sa.Column("price", Money),
    sa.Column("prev_price", Money),
    sa.Column("count", Money, nullable=False),
    sa.Column("reason", Str(255), nullable=False),
    sa.Column("fair", F),
    sa.UniqueConstraint("run_id", "ts", "ticker", "side", "action", "client_order_id", "price"),
    sa.Index(None, "ticker", "ts"),
)


# ----------------------------------------------------------------------------- evaluation

scores = sa.Table(
    "scores",
    metadata,
    sa.Column("edge_id", Id, sa.ForeignKey("edges.id"), primary_key=True, autoincrement=False),
    sa.Column("ts", F, nullable=False),  # the edge snapshot's time
    sa.Column("ticker", Str(64), nullable=False),
    sa.Column("series_ticker", Str(64), nullable=False),
    sa.Column("horizon_s", F, nullable=False),
    sa.Column("outcome", sa.Integer, nullable=False),
    sa.Column("prob_yes", F, nullable=False),
    sa.Column("market_prob", F),
    sa.Column("brier", F, nullable=False),
    sa.Column("log_loss", F, nullable=False),
    sa.Column("market_brier", F),
    sa.Column("market_log_loss", F),
    sa.Column("pnl_yes", F),
    sa.Column("pnl_no", F),
    sa.Column("prob_model", F),  # the raw model probability and its scores
    sa.Column("model_brier", F),
    sa.Column("model_log_loss", F),
    sa.Column("take_side", Str(8)),  # the snapshot's would-be TAKE (kbot.model.evidence.would_take)
    sa.Column("take_pnl", F),  # its realized PnL per contract after the taker fee
    sa.CheckConstraint("outcome IN (0, 1)", name="outcome"),
    sa.CheckConstraint("prob_yes >= 0 AND prob_yes <= 1", name="prob_yes"),
    sa.Index(None, "series_ticker", "ts"),
    sa.Index(None, "ts"),
)

model_fits = sa.Table(  # every fit of the calibrated blend (kbot.model.blend), walk-forward
    "model_fits",
    metadata,
    sa.Column("fit_id", Str(32), primary_key=True),
    sa.Column("run_id", Str(64), nullable=True),  # the run that fitted it (informational)
    sa.Column("ts", F, nullable=False),  # when it was fitted
    sa.Column("model_name", Str(64), nullable=False),
    sa.Column("window_start", F),  # the settled snapshots it saw
    sa.Column("window_end", F),
    sa.Column("n_rows", sa.Integer, nullable=False),
    sa.Column("n_events", sa.Integer, nullable=False),
    sa.Column("params", sa.Text, nullable=False),  # BlendParams as JSON
    sa.Index(None, "ts"),
)

# ----------------------------------------------------------------------------- operations

supervision_events = sa.Table(
    "supervision_events",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    _run_fk(),
    sa.Column("ts", F, nullable=False),
    sa.Column("supervisor", Str(128), nullable=False),
    sa.Column("child", Str(128), nullable=False),  # "" for the supervisor itself
    sa.Column("kind", Str(32), nullable=False),
    sa.Column("reason", sa.Text),
    sa.Column("traceback", sa.Text),
    sa.Column("traceback_digest", Str(16)),  # groups identical crashes
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("delay_s", F, nullable=False),
    sa.UniqueConstraint("run_id", "ts", "supervisor", "child", "kind", "attempt"),
    sa.Index(None, "ts"),
)

health = sa.Table(
    "health",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    _run_fk(),
    sa.Column("ts", F, nullable=False),
    sa.Column("actor", Str(128), nullable=False),
    sa.Column("inbox_depth", sa.Integer, nullable=False),
    sa.Column("inbox_peak", sa.Integer, nullable=False),
    sa.Column("msgs_in", sa.BigInteger, nullable=False),
    sa.Column("msgs_out", sa.BigInteger, nullable=False),
    sa.Column("last_msg_age_s", F),
    sa.Column("restarts", sa.Integer, nullable=False),
    sa.Column("errors", sa.BigInteger, nullable=False),
    sa.Column("state", Str(255)),
    sa.UniqueConstraint("run_id", "actor", "ts"),
    sa.Index(None, "ts"),
)

latency = sa.Table(  # one row per health interval with decisions: real milliseconds
    "latency",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    _run_fk(),
    sa.Column("ts", F, nullable=False),
    sa.Column("scope", Str(32), nullable=False),  # tick_to_decision
    sa.Column("interval_s", F, nullable=False),
    sa.Column("n", sa.Integer, nullable=False),
    sa.Column("mean_ms", F, nullable=False),
    sa.Column("p50_ms", F, nullable=False),
    sa.Column("p90_ms", F, nullable=False),
    sa.Column("p99_ms", F, nullable=False),
    sa.Column("p999_ms", F, nullable=False),
    sa.Column("max_ms", F, nullable=False),
    sa.UniqueConstraint("run_id", "scope", "ts"),
    sa.Index(None, "ts"),
)

alerts = sa.Table(
    "alerts",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    _run_fk(),
    sa.Column("ts", F, nullable=False),
    sa.Column("kind", Str(64), nullable=False),
    sa.Column("severity", Str(16), nullable=False),
    sa.Column("subject", Str(255), nullable=False),  # "" when none
    sa.Column("message", sa.Text, nullable=False),
    sa.UniqueConstraint("run_id", "ts", "kind", "subject"),
    sa.Index(None, "ts"),
)

bad_inputs = sa.Table(
    "bad_inputs",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    _run_fk(),
    sa.Column("ts", F, nullable=False),
    sa.Column("source", Str(64), nullable=False),
    sa.Column("kind", Str(64), nullable=False),
    sa.Column("sample", sa.Text, nullable=False),
    sa.UniqueConstraint("run_id", "ts", "source", "kind"),
)

# Tables whose rows change money: a batch holding any of them is committed with
# ``StorageConfig.money_synchronous`` (FULL by default) on SQLite.
MONEY_TABLES = frozenset(
    {"orders", "order_events", "fills", "positions", "ledger_entries", "settlements", "abandoned_decisions"}
)


def natural_key(table: sa.Table) -> tuple[str, ...]:
    """The columns that identify a fact of ``table``: the primary key, unless it is a surrogate
    autoincrement ``id``, in which case the table's (single) unique constraint."""
    pk = tuple(c.name for c in table.primary_key.columns)
    if pk != ("id",):
        return pk
    uniques = [c for c in table.constraints if isinstance(c, sa.UniqueConstraint)]
    if len(uniques) != 1:
        raise ValueError(f"table {table.name} needs exactly one unique constraint as its natural key")
    return tuple(c.name for c in uniques[0].columns)
