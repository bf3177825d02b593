"""`kyc_onboarding` runs end to end in Airflow (dag.test) against the emulator and a real KYC database."""

from __future__ import annotations

import json

import pytest
from kyc_core.store.db import session_scope
from kyc_core.store.models import AuditEvent, Customer, Decision
from kyc_dev.emulator.dataset import Dataset
from sqlalchemy import func, select


@pytest.fixture
def onboarding(airflow_db, store, emulator, load_lists, emulator_connections):
    from airflow.dag_processing.dagbag import DagBag

    load_lists()
    emulator_connections(store)
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
    stages = ("resolve_entity", "screen_parties", "score_edd", "buy_paid_sources", "decide")
    assert all(states[(f"customer.{t}", i)] == "success" for t in stages for i in (0, 1)), states
    # The company's registers each in their task (BODACC is bought only when warranted under `cgp`); none for a person.
    assert [states[(f"customer.fetch_{s}", 0)] for s in ("sirene", "rne", "rbe", "bodacc")] == ["success"] * 3 + ["skipped"]
    assert all(states[(f"customer.fetch_{s}", 1)] == "skipped" for s in ("sirene", "rne", "rbe", "bodacc"))
    labels = {ti.rendered_map_index for ti in run.get_task_instances() if ti.task_id == "customer.decide"}
    assert "T-1" in labels
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


def test_a_register_outage_is_a_failed_fetch_task_and_a_fail_closed_decision(onboarding, emulator, monkeypatch):
    """RNE down: `fetch_rne` retries, then fails in the grid; the run still decides, `review` / `source_unavailable`."""
    import urllib.request

    from kyc_core.resilience import MemoryBackend, guard

    # Without Redis the breakers live in this process: the outage's open RNE breaker must not outlive this test.
    monkeypatch.setattr(guard, "_PROCESS_BACKEND", MemoryBackend())

    def fault(spec: dict | None) -> None:
        base = emulator.root + "/_admin/faults"
        request = (urllib.request.Request(f"{base}?source=rne", method="DELETE") if spec is None else
                   urllib.request.Request(base, data=json.dumps({"source": "rne", **spec}).encode(), method="POST",
                                          headers={"Content-Type": "application/json"}))
        urllib.request.urlopen(request, timeout=5).close()

    dag, url, ds = onboarding
    siren = ds.siren(57)  # a company no other test here fetched: nothing of it is cached in this process
    conf = {"customers": [{"customer": {"kind": "entity", "siren": siren, "declared_name": ds.company(siren).name},
                           "segment": "cgp", "external_ref": "OUT-1"}]}
    for task in dag.task_dict.values():  # no 15 s wait between the two tries here
        task.retry_delay = __import__("datetime").timedelta(seconds=0)
    fault({"outage": "503"})
    try:
        run = dag.test(run_conf=conf)
    finally:
        fault(None)
    states = _states(run)
    assert states[("customer.fetch_rne", 0)] == "failed", states
    assert states[("customer.fetch_sirene", 0)] == states[("customer.decide", 0)] == "success"
    assert run.state == "success"
    decide = next(ti for ti in run.get_task_instances() if ti.task_id == "customer.decide")
    assert decide.try_number == 1
    fetch = next(ti for ti in run.get_task_instances() if ti.task_id == "customer.fetch_rne")
    assert fetch.try_number == 2  # retried once before failing
    with session_scope(url) as s:
        (decision,) = s.scalars(select(Decision).where(Decision.run_id == run.run_id)).all()
        assert decision.outcome == "review" and decision.status == "pending_review"
        assert "source_unavailable" in {r["code"] for r in decision.reasons}


@pytest.fixture
def intake_listener():
    from kyc_airflow.intake import install, uninstall

    install()
    yield
    uninstall()


def test_the_run_and_the_trigger_log_keep_customer_ids_never_the_customer(onboarding, intake_listener):
    """What the api-server does for every onboarding trigger (UI form, REST): customers become ids before storage."""
    from airflow.models.dagrun import DagRun
    from airflow.models.log import Log
    from airflow.utils.session import create_session

    dag, url, ds = onboarding
    person = {"customer": {"kind": "person", "name": "Ana Lopez", "birth_date": "1990-01-31", "nationality": "ES",
                           "residence_country": "FR", "occupation": "Architect"}, "segment": "fintech", "external_ref": "PD-1"}
    run = dag.test(run_conf={"customers": [person]})
    assert run.state == "success", _states(run)
    with create_session() as session:
        stored = session.scalar(select(DagRun.conf).where(DagRun.run_id == run.run_id))
        session.add(Log(event="trigger_dag_run", dag_id="kyc_onboarding", run_id=run.run_id, owner="integrator",
                        extra=json.dumps({"conf": {"customers": [person]}, "method": "POST"})))
    with create_session() as session:
        logged = json.loads(session.scalar(select(Log.extra).where(Log.run_id == run.run_id, Log.event == "trigger_dag_run")))
    assert list(stored) == ["customer_ids"] and logged["conf"] == stored
    for text in (json.dumps(stored), json.dumps(logged)):
        assert "Ana" not in text and "1990" not in text and "Architect" not in text
    with session_scope(url) as s:
        (decision,) = s.scalars(select(Decision).where(Decision.run_id == run.run_id)).all()
        assert decision.customer_id == stored["customer_ids"][0] and decision.outcome == "approve"

    # An invalid request: the run keeps the rejected fields only, and fails at validation.
    bad = dag.test(run_conf={"customers": [{**person, "customer": {**person["customer"], "birth_date": "31/01/1990"}}]})
    with create_session() as session:
        refused = session.scalar(select(DagRun.conf).where(DagRun.run_id == bad.run_id))
    assert bad.state == "failed" and list(refused) == ["rejected_fields"] and "31/01/1990" not in json.dumps(refused)
