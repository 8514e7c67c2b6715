"""The venue's view of the account (balances, positions, settlements), event fee updates, and
equity / unrealized PnL / open positions in portfolio snapshots.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def Money() -> sa.Numeric:
    return sa.Numeric(precision=24, scale=6)


def upgrade() -> None:
    # ADD COLUMN: no table copy on SQLite; snapshots recorded before read equity/unrealized NULL, 0 open
    with op.batch_alter_table('portfolio_snapshots', schema=None) as batch_op:
        batch_op.add_column(sa.Column('equity', Money(), nullable=True))
        batch_op.add_column(sa.Column('unrealized_pnl', Money(), nullable=True))
        batch_op.add_column(sa.Column('open_positions', sa.Integer(), server_default=sa.text('0'), nullable=False))

    op.create_table('event_fee_updates',
    sa.Column('id', Id, autoincrement=True, nullable=False),
    sa.Column('event_ticker', sa.String(length=64), nullable=False),
    sa.Column('ts', sa.Double(), nullable=False),
    sa.Column('fee_type_override', sa.String(length=64), nullable=True),
    sa.Column('fee_multiplier_override', Money(), nullable=True),
    sa.Column('recv_ts', sa.Double(), nullable=False),
    sa.Column('run_id', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_event_fee_updates')),
    sa.UniqueConstraint('event_ticker', 'ts', name=op.f('uq_event_fee_updates_event_ticker_ts'))
    )
    op.create_table('venue_balances',
    sa.Column('id', Id, autoincrement=True, nullable=False),
    sa.Column('run_id', sa.String(length=64), nullable=False),
    sa.Column('ts', sa.Double(), nullable=False),
    sa.Column('balance', Money(), nullable=False),
    sa.Column('portfolio_value', Money(), nullable=True),
    sa.Column('by_exchange_index', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['runs.run_id'], name=op.f('fk_venue_balances_run_id_runs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_venue_balances')),
    sa.UniqueConstraint('run_id', 'ts', name=op.f('uq_venue_balances_run_id_ts'))
    )
    op.create_table('venue_positions',
    sa.Column('id', Id, autoincrement=True, nullable=False),
    sa.Column('run_id', sa.String(length=64), nullable=False),
    sa.Column('ts', sa.Double(), nullable=False),
    sa.Column('ticker', sa.String(length=64), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('position', Money(), nullable=False),
    sa.Column('market_exposure', Money(), nullable=True),
    sa.Column('realized_pnl', Money(), nullable=True),
    sa.Column('fees_paid', Money(), nullable=True),
    sa.Column('total_traded', Money(), nullable=True),
    sa.ForeignKeyConstraint(['run_id'], ['runs.run_id'], name=op.f('fk_venue_positions_run_id_runs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_venue_positions')),
    sa.UniqueConstraint('run_id', 'ticker', 'ts', 'source', name=op.f('uq_venue_positions_run_id_ticker_ts_source'))
    )
    op.create_table('venue_settlements',
    sa.Column('run_id', sa.String(length=64), nullable=False),
    sa.Column('ticker', sa.String(length=64), nullable=False),
    sa.Column('ts', sa.Double(), nullable=False),
    sa.Column('event_ticker', sa.String(length=64), nullable=True),
    sa.Column('result', sa.String(length=16), nullable=False),
    sa.Column('yes_count', Money(), nullable=False),
    sa.Column('no_count', Money(), nullable=False),
    sa.Column('yes_cost', Money(), nullable=False),
    sa.Column('no_cost', Money(), nullable=False),
    sa.Column('revenue', Money(), nullable=False),
    sa.Column('fee', Money(), nullable=False),
    sa.Column('value', Money(), nullable=True),
    sa.ForeignKeyConstraint(['run_id'], ['runs.run_id'], name=op.f('fk_venue_settlements_run_id_runs')),
    sa.PrimaryKeyConstraint('run_id', 'ticker', name=op.f('pk_venue_settlements'))
    )
    with op.batch_alter_table('venue_settlements', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_venue_settlements_ts'), ['ts'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('venue_settlements', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_venue_settlements_ts'))
    op.drop_table('venue_settlements')
    op.drop_table('venue_positions')
    op.drop_table('venue_balances')
    op.drop_table('event_fee_updates')
    # SQLite copies portfolio_snapshots here (nothing references it; its rows are kept)
    with op.batch_alter_table('portfolio_snapshots', schema=None) as batch_op:
        for name in ('open_positions', 'unrealized_pnl', 'equity'):
            batch_op.drop_column(name)
