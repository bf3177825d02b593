"""The four factors with their expected values, the weighted score, and its reproducibility from lineage."""

from __future__ import annotations

import json

import pytest
from kyc_core.policy import load_policy
from kyc_core.scoring import (
    SCORING_VERSION,
    FactorReason,
    PepExposure,
    RiskProfile,
    SanctionsHit,
    ScoreResult,
    activity_factor,
    combine,
    compute_score,
    geography_factor,
    pep_sanctions_factor,
    recompute_score,
    structure_factor,
)
from pydantic import ValidationError


@pytest.fixture(scope="module")
def cgp():
    return load_policy("cgp")


def person(**fields) -> RiskProfile:
    """A French resident with nothing to report, plus the given facts."""
    base = {"kind": "person", "nationality": "FR", "residence_country": "FR"}
    return RiskProfile(**(base | fields))


def entity(**fields) -> RiskProfile:
    """An active French company with declared owners, plus the given facts."""
    base = {"kind": "entity", "residence_country": "FR", "ubo_status": "declared", "company_status": "active"}
    return RiskProfile(**(base | fields))


def hit(role: str, verdict: str, score: float = 0.9) -> SanctionsHit:
    return SanctionsHit(
        role=role,
        subject_key="officer-7",
        list_key="eu_fsf",
        entry_id="EU.123.45",
        score=score,
        verdict=verdict,
    )


def codes(value) -> list[str]:
    return [r.code.value for r in value.reasons]


# --- geography -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, 0.0),
        ({"residence_country": "IR"}, 1.0),  # FATF call for action x residence
        ({"nationality": "IR"}, 0.8),  # 1.0 x nationality 0.8
        ({"business_countries": ("VG",)}, 0.54),  # grey list 0.6 x business 0.9
        ({"business_countries": ("DZ",)}, 0.72),  # EU list 0.8 outranks grey 0.6, x 0.9
        ({"chain_jurisdictions": ("MC",)}, 0.56),  # EU list 0.8 x holding chain 0.7
        ({"nationality": "IR", "residence_country": "NP"}, 0.8),  # strongest signal wins
    ],
)
def test_geography_factor_values(cgp, fields, expected):
    assert geography_factor(person(**fields), cgp).value == expected


def test_geography_reasons_name_the_list_and_its_date(cgp):
    result = geography_factor(person(residence_country="MC", business_countries=("KP",)), cgp)
    assert codes(result) == ["country_listed", "country_listed"]
    assert result.reasons[0].text == (
        "business country KP is on fatf_call_for_action as of 2025-10-24 (also on eu_high_risk_third_countries)"
    )
    assert result.reasons[0].value == 0.9
    assert result.reasons[1].text.startswith(
        "residence country MC is on eu_high_risk_third_countries as of 2025-08-05"
    )


# --- PEP and sanctions -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "expected", "code"),
    [
        ({"sanctions_hits": (hit("officer", "match"),)}, 1.0, "sanctions_match"),
        ({"sanctions_hits": (hit("subject", "review"),)}, 0.7, "sanctions_possible_match"),
        ({"sanctions_hits": (hit("beneficial_owner", "review"),)}, 0.5, "sanctions_possible_match"),
        ({"peps": (PepExposure(role="subject", category="foreign"),)}, 0.9, "pep"),
        ({"peps": (PepExposure(role="officer", category="domestic"),)}, 0.56, "pep"),  # 0.7 x 0.8
        (
            {"peps": (PepExposure(role="beneficial_owner", category="family_member"),)},
            0.54,
            "pep",
        ),  # 0.6 x 0.9
        ({"peps": (PepExposure(role="subject"),)}, 0.9, "pep"),  # no category: most exposed
    ],
)
def test_pep_sanctions_factor_values(cgp, fields, expected, code):
    result = pep_sanctions_factor(person(**fields), cgp)
    assert result.value == expected
    assert codes(result)[0] == code


def test_pep_sanctions_reasons_carry_list_ids_not_people(cgp):
    result = pep_sanctions_factor(
        person(sanctions_hits=(hit("officer", "review"), hit("officer", "match", 0.97))), cgp
    )
    assert result.value == 1.0
    assert codes(result) == ["sanctions_match", "sanctions_possible_match"]
    assert result.reasons[0].text == "confirmed match (officer) with eu_fsf entry EU.123.45 (score 0.97)"
    assert all("officer-7" not in r.text for r in result.reasons)


# --- activity --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "expected", "reason_codes"),
    [
        ({}, 0.0, []),
        ({"naf_code": "62.01Z"}, 0.0, []),
        ({"naf_code": "66.19B"}, 0.8, ["sensitive_activity"]),
        ({"naf_code": "6619b"}, 0.8, ["sensitive_activity"]),  # RNE spelling of the same code
        (
            {"naf_code": "56.30Z", "cash_intensive": True},
            0.5,
            ["sensitive_activity"],
        ),  # code already says cash
        ({"naf_code": "62.01Z", "cash_intensive": True}, 0.5, ["cash_intensive"]),
        ({"monthly_volume_eur": 150_000}, 0.5, ["unusual_volume"]),
        ({"monthly_volume_eur": 100_000}, 0.0, []),  # cgp limit is "above 100 000"
        (
            {"expected_patrimony_eur": 6_000_000, "naf_code": "92.00Z"},
            0.9,
            ["sensitive_activity", "unusual_patrimony"],
        ),
    ],
)
def test_activity_factor_values(cgp, fields, expected, reason_codes):
    result = activity_factor(entity(**fields), cgp)
    assert result.value == expected
    assert codes(result) == reason_codes


