"""Persistence: decisions, review queue, appeals, accounts, policy versions, audit log, webhook
deliveries, async jobs. SQLAlchemy 2 + Alembic; SQLite by default, PostgreSQL by URL. Layer:
store; imports only the foundations (never moderation, service or a surface)."""

from contentguard.store.db import Database, DatabaseError

__all__ = ["Database", "DatabaseError"]
