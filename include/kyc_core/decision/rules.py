"""The decision rules: from a scored customer and its policy to an outcome, reasons, documents and a review date.

Every rule states a reason with the least strict outcome it calls for; the decision is the strictest
of them. Nothing here can approve a customer that a rule flagged.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from kyc_core.decision.reasons import Outcome, ReasonCode
from kyc_core.errors import UserError
from kyc_core.policy import Policy, RiskLevel, Trigger
from kyc_core.scoring import CompanyStatus, RiskProfile, ScoreResult, SourceStatus, UboStatus

#: Changes whenever a change to these rules can change a decision; stored with every decision.
DECISION_RULES_VERSION = "kyc-decision-1.1"

#: Outcomes that wait for two approvals by two different people before they are final.
FOUR_EYES_OUTCOMES = frozenset({Outcome.EDD_REQUIRED, Outcome.REJECT})
FOUR_EYES_APPROVALS = 2
#: A `review` is decided by one reviewer: nobody is left undecided (a possible match, a source that could not be
#: consulted, a declared name that is not the registered one), and a stricter outcome needs no second pair of eyes.
SINGLE_REVIEW_APPROVALS = 1

# Registers whose "not found" means the company we are asked to onboard may not exist.
REGISTRY_SOURCES = ("sirene", "rne")
# Nationality alone does not make EDD mandatory (EBA risk-factor guidelines treat it as one factor
# among others): it weighs in the geography score, while residence, business and holding countries
# are the "relationship involving a high-risk country" of Directive (EU) 2015/849 art. 18a.
TRIGGER_COUNTRY_ROLES = ("residence", "business", "ownership_chain")


@dataclass(frozen=True, slots=True)
class DecisionReason:
    """One reason, the least strict outcome it calls for, and a sentence without personal data."""

    code: ReasonCode
    outcome: Outcome
    text: str

    def to_dict(self) -> dict[str, str]:
        """JSON-ready form."""
        return {"code": self.code.value, "outcome": self.outcome.value, "text": self.text}


@dataclass(frozen=True, slots=True)
class FiredTrigger:
    """A row of the policy's trigger table that applies to this customer."""

    trigger: Trigger
    text: str


@dataclass(frozen=True, slots=True)
class DocumentRequest:
    """A document to ask for, and the triggers that require it."""

    code: str
    label: str
    triggers: tuple[Trigger, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"code": self.code, "label": self.label, "triggers": [t.value for t in self.triggers]}


@dataclass(frozen=True, slots=True)
class DecisionResult:
    """A decision with everything needed to act on it and to explain it later."""

    outcome: Outcome
    reasons: tuple[DecisionReason, ...]
    triggers: tuple[FiredTrigger, ...]
    documents: tuple[DocumentRequest, ...]
    risk_level: RiskLevel
    score: float
    decided_on: date
    next_review_date: date
    requires_human_review: bool
    approvals_required: int
    retry: bool
    retry_sources: tuple[str, ...]
    retry_at: datetime | None
    policy_segment: str
    policy_version: str
    policy_hash: str
    scoring_version: str
    rules_version: str = DECISION_RULES_VERSION

    @property
    def reason_codes(self) -> tuple[ReasonCode, ...]:
        """The codes of the reasons, in order."""
        return tuple(r.code for r in self.reasons)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form stored with the decision."""
        return {
            "outcome": self.outcome.value,
            "reasons": [r.to_dict() for r in self.reasons],
            "triggers": [{"trigger": t.trigger.value, "text": t.text} for t in self.triggers],
            "documents": [d.to_dict() for d in self.documents],
            "risk_level": self.risk_level.value,
            "score": self.score,
            "decided_on": self.decided_on.isoformat(),
            "next_review_date": self.next_review_date.isoformat(),
            "requires_human_review": self.requires_human_review,
            "approvals_required": self.approvals_required,
            "retry": self.retry,
            "retry_sources": list(self.retry_sources),
            "retry_at": self.retry_at.isoformat() if self.retry_at else None,
            "policy": {
                "segment": self.policy_segment,
                "version": self.policy_version,
                "content_hash": self.policy_hash,
            },
            "scoring_version": self.scoring_version,
            "rules_version": self.rules_version,
        }


def add_months(day: date, months: int) -> date:
    """The same day `months` later, clamped to the month's last day (Jan 31 + 1 month = Feb 28/29)."""
    # Hand-written: python-dateutil's relativedelta does exactly this but is not a dependency.
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def risk_level_for(score: float, policy: Policy) -> RiskLevel:
    """Risk level of a score from the policy's bands."""
    bands = policy.spec.risk_bands
    if score >= bands.high_from:
        return RiskLevel.HIGH
    if score >= bands.medium_from:
        return RiskLevel.MEDIUM
    return RiskLevel.LOW


