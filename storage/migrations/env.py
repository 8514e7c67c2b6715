"""Alembic environment: kbot runs migrations on a connection it opened itself
(``storage.db.upgrade``), so there is no alembic.ini and no URL here."""

from __future__ import annotations

from alembic import context

from storage.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run kbot's migrations through storage.db.upgrade (or `kbot db upgrade`)")

context.configure(
    connection=connection,
    target_metadata=metadata,
    compare_type=True,
    render_as_batch=True,  # SQLite alters tables by copy-and-move
    transactional_ddl=True,  # SQLite and PostgreSQL both have transactional DDL: all or nothing
)
with context.begin_transaction():
    context.run_migrations()
