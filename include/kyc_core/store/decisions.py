"""Decision repository: the only writer of `decision` and `screening_hit` rows of an assessment.

A decision row is written once, with its hits and lineage, and never edited. What happens to it
afterwards is appended: human reviews and the final decision are audit events (`human_review`,
`final_decision`), and `state_of` folds them into what the decision is now.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from kyc_core.store.audit import EventType, append_event, canonical_json
from kyc_core.store.models import AuditEvent, Decision, ScreeningHit

PENDING_REVIEW = "pending_review"
FINAL = "final"
#: A decision that needs a person is reviewed in its own `kyc_case_review` run, named after it.
_REVIEW_RUN_PREFIX = "case__"


def review_run_id(decision_id: str) -> str:
    """The `kyc_case_review` run that reviews this decision."""
    return f"{_REVIEW_RUN_PREFIX}{decision_id}"


def decision_of_review_run(run_id: str) -> str | None:
    """The decision a `kyc_case_review` run reviews, or None for any other run."""
    return run_id.removeprefix(_REVIEW_RUN_PREFIX) if run_id.startswith(_REVIEW_RUN_PREFIX) else None


@dataclass(frozen=True)
class DecisionState:
    """A decision as it stands: the row as written plus its final-decision event, if any."""

    decision: Decision
    proposed: str
    outcome: str
    status: str
    reviewers: tuple[str, ...] = ()
    confirmed: bool | None = None
    final_actor: str | None = None
    finalized_at: str | None = None
    added_reasons: list[dict[str, Any]] = field(default_factory=list)

    @property
    def reasons(self) -> list[dict[str, Any]]:
        """The assessment's reasons, then those the review added."""
        return [*self.decision.reasons, *self.added_reasons]


def get(session: Session, decision_id: str) -> Decision | None:
    """One decision row, or None."""
    return session.get(Decision, decision_id)


def for_run(session: Session, customer_id: str, run_id: str) -> Decision | None:
    """The decision a run wrote for a customer, or None."""
    return session.scalars(select(Decision).where(Decision.customer_id == customer_id, Decision.run_id == run_id)).first()


def latest_for_customer(session: Session, customer_id: str) -> Decision | None:
    """The newest decision of a customer, or None."""
    return session.scalars(
        select(Decision).where(Decision.customer_id == customer_id).order_by(Decision.created_at.desc(), Decision.id)
    ).first()


def open_for_customer(session: Session, customer_id: str, *, exclude: str | None = None) -> list[Decision]:
    """The customer's decisions still waiting for a person (proposed for review, no final decision yet)."""
    pending = session.scalars(
        select(Decision).where(Decision.customer_id == customer_id, Decision.status == PENDING_REVIEW).order_by(Decision.created_at)
    ).all()
    return [d for d in pending if d.id != exclude and _final_event(session, d.id) is None]


def _final_event(session: Session, decision_id: str) -> AuditEvent | None:
    return session.scalars(
        select(AuditEvent)
        .where(AuditEvent.case_id == decision_id, AuditEvent.event_type == EventType.FINAL_DECISION.value)
        .order_by(AuditEvent.seq)
    ).first()


def state_of(session: Session, decision: Decision) -> DecisionState:
    """Fold the decision's `final_decision` event into what it is now."""
    proposed = decision.lineage.get("proposed_outcome", decision.outcome)
    event = _final_event(session, decision.id)
    if event is None:
        return DecisionState(decision=decision, proposed=proposed, outcome=proposed, status=decision.status)
    payload = json.loads(event.payload)
    return DecisionState(
        decision=decision,
        proposed=proposed,
        outcome=payload.get("outcome", proposed),
        status=FINAL,
        reviewers=tuple(payload.get("reviewers") or ()),
        confirmed=payload.get("confirmed"),
        final_actor=event.actor,
        finalized_at=payload.get("finalized_at"),
        added_reasons=list(payload.get("added_reasons") or ()),
    )


def content_hash(decision: Decision) -> str:
    """SHA-256 of everything a decision row says (canonical JSON): sealed in the audit chain when it is written."""
    created = decision.created_at if decision.created_at.tzinfo else decision.created_at.replace(tzinfo=UTC)
    body = {
        "id": decision.id, "customer_id": decision.customer_id, "run_id": decision.run_id, "outcome": decision.outcome,
        "status": decision.status, "risk_level": decision.risk_level, "score": decision.score, "reasons": decision.reasons,
        "contributions": decision.contributions, "documents": decision.documents, "lineage": decision.lineage,
        "policy_version": decision.policy_version,
        "next_review_date": decision.next_review_date.isoformat() if decision.next_review_date else None,
        "created_at": created.astimezone(UTC).isoformat(timespec="microseconds"),
    }
    return hashlib.sha256(canonical_json(body).encode("utf-8")).hexdigest()


