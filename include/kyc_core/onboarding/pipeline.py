"""The onboarding assessment of one customer: registers, resolution, screening, score, decision.

Each stage is recorded in the audit trail (case_created, registry_fetched, entity_resolved,
screening_completed, score_computed, document_requested, final_decision). Everything the decision
says is written in one transaction with it, so a run that stops half way leaves no half-written
decision; re-running the same run returns the decision already written.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy.orm import Session

from kyc_core.countries import iso2
from kyc_core.customers.registration import input_hash
from kyc_core.customers.request import EntityCustomer, OnboardingCustomer, PersonCustomer
from kyc_core.customers.subjects import Party, RegisteredFacts, birth_text, customer_subjects
from kyc_core.decision import decide, should_query_paid_sources
from kyc_core.errors import KycError, SourceError
from kyc_core.lists.active import active_list_hashes, load_active_parties
from kyc_core.lists.versions import active_versions
from kyc_core.policy import load_policy
from kyc_core.resilience.config import load_source_config
from kyc_core.resolution import data_quality, resolve_entity, resolve_person
from kyc_core.resolution.model import ConflictCode, ResolvedEntity, ResolvedPerson
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
from kyc_core.screening.judgements import apply_judgements
from kyc_core.screening.model import Hit, Judgement, Subject
from kyc_core.screening.persist import screener_for
from kyc_core.sources.models import BeneficialOwnersResult, BodaccNotice, Company, RneRecord
from kyc_core.store import calls as call_ledger
from kyc_core.store import customers as customer_repo
from kyc_core.store import decisions as decision_repo
from kyc_core.store import judgements as judgement_repo
from kyc_core.store import snapshots
from kyc_core.store import stages as stage_repo
from kyc_core.store.audit import EventType, append_event
from kyc_core.store.db import session_scope
from kyc_core.store.models import Customer, Decision, ScreeningHit

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
    #: Why the customer is assessed: onboarding, or a re-review (periodic, registry_event, list_change, manual).
    purpose: str = "onboarding"
    #: False for re-reviews: an assessment that changes nothing (outcome, risk level, open hits) writes no
    #: decision, only a `customer_reviewed` event, and moves the next review date.
    write_unchanged: bool = True


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
    from kyc_core.resilience.infra import InfrastructureUnavailable

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
    except InfrastructureUnavailable as exc:
        if exc.component == "kyc_database":
            raise  # nothing can be stored: the task fails and is retried
        # Redis failed outside one register's call: no register is to blame, and nothing is approved on it.
        log.warning("customer %s: registers not asked, %s", customer_id, exc)
        out.checks = {s: SourceCheck(status="unavailable", detail="infrastructure_unavailable") for s in sources}
        return out
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


# --- screening ----------------------------------------------------------------------------------------


def _birth(year: Any, month: Any) -> str | None:
    return birth_text(getattr(year, "value", None), getattr(month, "value", None))


def _value(sourced: Any) -> Any:
    return getattr(sourced, "value", None) if sourced is not None else None


def facts_from_resolved(resolved: Any) -> RegisteredFacts:
    """The names and people a resolved entity carries, for the subjects builder."""
    if resolved is None or not hasattr(resolved, "officers"):
        return RegisteredFacts()

    def party(person: Any) -> Party:
        return Party(names=tuple(n for n in (_value(person.name), _value(person.declared_name)) if n),
                     kind="person" if person.kind == "person" else "entity",
                     birth=_birth(person.birth_year, person.birth_month), nationality=_value(person.nationality))

    return RegisteredFacts(legal_name=_value(resolved.legal_name), acronym=_value(resolved.acronym),
                           officers=tuple(party(p) for p in resolved.officers),
                           owners=tuple(party(p) for p in resolved.beneficial_owners))


def subjects_of(item: OnboardingCustomer, resolved: Any) -> list[tuple[str, Subject]]:
    """Every party to screen with its role: the customer, its officers and beneficial owners."""
    return customer_subjects(item.model_dump(mode="json"), facts_from_resolved(resolved))


def _screen(
    session: Session, customer_id: str, parties: list[tuple[str, Subject]], thresholds: Thresholds, mandatory_lists: list[str]
) -> tuple[list[tuple[str, Hit]], dict[str, SourceCheck], dict[str, Any]]:
    """Screen every party against the active lists; a mandatory list without an active version is unavailable."""
    active = {v.list_key: v for v in active_versions(session)}
    checks = {key: SourceCheck(status="ok") if key in active else SourceCheck(status="unavailable", detail="no_active_version")
              for key in mandatory_lists}
    # The index of the active list versions is built once (when a version is activated) and opened here.
    screener = screener_for(active_list_hashes(session), lambda: load_active_parties(session), thresholds)
    entries = screener.entries
    judgements = [Judgement(*j) for j in judgement_repo.for_customers(session, [customer_id])]
    hits: list[tuple[str, Hit]] = []
    suppressed = 0
    for role, subject in parties:
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
        declared_name_similarity=_declared_name_similarity(resolved),
        data_quality=quality,
        sources=checks,
    )


def _declared_name_similarity(resolved: Any) -> float | None:
    """How close the declared name is to the registered names, when resolution found they differ."""
    found = [c.details.get("similarity") for c in resolved.conflicts if c.code == ConflictCode.DECLARED_NAME_MISMATCH]
    values = [float(v) for v in found if v is not None]
    return max(0.0, min(1.0, min(values))) if values else None


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


@dataclass
class _Evaluation:
    """Source checks, data quality, conflicts, the risk profile and its score at one point of the assessment."""

    checks: dict[str, SourceCheck]
    quality: float | None
    quality_breakdown: dict[str, Any]
    conflicts: list[str]
    profile: RiskProfile
    score: Any


@dataclass
class _Case:
    """What one assessment knows so far; each step below adds to it."""

    ctx: AssessmentContext
    customer_id: str
    decision_id: str
    item: OnboardingCustomer
    policy: Any
    now: datetime
    registers: _Registers = field(default_factory=_Registers)
    optional: list[str] = field(default_factory=list)
    resolved: Any = None
    parties: list[tuple[str, Subject]] = field(default_factory=list)
    hits: list[tuple[str, Hit]] = field(default_factory=list)
    list_checks: dict[str, SourceCheck] = field(default_factory=dict)
    screen_stats: dict[str, Any] = field(default_factory=dict)
    evaluation: _Evaluation | None = None
    paid: dict[str, Any] = field(default_factory=dict)
    #: What earlier stages of this assessment stored (stage name -> payload).
    stored: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def ev(self) -> _Evaluation:
        """The latest evaluation (every step after the first pass has one)."""
        if self.evaluation is None:
            raise KycError(f"customer {self.customer_id}: no evaluation yet")
        return self.evaluation

    @property
    def siren(self) -> str:
        customer = self.item.customer
        if not isinstance(customer, EntityCustomer):
            raise KycError(f"customer {self.customer_id} is a person: no register to query")
        return customer.siren

    @property
    def thresholds(self) -> Thresholds:
        spec = self.policy.spec.sanctions
        return Thresholds(review=spec.review_threshold, match=spec.match_threshold)

    @property
    def mandatory_lists(self) -> list[str]:
        return [s for s in getattr(self.policy.spec.sources.mandatory, self.item.customer.kind) if s not in REGISTERS]


def _evaluate(case: _Case) -> _Evaluation:
    """Source checks, data quality, conflicts, the risk profile and its score from what the case knows."""
    checks = {**case.registers.checks, **case.list_checks}
    quality, breakdown, conflicts = None, {}, []
    if isinstance(case.item.customer, EntityCustomer):
        screened = all(c.status == "ok" for c in case.list_checks.values())
        dq = data_quality(case.resolved, sanctions_screened=screened, now=case.now)
        quality, breakdown = dq.score, dq.breakdown()
        conflicts = [c.code.value for c in case.resolved.conflicts]
    profile = build_profile(case.item, case.resolved, case.hits, checks, quality)
    return _Evaluation(checks, quality, breakdown, conflicts, profile, compute_score(profile, case.policy))


# --- the assessment, step by step -------------------------------------------------------------------------


def summary_of(decision: Decision, customer: Customer) -> dict[str, Any]:
    """Ids, outcome and codes for XCom, notices and the demo (no names, no document numbers)."""
    return {
        "customer_id": customer.id,
        "decision_id": decision.id,
        "kind": customer.kind,
        "segment": customer.segment,
        "outcome": decision.lineage.get("proposed_outcome", decision.outcome),
        "status": decision.status,
        "requires_review": decision.status == decision_repo.PENDING_REVIEW,
        "score": round(decision.score, 4) if decision.score is not None else None,
        "risk_level": decision.risk_level,
        "strong_hits": int(decision.lineage.get("screening", {}).get("matches", 0)),
        "reference": customer.customer_ref,
        "top_reasons": [{"code": r.get("code"), "outcome": r.get("outcome"), "text": r.get("text")} for r in decision.reasons[:5]],
        "documents": [d.get("label", d.get("code")) for d in decision.documents],
        "retry": bool(decision.lineage.get("retry")),
        "approvals_required": int(decision.lineage.get("approvals_required") or 0),
        "review_run_id": decision_repo.review_run_id(decision.id) if decision.status == decision_repo.PENDING_REVIEW else None,
    }


def _open_case(ctx: AssessmentContext, customer_id: str) -> _Case | dict[str, Any]:
    """Record `case_created`; the summary instead when this run already decided for the customer."""
    decision_id = decision_id_for(customer_id, ctx.run_id)
    with session_scope(ctx.database_url) as session:
        customer = customer_repo.get(session, customer_id)
        if customer is None:
            raise KycError(f"customer {customer_id} is not registered")
        existing = decision_repo.get(session, decision_id)
        if existing is not None:
            return summary_of(existing, customer) | {"decision_written": True}
        append_event(
            session, EventType.CASE_CREATED, actor=ctx.actor, customer_id=customer_id, case_id=decision_id, run_id=ctx.run_id,
            payload={"kind": customer.kind, "segment": customer.segment, "input_hash": customer.input_hash,
                     "purpose": ctx.purpose},
            idempotency_key=f"case_created:{decision_id}",
        )
        item = OnboardingCustomer.model_validate(customer.profile)
        segment = customer.segment
    return _Case(ctx=ctx, customer_id=customer_id, decision_id=decision_id, item=item, policy=load_policy(segment),
                 now=datetime.now(UTC))


def _screen_parties(case: _Case) -> None:
    """Resolve what the registers said and screen every party it names."""
    subject = case.item.customer
    case.resolved = _resolve(subject, case.registers, case.now)
    parties = subjects_of(case.item, case.resolved)
    if case.parties and {p.key for _, p in parties} == {p.key for _, p in case.parties}:
        return
    case.parties = parties
    with session_scope(case.ctx.database_url) as session:
        case.hits, case.list_checks, case.screen_stats = _screen(
            session, case.customer_id, parties, case.thresholds, case.mandatory_lists
        )


def _buy_paid_sources(case: _Case) -> None:
    """The optional paid registers, when the first score and the month's budget allow; then re-evaluate."""
    if not case.optional:
        return
    with session_scope(case.ctx.database_url) as session:
        month_start = case.now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        spent = call_ledger.spent_since(session, case.optional, month_start)
    expected = sum(load_source_config(s).price_of(1) for s in case.optional)
    first_score = case.ev.score.score
    allowed, reason = should_query_paid_sources(first_score, None, spent, case.policy, expected_cost_eur=expected)
    case.paid = {"sources": case.optional, "queried": allowed, "reason": reason.value, "initial_risk": round(first_score, 4),
                 "spent_this_month_eur": round(spent, 2)}
    if not allowed:
        return
    case.registers.merge(_fetch_registers(case.ctx, case.customer_id, case.siren, case.optional))
    _screen_parties(case)
    case.evaluation = _evaluate(case)


