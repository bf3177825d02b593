"""Four-eyes review: two approvals by two different authenticated people before an EDD or reject is final."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kyc_core.errors import KycError
from kyc_core.store.audit import EventType, append_event
from kyc_core.store.models import AuditEvent, Decision

#: What a reviewer answers in the Airflow form.
CONFIRM = "Confirm"
OVERTURN = "Overturn"
REVIEW_OPTIONS = [CONFIRM, OVERTURN]
#: A reviewer's rationale is part of the record: shorter answers are refused.
MIN_RATIONALE = 5
#: Final outcome when a reviewer does not confirm the proposed one: a human keeps the case open.
OVERTURNED_OUTCOME = "review"


class FourEyesViolation(KycError):
    """A review that the four-eyes rule forbids (same person twice, or a person not allowed to review)."""


@dataclass(frozen=True)
class Review:
    """One reviewer's answer."""

    stage: int
    reviewer_id: str
    reviewer_name: str
    choice: str
    rationale: str
    responded_at: datetime

    def to_payload(self) -> dict[str, Any]:
        """Audit payload: who, what, when and why."""
        return {
            "stage": self.stage,
            "reviewer_id": self.reviewer_id,
            "reviewer_name": self.reviewer_name,
            "choice": self.choice,
            "rationale": self.rationale,
            "responded_at": self.responded_at.astimezone(UTC).isoformat(),
        }


def reviews_of(session: Session, decision_id: str) -> list[dict[str, Any]]:
    """The reviews recorded for a decision, in order."""
    events = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.case_id == decision_id, AuditEvent.event_type == EventType.HUMAN_REVIEW.value)
        .order_by(AuditEvent.seq)
    ).all()
    return [json.loads(e.payload) for e in events]


def other_reviewers(allowed: list[str], already: list[str]) -> list[str]:
    """Who may still review: the allowed reviewers minus those who already did."""
    return [r for r in allowed if r not in set(already)]


def record_review(
    session: Session, decision_id: str, review: Review, *, allowed: list[str] | None, actor: str, run_id: str | None
) -> dict[str, Any]:
    """Check the four-eyes rule in code, then append the review as an audit event (once per stage)."""
    decision = session.get(Decision, decision_id)
    if decision is None:
        raise FourEyesViolation(f"decision {decision_id} does not exist")
    existing = reviews_of(session, decision_id)
    same_stage = [r for r in existing if r["stage"] == review.stage]
    if same_stage:
        return same_stage[0]
    if allowed and review.reviewer_id not in allowed:
        raise FourEyesViolation(f"user {review.reviewer_id} is not an allowed reviewer")
    if any(r["reviewer_id"] == review.reviewer_id for r in existing):
        raise FourEyesViolation(f"user {review.reviewer_id} already reviewed decision {decision_id}: a second person must")
    if review.stage > 1 and len(existing) != review.stage - 1:
        raise FourEyesViolation(f"review stage {review.stage} before stage {review.stage - 1}")
    if len(review.rationale.strip()) < MIN_RATIONALE:
        raise FourEyesViolation(f"review {review.stage} of decision {decision_id} has no rationale (at least {MIN_RATIONALE} characters)")
    if review.choice not in REVIEW_OPTIONS:
        raise FourEyesViolation(f"unknown review choice {review.choice!r}")
    payload = review.to_payload()
    append_event(
        session,
        EventType.HUMAN_REVIEW,
        actor=f"user:{review.reviewer_id}",
        customer_id=decision.customer_id,
        case_id=decision_id,
        run_id=run_id,
        payload=payload,
        idempotency_key=f"human_review:{decision_id}:{review.stage}",
    )
    return payload


def finalize(session: Session, decision_id: str, *, approvals_required: int, actor: str, run_id: str | None) -> Decision:
    """Make a pending decision final: the proposed outcome if every reviewer confirmed, else `review`."""
    decision = session.get(Decision, decision_id)
    if decision is None:
        raise FourEyesViolation(f"decision {decision_id} does not exist")
    if decision.status == "final":
        return decision
    reviews = reviews_of(session, decision_id)
    reviewers = {r["reviewer_id"] for r in reviews}
    if len(reviews) < approvals_required or len(reviewers) < approvals_required:
        raise FourEyesViolation(
            f"decision {decision_id} has {len(reviewers)} distinct reviewer(s); {approvals_required} are required"
        )
    proposed = decision.lineage.get("proposed_outcome", decision.outcome)
    confirmed = all(r["choice"] == CONFIRM for r in reviews)
    final = proposed if confirmed else OVERTURNED_OUTCOME
    lineage = dict(decision.lineage)
    lineage["human_review"] = {"reviewers": sorted(reviewers), "confirmed": confirmed}
    decision.lineage = lineage
    reasons = list(decision.reasons)
    if not confirmed:
        reasons.append({"code": "reviewer_overturned", "outcome": OVERTURNED_OUTCOME, "text": "a reviewer did not confirm the proposed outcome"})
        decision.reasons = reasons
    decision.outcome = final
    decision.status = "final"
    session.flush()
    append_event(
        session,
        EventType.FINAL_DECISION,
        actor=actor,
        customer_id=decision.customer_id,
        case_id=decision_id,
        run_id=run_id,
        payload={
            "decision_id": decision_id,
            "outcome": final,
            "proposed_outcome": proposed,
            "reviewers": sorted(reviewers),
            "confirmed": confirmed,
            "finalized_at": datetime.now(UTC).isoformat(),
        },
        idempotency_key=f"final_decision:{decision_id}",
    )
    return decision
