"""Sirene parsers against real recorded INSEE answers."""

from __future__ import annotations

from datetime import date

import pytest
from kyc_core.errors import MalformedResponse, UserError
from kyc_core.sources.base import LA_POSTE_SIREN, checked_siret
from kyc_core.sources.models import AdministrativeStatus
from kyc_core.sources.sirene import (
    company_from_siret,
    current_period,
    parse_legal_unit,
    parse_siret,
    parse_siret_search,
    with_establishments,
)
from sources_testkit import real_json
from stdnum.fr import siren as stdnum_siren
from stdnum.fr import siret as stdnum_siret

SAMPLES = [
    "finassure",
    "ganymede",
    "grand-paris",
    "la-poste",
    "manakin-production",
    "raphael",
    "red-needles",
    "sauvage",
    "severnaya",
    "solution-energie",
]


def test_ganymede_is_ceased_since_its_last_state_change(shared_data):
    company = parse_legal_unit(real_json(shared_data, "fr_insee/siren/ganymede.json"))
    assert company.siren == "880878145"
    assert company.legal_name == "GANYMEDE"
    assert company.status is AdministrativeStatus.CEASED
    assert company.cessation_date == date(2022, 10, 22)
    assert company.creation_date == date(2020, 1, 13)
    assert company.naf_code == "62.02A"
    assert company.legal_category_code == "5710"
    assert company.head_office is not None and company.head_office.siret == "88087814500015"


def test_la_poste_is_an_active_national_sa(shared_data):
    company = parse_legal_unit(real_json(shared_data, "fr_insee/siren/la-poste.json"))
    assert company.legal_name == "LA POSTE"
    assert company.legal_category_code == "5510"
    assert company.legal_category_label == "SA nationale à conseil d'administration"
    assert company.status is AdministrativeStatus.ACTIVE
    assert company.naf_code == "53.10Z"
    assert company.cessation_date is None


def test_sole_trader_name_is_built_from_person_fields(shared_data):
    company = parse_legal_unit(real_json(shared_data, "fr_insee/siren/raphael.json"))
    assert company.legal_name == "RAPHAEL DUBIGNY"
    assert company.is_sole_trader
    assert company.legal_category_label == "Entrepreneur individuel"
    assert company.status is AdministrativeStatus.CEASED


def test_partially_diffusible_unit_is_flagged(shared_data):
    company = parse_legal_unit(real_json(shared_data, "fr_insee/siren/sauvage.json"))
    assert company.publicly_diffusible is False
    assert parse_legal_unit(real_json(shared_data, "fr_insee/siren/la-poste.json")).publicly_diffusible


def test_current_state_ignores_period_order():
    periods = [
        {"dateFin": "2021-12-30", "dateDebut": "2020-01-13", "etatAdministratifUniteLegale": "A"},
        {"dateFin": None, "dateDebut": "2022-10-22", "etatAdministratifUniteLegale": "C"},
    ]
    assert current_period(periods)["etatAdministratifUniteLegale"] == "C"
    assert current_period([]) == {}


@pytest.mark.parametrize("name", SAMPLES)
def test_every_recorded_siren_is_luhn_valid_and_matches_its_establishments(shared_data, name):
    company = parse_legal_unit(real_json(shared_data, f"fr_insee/siren/{name}.json"))
    establishments, page = parse_siret_search(real_json(shared_data, f"fr_insee/siret-by-siren/{name}.json"))
    assert stdnum_siren.is_valid(company.siren)
    assert establishments, name
    assert all(e.siret.startswith(company.siren) for e in establishments)
    assert all(checked_siret(e.siret) == e.siret for e in establishments)
    if company.siren != LA_POSTE_SIREN:
        assert all(stdnum_siret.is_valid(e.siret) for e in establishments)
    assert page.total is not None and page.total >= len(establishments)


def test_real_la_poste_sirets_outside_every_checksum_are_still_accepted(shared_data):
    establishments, _ = parse_siret_search(real_json(shared_data, "fr_insee/siret-by-siren/la-poste.json"))
    failing = [e.siret for e in establishments if not stdnum_siret.is_valid(e.siret)]
    assert "35600000000345" in failing
    assert [checked_siret(s) for s in failing] == failing


def test_ordinary_siret_with_bad_checksum_is_refused():
    with pytest.raises(UserError):
        checked_siret("88087814500016")
    assert checked_siret("880 878 145 00015") == "88087814500015"


def test_siret_answer_gives_address_and_closed_status(shared_data):
    payload = real_json(shared_data, "fr_insee/siret/ganymede.json")
    etab = parse_siret(payload)
    assert etab.siret == "88087814500015"
    assert etab.is_head_office
    assert etab.status is AdministrativeStatus.CEASED
    assert etab.address is not None
    assert etab.address.one_line() == "128 RUE LA BOETIE, 75008 PARIS 8"
    assert etab.address.city_code == "75108"
    company = company_from_siret(payload)
    assert company.legal_name == "GANYMEDE" and company.status is AdministrativeStatus.CEASED
    assert company.head_office == etab


def test_la_poste_search_page_reports_the_full_total(shared_data):
    establishments, page = parse_siret_search(real_json(shared_data, "fr_insee/siret-by-siren/la-poste.json"))
    assert len(establishments) == 20
    assert page.total == 12751
    assert page.offset == 0 and page.size == 20


def test_head_office_is_filled_from_establishments(shared_data):
    company = parse_legal_unit(real_json(shared_data, "fr_insee/siren/solution-energie.json"))
    establishments, _ = parse_siret_search(
        real_json(shared_data, "fr_insee/siret-by-siren/solution-energie.json")
    )
    merged = with_establishments(company, establishments)
    assert len(merged.establishments) == 4
    assert merged.head_office is not None and merged.head_office.address is not None
    assert merged.head_office.siret == company.head_office.siret


def test_answer_without_unit_is_malformed():
    with pytest.raises(MalformedResponse):
        parse_legal_unit({"header": {"statut": 200}})
