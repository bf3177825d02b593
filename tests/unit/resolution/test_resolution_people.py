"""Matching people across the declaration, the RNE and the RBE: name matcher plus birth month/year."""

from __future__ import annotations

import pytest
from kyc_core.resolution import ConflictCode, SourceName, resolve_entity
from kyc_core.resolution.people import (
    NAME_MATCH_THRESHOLD,
    PartyRecord,
    births_compatible,
    compare_parties,
    names_match,
    person_names,
)
from kyc_core.screening.compare import compare_names
from kyc_core.sources.models import BeneficialOwnersResult, RneRecord
from resolution_testkit import NOW, SIREN, company, customer, officer, owner


def with_officers(*officers) -> RneRecord:
    """An RNE record for SIREN listing these officers."""
    return RneRecord(
        company=company("rne"),
        officers=officers,
        beneficial_owners=BeneficialOwnersResult.not_available(SIREN),
    )


def test_names_match_is_the_screening_matcher_for_people():
    assert (
        names_match("Jean DUPONT", "DUPONT Jean")
        == compare_names("Jean DUPONT", "DUPONT Jean", "person").score
    )
    assert names_match("Jean Dupont", "Jacques Dupont") < NAME_MATCH_THRESHOLD


@pytest.mark.parametrize(
    ("declared", "last", "first"),
    [
        ("Сергей Иванов", "IVANOV", ("Sergei",)),  # Cyrillic declaration, Latin register
        ("IVANOV Sergei", "IVANOV", ("Sergei",)),  # surname first
        ("Ivanov, Sergei", "IVANOV", ("Sergei",)),  # list style
        ("Mohamed Ben Ali", "BIN ALI", ("Muhammad",)),  # transliteration variants
        ("Hélène Lefèvre", "LEFEVRE", ("HELENE", "MARIE")),  # accents, a second given name
    ],
)
def test_declared_officer_matches_the_register_across_scripts_and_orders(declared, last, first):
    entity = resolve_entity(
        customer(declared_officers=[{"name": declared, "birth_month": "1975-06"}]),
        rne=with_officers(officer(last, first, 1975, 6)),
        now=NOW,
    )
    assert entity.conflicts == ()
    (person,) = entity.officers
    assert person.sources == (SourceName.RNE, SourceName.DECLARED)
    assert person.match_score >= NAME_MATCH_THRESHOLD
    assert person.birth_year.sources == (SourceName.RNE, SourceName.DECLARED)


def test_a_different_birth_year_blocks_the_match_even_with_the_same_name():
    entity = resolve_entity(
        customer(declared_officers=[{"name": "Sergei Ivanov", "birth_month": "1976-06"}]),
        rne=with_officers(officer("IVANOV", ("Sergei",), 1975, 6)),
        now=NOW,
    )
    assert entity.conflict_codes == (ConflictCode.DECLARED_OFFICER_NOT_IN_REGISTER,)
    assert entity.conflicts[0].details == {"declared": "Sergei Ivanov", "same_name_other_birth": True}
    assert [o.sources for o in entity.officers] == [(SourceName.RNE,), (SourceName.DECLARED,)]
    assert entity.officers[0].key != entity.officers[1].key


def test_a_different_birth_month_of_the_same_year_also_blocks():
    match = compare_parties(
        PartyRecord("person", ("Sergei Ivanov",), 1975, 7), PartyRecord("person", ("Sergei IVANOV",), 1975, 6)
    )
    assert match.matched is False and match.birth_agrees is False


def test_a_missing_birth_date_leaves_the_name_to_decide():
    entity = resolve_entity(
        customer(declared_officers=[{"name": "Sergei Ivanov"}]),
        rne=with_officers(officer("IVANOV", ("Sergei",), 1975, 6)),
        now=NOW,
    )
    assert entity.conflicts == ()
    assert entity.officers[0].birth_year.sources == (SourceName.RNE,)


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ((1975, 6), (1975, 6), True),
        ((1975, None), (1975, 6), True),
        ((1975, 6), (1976, 6), False),
        ((1975, 6), (1975, 7), False),
        ((None, None), (1975, 6), None),
    ],
)
def test_birth_compatibility(a, b, expected):
    assert births_compatible(*a, *b) is expected


def test_register_spellings_include_usage_name_and_all_given_names():
    assert person_names("DE SA FERNANDES", ("Katia", "Maria"), "FERNANDES ALVES") == (
        "Katia DE SA FERNANDES",
        "Katia Maria DE SA FERNANDES",
        "Katia FERNANDES ALVES",
        "Katia Maria FERNANDES ALVES",
    )


def test_a_person_declared_under_the_usage_name_matches():
    entity = resolve_entity(
        customer(declared_officers=[{"name": "Katia Fernandes Alves", "birth_month": "1983-01"}]),
        rne=with_officers(officer("DE SA FERNANDES", ("Katia",), 1983, 1, usage_name="FERNANDES ALVES")),
        now=NOW,
    )
    assert entity.conflicts == ()
    assert entity.officers[0].declared_name.value == "Katia Fernandes Alves"
    assert entity.officers[0].name.value == "Katia DE SA FERNANDES"


def test_one_person_as_officer_and_owner_shares_one_key_across_roles():
    entity = resolve_entity(
        customer(),
        rne=with_officers(officer("LEROY", ("Anne",), 1975, 2), officer("DURAND", ("Marie",), 1980, 5)),
        owners=BeneficialOwnersResult.declared(SIREN, [owner("LEROY", ("ANNE", "SOPHIE"), 1975, 2, 80.0)]),
        now=NOW,
    )
    assert [o.key for o in entity.officers] == ["P1", "P2"]
    assert [o.key for o in entity.beneficial_owners] == ["P1"]


def test_namesakes_born_in_different_years_get_different_keys():
    entity = resolve_entity(
        customer(),
        rne=with_officers(officer("LEROY", ("Anne",), 1975, 2)),
        owners=BeneficialOwnersResult.declared(SIREN, [owner("LEROY", ("Anne",), 1950, 2, 80.0)]),
        now=NOW,
    )
    assert entity.officers[0].key != entity.beneficial_owners[0].key


def test_pairing_is_one_to_one_best_score_first():
    entity = resolve_entity(
        customer(
            declared_officers=[
                {"name": "Jean Dupond", "birth_month": "1970-01"},
                {"name": "Jean Dupont", "birth_month": "1970-01"},
            ]
        ),
        rne=with_officers(officer("DUPONT", ("Jean",), 1970, 1)),
        now=NOW,
    )
    matched = [o for o in entity.officers if o.sources == (SourceName.RNE, SourceName.DECLARED)]
    assert len(matched) == 1 and matched[0].declared_name is None
    assert entity.conflict_codes == (ConflictCode.DECLARED_OFFICER_NOT_IN_REGISTER,)
    assert entity.conflicts[0].details["declared"] == "Jean Dupond"


def test_the_matcher_is_injectable():
    calls: list[tuple[str, str, str]] = []

    def never(a: str, b: str, kind: str) -> float:
        calls.append((a, b, kind))
        return 0.0

    entity = resolve_entity(
        customer(declared_officers=[{"name": "Anne Leroy"}]),
        rne=with_officers(officer("LEROY", ("Anne",), 1975, 2)),
        now=NOW,
        matcher=never,
    )
    assert ("Anne Leroy", "Anne LEROY", "person") in calls
    assert entity.conflict_codes == (ConflictCode.DECLARED_OFFICER_NOT_IN_REGISTER,)
