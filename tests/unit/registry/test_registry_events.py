"""Audit events written by a registry fetch: breaker transitions and once-per-run fetch facts."""

from __future__ import annotations

import asyncio
import json

from kyc_core.registry.events import breaker_audit_callback, fetch_idempotency_key
from kyc_core.store.audit import EventType, verify_chain
from kyc_core.store.db import session_scope
from kyc_core.store.models import AuditEvent
from sqlalchemy import select


def _summary(bodacc_status: str, *, from_cache: bool, new: int) -> dict:
    ok = {"status": "ok", "error": None, "error_class": None, "from_cache": from_cache, "snapshot_ids": [1]}
    bodacc = dict(
        ok, status=bodacc_status, error=None if bodacc_status == "ok" else "transient", snapshot_ids=[]
    )
    return {"siren": "552100554", "sources": {"sirene": ok, "bodacc": bodacc}, "snapshots_new": new}


def test_breaker_transitions_become_chained_events_and_deadline_extensions_do_not(kyc_db):
    record = breaker_audit_callback(kyc_db, actor="airflow:kyc_onboarding.fetch", run_id="manual__1")

    async def transitions():
        await record("bodacc", "closed", "open", "2 consecutive failures, last TransientSourceError")
        await record("bodacc", "open", "open", "quota exceeded until 2026-01-01T00:00:00+00:00")
        await record("bodacc", "open", "half_open", "reset timeout elapsed, one probe call allowed")

    asyncio.run(transitions())

    with session_scope(kyc_db) as session:
        events = session.scalars(
            select(AuditEvent)
            .where(AuditEvent.event_type != EventType.SCHEMA_UPGRADED)
            .order_by(AuditEvent.seq)
        ).all()
        assert [e.event_type for e in events] == [EventType.BREAKER_STATE_CHANGED] * 2
        assert [(json.loads(e.payload)["from_state"], json.loads(e.payload)["to_state"]) for e in events] == [
            ("closed", "open"),
            ("open", "half_open"),
        ]
        assert {e.run_id for e in events} == {"manual__1"}
        assert verify_chain(session).ok


def test_same_outcome_in_a_run_has_one_key_whatever_the_cache_did():
    live = _summary("ok", from_cache=False, new=2)
    cached = _summary("ok", from_cache=True, new=0)
    failed = _summary("unavailable", from_cache=False, new=1)

    key = fetch_idempotency_key(EventType.REGISTRY_FETCHED, "run-1", live)

    assert key == fetch_idempotency_key(EventType.REGISTRY_FETCHED, "run-1", cached)
    assert key != fetch_idempotency_key(EventType.REGISTRY_FETCHED, "run-1", failed)
    assert key != fetch_idempotency_key(EventType.REGISTRY_FETCHED, "run-2", live)
    assert fetch_idempotency_key(EventType.REGISTRY_FETCHED, None, live) is None
