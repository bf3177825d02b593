"""`kyc_onboarding` runs end to end in Airflow (dag.test) against a real KYC database."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from kyc_core.store import migrate
from kyc_core.store.db import session_scope
from kyc_core.store.models import AuditEvent, Customer


@pytest.fixture(scope="module")
def airflow_db():
    from airflow.utils import db

    db.initdb()


@pytest.fixture
def onboarding(airflow_db, db_url, monkeypatch):
    from airflow.dag_processing.dagbag import DagBag

    migrate.upgrade(db_url)
    monkeypatch.setenv("AIRFLOW_CONN_KYC_DB", json.dumps({"conn_type": "kyc_database", "extra": {"url": db_url}}))
    return DagBag(dag_folder="dags").dags["kyc_onboarding"], db_url


GOOD = {
    "customers": [
        {"customer": {"kind": "entity", "siren": "552100554", "declared_name": "Demo SA"}, "segment": "cgp", "external_ref": "T-1"},
        {
            "customer": {"kind": "person", "name": "Ana Lopez", "birth_date": "1990-01-31", "nationality": "ES", "residence_country": "FR"},
            "segment": "fintech",
        },
    ]
}


def _states(run):
    return {ti.task_id: ti.state for ti in run.get_task_instances()}


def test_valid_batch_registers_customers(onboarding):
    dag, url = onboarding
    run = dag.test(run_conf=GOOD)
    assert run.state == "success", _states(run)
    with session_scope(url) as s:
        assert s.scalar(select(func.count()).select_from(Customer)) == 2
        kinds = [e.event_type for e in s.scalars(select(AuditEvent).order_by(AuditEvent.seq))]
    assert kinds == ["schema_upgraded", "customer_registered", "customer_registered"]
    # A second run of the same request writes nothing new.
    assert dag.test(run_conf=GOOD).state == "success"
    with session_scope(url) as s:
        assert s.scalar(select(func.count()).select_from(AuditEvent)) == 3


def test_invalid_siren_fails_at_validation_and_writes_only_the_rejection(onboarding):
    dag, url = onboarding
    bad = json.loads(json.dumps(GOOD))
    bad["customers"][0]["customer"]["siren"] = "552100555"
    run = dag.test(run_conf=bad)
    assert run.state == "failed"
    states = _states(run)
    assert states["validate_request"] == "failed" and states["register_customers"] == "upstream_failed"
    with session_scope(url) as s:
        assert s.scalar(select(func.count()).select_from(Customer)) == 0
        event = s.scalars(select(AuditEvent).where(AuditEvent.event_type == "input_rejected")).one()
    assert json.loads(event.payload)["errors"][0]["field"] == "customers.0.customer.entity.siren"
