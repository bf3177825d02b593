"""Register-event repository: the only writer of `registry_event` and `source_watermark`.

An event is written once per (SIREN, event type, evidence key): the evidence key is the BODACC notice id or the
pair of register snapshots compared, so a re-run of the watch finds its events and writes nothing new. Every
event and every watermark move is an audit event in the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kyc_core.store.audit import EventType, append_event
from kyc_core.store.models import RegistryEvent, RegistrySnapshot, SourceWatermark

_CHUNK = 500


def find(session: Session, siren: str, event_type: str, evidence_key: str) -> RegistryEvent | None:
    """The event with this identity, or None."""
    return session.scalar(select(RegistryEvent).where(
        RegistryEvent.siren == siren, RegistryEvent.event_type == event_type,
        RegistryEvent.evidence_key == evidence_key))


def record(session: Session, *, siren: str, event_type: str, evidence_key: str, source: str, severe: bool,
           customer_ids: Sequence[str], actor: str, moment: datetime, run_id: str | None,
           notice_id: str | None = None, snapshot_before_id: int | None = None,
           snapshot_after_id: int | None = None, event_date: date | None = None,
           detail: Mapping[str, Any] | None = None) -> RegistryEvent | None:
    """Store one event with its evidence and audit it; None when this evidence was already recorded."""
    if find(session, siren, event_type, evidence_key) is not None:
        return None
    event = RegistryEvent(
        siren=siren, event_type=event_type, evidence_key=evidence_key, source=source, severe=severe,
        notice_id=notice_id, snapshot_before_id=snapshot_before_id, snapshot_after_id=snapshot_after_id,
        event_date=event_date, detail=dict(detail or {}), customer_ids=sorted(set(customer_ids)),
        detected_at=moment, run_id=run_id,
    )
    session.add(event)
    session.flush()
    payload = {
        "registry_event_id": event.id, "siren": siren, "event_type": event_type, "source": source,
        "severe": severe, "evidence_key": evidence_key, "notice_id": notice_id,
        "snapshot_before_id": snapshot_before_id, "snapshot_after_id": snapshot_after_id,
        "customer_ids": event.customer_ids,
    }
    append_event(session, EventType.REGISTRY_EVENT_DETECTED, actor=actor, run_id=run_id, payload=payload,
                 customer_id=event.customer_ids[0] if len(event.customer_ids) == 1 else None,
                 idempotency_key=f"registry_event:{siren}:{event_type}:{evidence_key}"[:255])
    return event


def of_run(session: Session, run_id: str, *, severe_only: bool = False) -> list[RegistryEvent]:
    """Events a run detected (a retried task finds those of its earlier tries), oldest first."""
    query = select(RegistryEvent).where(RegistryEvent.run_id == run_id)
    if severe_only:
        query = query.where(RegistryEvent.severe.is_(True))
    return list(session.scalars(query.order_by(RegistryEvent.id)))


def for_siren(session: Session, siren: str) -> list[RegistryEvent]:
    """Every event recorded for a company, oldest first."""
    return list(session.scalars(select(RegistryEvent).where(RegistryEvent.siren == siren).order_by(RegistryEvent.id)))


def count(session: Session) -> int:
    """Events recorded."""
    return int(session.scalar(select(func.count()).select_from(RegistryEvent)) or 0)


# --- watermarks --------------------------------------------------------------------------------------


def watermark(session: Session, source: str, scope: str) -> SourceWatermark | None:
    """How far `source` was read for `scope`, or None when never."""
    return session.get(SourceWatermark, (source, scope))


def watermarks(session: Session, source: str, scopes: Iterable[str]) -> dict[str, SourceWatermark]:
    """scope -> watermark of these scopes of one source (those that exist)."""
    wanted = sorted(set(scopes))
    out: dict[str, SourceWatermark] = {}
    for start in range(0, len(wanted), _CHUNK):
        rows = session.scalars(select(SourceWatermark).where(
            SourceWatermark.source == source, SourceWatermark.scope.in_(wanted[start:start + _CHUNK])))
        out.update((row.scope, row) for row in rows)
    return out


def advance(session: Session, source: str, scope: str, position: str, *, moment: datetime, actor: str,
            run_id: str | None, audit: bool = True) -> bool:
    """Set how far `source` was read for `scope`; audited when the position moved. True when it moved."""
    row = session.get(SourceWatermark, (source, scope))
    previous = row.position if row is not None else None
    if row is None:
        row = SourceWatermark(source=source, scope=scope, position=position, checked_at=moment, run_id=run_id)
        session.add(row)
    else:
        row.position, row.checked_at, row.run_id = position, moment, run_id
    session.flush()
    moved = previous != position
    if moved and audit:
        append_event(session, EventType.WATERMARK_ADVANCED, actor=actor, run_id=run_id,
                     payload={"source": source, "scope": scope, "from": previous, "to": position})
    return moved


# --- snapshot reads the watch compares -----------------------------------------------------------------


def latest_snapshot_ids(session: Session, keys: Iterable[tuple[str, str, str]]) -> dict[tuple[str, str, str], int]:
    """(source, operation, request key) -> id of the newest stored answer (ids only grow)."""
    wanted = set(keys)
    out: dict[tuple[str, str, str], int] = {}
    request_keys = sorted({k[2] for k in wanted})
    for start in range(0, len(request_keys), _CHUNK):
        rows = session.execute(
            select(RegistrySnapshot.source, RegistrySnapshot.operation, RegistrySnapshot.request_key,
                   func.max(RegistrySnapshot.id))
            .where(RegistrySnapshot.request_key.in_(request_keys[start:start + _CHUNK]))
            .group_by(RegistrySnapshot.source, RegistrySnapshot.operation, RegistrySnapshot.request_key)
        )
        for source, operation, request_key, snap_id in rows:
            key = (source, operation, request_key)
            if key in wanted:
                out[key] = int(snap_id)
    return out


def snapshot_payloads(session: Session, ids: Iterable[int]) -> dict[int, str]:
    """id -> raw payload of these snapshots."""
    wanted = sorted(set(ids))
    out: dict[int, str] = {}
    for start in range(0, len(wanted), _CHUNK):
        rows = session.execute(select(RegistrySnapshot.id, RegistrySnapshot.payload)
                               .where(RegistrySnapshot.id.in_(wanted[start:start + _CHUNK])))
        out.update((int(i), p) for i, p in rows)
    return out
