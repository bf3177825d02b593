"""Customer registration is idempotent and audited without personal data."""

from __future__ import annotations

import json

from kyc_core.customers.registration import record_rejection, register_batch
from kyc_core.customers.request import InvalidRequest, parse_request
from kyc_core.store import migrate
from kyc_core.store.audit import verify_chain
from kyc_core.store.db import session_scope
from kyc_core.store.models import AuditEvent, Customer
from sqlalchemy import func, select

CONF = {
    "customers": [
        {
            "customer": {"kind": "person", "name": "Camille Martin", "birth_date": "1984-03-12", "nationality": "FR", "residence_country": "FR"},
            "segment": "fintech",
        },
        {"customer": {"kind": "entity", "siren": "552100554", "declared_name": "Demo SA"}, "segment": "cgp", "external_ref": "CRM-1"},
    ]
}


def _counts(url):
    with session_scope(url) as s:
        return s.scalar(select(func.count()).select_from(Customer)), s.scalar(select(func.count()).select_from(AuditEvent))


def test_register_twice_writes_once(db_url):
    migrate.upgrade(db_url)
    request = parse_request(CONF)
    with session_scope(db_url) as s:
        first = register_batch(s, request, actor="t", run_id="run-1")
    with session_scope(db_url) as s:
        second = register_batch(s, request, actor="t", run_id="run-1")
    assert [r.customer_id for r in first] == [r.customer_id for r in second]
    assert all(r.created for r in first) and not any(r.created or r.changed for r in second)
    assert _counts(db_url) == (2, 3)
    with session_scope(db_url) as s:
        events = s.scalars(select(AuditEvent).where(AuditEvent.event_type == "customer_registered")).all()
        assert verify_chain(s).ok
    for event in events:
        assert "Camille" not in event.payload and "1984" not in event.payload
    with session_scope(db_url) as s:
        entity = s.get(Customer, first[1].customer_id)
        assert (entity.customer_ref, entity.siren, entity.segment) == ("CRM-1", "552100554", "cgp")


def test_changed_input_updates_and_records_again(db_url):
    migrate.upgrade(db_url)
    with session_scope(db_url) as s:
        register_batch(s, parse_request(CONF), actor="t", run_id="r1")
    changed = json.loads(json.dumps(CONF))
    changed["customers"][1]["customer"]["declared_name"] = "Demo SA (renamed)"
    with session_scope(db_url) as s:
        result = register_batch(s, parse_request(changed), actor="t", run_id="r2")
    assert [r.changed for r in result] == [False, True]
    assert _counts(db_url) == (2, 4)


def test_rejection_records_fields_only(db_url):
    migrate.upgrade(db_url)
    bad = json.loads(json.dumps(CONF))
    bad["customers"][1]["customer"]["siren"] = "552100555"
    try:
        parse_request(bad)
    except InvalidRequest as error:
        with session_scope(db_url) as s:
            record_rejection(s, error, actor="t", run_id="r-bad")
            record_rejection(s, error, actor="t", run_id="r-bad")
    assert _counts(db_url) == (0, 2)
    with session_scope(db_url) as s:
        event = s.scalars(select(AuditEvent).where(AuditEvent.event_type == "input_rejected")).one()
    assert json.loads(event.payload)["errors"][0]["field"] == "customers.1.customer.entity.siren"
    assert "552100555" not in event.payload
