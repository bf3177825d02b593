"""Every decision path, fail-closed behaviour, review dates and the cost rule for paid sources."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest
from kyc_core.decision import (
    CostReason,
    Outcome,
    ReasonCode,
    add_months,
    decide,
    next_review_date,
    risk_level_for,
    should_query_paid_sources,
)
from kyc_core.errors import UserError
from kyc_core.policy import RiskLevel, Trigger, load_policy
from kyc_core.scoring import PepExposure, RiskProfile, SanctionsHit, SourceCheck, compute_score

TODAY = date(2026, 1, 31)
POLICIES = {segment: load_policy(segment) for segment in ("cgp", "fintech", "asset_mgmt")}


def all_ok(segment: str, kind: str) -> dict[str, SourceCheck]:
    """Every mandatory source of the segment answered."""
    mandatory = getattr(POLICIES[segment].spec.sources.mandatory, kind)
    return {name: SourceCheck(status="ok") for name in mandatory}


def person(segment: str = "cgp", **fields) -> RiskProfile:
    base = {
        "kind": "person",
        "nationality": "FR",
        "residence_country": "FR",
        "data_quality": 0.9,
        "sources": all_ok(segment, "person"),
    }
    return RiskProfile(**(base | fields))


def company(segment: str = "cgp", **fields) -> RiskProfile:
    base = {
        "kind": "entity",
        "residence_country": "FR",
        "naf_code": "62.01Z",
        "company_status": "active",
        "ubo_status": "declared",
        "ownership_levels": 1,
        "linked_entities": 1,
        "data_quality": 0.9,
        "sources": all_ok(segment, "entity"),
    }
    return RiskProfile(**(base | fields))


def run(profile: RiskProfile, segment: str = "cgp", today: date = TODAY):
    policy = POLICIES[segment]
    return decide(profile, compute_score(profile, policy), policy, today)


def officer_hit(verdict: str) -> SanctionsHit:
    return SanctionsHit(
        role="officer", subject_key="o1", list_key="ofac_sdn", entry_id="36216", score=0.95, verdict=verdict
    )


# --- the paths ------------------------------------------------------------------------------------


@pytest.mark.parametrize("segment", ["cgp", "fintech", "asset_mgmt"])
def test_clean_company_is_approved(segment):
    result = run(company(segment), segment)
    assert result.outcome == Outcome.APPROVE
    assert result.reason_codes == (ReasonCode.NO_ADVERSE_FINDING,)
    assert (result.score, result.risk_level) == (0.0, RiskLevel.LOW)
    assert result.next_review_date == date(2027, 1, 31)
    assert (result.requires_human_review, result.approvals_required, result.retry) == (False, 0, False)
    assert result.documents == ()
    assert result.policy_hash == POLICIES[segment].content_hash


def test_officer_on_a_sanctions_list_is_rejected_pending_four_eyes():
    result = run(company(sanctions_hits=(officer_hit("match"),)))
    assert result.outcome == Outcome.REJECT
    assert result.reason_codes[0] == ReasonCode.SANCTIONS_MATCH
    assert result.reasons[0].text == "confirmed sanctions match: officer on ofac_sdn entry 36216 (score 0.95)"
    assert (result.requires_human_review, result.approvals_required) == (True, 2)
    assert result.risk_level == RiskLevel.HIGH
    assert result.next_review_date == date(2026, 4, 30)
    assert result.documents == ()


def test_confirmed_match_is_rejected_even_when_a_source_is_down():
    sources = all_ok("cgp", "entity") | {"rne": SourceCheck(status="unavailable", detail="circuit_open")}
    result = run(company(sanctions_hits=(officer_hit("match"),), sources=sources))
    assert result.outcome == Outcome.REJECT
    assert ReasonCode.SOURCE_UNAVAILABLE in result.reason_codes
    assert (result.retry, result.retry_sources) == (True, ("rne",))


def test_possible_hit_goes_to_review():
    result = run(company(sanctions_hits=(officer_hit("review"),)))
    assert result.outcome == Outcome.REVIEW
    assert ReasonCode.SANCTIONS_POSSIBLE_MATCH in result.reason_codes
    # A person decides every review: one reviewer, never a silent "review (final)".
    assert (result.requires_human_review, result.approvals_required) == (True, 1)


@pytest.mark.parametrize("segment", ["cgp", "fintech"])
def test_declared_foreign_pep_requires_edd_with_the_pep_documents(segment):
    result = run(person(segment, peps=(PepExposure(role="subject", category="foreign"),)), segment)
    assert result.outcome == Outcome.EDD_REQUIRED
    assert ReasonCode.PEP in result.reason_codes
    pep_docs = [d.code for d in result.documents if Trigger.PEP in d.triggers]
    assert pep_docs == ["detailed_cv", "source_of_wealth", "conflict_of_interest_attestation"]
    assert (result.requires_human_review, result.approvals_required) == (True, 2)
    assert result.risk_level == RiskLevel.HIGH


def test_pep_trigger_fires_below_the_edd_score():
    result = run(person("fintech", peps=(PepExposure(role="subject", category="foreign"),)), "fintech")
    assert result.score == 0.315  # below fintech's 0.40
    assert [t.trigger for t in result.triggers] == [Trigger.PEP]
    assert result.outcome == Outcome.EDD_REQUIRED


@pytest.mark.parametrize("detail", ["circuit_open", "quota", "outage"])
def test_rne_outage_gives_review_source_unavailable_with_retry(detail):
    sources = all_ok("cgp", "entity") | {"rne": SourceCheck(status="unavailable", detail=detail)}
    result = run(company(sources=sources))
    assert result.score == 0.0
    assert result.outcome == Outcome.REVIEW
    assert result.reason_codes == (ReasonCode.SOURCE_UNAVAILABLE,)
    assert result.reasons[0].text == f"mandatory source rne {detail}: retry scheduled"
    assert (result.retry, result.retry_sources) == (True, ("rne",))


@pytest.mark.parametrize("segment", ["cgp", "fintech", "asset_mgmt"])
@pytest.mark.parametrize("kind", ["person", "entity"])
def test_no_mandatory_source_can_be_missing_from_an_approval(segment, kind):
    build = person if kind == "person" else company
    for name in getattr(POLICIES[segment].spec.sources.mandatory, kind):
        down = all_ok(segment, kind) | {name: SourceCheck(status="unavailable")}
        absent = {k: v for k, v in all_ok(segment, kind).items() if k != name}
        for sources in (down, absent):
            result = run(build(segment, sources=sources), segment)
            assert result.outcome == Outcome.REVIEW, name
            assert result.retry_sources == (name,)


def test_retry_waits_for_the_last_source_to_come_back():
    early, late = datetime(2026, 1, 31, 10, 1, tzinfo=UTC), datetime(2026, 2, 1, 0, 0, tzinfo=UTC)
    sources = all_ok("cgp", "entity") | {
        "rne": SourceCheck(status="unavailable", detail="circuit_open", retry_at=early),
        "rbe": SourceCheck(status="unavailable", detail="quota", retry_at=late),
    }
    result = run(company(sources=sources))
    assert (result.retry_sources, result.retry_at) == (("rne", "rbe"), late)
    assert result.to_dict()["retry_at"] == "2026-02-01T00:00:00+00:00"
    assert run(company()).retry_at is None


def test_source_never_consulted_is_reported_as_such():
    sources = {k: v for k, v in all_ok("cgp", "person").items() if k != "un_sc"}
    result = run(person(sources=sources))
    assert result.reasons[0].text == "mandatory source un_sc not consulted: retry scheduled"


def test_optional_source_down_does_not_block():
    sources = all_ok("fintech", "entity") | {"bodacc": SourceCheck(status="unavailable")}
    assert run(company("fintech", sources=sources), "fintech").outcome == Outcome.APPROVE


@pytest.mark.parametrize(
    ("status", "code"),
    [
        ("struck_off", ReasonCode.COMPANY_STRUCK_OFF),
        ("ceased", ReasonCode.COMPANY_CEASED),
        ("unknown", ReasonCode.COMPANY_STATUS_UNKNOWN),
    ],
)
def test_company_not_active_is_flagged_for_review(status, code):
    result = run(company(company_status=status))
    assert result.outcome == Outcome.REVIEW
    assert result.reason_codes == (code,)


def test_struck_off_company_with_edd_trigger_stays_edd():
    result = run(company(company_status="struck_off", naf_code="66.19B"))
    assert result.outcome == Outcome.EDD_REQUIRED
    assert ReasonCode.COMPANY_STRUCK_OFF in result.reason_codes


def test_insolvency_needs_edd_and_a_register_not_found_goes_to_review():
    insolvent = run(company(insolvency_proceedings=True))
    assert (insolvent.outcome, insolvent.reason_codes) == (Outcome.EDD_REQUIRED, (ReasonCode.INSOLVENCY_PROCEEDINGS,))
    sources = all_ok("cgp", "entity") | {"sirene": SourceCheck(status="not_found")}
    result = run(company(sources=sources))
    assert (result.outcome, result.reason_codes) == (Outcome.REVIEW, (ReasonCode.SUBJECT_NOT_FOUND,))
    assert result.retry is False


@pytest.mark.parametrize(("levels", "fires"), [(3, False), (4, True)])
def test_cgp_ownership_levels_trigger(levels, fires):
    result = run(company(ownership_levels=levels))
    assert (Trigger.OWNERSHIP_LEVELS in [t.trigger for t in result.triggers]) is fires
    if fires:
        assert result.outcome == Outcome.EDD_REQUIRED
        assert [d.code for d in result.documents] == [
            "ownership_chart",
            "ubo_identity_documents",
            "group_structure_rationale",
        ]
    else:
        assert result.outcome == Outcome.APPROVE  # 3 levels: structure 0.25 x 0.10 stays below review


def test_fintech_has_no_ownership_level_trigger():
    result = run(company("fintech", ownership_levels=4), "fintech")
    assert result.outcome == Outcome.APPROVE


@pytest.mark.parametrize(
    ("linked", "segment", "fires"), [(5, "fintech", False), (6, "fintech", True), (6, "cgp", False)]
)
def test_linked_entities_trigger(linked, segment, fires):
    result = run(company(segment, linked_entities=linked), segment)
    assert (Trigger.LINKED_ENTITIES in [t.trigger for t in result.triggers]) is fires
    assert (result.outcome == Outcome.EDD_REQUIRED) is fires


def test_high_risk_residence_triggers_edd_but_nationality_alone_does_not():
    resident = run(person(residence_country="LB"))
    assert resident.outcome == Outcome.EDD_REQUIRED
    assert resident.triggers[0].text == "high-risk country: residence LB"
    national = run(person(nationality="DZ"))
    assert Trigger.HIGH_RISK_COUNTRY not in [t.trigger for t in national.triggers]
    assert national.score == 0.256  # EU list 0.8 x nationality 0.8 x weight 0.40
    assert (national.outcome, national.reason_codes) == (Outcome.REVIEW, (ReasonCode.REVIEW_SCORE,))
    assert national.risk_level == RiskLevel.MEDIUM
    assert national.next_review_date == date(2026, 7, 31)


def test_sensitive_activity_trigger_follows_the_reference_data():
    remittance = run(company(naf_code="66.19B"))
    assert remittance.outcome == Outcome.EDD_REQUIRED
    assert ReasonCode.SENSITIVE_ACTIVITY in remittance.reason_codes
    bar = run(company(naf_code="56.30Z"))
    assert bar.outcome == Outcome.APPROVE  # cash-intensive but no trigger; 0.5 x 0.15 below review
    assert bar.score == 0.075


def test_score_alone_can_require_edd():
    result = run(company("asset_mgmt", business_countries=("BG",)), "asset_mgmt")
    assert result.score == 0.216  # grey list 0.6 x business 0.9 x 0.40
    assert result.triggers[-1].trigger == Trigger.HIGH_SCORE


def test_documents_are_asked_once_with_every_trigger_that_needs_them():
    result = run(person(residence_country="IR", peps=(PepExposure(role="subject", category="domestic"),)))
    wealth = [d for d in result.documents if d.code == "source_of_wealth"]
    assert len(wealth) == 1
    assert wealth[0].triggers == (Trigger.PEP, Trigger.HIGH_RISK_COUNTRY)
    assert [d.code for d in result.documents] == [
        "detailed_cv",
        "source_of_wealth",
        "conflict_of_interest_attestation",
        "source_of_funds",
        "purpose_of_relationship",
        "edd_questionnaire",
    ]


def test_ubo_not_available_counts_differently_from_none_declared():
    unavailable = run(company(ubo_status="not_available"))
    assert (unavailable.outcome, unavailable.reason_codes) == (Outcome.REVIEW, (ReasonCode.UBO_UNAVAILABLE,))
    none_declared = run(company(ubo_status="none_declared"))
    assert ReasonCode.UBO_UNAVAILABLE not in none_declared.reason_codes
    assert none_declared.score == 0.08  # structure risk 0.8 x 0.10
    fintech = run(company("fintech", ubo_status="not_available"), "fintech")
    assert ReasonCode.UBO_UNAVAILABLE not in fintech.reason_codes  # the RBE is not mandatory for fintech


def test_low_data_quality_goes_to_review():
    result = run(company(data_quality=0.4))
    assert (result.outcome, result.reason_codes) == (Outcome.REVIEW, (ReasonCode.LOW_DATA_QUALITY,))


def test_decision_refuses_a_score_from_another_policy_or_a_future_policy():
    profile = company()
    score = compute_score(profile, POLICIES["fintech"])
    with pytest.raises(UserError, match="score computed under policy"):
        decide(profile, score, POLICIES["cgp"], TODAY)
    with pytest.raises(UserError, match="effective from 2025-01-01, not on 2024-12-31"):
        decide(profile, compute_score(profile, POLICIES["cgp"]), POLICIES["cgp"], date(2024, 12, 31))


def test_decision_is_json_ready_and_deterministic():
    profile = company(sanctions_hits=(officer_hit("review"),), ownership_levels=5)
    first, second = run(profile), run(profile)
    assert first == second
    stored = json.loads(json.dumps(first.to_dict()))
    assert stored["outcome"] == "edd_required"
    assert stored["policy"]["content_hash"] == POLICIES["cgp"].content_hash
    assert stored["rules_version"] == "kyc-decision-1.1"
    assert stored["score"] == 0.25  # possible hit 0.5 x 0.35 + five levels 0.75 x 0.10
    assert [(r["code"], r["outcome"]) for r in stored["reasons"]] == [
        ("ownership_levels", "edd_required"),
        ("sanctions_possible_match", "review"),
        ("review_score", "review"),
    ]


# --- review dates -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (date(2026, 1, 31), 1, date(2026, 2, 28)),
        (date(2024, 1, 31), 1, date(2024, 2, 29)),
        (date(2025, 11, 30), 3, date(2026, 2, 28)),
        (date(2025, 12, 15), 12, date(2026, 12, 15)),
        (date(2025, 8, 31), 6, date(2026, 2, 28)),
        (date(2025, 10, 1), 3, date(2026, 1, 1)),
    ],
)
def test_add_months_clamps_to_month_end(start, months, expected):
    assert add_months(start, months) == expected


def test_cadence_and_bands_per_level():
    cgp = POLICIES["cgp"]
    assert [risk_level_for(s, cgp) for s in (0.0, 0.149, 0.15, 0.299, 0.30, 1.0)] == [
        RiskLevel.LOW,
        RiskLevel.LOW,
        RiskLevel.MEDIUM,
        RiskLevel.MEDIUM,
        RiskLevel.HIGH,
        RiskLevel.HIGH,
    ]
    day = date(2026, 3, 31)
    assert next_review_date(day, RiskLevel.HIGH, cgp) == date(2026, 6, 30)
    assert next_review_date(day, RiskLevel.MEDIUM, cgp) == date(2026, 9, 30)
    assert next_review_date(day, RiskLevel.LOW, cgp) == date(2027, 3, 31)


# --- cost rule -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("risk", "patrimony", "spent", "cost", "expected"),
    [
        (0.31, None, 0.0, 0.0, (True, CostReason.INITIAL_RISK_ABOVE_THRESHOLD)),
        (0.30, None, 0.0, 0.0, (False, CostReason.BELOW_THRESHOLDS)),
        (0.10, 500_000, 0.0, 0.0, (False, CostReason.BELOW_THRESHOLDS)),
        (0.10, 500_001, 0.0, 0.0, (True, CostReason.PATRIMONY_ABOVE_THRESHOLD)),
        (0.50, 900_000, 299.0, 0.05, (True, CostReason.INITIAL_RISK_ABOVE_THRESHOLD)),
        (0.50, None, 299.98, 0.05, (False, CostReason.MONTHLY_BUDGET_EXHAUSTED)),
        (0.50, None, 300.0, 0.0, (True, CostReason.INITIAL_RISK_ABOVE_THRESHOLD)),
        (0.50, None, 300.01, 0.0, (False, CostReason.MONTHLY_BUDGET_EXHAUSTED)),
    ],
)
def test_cost_rule_for_paid_sources(risk, patrimony, spent, cost, expected):
    assert (
        should_query_paid_sources(risk, patrimony, spent, POLICIES["cgp"], expected_cost_eur=cost) == expected
    )


def test_cost_rule_without_optional_paid_sources():
    assert should_query_paid_sources(0.9, 1e7, 0.0, POLICIES["asset_mgmt"]) == (
        False,
        CostReason.NO_OPTIONAL_PAID_SOURCES,
    )
    assert should_query_paid_sources(0.9, None, 1999.0, POLICIES["fintech"])[0] is True