def _lineage(session: Session, case: _Case, result: Any) -> dict[str, Any]:
    """Everything needed to explain and reproduce the decision."""
    ev = case.ev
    thresholds = case.thresholds
    return {
        "proposed_outcome": result.outcome.value,
        "purpose": case.ctx.purpose,
        "input_hash": input_hash(case.item),
        "registry_snapshots": snapshots.content_hashes(
            session, {s: info.get("snapshot_ids") or [] for s, info in (case.registers.summary.get("sources") or {}).items()}
        ),
        "sources": {k: v.model_dump(mode="json") for k, v in ev.checks.items()},
        "list_versions": active_list_hashes(session),
        "matcher": {"version": MATCHER_VERSION, "review_threshold": thresholds.review, "match_threshold": thresholds.match},
        "policy": case.policy.lineage(),
        "scoring_version": ev.score.scoring_version,
        "rules_version": result.rules_version,
        "profile": ev.profile.model_dump(mode="json"),
        "decision": result.to_dict(),
        "data_quality": ev.quality_breakdown,
        "conflicts": ev.conflicts,
        "screening": {k: v for k, v in case.screen_stats.items() if k != "lists"},
        "retry": result.retry,
        "retry_sources": list(result.retry_sources),
        "approvals_required": result.approvals_required,
        "paid_sources": case.paid,
    }


