"""Human review of a proposed decision: one reviewer for a `review`, four eyes (and a senior on a split) otherwise.

The rules live here and in `kyc_core.cases.options`; the Airflow operator only collects the answers. Every
answer is a `human_review` audit event (once per stage); the final decision is a `final_decision` event whose
actor is the reviewer(s); the decision row is never edited.

Each form also asks about the decision's open hits: a reviewer may judge each one `false_positive` or
`true_match` (or leave it undecided). The judgements of a stage are written with its answer, in the same
transaction, the reviewer as analyst and the stage's rationale as theirs (`kyc_core.cases.judging`): in a four-eyes
review each stage's judgements take effect when that stage is answered, a later stage's judgement of the same hit
replaces an earlier one, and overturning a `true_match` needs a second, different reviewer (the next stage) to
mark the hit `false_positive` too. Judgements act on later screenings; this decision's outcome is the reviewers'.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kyc_core.cases.judging import JudgementRefused, judge_pair
from kyc_core.cases.options import (
    CONFIRM,
    DECISION_OPTIONS,
    HIT_CHOICES,
    MAX_FORM_HITS,
    MIN_RATIONALE,
    OUTCOME_OF,
    SENIOR_STAGE,
    UNDECIDED,
    hit_id_of,
    hit_param,
    options_for,
)
from kyc_core.errors import KycError
from kyc_core.store import customers as customer_repo
from kyc_core.store import decisions as decision_repo
from kyc_core.store.audit import EventType, append_event
from kyc_core.store.decisions import DecisionState
from kyc_core.store.models import AuditEvent, Decision, ScreeningHit

NONE, SINGLE, FOUR_EYES = "none", "single", "four_eyes"


class FourEyesViolation(KycError):
    """A review the rules forbid: the same person twice, a person not allowed, a stage out of order."""


class InvalidAnswer(FourEyesViolation):
    """An answer the form should have refused (no rationale, unknown option): the reviewer is asked again."""


@dataclass(frozen=True)
class Review:
    """One reviewer's answer."""

    stage: int
    reviewer_id: str
    reviewer_name: str
    choice: str
    rationale: str
    responded_at: datetime
    #: The form's hit fields as answered (`hit_<id>` -> a `HIT_CHOICES` value); missing ones are undecided.
    judgements: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_answer(cls, stage: int, user: Mapping[str, Any] | None, chosen_options: list[str],
                    params_input: Mapping[str, Any] | None, responded_at: datetime | str | None) -> Review:
        """A review from a human-in-the-loop answer: the chosen option, the rationale and the hit fields."""
        fields = dict(params_input or {})
        when = datetime.fromisoformat(responded_at) if isinstance(responded_at, str) else responded_at
        return cls(stage=stage, reviewer_id=str((user or {}).get("id")), reviewer_name=str((user or {}).get("name")),
                   choice=chosen_options[0], rationale=str(fields.pop("rationale", "") or ""),
                   responded_at=when or datetime.now(UTC), judgements=fields)

    def to_payload(self) -> dict[str, Any]:
        """Audit payload: who, what, when and why (and the hits judged, by hit id)."""
        payload = {
            "stage": self.stage,
            "reviewer_id": self.reviewer_id,
            "reviewer_name": self.reviewer_name,
            "choice": self.choice,
            "rationale": self.rationale,
            "responded_at": self.responded_at.astimezone(UTC).isoformat(),
        }
        judged = {key: value for key, value in sorted(self.judgements.items()) if value not in (None, UNDECIDED)}
        if judged:
            payload["judgements"] = judged
        return payload


@dataclass(frozen=True)
class ReviewPlan:
    """Which review a decision needs and which stages are still open."""

    decision_id: str
    customer_id: str
    kind: str  # none | single | four_eyes
    proposed: str
    done: tuple[int, ...]
    open_stages: tuple[int, ...]

    def to_xcom(self) -> dict[str, Any]:
        """Ids and codes only."""
        return {"decision_id": self.decision_id, "customer_id": self.customer_id, "kind": self.kind,
                "proposed": self.proposed, "open_stages": list(self.open_stages)}


def review_kind(decision: Decision) -> str:
    """none, single (a `review`) or four_eyes (`edd_required`, `reject`), from what the assessment required."""
    if decision.status != decision_repo.PENDING_REVIEW:
        return NONE
    required = decision.lineage.get("approvals_required")
    if required is None:  # written before the rule was recorded: the proposed outcome says which review
        return FOUR_EYES if decision.lineage.get("proposed_outcome", decision.outcome) in ("edd_required", "reject") else SINGLE
    return FOUR_EYES if int(required) >= 2 else SINGLE


