"""Pairwise matching: what an analyst expects two names (and their qualifiers) to score."""

from __future__ import annotations

import pytest
from kyc_core.screening.compare import (
    DEFAULT_CONFIG,
    DEFAULT_THRESHOLDS,
    MATCHER_VERSION,
    compare_two_names,
    name_score_upper_bound,
    parse_date,
    score_pair,
    token_similarity,
)
from kyc_core.screening.model import entity_type
from kyc_core.screening.normalize import ORGANIZATION, PERSON, analyze_name

MATCH = DEFAULT_THRESHOLDS.match
REVIEW = DEFAULT_THRESHOLDS.review


def score(a: str, b: str, type_: str = PERSON) -> float:
    return compare_two_names(a, b, type_).score


# --- normalization ---------------------------------------------------------------------------


def test_cyrillic_and_greek_are_transliterated_to_the_same_tokens():
    assert analyze_name("Сергей Лавров", PERSON).texts == ("sergey", "lavrov")
    assert analyze_name("Κυριάκος Μητσοτάκης", PERSON).texts == ("kyriakos", "mitsotakis")


def test_diacritics_case_and_punctuation_do_not_matter():
    assert (
        analyze_name("Recep Tayyip ERDOĞAN", PERSON).texts
        == analyze_name("recep tayyip erdogan", PERSON).texts
    )
    assert analyze_name("Margarita-Simonyán", PERSON).texts == ("margarita", "simonyan")


def test_transliteration_variants_fold_to_one_spelling():
    assert (
        analyze_name("Mohamed Abdel Aziz", PERSON).texts == analyze_name("Muhammad Abd al-Aziz", PERSON).texts
    )


def test_honorifics_are_removed_and_kept_as_a_feature():
    form = analyze_name("Dr. Rami Makhlouf", PERSON)
    assert form.texts == ("rami", "makhlouf")
    assert form.honorifics == ("dr",)


def test_legal_forms_are_recognised_across_languages():
    assert analyze_name("Volkswagen Gesellschaft mit beschränkter Haftung", ORGANIZATION).legal_form == "gmbh"
    ooo = analyze_name("ООО Оборонные инициативы", ORGANIZATION)
    assert ooo.legal_form == "llc"
    assert ooo.texts == ("oboronnye", "initsiativy")
    assert analyze_name("Bowne Global Solutions, S.A.R.L.", ORGANIZATION).legal_form == "sarl"
    assert analyze_name("SCI Les Tilleuls", ORGANIZATION).legal_form == "sci"


def test_surname_first_comma_form_is_reordered_for_people():
    assert analyze_name("PUTIN, Vladimir", PERSON).texts == ("vladimir", "putin")


# --- names ----------------------------------------------------------------------------------


def test_identical_names_score_high_but_not_one():
    value = score("Vladimir Putin", "Vladimir Putin")
    assert MATCH < value < 1.0


def test_richer_exact_names_score_higher_than_single_words():
    assert score("Vladimir Vladimirovich Putin", "Vladimir Vladimirovich Putin") > score(
        "Hannibal", "Hannibal"
    )


def test_script_does_not_prevent_a_match():
    assert score("Сергей Викторович Лавров", "Sergey Viktorovich Lavrov") >= MATCH
    assert score("Володимир Зеленський", "Volodymyr Zelenskyy") >= MATCH


def test_arabic_script_compared_on_consonants():
    assert score("فرناندو بيريز", "Fernando Pérez") >= MATCH


def test_word_order_does_not_matter():
    assert score("bin Salman Mohammed", "Mohammed bin Salman") >= MATCH
    assert score("Putin, Vladimir", "Vladimir Putin") >= MATCH


def test_typos_and_transpositions_still_match():
    assert score("Vladmir Putin", "Vladimir Putin") >= MATCH
    assert score("Donlad Trump", "Donald Trump") >= MATCH
    assert score("Ig0r Sech1n", "Igor Sechin") >= MATCH


def test_a_different_given_name_is_not_a_match():
    assert score("Boris Abramovich", "Roman Abramovich") < REVIEW
    assert score("Hans O Friedrich", "Hans Joachim Friedrich") < MATCH


def test_a_different_family_name_is_not_a_match():
    assert score("BARZAN IBRAHIM HASSAN AL-MOSULI", "BARZAN IBRAHIM HASSAN AL-TIKRITI") < MATCH


def test_missing_middle_name_is_tolerated():
    assert score("Sergey Lavrov", "Sergey Viktorovich Lavrov") >= MATCH
    assert score("JAMAL SULTAN AL-TIKRITI", "JAMAL MUSTAFA ABDALLAH SULTAN AL-TIKRITI") >= MATCH


def test_initials_match_the_full_given_name_but_not_another():
    assert score("V. Putin", "Vladimir Putin") >= MATCH
    assert score("A. Nazarbayev", "Nursultan Nazarbayev") < MATCH
    assert score("N.N.", "Nursultan Nazarbayev") < REVIEW


def test_joined_and_split_words():
    assert score("VladimirPutin", "Vladimir Putin") >= MATCH
    assert score("Goodwill Company", "Good Will Company", ORGANIZATION) >= MATCH


def test_father_and_son_are_not_the_same_person():
    assert score("SALMAN BIN MUHAMMAD AL-RAWI", "MUHAMMAD BIN SALMAN AL-RAWI") < MATCH


