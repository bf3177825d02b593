"""Analyst judgements on screening hits, from the review form or `kyc judge`: one set of rules for both.

- A judgement is keyed on the customer, the screened subject and the list entry, and holds for the entry's content
  hash: the next screening suppresses a `false_positive` while the entry is unchanged, and a changed entry opens
  the hit again (`kyc_core.screening.judgements`).
- The same verdict on the same entry content again is a no-op: nothing is written.
- Overturning a `true_match` into a `false_positive` takes two different analysts: the first one's judgement is an
  overturn request (audited, not in force); the second, different analyst's makes it a judgement. The same analyst
  twice is refused. A sanctions match cleared by one person alone would defeat the four-eyes principle.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kyc_core.cases.options import MIN_RATIONALE
from kyc_core.errors import UserError
from kyc_core.screening.judgements import FALSE_POSITIVE, TRUE_MATCH, VERDICTS
from kyc_core.store import customers as customer_repo
from kyc_core.store import judgements as judgement_repo
from kyc_core.store.models import ListEntry, ListVersion, ScreeningHit

RECORDED, UNCHANGED, OVERTURN_PENDING, OVERTURNED = "recorded", "unchanged", "overturn_pending", "overturned"
#: `--subject all`: every subject of the customer the entry hit.
ALL_SUBJECTS = "all"


class JudgementRefused(UserError):
    """A judgement the rules refuse: unknown verdict, no rationale, the same analyst twice on an overturn."""


@dataclass(frozen=True)
class JudgementResult:
    """What one judgement did: `recorded`, `unchanged`, `overturn_pending` or `overturned`."""

    customer_id: str
    subject_key: str
    list_key: str
    native_id: str
    entry_hash: str
    verdict: str
    status: str
    judgement_id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """Ids and codes only."""
        return asdict(self)


def judge_pair(
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
    source: str,
    run_id: str | None = None,
    case_id: str | None = None,
) -> JudgementResult:
    """Apply the judgement rules to one (subject, entry) pair of a customer, in the caller's transaction."""
    if verdict not in VERDICTS:
        raise JudgementRefused(f"unknown verdict {verdict!r}: use {' or '.join(VERDICTS)}")
    if len(rationale.strip()) < MIN_RATIONALE:
        raise JudgementRefused(f"a rationale of at least {MIN_RATIONALE} characters is required")
    pair = (subject_key, list_key, native_id)
    current = judgement_repo.latest_of(session, customer_id).get(pair)
    pending = judgement_repo.pending_overturns(session, customer_id).get(pair)

    def result(status: str, judgement_id: int | None = None) -> JudgementResult:
        return JudgementResult(customer_id, subject_key, list_key, native_id, entry_hash, verdict, status, judgement_id)

    common: dict[str, Any] = {"customer_id": customer_id, "subject_key": subject_key, "list_key": list_key, "native_id": native_id,
              "entry_hash": entry_hash, "verdict": verdict, "actor": actor, "run_id": run_id, "case_id": case_id}
    if current is not None and pending is None and (current.verdict, current.entry_hash) == (verdict, entry_hash):
        return result(UNCHANGED, current.id)
    if verdict == FALSE_POSITIVE and current is not None and current.verdict == TRUE_MATCH:
        if pending is None or pending["entry_hash"] != entry_hash:
            judgement_repo.request_overturn(session, analyst=analyst, detail={"source": source, "overturn_of": current.id},
                                            **common)
            return result(OVERTURN_PENDING)
        if pending["analyst"] == analyst:
            raise JudgementRefused(
                f"{analyst} already asked to overturn the true match of {list_key}:{native_id} for subject {subject_key}:"
                " a second, different analyst must confirm it"
            )
        row = judgement_repo.record(
            session, analyst=f"{pending['analyst']}+{analyst}", rationale=rationale,
            detail={"source": source, "overturn_of": current.id, "requested_by": pending["analyst"], "confirmed_by": analyst},
            **common,
        )
        return result(OVERTURNED, row.id)
    row = judgement_repo.record(session, analyst=analyst, rationale=rationale, detail={"source": source}, **common)
    return result(RECORDED, row.id)


def parse_entry_ref(text: str) -> tuple[str, str]:
    """`LIST:ENTRY_ID` (as the review form and the case file show a hit) into (list key, entry id)."""
    list_key, sep, native_id = text.strip().partition(":")
    if not sep or not list_key or not native_id:
        raise UserError(f"list entry {text!r}: expected LIST:ENTRY_ID, e.g. ofac_sdn:40900")
    return list_key, native_id


