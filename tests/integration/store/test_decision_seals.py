"""Decisions are as tamper-evident as the audit trail: append-only in the database, sealed in the chain."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime

import pytest
from kyc_core.store import decisions as decision_repo
from kyc_core.store import migrate
from kyc_core.store.db import get_engine, session_scope
from kyc_core.store.models import Customer, Decision, MatchJudgement, ScreeningHit
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError


def _decision(url: str, outcome: str = "reject") -> str:
    now = datetime.now(UTC)
    cid, did = str(uuid.uuid4()), str(uuid.uuid4())
    with session_scope(url) as s:
        s.add(Customer(id=cid, customer_ref=f"S-{cid[:6]}", kind="entity", segment="cgp", identifiers={}, profile={},
                       input_hash="x", created_at=now, updated_at=now))
        s.flush()
        decision_repo.write_assessment(s, Decision(
            id=did, customer_id=cid, run_id="run-1", outcome=outcome, status="pending_review", risk_level="high", score=0.8123,
            reasons=[{"code": "sanctions_match", "outcome": "reject", "text": "an officer matches a listed person"}],
            contributions={"factors": [{"name": "pep_sanctions", "contribution": 0.35}]}, documents=[],
            lineage={"proposed_outcome": outcome, "approvals_required": 2, "matcher": {"review_threshold": 0.55}},
            created_at=now), [ScreeningHit(customer_id=cid, subject_role="officer", subject_key="officer:ab", list_key="ofac_sdn",
                                           native_id="1", entry_hash="e" * 64, matched_name="X", score=0.9, verdict="match",
                                           explanation={}, matcher_version="m", run_id="run-1", created_at=now)],
            actor="test")
        s.add(MatchJudgement(customer_id=cid, subject_key="officer:ab", list_key="ofac_sdn", native_id="1", entry_hash="e" * 64,
                             verdict="true_match", analyst="analyst1", rationale="same person", created_at=now))
    return did


def _verify(url: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "KYC_DATABASE_URL": url}
    return subprocess.run([sys.executable, "-m", "kyc_core.cli", "audit", "verify"], env=env, capture_output=True, text=True,
                          timeout=120)


@pytest.mark.parametrize("statement", ["UPDATE decision SET outcome = 'approve'", "DELETE FROM decision",
                                       "UPDATE screening_hit SET verdict = 'review'", "DELETE FROM match_judgement"])
def test_the_database_refuses_to_edit_decisions_hits_and_judgements(db_url, statement):
    migrate.upgrade(db_url)
    _decision(db_url)
    with pytest.raises(DBAPIError, match="append-only"):
        with session_scope(db_url) as s:
            s.execute(text(statement))


def test_a_sealed_decision_verifies_and_an_edit_with_triggers_off_is_named(db_url):
    migrate.upgrade(db_url)
    did = _decision(db_url)
    ok = _verify(db_url)
    assert ok.returncode == 0 and "every decision matches its sealed hash" in ok.stdout, ok.stderr
    # Someone with the power to switch the triggers off rewrites a sanctioned reject as an approval.
    engine = get_engine(db_url)
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE decision DISABLE TRIGGER USER"))
            conn.execute(text(f"UPDATE decision SET outcome = 'approve' WHERE id = '{did}'"))
            conn.execute(text("ALTER TABLE decision ENABLE TRIGGER USER"))
        else:
            conn.execute(text("DROP TRIGGER decision_no_update"))
            conn.execute(text(f"UPDATE decision SET outcome = 'approve' WHERE id = '{did}'"))
    broken = _verify(db_url)
    assert broken.returncode == 1
    assert broken.stderr.strip() == f"decisions BROKEN: decision {did} was edited after it was written (content differs from its sealed hash)"


def test_upgrade_seals_decisions_written_before(db_url):
    migrate.upgrade(db_url, "0003")
    now = datetime.now(UTC)
    with session_scope(db_url) as s:
        s.add(Customer(id="c-old", customer_ref="OLD", kind="entity", segment="cgp", identifiers={}, profile={}, input_hash="x",
                       created_at=now, updated_at=now))
        s.flush()
        s.add(Decision(id="d-old", customer_id="c-old", run_id="r", outcome="approve", status="final", reasons=[],
                       contributions={}, documents=[], lineage={}, created_at=now))
    with session_scope(db_url) as s:
        assert decision_repo.tampered(s) == ["decision d-old has no content hash in the audit chain (inserted outside the product)"]
    migrate.upgrade(db_url)
    with session_scope(db_url) as s:
        assert decision_repo.tampered(s) == []


def test_the_task_role_may_insert_decisions_but_not_edit_them(pg_url):
    from kyc_core.store.roles import grant_app_role

    migrate.upgrade(pg_url)
    did = _decision(pg_url)
    role = f"kyc_app_{uuid.uuid4().hex[:8]}"
    engine = get_engine(pg_url)
    with engine.begin() as conn:
        conn.execute(text(f"CREATE ROLE {role} NOLOGIN"))
    try:
        grant_app_role(pg_url, role)
        for statement in (f"UPDATE decision SET outcome = 'approve' WHERE id = '{did}'", "DELETE FROM decision",
                          "DELETE FROM customer", "ALTER TABLE decision DISABLE TRIGGER USER"):
            with pytest.raises(DBAPIError, match="permission denied|must be owner"):
                with engine.begin() as conn:
                    conn.execute(text(f"SET LOCAL ROLE {role}"))
                    conn.execute(text(statement))
        with engine.begin() as conn:
            conn.execute(text(f"SET LOCAL ROLE {role}"))
            assert conn.execute(text("SELECT count(*) FROM decision")).scalar_one() == 1
    finally:
        with engine.begin() as conn:
            conn.execute(text(f"REASSIGN OWNED BY {role} TO CURRENT_USER"))
            conn.execute(text(f"DROP OWNED BY {role}"))
            conn.execute(text(f"DROP ROLE {role}"))
