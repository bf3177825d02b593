"""`kyc_onboarding` runs end to end in Airflow (dag.test) against the emulator and a real KYC database."""

from __future__ import annotations

import json

import pytest
from kyc_core.store.db import session_scope
from kyc_core.store.models import AuditEvent, Customer, Decision
from kyc_dev.emulator.dataset import Dataset
from kyc_dev.emulator.server import credentials
from sqlalchemy import func, select


@pytest.fixture(scope="module")
def airflow_db():
    from airflow.utils import db

    db.initdb()


@pytest.fixture
def onboarding(airflow_db, store, emulator, load_lists, monkeypatch):
    from airflow.dag_processing.dagbag import DagBag

    load_lists()
    creds = credentials(emulator.state.config)
    account = next(a for a in creds["rne"] if a["beneficial_owners"])
    connections = {
        "KYC_DB": {"conn_type": "kyc_database", "extra": {"url": store}},
        "KYC_SIRENE": {"conn_type": "insee_sirene", "host": emulator.urls["sirene"], "password": creds["sirene"]["api_key"]},
        "KYC_RNE": {"conn_type": "inpi_rne", "host": emulator.urls["rne"], "login": account["username"],
                    "password": account["password"], "extra": {"rbe_entitled": True}},
        "KYC_BODACC": {"conn_type": "bodacc", "host": emulator.urls["bodacc"]},
    }
    for name, value in connections.items():
        monkeypatch.setenv(f"AIRFLOW_CONN_{name}", json.dumps(value))
    ds = Dataset(emulator.state.config.companies, emulator.state.config.seed)
    dag = DagBag(dag_folder="dags").dags["kyc_onboarding"]
    # Airflow 3.3.2's dag.test() keeps deadline alerts encoded and fails a run that succeeds when it looks
    # them up by id (DagRun.update_state); the scheduler stores them by id. The deadline has its own test.
    dag.deadline = None
    return dag, store, ds


def _states(run):
    return {(ti.task_id, ti.map_index): ti.state for ti in run.get_task_instances()}


def test_clean_batch_is_approved(onboarding):
    dag, url, ds = onboarding
    siren = ds.siren(21)
    conf = {
        "customers": [
            {"customer": {"kind": "entity", "siren": siren, "declared_name": ds.company(siren).name}, "segment": "cgp", "external_ref": "T-1"},
            {"customer": {"kind": "person", "name": "Ana Lopez", "birth_date": "1990-01-31", "nationality": "ES",
                          "residence_country": "FR"}, "segment": "fintech"},
        ]
    }
    run = dag.test(run_conf=conf)
    states = _states(run)
    assert run.state == "success", states
    assert states[("customer.assess", 0)] == states[("customer.assess", 1)] == "success"
    assert states[("customer.open_review", 0)] == states[("customer.open_review", 1)] == "skipped"
    with session_scope(url) as s:
        decisions = s.scalars(select(Decision).where(Decision.run_id == run.run_id)).all()
        assert sorted((d.outcome, d.status) for d in decisions) == [("approve", "final"), ("approve", "final")]
        kinds = {e.event_type for e in s.scalars(select(AuditEvent).where(AuditEvent.run_id == run.run_id))}
    assert {"customer_registered", "case_created", "registry_fetched", "entity_resolved", "screening_completed",
            "score_computed", "final_decision"} <= kinds
    # A second run of the same request re-assesses but registers nobody twice.
    second = dag.test(run_conf=conf)
    assert second.state == "success"
    with session_scope(url) as s:
        assert s.scalar(select(func.count()).select_from(Customer)) == 2


def test_invalid_siren_fails_at_validation_and_writes_only_the_rejection(onboarding):
    dag, url, _ = onboarding
    bad = {"customers": [{"customer": {"kind": "entity", "siren": "552100555", "declared_name": "Demo SA"}, "segment": "cgp"}]}
    run = dag.test(run_conf=bad)
    assert run.state == "failed"
    states = _states(run)
    assert states[("validate_request", -1)] == "failed"
    assert states[("register_customers", -1)] == "upstream_failed"
    with session_scope(url) as s:
        assert s.scalar(select(func.count()).select_from(Customer)) == 0
        assert s.scalar(select(func.count()).select_from(Decision)) == 0
        event = s.scalars(select(AuditEvent).where(AuditEvent.event_type == "input_rejected")).one()
    assert json.loads(event.payload)["errors"][0]["field"] == "customers.0.customer.entity.siren"
