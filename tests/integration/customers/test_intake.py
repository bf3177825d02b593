"""Intake: customers go to the KYC database, onboarding runs carry ids only; invalid requests write only their refusal."""

from __future__ import annotations

import json

import pytest
from kyc_core.customers.intake import (
    by_reference,
    carries_personal_data,
    intake_run_id,
    referenced_ids,
)
from kyc_core.customers.request import InvalidRequest
from kyc_core.store.db import session_scope
from kyc_core.store.models import AuditEvent, Customer
from sqlalchemy import func, select

PERSON = {"customer": {"kind": "person", "name": "Ana Lopez", "birth_date": "1990-01-31", "nationality": "ES",
                       "residence_country": "FR"}, "segment": "fintech", "external_ref": "P-1"}


def test_what_counts_as_personal_data():
    assert carries_personal_data({"customers": [PERSON]})
    assert carries_personal_data({"kind": "person", "name": "Ana Lopez", "customers": None})
    assert not carries_personal_data({"customer_ids": ["00000000-0000-0000-0000-000000000000"]})
    assert not carries_personal_data({"segment": "cgp", "pep_declared": False, "kind": None})
    assert not carries_personal_data(None)


def test_a_valid_request_becomes_ids_and_its_customers_are_registered(store):
    with session_scope(store) as s:
        conf = by_reference(s, {"customers": [PERSON]}, actor="user:integrator", run_id="r1")
    (cid,) = conf["customer_ids"]
    assert set(conf) == {"customer_ids"} and "Ana" not in json.dumps(conf)
    with session_scope(store) as s:
        customer = s.get(Customer, cid)
        assert customer.customer_ref == "P-1" and customer.profile["customer"]["name"] == "Ana Lopez"
        assert referenced_ids(s, conf) == [cid]


def test_an_invalid_request_becomes_its_rejected_fields_and_nothing_is_registered(store):
    bad = {"customers": [{**PERSON, "customer": {**PERSON["customer"], "birth_date": "31/01/1990", "name": "<b>x</b>"}}]}
    with session_scope(store) as s:
        conf = by_reference(s, bad, actor="user:integrator", run_id="r2")
    fields = {e["field"] for e in conf["rejected_fields"]}
    assert any("birth_date" in f for f in fields) and any("name" in f for f in fields)
    assert "31/01/1990" not in json.dumps(conf)  # field names and messages, never the values
    with session_scope(store) as s:
        assert s.scalar(select(func.count()).select_from(Customer)) == 0
        (event,) = s.scalars(select(AuditEvent).where(AuditEvent.event_type == "input_rejected")).all()
        assert event.run_id == "r2"


def test_references_must_name_registered_customers(store):
    with session_scope(store) as s:
        with pytest.raises(InvalidRequest) as unknown:
            referenced_ids(s, {"customer_ids": ["8d5c7c4e-2f7a-4a53-9f59-2d5c7c4e2f7a", "nope"]})
        assert [e["message"] for e in unknown.value.errors] == ["no such customer", "not a customer id"]
        with pytest.raises(InvalidRequest):
            referenced_ids(s, {"customer_ids": []})


def test_a_retried_submission_maps_to_the_same_run():
    assert intake_run_id(["a", "b"], ["h1", "h2"]) == intake_run_id(["b", "a"], ["h2", "h1"])
    assert intake_run_id(["a"], ["h1"]) != intake_run_id(["a"], ["h2"])
    assert intake_run_id(["a"], ["h1"], "key-1") != intake_run_id(["a"], ["h1"], "key-2")
