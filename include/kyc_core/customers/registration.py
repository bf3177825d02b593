"""Registering customers: idempotent, auditable, and free of personal data in what it returns."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from kyc_core.customers.request import InvalidRequest, OnboardingCustomer, OnboardingRequest
from kyc_core.store import customers as customer_repo
from kyc_core.store.audit import EventType, append_event, canonical_json

# Fixed namespace so the same business reference always maps to the same customer id.
_CUSTOMER_NS = uuid.UUID("6f0c8a4e-2f1b-5d7e-9c3a-4b8e1d2f6a90")


def input_hash(item: OnboardingCustomer) -> str:
    """SHA-256 of the validated input's canonical JSON."""
    return hashlib.sha256(canonical_json(item.model_dump(mode="json")).encode("utf-8")).hexdigest()


def customer_ref(item: OnboardingCustomer) -> str:
    """The integrator's reference, else a reference derived from the subject's identity."""
    if item.external_ref:
        return item.external_ref
    subject = item.customer
    if subject.kind == "entity":
        return f"siren:{subject.siren}:{item.segment.value}"
    identity = canonical_json({"name": subject.name.casefold(), "birth_date": subject.birth_date.isoformat()})
    return "person:" + hashlib.sha256(identity.encode("utf-8")).hexdigest()[:32]


def customer_id_for(ref: str) -> str:
    """Deterministic customer id of a reference."""
    return str(uuid.uuid5(_CUSTOMER_NS, ref))


@dataclass(frozen=True)
class Registered:
    """What a registration tells downstream tasks: ids only."""

    customer_id: str
    created: bool
    changed: bool


def register_customer(session: Session, item: OnboardingCustomer, *, actor: str, run_id: str | None) -> Registered:
    """Insert or refresh one customer and record it once per distinct input."""
    ref = customer_ref(item)
    cid = customer_id_for(ref)
    digest = input_hash(item)
    subject = item.customer
    created, changed = customer_repo.upsert(
        session, customer_id=cid, ref=ref, kind=subject.kind, segment=item.segment.value, channel=item.channel,
        siren=getattr(subject, "siren", None),
        identifiers={"siren": subject.siren, "siret": subject.siret} if subject.kind == "entity" else {},
        profile=item.model_dump(mode="json"), input_hash=digest, moment=datetime.now(UTC),
    )
    append_event(
        session,
        EventType.CUSTOMER_REGISTERED,
        actor=actor,
        customer_id=cid,
        run_id=run_id,
        payload={"kind": subject.kind, "segment": item.segment.value, "input_hash": digest, "created": created},
        idempotency_key=f"customer_registered:{cid}:{digest}",
    )
    return Registered(customer_id=cid, created=created, changed=changed)


def register_batch(session: Session, request: OnboardingRequest, *, actor: str, run_id: str | None) -> list[Registered]:
    """Register every customer of a request in the caller's transaction."""
    return [register_customer(session, item, actor=actor, run_id=run_id) for item in request.customers]


def record_rejection(session: Session, error: InvalidRequest, *, actor: str, run_id: str | None) -> None:
    """Record that a request was refused, naming the fields but never their values."""
    append_event(
        session,
        EventType.INPUT_REJECTED,
        actor=actor,
        run_id=run_id,
        payload={"errors": error.errors},
        idempotency_key=f"input_rejected:{run_id}" if run_id else None,
    )
