"""The model that knows its own edge (issue 15): the raw model probability, the model's name,
the blend fit and the signals on edges and decisions; the raw model's scores and the would-be
TAKE on scores; the funding-rate feed (``funding_rates``) and the blend's fits (``model_fits``).
ADD COLUMN only on the existing tables (no table copy on SQLite); rows recorded before read NULL.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('model_fits',
    sa.Column('fit_id', sa.String(length=32), nullable=False),
    sa.Column('run_id', sa.String(length=64), nullable=True),
    sa.Column('ts', sa.Double(), nullable=False),
    sa.Column('model_name', sa.String(length=64), nullable=False),
    sa.Column('window_start', sa.Double(), nullable=True),
    sa.Column('window_end', sa.Double(), nullable=True),
    sa.Column('n_rows', sa.Integer(), nullable=False),
    sa.Column('n_events', sa.Integer(), nullable=False),
    sa.Column('params', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('fit_id', name=op.f('pk_model_fits'))
    )
    with op.batch_alter_table('model_fits', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_model_fits_ts'), ['ts'], unique=False)

    op.create_table('funding_rates',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.Column('ts', sa.Double(), nullable=False),
    sa.Column('symbol', sa.String(length=32), nullable=False),
    sa.Column('mark_price', sa.Double(), nullable=False),
    sa.Column('index_price', sa.Double(), nullable=True),
    sa.Column('funding_rate', sa.Double(), nullable=False),
    sa.Column('next_funding_ts', sa.Double(), nullable=True),
    sa.Column('recv_ts', sa.Double(), nullable=False),
    sa.Column('run_id', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['run_id'], ['runs.run_id'], name=op.f('fk_funding_rates_run_id_runs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_funding_rates')),
    sa.UniqueConstraint('source', 'ts', 'run_id', name=op.f('uq_funding_rates_source_ts_run_id'))
    )
    with op.batch_alter_table('decisions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('prob_model', sa.Double(), nullable=True))
        batch_op.add_column(sa.Column('model_name', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('blend_id', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('model_slope', sa.Double(), nullable=True))
        batch_op.add_column(sa.Column('sig_momentum', sa.Double(), nullable=True))
        batch_op.add_column(sa.Column('sig_mean_reversion', sa.Double(), nullable=True))
        batch_op.add_column(sa.Column('sig_funding', sa.Double(), nullable=True))
        batch_op.add_column(sa.Column('sig_imbalance', sa.Double(), nullable=True))
        batch_op.add_column(sa.Column('vol_regime', sa.Integer(), nullable=True))

    with op.batch_alter_table('edges', schema=None) as batch_op:
        batch_op.add_column(sa.Column('prob_model', sa.Double(), nullable=True))
        batch_op.add_column(sa.Column('model_name', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('blend_id', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('model_slope', sa.Double(), nullable=True))
        batch_op.add_column(sa.Column('sig_momentum', sa.Double(), nullable=True))
        batch_op.add_column(sa.Column('sig_mean_reversion', sa.Double(), nullable=True))
        batch_op.add_column(sa.Column('sig_funding', sa.Double(), nullable=True))
        batch_op.add_column(sa.Column('sig_imbalance', sa.Double(), nullable=True))
        batch_op.add_column(sa.Column('vol_regime', sa.Integer(), nullable=True))

    with op.batch_alter_table('scores', schema=None) as batch_op:
        batch_op.add_column(sa.Column('prob_model', sa.Double(), nullable=True))
        batch_op.add_column(sa.Column('model_brier', sa.Double(), nullable=True))
        batch_op.add_column(sa.Column('model_log_loss', sa.Double(), nullable=True))
        batch_op.add_column(sa.Column('take_side', sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column('take_pnl', sa.Double(), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('scores', schema=None) as batch_op:
        batch_op.drop_column('take_pnl')
        batch_op.drop_column('take_side')
        batch_op.drop_column('model_log_loss')
        batch_op.drop_column('model_brier')
        batch_op.drop_column('prob_model')

    with op.batch_alter_table('edges', schema=None) as batch_op:
        batch_op.drop_column('vol_regime')
        batch_op.drop_column('sig_imbalance')
        batch_op.drop_column('sig_funding')
        batch_op.drop_column('sig_mean_reversion')
        batch_op.drop_column('sig_momentum')
        batch_op.drop_column('model_slope')
        batch_op.drop_column('blend_id')
        batch_op.drop_column('model_name')
        batch_op.drop_column('prob_model')

    with op.batch_alter_table('decisions', schema=None) as batch_op:
        batch_op.drop_column('vol_regime')
        batch_op.drop_column('sig_imbalance')
        batch_op.drop_column('sig_funding')
        batch_op.drop_column('sig_mean_reversion')
        batch_op.drop_column('sig_momentum')
        batch_op.drop_column('model_slope')
        batch_op.drop_column('blend_id')
        batch_op.drop_column('model_name')
        batch_op.drop_column('prob_model')

    op.drop_table('funding_rates')
    with op.batch_alter_table('model_fits', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_model_fits_ts'))

    op.drop_table('model_fits')