def _hit_rows(case: _Case) -> list[ScreeningHit]:
    return [
        ScreeningHit(
            customer_id=case.customer_id, subject_role=role, subject_key=hit.subject_key, list_key=hit.list_key,
            native_id=hit.entry_id, entry_hash=hit.content_hash, matched_name=hit.matched_name, score=hit.score,
            verdict=hit.verdict, explanation=hit.explanation, matcher_version=MATCHER_VERSION, run_id=case.ctx.run_id,
            created_at=case.now,
        )
        for role, hit in case.hits
    ]


def _audit_stages(session: Session, case: _Case, result: Any) -> None:
    """One audit event per stage of the assessment, keyed on the decision (a re-run writes none twice)."""
    ev = case.ev
    common: dict[str, Any] = {"actor": case.ctx.actor, "customer_id": case.customer_id, "case_id": case.decision_id, "run_id": case.ctx.run_id}
    missing = [getattr(s, "value", s) for s in getattr(case.resolved, "missing_sources", ())]
    stages = [
        (EventType.ENTITY_RESOLVED, {"kind": case.item.customer.kind, "conflicts": ev.conflicts, "data_quality": ev.quality,
                                     "missing_sources": missing}),
        (EventType.SCREENING_COMPLETED, dict(case.screen_stats)),
        (EventType.SCORE_COMPUTED, {"score": ev.score.score, "factors": {f.name: f.contribution for f in ev.score.factors},
                                    "policy_hash": case.policy.content_hash}),
    ]
    if result.documents:
        stages.append((EventType.DOCUMENT_REQUESTED, {"documents": [d.code for d in result.documents]}))
    for event_type, payload in stages:
        append_event(session, event_type, payload=payload, idempotency_key=f"{event_type.value}:{case.decision_id}", **common)