def _split(reviews: dict[int, dict[str, Any]]) -> bool:
    return 1 in reviews and 2 in reviews and not (reviews[1]["choice"] == reviews[2]["choice"] == CONFIRM)


def stages_needed(kind: str, reviews: dict[int, dict[str, Any]]) -> tuple[int, ...]:
    """Every stage the decision needs given the answers so far (the senior only after a four-eyes split)."""
    if kind == SINGLE:
        return (1,)
    if kind == FOUR_EYES:
        return (1, 2, SENIOR_STAGE) if _split(reviews) else (1, 2)
    return ()


def plan_of(session: Session, decision_id: str) -> ReviewPlan:
    """The review plan of a decision as it stands."""
    decision = decision_repo.get(session, decision_id)
    if decision is None:
        raise FourEyesViolation(f"decision {decision_id} does not exist")
    state = decision_repo.state_of(session, decision)
    kind = review_kind(decision) if state.status != decision_repo.FINAL else NONE
    reviews = {r["stage"]: r for r in reviews_of(session, decision_id)}
    needed = stages_needed(kind, reviews)
    return ReviewPlan(decision_id=decision.id, customer_id=decision.customer_id, kind=kind, proposed=state.proposed,
                      done=tuple(sorted(reviews)), open_stages=tuple(s for s in needed if s not in reviews))


def reviews_of(session: Session, decision_id: str) -> list[dict[str, Any]]:
    """The reviews recorded for a decision, in order."""
    events = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.case_id == decision_id, AuditEvent.event_type == EventType.HUMAN_REVIEW.value)
        .order_by(AuditEvent.seq)
    ).all()
    return [json.loads(e.payload) for e in events]


def allowed_reviewers(stage: int, reviewers: tuple[str, ...] | list[str], senior_reviewers: tuple[str, ...] | list[str]) -> list[str]:
    """Who may answer a stage: the senior reviewers at the senior stage (else the reviewers); empty: anyone."""
    if stage == SENIOR_STAGE:
        return list(senior_reviewers or reviewers)
    return list(reviewers)


#: Review task ids of `kyc_case_review` and the stage each answers.
STAGE_OF_TASK = {"review_1": 1, "review_2": 2, "senior_review": SENIOR_STAGE}


def other_reviewers(allowed: list[str], already: list[str]) -> list[str]:
    """Who may still review: the allowed reviewers minus those who already did."""
    return [r for r in allowed if r not in set(already)]


def record_review(
    session: Session, decision_id: str, review: Review, *, allowed: list[str] | None, actor: str, run_id: str | None
) -> dict[str, Any]:
    """Check the review rules in code, then append the answer as a `human_review` event (once per stage)."""
    decision = decision_repo.get(session, decision_id)
    if decision is None:
        raise FourEyesViolation(f"decision {decision_id} does not exist")
    existing = {r["stage"]: r for r in reviews_of(session, decision_id)}
    if review.stage in existing:
        return existing[review.stage]
    kind = review_kind(decision)
    if review.stage not in stages_needed(kind, existing):
        raise FourEyesViolation(f"decision {decision_id} needs no review at stage {review.stage}")
    if any(s not in existing for s in range(1, min(review.stage, SENIOR_STAGE))):
        raise FourEyesViolation(f"review stage {review.stage} before the earlier stages of decision {decision_id}")
    if allowed and review.reviewer_id not in allowed:
        raise FourEyesViolation(f"user {review.reviewer_id} is not an allowed reviewer for stage {review.stage}")
    if any(r["reviewer_id"] == review.reviewer_id for r in existing.values()):
        raise FourEyesViolation(f"user {review.reviewer_id} already reviewed decision {decision_id}: another person must")
    if len(review.rationale.strip()) < MIN_RATIONALE:
        raise InvalidAnswer(f"review {review.stage} of decision {decision_id}: a rationale of at least {MIN_RATIONALE} characters is required")
    if review.choice not in options_for(kind, review.stage):
        raise InvalidAnswer(f"review {review.stage} of decision {decision_id}: unknown choice {review.choice!r}")
    judged = _checked_judgements(session, decision, review)
    payload = review.to_payload()
    append_event(
        session,
        EventType.HUMAN_REVIEW,
        actor=f"user:{review.reviewer_id}",
        customer_id=decision.customer_id,
        case_id=decision_id,
        run_id=run_id,
        payload={**payload, "kind": kind},
        idempotency_key=f"human_review:{decision_id}:{review.stage}",
    )
    for hit, verdict in judged:
        try:
            judge_pair(session, customer_id=decision.customer_id, subject_key=hit.subject_key, list_key=hit.list_key,
                       native_id=hit.native_id, entry_hash=hit.entry_hash, verdict=verdict, analyst=review.reviewer_id,
                       rationale=review.rationale, actor=f"user:{review.reviewer_id}", source=f"review_stage_{review.stage}",
                       run_id=run_id, case_id=decision_id)
        except JudgementRefused as exc:
            # Raised before the caller commits: the answer is refused whole and the reviewer asked again.
            raise InvalidAnswer(f"review {review.stage} of decision {decision_id}: {exc}") from None
    return payload