def next_review_date(today: date, level: RiskLevel, policy: Policy) -> date:
    """When the customer is due for its periodic review."""
    return add_months(today, policy.spec.review_cadence_months.months(level))


def fired_triggers(profile: RiskProfile, score: ScoreResult, policy: Policy) -> list[FiredTrigger]:
    """Rows of the trigger table that apply, in table order."""
    table = policy.spec.triggers
    fired: list[FiredTrigger] = []
    if Trigger.PEP in table and profile.peps:
        roles = ", ".join(sorted({p.role.value for p in profile.peps}))
        fired.append(FiredTrigger(Trigger.PEP, f"politically exposed person: {roles}"))
    if Trigger.HIGH_RISK_COUNTRY in table:
        listed = sorted(
            {
                f"{role} {country}"
                for role, country in profile.countries()
                if role in TRIGGER_COUNTRY_ROLES
                and any(item.triggers_edd for _, item in policy.geography.listings(country))
            }
        )
        if listed:
            fired.append(FiredTrigger(Trigger.HIGH_RISK_COUNTRY, f"high-risk country: {', '.join(listed)}"))
    rule = table.get(Trigger.OWNERSHIP_LEVELS)
    if rule and rule.above is not None and profile.ownership_levels is not None and profile.ownership_levels > rule.above:
        fired.append(
            FiredTrigger(
                Trigger.OWNERSHIP_LEVELS,
                f"{profile.ownership_levels} ownership levels (more than {rule.above})",
            )
        )
    rule = table.get(Trigger.LINKED_ENTITIES)
    if rule and rule.above is not None and profile.linked_entities is not None and profile.linked_entities > rule.above:
        fired.append(
            FiredTrigger(
                Trigger.LINKED_ENTITIES, f"{profile.linked_entities} linked entities (more than {rule.above})"
            )
        )
    activity = policy.activities.codes.get(profile.naf_code) if profile.naf_code else None
    if Trigger.SENSITIVE_ACTIVITY in table and activity is not None and activity.triggers_edd:
        fired.append(FiredTrigger(Trigger.SENSITIVE_ACTIVITY, f"sensitive activity {profile.naf_code}"))
    if score.score >= policy.spec.thresholds.edd:
        text = f"score {score.score:.3f} at or above the EDD threshold {policy.spec.thresholds.edd:.2f}"
        fired.append(FiredTrigger(Trigger.HIGH_SCORE, text))
    return fired


def documents_for(
    triggers: list[FiredTrigger] | tuple[FiredTrigger, ...], policy: Policy
) -> tuple[DocumentRequest, ...]:
    """Documents the fired triggers require, each once, in trigger-table order."""
    wanted: dict[str, list[Trigger]] = {}
    for fired in triggers:
        for code in policy.spec.triggers[fired.trigger].documents:
            wanted.setdefault(code, []).append(fired.trigger)
    return tuple(DocumentRequest(code, policy.spec.documents[code], tuple(t)) for code, t in wanted.items())


def unavailable_sources(profile: RiskProfile, policy: Policy) -> list[str]:
    """Mandatory sources for this kind of customer that did not answer (absent counts as not consulted)."""
    mandatory = getattr(policy.spec.sources.mandatory, profile.kind)
    return [
        name
        for name in mandatory
        if name not in profile.sources or profile.sources[name].status == SourceStatus.UNAVAILABLE
    ]


def retry_time(profile: RiskProfile, missing: list[str]) -> datetime | None:
    """Earliest moment every missing source may answer again: the latest of their known retry times."""
    known = [moment for name in missing if name in profile.sources and (moment := profile.sources[name].retry_at) is not None]
    return max(known) if known else None