def _persist(case: _Case, result: Any) -> dict[str, Any]:
    """Hits, decision, customer status and stage events in one transaction; the decision's summary."""
    ev = case.ev
    outcome, pending = result.outcome.value, result.requires_human_review
    with session_scope(case.ctx.database_url) as session:
        existing = decision_repo.get(session, case.decision_id)
        if existing is not None:  # a concurrent try finished first
            return summary_of(existing, customer_repo.require(session, case.customer_id)) | {"decision_written": True}
        if not case.ctx.write_unchanged:
            same = _unchanged_decision(session, case, result)
            if same is not None:
                return _record_unchanged(session, case, result, same)
        decision = decision_repo.write_assessment(session, Decision(
            id=case.decision_id, customer_id=case.customer_id, run_id=case.ctx.run_id, outcome=outcome,
            status=decision_repo.PENDING_REVIEW if pending else decision_repo.FINAL, risk_level=result.risk_level.value,
            score=ev.score.score, reasons=[r.to_dict() for r in result.reasons], contributions=ev.score.to_dict(),
            documents=[d.to_dict() for d in result.documents], policy_version=f"{case.policy.segment.value}:{case.policy.version}",
            next_review_date=result.next_review_date, created_at=case.now, lineage=_lineage(session, case, result),
        ), _hit_rows(case), actor=case.ctx.actor)
        customer = customer_repo.apply_decision(session, case.customer_id, outcome=outcome, pending=pending,
                                                risk_level=result.risk_level.value, next_review_date=result.next_review_date,
                                                moment=case.now)
        _audit_stages(session, case, result)
        _supersede_open_decisions(session, case, decision)
        if not pending:
            decision_repo.record_final(session, decision, outcome=outcome, actor=case.ctx.actor, run_id=case.ctx.run_id,
                                       reasons=[c.value for c in result.reason_codes])
        return summary_of(decision, customer) | {"decision_written": True}


