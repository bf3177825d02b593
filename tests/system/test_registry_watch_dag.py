"""`kyc_registry_watch` runs end to end in Airflow (dag.test) against the emulator and a real KYC database.

`dag.test()` does not schedule the DAGs an asset event would trigger: the test reads the event the watch emitted
from Airflow's metadata database, as `kyc_perpetual_review` receives it.
"""

from __future__ import annotations

import json
import urllib.request
from datetime import UTC, datetime

import pytest
from kyc_core.store import registry_events as repo
from kyc_core.store.db import session_scope
from kyc_core.store.models import Customer, RegistryEvent
from sqlalchemy import select

ASSET_URI = "kyc://registry/severe-events"


@pytest.fixture
def watch_dag(airflow_db, store, emulator, load_lists, emulator_connections, monkeypatch):
    from airflow.dag_processing.dagbag import DagBag

    load_lists()
    emulator_connections(store)
    monkeypatch.delenv("KYC_REDIS_URL", raising=False)
    # Fast retries; Sirene's 30/min limit lives in this process across tests (no Redis): raised for the test.
    monkeypatch.setenv("KYC_SOURCE_CONFIG", json.dumps({"*": {"retry_initial_s": 0.01, "retry_max_s": 0.02},
                                                        "sirene": {"rate_limit": 6000}}))
    return DagBag(dag_folder="dags").dags["kyc_registry_watch"], store


def _register(url: str, company) -> str:
    from kyc_core.customers.registration import register_customer
    from kyc_core.customers.request import EntityCustomer, OnboardingCustomer

    item = OnboardingCustomer(customer=EntityCustomer(siren=company.siren, declared_name=company.name), segment="cgp")
    with session_scope(url) as session:
        return register_customer(session, item, actor="test", run_id=None).customer_id


def _publish(emulator, **event) -> dict:
    request = urllib.request.Request(emulator.root + "/_admin/events", data=json.dumps(event).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def _states(run) -> dict[str, str | None]:
    return {ti.task_id: ti.state for ti in run.get_task_instances()}


def _asset_events() -> list[dict]:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.execute(
            select(AssetEvent.extra, AssetEvent.source_dag_id)
            .join(AssetModel, AssetModel.id == AssetEvent.asset_id)
            .where(AssetModel.uri == ASSET_URI)
            .order_by(AssetEvent.id)
        ).all()
    return [extra for extra, dag_id in rows if dag_id == "kyc_registry_watch"]


def test_watch_flags_and_emits_severe_events_once_and_fails_closed_when_bodacc_is_down(watch_dag, emulator):
    from kyc_dev.emulator.faults import FaultSpec

    dag, url = watch_dag
    dataset = emulator.state.dataset
    liquidated, joined, quiet = (dataset.company_at(i) for i in (6, 12, 14))
    ids = {c.siren: _register(url, c) for c in (liquidated, joined, quiet)}
    events_before = len(_asset_events())

    # Fresh answers for the baseline: the in-process cache (no Redis here) outlives one test.
    first = dag.test(run_conf={"refetch_all": True})
    assert first.state == "success", _states(first)
    assert _states(first)["publish_severe"] == "skipped"
    today = datetime.now(UTC).date().isoformat()
    with session_scope(url) as session:
        assert repo.watermark(session, "bodacc", "notices").position == today
        assert session.scalars(select(RegistryEvent)).all() == []

    _publish(emulator, event="bodacc", siren=liquidated.siren, family="collective", proceeding="liquidation")
    _publish(emulator, event="officer_in", siren=joined.siren, listed=True)
    second = dag.test(run_conf={"refetch_all": True})
    assert second.state == "success", _states(second)
    assert _states(second)["publish_severe"] == "success"
    [event] = _asset_events()[events_before:]
    assert sorted(event["customer_ids"]) == sorted([ids[liquidated.siren], ids[joined.siren]])
    assert sorted(e["event_type"] for e in event["events"]) == ["liquidation", "officer_in"]
    with session_scope(url) as session:
        rows = session.scalars(select(RegistryEvent)).all()
        assert sorted((r.siren, r.event_type, r.severe) for r in rows) == sorted(
            [(liquidated.siren, "liquidation", True), (joined.siren, "officer_in", True)])
        flagged = set(session.scalars(select(Customer.id).where(Customer.flagged_for_review.is_(True))))
        assert flagged == {ids[liquidated.siren], ids[joined.siren]}

    # The same state again: nothing new, no asset event.
    third = dag.test(run_conf={"refetch_all": True})
    assert third.state == "success" and _states(third)["publish_severe"] == "skipped"
    assert len(_asset_events()) == events_before + 1

    # BODACC down: the run fails naming it, the watermark stays, nothing is written.
    emulator.state.faults.set("bodacc", FaultSpec(outage="503"))
    with session_scope(url) as session:
        repo.advance(session, "bodacc", "notices", "2026-11-30", moment=datetime.now(UTC), actor="test", run_id=None)
    down = dag.test()
    assert down.state == "failed" and _states(down)["check_sources"] == "failed"
    with session_scope(url) as session:
        assert repo.watermark(session, "bodacc", "notices").position == "2026-11-30"
        assert len(session.scalars(select(RegistryEvent)).all()) == 2