def seal(session: Session, decision: Decision, *, actor: str, run_id: str | None) -> None:
    """Append the decision's content hash to the audit chain (once): an edit of the row is then detectable."""
    append_event(session, EventType.DECISION_RECORDED, actor=actor, customer_id=decision.customer_id, case_id=decision.id,
                 run_id=run_id, payload={"decision_id": decision.id, "content_hash": content_hash(decision)},
                 idempotency_key=f"decision_recorded:{decision.id}")


def write_assessment(session: Session, decision: Decision, hits: Iterable[ScreeningHit], *, actor: str = "system") -> Decision:
    """Insert an assessment's decision with its hits and seal it, in the caller's transaction."""
    for hit in hits:
        session.add(hit)
    session.add(decision)
    session.flush()
    session.refresh(decision)
    seal(session, decision, actor=actor, run_id=decision.run_id)
    return decision


def seal_unsealed(session: Session, *, actor: str) -> int:
    """Seal the decisions written before decisions were sealed (as they are now); how many."""
    sealed = set(session.scalars(select(AuditEvent.case_id).where(AuditEvent.event_type == EventType.DECISION_RECORDED.value)))
    count = 0
    for decision in session.scalars(select(Decision).order_by(Decision.created_at, Decision.id)):
        if decision.id not in sealed:
            seal(session, decision, actor=actor, run_id=None)
            count += 1
    return count


def tampered(session: Session) -> list[str]:
    """Every decision whose row no longer matches the content hash sealed in the audit chain, or that has none."""
    seals = {}
    for event in session.scalars(select(AuditEvent).where(AuditEvent.event_type == EventType.DECISION_RECORDED.value)):
        payload = json.loads(event.payload)
        seals[payload["decision_id"]] = payload["content_hash"]
    problems = []
    for decision in session.scalars(select(Decision).order_by(Decision.created_at, Decision.id)):
        sealed = seals.pop(decision.id, None)
        if sealed is None:
            problems.append(f"decision {decision.id} has no content hash in the audit chain (inserted outside the product)")
        elif sealed != content_hash(decision):
            problems.append(f"decision {decision.id} was edited after it was written (content differs from its sealed hash)")
    problems += [f"decision {missing} was deleted (its sealed hash has no row)" for missing in sorted(seals)]
    return problems


def record_final(
    session: Session,
    decision: Decision,
    *,
    outcome: str,
    actor: str,
    run_id: str | None,
    reviewers: Iterable[str] = (),
    confirmed: bool | None = None,
    reasons: Iterable[str] = (),
    added_reasons: Iterable[dict[str, Any]] = (),
) -> None:
    """Append the `final_decision` event of a decision (once: a repeat is a no-op)."""
    append_event(
        session,
        EventType.FINAL_DECISION,
        actor=actor,
        customer_id=decision.customer_id,
        case_id=decision.id,
        run_id=run_id,
        payload={
            "decision_id": decision.id,
            "outcome": outcome,
            "proposed_outcome": decision.lineage.get("proposed_outcome", decision.outcome),
            "reasons": list(reasons),
            "reviewers": sorted(reviewers),
            "confirmed": confirmed,
            "added_reasons": list(added_reasons),
            "finalized_at": datetime.now(UTC).isoformat(),
        },
        idempotency_key=f"final_decision:{decision.id}",
    )


def hits_of(session: Session, decision: Decision, limit: int | None = None) -> list[ScreeningHit]:
    """The hits an assessment recorded, strongest first."""
    query = (
        select(ScreeningHit)
        .where(ScreeningHit.customer_id == decision.customer_id, ScreeningHit.run_id == decision.run_id)
        .order_by(ScreeningHit.score.desc(), ScreeningHit.id)
    )
    if limit is not None:
        query = query.limit(limit)
    return list(session.scalars(query))


#: What makes a hit the same hit: re-screening the same version never records it twice.
_HIT_UNIQUE = ("customer_id", "subject_key", "list_key", "native_id", "entry_hash", "run_id")


def insert_hit_once(session: Session, row: dict[str, Any]) -> int | None:
    """INSERT ... ON CONFLICT DO NOTHING on the hit's identity; the new row id, or None when it existed."""
    module = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = (
        module.insert(ScreeningHit.__table__)
        .values(row)
        .on_conflict_do_nothing(index_elements=list(_HIT_UNIQUE))
        .returning(ScreeningHit.__table__.c.id)
    )
    found = session.connection().execute(statement).first()
    return None if found is None else int(found[0])
