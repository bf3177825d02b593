"""Served JSON has the key structure of the real recorded responses, so connectors parse both alike."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from emulator_http import SIRENE_KEY, get, rne_token
from kyc_dev.emulator.server import BODACC_RECORDS

SAMPLE_INDEXES = range(0, 100)


def key_paths(value, prefix: str = "") -> set[str]:
    """Every key path of a JSON document, lists collapsed to `[]`."""
    paths: set[str] = set()
    if isinstance(value, dict):
        for key, child in value.items():
            path = f"{prefix}.{key}"
            paths.add(path)
            paths |= key_paths(child, path)
    elif isinstance(value, list):
        for child in value:
            paths |= key_paths(child, prefix + "[]")
    return paths


def _real(shared_data: Path, pattern: str, unwrap: str | None = "response") -> list:
    documents = []
    for path in sorted((shared_data / "real").glob(pattern)):
        document = json.loads(path.read_text(encoding="utf-8"))
        documents.append(document[unwrap] if unwrap else document)
    assert documents, f"no real sample matches {pattern}"
    return documents


def _union(documents) -> set[str]:
    return set().union(*(key_paths(d) for d in documents))


@pytest.fixture(scope="module")
def served(emulator):
    """Responses of every registry endpoint for the first 100 companies."""
    dataset = emulator.state.dataset
    token = rne_token(emulator.urls["rne"])
    out: dict[str, list] = {"siren": [], "siret": [], "siret_list": [], "rne": [], "recherche": [], "bodacc_v1": [],
                            "bodacc_v21": []}
    for index in SAMPLE_INDEXES:
        company = dataset.company_at(index)
        siren = company.siren
        out["siren"].append(get(f"{emulator.urls['sirene']}/siren/{siren}", SIRENE_KEY).json())
        out["siret"].append(get(f"{emulator.urls['sirene']}/siret/{company.head_office.siret}", SIRENE_KEY).json())
        out["siret_list"].append(get(f"{emulator.urls['sirene']}/siret", SIRENE_KEY, q=f"siren:{siren}").json())
        out["rne"].append(get(f"{emulator.urls['rne']}/api/companies/{siren}",
                              {"Authorization": f"Bearer {token}"}).json())
        out["recherche"].append(get(f"{emulator.urls['recherche']}/search", q=siren).json())
        out["bodacc_v1"].append(get(emulator.urls["bodacc"] + "/api/records/1.0/search/",
                                    dataset="annonces-commerciales", q=f"registre:{siren}", sort="dateparution").json())
        out["bodacc_v21"].append(get(emulator.root + BODACC_RECORDS, where=f'registre like "{siren}"').json())
    return out


def test_sirene_siren_keys_equal_the_real_ones(shared_data, served):
    assert _union(served["siren"]) == _union(_real(shared_data, "fr_insee/siren/*.json"))


def test_sirene_siret_keys_equal_the_real_ones(shared_data, served):
    assert _union(served["siret"]) == _union(_real(shared_data, "fr_insee/siret/*.json"))


def test_sirene_siret_list_keys_equal_the_real_ones(shared_data, served):
    assert _union(served["siret_list"]) == _union(_real(shared_data, "fr_insee/siret-by-siren/*.json"))


def test_rne_keys_are_all_real_and_cover_what_connectors_read(shared_data, served):
    real_records = []
    for document in _real(shared_data, "fr_inpi/neolegal/*.json", unwrap=None) + \
            _real(shared_data, "fr_inpi/kanta/SearchCompanies/*.json", unwrap=None):
        real_records.extend(document if isinstance(document, list) else [document])
    ours = _union(served["rne"])
    assert ours - _union(real_records) == set()
    reference = key_paths(json.loads((shared_data / "real/fr_inpi/neolegal/company.json").read_text()))
    optional = {".formality.content.personneMorale.composition.pouvoirs[].individu.descriptionPersonne.nomUsage"}
    assert reference - optional <= ours


def test_recherche_keys_are_all_real(shared_data, served):
    real = _union(_real(shared_data, "fr_recherche_entreprises/2026/*.json", unwrap="result"))
    ours = _union(served["recherche"])
    assert ours - real == set()
    top = {p for p in real if p.count(".") == 2 and p.startswith(".results[].")} - {".results[].tva"}
    assert top <= ours


def test_bodacc_v1_envelope_and_fields_match_the_sample(shared_data, served):
    real = json.loads((shared_data / "real/fr_bodacc/bodacc.json").read_text(encoding="utf-8"))
    assert {k for r in served["bodacc_v1"] for k in r} == set(real)
    assert {k for r in served["bodacc_v1"] for rec in r["records"] for k in rec} == set(real["records"][0])
    real_fields = {k for rec in real["records"] for k in rec["fields"]}
    json_text_fields = {"acte", "jugement", "modificationsgenerales", "radiationaurcs", "parutionavisprecedent"}
    ours = {k for r in served["bodacc_v1"] for rec in r["records"] for k in rec["fields"]}
    assert ours - real_fields == json_text_fields
    assert real_fields <= ours


def test_bodacc_v21_results_carry_every_v1_field_flat(served):
    v1 = {k for r in served["bodacc_v1"] for rec in r["records"] for k in rec["fields"]}
    v21 = {k for r in served["bodacc_v21"] for rec in r["results"] for k in rec}
    assert v1 <= v21
    assert {k for r in served["bodacc_v21"] for k in r} == {"total_count", "results"}
    assert all(isinstance(rec["registre"], list) for r in served["bodacc_v21"] for rec in r["results"])
