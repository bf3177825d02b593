"""recherche-entreprises parser against both recorded vintages (2023 and 2026 field sets)."""

from __future__ import annotations

from datetime import date

import pytest
from kyc_core.errors import MalformedResponse
from kyc_core.sources.models import AdministrativeStatus, LegalEntityOfficer, NaturalPersonOfficer
from kyc_core.sources.recherche import parse_search
from sources_testkit import real_json


def test_ganymede_2026_hit(shared_data):
    hits, page = parse_search(real_json(shared_data, "fr_recherche_entreprises/2026/search-880878145.json"))
    assert page.total == 1 and len(hits) == 1
    company = hits[0].company
    assert company.siren == "880878145"
    assert company.status is AdministrativeStatus.CEASED
    assert company.cessation_date == date(2022, 10, 22)
    assert company.capital_amount == 1000 and company.capital_currency == "EUR"
    assert company.head_office.siret == "88087814500015"
    assert company.head_office.status is AdministrativeStatus.CEASED
    assert company.head_office.address.one_line() == "128 RUE LA BOETIE, 75008 PARIS 8"
    (officer,) = hits[0].officers
    assert isinstance(officer, NaturalPersonOfficer)
    assert officer.last_name == "JOUPPE"
    assert officer.first_names == ("XAVIER", "MARIE", "ERWAN")
    assert (officer.birth_year, officer.birth_month) == (1990, 2)
    assert officer.role_label == "Liquidateur"


def test_2023_vintage_has_only_the_birth_year(shared_data):
    hits, _ = parse_search(real_json(shared_data, "fr_recherche_entreprises/2023/ganymede.json"))
    (officer,) = hits[0].officers
    assert (officer.birth_year, officer.birth_month) == (1990, None)
    assert officer.role_label == "Président, Liquidateur"


def test_la_poste_officers_include_legal_entities(shared_data):
    hits, _ = parse_search(real_json(shared_data, "fr_recherche_entreprises/2026/search-356000000.json"))
    company = hits[0].company
    assert company.legal_category_code == "5510"
    assert company.status is AdministrativeStatus.ACTIVE
    officers = hits[0].officers
    assert len(officers) == 23
    entities = [o for o in officers if isinstance(o, LegalEntityOfficer)]
    assert [(o.name, o.siren) for o in entities] == [
        ("SALUSTRO REYDEL", "652044371"),
        ("KPMG S.A.", "775726417"),
        ("MAZARS", "784824153"),
        ("L'ETAT", None),
    ]
    assert entities[1].role_label == "Commissaire aux comptes titulaire"


def test_text_search_reports_paging(shared_data):
    hits, page = parse_search(real_json(shared_data, "fr_recherche_entreprises/2026/search-Ganymede.json"))
    assert page.total == 116
    assert len(hits) == 10
    assert all(h.company.legal_name for h in hits)
    deep, deep_page = parse_search(real_json(shared_data, "fr_recherche_entreprises/2023/text-ganymede.json"))
    assert deep_page.offset == 20 and deep_page.total == 40


def test_answer_without_results_is_malformed():
    with pytest.raises(MalformedResponse):
        parse_search({"total_results": 0})
