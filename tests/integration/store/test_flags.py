"""Review flags: typed, idempotent per cause while open, audited; cleared up to what a review acted on."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from kyc_core.customers.registration import register_batch
from kyc_core.customers.request import parse_request
from kyc_core.store import flags
from kyc_core.store.db import session_scope
from kyc_core.store.models import AuditEvent, Customer, Decision
from sqlalchemy import select

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
ITEM = {"customer": {"kind": "person", "name": "Ana Lopez", "birth_date": "1990-01-31", "nationality": "ES",
                     "residence_country": "FR"}, "segment": "fintech", "external_ref": "F-1"}


@pytest.fixture
def customer(store) -> str:
    with session_scope(store) as s:
        return register_batch(s, parse_request({"customers": [ITEM]}), actor="t", run_id=None)[0].customer_id


def test_a_flag_is_typed_idempotent_per_cause_and_audited(store, customer):
    with session_scope(store) as s:
        first = flags.raise_flag(s, customer, reason="registry_event", detail={"event": "liquidation"}, key="n-1",
                                 actor="watch", moment=NOW)
        assert first is not None
        assert flags.raise_flag(s, customer, reason="registry_event", key="n-1", actor="watch", moment=NOW) is None
        flags.raise_flag(s, customer, reason="manual", detail={"rationale": "press article"}, actor="user:a", moment=NOW)
        with pytest.raises(ValueError):
            flags.raise_flag(s, customer, reason="gossip", actor="x", moment=NOW)
        with pytest.raises(LookupError):
            flags.raise_flag(s, "no-such-customer", reason="manual", actor="x", moment=NOW)
    with session_scope(store) as s:
        assert flags.open_reasons(s) == {customer: ["registry_event", "manual"]}
        assert dict(flags.count_open(s)) == {"registry_event": 1, "manual": 1}
        assert s.get(Customer, customer).flagged_for_review is True
        events = s.scalars(select(AuditEvent).where(AuditEvent.event_type == "customer_flagged")).all()
        assert [e.customer_id for e in events] == [customer, customer]


def test_clearing_stops_at_what_the_review_acted_on(store, customer):
    with session_scope(store) as s:
        older = flags.raise_flag(s, customer, reason="list_change", key="v1", actor="delta", moment=NOW)
        flags.raise_flag(s, customer, reason="manual", actor="user:a", moment=NOW)
        assert older is not None
        assert flags.clear(s, customer, cleared_by="review-run", moment=NOW, up_to_id=older.id) == 1
    with session_scope(store) as s:
        assert flags.open_reasons(s) == {customer: ["manual"]}
        assert s.get(Customer, customer).flagged_for_review is True  # a newer cause is still open
        flags.clear(s, customer, cleared_by="review-run-2", moment=NOW)
    with session_scope(store) as s:
        assert flags.open_flags(s) == [] and s.get(Customer, customer).flagged_for_review is False


def test_a_customer_whose_latest_proposal_is_review_stays_flagged(store, customer):
    with session_scope(store) as s:
        s.add(Decision(id="d" * 36, customer_id=customer, run_id="r", outcome="review", status="pending_review",
                       lineage={"proposed_outcome": "review"}, created_at=NOW))
        s.get(Customer, customer).flagged_for_review = True
        flags.raise_flag(s, customer, reason="manual", actor="user:a", moment=NOW)
        flags.clear(s, customer, cleared_by="review-run", moment=NOW)
    with session_scope(store) as s:
        assert flags.open_flags(s) == [] and s.get(Customer, customer).flagged_for_review is True