_TRIGGER_REASON = {
    Trigger.PEP: ReasonCode.PEP,
    Trigger.HIGH_RISK_COUNTRY: ReasonCode.HIGH_RISK_COUNTRY,
    Trigger.OWNERSHIP_LEVELS: ReasonCode.OWNERSHIP_LEVELS,
    Trigger.LINKED_ENTITIES: ReasonCode.LINKED_ENTITIES,
    Trigger.SENSITIVE_ACTIVITY: ReasonCode.SENSITIVE_ACTIVITY,
    Trigger.HIGH_SCORE: ReasonCode.EDD_SCORE,
}


def _sanctions_reasons(profile: RiskProfile) -> list[DecisionReason]:
    reasons = []
    for hit in profile.sanctions_hits:
        where = f"{hit.role.value} on {hit.list_key} entry {hit.entry_id} (score {hit.score:.2f})"
        if hit.verdict == "match":
            # Zero tolerance: a confirmed match leaves no room for appetite (asset freezing, art. L.562-4 CMF).
            reasons.append(
                DecisionReason(
                    ReasonCode.SANCTIONS_MATCH, Outcome.REJECT, f"confirmed sanctions match: {where}"
                )
            )
        else:
            reasons.append(
                DecisionReason(
                    ReasonCode.SANCTIONS_POSSIBLE_MATCH, Outcome.REVIEW, f"possible sanctions match: {where}"
                )
            )
    return reasons


def _source_reasons(profile: RiskProfile, missing: list[str]) -> list[DecisionReason]:
    reasons = []
    for name in missing:
        check = profile.sources.get(name)
        if check is not None and check.detail == ReasonCode.INFRASTRUCTURE_UNAVAILABLE.value:
            # Fail closed all the same, but say whose fault it is: on-call fixes Redis, not the register.
            reasons.append(
                DecisionReason(
                    ReasonCode.INFRASTRUCTURE_UNAVAILABLE,
                    Outcome.REVIEW,
                    f"mandatory source {name} not consulted: shared state store unavailable: retry scheduled",
                )
            )
            continue
        why = (check.detail or "unavailable") if check else "not consulted"
        reasons.append(
            DecisionReason(
                ReasonCode.SOURCE_UNAVAILABLE,
                Outcome.REVIEW,
                f"mandatory source {name} {why}: retry scheduled",
            )
        )
    if profile.kind == "entity":
        for name in REGISTRY_SOURCES:
            check = profile.sources.get(name)
            if check is not None and check.status == SourceStatus.NOT_FOUND:
                reasons.append(
                    DecisionReason(
                        ReasonCode.SUBJECT_NOT_FOUND, Outcome.REVIEW, f"{name} has no record of the company"
                    )
                )
    return reasons


def _entity_reasons(profile: RiskProfile, policy: Policy) -> list[DecisionReason]:
    if profile.kind != "entity":
        return []
    reasons = []
    status = profile.company_status or CompanyStatus.UNKNOWN
    if status == CompanyStatus.STRUCK_OFF:
        reasons.append(
            DecisionReason(ReasonCode.COMPANY_STRUCK_OFF, Outcome.REVIEW, "company struck off the register")
        )
    elif status == CompanyStatus.CEASED:
        reasons.append(
            DecisionReason(ReasonCode.COMPANY_CEASED, Outcome.REVIEW, "company has ceased its activity")
        )
    elif status == CompanyStatus.UNKNOWN:
        reasons.append(
            DecisionReason(
                ReasonCode.COMPANY_STATUS_UNKNOWN, Outcome.REVIEW, "registry status could not be established"
            )
        )
    similarity = profile.declared_name_similarity
    if similarity is not None and similarity < policy.spec.identity.declared_name_min_similarity:
        # The customer must be the company the SIREN identifies: a person checks who is onboarding.
        reasons.append(
            DecisionReason(
                ReasonCode.DECLARED_NAME_MISMATCH,
                Outcome.REVIEW,
                f"declared name unlike the registered names (similarity {similarity:.2f} < "
                f"{policy.spec.identity.declared_name_min_similarity:.2f})",
            )
        )
    if profile.insolvency_proceedings:
        # Safeguard, receivership or liquidation: the company's management and funds are under a court's
        # supervision; who controls it and where its money goes need enhanced due diligence, by two people.
        reasons.append(
            DecisionReason(
                ReasonCode.INSOLVENCY_PROCEEDINGS,
                Outcome.EDD_REQUIRED,
                "insolvency proceedings published in BODACC (safeguard, receivership or liquidation)",
            )
        )
    # Restricted register access is not an empty register: where the policy relies on the RBE,
    # owners we could not see must be looked at by a person.
    if profile.ubo_status == UboStatus.NOT_AVAILABLE and "rbe" in policy.spec.sources.mandatory.entity:
        reasons.append(
            DecisionReason(
                ReasonCode.UBO_UNAVAILABLE,
                Outcome.REVIEW,
                "beneficial owners not available from the register",
            )
        )
    return reasons


