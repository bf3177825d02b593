"""RNE parsers (company, officers, beneficial owners) against real recorded INPI records."""

from __future__ import annotations

import copy
import csv
from datetime import date

import pytest
from kyc_core.errors import MalformedResponse
from kyc_core.sources.labels import CONTROL_MODE_LABELS, LEGAL_CATEGORY_LABELS, ROLE_LABELS
from kyc_core.sources.models import (
    AdministrativeStatus,
    BeneficialOwnersAvailability,
    BeneficialOwnersResult,
    LegalEntityOfficer,
    NaturalPersonOfficer,
)
from kyc_core.sources.rne import parse_beneficial_owners, parse_company, parse_officers, parse_record
from sources_testkit import real_json
from stdnum.fr import siren as stdnum_siren


@pytest.fixture
def bkmd(shared_data):
    """BKMD CAPITAL (980704894), current record format, with two beneficial owners."""
    return real_json(shared_data, "fr_inpi/neolegal/company.json")


@pytest.fixture
def kanta_pair(shared_data):
    """KANTA and GRINTO, 2023 record format with `xxxPresent` flags and an ENTREPRISE officer."""
    return real_json(shared_data, "fr_inpi/kanta/SearchCompanies/searchByMultipleSiren.json")


def test_company_identity_from_current_format(bkmd):
    company = parse_company(bkmd)
    assert company.siren == "980704894"
    assert company.legal_name == "BKMD CAPITAL"
    assert company.legal_category_code == "5710"
    assert company.legal_category_label == "SAS, société par actions simplifiée"
    assert company.naf_code == "41.10A"
    assert company.capital_amount == 1000.0 and company.capital_currency == "EUR"
    assert company.creation_date == date(2023, 11, 2)
    assert company.status is AdministrativeStatus.ACTIVE
    assert company.head_office is not None
    assert company.head_office.siret == "98070489400016"
    assert company.head_office.address.postal_code == "94500"
    assert company.head_office.address.city == "Champigny-sur-Marne"
    assert company.head_office.address.country_code == "FRA"


def test_natural_person_officers_with_role_labels_and_month_precision(bkmd):
    officers = parse_officers(bkmd)
    assert [o.last_name for o in officers] == ["ALVES", "DE SA FERNANDES"]
    president, ceo = officers
    assert isinstance(president, NaturalPersonOfficer)
    assert president.first_names == ("Bruno",)
    assert (president.birth_year, president.birth_month) == (1987, 9)
    assert president.role_code == "73" and president.role_label == "Président de SAS"
    assert president.nationality == "FRANÇAISE" and president.nationality_code == "FRA"
    assert ceo.role_label == "Directeur Général"
    assert ceo.usage_name == "FERNANDES ALVES"


def test_2023_format_roles_and_legal_entity_officer(kanta_pair):
    kanta = kanta_pair[0]
    officers = parse_officers(kanta)
    people = [o for o in officers if isinstance(o, NaturalPersonOfficer)]
    entities = [o for o in officers if isinstance(o, LegalEntityOfficer)]
    assert [(p.last_name, p.role_code, p.role_label) for p in people] == [
        ("LEMARIEY", "73", "Président de SAS"),
        ("LEPETIT", "53", "Directeur Général"),
    ]
    assert people[0].first_names == ("CLEMENT", "SIMON", "ALEXIS")
    assert (people[0].birth_year, people[0].birth_month) == (1992, 10)
    assert len(entities) == 1
    assert entities[0].name == "TBLB"
    assert entities[0].siren == "887722262" and stdnum_siren.is_valid(entities[0].siren)
    assert entities[0].role_code == "70" and entities[0].role_label == "Directeur général délégué"


def test_inactive_officers_are_left_out_unless_asked(bkmd):
    record = copy.deepcopy(bkmd)
    record["formality"]["content"]["personneMorale"]["composition"]["pouvoirs"][1]["actif"] = False
    assert [o.last_name for o in parse_officers(record)] == ["ALVES"]
    assert len(parse_officers(record, include_inactive=True)) == 2


def test_beneficial_owners_with_percentages_and_control_modes(bkmd):
    result = parse_beneficial_owners(bkmd)
    assert result.availability is BeneficialOwnersAvailability.DECLARED
    assert [o.ownership_pct for o in result.owners] == [51.0, 45.0]
    first = result.owners[0]
    assert first.last_name == "ALVES" and first.first_names == ("Bruno",)
    assert (first.birth_year, first.birth_month) == (1987, 9)
    assert first.voting_pct == 51.0
    assert first.direct_ownership_pct == 51.0 and first.indirect_ownership_pct == 0.0
    assert first.nationality_code == "FRA" and first.residence_country_code == "FRA"
    assert [(m.code, m.label) for m in first.control_modes] == [
        ("1", "Détention de plus de 25% du capital ou du droit de vote")
    ]


