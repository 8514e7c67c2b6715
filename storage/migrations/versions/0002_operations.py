"""Operations: alerts, bad inputs, portfolio snapshots; how a run ended (host, pid, exit status).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:  # ADD COLUMN: no table copy on SQLite
        batch_op.add_column(sa.Column('host', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('pid', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('exit_status', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('exit_reason', sa.Text(), nullable=True))

    op.create_table('alerts',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('run_id', sa.String(length=64), nullable=False),
    sa.Column('ts', sa.Double(), nullable=False),
    sa.Column('kind', sa.String(length=64), nullable=False),
    sa.Column('severity', sa.String(length=16), nullable=False),
    sa.Column('subject', sa.String(length=255), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['runs.run_id'], name=op.f('fk_alerts_run_id_runs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alerts')),
    sa.UniqueConstraint('run_id', 'ts', 'kind', 'subject', name=op.f('uq_alerts_run_id_ts_kind_subject'))
    )
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_alerts_ts'), ['ts'], unique=False)

    op.create_table('bad_inputs',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('run_id', sa.String(length=64), nullable=False),
    sa.Column('ts', sa.Double(), nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=64), nullable=False),
    sa.Column('sample', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['runs.run_id'], name=op.f('fk_bad_inputs_run_id_runs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bad_inputs')),
    sa.UniqueConstraint('run_id', 'ts', 'source', 'kind', name=op.f('uq_bad_inputs_run_id_ts_source_kind'))
    )
    op.create_table('portfolio_snapshots',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('run_id', sa.String(length=64), nullable=False),
    sa.Column('ts', sa.Double(), nullable=False),
    sa.Column('mode', sa.String(length=16), nullable=False),
    sa.Column('balance', sa.Numeric(precision=24, scale=6), nullable=False),
    sa.Column('exposure', sa.Numeric(precision=24, scale=6), nullable=False),
    sa.Column('daily_realized_pnl', sa.Numeric(precision=24, scale=6), nullable=False),
    sa.Column('open_orders', sa.Integer(), nullable=False),
    sa.Column('exposure_by_ticker', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['runs.run_id'], name=op.f('fk_portfolio_snapshots_run_id_runs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_portfolio_snapshots')),
    sa.UniqueConstraint('run_id', 'mode', 'ts', name=op.f('uq_portfolio_snapshots_run_id_mode_ts'))
    )


def downgrade() -> None:
    op.drop_table('portfolio_snapshots')
    op.drop_table('bad_inputs')
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_alerts_ts'))

    op.drop_table('alerts')
    with op.batch_alter_table("runs", schema=None) as batch_op:
        for name in ("exit_reason", "exit_status", "pid", "host"):
            batch_op.drop_column(name)
