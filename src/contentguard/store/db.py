"""The database: one SQLAlchemy engine per process, migrations applied with Alembic.

SQLite (the embedded default) runs in WAL mode with foreign keys on and a busy timeout, so
concurrent requests queue for the write lock instead of failing, and a committed transaction
survives the process being killed. PostgreSQL needs nothing special.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from contentguard.errors import ContentGuardError

MIGRATIONS = Path(__file__).parent / "migrations"
MIGRATION_LOCK_KEY = 0x636775706772  # "cgupgr": the advisory lock our migrations take on PostgreSQL


class DatabaseError(ContentGuardError):
    code = "internal_error"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")  # WAL: durable against process death
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=15000")
    cursor.close()


def make_engine(url: str) -> Engine:
    """An engine for `url`; a SQLite file's folder is created, a bad URL is a clear error."""
    try:
        parsed = make_url(url)
    except Exception as exc:
        raise DatabaseError(f"not a database URL: {url!r} ({exc})") from exc
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(mode=0o700, parents=True, exist_ok=True)  # private
        engine = create_engine(
            parsed, connect_args={"check_same_thread": False, "timeout": 15}, pool_pre_ping=True
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(parsed, pool_pre_ping=True, pool_size=10, max_overflow=20)


def alembic_config(url: str):  # type: ignore[no-untyped-def]
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


class Database:
    """The engine and session factory of one service (or one test)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def upgrade(self, revision: str = "head") -> None:
        """Apply the migrations (idempotent). Services started together on one empty database
        all call this: a lock lets one apply them while the others wait and then find the
        schema at head (PostgreSQL: a transaction-scoped advisory lock; SQLite, whose DDL here
        is not transactional: an exclusive lock on `<file>.migrate.lock` beside the database)."""
        from alembic import command

        config = alembic_config(self.url)
        with self._file_lock(), self.engine.begin() as connection:
            if self.dialect == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
            config.attributes["connection"] = connection
            command.upgrade(config, revision)

    @contextmanager
    def _file_lock(self) -> Iterator[None]:
        database = self.engine.url.database if self.dialect == "sqlite" else None
        if not database or database == ":memory:":
            yield
            return
        import fcntl

        with open(f"{database}.migrate.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def current_revision(self) -> str | None:
        from alembic.runtime.migration import MigrationContext

        with self.engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()

    def require_schema(self) -> None:
        """Fail with the command to run when the database has no tables yet."""
        if not inspect(self.engine).has_table("decisions"):
            raise DatabaseError(
                f"the database at {self.engine.url.render_as_string(hide_password=True)} has no "
                "tables; run `contentguard db upgrade`"
            )

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: committed on success, rolled back on an exception."""
        with self.sessions() as session, session.begin():
            yield session

    def close(self) -> None:
        self.engine.dispose()
