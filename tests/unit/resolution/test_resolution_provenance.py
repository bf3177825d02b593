"""Every consolidated value says where it came from: source, snapshot hash, source time and fetch time."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from kyc_core.customers.request import PersonCustomer
from kyc_core.resolution import (
    Provenance,
    ResolvedEntity,
    Sourced,
    SourceName,
    resolve_entity,
    resolve_person,
)
from kyc_core.resolution.model import LegalEvent, ResolvedParty
from kyc_core.resolution.resolve import source_time
from kyc_core.sources.models import BeneficialOwnersResult, BodaccKind, LegalEntityOfficer, RneRecord
from resolution_testkit import NOW, SIREN, company, customer, notice, officer, owner

HASHES = {s: s[0] * 64 for s in ("sirene", "rne", "rbe", "bodacc", "declared")}
FETCHED = {
    "sirene": NOW - timedelta(hours=1),
    "rne": NOW - timedelta(hours=2),
    "rbe": NOW - timedelta(hours=3),
    "bodacc": NOW - timedelta(hours=4),
    "declared": NOW - timedelta(minutes=5),
}
SIRENE_PROCESSED = datetime(2026, 11, 1, 4, 20, tzinfo=UTC)


def full_entity() -> ResolvedEntity:
    record = RneRecord(
        company=company("rne"),
        officers=(
            officer("LEROY", ("Anne",), 1975, 2, nationality_code="FRA"),
            LegalEntityOfficer(
                name="TBLB", siren="887722262", role_code="70", role_label="Directeur général délégué"
            ),
        ),
        beneficial_owners=BeneficialOwnersResult.not_available(SIREN),
        updated_at="2026-10-30T10:00:00+01:00",
    )
    return resolve_entity(
        customer(
            declared_officers=[
                {"name": "Anne Leroy", "birth_month": "1975-02", "nationality": "FR", "role": "Présidente"}
            ],
            declared_beneficial_owners=[
                {"name": "Anne Leroy", "birth_month": "1975-02", "ownership_pct": 70}
            ],
        ),
        sirene=company(acronym="KT", creation_date=date(2020, 10, 13)),
        rne=record,
        owners=BeneficialOwnersResult.declared(
            SIREN,
            [owner("LEROY", ("Anne",), 1975, 2, 70.0, nationality_code="FRA", residence_country_code="FRA")],
        ),
        bodacc=[notice("A1", BodaccKind.SALE, "2026-09-15")],
        fetched_at=FETCHED,
        snapshot_hashes=HASHES,
        source_timestamps={"sirene": SIRENE_PROCESSED},
        now=NOW,
    )


def sourced_values(node: Any, path: str = "") -> list[tuple[str, Sourced]]:
    """Every Sourced value reachable from a model, with its path."""
    found: list[tuple[str, Sourced]] = []
    if isinstance(node, Sourced):
        return [(path, node)]
    if isinstance(node, (ResolvedEntity, ResolvedParty)):
        for name in type(node).model_fields:
            found += sourced_values(getattr(node, name), f"{path}.{name}")
    elif isinstance(node, tuple):
        for i, item in enumerate(node):
            found += sourced_values(item, f"{path}[{i}]")
    return found


def test_every_field_of_the_entity_is_sourced_or_is_resolution_metadata():
    entity = full_entity()
    metadata = {
        "kind",
        "officers",
        "beneficial_owners",
        "legal_events",
        "conflicts",
        "source_provenance",
        "missing_sources",
        "resolved_at",
    }
    absent = []
    for name in type(entity).model_fields:
        value = getattr(entity, name)
        if name in metadata:
            continue
        if value is None:
            absent.append(name)
        else:
            assert isinstance(value, Sourced), f"{name} is not sourced"
    # An active company has no cessation date; everything else is known from some source.
    assert absent == ["cessation_date"]
    for party in (*entity.officers, *entity.beneficial_owners):
        for name in type(party).model_fields:
            value = getattr(party, name)
            assert name in {"key", "kind", "match_score"} or value is None or isinstance(value, Sourced), name
    assert all(isinstance(e, LegalEvent) and e.provenance for e in entity.legal_events)


def test_every_provenance_carries_the_hash_and_times_of_its_source():
    entity = full_entity()
    values = sourced_values(entity)
    assert len(values) > 30
    for path, value in values:
        assert value.provenance, path
        for prov in value.provenance:
            assert prov.snapshot_hash == HASHES[prov.source.value], path
            assert prov.fetched_at == FETCHED[prov.source.value], path
    for event in entity.legal_events:
        assert event.provenance[0].snapshot_hash == HASHES["bodacc"]
        assert event.provenance[0].record_id == event.notice_id
        assert event.provenance[0].source_timestamp == source_time(date(2026, 9, 15))


def test_source_timestamps_come_from_each_source():
    entity = full_entity()
    stamps = {s: p.source_timestamp for s, p in entity.source_provenance.items()}
    assert stamps[SourceName.SIRENE] == SIRENE_PROCESSED
    assert stamps[SourceName.RNE] == datetime(2026, 10, 30, 9, 0, tzinfo=UTC)
    assert stamps[SourceName.BODACC] == datetime(2026, 9, 14, 22, 0, tzinfo=UTC)
    assert stamps[SourceName.RBE] is None
    assert entity.missing_sources == ()


def test_agreeing_sources_are_all_listed_and_the_declaration_confirms_register_values():
    entity = full_entity()
    assert entity.siren.sources == (SourceName.DECLARED, SourceName.SIRENE, SourceName.RNE)
    assert entity.legal_name.sources == (SourceName.SIRENE, SourceName.RNE)
    assert entity.acronym.sources == (SourceName.SIRENE,)
    president, holding = entity.officers
    assert president.nationality.sources == (SourceName.RNE,)
    assert president.role.value == "Président de SAS" and president.role.sources == (SourceName.RNE,)
    assert holding.kind == "entity" and holding.siren.sources == (SourceName.RNE,)
    (anne,) = entity.beneficial_owners
    assert anne.key == president.key
    assert anne.ownership_pct.sources == (SourceName.RBE, SourceName.DECLARED)


def test_source_time_reads_naive_register_times_as_paris_time():
    assert source_time("2022-11-16T04:20:08") == datetime(2022, 11, 16, 3, 20, 8, tzinfo=UTC)
    assert source_time("2024-07-03T06:35:07+02:00") == datetime(2024, 7, 3, 4, 35, 7, tzinfo=UTC)
    assert source_time(date(2022, 7, 1)) == datetime(2022, 6, 30, 22, 0, tzinfo=UTC)
    assert source_time("not a date") is None and source_time(None) is None


def test_a_person_customer_is_resolved_from_the_declaration_only():
    declared = PersonCustomer(
        name="Anne Leroy",
        birth_date=date(1975, 2, 14),
        nationality="FR",
        residence_country="BE",
        pep_declared=True,
        pep_category="foreign",
        expected_patrimony_eur=750_000,
    )
    person = resolve_person(declared, declared_at=NOW, snapshot_hash="f" * 64, now=NOW)
    assert person.name.value == "Anne Leroy" and person.birth_date.value == date(1975, 2, 14)
    assert person.residence_country.value == "BE"
    assert person.pep_category.value == "foreign"
    assert person.occupation is None and person.monthly_volume_eur is None
    expected = (Provenance(source=SourceName.DECLARED, snapshot_hash="f" * 64, fetched_at=NOW),)
    for field in (
        "name",
        "birth_date",
        "nationality",
        "residence_country",
        "pep_declared",
        "pep_category",
        "expected_patrimony_eur",
    ):
        assert getattr(person, field).provenance == expected, field


def test_a_resolution_survives_a_json_round_trip():
    entity = full_entity()
    again = ResolvedEntity.model_validate_json(entity.model_dump_json())
    assert again == entity
    assert again.beneficial_owners[0].ownership_pct.provenance[1].source is SourceName.DECLARED


def test_naive_clock_readings_are_refused():
    with pytest.raises(ValueError, match="fetched_at\\[sirene\\] must be timezone-aware"):
        resolve_entity(
            customer(), sirene=company(), fetched_at={"sirene": datetime(2026, 11, 22, 3, 0)}, now=NOW
        )
    with pytest.raises(ValueError, match="now must be timezone-aware"):
        resolve_entity(customer(), now=datetime(2026, 11, 22, 3, 0))
