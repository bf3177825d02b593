"""Schema migrations of the KYC database (Alembic, driven from code so no ini file is needed)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.exc import OperationalError, ProgrammingError

from kyc_core.errors import StoreUnavailable
from kyc_core.settings import get_settings
from kyc_core.store.audit import EventType, append_event
from kyc_core.store.db import describe_url, get_engine, session_scope

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def _config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def head_revision() -> str:
    """The newest revision shipped with this code."""
    head = ScriptDirectory.from_config(_config()).get_current_head()
    if head is None:
        raise StoreUnavailable("no migration ships with this code")
    return head


def current_revision(url: str | None = None) -> str | None:
    """The revision the database is at (None when empty)."""
    engine = get_engine(url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    except OperationalError as exc:
        raise StoreUnavailable(f"cannot reach the KYC database at {describe_url(str(engine.url))}: {_first_line(exc)}") from None


def _first_line(exc: Exception) -> str:
    text = str(getattr(exc, "orig", exc)) or type(exc).__name__
    return text.strip().splitlines()[0]


def _run(url: str | None, action: str, revision: str) -> None:
    engine = get_engine(url)
    cfg = _config()
    try:
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            getattr(command, action)(cfg, revision)
    except OperationalError as exc:
        raise StoreUnavailable(f"cannot reach the KYC database at {describe_url(str(engine.url))}: {_first_line(exc)}") from None


def upgrade(url: str | None = None, revision: str = "head", *, actor: str | None = None) -> tuple[str | None, str | None]:
    """Migrate up; record a schema_upgraded audit event when the schema changed."""
    before = current_revision(url)
    _run(url, "upgrade", revision)
    after = current_revision(url)
    if after != before:
        with session_scope(url) as session:
            append_event(
                session,
                EventType.SCHEMA_UPGRADED,
                actor=actor or get_settings().actor,
                payload={"from_revision": before, "to_revision": after},
            )
            # Decisions written before they were sealed in the chain get their seal now (content as it stands).
            from kyc_core.store.decisions import seal_unsealed

            seal_unsealed(session, actor=actor or get_settings().actor)
    return before, after


def downgrade(url: str | None = None, revision: str = "-1", *, actor: str | None = None) -> tuple[str | None, str | None]:
    """Migrate down; when the audit table survives, record a schema_downgraded event."""
    before = current_revision(url)
    _run(url, "downgrade", revision)
    after = current_revision(url)
    if after is not None and after != before:
        try:
            with session_scope(url) as session:
                append_event(
                    session,
                    EventType.SCHEMA_DOWNGRADED,
                    actor=actor or get_settings().actor,
                    payload={"from_revision": before, "to_revision": after},
                )
        except (OperationalError, ProgrammingError):
            pass  # the audit table itself was removed by this downgrade
    return before, after
