"""FetchRegistryDataOperator run as a worker runs it: Connections from AIRFLOW_CONN_* pointing at the emulator."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from airflow.sdk.exceptions import AirflowFailException
from kyc_airflow.operators.registry import (
    FetchRegistryDataOperator,
    RegistrySourceUnavailable,
    RegistrySourceUnusable,
)
from kyc_core.store.db import session_scope
from kyc_core.store.models import RegistrySnapshot, SourceCall
from kyc_dev.emulator.faults import FaultSpec
from sqlalchemy import func, select

pytestmark = pytest.mark.redis


@pytest.fixture
def connections(monkeypatch, emulator, kyc_db, redis_url):
    """Connections and settings of a worker pointed at the emulator, the test database and a private Redis prefix."""
    urls = emulator.urls
    conns = {
        "KYC_DB": {"conn_type": "kyc_database", "extra": {"url": kyc_db}},
        "KYC_SIRENE": {
            "conn_type": "insee_sirene",
            "host": urls["sirene"],
            "password": "emulator-sirene-key",
        },
        "KYC_RNE": {
            "conn_type": "inpi_rne",
            "host": urls["rne"],
            "login": "kyc@emulator.test",
            "password": "kyc-password",
            "extra": {"rbe_entitled": "true"},
        },
        "KYC_BODACC": {"conn_type": "bodacc", "host": urls["bodacc"]},
    }
    for name, conn in conns.items():
        monkeypatch.setenv(f"AIRFLOW_CONN_{name}", json.dumps(conn))
    url, prefix = redis_url
    monkeypatch.setenv("KYC_REDIS_URL", url)
    monkeypatch.setenv("KYC_SOURCE_CONFIG", json.dumps({"*": {"retry_attempts": 2, "retry_initial_s": 0.01}}))
    return prefix


def _context(try_number: int = 1) -> dict:
    ti = SimpleNamespace(dag_id="kyc_onboarding", task_id="fetch_registry", try_number=try_number)
    return {"run_id": "manual__op", "ti": ti, "dag_run": None}


def _operator(prefix: str, siren: str, **kwargs) -> FetchRegistryDataOperator:
    return FetchRegistryDataOperator(task_id="fetch_registry", siren=siren, key_prefix=prefix, **kwargs)


def test_init_only_stores_arguments_and_templates_siren_and_customer():
    op = FetchRegistryDataOperator(task_id="t", siren="{{ params.siren }}", customer_id="{{ params.cid }}")
    assert op.siren == "{{ params.siren }}" and op.customer_id == "{{ params.cid }}"
    assert set(op.template_fields) == {"siren", "customer_id"}
    assert (op.kyc_conn_id, op.sirene_conn_id, op.rne_conn_id, op.bodacc_conn_id) == (
        "kyc_db",
        "kyc_sirene",
        "kyc_rne",
        "kyc_bodacc",
    )


def test_execute_returns_only_ids_counts_and_statuses(emulator, connections, kyc_db):
    siren = emulator.state.dataset.siren(40)
    truth = emulator.state.dataset.company(siren)

    summary = _operator(connections, siren).execute(_context())

    assert {s: v["status"] for s, v in summary["sources"].items()} == dict.fromkeys(
        ("sirene", "rne", "rbe", "bodacc"), "ok"
    )
    assert summary["counts"]["officers"] == len(truth.officers)
    assert summary["beneficial_owners"] == truth.bo_status
    # XCom carries no names: the company's own name appears nowhere in what the task returns.
    assert truth.name not in json.dumps(summary)
    with session_scope(kyc_db) as session:
        ids = session.scalars(select(RegistrySnapshot.id).order_by(RegistrySnapshot.id)).all()
        run_ids = set(session.scalars(select(SourceCall.run_id)))
        tasks = set(session.scalars(select(SourceCall.task_id)))
    assert ids == summary["snapshot_ids"]
    assert run_ids == {"manual__op"} and tasks == {"fetch_registry"}


def test_refused_credentials_fail_without_retry(emulator, connections, monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_KYC_SIRENE",
        json.dumps({"conn_type": "insee_sirene", "host": emulator.urls["sirene"], "password": "revoked"}),
    )

    with pytest.raises(RegistrySourceUnusable, match="sirene") as raised:
        _operator(connections, emulator.state.dataset.siren(41), retries=3).execute(_context())

    assert isinstance(raised.value, AirflowFailException)


def test_outage_fails_the_try_while_retries_remain_then_reports_it(emulator, connections, kyc_db):
    emulator.state.faults.set("bodacc", FaultSpec(outage="503"))
    siren = emulator.state.dataset.siren(42)
    op = _operator(connections, siren, retries=1)

    with pytest.raises(RegistrySourceUnavailable, match="bodacc"):
        op.execute(_context(try_number=1))
    last = op.execute(_context(try_number=2))

    assert last["unavailable"] == ["bodacc"]
    assert last["sources"]["bodacc"]["error"] == "transient"
    assert last["sources"]["sirene"]["status"] == "ok"
    with session_scope(kyc_db) as session:
        outcomes = session.scalars(select(SourceCall.outcome).where(SourceCall.source == "bodacc")).all()
        stored = session.scalar(select(func.count()).select_from(RegistrySnapshot))
    assert outcomes == ["error", "error"]
    # The second try re-read the other registers from cache and stored nothing twice.
    assert stored == len(last["snapshot_ids"])


def test_invalid_siren_fails_without_retry_before_any_call(emulator, connections):
    with pytest.raises(AirflowFailException, match="invalid SIREN"):
        _operator(connections, "123456789", retries=3).execute(_context())
    assert emulator.state.stats.snapshot() == {}
