"""The maker strategy: quote changes (``maker_quotes``) and what was done to quotes (``maker_actions``).

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
Money = sa.Numeric(precision=24, scale=6)


def upgrade() -> None:
    op.create_table('maker_quotes',
    sa.Column('id', Id, autoincrement=True, nullable=False),
    sa.Column('run_id', sa.String(length=64), nullable=False),
    sa.Column('ts', sa.Double(), nullable=False),
    sa.Column('ticker', sa.String(length=64), nullable=False),
    sa.Column('series_ticker', sa.String(length=32), nullable=False),
    sa.Column('yes_bid', Money, nullable=True),
    sa.Column('no_bid', Money, nullable=True),
    sa.Column('size', Money, nullable=False),
    sa.Column('fair', sa.Double(), nullable=True),
    sa.Column('reservation', sa.Double(), nullable=True),
    sa.Column('half_spread', sa.Double(), nullable=True),
    sa.Column('inventory', Money, nullable=False),
    sa.Column('time_to_close_s', sa.Double(), nullable=True),
    sa.Column('best_yes_bid', Money, nullable=True),
    sa.Column('best_yes_ask', Money, nullable=True),
    sa.Column('reasons', sa.String(length=255), nullable=False),
    sa.Column('yes_reasons', sa.String(length=255), nullable=False),
    sa.Column('no_reasons', sa.String(length=255), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['runs.run_id'], name=op.f('fk_maker_quotes_run_id_runs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_maker_quotes')),
    sa.UniqueConstraint('run_id', 'ts', 'ticker', name=op.f('uq_maker_quotes_run_id_ts_ticker'))
    )
    with op.batch_alter_table('maker_quotes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_maker_quotes_ticker_ts'), ['ticker', 'ts'], unique=False)

    op.create_table('maker_actions',
    sa.Column('id', Id, autoincrement=True, nullable=False),
    sa.Column('run_id', sa.String(length=64), nullable=False),
    sa.Column('ts', sa.Double(), nullable=False),
    sa.Column('mode', sa.String(length=16), nullable=False),
    sa.Column('ticker', sa.String(length=64), nullable=False),
    sa.Column('side', sa.String(length=8), nullable=False),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('client_order_id', sa.String(length=96), nullable=False),
    sa.Column('price', Money, nullable=True),
    sa.Column('prev_price', Money, nullable=True),
    sa.Column('count', Money, nullable=False),
    sa.Column('reason', sa.String(length=255), nullable=False),
    sa.Column('fair', sa.Double(), nullable=True),
    sa.ForeignKeyConstraint(['run_id'], ['runs.run_id'], name=op.f('fk_maker_actions_run_id_runs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_maker_actions')),
    sa.UniqueConstraint('run_id', 'ts', 'ticker', 'side', 'action', 'client_order_id', 'price',
                        name=op.f('uq_maker_actions_run_id_ts_ticker_side_action_client_order_id_price'))
    )
    with op.batch_alter_table('maker_actions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_maker_actions_ticker_ts'), ['ticker', 'ts'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('maker_actions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_maker_actions_ticker_ts'))
    op.drop_table('maker_actions')
    with op.batch_alter_table('maker_quotes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_maker_quotes_ticker_ts'))
    op.drop_table('maker_quotes')
