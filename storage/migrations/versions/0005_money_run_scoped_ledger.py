"""Money that adds up across runs (issue 12): ledger entries keyed per run, the cash flag on
each entry, the liveness of a run's process, abandoned TAKEs.

- ``ledger_entries``: primary key (run_id, entry_id) instead of entry_id alone (entry ids are
  unique within a run; two runs of one database used to collide and the second run's rows were
  dropped), and ``cash`` (the entry moves cash: kbot.ledger.CASH_KINDS), filled in for the rows
  already there from their kind.
- ``runs``: ``proc_start`` (which process owns a running row) and ``heartbeat_ts`` (wall clock).
- ``orders``: an index on ``decision_id`` (a TAKE's outcome).
- ``abandoned_decisions``: TAKEs that will never be executed, and why.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

# The cash kinds when this migration was written (kbot.ledger.CASH_KINDS): the rows written
# before it get their flag from them; later rows get it from the code that writes them.
CASH_KINDS_0004 = ("deposit", "buy", "fee", "sell", "settlement", "unwind")


def upgrade() -> None:
    with op.batch_alter_table('runs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('proc_start', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('heartbeat_ts', sa.Double(), nullable=True))

    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_orders_decision_id'), ['decision_id'], unique=False)

    op.create_table('abandoned_decisions',
    sa.Column('decision_id', sa.String(length=64), nullable=False),
    sa.Column('run_id', sa.String(length=64), nullable=False),
    sa.Column('ts', sa.Double(), nullable=False),
    sa.Column('ticker', sa.String(length=64), nullable=False),
    sa.Column('mode', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['runs.run_id'], name=op.f('fk_abandoned_decisions_run_id_runs')),
    sa.PrimaryKeyConstraint('decision_id', name=op.f('pk_abandoned_decisions'))
    )

    # SQLite rebuilds the table (copy and move); the rows keep their ids, now per run.
    with op.batch_alter_table('ledger_entries', schema=None, recreate='always') as batch_op:
        batch_op.add_column(sa.Column('cash', sa.Boolean(), nullable=True))
        batch_op.drop_constraint('pk_ledger_entries', type_='primary')
        batch_op.create_primary_key('pk_ledger_entries', ['run_id', 'entry_id'])
    kinds = ", ".join(f"'{k}'" for k in CASH_KINDS_0004)
    op.execute(f"UPDATE ledger_entries SET cash = CASE WHEN kind IN ({kinds}) THEN {_true()} ELSE {_false()} END")
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.alter_column('cash', existing_type=sa.Boolean(), nullable=False)


def downgrade() -> None:
    # Entry ids repeated across runs cannot share the old single-column key: keep the first.
    bind = op.get_bind()
    bind.exec_driver_sql(
        "DELETE FROM ledger_entries WHERE EXISTS (SELECT 1 FROM ledger_entries o WHERE o.entry_id = "
        "ledger_entries.entry_id AND o.run_id < ledger_entries.run_id)"
    )
    with op.batch_alter_table('ledger_entries', schema=None, recreate='always') as batch_op:
        batch_op.drop_constraint('pk_ledger_entries', type_='primary')
        batch_op.create_primary_key('pk_ledger_entries', ['entry_id'])
        batch_op.drop_column('cash')

    op.drop_table('abandoned_decisions')
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_orders_decision_id'))

    # Not a batch (copy-and-move): other tables' rows reference runs, so SQLite could not drop
    # the old table; ALTER TABLE ... DROP COLUMN (SQLite >= 3.35) needs no copy.
    op.drop_column('runs', 'heartbeat_ts')
    op.drop_column('runs', 'proc_start')


def _true() -> str:
    return "TRUE" if op.get_bind().dialect.name == "postgresql" else "1"


def _false() -> str:
    return "FALSE" if op.get_bind().dialect.name == "postgresql" else "0"
