"""Who a perpetual-review run re-reviews, and in which batch.

A customer is selected when its review is due (`customer.next_review_date` on or before the run's day: the
decision set it at the policy's cadence for its risk level, high every 3 months, medium 6, low 12) or when it
has an open review flag (a sanctions list change, a register event, a manual flag). Selection reads the
indexed columns only (`customer.next_review_date`, the open-flag index of `review_flag`).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kyc_core.decision import next_review_date
from kyc_core.errors import UserError
from kyc_core.policy import Policy, RiskLevel
from kyc_core.store import reviews as review_repo
from kyc_core.store.audit import EventType, append_event
from kyc_core.store.db import session_scope
from kyc_core.store.models import Customer, ReviewFlag

log = logging.getLogger(__name__)

#: Why a customer is re-reviewed, most specific first: the purpose recorded with its assessment is the first
#: of its reasons in this order (a due customer with a register event is reviewed for the register event).
PURPOSES = ("registry_event", "list_change", "manual", "periodic")
#: Customers per mapped batch when nothing else is configured.
DEFAULT_BATCH_SIZE = 200


def due_date(decided_on: date, risk_level: RiskLevel | str, policy: Policy) -> date:
    """The periodic review date of a decision taken on `decided_on` (the month's last day when it has fewer days)."""
    return next_review_date(decided_on, RiskLevel(risk_level), policy)


@dataclass(frozen=True)
class Selection:
    """The customers a run reviews: why each, and the newest open flag each had when selected."""

    today: date
    reasons: dict[str, list[str]] = field(default_factory=dict)
    flag_up_to: dict[str, int] = field(default_factory=dict)

    def purpose(self, customer_id: str) -> str:
        """The reason recorded with the customer's assessment."""
        mine = self.reasons[customer_id]
        return next(p for p in PURPOSES if p in mine)

    def counts(self) -> dict[str, int]:
        """Customers per reason (a customer due and flagged counts under each), every reason named."""
        found = Counter(r for reasons in self.reasons.values() for r in reasons)
        return {p: found.get(p, 0) for p in PURPOSES}


def select_customers(session: Session, today: date) -> Selection:
    """Customers due on `today` or flagged, with their reasons."""
    reasons: dict[str, list[str]] = {}
    for (customer_id,) in session.execute(select(Customer.id).where(Customer.next_review_date <= today)):
        reasons[customer_id] = ["periodic"]
    up_to: dict[str, int] = {}
    flags = session.execute(
        select(ReviewFlag.customer_id, ReviewFlag.reason, func.max(ReviewFlag.id))
        .where(ReviewFlag.cleared_at.is_(None))
        .group_by(ReviewFlag.customer_id, ReviewFlag.reason)
    )
    for customer_id, reason, newest in flags:
        mine = reasons.setdefault(customer_id, [])
        if reason not in mine:
            mine.append(reason)
        up_to[customer_id] = max(up_to.get(customer_id, 0), int(newest))
    ordered = {cid: sorted(rs, key=PURPOSES.index) for cid, rs in sorted(reasons.items())}
    return Selection(today=today, reasons=ordered, flag_up_to=up_to)


def make_batches(customer_ids: Sequence[str], size: int) -> list[list[str]]:
    """Consecutive batches of at most `size` customers, in the given order."""
    if size < 1:
        raise UserError(f"batch size must be at least 1, got {size}")
    return [list(customer_ids[start:start + size]) for start in range(0, len(customer_ids), size)]


def plan_run(database_url: str, run_id: str, *, today: date, batch_size: int = DEFAULT_BATCH_SIZE, actor: str,
             now: datetime | None = None) -> dict[str, Any]:
    """Select and batch a run's customers once (a re-run reads the stored selection); the plan's counts.

    Returns `batches` (batch numbers for the mapped tasks), `customers` and `reasons` (customers per reason).
    """
    if batch_size < 1:
        raise UserError(f"batch size must be at least 1, got {batch_size}")
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    with session_scope(database_url) as session:
        if not review_repo.exists(session, run_id):
            selection = select_customers(session, today)
            batches = make_batches(list(selection.reasons), batch_size)
            review_repo.write_selection(session, run_id, (
                {"customer_id": cid, "batch_no": number, "purpose": selection.purpose(cid),
                 "reasons": selection.reasons[cid], "flag_up_to": selection.flag_up_to.get(cid)}
                for number, ids in enumerate(batches) for cid in ids
            ), moment=moment)
            append_event(session, EventType.REVIEW_RUN_SELECTED, actor=actor, run_id=run_id,
                         payload={"today": today.isoformat(), "customers": len(selection.reasons),
                                  "reasons": selection.counts(), "batches": len(batches), "batch_size": batch_size},
                         idempotency_key=f"review_run_selected:{run_id}")
            log.info("run %s: %d customer(s) selected in %d batch(es) of up to %d", run_id, len(selection.reasons),
                     len(batches), batch_size)
        else:
            log.info("run %s: selection already stored, reused", run_id)
        numbers = review_repo.batch_numbers(session, run_id)
        stored = review_repo.reasons_of(session, run_id)
        total = review_repo.counts(session, run_id)["customers"]
    return {"batches": numbers, "customers": total, "reasons": {p: stored.get(p, 0) for p in PURPOSES}}
