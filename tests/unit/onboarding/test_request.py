"""Validation of the onboarding request: every refusal names its field, never its value."""

from __future__ import annotations

import copy

import pytest
from kyc_core.customers.request import (
    InvalidRequest,
    parse_request,
    request_json_schema,
    trigger_item_schema,
)

PERSON = {
    "customer": {
        "kind": "person",
        "name": "Camille Martin",
        "birth_date": "1984-03-12",
        "nationality": "fr",
        "residence_country": "FR",
        "pep_declared": True,
        "pep_category": "foreign",
    },
    "segment": "fintech",
}
ENTITY = {
    "customer": {
        "kind": "entity",
        "siren": "552 100 554",
        "declared_name": "Demo SA",
        "declared_officers": [{"name": "Jean Dupont", "birth_month": "1960-05", "nationality": "FR", "role": "Président"}],
    },
    "segment": "cgp",
    "external_ref": "CRM-42",
}


def test_valid_batch_is_normalised():
    request = parse_request({"customers": [PERSON, ENTITY]})
    person, entity = (c.customer for c in request.customers)
    assert person.nationality == "FR"
    assert person.pep_category.value == "foreign"
    assert entity.siren == "552100554"
    assert entity.declared_officers[0].birth_month == "1960-05"


def _rejected(conf) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as info:
        parse_request(conf)
    return info.value


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (("customer", "siren"), "552100555", "customers.0.customer.entity.siren"),
        (("customer", "siren"), "55210055", "customers.0.customer.entity.siren"),
        (("customer", "siret"), "55210055400014", "customers.0.customer.entity.siret"),
        (("segment",), "retail", "customers.0.segment"),
        (("external_ref",), "has spaces", "customers.0.external_ref"),
    ],
)
def test_entity_field_errors_are_named(path, value, field):
    item = copy.deepcopy(ENTITY)
    target = item
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    error = _rejected({"customers": [item]})
    assert [e["field"] for e in error.errors] == [field]
    assert field in str(error)
    assert value not in str(error)


@pytest.mark.parametrize(
    ("key", "value", "field"),
    [
        ("birth_date", "1984-13-01", "customers.0.customer.person.birth_date"),
        ("birth_date", "2999-01-01", "customers.0.customer.person.birth_date"),
        ("nationality", "XX", "customers.0.customer.person.nationality"),
        ("name", None, "customers.0.customer.person.name"),
    ],
)
def test_person_field_errors_are_named(key, value, field):
    item = copy.deepcopy(PERSON)
    if value is None:
        del item["customer"][key]
    else:
        item["customer"][key] = value
    error = _rejected({"customers": [PERSON, item]})
    assert field.replace("customers.0", "customers.1") in [e["field"] for e in error.errors]


def test_unknown_fields_and_empty_batches_are_refused():
    item = copy.deepcopy(PERSON)
    item["customer"]["passport"] = "X123"
    assert "customers.0.customer.person.passport" in {e["field"] for e in _rejected({"customers": [item]}).errors}
    assert _rejected({"customers": []}).errors[0]["field"] == "customers"
    assert _rejected(["not", "an", "object"]).errors[0]["field"] == "(root)"


def test_valid_siret_accepted():
    item = copy.deepcopy(ENTITY)
    item["customer"]["siret"] = "55210055400013"
    assert parse_request({"customers": [item]}).customers[0].customer.siret == "55210055400013"


def test_schemas_are_self_contained():
    import json

    full = json.dumps(request_json_schema())
    assert "$ref" not in full and "siren" in full
    assert trigger_item_schema()["properties"]["segment"]["enum"] == ["cgp", "fintech", "asset_mgmt"]


@pytest.mark.parametrize("name", ["<script>alert(1)</script>", "'; DROP TABLE customer;--", "Ana\u0000Lopez", "Ana\u202eLopez",
                                  "1234 5678", "...", "{{ 7*7 }}"])
def test_names_no_person_carries_are_refused_naming_the_field(name):
    conf = {"customers": [{"customer": {"kind": "person", "name": name, "birth_date": "1980-01-01", "nationality": "FR",
                                        "residence_country": "FR"}, "segment": "cgp"}]}
    with pytest.raises(InvalidRequest) as refused:
        parse_request(conf)
    assert [e["field"] for e in refused.value.errors] == ["customers.0.customer.person.name"]
    assert name not in str(refused.value)


@pytest.mark.parametrize("name", ["Zoë O'Brien-Dupont", "Jean-Pierre de La Tour", "محمد بن سلمان", "Ana María Núñez", "J. R. R. Tolkien"])
def test_real_names_pass(name):
    conf = {"customers": [{"customer": {"kind": "person", "name": name, "birth_date": "1980-01-01", "nationality": "FR",
                                        "residence_country": "FR"}, "segment": "cgp"}]}
    assert parse_request(conf).customers[0].customer.name == name


@pytest.mark.parametrize("name", ["3M France", "Société Générale S.A.", "L'Oréal", "AT&T (France) SAS", "Café 1789 / Paris"])
def test_company_names_with_digits_and_business_punctuation_pass(name):
    conf = {"customers": [{"customer": {"kind": "entity", "siren": "552100554", "declared_name": name}, "segment": "cgp"}]}
    assert parse_request(conf).customers[0].customer.declared_name == name


def test_the_single_customer_form_becomes_one_request_entry():
    from kyc_core.customers.request import conf_from_params

    person = {"kind": "person", "name": "Camille Martin", "birth_date": "1984-03-12", "nationality": "FR",
              "residence_country": "FR", "pep_declared": False, "pep_category": None, "segment": "fintech",
              "siren": None, "external_ref": "UI-1", "customers": [{"ignored": True}]}
    request = parse_request(conf_from_params(person))
    (item,) = request.customers
    assert (item.customer.kind, item.customer.name, item.segment.value, item.external_ref, item.channel) == (
        "person", "Camille Martin", "fintech", "UI-1", "ui")
    company = {"kind": "entity", "siren": "552 100 554", "name": "Demo SA", "segment": "cgp", "pep_declared": False}
    assert parse_request(conf_from_params(company)).customers[0].customer.siren == "552100554"
    # Kind left empty: the batch is what counts (the REST API's form).
    batch = {"kind": None, "customers": [{"customer": {"kind": "entity", "siren": "552100554", "declared_name": "Demo SA"},
                                          "segment": "cgp"}]}
    assert len(parse_request(conf_from_params(batch)).customers) == 1
    # A form with a missing field is refused field by field, like any request.
    with pytest.raises(InvalidRequest) as refused:
        parse_request(conf_from_params({"kind": "person", "name": "Camille Martin", "segment": "cgp"}))
    assert {e["field"] for e in refused.value.errors} >= {"customers.0.customer.person.birth_date"}


def test_the_form_example_is_a_company_the_demo_emulator_knows():
    import runpy
    from pathlib import Path

    from kyc_dev.emulator.dataset import Dataset

    module = runpy.run_path(str(Path(__file__).resolve().parents[3] / "dags" / "kyc_onboarding.py"))
    ds = Dataset(1000, 42)  # the demo's emulator (scripts/demo.py)
    assert ds.company(module["_EXAMPLE_SIREN"]).name == module["_EXAMPLE_NAME"]
