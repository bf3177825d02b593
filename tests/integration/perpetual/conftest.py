"""Fixtures for perpetual review: customers written straight through the customer repository."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from kyc_core.store import customers as customer_repo
from kyc_core.store.db import session_scope

MOMENT = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


@pytest.fixture
def add_customer(store: str):
    """A registered person customer with a risk level and a next review date; its id."""
    counter = iter(range(1, 10_000))

    def make(risk_level: str | None = "low", next_review: date | None = None, customer_id: str | None = None) -> str:
        n = next(counter)
        cid = customer_id or f"00000000-0000-4000-8000-{n:012d}"
        profile = {"customer": {"kind": "person", "name": f"Test Person {n}", "birth_date": "1980-01-01",
                                "nationality": "FR", "residence_country": "FR"}, "segment": "cgp"}
        with session_scope(store) as session:
            customer_repo.upsert(session, customer_id=cid, ref=f"REF-{n}", kind="person", segment="cgp", channel="api",
                                 siren=None, identifiers={}, profile=profile, input_hash=f"{n:064d}", moment=MOMENT)
            if risk_level is not None:
                customer_repo.apply_decision(session, cid, outcome="approve", pending=False, risk_level=risk_level,
                                             next_review_date=next_review, moment=MOMENT)
        return cid

    return make