def form_hits(session: Session, decision: Decision) -> list[ScreeningHit]:
    """The hits a review form asks about: the decision's open hits, strongest first."""
    return decision_repo.hits_of(session, decision, limit=MAX_FORM_HITS)


def _checked_judgements(session: Session, decision: Decision, review: Review) -> list[tuple[ScreeningHit, str]]:
    """The hits the reviewer judged, each with its verdict; any field the form did not offer refuses the answer."""
    offered = {hit_param(h.id): h for h in form_hits(session, decision)}
    judged = []
    for key, value in sorted(review.judgements.items()):
        if hit_id_of(key) is None or key not in offered:
            raise InvalidAnswer(f"review {review.stage} of decision {decision.id}: the form has no field {key!r}")
        if value is None:  # a field the form sent empty: undecided
            continue
        if value not in HIT_CHOICES:
            raise InvalidAnswer(f"review {review.stage} of decision {decision.id}: {key} must be one of {HIT_CHOICES}, not {value!r}")
        if value != UNDECIDED:
            judged.append((offered[key], str(value)))
    return judged


def record_refused_answer(session: Session, decision_id: str, *, stage: int, reviewer_id: str, reason: str,
                          run_id: str | None) -> None:
    """Keep a trace of an answer that was refused (the reviewer is asked again)."""
    decision = decision_repo.get(session, decision_id)
    append_event(
        session, EventType.REVIEW_ANSWER_REFUSED, actor=f"user:{reviewer_id}",
        customer_id=decision.customer_id if decision is not None else None, case_id=decision_id, run_id=run_id,
        payload={"stage": stage, "reason": reason},
    )


def progress_note(session: Session, decision_id: str) -> str:
    """The review run's note as the case stands: proposed outcome, customer, who answered, what is awaited or decided.

    For example `reject: customer 90a2aee9, review 1/2 by analyst1, awaiting review 2/2`, then
    `reject: customer 90a2aee9, decided reject by analyst1, analyst2`.
    """
    plan = plan_of(session, decision_id)
    reviews = {r["stage"]: r for r in reviews_of(session, decision_id)}
    total = 1 if plan.kind == SINGLE else 2
    head = f"{plan.proposed}: customer {plan.customer_id[:8]}"

    def stage_name(stage: int) -> str:
        return "senior review" if stage == SENIOR_STAGE else f"review {stage}/{total}"

    answered = [f"{stage_name(s)} by {reviews[s]['reviewer_id']}" for s in sorted(reviews)]
    decided = final_outcome(plan.kind, plan.proposed, reviews) if plan.kind != NONE else None
    if plan.kind == NONE or decided is not None:
        state = decision_repo.state_of(session, decision_repo.get(session, decision_id))  # type: ignore[arg-type]
        outcome = decided or state.outcome
        who = ", ".join(reviews[s]["reviewer_id"] for s in sorted(reviews)) or "the assessment"
        return f"{head}, decided {outcome} by {who}"
    return ", ".join([head, *answered, f"awaiting {stage_name(plan.open_stages[0])}"])


def final_outcome(kind: str, proposed: str, reviews: dict[int, dict[str, Any]]) -> str | None:
    """The outcome the answers give, or None while a stage is still open."""
    needed = stages_needed(kind, reviews)
    if any(s not in reviews for s in needed):
        return None
    if kind == SINGLE:
        return OUTCOME_OF[reviews[1]["choice"]]
    if SENIOR_STAGE in needed:
        return OUTCOME_OF[reviews[SENIOR_STAGE]["choice"]]
    return proposed