def _hit_identity(role: str, subject_key: str, list_key: str, native_id: str, entry_hash: str) -> tuple[str, ...]:
    return (role, subject_key, list_key, native_id, entry_hash)


def _unchanged_decision(session: Session, case: _Case, result: Any) -> Decision | None:
    """The customer's latest decision when this assessment says the same: outcome, risk level and open hits."""
    latest = decision_repo.latest_for_customer(session, case.customer_id)
    if latest is None:
        return None
    if latest.lineage.get("proposed_outcome", latest.outcome) != result.outcome.value:
        return None
    if latest.risk_level != result.risk_level.value:
        return None
    before = {_hit_identity(h.subject_role, h.subject_key, h.list_key, h.native_id, h.entry_hash)
              for h in decision_repo.hits_of(session, latest)}
    now = {_hit_identity(role, h.subject_key, h.list_key, h.entry_id, h.content_hash) for role, h in case.hits}
    return latest if before == now else None


def _record_unchanged(session: Session, case: _Case, result: Any, same: Decision) -> dict[str, Any]:
    """A re-review that changed nothing: a `customer_reviewed` event and the next review date, no decision row."""
    customer = customer_repo.reviewed(session, case.customer_id, next_review_date=result.next_review_date, moment=case.now)
    append_event(
        session, EventType.CUSTOMER_REVIEWED, actor=case.ctx.actor, customer_id=case.customer_id, case_id=same.id,
        run_id=case.ctx.run_id, idempotency_key=f"customer_reviewed:{case.decision_id}",
        payload={"purpose": case.ctx.purpose, "unchanged_from": same.id, "outcome": result.outcome.value,
                 "risk_level": result.risk_level.value, "score": round(case.ev.score.score, 4), "hits": len(case.hits),
                 "next_review_date": result.next_review_date.isoformat() if result.next_review_date else None},
    )
    return summary_of(same, customer) | {"decision_written": False, "unchanged_from": same.id}


def _supersede_open_decisions(session: Session, case: _Case, new: Decision) -> None:
    """One open decision per customer: an earlier one still waiting for a person is closed by this later assessment.

    Its review then has nothing left to decide, so two reviews never decide the same customer differently.
    """
    proposed = new.lineage.get("proposed_outcome", new.outcome)
    for older in decision_repo.open_for_customer(session, case.customer_id, exclude=new.id):
        decision_repo.record_final(
            session, older, outcome=proposed, actor=case.ctx.actor, run_id=case.ctx.run_id, reasons=["superseded"],
            added_reasons=[{"code": "superseded", "outcome": proposed,
                            "text": f"superseded by decision {new.id}, a later assessment of the customer"}],
        )
        log.info("customer %s: decision %s superseded by %s", case.customer_id, older.id, new.id)


