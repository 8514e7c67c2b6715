"""Operations: tick-to-decision latency percentiles per health interval (table ``latency``),
for ``kbot report html`` and ``kbot top``.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('latency',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('run_id', sa.String(length=64), nullable=False),
    sa.Column('ts', sa.Double(), nullable=False),
    sa.Column('scope', sa.String(length=32), nullable=False),
    sa.Column('interval_s', sa.Double(), nullable=False),
    sa.Column('n', sa.Integer(), nullable=False),
    sa.Column('mean_ms', sa.Double(), nullable=False),
    sa.Column('p50_ms', sa.Double(), nullable=False),
    sa.Column('p90_ms', sa.Double(), nullable=False),
    sa.Column('p99_ms', sa.Double(), nullable=False),
    sa.Column('p999_ms', sa.Double(), nullable=False),
    sa.Column('max_ms', sa.Double(), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['runs.run_id'], name=op.f('fk_latency_run_id_runs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_latency')),
    sa.UniqueConstraint('run_id', 'scope', 'ts', name=op.f('uq_latency_run_id_scope_ts'))
    )
    with op.batch_alter_table('latency', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_latency_ts'), ['ts'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('latency', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_latency_ts'))
    op.drop_table('latency')
