"""Execution: findings of reconciliation with the venue (``reconciliation``).

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('reconciliation',
    sa.Column('id', Id, autoincrement=True, nullable=False),
    sa.Column('run_id', sa.String(length=64), nullable=False),
    sa.Column('ts', sa.Double(), nullable=False),
    sa.Column('mode', sa.String(length=16), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('ticker', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('ledger', sa.String(length=255), nullable=True),
    sa.Column('venue', sa.String(length=255), nullable=True),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['runs.run_id'], name=op.f('fk_reconciliation_run_id_runs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reconciliation')),
    sa.UniqueConstraint('run_id', 'ts', 'kind', 'ticker', 'status', name=op.f('uq_reconciliation_run_id_ts_kind_ticker_status'))
    )
    with op.batch_alter_table('reconciliation', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reconciliation_ts'), ['ts'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('reconciliation', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reconciliation_ts'))
    op.drop_table('reconciliation')