def sources_answer(ctx: AssessmentContext, customer_id: str, sources: list[str]) -> bool:
    """Whether these registers answer now for the customer's company (their answers are kept as snapshots)."""
    with session_scope(ctx.database_url) as session:
        customer = customer_repo.require(session, customer_id)
        siren = customer.siren
    registers = [s for s in sources if s in REGISTERS]
    lists = [s for s in sources if s not in REGISTERS]
    if lists:
        with session_scope(ctx.database_url) as session:
            active = {v.list_key for v in active_versions(session)}
        if not set(lists) <= active:
            return False
    if not registers or not siren:
        return True
    answers = _fetch_registers(ctx, customer_id, siren, registers)
    return all(answers.checks.get(s) is not None and answers.checks[s].status == "ok" for s in registers)


# --- the stages: each stores what it found, so a cleared stage re-runs from what the earlier ones stored ---------

#: Which `_Registers` field holds each register's answer.
_REGISTER_FIELD = {"sirene": "company", "rne": "rne", "rbe": "owners", "bodacc": "notices"}
#: Stages in order, as the onboarding DAG runs them for each customer.
STAGES = ("fetch", "resolve", "screen", "score", "paid", "decide")


def _answered(row: dict[str, Any] | None) -> bool:
    """Whether a stored register answer is final for this assessment (an unavailable one is asked again)."""
    return row is not None and row["check"]["status"] != "unavailable"


def _fetch_row(registers: _Registers, source: str) -> dict[str, Any]:
    check = registers.checks.get(source) or SourceCheck(status="unavailable", detail="not_fetched")
    model = getattr(registers, _REGISTER_FIELD[source])
    if model is None:
        dumped: Any = None
    elif source == "bodacc":
        dumped = [n.model_dump(mode="json") for n in model]
    else:
        dumped = model.model_dump(mode="json")
    fetched = registers.fetched_at.get(source)
    return {"check": check.model_dump(mode="json"), "fetched_at": fetched.isoformat() if fetched else None,
            "summary": (registers.summary.get("sources") or {}).get(source), "model": dumped}


def _registers_from(stored: dict[str, dict[str, Any]], sources: list[str]) -> _Registers:
    """The register answers stored by the fetch stages; a source with no stored answer counts as unavailable."""
    out = _Registers()
    summaries: dict[str, Any] = {}
    for source in sources:
        row = stored.get(f"fetch:{source}")
        if row is None:
            out.checks[source] = SourceCheck(status="unavailable", detail="not_fetched")
            continue
        out.checks[source] = SourceCheck.model_validate(row["check"])
        if row.get("fetched_at"):
            out.fetched_at[source] = datetime.fromisoformat(row["fetched_at"])
        if row.get("summary"):
            summaries[source] = row["summary"]
        model = row.get("model")
        if model is None:
            continue
        if source == "sirene":
            out.company = Company.model_validate(model)
        elif source == "rne":
            out.rne = RneRecord.model_validate(model)
        elif source == "rbe":
            out.owners = BeneficialOwnersResult.model_validate(model)
        else:
            out.notices = tuple(BodaccNotice.model_validate(n) for n in model)
    out.summary = {"sources": summaries}
    return out


def _subject_from(data: dict[str, Any]) -> Subject:
    return Subject(key=data["key"], names=tuple(data["names"]), subject_type=data.get("subject_type", "unknown"),
                   birth_dates=tuple(data.get("birth_dates") or ()), countries=tuple(data.get("countries") or ()),
                   identifiers=tuple(data.get("identifiers") or ()))