def _score_reasons(profile: RiskProfile, score: ScoreResult, policy: Policy) -> list[DecisionReason]:
    reasons = []
    thresholds = policy.spec.thresholds
    if thresholds.review <= score.score < thresholds.edd:
        text = f"score {score.score:.3f} at or above the review threshold {thresholds.review:.2f}"
        reasons.append(DecisionReason(ReasonCode.REVIEW_SCORE, Outcome.REVIEW, text))
    floor = policy.spec.data_quality.review_below
    if profile.data_quality is not None and profile.data_quality < floor:
        text = f"data quality {profile.data_quality:.2f} below {floor:.2f}"
        reasons.append(DecisionReason(ReasonCode.LOW_DATA_QUALITY, Outcome.REVIEW, text))
    return reasons


def _check_inputs(score: ScoreResult, policy: Policy, today: date) -> None:
    if score.policy_hash != policy.content_hash:
        raise UserError(
            f"score computed under policy {score.policy_hash[:12]}, decision asked under {policy.content_hash[:12]}"
        )
    if today < policy.effective_from:
        raise UserError(
            f"policy {policy.segment.value} {policy.version} is effective from {policy.effective_from.isoformat()}, "
            f"not on {today.isoformat()}"
        )


def decide(profile: RiskProfile, score: ScoreResult, policy: Policy, today: date) -> DecisionResult:
    """Decide on one scored customer under the policy that scored it."""
    _check_inputs(score, policy, today)
    missing = unavailable_sources(profile, policy)
    triggers = fired_triggers(profile, score, policy)
    reasons = _sanctions_reasons(profile) + _source_reasons(profile, missing)
    reasons += [DecisionReason(_TRIGGER_REASON[t.trigger], Outcome.EDD_REQUIRED, t.text) for t in triggers]
    reasons += _entity_reasons(profile, policy) + _score_reasons(profile, score, policy)
    if not reasons:
        reasons = [DecisionReason(ReasonCode.NO_ADVERSE_FINDING, Outcome.APPROVE, "no adverse finding")]
    outcome = max((r.outcome for r in reasons), key=lambda o: o.severity)
    level = risk_level_for(score.score, policy)
    if outcome in FOUR_EYES_OUTCOMES:
        # A customer under EDD or rejected is high risk whatever the score: it sets the quarterly cadence.
        level = RiskLevel.HIGH
    four_eyes = outcome in FOUR_EYES_OUTCOMES
    approvals = FOUR_EYES_APPROVALS if four_eyes else SINGLE_REVIEW_APPROVALS if outcome == Outcome.REVIEW else 0
    return DecisionResult(
        outcome=outcome,
        reasons=tuple(sorted(reasons, key=lambda r: -r.outcome.severity)),
        triggers=tuple(triggers),
        documents=documents_for(triggers, policy) if outcome == Outcome.EDD_REQUIRED else (),
        risk_level=level,
        score=score.score,
        decided_on=today,
        next_review_date=next_review_date(today, level, policy),
        requires_human_review=approvals > 0,
        approvals_required=approvals,
        retry=bool(missing),
        retry_sources=tuple(missing),
        retry_at=retry_time(profile, missing),
        policy_segment=policy.segment.value,
        policy_version=policy.version,
        policy_hash=policy.content_hash,
        scoring_version=score.scoring_version,
    )
