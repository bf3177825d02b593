"""The onboarding assessment of one customer: registers, resolution, screening, score, decision.

Each stage is recorded in the audit trail (case_created, registry_fetched, entity_resolved,
screening_completed, score_computed, document_requested, final_decision). Everything the decision
says is written in one transaction with it, so a run that stops half way leaves no half-written
decision; re-running the same run returns the decision already written.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kyc_core.countries import iso2
from kyc_core.decision import decide, should_query_paid_sources
from kyc_core.errors import KycError, SourceError
from kyc_core.lists.active import active_list_hashes, load_active_parties
from kyc_core.lists.versions import active_versions
from kyc_core.onboarding.customers import input_hash
from kyc_core.onboarding.request import EntityCustomer, OnboardingCustomer, PersonCustomer
from kyc_core.policy import load_policy
from kyc_core.resilience.config import load_source_config
from kyc_core.resolution import data_quality, resolve_entity, resolve_person
from kyc_core.scoring import (
    CompanyStatus,
    PepExposure,
    RiskProfile,
    SanctionsHit,
    SourceCheck,
    UboStatus,
    compute_score,
)
from kyc_core.screening.compare import MATCHER_VERSION, Thresholds
from kyc_core.screening.index import Screener
from kyc_core.screening.judgements import apply_judgements
from kyc_core.screening.model import Hit, Judgement, Subject
from kyc_core.store.audit import EventType, append_event
from kyc_core.store.models import (
    Customer,
    Decision,
    MatchJudgement,
    RegistrySnapshot,
    ScreeningHit,
    SourceCall,
)

log = logging.getLogger(__name__)

# Fixed namespace: one decision id per (customer, run), so a re-run finds the decision it wrote.
_DECISION_NS = uuid.UUID("0b1e4c2d-7a55-5f0e-8d3c-2a9f6e1b4d70")
# Screening roles as stored (screening_hit.subject_role) -> roles the scoring rules speak of.
_PARTY_ROLE = {"customer": "subject", "officer": "officer", "owner": "beneficial_owner"}


@dataclass(frozen=True)
class AssessmentContext:
    """Where and as whom one assessment runs."""

    database_url: str
    run_id: str
    actor: str
    task_id: str | None = None
    redis_url: str | None = None
    key_prefix: str = "kyc:"
    #: Register endpoints; None means no register is configured (entities then fail closed to review).
    endpoints: Any = None
    today: date | None = None
    fetch_options: dict[str, Any] = field(default_factory=dict)


def decision_id_for(customer_id: str, run_id: str) -> str:
    """Deterministic decision id of a customer in a run."""
    return str(uuid.uuid5(_DECISION_NS, f"{customer_id}|{run_id}"))


# --- registers ----------------------------------------------------------------------------------------


@dataclass
class _Registers:
    """What the registers said for an entity (or nothing for a person)."""

    checks: dict[str, SourceCheck] = field(default_factory=dict)
    company: Any = None
    rne: Any = None
    owners: Any = None
    notices: Any = None
    fetched_at: dict[str, datetime] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)

    def merge(self, other: _Registers) -> None:
        """Add a second pass (the optional paid registers) to what the first pass found."""
        self.checks.update(other.checks)
        self.fetched_at.update(other.fetched_at)
        for name in ("company", "rne", "owners", "notices"):
            if getattr(other, name) is not None:
                setattr(self, name, getattr(other, name))
        sources = {**(self.summary.get("sources") or {}), **(other.summary.get("sources") or {})}
        self.summary = {**self.summary, "sources": sources}


def _fetch_registers(ctx: AssessmentContext, customer_id: str, siren: str, sources: list[str]) -> _Registers:
    """Fetch these registers; an unreachable or unconfigured register is reported unavailable."""
    from kyc_core.registry.fetch import fetch_company
    from kyc_core.resilience import CallContext

    out = _Registers()
    if ctx.endpoints is None:
        out.checks = {s: SourceCheck(status="unavailable", detail="not_configured") for s in sources}
        return out
    try:
        result = asyncio.run(
            fetch_company(
                siren,
                endpoints=ctx.endpoints,
                database_url=ctx.database_url,
                redis_url=ctx.redis_url,
                key_prefix=ctx.key_prefix,
                context=CallContext(run_id=ctx.run_id, task_id=ctx.task_id),
                customer_id=customer_id,
                sources=sources,
                actor=ctx.actor,
                **ctx.fetch_options,
            )
        )
    except (SourceError, OSError) as exc:
        log.warning("customer %s: registers unreachable (%s)", customer_id, type(exc).__name__)
        out.checks = {s: SourceCheck(status="unavailable", detail=type(exc).__name__) for s in sources}
        return out
    now = datetime.now(UTC)
    for source, outcome in result.outcomes.items():
        status = outcome.state.value
        out.checks[source] = SourceCheck(status=status, detail=outcome.error.value if outcome.error else None)
        if status == "ok":
            out.fetched_at[source] = now
    out.company, out.rne, out.owners, out.notices = result.company, result.rne, result.beneficial_owners, result.notices
    out.summary = result.summary()
    return out


def _snapshot_hashes(session: Session, summary: dict[str, Any]) -> dict[str, list[str]]:
    """Content hashes of the raw register answers used, per source (lineage)."""
    hashes: dict[str, list[str]] = {}
    for source, info in (summary.get("sources") or {}).items():
        ids = info.get("snapshot_ids") or []
        if ids:
            rows = session.scalars(select(RegistrySnapshot.content_hash).where(RegistrySnapshot.id.in_(ids))).all()
            hashes[source] = sorted(rows)
    return hashes


# --- screening ----------------------------------------------------------------------------------------


def _birth(year: Any, month: Any) -> tuple[str, ...]:
    y = getattr(year, "value", None)
    m = getattr(month, "value", None)
    if not y:
        return ()
    return (f"{y:04d}-{m:02d}",) if m else (f"{y:04d}",)


def _value(sourced: Any) -> Any:
    return getattr(sourced, "value", None) if sourced is not None else None


def subjects_of(item: OnboardingCustomer, resolved: Any) -> list[tuple[str, Subject]]:
    """Every party to screen with its role: the customer, its officers and beneficial owners."""
    from kyc_core.rescreen.parties import subject_key

    customer = item.customer
    parties: list[tuple[str, Subject]] = []
    if isinstance(customer, PersonCustomer):
        birth = customer.birth_date.isoformat()
        parties.append(
            ("customer", Subject(key=subject_key("customer", customer.name, birth), names=(customer.name,), subject_type="person",
                                birth_dates=(customer.birth_date.isoformat(),),
                                countries=tuple({customer.nationality, customer.residence_country})))
        )
        return parties
    names = tuple(dict.fromkeys(n for n in (_value(resolved.legal_name), customer.declared_name, _value(resolved.acronym)) if n))
    parties.append(
        ("customer", Subject(key=subject_key("customer", customer.declared_name), names=names, subject_type="organization", countries=("FR",)))
    )
    for role, people in (("officer", resolved.officers), ("owner", resolved.beneficial_owners)):
        for person in people:
            nationality = iso2(_value(person.nationality))
            birth = _birth(person.birth_year, person.birth_month)
            parties.append(
                (
                    role,
                    Subject(
                        key=subject_key(role, _value(person.name) or "", birth[0] if birth else None),
                        names=tuple(dict.fromkeys(n for n in (_value(person.name), _value(person.declared_name)) if n)),
                        subject_type="person" if person.kind == "person" else "organization",
                        birth_dates=birth,
                        countries=(nationality,) if nationality else (),
                    ),
                )
            )
    return parties


def _screen(
    session: Session, customer_id: str, parties: list[tuple[str, Subject]], thresholds: Thresholds, mandatory_lists: list[str]
) -> tuple[list[tuple[str, Hit]], dict[str, SourceCheck], dict[str, Any]]:
    """Screen every party against the active lists; a mandatory list without an active version is unavailable."""
    active = {v.list_key: v for v in active_versions(session)}
    checks = {key: SourceCheck(status="ok") if key in active else SourceCheck(status="unavailable", detail="no_active_version")
              for key in mandatory_lists}
    entries = load_active_parties(session)
    screener = Screener(entries, thresholds=thresholds)
    judgements = [
        Judgement(j.subject_key, j.list_key, j.native_id, j.entry_hash, j.verdict)
        for j in session.scalars(select(MatchJudgement).where(MatchJudgement.customer_id == customer_id).order_by(MatchJudgement.id))
    ]
    hits: list[tuple[str, Hit]] = []
    suppressed = 0
    for role, subject in parties:
        if not subject.names:
            continue
        judged = apply_judgements(screener.screen(subject), judgements)
        suppressed += len(judged.suppressed)
        hits += [(role, h) for h in judged.open]
    stats = {
        "parties": len(parties),
        "entries": len(entries),
        "hits": len(hits),
        "matches": sum(h.verdict == "match" for _, h in hits),
        "suppressed_by_judgement": suppressed,
        "lists": {k: v.content_hash for k, v in active.items()},
    }
    return hits, checks, stats


# --- profile ------------------------------------------------------------------------------------------

_STATUS = {"active": CompanyStatus.ACTIVE, "ceased": CompanyStatus.CEASED, "struck_off": CompanyStatus.STRUCK_OFF}
_UBO = {"declared": UboStatus.DECLARED, "none_declared": UboStatus.NONE_DECLARED, "not_available": UboStatus.NOT_AVAILABLE}


def build_profile(
    item: OnboardingCustomer, resolved: Any, hits: list[tuple[str, Hit]], checks: dict[str, SourceCheck], quality: float | None
) -> RiskProfile:
    """What the scoring rules see: countries, PEP, hits, activity, structure, status and sources."""
    sanctions = tuple(
        SanctionsHit(role=_PARTY_ROLE[role], subject_key=h.subject_key, list_key=h.list_key, entry_id=h.entry_id,
                     score=min(1.0, max(0.0, h.score)), verdict=h.verdict)
        for role, h in hits
        if h.verdict in ("match", "review")
    )
    customer = item.customer
    if isinstance(customer, PersonCustomer):
        peps = (PepExposure(role="subject", category=customer.pep_category.value if customer.pep_category else None),) if customer.pep_declared else ()
        return RiskProfile(
            kind="person", nationality=customer.nationality, residence_country=customer.residence_country, peps=peps,
            sanctions_hits=sanctions, expected_patrimony_eur=customer.expected_patrimony_eur,
            monthly_volume_eur=customer.monthly_volume_eur, data_quality=quality, sources=checks,
        )
    availability = _value(resolved.beneficial_owners_availability)
    owner_countries = tuple(
        {c for o in resolved.beneficial_owners for c in (iso2(_value(o.nationality)), iso2(_value(o.residence_country))) if c}
    )
    linked = sum(1 for p in (*resolved.officers, *resolved.beneficial_owners) if p.kind == "entity")
    status = _value(resolved.status)
    activity = _value(resolved.activity)
    return RiskProfile(
        kind="entity",
        residence_country="FR",
        business_countries=tuple(customer.business_countries),
        sanctions_hits=sanctions,
        naf_code=activity.code if activity else None,
        monthly_volume_eur=customer.monthly_volume_eur,
        ownership_levels=_value(resolved.ownership_depth),
        linked_entities=linked,
        chain_jurisdictions=tuple(sorted(c for c in owner_countries if c != "FR")),
        ubo_status=_UBO.get(getattr(availability, "value", availability), UboStatus.NOT_AVAILABLE),
        company_status=_STATUS.get(getattr(status, "value", status), CompanyStatus.UNKNOWN) if status else CompanyStatus.UNKNOWN,
        insolvency_proceedings=bool(_value(resolved.collective_proceeding_open)),
        data_quality=quality,
        sources=checks,
    )


REGISTERS = ("sirene", "rne", "rbe", "bodacc")


def _resolve(subject: Any, registers: _Registers, now: datetime) -> Any:
    """One consolidated entity (or the declared person) from what the registers said."""
    if isinstance(subject, PersonCustomer):
        return resolve_person(subject, now=now)
    return resolve_entity(
        subject, sirene=registers.company, rne=registers.rne, owners=registers.owners,
        bodacc=list(registers.notices) if registers.notices is not None else None,
        fetched_at=registers.fetched_at, now=now,
    )


def _evaluate(item, resolved, registers, hits, list_checks, policy, now):
    """Source checks, data quality, conflicts, the risk profile and its score."""
    checks = {**registers.checks, **list_checks}
    quality = None
    breakdown: dict[str, Any] = {}
    conflicts: list[str] = []
    if isinstance(item.customer, EntityCustomer):
        dq = data_quality(resolved, sanctions_screened=all(c.status == "ok" for c in list_checks.values()), now=now)
        quality, breakdown = dq.score, dq.breakdown()
        conflicts = [c.code.value for c in resolved.conflicts]
    profile = build_profile(item, resolved, hits, checks, quality)
    return checks, quality, breakdown, conflicts, profile, compute_score(profile, policy)


def _spent_this_month(session: Session, sources: list[str], now: datetime) -> float:
    """What the optional paid sources cost this calendar month, from the call ledger."""
    start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    total = session.scalar(
        select(func.coalesce(func.sum(SourceCall.cost), 0.0)).where(SourceCall.source.in_(sources), SourceCall.started_at >= start)
    )
    return float(total or 0.0)


# --- the assessment -------------------------------------------------------------------------------------


def summary_of(decision: Decision, customer: Customer) -> dict[str, Any]:
    """Ids, outcome and codes for XCom, notices and the demo (no names, no document numbers)."""
    return {
        "customer_id": customer.id,
        "decision_id": decision.id,
        "kind": customer.kind,
        "segment": customer.segment,
        "outcome": decision.lineage.get("proposed_outcome", decision.outcome),
        "status": decision.status,
        "requires_review": decision.status == "pending_review",
        "score": round(decision.score, 4) if decision.score is not None else None,
        "risk_level": decision.risk_level,
        "strong_hits": int(decision.lineage.get("screening", {}).get("matches", 0)),
        "top_reasons": [{"code": r.get("code"), "text": r.get("text")} for r in decision.reasons[:5]],
        "documents": [d.get("label", d.get("code")) for d in decision.documents],
        "retry": bool(decision.lineage.get("retry")),
    }


def assess_customer(ctx: AssessmentContext, customer_id: str) -> dict[str, Any]:
    """Assess one registered customer in this run; returns the summary of the decision."""
    from kyc_core.store.db import session_scope

    decision_id = decision_id_for(customer_id, ctx.run_id)
    with session_scope(ctx.database_url) as session:
        existing = session.get(Decision, decision_id)
        customer = session.get(Customer, customer_id)
        if customer is None:
            raise KycError(f"customer {customer_id} is not registered")
        if existing is not None:
            return summary_of(existing, customer)
        item = OnboardingCustomer.model_validate(customer.profile)
        segment = customer.segment
        append_event(
            session, EventType.CASE_CREATED, actor=ctx.actor, customer_id=customer_id, case_id=decision_id, run_id=ctx.run_id,
            payload={"kind": customer.kind, "segment": segment, "input_hash": customer.input_hash},
            idempotency_key=f"case_created:{decision_id}",
        )
    policy = load_policy(segment)
    now = datetime.now(UTC)
    today = ctx.today or now.date()
    subject = item.customer
    sanctions_spec = policy.spec.sanctions
    thresholds = Thresholds(review=sanctions_spec.review_threshold, match=sanctions_spec.match_threshold)
    mandatory = list(getattr(policy.spec.sources.mandatory, subject.kind))
    mandatory_lists = [s for s in mandatory if s not in REGISTERS]
    registers = _Registers()
    optional: list[str] = []
    if isinstance(subject, EntityCustomer):
        # Paid registers the policy lists as optional are bought only if the first pass warrants it.
        optional = [s for s in policy.spec.sources.optional_paid if s in REGISTERS and s not in mandatory]
        registers = _fetch_registers(ctx, customer_id, subject.siren, [s for s in REGISTERS if s not in optional])
    resolved = _resolve(subject, registers, now)

    with session_scope(ctx.database_url) as session:
        parties = subjects_of(item, resolved)
        hits, list_checks, screen_stats = _screen(session, customer_id, parties, thresholds, mandatory_lists)
        spent = _spent_this_month(session, optional, now) if optional else 0.0

    checks, quality, quality_breakdown, conflicts, profile, score = _evaluate(item, resolved, registers, hits, list_checks, policy, now)
    paid: dict[str, Any] = {}
    if optional:
        expected = sum(load_source_config(s).price_of(1) for s in optional)
        allowed, reason = should_query_paid_sources(score.score, None, spent, policy, expected_cost_eur=expected)
        paid = {"sources": optional, "queried": allowed, "reason": reason.value, "initial_risk": round(score.score, 4),
                "spent_this_month_eur": round(spent, 2)}
        if allowed:
            registers.merge(_fetch_registers(ctx, customer_id, subject.siren, optional))
            resolved = _resolve(subject, registers, now)
            if {p.key for _, p in subjects_of(item, resolved)} != {p.key for _, p in parties}:
                with session_scope(ctx.database_url) as session:
                    parties = subjects_of(item, resolved)
                    hits, list_checks, screen_stats = _screen(session, customer_id, parties, thresholds, mandatory_lists)
            checks, quality, quality_breakdown, conflicts, profile, score = _evaluate(
                item, resolved, registers, hits, list_checks, policy, now
            )
    result = decide(profile, score, policy, today)
    outcome = result.outcome.value
    pending = result.requires_human_review

    with session_scope(ctx.database_url) as session:
        if session.get(Decision, decision_id) is not None:  # a concurrent try finished first
            return summary_of(session.get(Decision, decision_id), session.get(Customer, customer_id))
        snapshot_hashes = _snapshot_hashes(session, registers.summary)
        for role, hit in hits:
            session.add(
                ScreeningHit(
                    customer_id=customer_id, subject_role=role, subject_key=hit.subject_key, list_key=hit.list_key,
                    native_id=hit.entry_id, entry_hash=hit.content_hash, matched_name=hit.matched_name, score=hit.score,
                    verdict=hit.verdict, explanation=hit.explanation, matcher_version=MATCHER_VERSION, run_id=ctx.run_id,
                    created_at=now,
                )
            )
        decision_dict = result.to_dict()
        decision = Decision(
            id=decision_id,
            customer_id=customer_id,
            run_id=ctx.run_id,
            outcome=outcome,
            status="pending_review" if pending else "final",
            risk_level=result.risk_level.value,
            score=score.score,
            reasons=[r.to_dict() for r in result.reasons],
            contributions=score.to_dict(),
            documents=[d.to_dict() for d in result.documents],
            policy_version=f"{policy.segment.value}:{policy.version}",
            next_review_date=result.next_review_date,
            created_at=now,
            lineage={
                "proposed_outcome": outcome,
                "input_hash": input_hash(item),
                "registry_snapshots": snapshot_hashes,
                "sources": {k: v.model_dump(mode="json") for k, v in checks.items()},
                "list_versions": active_list_hashes(session),
                "matcher": {"version": MATCHER_VERSION, "review_threshold": thresholds.review, "match_threshold": thresholds.match},
                "policy": policy.lineage(),
                "scoring_version": score.scoring_version,
                "rules_version": result.rules_version,
                "profile": profile.model_dump(mode="json"),
                "decision": decision_dict,
                "data_quality": quality_breakdown,
                "conflicts": conflicts,
                "screening": {k: v for k, v in screen_stats.items() if k != "lists"},
                "retry": result.retry,
                "retry_sources": list(result.retry_sources),
                "approvals_required": result.approvals_required,
                "paid_sources": paid,
            },
        )
        session.add(decision)
        customer = session.get(Customer, customer_id)
        customer.risk_level = result.risk_level.value
        customer.next_review_date = result.next_review_date
        customer.status = "pending_review" if pending else outcome
        customer.flagged_for_review = outcome == "review"
        customer.updated_at = now
        session.flush()
        common = {"actor": ctx.actor, "customer_id": customer_id, "case_id": decision_id, "run_id": ctx.run_id}
        append_event(session, EventType.ENTITY_RESOLVED, payload={"kind": subject.kind, "conflicts": conflicts, "data_quality": quality,
                     "missing_sources": [getattr(s, "value", s) for s in getattr(resolved, "missing_sources", ())]},
                     idempotency_key=f"entity_resolved:{decision_id}", **common)
        append_event(session, EventType.SCREENING_COMPLETED, payload={k: v for k, v in screen_stats.items()},
                     idempotency_key=f"screening_completed:{decision_id}", **common)
        append_event(session, EventType.SCORE_COMPUTED,
                     payload={"score": score.score, "factors": {f.name: f.contribution for f in score.factors},
                              "policy_hash": policy.content_hash}, idempotency_key=f"score_computed:{decision_id}", **common)
        if result.documents:
            append_event(session, EventType.DOCUMENT_REQUESTED, payload={"documents": [d.code for d in result.documents]},
                         idempotency_key=f"document_requested:{decision_id}", **common)
        if not pending:
            append_event(session, EventType.FINAL_DECISION,
                         payload={"decision_id": decision_id, "outcome": outcome, "reasons": [c.value for c in result.reason_codes],
                                  "reviewers": []}, idempotency_key=f"final_decision:{decision_id}", **common)
        summary = summary_of(decision, customer)
    log.info("customer %s: %s (score %.3f, %d hit(s))", customer_id, outcome, score.score, len(hits))
    return summary
