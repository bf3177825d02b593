"""`kyc_perpetual_review` and `kyc_full_rescreen` run end to end in Airflow (dag.test) on the emulator and a real database."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest
from kyc_core.customers.registration import register_batch
from kyc_core.customers.request import parse_request
from kyc_core.onboarding.pipeline import AssessmentContext, assess_customer
from kyc_core.registry.endpoints import RegistryEndpoints
from kyc_core.resilience import MemoryBackend
from kyc_core.store import customers as customer_repo
from kyc_core.store import flags as flag_repo
from kyc_core.store.audit import verify_chain
from kyc_core.store.db import session_scope
from kyc_core.store.models import AuditEvent, Customer, Decision, ReviewFlag, ReviewItem, ScreeningHit
from kyc_dev.emulator.dataset import Dataset
from kyc_dev.emulator.server import credentials
from sqlalchemy import func, select

#: Fast retries, and no Sirene rate limit: 50 customers are onboarded and reviewed within the same minute here.
FAST = {"*": {"retry_initial_s": 0.01, "retry_max_s": 0.02}, "sirene": {"rate_limit": 100_000}}


@pytest.fixture
def airflow_env(airflow_db, pg_url, emulator, emulator_connections, monkeypatch):
    """The KYC database (PostgreSQL, migrated, lists loaded) and the register connections of the emulator."""
    from kyc_core.lists.refresh import refresh_list
    from kyc_core.lists.sources import DEFAULT_LIST_KEYS, resolve_source
    from kyc_core.resilience import CallLedger, SourceGuard, load_source_config
    from kyc_core.store.migrate import upgrade

    upgrade(pg_url)
    backend = MemoryBackend()
    for key in DEFAULT_LIST_KEYS:
        source = resolve_source(key, emulator.root + "/lists")
        guard = SourceGuard(source.source, backend=backend, config=load_source_config(source.source, FAST), ledger=CallLedger(pg_url))
        refresh_list(source, database_url=pg_url, guard=guard, actor="test")
    emulator_connections(pg_url)
    monkeypatch.setenv("KYC_SOURCE_CONFIG", json.dumps(FAST))
    return pg_url, Dataset(emulator.state.config.companies, emulator.state.config.seed)


def _dag(dag_id: str):
    from airflow.dag_processing.dagbag import DagBag

    dag = DagBag(dag_folder=f"dags/{dag_id}.py").dags[dag_id]
    dag.deadline = None
    return dag


def _states(run) -> dict:
    return {(ti.task_id, ti.map_index): ti.state for ti in run.get_task_instances()}


def test_perpetual_review_of_50_emulator_customers(airflow_env, emulator):
    url, ds = airflow_env
    today = datetime.now(UTC).date()
    # 44 companies and 5 persons onboarded earlier, all due; one listed officer's company registered but never decided.
    positive = next(p.siren for p in ds.known_positives(version=1) if p.role == "officer")
    sirens = [s for s in (ds.siren(i) for i in range(100, 160)) if s != positive][:44]
    items = [{"customer": {"kind": "entity", "siren": s, "declared_name": ds.company(s).name}, "segment": "cgp"} for s in sirens]
    items += [{"customer": {"kind": "person", "name": f"Claire Martin{'e' * i}", "birth_date": f"198{i}-05-17",
                            "nationality": "FR", "residence_country": "FR"}, "segment": "fintech"} for i in range(5)]
    undecided = {"customer": {"kind": "entity", "siren": positive, "declared_name": ds.company(positive).name}, "segment": "cgp"}
    with session_scope(url) as s:
        ids = [r.customer_id for r in register_batch(s, parse_request({"customers": items}), actor="t", run_id="onboarding")]
        (new_id,) = [r.customer_id for r in register_batch(s, parse_request({"customers": [undecided]}), actor="t", run_id="onboarding")]
    endpoints = RegistryEndpoints.from_emulator(emulator.urls, credentials(emulator.state.config))
    onboarding = AssessmentContext(database_url=url, run_id="onboarding", actor="test", endpoints=endpoints,
                                   fetch_options={"backend": MemoryBackend(), "source_config": FAST})
    for cid in ids:
        assess_customer(onboarding, cid)
    with session_scope(url) as s:
        for cid in ids:
            customer_repo.reviewed(s, cid, next_review_date=date(2026, 1, 1), moment=datetime.now(UTC))
        # Flagged as well: a manual flag and a list change; the never-decided customer by a list change only.
        flag_repo.raise_flag(s, ids[0], reason="manual", detail={"rationale": "press article"}, actor="analyst", moment=datetime.now(UTC))
        flag_repo.raise_flag(s, ids[1], reason="list_change", key="list_version:1", actor="delta", moment=datetime.now(UTC))
        flag_repo.raise_flag(s, new_id, reason="list_change", key="list_version:1", actor="delta", moment=datetime.now(UTC))
        decisions_before = s.scalar(select(func.count()).select_from(Decision))

    dag = _dag("kyc_perpetual_review")
    run = dag.test(run_conf={"batch_size": 20, "review_date": today.isoformat()})
    states = _states(run)
    assert run.state == "success", states
    assert [states[("review_batch", i)] for i in range(3)] == ["success"] * 3 and ("review_batch", 3) not in states
    labels = sorted(ti.rendered_map_index for ti in run.get_task_instances() if ti.task_id == "review_batch")
    assert labels == ["batch 0", "batch 1", "batch 2"]
    summary = next(ti for ti in run.get_task_instances() if ti.task_id == "summary").xcom_pull(task_ids="summary")
    assert summary["customers"] == summary["reviewed"] == 50
    assert summary["reasons"] == {"registry_event": 0, "list_change": 2, "manual": 1, "periodic": 49}
    # Nothing changed for the 49 already decided: no decision row, a review event each; the new one is decided.
    assert summary["unchanged"] == 49 and summary["decisions_written"] == 1 and summary["source_unavailable"] == 0
    assert summary["register_calls"]["sirene"]["calls"] + summary["register_calls"]["sirene"]["cached"] >= 44
    with session_scope(url) as s:
        assert s.scalar(select(func.count()).select_from(Decision)) == decisions_before + 1
        new = s.scalars(select(Decision).where(Decision.customer_id == new_id)).one()
        assert new.lineage["purpose"] == "list_change" and new.outcome in ("reject", "edd_required")
        assert s.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.event_type == "customer_reviewed",
                                                                          AuditEvent.run_id == run.run_id)) == 49
        assert all(c.next_review_date > today for c in s.scalars(select(Customer)))
        assert s.scalar(select(func.count()).select_from(ReviewFlag).where(ReviewFlag.cleared_at.is_(None))) == 0
        assert verify_chain(s).ok
    # The decision that needs a person opened its review, as at onboarding.
    opened = [ti for ti in run.get_task_instances() if ti.task_id == "open_review"]
    assert len(opened) == 1 and opened[0].state == "success"

    # A second run the same day selects nobody new and writes nothing.
    again = dag.test(run_conf={"batch_size": 20, "review_date": today.isoformat()})
    assert again.state == "success"
    with session_scope(url) as s:
        assert s.scalar(select(func.count()).select_from(ReviewItem).where(ReviewItem.run_id == again.run_id)) == 0
        assert s.scalar(select(func.count()).select_from(Decision)) == decisions_before + 1


def test_full_rescreen_needs_a_reason_and_screens_every_shard(airflow_env):
    url, ds = airflow_env
    positive = next(p for p in ds.known_positives(version=1) if p.role == "officer")
    company = ds.company(positive.siren)
    officers = [{"name": " ".join([*o.person.first_names, o.person.last_name]), "birth_month": o.person.birth_ym}
                for o in company.officers if o.person is not None]
    items = [{"customer": {"kind": "entity", "siren": ds.siren(i), "declared_name": ds.company(ds.siren(i)).name},
              "segment": "cgp"} for i in range(100, 111)]
    items.append({"customer": {"kind": "entity", "siren": company.siren, "declared_name": company.name,
                               "declared_officers": officers}, "segment": "cgp"})
    with session_scope(url) as s:
        register_batch(s, parse_request({"customers": items}), actor="t", run_id="onboarding")
    dag = _dag("kyc_full_rescreen")
    with pytest.raises(Exception, match="reason"):
        dag.test(run_conf={"shard_size": 5})
    run = dag.test(run_conf={"reason": "matcher upgrade", "shard_size": 5})
    states = _states(run)
    assert run.state == "success", states
    assert [states[("rescreen_shard", i)] for i in range(3)] == ["success"] * 3
    with session_scope(url) as s:
        hits = s.scalars(select(ScreeningHit).where(ScreeningHit.run_id == f"full:{run.run_id}")).all()
        assert hits and {h.verdict for h in hits} & {"match"}
        assert s.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.event_type == "full_rescreen_shard")) == 3
        assert s.scalar(select(func.count()).select_from(ReviewFlag).where(ReviewFlag.reason == "list_change")) >= 1