def test_legal_form_variants_match_and_conflicting_forms_do_not():
    assert score("Siemens Aktiengesellschaft", "Siemens AG", ORGANIZATION) >= MATCH
    assert score("OAO Gazprom", "Gazprom JSC", ORGANIZATION) >= MATCH
    assert score("Stripe LLC", "Stripe Limited Liability Company", ORGANIZATION) >= MATCH
    assert score("Deutsche Bank AG", "Deutsche Bank GmbH", ORGANIZATION) < MATCH


def test_organisation_acronym_matches_its_expansion():
    assert score("PLA", "People's Liberation Army", ORGANIZATION) >= MATCH


def test_shared_generic_words_alone_are_not_a_match():
    assert score("Management Company", "Westminister Management Company", ORGANIZATION) < REVIEW
    assert score("Sparkles Business Corporation", "Sporks Business Corporation", ORGANIZATION) < MATCH


def test_han_characters_differing_by_one_are_different_names():
    assert score("习近朋", "习近平") < MATCH


def test_token_similarity_folds_romanisation_conventions():
    assert token_similarity("zelenskyy", "zelenskij") > token_similarity("zelenskyy", "zelenzkaa")
    assert token_similarity("1234", "1235") == 0.0


# --- qualifiers -----------------------------------------------------------------------------


def _with_dates(dates_a: tuple[str, ...], dates_b: tuple[str, ...]) -> float:
    return score_pair(("Ali Hassan",), ("Ali Hassan",), PERSON, PERSON, dates_a, dates_b).score


def test_birth_date_agreement_raises_the_score_by_precision():
    none = _with_dates((), ())
    year = _with_dates(("1961",), ("1961-05-17",))
    day = _with_dates(("1961-05-17",), ("1961-05-17",))
    assert none < year < day <= 1.0


def test_birth_date_conflict_lowers_the_score_below_the_match_threshold():
    assert _with_dates(("1961",), ("1975",)) < MATCH
    assert _with_dates(("1961-05-17",), ("1961-05-18",)) < _with_dates((), ())


def test_birth_date_range_is_compatible_not_conflicting():
    assert _with_dates(("1958..1962",), ("1960",)) == _with_dates((), ())
    assert parse_date("1958..1962").year_to == 1962
    assert parse_date("1961-13") is None


def test_identical_identifier_is_strong_evidence():
    weak = score_pair(("Ali Hassan Rahimi",), ("Ali Rahimi Kazemi",), PERSON, PERSON)
    with_id = score_pair(
        ("Ali Hassan Rahimi",),
        ("Ali Rahimi Kazemi",),
        PERSON,
        PERSON,
        ids_a=("P-123 456",),
        ids_b=("P123456",),
    )
    # A shared passport number lifts a doubtful name into an analyst's queue.
    assert weak.score < REVIEW <= with_id.score
    assert with_id.score - weak.score == pytest.approx(DEFAULT_CONFIG.identifier_match)
    assert with_id.explanation["identifier"]["detail"] == "identical"


def test_shared_country_corroborates_and_disjoint_weighs_against():
    base = score_pair(("Ali Hassan",), ("Ali Hassan",), PERSON, PERSON).score
    shared = score_pair(
        ("Ali Hassan",), ("Ali Hassan",), PERSON, PERSON, countries_a=("IQ",), countries_b=("iq",)
    ).score
    other = score_pair(
        ("Ali Hassan",), ("Ali Hassan",), PERSON, PERSON, countries_a=("FR",), countries_b=("IQ",)
    ).score
    assert other < base < shared


def test_a_person_is_never_matched_to_a_vessel_or_organisation():
    vessel = score_pair(("Victory",), ("Victory",), PERSON, "vessel")
    assert vessel.score == 0.0
    assert vessel.explanation == {"type_mismatch": "person≠vessel"}
    assert score_pair(("Victory",), ("Victory",), PERSON, ORGANIZATION).score == 0.0
    assert score_pair(("Acme Trading",), ("Acme Trading",), "organization", "unknown").score >= MATCH


def test_company_and_organisation_schemas_are_compatible():
    assert entity_type("Company") == entity_type("Organization") == ORGANIZATION
    assert entity_type("LegalEntity") == "unknown"
    with pytest.raises(ValueError):
        entity_type("Spaceship")


def test_explanation_names_aligned_tokens_and_qualifiers():
    result = score_pair(
        ("Sergei Lavrov",), ("LAVROV, Sergey Viktorovich",), PERSON, PERSON, ("1950",), ("1950-03-21",)
    )
    aligned = {(a["left"], a["right"]) for a in result.explanation["aligned"]}
    assert ("sergei", "sergey") in aligned and ("lavrov", "lavrov") in aligned
    assert result.explanation["unmatched_right"] == ["viktorovich"]
    assert result.explanation["birth_date"]["detail"] == "year"
    assert result.matched_name == "LAVROV, Sergey Viktorovich"


def test_scores_do_not_pile_up_at_one():
    plain = score("Vladimir Putin", "Vladimir Putin")
    corroborated = score_pair(
        ("Vladimir Putin",),
        ("Vladimir Putin",),
        PERSON,
        PERSON,
        ("1952-10-07",),
        ("1952-10-07",),
        ("RU",),
        ("RU",),
    ).score
    assert plain < corroborated


def test_upper_bound_is_never_below_the_score():
    # Fully aligned: the bound is the exact-name score of that weight.
    assert name_score_upper_bound(2.0, 0.0, 2.0, 0.0) >= score("Vladimir Putin", "Vladimir Putin")
    assert name_score_upper_bound(0.0, 2.0, 0.0, 1.0) == 0.0


def test_matcher_version_is_declared():
    assert MATCHER_VERSION.startswith("kyc-matcher-")
