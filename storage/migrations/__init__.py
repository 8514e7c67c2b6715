"""Alembic migrations of kbot's schema (run by ``storage.db.upgrade``; see storage/README.md)."""
