"""Customer repository: the only writer of the `customer` table, and the home of the customer status rule."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any, NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from kyc_core.store.models import Customer

_CHUNK = 1000


class BookRow(NamedTuple):
    """What whole-book screening reads of a customer."""

    id: str
    kind: str
    siren: str | None
    profile: dict[str, Any]


def get(session: Session, customer_id: str) -> Customer | None:
    """One customer, or None."""
    return session.get(Customer, customer_id)


def require(session: Session, customer_id: str) -> Customer:
    """One customer; LookupError when it is not registered."""
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise LookupError(f"customer {customer_id} is not registered")
    return customer


def upsert(session: Session, *, customer_id: str, ref: str, kind: str, segment: str, channel: str | None,
           siren: str | None, identifiers: dict[str, Any], profile: dict[str, Any], input_hash: str,
           moment: datetime) -> tuple[bool, bool]:
    """Insert a customer, or refresh its input when it changed; (created, changed)."""
    existing = session.get(Customer, customer_id)
    if existing is None:
        session.add(Customer(id=customer_id, customer_ref=ref, kind=kind, segment=segment, channel=channel, siren=siren,
                             identifiers=identifiers, profile=profile, input_hash=input_hash, status="registered",
                             created_at=moment, updated_at=moment))
        session.flush()
        return True, True
    if existing.input_hash == input_hash:
        return False, False
    existing.profile, existing.input_hash = profile, input_hash
    existing.segment, existing.channel, existing.updated_at = segment, channel, moment
    session.flush()
    return False, True


def apply_decision(session: Session, customer_id: str, *, outcome: str, pending: bool, risk_level: str | None,
                   next_review_date: date | None, moment: datetime) -> Customer:
    """The status rule: pending review until a person decided, else the outcome; a `review` stays flagged."""
    customer = require(session, customer_id)
    if risk_level is not None:
        customer.risk_level = risk_level
    if next_review_date is not None:
        customer.next_review_date = next_review_date
    customer.status = "pending_review" if pending else outcome
    customer.flagged_for_review = outcome == "review"
    customer.updated_at = moment
    session.flush()
    return customer


def reviewed(session: Session, customer_id: str, *, next_review_date: date | None, moment: datetime) -> Customer:
    """A re-review that changed nothing: only the next review date moves."""
    customer = require(session, customer_id)
    if next_review_date is not None:
        customer.next_review_date = next_review_date
    customer.updated_at = moment
    session.flush()
    return customer


def flag(session: Session, customer_id: str, *, moment: datetime) -> None:
    """Mark a customer for re-review (a new list entry or register event concerns it)."""
    customer = require(session, customer_id)
    customer.flagged_for_review = True
    customer.updated_at = moment


def segments(session: Session, customer_ids: Iterable[str]) -> dict[str, str]:
    """Customer id -> segment."""
    ids = sorted(set(customer_ids))
    out: dict[str, str] = {}
    for start in range(0, len(ids), _CHUNK):
        out.update((cid, seg) for cid, seg in session.execute(select(Customer.id, Customer.segment).where(Customer.id.in_(ids[start:start + _CHUNK]))))
    return out


def book(session: Session) -> list[BookRow]:
    """Every customer, in id order."""
    rows = session.execute(select(Customer.id, Customer.kind, Customer.siren, Customer.profile).order_by(Customer.id))
    return [BookRow(cid, kind, siren, profile or {}) for cid, kind, siren, profile in rows]
