"""Analyst judgements on screening hits: new rows, never edits; the latest per pair wins.

The only writer of `match_judgement`. A judgement is keyed on (customer, subject, list, entry) and carries the
content hash of the entry it was given on; `kyc_core.screening.judgements` applies it. An overturn of a
`true_match` waiting for its second analyst is a `match_overturn_requested` audit event, not a row: a row is in
force as soon as it is written.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from kyc_core.store.audit import EventType, append_event
from kyc_core.store.models import AuditEvent, MatchJudgement


class JudgementRow(NamedTuple):
    """One judgement as screening applies it (the fields of `kyc_core.screening.model.Judgement`)."""

    subject_key: str
    list_key: str
    entry_id: str
    entry_hash: str
    verdict: str


#: What one judgement is about: (subject key within the customer, list, entry id).
Pair = tuple[str, str, str]


def for_customers(session: Session, customer_ids: Iterable[str], *, book_keys: bool = False) -> list[JudgementRow]:
    """Every judgement on these customers, oldest first; `book_keys` prefixes subject keys with the customer id."""
    ids = sorted(set(customer_ids))
    if not ids:
        return []
    rows = session.scalars(
        select(MatchJudgement).where(MatchJudgement.customer_id.in_(ids)).order_by(MatchJudgement.created_at, MatchJudgement.id)
    )
    return [
        JudgementRow(f"{j.customer_id}|{j.subject_key}" if book_keys else j.subject_key, j.list_key, j.native_id, j.entry_hash, j.verdict)
        for j in rows
    ]


def latest_of(session: Session, customer_id: str) -> dict[Pair, MatchJudgement]:
    """The judgement in force per pair of one customer (the latest row of each)."""
    rows = session.scalars(
        select(MatchJudgement)
        .where(MatchJudgement.customer_id == customer_id)
        .order_by(MatchJudgement.created_at, MatchJudgement.id)
    )
    return {(j.subject_key, j.list_key, j.native_id): j for j in rows}


def record(
    session: Session,
    *,
    customer_id: str,
    subject_key: str,
    list_key: str,
    native_id: str,
    entry_hash: str,
    verdict: str,
    analyst: str,
    rationale: str,
    actor: str,
    run_id: str | None = None,
    case_id: str | None = None,
    detail: dict[str, Any] | None = None,
    moment: datetime | None = None,
) -> MatchJudgement:
    """Insert one judgement and its `match_judged` event, in the caller's transaction."""
    row = MatchJudgement(
        customer_id=customer_id,
        subject_key=subject_key,
        list_key=list_key,
        native_id=native_id,
        entry_hash=entry_hash,
        verdict=verdict,
        analyst=analyst[:128],
        rationale=rationale,
        created_at=moment or datetime.now(UTC),
    )
    session.add(row)
    session.flush()
    append_event(
        session,
        EventType.MATCH_JUDGED,
        actor=actor,
        customer_id=customer_id,
        case_id=case_id,
        run_id=run_id,
        # Ids and codes only: the rationale stays in the judgement row.
        payload={
            "judgement_id": row.id,
            "subject_key": subject_key,
            "list_key": list_key,
            "native_id": native_id,
            "entry_hash": entry_hash,
            "verdict": verdict,
            "analyst": row.analyst,
            **(detail or {}),
        },
    )
    return row


def request_overturn(
    session: Session,
    *,
    customer_id: str,
    subject_key: str,
    list_key: str,
    native_id: str,
    entry_hash: str,
    verdict: str,
    analyst: str,
    actor: str,
    run_id: str | None = None,
    case_id: str | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    """Record the first analyst's overturn of a `true_match`: not in force until a second analyst agrees."""
    return append_event(
        session,
        EventType.MATCH_OVERTURN_REQUESTED,
        actor=actor,
        customer_id=customer_id,
        case_id=case_id,
        run_id=run_id,
        payload={
            "subject_key": subject_key,
            "list_key": list_key,
            "native_id": native_id,
            "entry_hash": entry_hash,
            "verdict": verdict,
            "analyst": analyst[:128],
            **(detail or {}),
        },
    )


def pending_overturns(session: Session, customer_id: str) -> dict[Pair, dict[str, Any]]:
    """Overturn requests of one customer not yet followed by a judgement of the same pair (payload per pair)."""
    events = session.scalars(
        select(AuditEvent)
        .where(
            AuditEvent.customer_id == customer_id,
            AuditEvent.event_type.in_([EventType.MATCH_OVERTURN_REQUESTED.value, EventType.MATCH_JUDGED.value]),
        )
        .order_by(AuditEvent.seq)
    )
    pending: dict[Pair, dict[str, Any]] = {}
    for event in events:
        payload = json.loads(event.payload)
        pair = (payload["subject_key"], payload["list_key"], payload["native_id"])
        if event.event_type == EventType.MATCH_JUDGED.value:
            pending.pop(pair, None)
        else:
            pending[pair] = {**payload, "requested_at": event.occurred_at, "seq": event.seq}
    return pending
