"""Raw register answers kept verbatim in `registry_snapshot`, written once per distinct content."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from kyc_core.sources.base import Fetched
from kyc_core.store.models import RegistrySnapshot

_UNIQUE = ("source", "request_key", "content_hash")


@dataclass(frozen=True)
class SnapshotRow:
    """One answer to store: where it came from and its exact bytes."""

    source: str
    operation: str
    request_key: str
    fetched: Fetched
    fetched_at: datetime

    def values(self, *, run_id: str | None, customer_id: str | None) -> dict:
        """Column values of the row."""
        return {
            "source": self.source,
            "operation": self.operation,
            "request_key": self.request_key,
            "customer_id": customer_id,
            "content_hash": self.fetched.content_hash,
            "payload": self.fetched.raw.decode("utf-8"),
            "http_status": self.fetched.http_status,
            "from_cache": self.fetched.from_cache,
            "fetched_at": self.fetched_at,
            "run_id": run_id,
        }


def _insert_ignoring_duplicate(session: Session, row: dict) -> int:
    """INSERT ... ON CONFLICT DO NOTHING on the content key; 1 when the row was new, else 0."""
    dialect = session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    statement = (
        module.insert(RegistrySnapshot.__table__)
        .values(row)
        .on_conflict_do_nothing(index_elements=list(_UNIQUE))
        .returning(RegistrySnapshot.__table__.c.id)
    )
    return 0 if session.connection().execute(statement).first() is None else 1


def store_snapshots(
    session: Session,
    rows: Sequence[SnapshotRow],
    *,
    run_id: str | None = None,
    customer_id: str | None = None,
) -> tuple[list[int], int]:
    """Store each answer once per (source, request key, content hash); (ids in row order, rows new)."""
    if not rows:
        return [], 0
    values = [row.values(run_id=run_id, customer_id=customer_id) for row in rows]
    inserted = 0
    # One statement per row: psycopg reports no rowcount for ON CONFLICT DO NOTHING, RETURNING does.
    for value in values:
        inserted += _insert_ignoring_duplicate(session, value)
    keys = {tuple(v[k] for k in _UNIQUE) for v in values}
    found = session.execute(
        select(RegistrySnapshot.id, *(getattr(RegistrySnapshot, k) for k in _UNIQUE)).where(
            tuple_(*(getattr(RegistrySnapshot, k) for k in _UNIQUE)).in_(list(keys))
        )
    ).all()
    ids = {(r.source, r.request_key, r.content_hash): r.id for r in found}
    return [ids[tuple(v[k] for k in _UNIQUE)] for v in values], inserted
