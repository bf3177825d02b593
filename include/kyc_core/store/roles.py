"""Database privileges for the role Airflow tasks use: the audit trail and the decisions are insert-only for it."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.exc import ProgrammingError

from kyc_core.errors import UserError
from kyc_core.store.db import get_engine
from kyc_core.store.models import Base

#: Tables the task role may only read and append to (the database's triggers refuse edits to them for anyone).
APPEND_ONLY = ("audit_event", "decision", "screening_hit", "match_judgement")


def grant_app_role(url: str, role: str) -> None:
    """Grant `role` SELECT, INSERT and UPDATE on every KYC table (no DELETE), only SELECT and INSERT on the append-only ones."""
    engine = get_engine(url)
    if engine.dialect.name != "postgresql":
        raise UserError("grant-app-role applies to PostgreSQL; SQLite has no roles (the triggers still refuse edits)")
    if not role.replace("_", "").isalnum():
        raise UserError(f"invalid role name {role!r}")
    quoted = engine.dialect.identifier_preparer.quote(role)
    tables = [t for t in Base.metadata.sorted_tables if t.name not in APPEND_ONLY]
    try:
        with engine.begin() as conn:
            conn.execute(text(f"GRANT USAGE ON SCHEMA public TO {quoted}"))
            for table in tables:
                # Nothing in the product deletes a row: the task role cannot either.
                conn.execute(text(f"REVOKE DELETE, TRUNCATE ON {table.name} FROM {quoted}"))
                conn.execute(text(f"GRANT SELECT, INSERT, UPDATE ON {table.name} TO {quoted}"))
            conn.execute(text(f"GRANT SELECT ON alembic_version TO {quoted}"))
            for name in APPEND_ONLY:
                conn.execute(text(f"REVOKE ALL ON {name} FROM {quoted}"))
                conn.execute(text(f"GRANT SELECT, INSERT ON {name} TO {quoted}"))
            conn.execute(text(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {quoted}"))
    except ProgrammingError as exc:
        raise UserError(f"cannot grant to role {role}: {str(exc.orig).strip().splitlines()[0]}") from None
