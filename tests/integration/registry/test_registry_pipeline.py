"""The registry fetch on the real Postgres and Redis against the emulator: snapshots, costed ledger, cache,
and a one-source outage seen by separate worker processes until recovery."""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import time

import pytest
import registry_workers
from kyc_core.registry import SourceState, fetch_company
from kyc_core.resilience import CallContext
from kyc_core.store.audit import EventType, verify_chain
from kyc_core.store.db import session_scope
from kyc_core.store.migrate import upgrade
from kyc_core.store.models import AuditEvent, RegistrySnapshot, SourceCall
from sqlalchemy import select

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

SPAWN = multiprocessing.get_context("spawn")
RESET_TIMEOUT_S = 2.0
#: Two failing attempts open the breaker; a short reset timeout keeps the recovery within the test.
OUTAGE_CONFIG = {
    "*": {"retry_attempts": 2, "retry_initial_s": 0.01, "retry_max_s": 0.05},
    "bodacc": {"failure_threshold": 2, "reset_timeout_s": RESET_TIMEOUT_S},
}


def _calls(url: str) -> list[SourceCall]:
    with session_scope(url) as session:
        return list(session.scalars(select(SourceCall).order_by(SourceCall.id)))


def _cost_by_source(calls: list[SourceCall]) -> dict[str, float]:
    totals: dict[str, float] = {}
    for call in calls:
        totals[call.source] = round(totals.get(call.source, 0.0) + call.cost, 6)
    return totals


def run_worker(args: tuple, *, timeout: float = 90) -> dict:
    """Run one fetch in a freshly spawned OS process and return what it reports."""
    results = SPAWN.Queue()
    proc = SPAWN.Process(target=registry_workers.entry, args=(results, 0, args))
    proc.start()
    _, value = results.get(timeout=timeout)
    proc.join(timeout=30)
    assert proc.exitcode == 0, value
    return value


def test_fetch_stores_snapshots_and_costed_ledger_then_rerun_is_a_free_cache_hit(
    pg_url, redis_url, emulator, admin, endpoints
):
    upgrade(pg_url)
    url, prefix = redis_url
    siren = emulator.state.dataset.siren(7)
    context = CallContext(run_id="manual__cache", task_id="fetch_registry")

    def fetch():
        return asyncio.run(
            fetch_company(
                siren,
                endpoints=endpoints,
                database_url=pg_url,
                redis_url=url,
                key_prefix=prefix,
                context=context,
            )
        )

    first = fetch()
    after_first = admin.requests()
    calls_first = _calls(pg_url)

    assert not first.unavailable
    assert after_first == {"sirene": 2, "rne": 3, "bodacc": 1}
    assert {c.outcome for c in calls_first} == {"ok"} and len(calls_first) == 5
    assert _cost_by_source(calls_first) == {"sirene": 0.0, "rne": 0.02, "rbe": 0.05, "bodacc": 0.01}
    with session_scope(pg_url) as session:
        stored = session.scalars(select(RegistrySnapshot).order_by(RegistrySnapshot.id)).all()
        assert [s.id for s in stored] == list(first.snapshot_ids)
        assert {s.run_id for s in stored} == {"manual__cache"}

    second = fetch()

    assert admin.requests() == after_first
    assert second.snapshot_ids == first.snapshot_ids and second.snapshots_new == 0
    assert {s: o.from_cache for s, o in second.outcomes.items()} == dict.fromkeys(second.outcomes, True)
    new_calls = _calls(pg_url)[len(calls_first) :]
    assert [c.outcome for c in new_calls] == ["cache_hit"] * 5
    assert sum(c.cost for c in new_calls) == 0
    assert {c.task_id for c in new_calls} == {"fetch_registry"}


def test_one_source_outage_opens_its_breaker_for_every_worker_and_recovery_closes_it(
    pg_url, redis_url, emulator, admin, endpoints
):
    upgrade(pg_url)
    url, prefix = redis_url
    sirens = list(emulator.state.dataset.sirens(30, 33))

    def worker(siren: str, name: str) -> dict:
        return run_worker((endpoints, pg_url, url, prefix, siren, OUTAGE_CONFIG, name))

    admin.set_faults("bodacc", outage="503")
    first = worker(sirens[0], "worker_a")
    second = worker(sirens[1], "worker_b")
    during = admin.requests()

    assert first["summary"]["sources"]["bodacc"]["error"] == "transient"
    assert first["bodacc_breaker"] == "open"
    assert second["summary"]["sources"]["bodacc"]["error"] == "circuit_open"
    assert second["bodacc_breaker"] == "open"
    for report in (first, second):
        assert [s for s, v in report["summary"]["sources"].items() if v["status"] != "ok"] == ["bodacc"]
        assert report["summary"]["unavailable"] == ["bodacc"]
    # The second worker never reached BODACC: the first one's two failures opened it for everybody.
    assert during["bodacc"] == 2

    admin.clear_faults("bodacc")
    time.sleep(RESET_TIMEOUT_S + 0.3)
    third = worker(sirens[2], "worker_c")

    assert third["summary"]["sources"]["bodacc"]["status"] == SourceState.OK.value
    assert third["bodacc_breaker"] == "closed"
    assert admin.requests()["bodacc"] == during["bodacc"] + 1
    bodacc_calls = [(c.outcome, c.task_id) for c in _calls(pg_url) if c.source == "bodacc"]
    assert bodacc_calls == [("error", "worker_a"), ("circuit_open", "worker_b"), ("ok", "worker_c")]
    with session_scope(pg_url) as session:
        changes = session.scalars(
            select(AuditEvent)
            .where(AuditEvent.event_type == EventType.BREAKER_STATE_CHANGED)
            .order_by(AuditEvent.seq)
        ).all()
        transitions = [
            (
                e.actor,
                json.loads(e.payload)["source"],
                json.loads(e.payload)["from_state"],
                json.loads(e.payload)["to_state"],
            )
            for e in changes
        ]
        assert transitions == [
            ("airflow:worker_a", "bodacc", "closed", "open"),
            ("airflow:worker_c", "bodacc", "open", "half_open"),
            ("airflow:worker_c", "bodacc", "half_open", "closed"),
        ]
        unavailable = session.scalars(
            select(AuditEvent)
            .where(AuditEvent.event_type == EventType.SOURCE_UNAVAILABLE)
            .order_by(AuditEvent.seq)
        ).all()
        assert [json.loads(e.payload)["error"] for e in unavailable] == ["transient", "circuit_open"]
        verified = verify_chain(session)
        assert verified.ok, verified.problem