def _restore(case: _Case) -> None:
    """Fill the case from what the earlier stages stored."""
    stored = case.stored
    if isinstance(case.item.customer, EntityCustomer):
        mandatory = set(getattr(case.policy.spec.sources.mandatory, case.item.customer.kind))
        case.optional = [s for s in case.policy.spec.sources.optional_paid if s in REGISTERS and s not in mandatory]
        if case.ctx.purpose == "registry_event":
            # A register event (a BODACC notice, an officer change) is why the customer is reviewed: every
            # register is asked, paid or not, so the review sees the event it was started for.
            case.optional = []
        bought = [s for s in case.optional if f"fetch:{s}" in stored]
        case.registers = _registers_from(stored, [s for s in REGISTERS if s not in case.optional] + bought)
    if "resolve" in stored:
        model = ResolvedPerson if isinstance(case.item.customer, PersonCustomer) else ResolvedEntity
        case.resolved = model.model_validate(stored["resolve"]["resolved"])
    if "screen" in stored:
        row = stored["screen"]
        case.parties = [(role, _subject_from(subject)) for role, subject in row["parties"]]
        case.hits = [(role, Hit(**hit)) for role, hit in row["hits"]]
        case.list_checks = {k: SourceCheck.model_validate(v) for k, v in row["list_checks"].items()}
        case.screen_stats = row["stats"]
    if "paid" in stored:
        case.paid = stored["paid"]


def _save(case: _Case, **rows: dict[str, Any]) -> None:
    with session_scope(case.ctx.database_url) as session:
        for stage, payload in rows.items():
            stage_repo.save(session, decision_id=case.decision_id, customer_id=case.customer_id, run_id=case.ctx.run_id,
                            stage=stage.replace("__", ":"), payload=payload, moment=case.now)
    case.stored.update({stage.replace("__", ":"): payload for stage, payload in rows.items()})


def _load_case(ctx: AssessmentContext, customer_id: str) -> _Case | dict[str, Any]:
    """The case with everything its earlier stages stored; the summary when the run already decided."""
    case = _open_case(ctx, customer_id)
    if isinstance(case, dict):
        return case
    with session_scope(ctx.database_url) as session:
        case.stored = stage_repo.load(session, case.decision_id)
    _restore(case)
    return case


def _do_fetch(case: _Case, sources: list[str]) -> dict[str, str]:
    """Ask these registers (those not answered yet in this assessment); the status of each."""
    if not isinstance(case.item.customer, EntityCustomer):
        return {s: "not_applicable" for s in sources}
    wanted = [s for s in sources if s not in case.optional]
    todo = [s for s in wanted if not _answered(case.stored.get(f"fetch:{s}"))]
    if todo:
        fetched = _fetch_registers(case.ctx, case.customer_id, case.siren, todo)
        _save(case, **{f"fetch__{s}": _fetch_row(fetched, s) for s in todo})
        case.registers = _registers_from(case.stored, [s for s in REGISTERS if s not in case.optional])
    return {s: ("deferred" if s in case.optional else _fetch_status(case.stored[f"fetch:{s}"]["check"])) for s in sources}


def _fetch_status(check: dict[str, Any]) -> str:
    """ok, not_found, unavailable, or infrastructure_unavailable when Redis (not the register) failed."""
    if check["status"] == "unavailable" and check.get("detail") == "infrastructure_unavailable":
        return "infrastructure_unavailable"
    return str(check["status"])


def _do_resolve(case: _Case) -> dict[str, Any]:
    case.resolved = _resolve(case.item.customer, case.registers, case.now)
    _save(case, resolve={"resolved": case.resolved.model_dump(mode="json")})
    return {"conflicts": [c.code.value for c in getattr(case.resolved, "conflicts", ())],
            "missing_sources": [getattr(m, "value", m) for m in getattr(case.resolved, "missing_sources", ())]}


