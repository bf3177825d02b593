"""Decision deadlines: the onboarding run's time limit from the segment policies, and what compliance is told on a miss."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from html import escape
from pathlib import Path

from kyc_core.monitoring.rendered import Rendered


def decision_deadline(policy_dir: Path | str | None = None, *, stage: str = "final") -> timedelta | None:
    """The shortest deadline of the segment policies (a batch may mix segments).

    `initial`: `decision_sla.initial_assessment_minutes`, the proposed decision (an onboarding run);
    `final`: `decision_sla.final_decision_hours`, the decision after review (a `kyc_case_review` run).
    """
    from kyc_core.policy import load_policy
    from kyc_core.policy.model import Segment

    slas = [p.spec.decision_sla for p in (load_policy(segment, policy_dir) for segment in Segment) if p.spec.decision_sla]
    if not slas:
        return None
    if stage == "initial":
        return timedelta(minutes=min(s.initial_assessment_minutes for s in slas))
    return timedelta(hours=min(s.final_decision_hours for s in slas))


@dataclass(frozen=True)
class RunCustomer:
    """A customer registered by an onboarding run, and whether its decision is final."""

    customer_id: str
    final: bool


def run_customers(session, run_id: str) -> list[RunCustomer]:
    """Customers of the run, each with whether its decision is final: those an onboarding run registered (audit
    trail), or the one customer a `kyc_case_review` run (`case__<decision id>`) reviews."""
    from sqlalchemy import select

    from kyc_core.store import decisions as decision_repo
    from kyc_core.store.audit import EventType
    from kyc_core.store.models import AuditEvent

    if (reviewed := decision_repo.decision_of_review_run(run_id)) is not None:
        decision = decision_repo.get(session, reviewed)
        if decision is None:
            return []
        return [RunCustomer(decision.customer_id, decision_repo.state_of(session, decision).status == decision_repo.FINAL)]

    rows = session.execute(
        select(AuditEvent.customer_id, AuditEvent.event_type).where(
            AuditEvent.run_id == run_id,
            AuditEvent.event_type.in_((EventType.CUSTOMER_REGISTERED.value, EventType.FINAL_DECISION.value)),
            AuditEvent.customer_id.is_not(None),
        )
    ).all()
    registered = sorted({cid for cid, kind in rows if kind == EventType.CUSTOMER_REGISTERED.value})
    final = {cid for cid, kind in rows if kind == EventType.FINAL_DECISION.value}
    return [RunCustomer(cid, cid in final) for cid in registered]


def deadline_mail(
    *, dag_id: str, run_id: str, deadline_time: datetime | str, customers: list[RunCustomer], link: str | None
) -> Rendered:
    """Compliance is told which run and which customers (ids only) have no final decision in time."""
    waiting = [c.customer_id for c in customers if not c.final]
    subject = f"[KYC][DEADLINE] {dag_id} run {run_id}: no final decision for {len(waiting)} customer(s) by the deadline"
    when = (
        deadline_time.isoformat(timespec="seconds")
        if isinstance(deadline_time, datetime)
        else str(deadline_time)
    )
    lines = [
        f"DAG: {dag_id}",
        f"Run: {run_id}",
        f"Deadline (policy decision_sla.final_decision_hours): {when}",
        f"Customers without a final decision ({len(waiting)}):",
        *[f"  {cid}" for cid in waiting],
        f"Customers already decided: {len(customers) - len(waiting)}",
    ]
    if not customers:
        lines.append("No customer was registered by this run (it failed or waits before registration).")
    if link:
        lines.append(f"Run: {link}")
    lines.append(
        "Open each case with `kyc case show <customer id>`; pending four-eyes reviews are in Required actions."
    )
    text = "\n".join(lines) + "\n"
    html = f"<h2>{escape(subject)}</h2><p>" + "<br>".join(escape(line) for line in lines) + "</p>"
    return Rendered(subject, text, html)
