"""The generated register: deterministic, Luhn-valid, lazy, and carrying every feature the pipelines test."""

from __future__ import annotations

import json
import tracemalloc

import pytest
from kyc_dev.emulator import formats
from kyc_dev.emulator.dataset import Dataset
from stdnum import luhn
from stdnum.fr import siren as siren_mod
from stdnum.fr import siret as siret_mod


def _render_all(dataset: Dataset, count: int) -> bytes:
    parts = []
    for index in range(count):
        company = dataset.company_at(index)
        parts.append(json.dumps([formats.sirene_unit(company), formats.rne_company(company),
                                 formats.bodacc_notices(company, dataset.as_of), formats.recherche_result(company)],
                                ensure_ascii=False, sort_keys=True))
    return "\n".join(parts).encode()


def test_same_seed_gives_byte_identical_output_and_another_seed_differs():
    first = _render_all(Dataset(120, seed=42), 120)
    second = _render_all(Dataset(120, seed=42), 120)
    other = _render_all(Dataset(120, seed=43), 120)
    assert first == second
    assert first != other


def test_output_does_not_depend_on_generation_order():
    forward = Dataset(200, seed=5)
    backward = Dataset(200, seed=5)
    for index in reversed(range(200)):
        backward.company_at(index)
    assert [forward.company_at(i) for i in range(200)] == [backward.company_at(i) for i in range(200)]


def test_sirens_and_sirets_are_luhn_valid_unique_and_invertible():
    dataset = Dataset(1000, seed=42)
    sirens = list(dataset.sirens())
    assert len(set(sirens)) == 1000
    for index, siren in enumerate(sirens):
        assert siren_mod.is_valid(siren), siren
        assert dataset.index_of(siren) == index
        for establishment in dataset.company_at(index).establishments:
            assert siret_mod.is_valid(establishment.siret), establishment.siret
            assert establishment.siret.startswith(siren)


def test_unknown_or_invalid_sirens_are_not_found():
    dataset = Dataset(100, seed=42)
    valid_outside = Dataset(200, seed=42).siren(150)
    assert siren_mod.is_valid(valid_outside)
    assert dataset.company(valid_outside) is None
    broken = dataset.siren(3)[:8] + str((int(dataset.siren(3)[8]) + 1) % 10)
    assert not luhn.is_valid(broken)
    assert dataset.company(broken) is None
    assert dataset.company("12345") is None


def test_a_million_companies_are_generated_lazily():
    tracemalloc.start()
    dataset = Dataset(1_000_000, seed=42)
    last = dataset.siren(999_999)
    company = dataset.company(last)
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert company.index == 999_999
    assert dataset.index_of(last) == 999_999
    assert peak < 5_000_000
    assert len(dataset.known_positives()) == 60


def test_ownership_chain_of_four_levels_with_indirect_owners():
    dataset = Dataset(100, seed=42)
    bottom = dataset.company_at(50)
    chain = dataset.ownership_chain(bottom.siren)
    assert chain == [dataset.siren(50), dataset.siren(51), dataset.siren(52), dataset.siren(53)]
    top = dataset.company_at(53)
    assert top.owner is None
    presidents = [o for o in bottom.officers if o.company is not None]
    assert [(o.role_code, o.company.siren) for o in presidents] == [("73", dataset.siren(51))]
    assert {b.person.person_id for b in bottom.beneficial_owners} == {b.person.person_id for b in top.beneficial_owners}
    assert all(not b.direct for b in bottom.beneficial_owners)
    assert all(b.direct for b in top.beneficial_owners)
    assert sum(b.share_capital for b in top.beneficial_owners) == pytest.approx(100.0)


def test_legal_entity_officers_are_companies_of_the_dataset():
    dataset = Dataset(300, seed=42)
    refs = [o.company for c in (dataset.company_at(i) for i in range(300)) for o in c.officers if o.company]
    assert len(refs) > 20
    for ref in refs:
        assert dataset.company(ref.siren).name == ref.name


def test_feature_mix_per_block():
    dataset = Dataset(100, seed=42)
    companies = [dataset.company_at(i) for i in range(100)]
    assert [c.index for c in companies if c.bo_status == "not_available"] == [5, 15, 33, 55, 65, 83]
    assert [c.index for c in companies if c.bo_status == "none_declared"] == [7, 27, 57, 77]
    assert all(c.beneficial_owners == () for c in companies if c.bo_status != "declared")
    assert [c.index for c in companies if c.struck_off] == [13, 44, 63, 94]
    assert [c.index for c in companies if not c.active] == [13, 38, 44, 63, 88, 94]
    assert {c.index: c.proceeding.kind for c in companies if c.proceeding} == {
        17: "redressement", 23: "liquidation", 43: "sauvegarde", 44: "liquidation",
        67: "redressement", 73: "liquidation", 93: "sauvegarde", 94: "liquidation"}
    assert len(companies[30].establishments) == 45
    assert companies[19].previous_name and companies[19].previous_name != companies[19].name


def test_officers_have_birth_month_and_nationality():
    dataset = Dataset(50, seed=42)
    people = [o.person for i in range(50) for o in dataset.company_at(i).officers if o.person]
    assert len(people) > 40
    for person in people:
        assert 1 <= person.birth_month <= 12
        assert 1940 <= person.birth_year <= 2004
        assert len(person.nationality_code) == 3
        assert person.birth_ym == f"{person.birth_year}-{person.birth_month:02d}"


def test_known_positives_point_at_real_register_people():
    dataset = Dataset(1000, seed=42)
    v1 = dataset.known_positives(1)
    v2 = dataset.known_positives(2)
    assert len(v1) == 10
    assert len(v2) == 12
    assert {p.version for p in v2} - {p.version for p in v1} == {2}
    roles = set()
    for positive in v2:
        company = dataset.company(positive.siren)
        person = dataset.person(positive.siren, positive.person_id)
        assert person is not None
        if positive.role == "officer":
            assert person in [o.person for o in company.officers]
        else:
            assert person in [b.person for b in company.beneficial_owners]
        roles.add(positive.role)
        assert set(positive.lists) <= {"ofac", "eu", "un"}
    assert roles == {"officer", "beneficial_owner"}


def test_known_homonyms_share_the_name_but_not_the_birth_year():
    dataset = Dataset(1000, seed=42)
    homonyms = dataset.known_homonyms()
    positives = {p.positive_id: p for p in dataset.known_positives(1)}
    exact = [p for p in positives.values() if p.variant == "exact"]
    assert len(homonyms) == len(exact) > 0
    for homonym in homonyms:
        positive = positives[homonym.positive_id]
        listed = dataset.person(positive.siren, positive.person_id)
        twin = dataset.person(homonym.siren, homonym.person_id)
        assert homonym.siren != positive.siren
        assert (twin.last_name, twin.first_names) == (listed.last_name, listed.first_names)
        assert twin.birth_year == listed.birth_year + 9
        assert twin.nationality_code == "FRA" != listed.nationality_code
        assert not dataset.company(homonym.siren).positives
