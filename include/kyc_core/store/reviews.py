"""Review-run repository: the only writer of `review_item`, the customers a perpetual-review run selected.

A run's selection is written once, in one transaction, with each customer's batch number; its batches then
read their own customers, and each customer is marked reviewed once its assessment is stored. A re-run of the
same run finds the selection and the customers already reviewed, so nothing is selected or reviewed twice.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, func, insert, select, update
from sqlalchemy.orm import Session

from kyc_core.store.models import ReviewItem

_CHUNK = 5000


def exists(session: Session, run_id: str) -> bool:
    """Whether this run's selection was already written."""
    return session.scalar(select(ReviewItem.customer_id).where(ReviewItem.run_id == run_id).limit(1)) is not None


def write_selection(session: Session, run_id: str, items: Iterable[Mapping[str, Any]], *, moment: datetime) -> int:
    """Store a run's selection (`customer_id`, `batch_no`, `purpose`, `reasons`, `flag_up_to` each); how many."""
    rows = [{**item, "run_id": run_id, "selected_at": moment} for item in items]
    for start in range(0, len(rows), _CHUNK):
        session.execute(insert(ReviewItem), rows[start:start + _CHUNK])
    session.flush()
    return len(rows)


def batch_numbers(session: Session, run_id: str) -> list[int]:
    """The batch numbers of a run, in order."""
    return list(session.scalars(select(ReviewItem.batch_no).where(ReviewItem.run_id == run_id).distinct().order_by(ReviewItem.batch_no)))


def batch(session: Session, run_id: str, batch_no: int) -> list[ReviewItem]:
    """The customers of one batch, in id order."""
    return list(session.scalars(select(ReviewItem).where(ReviewItem.run_id == run_id, ReviewItem.batch_no == batch_no)
                                .order_by(ReviewItem.customer_id)))


def mark_reviewed(session: Session, run_id: str, customer_id: str, *, decision_id: str, outcome: str,
                  decision_written: bool, moment: datetime) -> bool:
    """Record a customer's review in this run; False when it was already recorded."""
    result = session.execute(
        update(ReviewItem)
        .where(ReviewItem.run_id == run_id, ReviewItem.customer_id == customer_id, ReviewItem.reviewed_at.is_(None))
        .values(reviewed_at=moment, decision_id=decision_id, outcome=outcome, decision_written=decision_written)
    )
    done = cast(CursorResult[Any], result).rowcount
    session.flush()
    return bool(done)


def counts(session: Session, run_id: str) -> dict[str, Any]:
    """A run's selection and progress: customers, per purpose, reviewed, per outcome, decisions written."""
    rows = session.execute(
        select(ReviewItem.purpose, ReviewItem.outcome, ReviewItem.decision_written, ReviewItem.reviewed_at.is_not(None),
               func.count()).where(ReviewItem.run_id == run_id)
        .group_by(ReviewItem.purpose, ReviewItem.outcome, ReviewItem.decision_written, ReviewItem.reviewed_at.is_not(None))
    ).all()
    purposes: Counter[str] = Counter()
    outcomes: Counter[str] = Counter()
    reviewed = written = 0
    for purpose, outcome, was_written, is_reviewed, n in rows:
        purposes[purpose] += n
        if is_reviewed:
            reviewed += n
            outcomes[outcome or "unknown"] += n
            written += n if was_written else 0
    return {"customers": sum(purposes.values()), "by_purpose": dict(sorted(purposes.items())), "reviewed": reviewed,
            "outcomes": dict(sorted(outcomes.items())), "decisions_written": written, "unchanged": reviewed - written}


def reasons_of(session: Session, run_id: str) -> Counter[str]:
    """Selected customers per reason (a customer due and flagged counts under each of its reasons)."""
    found: Counter[str] = Counter()
    for (reasons,) in session.execute(select(ReviewItem.reasons).where(ReviewItem.run_id == run_id)):
        found.update(reasons or ())
    return found
