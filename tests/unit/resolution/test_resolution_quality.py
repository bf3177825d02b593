"""Data-quality score: completeness of register-confirmed data and freshness from the real timestamps."""

from __future__ import annotations

from datetime import timedelta

import pytest
from kyc_core.resolution import SEED_WEIGHTS, data_quality, resolve_entity
from kyc_core.resolution.quality import freshness_credit
from kyc_core.sources.models import BeneficialOwnersResult, RneRecord
from resolution_testkit import NOW, SIREN, company, customer, officer, real_notices, real_sirene


def entity_fetched(ages: dict[str, timedelta | None], **kwargs):
    """A complete entity whose sources were fetched `ages` before NOW (None: fetch time unknown)."""
    record = RneRecord(
        company=company("rne"),
        officers=(officer("LEROY", ("Anne",), 1975, 2),),
        beneficial_owners=BeneficialOwnersResult.not_available(SIREN),
        updated_at=kwargs.pop("rne_updated_at", None),
    )
    return resolve_entity(
        customer(),
        sirene=company(),
        rne=record,
        owners=BeneficialOwnersResult.none_declared(SIREN),
        bodacc=[],
        fetched_at={s: NOW - age for s, age in ages.items() if age is not None},
        now=NOW,
        **kwargs,
    )


FRESH = {
    "sirene": timedelta(hours=1),
    "rne": timedelta(hours=1),
    "rbe": timedelta(hours=1),
    "bodacc": timedelta(0),
}


def test_seed_weights_sum_to_one():
    assert dict(SEED_WEIGHTS) == {
        "official_identifier": 0.30,
        "current_address": 0.20,
        "officers": 0.15,
        "activity_code": 0.10,
        "sanctions_screened": 0.15,
        "freshness": 0.10,
    }


@pytest.mark.parametrize(
    ("age", "credit"),
    [
        (timedelta(0), 1.0),
        (timedelta(hours=24), 1.0),
        (timedelta(days=8, hours=6), 0.75),
        (timedelta(days=15, hours=12), 0.5),
        (timedelta(days=30), 0.0),
        (timedelta(days=400), 0.0),
        (timedelta(hours=-2), 1.0),
    ],
)
def test_freshness_is_full_for_a_day_then_decays_linearly_to_zero_at_thirty_days(age, credit):
    assert freshness_credit(age) == pytest.approx(credit)


def test_complete_fresh_screened_entity_scores_one():
    quality = data_quality(entity_fetched(FRESH), sanctions_screened=True)
    assert quality.score == 1.0
    assert quality.breakdown() == dict(SEED_WEIGHTS)


def test_unscreened_entity_loses_the_screening_weight():
    quality = data_quality(entity_fetched(FRESH), sanctions_screened=False)
    assert quality.score == pytest.approx(0.85)
    assert quality.breakdown()["sanctions_screened"] == 0.0


def test_the_stalest_source_sets_freshness():
    ages = {**FRESH, "rne": timedelta(days=15, hours=12)}
    quality = data_quality(entity_fetched(ages), sanctions_screened=True)
    assert quality.breakdown()["freshness"] == pytest.approx(0.05)
    assert quality.score == pytest.approx(0.95)
    freshness = next(c for c in quality.components if c.name == "freshness")
    assert freshness.detail == "stalest rne: 372.0 h old"


def test_freshness_is_measured_again_at_a_later_time():
    entity = entity_fetched(FRESH)
    later = data_quality(entity, sanctions_screened=True, now=NOW + timedelta(days=8, hours=7))
    # The oldest answer (1 h before NOW) is now 8 days 8 h old.
    assert later.breakdown()["freshness"] == pytest.approx(0.1 * (30 - (8 + 8 / 24)) / 29, abs=1e-6)


def test_unknown_fetch_time_falls_back_on_the_source_timestamp_else_counts_as_stale():
    unknown = data_quality(entity_fetched({**FRESH, "rne": None}), sanctions_screened=True)
    assert unknown.breakdown()["freshness"] == 0.0
    dated = entity_fetched({**FRESH, "rne": None}, rne_updated_at=(NOW - timedelta(hours=3)).isoformat())
    assert data_quality(dated, sanctions_screened=True).breakdown()["freshness"] == pytest.approx(0.1)


def test_real_ganymede_scores_a_closed_head_office_and_no_officers(shared_data):
    unit, _ = real_sirene(shared_data, "ganymede")
    entity = resolve_entity(
        customer("880878145", "Ganymede"),
        sirene=unit,
        bodacc=real_notices(shared_data),
        fetched_at={"sirene": NOW - timedelta(hours=2), "bodacc": NOW - timedelta(hours=2)},
        now=NOW,
    )
    quality = data_quality(entity, sanctions_screened=True)
    assert quality.breakdown() == {
        "official_identifier": 0.30,
        "current_address": 0.10,
        "officers": 0.0,
        "activity_code": 0.10,
        "sanctions_screened": 0.15,
        "freshness": 0.10,
    }
    assert quality.score == pytest.approx(0.75)


def test_declaration_only_scores_only_declared_officers_and_screening():
    entity = resolve_entity(customer(declared_officers=[{"name": "Anne Leroy"}]), now=NOW)
    quality = data_quality(entity, sanctions_screened=True)
    assert quality.breakdown() == {
        "official_identifier": 0.0,
        "current_address": 0.0,
        "officers": 0.075,
        "activity_code": 0.0,
        "sanctions_screened": 0.15,
        "freshness": 0.0,
    }
    assert quality.score == pytest.approx(0.225)


def test_weights_are_configurable_but_must_sum_to_one():
    entity = entity_fetched({**FRESH, "sirene": timedelta(days=30)})
    custom = {**SEED_WEIGHTS, "freshness": 0.20, "official_identifier": 0.20}
    assert data_quality(entity, sanctions_screened=True, weights=custom).score == pytest.approx(0.8)
    with pytest.raises(ValueError, match="sum to 1"):
        data_quality(entity, sanctions_screened=True, weights={**SEED_WEIGHTS, "freshness": 0.5})
