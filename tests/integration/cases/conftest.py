"""A pending decision with hits on active list entries, for the judgement and review-form tests."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from kyc_core.store.db import session_scope
from kyc_core.store.models import Customer, Decision, ListEntry, ListVersion, ScreeningHit
from sqlalchemy import select

OFFICER, OWNER = "officer:aaaaaaaaaaaaaaaa", "owner:bbbbbbbbbbbbbbbb"


def _list_version(session, entries: dict[str, str], *, list_key: str = "ofac_sdn") -> int:
    """An active list version holding `entries` (native id -> content hash); the previous one is superseded."""
    for old in session.scalars(select(ListVersion).where(ListVersion.list_key == list_key, ListVersion.status == "active")):
        old.status = "superseded"
    version = ListVersion(list_key=list_key, content_hash=uuid.uuid4().hex * 2, source_format="test", loaded_at=datetime.now(UTC),
                          status="active", entry_count=len(entries))
    session.add(version)
    session.flush()
    for native_id, digest in entries.items():
        session.add(ListEntry(version_id=version.id, list_key=list_key, native_id=native_id, entry_type="individual",
                              primary_name="X", entry_hash=digest, data={}))
    return version.id


@pytest.fixture
def case(store):
    """A customer whose reject decision has three hits (two subjects on entry 101, one on 202), lists active."""
    now = datetime.now(UTC)
    cid, did = str(uuid.uuid4()), str(uuid.uuid4())
    with session_scope(store) as s:
        version = _list_version(s, {"101": "h101", "202": "h202"})
        s.add(Customer(id=cid, customer_ref=f"R-{cid[:6]}", kind="entity", segment="cgp", identifiers={}, profile={},
                       input_hash="x", created_at=now, updated_at=now))
        s.flush()
        s.add(Decision(id=did, customer_id=cid, run_id="run-1", outcome="reject", status="pending_review", risk_level="high",
                       score=0.8, reasons=[], contributions={}, documents=[],
                       lineage={"proposed_outcome": "reject", "approvals_required": 2}, created_at=now))
        for subject, native_id, score in ((OFFICER, "101", 0.91), (OWNER, "101", 0.72), (OFFICER, "202", 0.64)):
            s.add(ScreeningHit(customer_id=cid, subject_role=subject.split(":")[0], subject_key=subject, list_key="ofac_sdn",
                               native_id=native_id, list_version_id=version, entry_hash=f"h{native_id}", matched_name="X",
                               score=score, verdict="match" if score > 0.7 else "review", explanation={},
                               matcher_version="t", run_id="run-1", created_at=now))
    with session_scope(store) as s:
        rows = s.scalars(select(ScreeningHit).where(ScreeningHit.customer_id == cid)).all()
    return {"url": store, "customer_id": cid, "decision_id": did, "hits": {(h.subject_key, h.native_id): h.id for h in rows},
            "scores": {(h.subject_key, h.native_id): h.score for h in rows}}




@pytest.fixture
def new_list_version():
    """Activate a new version of a list in a session: `(session, {native id: content hash}) -> version id`."""
    return _list_version
