"""Reads of the raw register answers kept in `registry_snapshot` (written by the registry fetch pipeline)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kyc_core.store.models import RegistrySnapshot

#: Snapshots holding an RNE company record (officers under `composition`, owners when entitled).
_RNE_SNAPSHOTS = (("rne", "company"), ("rbe", "beneficial_owners"))
_CHUNK = 1000


def content_hashes(session: Session, ids_by_source: Mapping[str, Iterable[int]]) -> dict[str, list[str]]:
    """Content hashes of these snapshots, per source (decision lineage)."""
    hashes: dict[str, list[str]] = {}
    for source, ids in ids_by_source.items():
        wanted = list(ids)
        if wanted:
            rows = session.scalars(select(RegistrySnapshot.content_hash).where(RegistrySnapshot.id.in_(wanted))).all()
            hashes[source] = sorted(rows)
    return hashes


def latest_rne(session: Session, sirens: Mapping[str, str | None]) -> dict[str, list[int]]:
    """Customer id -> ids of its latest RNE/RBE record snapshots (one per source and operation)."""
    by_siren: dict[str, list[str]] = {}
    for customer_id, siren in sirens.items():
        if siren:
            by_siren.setdefault(f"companies/{siren}", []).append(customer_id)
    latest: dict[tuple[str, str, str], tuple[Any, int]] = {}
    for source, operation in _RNE_SNAPSHOTS:
        rows = session.execute(
            select(RegistrySnapshot.id, RegistrySnapshot.customer_id, RegistrySnapshot.request_key, RegistrySnapshot.fetched_at)
            .where(RegistrySnapshot.source == source, RegistrySnapshot.operation == operation)
        )
        for snap_id, owner_id, request_key, fetched_at in rows:
            holders: list[str] = [owner_id] if owner_id is not None and owner_id in sirens else by_siren.get(request_key, [])
            for holder in holders:
                key = (holder, source, operation)
                if key not in latest or (fetched_at, snap_id) > latest[key]:
                    latest[key] = (fetched_at, snap_id)
    out: dict[str, list[int]] = {}
    for (customer_id, _source, _operation), (_at, snap_id) in latest.items():
        out.setdefault(customer_id, []).append(snap_id)
    return out


def payloads(session: Session, ids: list[int]) -> Iterable[tuple[int, str]]:
    """(id, raw payload) of these snapshots, read in chunks."""
    for start in range(0, len(ids), _CHUNK):
        rows = session.execute(
            select(RegistrySnapshot.id, RegistrySnapshot.payload).where(RegistrySnapshot.id.in_(ids[start:start + _CHUNK]))
        )
        yield from rows.tuples()