def finalize(session: Session, decision_id: str, *, actor: str, run_id: str | None) -> DecisionState:
    """Make a pending decision final from its reviews; the reviewers are the actor of the final decision.

    The decision row is not edited: the final decision is a `final_decision` event, which the case file folds
    in; the customer's status follows it.
    """
    decision = decision_repo.get(session, decision_id)
    if decision is None:
        raise FourEyesViolation(f"decision {decision_id} does not exist")
    state = decision_repo.state_of(session, decision)
    if state.status == decision_repo.FINAL:
        return state
    kind = review_kind(decision)
    reviews = {r["stage"]: r for r in reviews_of(session, decision_id)}
    final = final_outcome(kind, state.proposed, reviews)
    if final is None:
        open_stages = [s for s in stages_needed(kind, reviews) if s not in reviews]
        raise FourEyesViolation(f"decision {decision_id} still needs review stage(s) {open_stages}")
    reviewers = [reviews[s]["reviewer_id"] for s in sorted(reviews)]
    confirmed = final == state.proposed
    added = [] if confirmed else [{
        "code": "reviewer_decided", "outcome": final,
        "text": f"the reviewer(s) decided {final} instead of the proposed {state.proposed}",
    }]
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
_STAGE_TITLE = {1: "review", 2: "second review", SENIOR_STAGE: "senior review"}


@dataclass(frozen=True)
class HitQuestion:
    """One hit the form asks about: its field and its label (role, list entry, score and verdict, as in the body)."""

    key: str
    title: str


@dataclass(frozen=True)
class ReviewBrief:
    """What one review form shows: a subject line, a Markdown body, the options, the hit questions, who answered."""

    subject: str
    body: str
    customer_id: str
    options: list[str]
    reviewed_by: list[str]
    hit_questions: list[HitQuestion] = field(default_factory=list)


def _hit_label(hit: ScreeningHit) -> str:
    return f"{hit.subject_role}: {hit.list_key}:{hit.native_id} score {hit.score:.2f} ({hit.verdict})"


def _judged_text(review: dict[str, Any], labels: dict[str, str]) -> str:
    judged = review.get("judgements") or {}
    return ("; hits judged: " + ", ".join(f"`{labels.get(k, k)}` {v}" for k, v in sorted(judged.items()))) if judged else ""


def review_brief(session: Session, decision_id: str, stage: int, case_link: str | None = None) -> ReviewBrief:
    """The form of one review stage: outcome, score, top reasons, documents, hits, earlier answers; no names."""
    decision = decision_repo.get(session, decision_id)
    if decision is None:
        raise FourEyesViolation(f"decision {decision_id} not found")
    kind = review_kind(decision)
    reviews = reviews_of(session, decision_id)
    hits = decision_repo.hits_of(session, decision, limit=_TOP)
    asked = form_hits(session, decision)
    entry_of = {hit_param(h.id): f"{h.list_key}:{h.native_id}" for h in asked}
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
    if reviews:
        lines += ["", "**Earlier answers**",
                  *[f"- stage {r['stage']}: {r['choice']} by {r['reviewer_id']}: {r['rationale']}{_judged_text(r, entry_of)}"
                    for r in reviews],
                  "", "A different person must answer."]
    how = ("Confirm or overturn the proposed outcome." if options_for(kind, stage) != DECISION_OPTIONS
           else "Choose the outcome.")
    lines += ["", f"{how} A rationale of at least {MIN_RATIONALE} characters is required."]
    if asked:
        lines += ["", "Mark each hit you checked `False positive` (suppressed at later screenings while the list entry is "
                  "unchanged) or `True match`, or leave it `Undecided`; your rationale is kept with each judgement."
                  + (f" The {len(asked)} strongest hits are asked here; judge others with `kyc judge`." if len(asked) == MAX_FORM_HITS else "")]
    lines += ["", f"[Open the case page]({case_link}) (hits with their explanations, register facts, timeline)" if case_link
              else f"Case file: `kyc case show {decision.id}`"]
    title = _STAGE_TITLE.get(stage, f"review {stage}")
    subject = f"KYC {proposed}: {title} of customer {decision.customer_id[:8]}"
    return ReviewBrief(subject=subject, body="\n".join(lines), customer_id=decision.customer_id,
                       options=options_for(kind, stage), reviewed_by=[r["reviewer_id"] for r in reviews],
                       hit_questions=[HitQuestion(hit_param(h.id), _hit_label(h)) for h in asked])