def test_unusual_volume_depends_on_the_segment():
    profile = entity(monthly_volume_eur=600_000)
    assert activity_factor(profile, load_policy("cgp")).value == 0.5
    assert activity_factor(profile, load_policy("fintech")).value == 0.0
    assert activity_factor(profile, load_policy("asset_mgmt")).value == 0.5


def test_bad_naf_code_is_refused():
    with pytest.raises(ValidationError, match="not a NAF rev. 2 code"):
        entity(naf_code="restaurant")


# --- structure -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "expected", "reason_codes"),
    [
        ({"ownership_levels": 2, "linked_entities": 3}, 0.0, []),
        ({"ownership_levels": 4}, 0.5, ["ownership_depth"]),
        ({"ownership_levels": 9}, 1.0, ["ownership_depth"]),
        ({"linked_entities": 6}, 0.6, ["linked_entities"]),
        ({"linked_entities": 11}, 0.9, ["linked_entities"]),
        ({"chain_jurisdictions": ("LU", "FR")}, 0.3, ["foreign_jurisdictions"]),
        ({"chain_jurisdictions": ("LU", "NL", "CY")}, 0.7, ["foreign_jurisdictions"]),
        ({"ubo_status": "not_available"}, 0.6, ["ubo_not_available"]),
        ({"ubo_status": "none_declared"}, 0.8, ["ubo_none_declared"]),
        ({"ubo_status": "none_declared", "ubo_expected": False}, 0.0, []),
        (
            {"ownership_levels": 3, "ubo_status": "not_available"},
            0.6,
            ["ubo_not_available", "ownership_depth"],
        ),
    ],
)
def test_structure_factor_values(cgp, fields, expected, reason_codes):
    result = structure_factor(entity(**fields), cgp)
    assert result.value == expected
    assert codes(result) == reason_codes


def test_structure_does_not_apply_to_people(cgp):
    result = structure_factor(person(ubo_status="not_available", ownership_levels=7), cgp)
    assert (result.value, result.reasons) == (0.0, ())


# --- the score ------------------------------------------------------------------------------------


def test_score_is_the_weighted_sum_with_stored_contributions(cgp):
    profile = person(
        residence_country="IR", peps=(PepExposure(role="subject", category="foreign"),), naf_code="66.19B"
    )
    result = compute_score(profile, cgp)
    table = {f.name: (f.value, f.weight, f.contribution) for f in result.factors}
    assert table == {
        "geography": (1.0, 0.40, 0.4),
        "pep_sanctions": (0.9, 0.35, 0.315),
        "activity": (0.8, 0.15, 0.12),
        "structure": (0.0, 0.10, 0.0),
    }
    assert result.score == 0.835
    assert result.scoring_version == SCORING_VERSION
    assert (result.policy_segment, result.policy_version, result.policy_hash) == (
        "cgp",
        "2025.1",
        cgp.content_hash,
    )
    assert result.factor("activity").reasons[0].code == FactorReason.SENSITIVE_ACTIVITY


def test_clean_customer_scores_zero(cgp):
    result = compute_score(entity(naf_code="62.01Z", ownership_levels=1, linked_entities=0), cgp)
    assert result.score == 0.0
    assert all(f.reasons == () for f in result.factors)


def test_score_is_capped_at_one(cgp):
    assert combine([0.4, 0.35, 0.15, 0.1, 0.2]) == 1.0
    worst = entity(
        residence_country="KP",
        sanctions_hits=(hit("subject", "match"),),
        naf_code="92.00Z",
        expected_patrimony_eur=1e9,
        ownership_levels=8,
    )
    result = compute_score(worst, cgp)
    assert result.score == 0.985  # 0.4 + 0.35 + 0.9 x 0.15 + 1.0 x 0.1
    assert result.score <= 1.0


def test_same_input_and_policy_give_the_same_result(cgp):
    profile = entity(business_countries=("VG", "LB"), ownership_levels=5, naf_code="68.10Z")
    first, second = compute_score(profile, cgp), compute_score(profile.model_copy(), cgp)
    assert first == second
    assert first.to_dict() == second.to_dict()


def test_lineage_reproduces_score_and_explanation(cgp):
    profile = entity(
        business_countries=("VG",),
        chain_jurisdictions=("LU", "MC"),
        sanctions_hits=(hit("beneficial_owner", "review", 0.61),),
        naf_code="47.77Z",
        ownership_levels=4,
    )
    result = compute_score(profile, cgp)
    stored = json.loads(json.dumps(result.to_dict()))
    assert recompute_score(stored) == result.score
    rebuilt = ScoreResult.from_dict(stored)
    assert rebuilt == result
    assert rebuilt.explain() == result.explain()
    assert result.explain().splitlines()[0] == (
        f"EDD risk score {result.score:.3f} ({SCORING_VERSION}, policy cgp 2025.1 {cgp.content_hash[:12]})"
    )


def test_tampered_lineage_no_longer_reproduces_the_score(cgp):
    result = compute_score(entity(business_countries=("VG",)), cgp)
    stored = result.to_dict()
    stored["factors"][0]["value"] = 0.2
    assert recompute_score(stored) != result.score


def test_weights_come_from_the_policy(cgp):
    profile = person(residence_country="IR")
    assert compute_score(profile, cgp).score == 0.4
    asset = load_policy("asset_mgmt")
    assert compute_score(profile, asset).policy_hash == asset.content_hash
