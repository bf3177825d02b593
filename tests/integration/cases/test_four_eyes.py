"""Four-eyes review in the core: two different allowed people, recorded once, final decision reflects them."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest
from kyc_core.cases.casefile import load_case, render_csv, render_text
from kyc_core.cases.options import APPROVE, CONFIRM, EDD_REQUIRED, OVERTURN, REJECT
from kyc_core.cases.review import FourEyesViolation, InvalidAnswer, Review, finalize, plan_of, record_review
from kyc_core.errors import UserError
from kyc_core.store import migrate
from kyc_core.store.audit import verify_chain
from kyc_core.store.db import session_scope
from kyc_core.store.models import AuditEvent, Customer, Decision
from sqlalchemy import select

ALLOWED = ["analyst1", "analyst2", "analyst3"]


def _pending(url: str, outcome: str = "reject") -> str:
    now = datetime.now(UTC)
    cid, did = str(uuid.uuid4()), str(uuid.uuid4())
    with session_scope(url) as s:
        s.add(Customer(id=cid, customer_ref=f"R-{cid[:6]}", kind="entity", segment="cgp", identifiers={}, profile={}, input_hash="x", created_at=now, updated_at=now))
        s.flush()
        s.add(
            Decision(
                id=did, customer_id=cid, run_id="run-1", outcome=outcome, status="pending_review", risk_level="high", score=0.8,
                reasons=[{"code": "sanctions_match", "outcome": "reject", "text": "an officer matches a listed person"}],
                contributions={"factors": {"pep_sanctions": {"value": 1.0, "weight": 0.35, "contribution": 0.35}}},
                documents=[], lineage={"proposed_outcome": outcome, "approvals_required": 1 if outcome == "review" else 2},
                created_at=now,
            )
        )
    return did


def _review(stage: int, who: str, choice: str = CONFIRM) -> Review:
    return Review(stage=stage, reviewer_id=who, reviewer_name=who, choice=choice, rationale="checked the listing", responded_at=datetime.now(UTC))


def test_two_distinct_confirmations_make_it_final(db_url):
    migrate.upgrade(db_url)
    did = _pending(db_url)
    with session_scope(db_url) as s:
        record_review(s, did, _review(1, "analyst1"), allowed=ALLOWED, actor="t", run_id="run-1")
    with session_scope(db_url) as s, pytest.raises(FourEyesViolation, match=r"still needs review stage\(s\) \[2\]"):
        finalize(s, did, actor="t", run_id="run-1")
    with session_scope(db_url) as s:
        record_review(s, did, _review(2, "analyst2"), allowed=ALLOWED, actor="t", run_id="run-1")
        decision = finalize(s, did, actor="t", run_id="run-1")
        assert (decision.outcome, decision.status) == ("reject", "final")
    with session_scope(db_url) as s:
        finalize(s, did, actor="t", run_id="run-1")  # idempotent
        kinds = [e.event_type for e in s.scalars(select(AuditEvent).where(AuditEvent.case_id == did).order_by(AuditEvent.seq))]
        assert kinds == ["human_review", "human_review", "final_decision"]
        assert verify_chain(s).ok
        final = s.scalars(select(AuditEvent).where(AuditEvent.event_type == "final_decision")).one()
        assert json.loads(final.payload)["reviewers"] == ["analyst1", "analyst2"]
        # The reviewers, not whoever triggered the run, made the decision; the proposal row is never edited.
        assert final.actor == "user:analyst1+user:analyst2"
        row = s.get(Decision, did)
        assert (row.outcome, row.status) == ("reject", "pending_review")
        assert s.get(Customer, row.customer_id).status == "reject"


def test_same_person_twice_is_refused(db_url):
    migrate.upgrade(db_url)
    did = _pending(db_url)
    with session_scope(db_url) as s:
        record_review(s, did, _review(1, "analyst1"), allowed=ALLOWED, actor="t", run_id="run-1")
    with session_scope(db_url) as s, pytest.raises(FourEyesViolation, match="another person must"):
        record_review(s, did, _review(2, "analyst1"), allowed=ALLOWED, actor="t", run_id="run-1")


def test_rationale_is_required(db_url):
    migrate.upgrade(db_url)
    did = _pending(db_url)
    blank = Review(stage=1, reviewer_id="analyst1", reviewer_name="analyst1", choice=CONFIRM, rationale=" ok ", responded_at=datetime.now(UTC))
    with session_scope(db_url) as s, pytest.raises(InvalidAnswer, match="rationale of at least 5"):
        record_review(s, did, blank, allowed=ALLOWED, actor="t", run_id="run-1")
    with session_scope(db_url) as s:
        assert plan_of(s, did).open_stages == (1, 2)  # nothing was recorded: the reviewer is asked again


def test_unlisted_reviewer_is_refused(db_url):
    migrate.upgrade(db_url)
    did = _pending(db_url)
    with session_scope(db_url) as s, pytest.raises(FourEyesViolation, match="not an allowed reviewer"):
        record_review(s, did, _review(1, "mallory"), allowed=ALLOWED, actor="t", run_id="run-1")


def test_a_split_goes_to_a_senior_who_decides(db_url):
    migrate.upgrade(db_url)
    did = _pending(db_url, outcome="edd_required")
    with session_scope(db_url) as s:
        record_review(s, did, _review(1, "analyst1"), allowed=ALLOWED, actor="t", run_id="run-1")
        record_review(s, did, _review(2, "analyst3", OVERTURN), allowed=ALLOWED, actor="t", run_id="run-1")
        assert plan_of(s, did).open_stages == (3,)
    # Never a silent "review (final)": nothing is final until the senior answered.
    with session_scope(db_url) as s, pytest.raises(FourEyesViolation, match=r"still needs review stage\(s\) \[3\]"):
        finalize(s, did, actor="t", run_id="run-1")
    with session_scope(db_url) as s, pytest.raises(FourEyesViolation, match="another person must"):
        record_review(s, did, _review(3, "analyst1", APPROVE), allowed=None, actor="t", run_id="run-1")
    with session_scope(db_url) as s, pytest.raises(InvalidAnswer, match="unknown choice"):
        record_review(s, did, _review(3, "senior1", CONFIRM), allowed=None, actor="t", run_id="run-1")
    with session_scope(db_url) as s:
        record_review(s, did, _review(3, "senior1", APPROVE), allowed=["senior1"], actor="t", run_id="run-1")
        decision = finalize(s, did, actor="t", run_id="run-1")
        assert (decision.outcome, decision.status) == ("approve", "final")
        assert decision.reasons[-1]["code"] == "reviewer_decided"
        assert decision.final_actor == "user:analyst1+user:analyst3+user:senior1"


def test_a_review_is_decided_by_one_reviewer(db_url):
    migrate.upgrade(db_url)
    did = _pending(db_url, outcome="review")
    with session_scope(db_url) as s:
        assert plan_of(s, did).kind == "single" and plan_of(s, did).open_stages == (1,)
    with session_scope(db_url) as s, pytest.raises(FourEyesViolation, match="needs no review at stage 2"):
        record_review(s, did, _review(2, "analyst2", REJECT), allowed=ALLOWED, actor="t", run_id="run-1")
    with session_scope(db_url) as s:
        record_review(s, did, _review(1, "analyst2", EDD_REQUIRED), allowed=ALLOWED, actor="t", run_id="run-1")
        decision = finalize(s, did, actor="t", run_id="run-1")
    assert (decision.outcome, decision.status, decision.reviewers) == ("edd_required", "final", ("analyst2",))


def test_case_file_from_the_database_alone(db_url):
    migrate.upgrade(db_url)
    did = _pending(db_url)
    with session_scope(db_url) as s:
        record_review(s, did, _review(1, "analyst1"), allowed=ALLOWED, actor="t", run_id="run-1")
        case = load_case(s, did)
        customer_id = case["customer"]["id"]
        assert load_case(s, customer_id)["decision"]["id"] == did
        with pytest.raises(UserError, match="no decision or customer"):
            load_case(s, "nope")
    text = render_text(case)
    assert "outcome: reject (pending_review)" in text and "sanctions_match" in text and "human_review" in text
    csv_text = render_csv(case)
    assert csv_text.splitlines()[0] == "section,seq,timestamp,code,actor,value,detail"
    assert any(line.startswith("event,") and "human_review" in line for line in csv_text.splitlines())


def test_the_case_file_explains_a_risk_level_the_score_band_does_not_give():
    from kyc_core.cases.casefile import risk_note
    from kyc_core.policy import load_policy

    policy = load_policy("cgp")
    lineage = {"policy": {"content_hash": policy.content_hash}, "proposed_outcome": "edd_required",
               "decision": {"triggers": [{"trigger": "pep", "text": "declared PEP"}]}}
    low = policy.spec.risk_bands.medium_from / 2
    note = risk_note({"score": low, "risk_level": "high", "outcome": "edd_required", "lineage": lineage})
    assert note is not None and f"score {low:.2f} falls in the low band" in note and "triggers: pep" in note
    assert risk_note({"score": low, "risk_level": "low", "outcome": "approve", "lineage": lineage}) is None
