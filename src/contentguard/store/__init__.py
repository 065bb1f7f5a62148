"""Persistence (service layer): decisions, review queue, appeals, accounts, policy versions,
audit log, webhook deliveries. SQLAlchemy 2 + Alembic; SQLite by default, PostgreSQL by URL."""

from contentguard.store.db import Database, DatabaseError

__all__ = ["Database", "DatabaseError"]
