"""Initial schema: runs, ingestion, model and decisions, trading, evaluation, supervision and health.

Revision ID: 0001
Revises: (none)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None

# Reports group by UTC day with kbot_day(ts) -> 'YYYY-MM-DD'. SQLite gets it as a function
# registered on every connection (storage.db); PostgreSQL as this SQL function.
KBOT_DAY = """
CREATE OR REPLACE FUNCTION kbot_day(ts double precision) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$ SELECT to_char(to_timestamp(ts) AT TIME ZONE 'UTC', 'YYYY-MM-DD') $$
"""


def upgrade() -> None:
    op.create_table('book_snapshots',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('ts', sa.Double(), nullable=False),
    sa.Column('ticker', sa.String(length=64), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=True),
    sa.Column('yes_bids', sa.Text(), nullable=False),
    sa.Column('no_bids', sa.Text(), nullable=False),
    sa.Column('recv_ts', sa.Double(), nullable=False),
    sa.Column('run_id', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_book_snapshots')),
    sa.UniqueConstraint('ticker', 'ts', name=op.f('uq_book_snapshots_ticker_ts'))
    )
    op.create_table('events',
    sa.Column('event_ticker', sa.String(length=64), nullable=False),
    sa.Column('series_ticker', sa.String(length=64), nullable=False),
    sa.Column('title', sa.Text(), nullable=True),
    sa.Column('strike_ts', sa.Double(), nullable=True),
    sa.Column('fee_type_override', sa.String(length=64), nullable=True),
    sa.Column('fee_multiplier_override', sa.Numeric(precision=24, scale=6), nullable=True),
    sa.Column('updated_ts', sa.Double(), nullable=True),
    sa.PrimaryKeyConstraint('event_ticker', name=op.f('pk_events'))
    )
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_events_series_ticker'), ['series_ticker'], unique=False)

    op.create_table('fills',
    sa.Column('fill_id', sa.String(length=64), nullable=False),
    sa.Column('order_id', sa.String(length=64), nullable=False),
    sa.Column('decision_id', sa.String(length=64), nullable=True),
    sa.Column('run_id', sa.String(length=64), nullable=True),
    sa.Column('mode', sa.String(length=16), nullable=False),
    sa.Column('ts', sa.Double(), nullable=False),
    sa.Column('ticker', sa.String(length=64), nullable=False),
    sa.Column('side', sa.String(length=8), nullable=False),
    sa.Column('action', sa.String(length=8), nullable=False),
    sa.Column('count', sa.Numeric(precision=24, scale=6), nullable=False),
    sa.Column('price', sa.Numeric(precision=24, scale=6), nullable=False),
    sa.Column('fee', sa.Numeric(precision=24, scale=6), nullable=False),
    sa.Column('is_taker', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('fill_id', name=op.f('pk_fills'))
    )
    with op.batch_alter_table('fills', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_fills_order_id'), ['order_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_fills_ticker_ts'), ['ticker', 'ts'], unique=False)
        batch_op.create_index(batch_op.f('ix_fills_ts'), ['ts'], unique=False)

    op.create_table('market_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('ticker', sa.String(length=64), nullable=False),
    sa.Column('ts', sa.Double(), nullable=False),
    sa.Column('event_type', sa.String(length=64), nullable=False),
    sa.Column('open_ts', sa.Double(), nullable=True),
    sa.Column('close_ts', sa.Double(), nullable=True),
    sa.Column('result', sa.String(length=16), nullable=True),
    sa.Column('settlement_value', sa.Numeric(precision=24, scale=6), nullable=True),
    sa.Column('determination_ts', sa.Double(), nullable=True),
    sa.Column('settled_ts', sa.Double(), nullable=True),
    sa.Column('strike_type', sa.String(length=32), nullable=True),
    sa.Column('floor_strike', sa.Double(), nullable=True),
    sa.Column('cap_strike', sa.Double(), nullable=True),
    sa.Column('event_ticker', sa.String(length=64), nullable=True),
    sa.Column('price_level_structure', sa.String(length=64), nullable=True),
    sa.Column('recv_ts', sa.Double(), nullable=False),
    sa.Column('run_id', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_market_events')),
    sa.UniqueConstraint('ticker', 'ts', 'event_type', name=op.f('uq_market_events_ticker_ts_event_type'))
    )
    op.create_table('markets',
    sa.Column('ticker', sa.String(length=64), nullable=False),
    sa.Column('event_ticker', sa.String(length=64), nullable=False),
    sa.Column('series_ticker', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('strike_type', sa.String(length=32), nullable=True),
    sa.Column('floor_strike', sa.Double(), nullable=True),
    sa.Column('cap_strike', sa.Double(), nullable=True),
    sa.Column('open_ts', sa.Double(), nullable=True),
    sa.Column('close_ts', sa.Double(), nullable=True),
    sa.Column('expected_expiration_ts', sa.Double(), nullable=True),
    sa.Column('latest_expiration_ts', sa.Double(), nullable=True),
    sa.Column('settlement_timer_s', sa.Double(), nullable=True),
    sa.Column('result', sa.String(length=16), nullable=True),
    sa.Column('settlement_value', sa.Numeric(precision=24, scale=6), nullable=True),
    sa.Column('expiration_value', sa.String(length=64), nullable=True),
    sa.Column('price_level_structure', sa.String(length=64), nullable=True),
    sa.Column('tick_size', sa.Numeric(precision=24, scale=6), nullable=True),
    sa.Column('fee_type', sa.String(length=64), nullable=True),
    sa.Column('fee_multiplier', sa.Numeric(precision=24, scale=6), nullable=True),
    sa.Column('title', sa.Text(), nullable=True),
    sa.Column('yes_sub_title', sa.Text(), nullable=True),
    sa.Column('exchange_index', sa.Integer(), nullable=True),
    sa.Column('updated_ts', sa.Double(), nullable=False),
    sa.PrimaryKeyConstraint('ticker', name=op.f('pk_markets'))
    )
    with op.batch_alter_table('markets', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_markets_event_ticker'), ['event_ticker'], unique=False)
        batch_op.create_index(batch_op.f('ix_markets_series_ticker_close_ts'), ['series_ticker', 'close_ts'], unique=False)
        batch_op.create_index(batch_op.f('ix_markets_status_close_ts'), ['status', 'close_ts'], unique=False)

    op.create_table('quotes',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('ts', sa.Double(), nullable=False),
    sa.Column('ticker', sa.String(length=64), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('yes_bid', sa.Numeric(precision=24, scale=6), nullable=True),
    sa.Column('yes_ask', sa.Numeric(precision=24, scale=6), nullable=True),
    sa.Column('no_bid', sa.Numeric(precision=24, scale=6), nullable=True),
    sa.Column('no_ask', sa.Numeric(precision=24, scale=6), nullable=True),
    sa.Column('yes_bid_size', sa.Numeric(precision=24, scale=6), nullable=True),
    sa.Column('yes_ask_size', sa.Numeric(precision=24, scale=6), nullable=True),
    sa.Column('last_price', sa.Numeric(precision=24, scale=6), nullable=True),
    sa.Column('volume', sa.Numeric(precision=24, scale=6), nullable=True),
    sa.Column('open_interest', sa.Numeric(precision=24, scale=6), nullable=True),
    sa.Column('stale', sa.Boolean(), nullable=False),
    sa.Column('recv_ts', sa.Double(), nullable=False),
    sa.Column('run_id', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_quotes')),
    sa.UniqueConstraint('ticker', 'ts', 'source', name=op.f('uq_quotes_ticker_ts_source'))
    )
    with op.batch_alter_table('quotes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_quotes_ts'), ['ts'], unique=False)

    op.create_table('runs',
    sa.Column('run_id', sa.String(length=64), nullable=False),
    sa.Column('started_ts', sa.Double(), nullable=False),
    sa.Column('ended_ts', sa.Double(), nullable=True),
    sa.Column('mode', sa.String(length=16), nullable=False),
    sa.Column('venue', sa.String(length=32), nullable=False),
    sa.Column('config_digest', sa.String(length=64), nullable=True),
    sa.Column('version', sa.String(length=32), nullable=True),
    sa.PrimaryKeyConstraint('run_id', name=op.f('pk_runs'))
    )
    with op.batch_alter_table('runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_runs_started_ts'), ['started_ts'], unique=False)

    op.create_table('series',
    sa.Column('series_ticker', sa.String(length=64), nullable=False),
    sa.Column('title', sa.Text(), nullable=True),
    sa.Column('frequency', sa.String(length=32), nullable=True),
    sa.Column('fee_type', sa.String(length=64), nullable=True),
    sa.Column('fee_multiplier', sa.Numeric(precision=24, scale=6), nullable=True),
    sa.Column('updated_ts', sa.Double(), nullable=True),
    sa.PrimaryKeyConstraint('series_ticker', name=op.f('pk_series'))
    )
    op.create_table('settlements',
    sa.Column('ticker', sa.String(length=64), nullable=False),
    sa.Column('ts', sa.Double(), nullable=False),
    sa.Column('result', sa.String(length=16), nullable=False),
    sa.Column('settlement_value', sa.Numeric(precision=24, scale=6), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('final', sa.Boolean(), nullable=False),
    sa.Column('run_id', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('ticker', name=op.f('pk_settlements'))
    )
    op.create_table('spot_ticks',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.Column('ts', sa.Double(), nullable=False),
    sa.Column('price', sa.Double(), nullable=False),
    sa.Column('bid', sa.Double(), nullable=True),
    sa.Column('ask', sa.Double(), nullable=True),
    sa.Column('avg_60s', sa.Double(), nullable=True),
    sa.Column('recv_ts', sa.Double(), nullable=False),
    sa.Column('run_id', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_spot_ticks')),
    sa.UniqueConstraint('source', 'ts', 'recv_ts', 'price', name=op.f('uq_spot_ticks_source_ts_recv_ts_price'))
    )
    with op.batch_alter_table('spot_ticks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_spot_ticks_ts'), ['ts'], unique=False)

    op.create_table('trades',
    sa.Column('trade_id', sa.String(length=64), nullable=False),
    sa.Column('ts', sa.Double(), nullable=False),
    sa.Column('ticker', sa.String(length=64), nullable=False),
    sa.Column('yes_price', sa.Numeric(precision=24, scale=6), nullable=False),
    sa.Column('count', sa.Numeric(precision=24, scale=6), nullable=False),
    sa.Column('taker_side', sa.String(length=8), nullable=True),
    sa.Column('recv_ts', sa.Double(), nullable=False),
    sa.Column('run_id', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('trade_id', name=op.f('pk_trades'))
    )
    with op.batch_alter_table('trades', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_trades_ticker_ts'), ['ticker', 'ts'], unique=False)

    op.create_table('decisions',
    sa.Column('decision_id', sa.String(length=64), nullable=False),
    sa.Column('run_id', sa.String(length=64), nullable=False),
    sa.Column('ts', sa.Double(), nullable=False),
    sa.Column('ticker', sa.String(length=64), nullable=False),
    sa.Column('action', sa.String(length=8), nullable=False),
    sa.Column('side', sa.String(length=8), nullable=True),
    sa.Column('count', sa.Numeric(precision=24, scale=6), nullable=False),
    sa.Column('limit_price', sa.Numeric(precision=24, scale=6), nullable=True),
    sa.Column('prob_yes', sa.Double(), nullable=True),
    sa.Column('ev', sa.Double(), nullable=True),
    sa.Column('fee', sa.Numeric(precision=24, scale=6), nullable=True),
    sa.Column('reasons', sa.String(length=255), nullable=False),
    sa.Column('kelly_fraction', sa.Double(), nullable=True),
    sa.Column('exposure', sa.Numeric(precision=24, scale=6), nullable=True),
    sa.Column('daily_pnl', sa.Numeric(precision=24, scale=6), nullable=True),
    sa.Column('balance', sa.Numeric(precision=24, scale=6), nullable=True),
    sa.Column('config_digest', sa.String(length=64), nullable=True),
    sa.Column('edge_ts', sa.Double(), nullable=False),
    sa.Column('edge_reasons', sa.String(length=255), nullable=False),
    sa.Column('event_ticker', sa.String(length=64), nullable=False),
    sa.Column('series_ticker', sa.String(length=64), nullable=False),
    sa.Column('strike_type', sa.String(length=32), nullable=True),
    sa.Column('floor_strike', sa.Double(), nullable=True),
    sa.Column('cap_strike', sa.Double(), nullable=True),
    sa.Column('close_ts', sa.Double(), nullable=True),
    sa.Column('spot', sa.Double(), nullable=True),
    sa.Column('spot_avg_60s', sa.Double(), nullable=True),
    sa.Column('sigma', sa.Double(), nullable=True),
    sa.Column('sigma_source', sa.String(length=32), nullable=True),
    sa.Column('horizon_s', sa.Double(), nullable=True),
    sa.Column('yes_bid', sa.Numeric(precision=24, scale=6), nullable=True),
    sa.Column('yes_ask', sa.Numeric(precision=24, scale=6), nullable=True),
    sa.Column('no_bid', sa.Numeric(precision=24, scale=6), nullable=True),
    sa.Column('no_ask', sa.Numeric(precision=24, scale=6), nullable=True),
    sa.Column('yes_ask_size', sa.Numeric(precision=24, scale=6), nullable=True),
    sa.Column('no_ask_size', sa.Numeric(precision=24, scale=6), nullable=True),
    sa.Column('market_mid', sa.Double(), nullable=True),
    sa.Column('ev_yes', sa.Double(), nullable=True),
    sa.Column('ev_no', sa.Double(), nullable=True),
    sa.Column('fee_yes', sa.Double(), nullable=True),
    sa.Column('fee_no', sa.Double(), nullable=True),
    sa.Column('implied_sigma', sa.Double(), nullable=True),
    sa.Column('quote_ts', sa.Double(), nullable=True),
    sa.Column('index_ts', sa.Double(), nullable=True),
    sa.Column('model_version', sa.String(length=64), nullable=False),
    sa.CheckConstraint("action IN ('TAKE', 'PASS')", name=op.f('ck_decisions_action')),
    sa.ForeignKeyConstraint(['run_id'], ['runs.run_id'], name=op.f('fk_decisions_run_id_runs')),
    sa.PrimaryKeyConstraint('decision_id', name=op.f('pk_decisions'))
    )
    with op.batch_alter_table('decisions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_decisions_run_id_ts'), ['run_id', 'ts'], unique=False)
        batch_op.create_index(batch_op.f('ix_decisions_ticker_ts'), ['ticker', 'ts'], unique=False)

    op.create_table('edges',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('run_id', sa.String(length=64), nullable=False),
    sa.Column('ts', sa.Double(), nullable=False),
    sa.Column('ticker', sa.String(length=64), nullable=False),
    sa.Column('prob_yes', sa.Double(), nullable=True),
    sa.Column('event_ticker', sa.String(length=64), nullable=False),
    sa.Column('series_ticker', sa.String(length=64), nullable=False),
    sa.Column('strike_type', sa.String(length=32), nullable=True),
    sa.Column('floor_strike', sa.Double(), nullable=True),
    sa.Column('cap_strike', sa.Double(), nullable=True),
    sa.Column('close_ts', sa.Double(), nullable=True),
    sa.Column('spot', sa.Double(), nullable=True),
    sa.Column('spot_avg_60s', sa.Double(), nullable=True),
    sa.Column('sigma', sa.Double(), nullable=True),
    sa.Column('sigma_source', sa.String(length=32), nullable=True),
    sa.Column('horizon_s', sa.Double(), nullable=True),
    sa.Column('yes_bid', sa.Numeric(precision=24, scale=6), nullable=True),
    sa.Column('yes_ask', sa.Numeric(precision=24, scale=6), nullable=True),
    sa.Column('no_bid', sa.Numeric(precision=24, scale=6), nullable=True),
    sa.Column('no_ask', sa.Numeric(precision=24, scale=6), nullable=True),
    sa.Column('yes_ask_size', sa.Numeric(precision=24, scale=6), nullable=True),
    sa.Column('no_ask_size', sa.Numeric(precision=24, scale=6), nullable=True),
    sa.Column('market_mid', sa.Double(), nullable=True),
    sa.Column('ev_yes', sa.Double(), nullable=True),
    sa.Column('ev_no', sa.Double(), nullable=True),
    sa.Column('fee_yes', sa.Double(), nullable=True),
    sa.Column('fee_no', sa.Double(), nullable=True),
    sa.Column('implied_sigma', sa.Double(), nullable=True),
    sa.Column('quote_ts', sa.Double(), nullable=True),
    sa.Column('index_ts', sa.Double(), nullable=True),
    sa.Column('model_version', sa.String(length=64), nullable=False),
    sa.Column('reasons', sa.String(length=255), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['runs.run_id'], name=op.f('fk_edges_run_id_runs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_edges')),
    sa.UniqueConstraint('ticker', 'ts', 'run_id', name=op.f('uq_edges_ticker_ts_run_id'))
    )
    op.create_table('feed_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('run_id', sa.String(length=64), nullable=False),
    sa.Column('ts', sa.Double(), nullable=False),
    sa.Column('feed', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('detail', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['run_id'], ['runs.run_id'], name=op.f('fk_feed_events_run_id_runs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_feed_events')),
    sa.UniqueConstraint('run_id', 'feed', 'ts', 'status', name=op.f('uq_feed_events_run_id_feed_ts_status'))
    )
    with op.batch_alter_table('feed_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_feed_events_feed_ts'), ['feed', 'ts'], unique=False)

    op.create_table('health',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('run_id', sa.String(length=64), nullable=False),
    sa.Column('ts', sa.Double(), nullable=False),
    sa.Column('actor', sa.String(length=128), nullable=False),
    sa.Column('inbox_depth', sa.Integer(), nullable=False),
    sa.Column('inbox_peak', sa.Integer(), nullable=False),
    sa.Column('msgs_in', sa.BigInteger(), nullable=False),
    sa.Column('msgs_out', sa.BigInteger(), nullable=False),
    sa.Column('last_msg_age_s', sa.Double(), nullable=True),
    sa.Column('restarts', sa.Integer(), nullable=False),
    sa.Column('errors', sa.BigInteger(), nullable=False),
    sa.Column('state', sa.String(length=255), nullable=True),
    sa.ForeignKeyConstraint(['run_id'], ['runs.run_id'], name=op.f('fk_health_run_id_runs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_health')),
    sa.UniqueConstraint('run_id', 'actor', 'ts', name=op.f('uq_health_run_id_actor_ts'))
    )
    with op.batch_alter_table('health', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_health_ts'), ['ts'], unique=False)

    op.create_table('index_prices',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('run_id', sa.String(length=64), nullable=False),
    sa.Column('ts', sa.Double(), nullable=False),
    sa.Column('price', sa.Double(), nullable=False),
    sa.Column('n_sources', sa.Integer(), nullable=False),
    sa.Column('sources', sa.String(length=255), nullable=False),
    sa.Column('stale', sa.Boolean(), nullable=False),
    sa.Column('avg_60s', sa.Double(), nullable=True),
    sa.Column('sigma', sa.Double(), nullable=False),
    sa.Column('sigma_source', sa.String(length=32), nullable=False),
    sa.Column('sigma_reason', sa.String(length=255), nullable=True),
    sa.ForeignKeyConstraint(['run_id'], ['runs.run_id'], name=op.f('fk_index_prices_run_id_runs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_index_prices')),
    sa.UniqueConstraint('run_id', 'ts', name=op.f('uq_index_prices_run_id_ts'))
    )
    with op.batch_alter_table('index_prices', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_index_prices_ts'), ['ts'], unique=False)

    op.create_table('ledger_entries',
    sa.Column('entry_id', sa.String(length=64), nullable=False),
    sa.Column('run_id', sa.String(length=64), nullable=False),
    sa.Column('ts', sa.Double(), nullable=False),
    sa.Column('mode', sa.String(length=16), nullable=False),
    sa.Column('ticker', sa.String(length=64), nullable=True),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('amount', sa.Numeric(precision=24, scale=6), nullable=False),
    sa.Column('ref', sa.String(length=128), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['run_id'], ['runs.run_id'], name=op.f('fk_ledger_entries_run_id_runs')),
    sa.PrimaryKeyConstraint('entry_id', name=op.f('pk_ledger_entries'))
    )
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ledger_entries_run_id_mode_ts'), ['run_id', 'mode', 'ts'], unique=False)
        batch_op.create_index(batch_op.f('ix_ledger_entries_ts'), ['ts'], unique=False)

    op.create_table('order_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('order_id', sa.String(length=64), nullable=False),
    sa.Column('run_id', sa.String(length=64), nullable=False),
    sa.Column('ts', sa.Double(), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('filled_count', sa.Numeric(precision=24, scale=6), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['run_id'], ['runs.run_id'], name=op.f('fk_order_events_run_id_runs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_order_events')),
    sa.UniqueConstraint('order_id', 'ts', 'status', 'filled_count', name=op.f('uq_order_events_order_id_ts_status_filled_count'))
    )
    op.create_table('orders',
    sa.Column('order_id', sa.String(length=64), nullable=False),
    sa.Column('client_order_id', sa.String(length=64), nullable=False),
    sa.Column('decision_id', sa.String(length=64), nullable=True),
    sa.Column('run_id', sa.String(length=64), nullable=False),
    sa.Column('mode', sa.String(length=16), nullable=False),
    sa.Column('ticker', sa.String(length=64), nullable=False),
    sa.Column('side', sa.String(length=8), nullable=False),
    sa.Column('action', sa.String(length=8), nullable=False),
    sa.Column('count', sa.Numeric(precision=24, scale=6), nullable=False),
    sa.Column('price', sa.Numeric(precision=24, scale=6), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('filled_count', sa.Numeric(precision=24, scale=6), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('created_ts', sa.Double(), nullable=False),
    sa.Column('updated_ts', sa.Double(), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['runs.run_id'], name=op.f('fk_orders_run_id_runs')),
    sa.PrimaryKeyConstraint('order_id', name=op.f('pk_orders')),
    sa.UniqueConstraint('client_order_id', name=op.f('uq_orders_client_order_id'))
    )
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_orders_run_id_status'), ['run_id', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_orders_ticker'), ['ticker'], unique=False)

    op.create_table('positions',
    sa.Column('run_id', sa.String(length=64), nullable=False),
    sa.Column('mode', sa.String(length=16), nullable=False),
    sa.Column('ticker', sa.String(length=64), nullable=False),
    sa.Column('ts', sa.Double(), nullable=False),
    sa.Column('side', sa.String(length=8), nullable=False),
    sa.Column('count', sa.Numeric(precision=24, scale=6), nullable=False),
    sa.Column('avg_price', sa.Numeric(precision=24, scale=6), nullable=False),
    sa.Column('cost', sa.Numeric(precision=24, scale=6), nullable=False),
    sa.Column('fees', sa.Numeric(precision=24, scale=6), nullable=False),
    sa.Column('realized_pnl', sa.Numeric(precision=24, scale=6), nullable=False),
    sa.Column('unrealized_pnl', sa.Numeric(precision=24, scale=6), nullable=True),
    sa.Column('mark_price', sa.Numeric(precision=24, scale=6), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('opened_ts', sa.Double(), nullable=False),
    sa.Column('closed_ts', sa.Double(), nullable=True),
    sa.Column('result', sa.String(length=16), nullable=True),
    sa.ForeignKeyConstraint(['run_id'], ['runs.run_id'], name=op.f('fk_positions_run_id_runs')),
    sa.PrimaryKeyConstraint('run_id', 'mode', 'ticker', name=op.f('pk_positions'))
    )
    with op.batch_alter_table('positions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_positions_closed_ts'), ['closed_ts'], unique=False)
        batch_op.create_index(batch_op.f('ix_positions_status_mode'), ['status', 'mode'], unique=False)

    op.create_table('supervision_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('run_id', sa.String(length=64), nullable=False),
    sa.Column('ts', sa.Double(), nullable=False),
    sa.Column('supervisor', sa.String(length=128), nullable=False),
    sa.Column('child', sa.String(length=128), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('traceback', sa.Text(), nullable=True),
    sa.Column('traceback_digest', sa.String(length=16), nullable=True),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('delay_s', sa.Double(), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['runs.run_id'], name=op.f('fk_supervision_events_run_id_runs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_supervision_events')),
    sa.UniqueConstraint('run_id', 'ts', 'supervisor', 'child', 'kind', 'attempt', name=op.f('uq_supervision_events_run_id_ts_supervisor_child_kind_attempt'))
    )
    with op.batch_alter_table('supervision_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_supervision_events_ts'), ['ts'], unique=False)

    op.create_table('decision_reasons',
    sa.Column('decision_id', sa.String(length=64), nullable=False),
    sa.Column('reason', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['decision_id'], ['decisions.decision_id'], name=op.f('fk_decision_reasons_decision_id_decisions')),
    sa.PrimaryKeyConstraint('decision_id', 'reason', name=op.f('pk_decision_reasons'))
    )
    with op.batch_alter_table('decision_reasons', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_decision_reasons_reason'), ['reason'], unique=False)

    op.create_table('scores',
    sa.Column('edge_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=False, nullable=False),
    sa.Column('ts', sa.Double(), nullable=False),
    sa.Column('ticker', sa.String(length=64), nullable=False),
    sa.Column('series_ticker', sa.String(length=64), nullable=False),
    sa.Column('horizon_s', sa.Double(), nullable=False),
    sa.Column('outcome', sa.Integer(), nullable=False),
    sa.Column('prob_yes', sa.Double(), nullable=False),
    sa.Column('market_prob', sa.Double(), nullable=True),
    sa.Column('brier', sa.Double(), nullable=False),
    sa.Column('log_loss', sa.Double(), nullable=False),
    sa.Column('market_brier', sa.Double(), nullable=True),
    sa.Column('market_log_loss', sa.Double(), nullable=True),
    sa.Column('pnl_yes', sa.Double(), nullable=True),
    sa.Column('pnl_no', sa.Double(), nullable=True),
    sa.CheckConstraint('outcome IN (0, 1)', name=op.f('ck_scores_outcome')),
    sa.CheckConstraint('prob_yes >= 0 AND prob_yes <= 1', name=op.f('ck_scores_prob_yes')),
    sa.ForeignKeyConstraint(['edge_id'], ['edges.id'], name=op.f('fk_scores_edge_id_edges')),
    sa.PrimaryKeyConstraint('edge_id', name=op.f('pk_scores'))
    )
    with op.batch_alter_table('scores', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_scores_series_ticker_ts'), ['series_ticker', 'ts'], unique=False)
        batch_op.create_index(batch_op.f('ix_scores_ts'), ['ts'], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(KBOT_DAY)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS kbot_day(double precision)")
    with op.batch_alter_table('scores', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_scores_ts'))
        batch_op.drop_index(batch_op.f('ix_scores_series_ticker_ts'))

    op.drop_table('scores')
    with op.batch_alter_table('decision_reasons', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_decision_reasons_reason'))

    op.drop_table('decision_reasons')
    with op.batch_alter_table('supervision_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_supervision_events_ts'))

    op.drop_table('supervision_events')
    with op.batch_alter_table('positions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_positions_status_mode'))
        batch_op.drop_index(batch_op.f('ix_positions_closed_ts'))

    op.drop_table('positions')
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_orders_ticker'))
        batch_op.drop_index(batch_op.f('ix_orders_run_id_status'))

    op.drop_table('orders')
    op.drop_table('order_events')
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ledger_entries_ts'))
        batch_op.drop_index(batch_op.f('ix_ledger_entries_run_id_mode_ts'))

    op.drop_table('ledger_entries')
    with op.batch_alter_table('index_prices', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_index_prices_ts'))

    op.drop_table('index_prices')
    with op.batch_alter_table('health', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_health_ts'))

    op.drop_table('health')
    with op.batch_alter_table('feed_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_feed_events_feed_ts'))

    op.drop_table('feed_events')
    op.drop_table('edges')
    with op.batch_alter_table('decisions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_decisions_ticker_ts'))
        batch_op.drop_index(batch_op.f('ix_decisions_run_id_ts'))

    op.drop_table('decisions')
    with op.batch_alter_table('trades', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_trades_ticker_ts'))

    op.drop_table('trades')
    with op.batch_alter_table('spot_ticks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_spot_ticks_ts'))

    op.drop_table('spot_ticks')
    op.drop_table('settlements')
    op.drop_table('series')
    with op.batch_alter_table('runs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_runs_started_ts'))

    op.drop_table('runs')
    with op.batch_alter_table('quotes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_quotes_ts'))

    op.drop_table('quotes')
    with op.batch_alter_table('markets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_markets_status_close_ts'))
        batch_op.drop_index(batch_op.f('ix_markets_series_ticker_close_ts'))
        batch_op.drop_index(batch_op.f('ix_markets_event_ticker'))

    op.drop_table('markets')
    op.drop_table('market_events')
    with op.batch_alter_table('fills', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_fills_ts'))
        batch_op.drop_index(batch_op.f('ix_fills_ticker_ts'))
        batch_op.drop_index(batch_op.f('ix_fills_order_id'))

    op.drop_table('fills')
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_events_series_ticker'))

    op.drop_table('events')
    op.drop_table('book_snapshots')
