"""Engines and sessions for the KYC database, one engine per URL per process."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from sqlalchemy.orm import Session, sessionmaker

from kyc_core.errors import StoreUnavailable
from kyc_core.settings import get_settings

_ENGINES: dict[str, Engine] = {}


def normalize_url(url: str) -> str:
    """Use psycopg 3 for plain postgres URLs; reject what SQLAlchemy cannot parse with a clear message."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StoreUnavailable(f"KYC database URL is not a valid SQLAlchemy URL: {exc}") from None
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.drivername not in ("postgresql+psycopg", "sqlite", "sqlite+pysqlite"):
        raise StoreUnavailable(
            f"KYC database driver {parsed.drivername!r} is not supported (use postgresql+psycopg:// or sqlite:///)"
        )
    return parsed.render_as_string(hide_password=False)


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    # WAL lets Airflow's concurrent task processes read while one writes; the busy timeout
    # queues writers instead of failing them.
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
    # Serialise writers from the first statement so the audit chain head cannot be read stale.
    dbapi_conn.isolation_level = None


def _sqlite_begin(conn) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def get_engine(url: str | None = None) -> Engine:
    """The process's engine for `url` (default: settings), created on first use."""
    raw = url or get_settings().effective_database_url
    key = normalize_url(raw)
    engine = _ENGINES.get(key)
    if engine is not None:
        return engine
    parsed = make_url(key)
    try:
        if parsed.get_backend_name() == "sqlite":
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(key, connect_args={"timeout": 30})
            event.listen(engine, "connect", _sqlite_pragmas)
            event.listen(engine, "begin", _sqlite_begin)
        else:
            engine = create_engine(
                key, pool_pre_ping=True, pool_size=5, max_overflow=5, connect_args={"connect_timeout": 5}
            )
    except (NoSuchModuleError, ArgumentError) as exc:
        raise StoreUnavailable(f"cannot use KYC database URL: {exc}") from None
    _ENGINES[key] = engine
    return engine


def dispose_engines() -> None:
    """Close every pooled connection (tests, forked processes)."""
    for engine in _ENGINES.values():
        engine.dispose()
    _ENGINES.clear()


@contextmanager
def session_scope(url: str | None = None) -> Iterator[Session]:
    """A session in one transaction: committed on success, rolled back on any error."""
    factory = sessionmaker(bind=get_engine(url), expire_on_commit=False)
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def describe_url(url: str) -> str:
    """The URL without its password, for messages."""
    return make_url(url).render_as_string(hide_password=True)