def test_2023_format_owners_and_duplicate_declaration(kanta_pair):
    kanta, grinto = kanta_pair
    kanta_owners = parse_beneficial_owners(kanta)
    assert [(o.last_name, o.ownership_pct, o.voting_pct) for o in kanta_owners.owners] == [
        ("LEPETIT", 27.74, 27.74),
        ("LEMARIEY", 27.74, 27.74),
    ]
    # GRINTO's record lists the same 100% owner under two ids: one owner, not two.
    grinto_owners = parse_beneficial_owners(grinto)
    assert [(o.last_name, o.ownership_pct) for o in grinto_owners.owners] == [("GUILLOUF", 100.0)]


def test_record_without_owner_block_is_not_available_not_empty(shared_data):
    irripros = real_json(shared_data, "fr_inpi/neolegal/company-IRRIPROS.json")
    result = parse_beneficial_owners(irripros)
    assert result.availability is BeneficialOwnersAvailability.NOT_AVAILABLE
    assert result.siren == "378012603"
    assert result.owners == ()
    entitled = parse_beneficial_owners(irripros, rbe_entitled=True)
    assert entitled.availability is BeneficialOwnersAvailability.NONE_DECLARED


def test_owner_block_with_only_inactive_entries_means_none_declared(bkmd):
    record = copy.deepcopy(bkmd)
    for item in record["formality"]["content"]["personneMorale"]["beneficiairesEffectifs"]:
        item["actif"] = False
    assert parse_beneficial_owners(record).availability is BeneficialOwnersAvailability.NONE_DECLARED


def test_result_refuses_contradictory_states():
    with pytest.raises(ValueError):
        BeneficialOwnersResult(siren="980704894", availability=BeneficialOwnersAvailability.DECLARED)
    assert BeneficialOwnersResult.not_available("980704894") != BeneficialOwnersResult.none_declared(
        "980704894"
    )


def test_refused_commercial_reuse_is_kept(shared_data):
    record = parse_record(real_json(shared_data, "fr_inpi/neolegal/company-IRRIPROS.json"))
    assert record.commercial_reuse_allowed is False
    assert record.company.legal_category_label == "Société à responsabilité limitée (sans autre indication)"
    assert [(o.last_name, o.role_label) for o in record.officers] == [("MARTINET", "Gérant")]


def test_sole_trader_record_yields_the_entrepreneur_as_officer(shared_data):
    records = real_json(shared_data, "fr_inpi/kanta/SearchCompanies/searchByName.json")
    record = next(r for r in records if r["siren"] == "895201283")
    parsed = parse_record(record)
    assert parsed.company.is_sole_trader
    assert parsed.company.legal_category_code == "1000"
    assert [(o.last_name, o.usage_name, o.role_label) for o in parsed.officers] == [
        ("KANTA", "MINTA", "Entrepreneur")
    ]
    assert parsed.beneficial_owners.availability is BeneficialOwnersAvailability.NOT_AVAILABLE


def test_struck_off_sole_trader_is_ceased_with_its_date(shared_data):
    records = real_json(shared_data, "fr_inpi/kanta/SearchCompanies/searchByName.json")
    company = parse_company(next(r for r in records if r["siren"] == "503419509"))
    assert company.status is AdministrativeStatus.CEASED
    assert company.cessation_date == date(2023, 3, 7)


def test_every_recorded_company_parses_with_a_valid_siren(shared_data):
    records = real_json(shared_data, "fr_inpi/kanta/SearchCompanies/searchByName.json")
    parsed = [parse_record(r) for r in records]
    assert len(parsed) == 20
    assert all(stdnum_siren.is_valid(p.company.siren) and p.company.legal_name for p in parsed)


def test_record_without_siren_is_malformed():
    with pytest.raises(MalformedResponse):
        parse_company({"formality": {"content": {}}})


def _dictionary(shared_data, sheet: str) -> dict[str, str]:
    path = shared_data / "real" / "fr_inpi" / "dictionnaire_2023_avril" / f"{sheet}.csv"
    with path.open(encoding="utf-8") as handle:
        return {row["Code"].strip(): row["Libellé"].strip() for row in csv.DictReader(handle)}


@pytest.mark.parametrize(
    ("table", "sheet", "complete"),
    [
        (ROLE_LABELS, "roleEntreprise", True),
        (CONTROL_MODE_LABELS, "modalitesDeControle", True),
        (LEGAL_CATEGORY_LABELS, "formeJuridique", False),
    ],
)
def test_embedded_labels_match_the_inpi_dictionary(shared_data, table, sheet, complete):
    dictionary = _dictionary(shared_data, sheet)
    assert {code: dictionary.get(code) for code in table} == table
    if complete:
        assert set(table) == set(dictionary)


def test_parsed_record_survives_a_json_round_trip(bkmd):
    record = parse_record(bkmd)
    restored = type(record).model_validate_json(record.model_dump_json())
    assert restored == record
    assert isinstance(restored.officers[0], NaturalPersonOfficer)
    assert restored.beneficial_owners.availability is BeneficialOwnersAvailability.DECLARED
