"""A decision proposed because a mandatory register could not be consulted is re-assessed once it answers.

Fail closed stays the rule (an unavailable register never approves), but `review / source_unavailable` is not a
verdict on the customer: the case waits for the register, probing only the registers that were missing (a free
Sirene or BODACC call is a probe; a paid one is made only when it was missing too), then re-assesses the customer
in full and lets that new decision stand. The first decision then gets a final decision of its own, naming the new
one. Past the deadline a person decides on what is known.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from kyc_core.onboarding.pipeline import AssessmentContext, assess_customer, sources_answer
from kyc_core.store import decisions as decision_repo
from kyc_core.store.db import session_scope

log = logging.getLogger(__name__)

WAITING, NOT_NEEDED, REASSESSED, DEADLINE_PASSED = "waiting", "not_needed", "reassessed", "deadline_passed"


def awaiting_sources(decision: Any) -> list[str]:
    """The registers a pending decision is waiting for (empty when it waits for nothing)."""
    if decision.status != decision_repo.PENDING_REVIEW or not decision.lineage.get("retry"):
        return []
    return list(decision.lineage.get("retry_sources") or [])


def reassess_when_sources_answer(ctx: AssessmentContext, decision_id: str, *, deadline: timedelta,
                                 now: datetime | None = None) -> dict[str, Any]:
    """Probe the missing registers; when they answer, re-assess and supersede; the outcome of this attempt."""
    now = now or datetime.now(UTC)
    with session_scope(ctx.database_url) as session:
        decision = decision_repo.get(session, decision_id)
        if decision is None:
            raise LookupError(f"decision {decision_id} does not exist")
        state = decision_repo.state_of(session, decision)
        missing = awaiting_sources(decision) if state.status != decision_repo.FINAL else []
        customer_id, created = decision.customer_id, decision.created_at
    if not missing:
        return {"status": NOT_NEEDED, "decision_id": decision_id}
    created = created if created.tzinfo else created.replace(tzinfo=UTC)
    if now - created > deadline:
        log.warning("decision %s: registers %s still unavailable after %s: a person decides", decision_id, missing, deadline)
        return {"status": DEADLINE_PASSED, "decision_id": decision_id, "missing": missing}
    if not sources_answer(ctx, customer_id, missing):
        log.info("decision %s: registers %s still unavailable", decision_id, missing)
        return {"status": WAITING, "decision_id": decision_id, "missing": missing}
    summary = assess_customer(ctx, customer_id)
    log.info("decision %s: registers %s answered; re-assessed as decision %s (%s)", decision_id, missing,
             summary["decision_id"], summary["outcome"])
    return {"status": REASSESSED, "decision_id": summary["decision_id"], "previous_decision_id": decision_id,
            "outcome": summary["outcome"]}