def _do_screen(case: _Case) -> dict[str, Any]:
    if case.resolved is None:
        _do_resolve(case)
    case.parties = subjects_of(case.item, case.resolved)
    with session_scope(case.ctx.database_url) as session:
        case.hits, case.list_checks, case.screen_stats = _screen(
            session, case.customer_id, case.parties, case.thresholds, case.mandatory_lists
        )
    _save(case, screen={
        "parties": [[role, dataclasses.asdict(subject)] for role, subject in case.parties],
        "hits": [[role, dataclasses.asdict(hit)] for role, hit in case.hits],
        "list_checks": {k: v.model_dump(mode="json") for k, v in case.list_checks.items()},
        "stats": case.screen_stats,
    })
    return {k: v for k, v in case.screen_stats.items() if k != "lists"}


def _do_score(case: _Case) -> dict[str, Any]:
    if "screen" not in case.stored:
        _do_screen(case)
    case.evaluation = _evaluate(case)
    ev = case.ev
    row = {"score": round(ev.score.score, 4), "data_quality": ev.quality, "conflicts": ev.conflicts,
           "factors": {f.name: round(f.contribution, 4) for f in ev.score.factors}}
    _save(case, score=row)
    return row


def _do_paid(case: _Case) -> dict[str, Any]:
    """The optional paid registers when the first score and the month's budget allow (bought once per assessment)."""
    if "paid" in case.stored:
        return case.paid
    if case.evaluation is None:
        _do_score(case)
    _buy_paid_sources(case)
    if case.paid.get("queried"):
        _save(case, **{f"fetch__{s}": _fetch_row(case.registers, s) for s in case.optional})
        _save(case, resolve={"resolved": case.resolved.model_dump(mode="json")})
        _save(case, screen={
            "parties": [[role, dataclasses.asdict(subject)] for role, subject in case.parties],
            "hits": [[role, dataclasses.asdict(hit)] for role, hit in case.hits],
            "list_checks": {k: v.model_dump(mode="json") for k, v in case.list_checks.items()},
            "stats": case.screen_stats,
        })
    _save(case, paid=case.paid or {"sources": [], "queried": False, "reason": "no_optional_source"})
    return case.paid


def _do_decide(case: _Case) -> dict[str, Any]:
    if "screen" not in case.stored:
        _do_screen(case)
    case.evaluation = _evaluate(case)
    result = decide(case.ev.profile, case.ev.score, case.policy, case.ctx.today or case.now.date())
    summary = _persist(case, result)
    log.info("customer %s: %s (score %.3f, %d hit(s))", case.customer_id, summary["outcome"], case.ev.score.score,
             len(case.hits))
    return summary


def run_stage(ctx: AssessmentContext, customer_id: str, stage: str, sources: list[str] | None = None) -> dict[str, Any]:
    """Run one stage of a customer's assessment in this run (the onboarding DAG's tasks).

    Every stage reads what the earlier ones stored and stores what it found; once the run decided for the
    customer, every stage returns `{"decided": <decision id>}` and does nothing.
    """
    if stage not in STAGES:
        raise KycError(f"unknown assessment stage {stage!r}; expected one of {', '.join(STAGES)}")
    case = _load_case(ctx, customer_id)
    if isinstance(case, dict):
        return case if stage == "decide" else {"decided": case["decision_id"]}
    if stage == "fetch":
        return {"sources": _do_fetch(case, list(sources or REGISTERS))}
    steps = {"resolve": _do_resolve, "screen": _do_screen, "score": _do_score, "paid": _do_paid, "decide": _do_decide}
    return steps[stage](case)


def assess_customer(ctx: AssessmentContext, customer_id: str) -> dict[str, Any]:
    """Assess one registered customer in this run, every stage in turn; returns the summary of the decision."""
    case = _load_case(ctx, customer_id)
    if isinstance(case, dict):
        return case
    _do_fetch(case, list(REGISTERS))
    _do_resolve(case)
    _do_screen(case)
    _do_score(case)
    _do_paid(case)
    return _do_decide(case)