def current_entry_hash(session: Session, list_key: str, native_id: str) -> str | None:
    """The content hash of the entry in the active version of its list, or None when it is not listed now."""
    return session.scalar(
        select(ListEntry.entry_hash)
        .join(ListVersion, ListVersion.id == ListEntry.version_id)
        .where(ListVersion.status == "active", ListEntry.list_key == list_key, ListEntry.native_id == native_id)
        .limit(1)
    )


def judge_entry(
    session: Session,
    customer_id: str,
    entry_ref: str,
    verdict: str,
    *,
    rationale: str,
    analyst: str,
    subjects: Sequence[str] = (),
    run_id: str | None = None,
) -> list[JudgementResult]:
    """Judge a customer's hit(s) on one list entry, on the entry's current content; nothing is written on an error."""
    if verdict not in VERDICTS:
        raise JudgementRefused(f"unknown verdict {verdict!r}: use {' or '.join(VERDICTS)}")
    if len(rationale.strip()) < MIN_RATIONALE:
        raise JudgementRefused(f"a rationale of at least {MIN_RATIONALE} characters is required")
    if customer_repo.get(session, customer_id) is None:
        raise UserError(f"customer {customer_id} does not exist")
    list_key, native_id = parse_entry_ref(entry_ref)
    hits = session.scalars(
        select(ScreeningHit).where(
            ScreeningHit.customer_id == customer_id, ScreeningHit.list_key == list_key, ScreeningHit.native_id == native_id
        ).order_by(ScreeningHit.score.desc(), ScreeningHit.id)
    ).all()
    if not hits:
        raise UserError(f"customer {customer_id} has no screening hit on {list_key}:{native_id}")
    found = list(dict.fromkeys(h.subject_key for h in hits))
    if list(subjects) == [ALL_SUBJECTS]:
        chosen = found
    elif subjects:
        unknown = [s for s in subjects if s not in found]
        if unknown:
            raise UserError(f"{list_key}:{native_id} hit no subject {', '.join(unknown)} of customer {customer_id}"
                            f" (its subjects on that entry: {', '.join(found)})")
        chosen = list(dict.fromkeys(subjects))
    elif len(found) > 1:
        raise UserError(f"{list_key}:{native_id} hit {len(found)} subjects of customer {customer_id} ({', '.join(found)}):"
                        f" choose with --subject KEY, or --subject {ALL_SUBJECTS}")
    else:
        chosen = found
    entry_hash = current_entry_hash(session, list_key, native_id)
    if entry_hash is None:
        raise UserError(f"{list_key}:{native_id} is not on the active {list_key} list: there is nothing left to judge")
    return [
        judge_pair(session, customer_id=customer_id, subject_key=subject, list_key=list_key, native_id=native_id,
                   entry_hash=entry_hash, verdict=verdict, analyst=analyst, rationale=rationale, actor=analyst,
                   source="cli", run_id=run_id)
        for subject in chosen
    ]


def judgements_of(session: Session, customer_id: str) -> list[dict[str, Any]]:
    """A customer's latest judgement per pair, whether it is in force, and the overturns waiting for a second analyst."""
    if customer_repo.get(session, customer_id) is None:
        raise UserError(f"customer {customer_id} does not exist")
    latest = judgement_repo.latest_of(session, customer_id)
    pending = judgement_repo.pending_overturns(session, customer_id)
    rows = []
    for pair in sorted(set(latest) | set(pending)):
        subject_key, list_key, native_id = pair
        current = current_entry_hash(session, list_key, native_id)
        judgement = latest.get(pair)
        row: dict[str, Any] = {"subject_key": subject_key, "list_key": list_key, "native_id": native_id,
                               "verdict": None, "analyst": None, "judged_at": None, "state": "none"}
        if judgement is not None:
            created = judgement.created_at if judgement.created_at.tzinfo else judgement.created_at.replace(tzinfo=UTC)
            row.update(verdict=judgement.verdict, analyst=judgement.analyst, judged_at=created.astimezone(UTC).isoformat(),
                       entry_hash=judgement.entry_hash,
                       state="in_force" if current == judgement.entry_hash else ("entry_delisted" if current is None else "entry_changed"))
        if pair in pending:
            row["overturn_requested_by"] = pending[pair]["analyst"]
        rows.append(row)
    return rows
