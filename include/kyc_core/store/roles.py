"""Database privileges for the role Airflow tasks use: the audit trail is insert-only for it."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.exc import ProgrammingError

from kyc_core.errors import UserError
from kyc_core.store.db import get_engine
from kyc_core.store.models import Base


def grant_app_role(url: str, role: str) -> None:
    """Grant `role` read/write on every KYC table except UPDATE/DELETE/TRUNCATE on audit_event."""
    engine = get_engine(url)
    if engine.dialect.name != "postgresql":
        raise UserError("grant-app-role applies to PostgreSQL; SQLite has no roles (the triggers still refuse edits)")
    if not role.replace("_", "").isalnum():
        raise UserError(f"invalid role name {role!r}")
    quoted = engine.dialect.identifier_preparer.quote(role)
    tables = [t for t in Base.metadata.sorted_tables if t.name != "audit_event"]
    try:
        with engine.begin() as conn:
            conn.execute(text(f"GRANT USAGE ON SCHEMA public TO {quoted}"))
            for table in tables:
                conn.execute(text(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {table.name} TO {quoted}"))
            conn.execute(text(f"GRANT SELECT ON alembic_version TO {quoted}"))
            conn.execute(text(f"REVOKE ALL ON audit_event FROM {quoted}"))
            conn.execute(text(f"GRANT SELECT, INSERT ON audit_event TO {quoted}"))
            conn.execute(text(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {quoted}"))
    except ProgrammingError as exc:
        raise UserError(f"cannot grant to role {role}: {str(exc.orig).strip().splitlines()[0]}") from None
