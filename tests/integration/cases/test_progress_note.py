"""The review run's note follows the case: who answered, what is awaited, the outcome decided."""

from __future__ import annotations

from datetime import UTC, datetime

from kyc_core.cases.review import CONFIRM, Review, progress_note, record_review
from kyc_core.store.db import session_scope


def _answer(url: str, decision_id: str, stage: int, who: str, choice: str) -> None:
    with session_scope(url) as s:
        record_review(s, decision_id, Review(stage=stage, reviewer_id=who, reviewer_name=who, choice=choice,
                                             rationale="checked the list entry", responded_at=datetime.now(UTC)),
                      allowed=None, actor=f"user:{who}", run_id="case__x")


def test_the_note_says_who_answered_what_is_awaited_and_the_outcome(case):
    url, decision, short = case["url"], case["decision_id"], case["customer_id"][:8]
    with session_scope(url) as s:
        assert progress_note(s, decision) == f"reject: customer {short}, awaiting review 1/2"
    _answer(url, decision, 1, "analyst1", CONFIRM)
    with session_scope(url) as s:
        assert progress_note(s, decision) == f"reject: customer {short}, review 1/2 by analyst1, awaiting review 2/2"
    _answer(url, decision, 2, "analyst2", "Overturn")
    with session_scope(url) as s:
        assert progress_note(s, decision).endswith("review 2/2 by analyst2, awaiting senior review")
    _answer(url, decision, 3, "senior1", "EDD required")
    with session_scope(url) as s:
        assert progress_note(s, decision) == f"reject: customer {short}, decided edd_required by analyst1, analyst2, senior1"
