"""Four-eyes review: two approvals by two different authenticated people before an EDD or reject is final."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kyc_core.cases.options import CONFIRM, MIN_RATIONALE, REVIEW_OPTIONS
from kyc_core.errors import KycError
from kyc_core.store import customers as customer_repo
from kyc_core.store import decisions as decision_repo
from kyc_core.store.audit import EventType, append_event
from kyc_core.store.decisions import DecisionState
from kyc_core.store.models import AuditEvent

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
    decision = decision_repo.get(session, decision_id)
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


def finalize(session: Session, decision_id: str, *, approvals_required: int, actor: str, run_id: str | None) -> DecisionState:
    """Make a pending decision final: the proposed outcome if every reviewer confirmed, else `review`.

    The decision row is not edited: the final decision is a `final_decision` event naming the reviewers
    (its actor), which the case file folds in; the customer's status follows it.
    """
    decision = decision_repo.get(session, decision_id)
    if decision is None:
        raise FourEyesViolation(f"decision {decision_id} does not exist")
    state = decision_repo.state_of(session, decision)
    if state.status == decision_repo.FINAL:
        return state
    reviews = reviews_of(session, decision_id)
    reviewers = sorted({r["reviewer_id"] for r in reviews})
    if len(reviews) < approvals_required or len(reviewers) < approvals_required:
        raise FourEyesViolation(
            f"decision {decision_id} has {len(reviewers)} distinct reviewer(s); {approvals_required} are required"
        )
    confirmed = all(r["choice"] == CONFIRM for r in reviews)
    final = state.proposed if confirmed else OVERTURNED_OUTCOME
    added = [] if confirmed else [
        {"code": "reviewer_overturned", "outcome": OVERTURNED_OUTCOME, "text": "a reviewer did not confirm the proposed outcome"}
    ]
    decision_repo.record_final(session, decision, outcome=final, actor=reviewers_actor(reviewers) or actor, run_id=run_id,
                               reviewers=reviewers, confirmed=confirmed, added_reasons=added)
    customer_repo.apply_decision(session, decision.customer_id, outcome=final, pending=False, risk_level=None,
                                 next_review_date=None, moment=datetime.now(UTC))
    return decision_repo.state_of(session, decision)


def reviewers_actor(reviewers: list[str]) -> str:
    """The audit actor of a decision made by these reviewers."""
    return "+".join(f"user:{r}" for r in reviewers)[:128]


#: Reviewers see this many reasons and hits in the form; the rest are in the case file.
_TOP = 5


@dataclass(frozen=True)
class ReviewBrief:
    """What one review form shows: a subject line, a Markdown body, and who already answered."""

    subject: str
    body: str
    customer_id: str
    reviewed_by: list[str]


def review_brief(session: Session, decision_id: str, stage: int, stages: int = 2) -> ReviewBrief:
    """The form of review `stage` of a decision: outcome, score, top reasons, documents, hits; no names."""
    decision = decision_repo.get(session, decision_id)
    if decision is None:
        raise FourEyesViolation(f"decision {decision_id} not found")
    done = [r["reviewer_id"] for r in reviews_of(session, decision_id)]
    hits = decision_repo.hits_of(session, decision, limit=_TOP)
    proposed = decision.lineage.get("proposed_outcome", decision.outcome)
    lines = [
        f"**Proposed outcome:** `{proposed}`  ",
        f"**Score:** {decision.score:.2f} (risk {decision.risk_level})  " if decision.score is not None else "",
        f"**Customer id:** `{decision.customer_id}`  **Decision id:** `{decision.id}`",
        "",
        "**Top reasons**",
        *[f"- `{r.get('code')}`: {r.get('text')}" for r in decision.reasons[:_TOP]],
    ]
    if decision.documents:
        lines += ["", "**Documents to request**", *[f"- {d.get('label', d.get('code'))}" for d in decision.documents]]
    if hits:
        lines += ["", "**Screening hits**",
                  *[f"- {h.subject_role}: `{h.list_key}:{h.native_id}` score {h.score:.2f} ({h.verdict})" for h in hits]]
    if done:
        lines += ["", f"Already reviewed by: {', '.join(done)} (a different person must answer)."]
    lines += ["", f"Full case file: `kyc case show {decision.id}`"]
    subject = f"KYC {proposed} — review {stage}/{stages} — customer {decision.customer_id[:8]}"
    return ReviewBrief(subject=subject, body="\n".join(lines), customer_id=decision.customer_id, reviewed_by=done)
