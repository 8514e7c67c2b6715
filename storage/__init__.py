"""kbot storage: SQLAlchemy schema, Alembic migrations, the batched writer, SQL reports."""
