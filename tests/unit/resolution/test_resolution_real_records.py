"""Resolution of the real recorded register answers (Sirene, RNE with beneficial owners, BODACC)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from kyc_core.resolution import ConflictCode, EntityStatus, SourceName, resolve_entity, sirene_last_processed
from kyc_core.sources.models import BeneficialOwnersAvailability, BeneficialOwnersResult, BodaccKind
from resolution_testkit import NOW, company, customer, real_notices, real_rne, real_sirene

GANYMEDE = "880878145"


def test_ganymede_sirene_and_bodacc_resolve_to_a_struck_off_company(shared_data):
    unit, raw = real_sirene(shared_data, "ganymede")
    entity = resolve_entity(
        customer(GANYMEDE, "Ganymède SAS"),
        sirene=unit,
        bodacc=real_notices(shared_data),
        fetched_at={"sirene": NOW, "bodacc": NOW},
        snapshot_hashes={"sirene": "a" * 64, "bodacc": "b" * 64},
        source_timestamps={"sirene": sirene_last_processed(raw)},
        now=NOW,
    )
    assert entity.siren.value == GANYMEDE
    assert entity.siren.sources == (SourceName.DECLARED, SourceName.SIRENE)
    assert entity.legal_name.value == "GANYMEDE"
    assert entity.head_office_siret.value == "88087814500015"
    assert entity.sirets.value == ("88087814500015",)
    assert entity.head_office_address.value.postal_code == "75008"
    assert entity.head_office_active.value is False
    assert entity.activity.value.code == "62.02A"
    assert entity.legal_category.value.code == "5710"
    assert entity.cessation_date.value == date(2022, 10, 22)
    # Only the striking-off is a legal event; the two filings of accounts are not.
    assert [(e.notice_id, e.kind) for e in entity.legal_events] == [("B20220227446", BodaccKind.STRIKING_OFF)]
    assert entity.status.value is EntityStatus.STRUCK_OFF
    assert entity.status.sources == (SourceName.BODACC, SourceName.SIRENE)
    assert entity.collective_proceeding_open.value is False
    # "Ganymède SAS" is the registered "GANYMEDE" once accents and legal form are set aside.
    assert entity.conflict_codes == (ConflictCode.COMPANY_STRUCK_OFF,)
    assert entity.conflicts[0].details["notice_id"] == "B20220227446"
    assert entity.missing_sources == (SourceName.RNE, SourceName.RBE)
    assert entity.officers == () and entity.beneficial_owners == ()
    assert entity.beneficial_owners_availability is None


def test_sirene_timestamp_comes_from_the_payload_as_paris_time(shared_data):
    _, raw = real_sirene(shared_data, "ganymede")
    stamp = sirene_last_processed(raw)
    assert stamp == datetime(2022, 11, 16, 3, 20, 8, tzinfo=UTC)
    unit, _ = real_sirene(shared_data, "ganymede")
    entity = resolve_entity(
        customer(GANYMEDE, "Ganymede"), sirene=unit, source_timestamps={"sirene": stamp}, now=NOW
    )
    assert entity.legal_name.provenance[0].source_timestamp == stamp


def test_bkmd_rne_record_gives_officers_owners_and_the_register_duplicate(shared_data):
    record = real_rne(shared_data, "fr_inpi/neolegal/company.json")
    entity = resolve_entity(
        customer(
            "980704894",
            "BKMD CAPITAL SAS",
            declared_officers=[{"name": "Bruno Alves", "birth_month": "1987-09", "role": "Président"}],
            declared_beneficial_owners=[
                {"name": "ALVES Bruno", "birth_month": "1987-09", "ownership_pct": 51}
            ],
        ),
        rne=record,
        fetched_at={"rne": NOW - timedelta(hours=2)},
        now=NOW,
    )
    assert [(o.key, o.name.value, o.role_code.value) for o in entity.officers] == [
        ("P1", "Bruno ALVES", "73"),
        ("P2", "Katia DE SA FERNANDES", "53"),
    ]
    president, director = entity.officers
    assert president.sources == (SourceName.RNE, SourceName.DECLARED)
    assert president.birth_month.value == 9 and president.birth_month.sources == (
        SourceName.RNE,
        SourceName.DECLARED,
    )
    assert director.sources == (SourceName.RNE,)
    # The register lists Bruno ALVES twice (51 % and 45 %): one owner, same key as the officer.
    (bruno,) = entity.beneficial_owners
    assert bruno.key == "P1"
    assert bruno.ownership_pct.value == 51.0
    assert bruno.ownership_pct.sources == (SourceName.RNE, SourceName.DECLARED)
    assert bruno.control_types.value[0].code == "1"
    assert entity.conflict_codes == (ConflictCode.REGISTER_OWNER_DUPLICATED,)
    assert entity.conflicts[0].details == {"register_pct": [45.0, 51.0]}
    # A declaration of 45 % confirms the other entry rather than the larger share.
    other = resolve_entity(
        customer(
            "980704894",
            "BKMD CAPITAL",
            declared_beneficial_owners=[
                {"name": "Bruno Alves", "birth_month": "1987-09", "ownership_pct": 45}
            ],
        ),
        rne=record,
        now=NOW,
    )
    assert other.beneficial_owners[0].ownership_pct.value == 45.0
    assert other.beneficial_owners[0].ownership_pct.sources == (SourceName.RNE, SourceName.DECLARED)
    assert other.conflict_codes == (ConflictCode.REGISTER_OWNER_DUPLICATED,)
    assert entity.beneficial_owners_availability.value is BeneficialOwnersAvailability.DECLARED
    # Without an RBE answer the RNE record's own block is the owners' source.
    assert entity.beneficial_owners_availability.sources == (SourceName.RNE,)
    assert entity.ownership_depth.value == 1
    assert entity.legal_name.provenance[0].source_timestamp == datetime(2024, 7, 3, 4, 35, 7, tzinfo=UTC)
    assert entity.missing_sources == (SourceName.SIRENE, SourceName.RBE, SourceName.BODACC)


def test_kanta_sirene_and_rne_agree_and_the_holding_officer_keeps_its_siren(shared_data):
    record = real_rne(shared_data, "fr_inpi/kanta/SearchCompanies/searchByMultipleSiren.json", 0)
    # No recorded Sirene answer exists for KANTA: the unit is built with the values INSEE publishes.
    unit = company("sirene", name="KANTA", naf_code="62.01Z")
    unit = unit.model_copy(
        update={
            "head_office": unit.head_office.model_copy(
                update={"siret": "88992432000019", "address": record.company.head_office.address}
            )
        }
    )
    entity = resolve_entity(
        customer(
            declared_officers=[
                {"name": "Clément Lemariey", "birth_month": "1992-10"},
                {"name": "TBLB SARL"},
            ],
            declared_beneficial_owners=[
                {"name": "Pierre Lepetit", "birth_month": "1991-04", "ownership_pct": 27.74},
                {"name": "Clement LEMARIEY", "birth_month": "1992-10", "ownership_pct": 27.74},
            ],
        ),
        sirene=unit,
        rne=record,
        owners=record.beneficial_owners,
        bodacc=[],
        now=NOW,
    )
    assert entity.legal_name.sources == (SourceName.SIRENE, SourceName.RNE)
    assert entity.activity.sources == (SourceName.SIRENE, SourceName.RNE)
    assert entity.head_office_address.sources == (SourceName.SIRENE, SourceName.RNE)
    assert entity.head_office_siret.value == "88992432000019"
    assert entity.conflicts == ()
    keys = {o.name.value: o.key for o in entity.officers}
    assert keys == {"CLEMENT SIMON ALEXIS LEMARIEY": "P1", "PIERRE RENE LUCIEN LEPETIT": "P2", "TBLB": "E1"}
    (holding,) = entity.linked_entities
    assert holding.siren.value == "887722262"
    assert holding.sources == (SourceName.RNE, SourceName.DECLARED)
    assert {o.name.value: o.key for o in entity.beneficial_owners} == {
        "PIERRE RENE LUCIEN LEPETIT": "P2",
        "CLEMENT SIMON ALEXIS LEMARIEY": "P1",
    }
    assert entity.beneficial_owners_availability.sources == (SourceName.RBE,)
    assert entity.collective_proceeding_open.value is False
    assert entity.missing_sources == ()


def test_grinto_without_rbe_entitlement_reports_owners_not_available(shared_data):
    record = real_rne(
        shared_data, "fr_inpi/kanta/SearchCompanies/searchByMultipleSiren.json", 1, entitled=False
    )
    # The recorded record carries the block, so an unentitled parse still lists the owner: the RBE
    # answer of an unentitled account is what says "not available".
    entity = resolve_entity(
        customer(
            "894419969",
            "Grinto",
            declared_beneficial_owners=[{"name": "Benoit Guillouf", "ownership_pct": 100}],
        ),
        rne=record,
        owners=BeneficialOwnersResult.not_available("894419969"),
        now=NOW,
    )
    assert entity.beneficial_owners_availability.value is BeneficialOwnersAvailability.NOT_AVAILABLE
    assert [o.sources for o in entity.beneficial_owners] == [(SourceName.DECLARED,)]
    assert entity.conflicts == ()
    assert entity.ownership_depth is None
