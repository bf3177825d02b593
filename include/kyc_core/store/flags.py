"""Review-flag repository: the only writer of `review_flag`, and of `customer.flagged_for_review` through it.

A flag says why a customer must be re-reviewed before its next periodic date. Raising one is idempotent per
(customer, reason, key) while it is open; a perpetual-review run clears the flags it acted on.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from kyc_core.store import customers as customer_repo
from kyc_core.store import decisions as decision_repo
from kyc_core.store.audit import EventType, append_event
from kyc_core.store.models import Customer, ReviewFlag

#: Typed reasons a customer is flagged (a periodic review needs no flag: `next_review_date` says it).
FLAG_REASONS = ("list_change", "registry_event", "manual")


def raise_flag(session: Session, customer_id: str, *, reason: str, detail: Mapping[str, Any] | None = None,
               actor: str, moment: datetime, run_id: str | None = None, key: str | None = None) -> ReviewFlag | None:
    """Flag a customer for re-review with a typed reason, audited; None when the same open flag exists.

    `key` identifies the cause (a notice id, a list version and entry, ...): raising the same cause twice while
    the flag is open writes nothing. LookupError for an unknown customer, ValueError for an unknown reason.
    """
    if reason not in FLAG_REASONS:
        raise ValueError(f"unknown flag reason {reason!r}; expected one of {', '.join(FLAG_REASONS)}")
    customer_repo.require(session, customer_id)
    body = dict(detail or {})
    if key is not None:
        body["key"] = key
        for existing in open_flags(session, [customer_id]):
            if existing.reason == reason and existing.detail.get("key") == key:
                return None
    flag = ReviewFlag(customer_id=customer_id, reason=reason, detail=body, actor=actor, created_at=moment)
    session.add(flag)
    customer_repo.flag(session, customer_id, moment=moment)
    session.flush()
    append_event(session, EventType.CUSTOMER_FLAGGED, actor=actor, customer_id=customer_id, run_id=run_id,
                 payload={**body, "reason": reason, "flag_id": flag.id})
    return flag


def open_flags(session: Session, customer_ids: Iterable[str] | None = None) -> list[ReviewFlag]:
    """Open flags, oldest first; all of them, or those of these customers."""
    query = select(ReviewFlag).where(ReviewFlag.cleared_at.is_(None))
    if customer_ids is not None:
        ids = sorted(set(customer_ids))
        if not ids:
            return []
        query = query.where(ReviewFlag.customer_id.in_(ids))
    return list(session.scalars(query.order_by(ReviewFlag.created_at, ReviewFlag.id)))


def open_reasons(session: Session) -> dict[str, list[str]]:
    """customer id -> the distinct reasons of its open flags (reads the open-flag index only)."""
    out: dict[str, list[str]] = {}
    rows = session.execute(
        select(ReviewFlag.customer_id, ReviewFlag.reason).where(ReviewFlag.cleared_at.is_(None)).order_by(ReviewFlag.id)
    )
    for customer_id, reason in rows:
        reasons = out.setdefault(customer_id, [])
        if reason not in reasons:
            reasons.append(reason)
    return out


def count_open(session: Session) -> Counter[str]:
    """Open flags per reason."""
    return Counter(reason for (reason,) in session.execute(
        select(ReviewFlag.reason).where(ReviewFlag.cleared_at.is_(None))))


def clear(session: Session, customer_id: str, *, cleared_by: str, moment: datetime,
          up_to_id: int | None = None) -> int:
    """Clear a customer's open flags (those up to `up_to_id` when given: newer causes stay open); how many."""
    query = update(ReviewFlag).where(ReviewFlag.customer_id == customer_id, ReviewFlag.cleared_at.is_(None))
    if up_to_id is not None:
        query = query.where(ReviewFlag.id <= up_to_id)
    result = session.execute(query.values(cleared_at=moment, cleared_by=cleared_by))
    cleared = getattr(result, "rowcount", 0) or 0
    still_open = session.scalar(select(ReviewFlag.id).where(ReviewFlag.customer_id == customer_id,
                                                            ReviewFlag.cleared_at.is_(None)).limit(1))
    latest = decision_repo.latest_for_customer(session, customer_id)
    proposed_review = latest is not None and latest.lineage.get("proposed_outcome", latest.outcome) == "review"
    if still_open is None and not proposed_review:  # a `review` outcome stays flagged (the status rule)
        session.execute(update(Customer).where(Customer.id == customer_id).values(flagged_for_review=False))
    session.flush()
    return int(cleared)
