"""The audit trail: typed events, appended to a hash chain the database refuses to edit."""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from kyc_core.store.models import AuditEvent

#: The prev_hash of the first event of a chain.
GENESIS_HASH = "0" * 64
# Any fixed 64-bit key: serialises appenders on Postgres for the length of their transaction.
_PG_CHAIN_LOCK = 0x4B5943_415544


class EventType(StrEnum):
    """Every kind of fact the audit trail records."""

    SCHEMA_UPGRADED = "schema_upgraded"
    SCHEMA_DOWNGRADED = "schema_downgraded"
    INPUT_REJECTED = "input_rejected"
    CUSTOMER_REGISTERED = "customer_registered"
    CASE_CREATED = "case_created"
    REGISTRY_FETCHED = "registry_fetched"
    SOURCE_UNAVAILABLE = "source_unavailable"
    INFRASTRUCTURE_UNAVAILABLE = "infrastructure_unavailable"
    BREAKER_STATE_CHANGED = "breaker_state_changed"
    LIST_VERSION_ACTIVATED = "list_version_activated"
    LIST_VERSION_REFUSED = "list_version_refused"
    LIST_VERSION_QUARANTINED = "list_version_quarantined"
    LIST_VERSION_APPROVED = "list_version_approved"
    LIST_VERSION_REJECTED = "list_version_rejected"
    SCREENING_COMPLETED = "screening_completed"
    MATCH_JUDGED = "match_judged"
    MATCH_OVERTURN_REQUESTED = "match_overturn_requested"
    CUSTOMER_FLAGGED = "customer_flagged"
    CUSTOMER_REVIEWED = "customer_reviewed"
    REVIEW_RUN_SELECTED = "review_run_selected"
    REVIEW_FLAGS_CLEARED = "review_flags_cleared"
    FULL_RESCREEN_SHARD = "full_rescreen_shard"
    REGISTRY_EVENT_DETECTED = "registry_event_detected"
    WATERMARK_ADVANCED = "watermark_advanced"
    ENTITY_RESOLVED = "entity_resolved"
    SCORE_COMPUTED = "score_computed"
    DOCUMENT_REQUESTED = "document_requested"
    HUMAN_REVIEW = "human_review"
    FINAL_DECISION = "final_decision"
    NOTIFICATION_SENT = "notification_sent"
    NOTIFICATION_FAILED = "notification_failed"
    CASE_VIEWED = "case_viewed"
    REVIEW_ANSWER_REFUSED = "review_answer_refused"
    REVIEW_REQUESTED = "review_requested"
    DECISION_RECORDED = "decision_recorded"


def canonical_json(value: Any) -> str:
    """Deterministic JSON: sorted keys, no whitespace, UTF-8 kept, dates as ISO strings."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_json_default)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _utc_iso(moment: datetime) -> str:
    # SQLite hands back naive datetimes: events are always written in UTC, so naive means UTC.
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def event_hash(
    *,
    seq: int,
    event_id: str,
    event_type: str,
    actor: str,
    customer_id: str | None,
    case_id: str | None,
    run_id: str | None,
    occurred_at: datetime,
    payload: str,
    prev_hash: str,
) -> str:
    """SHA-256 over the canonical serialization of an event and its predecessor's hash."""
    body = canonical_json(
        {
            "seq": seq,
            "event_id": event_id,
            "event_type": event_type,
            "actor": actor,
            "customer_id": customer_id,
            "case_id": case_id,
            "run_id": run_id,
            "occurred_at": _utc_iso(occurred_at),
            "payload": payload,
            "prev_hash": prev_hash,
        }
    )
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def _lock_chain(session: Session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_CHAIN_LOCK})
    # SQLite: every transaction starts with BEGIN IMMEDIATE (see store.db), which already serialises writers.


def append_event(
    session: Session,
    event_type: EventType | str,
    *,
    actor: str,
    payload: dict[str, Any] | None = None,
    customer_id: str | None = None,
    case_id: str | None = None,
    run_id: str | None = None,
    idempotency_key: str | None = None,
    occurred_at: datetime | None = None,
) -> AuditEvent:
    """Append one event to the chain in the caller's transaction; with an idempotency key, at most once."""
    kind = EventType(event_type)
    _lock_chain(session)
    if idempotency_key is not None:
        existing = session.scalar(select(AuditEvent).where(AuditEvent.idempotency_key == idempotency_key))
        if existing is not None:
            return existing
    head = session.execute(select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1)).first()
    seq, prev_hash = (head.seq + 1, head.hash) if head else (1, GENESIS_HASH)
    event = AuditEvent(
        seq=seq,
        event_id=str(uuid.uuid4()),
        event_type=kind.value,
        actor=actor,
        customer_id=customer_id,
        case_id=case_id,
        run_id=run_id,
        occurred_at=(occurred_at or datetime.now(UTC)).astimezone(UTC),
        payload=canonical_json(payload or {}),
        idempotency_key=idempotency_key,
        prev_hash=prev_hash,
    )
    event.hash = event_hash(
        seq=event.seq,
        event_id=event.event_id,
        event_type=event.event_type,
        actor=event.actor,
        customer_id=event.customer_id,
        case_id=event.case_id,
        run_id=event.run_id,
        occurred_at=event.occurred_at,
        payload=event.payload,
        prev_hash=event.prev_hash,
    )
    session.add(event)
    # The unique sequence number keeps the chain linear even if the lock were bypassed: one writer fails.
    session.flush()
    return event


@dataclass(frozen=True)
class VerifyResult:
    """Outcome of walking the chain."""

    ok: bool
    events: int
    head_hash: str
    problem: str | None = None
    first_bad_seq: int | None = None


def verify_chain(session: Session, *, expected_head: str | None = None, batch: int = 5000) -> VerifyResult:
    """Walk every event in order; report the first edited, reordered or missing one."""
    expected_seq, prev = 1, GENESIS_HASH
    count = 0
    last_seq = 0
    while True:
        rows = session.scalars(
            select(AuditEvent).where(AuditEvent.seq > last_seq).order_by(AuditEvent.seq).limit(batch)
        ).all()
        if not rows:
            break
        for ev in rows:
            if ev.seq != expected_seq:
                return VerifyResult(
                    False, count, prev, f"event #{expected_seq} is missing (next present is #{ev.seq})", expected_seq
                )
            if ev.prev_hash != prev:
                return VerifyResult(False, count, prev, f"event #{ev.seq} does not link to event #{ev.seq - 1}", ev.seq)
            recomputed = event_hash(
                seq=ev.seq,
                event_id=ev.event_id,
                event_type=ev.event_type,
                actor=ev.actor,
                customer_id=ev.customer_id,
                case_id=ev.case_id,
                run_id=ev.run_id,
                occurred_at=ev.occurred_at,
                payload=ev.payload,
                prev_hash=ev.prev_hash,
            )
            if recomputed != ev.hash:
                return VerifyResult(
                    False, count, prev, f"event #{ev.seq} ({ev.event_type}) was altered: its hash does not match", ev.seq
                )
            prev = ev.hash
            count += 1
            expected_seq += 1
            last_seq = ev.seq
        session.expunge_all()
    if expected_head is not None and expected_head != prev:
        return VerifyResult(False, count, prev, "the chain's head differs from the expected head: events were removed at the end", None)
    return VerifyResult(True, count, prev)
