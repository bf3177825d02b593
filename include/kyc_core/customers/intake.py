"""Intake: a request's customers go to the KYC database, and the onboarding run carries their ids only.

Names, birth dates and occupations then never reach Airflow's own records (the run's conf, its audit log), which
reviewers and integrators can read. A run's conf by reference is `{"customer_ids": [...]}`; a request that fails
validation becomes `{"rejected_fields": [...]}` (field paths and messages, never the values) and its
`input_rejected` event is recorded here.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from kyc_core.customers.registration import record_rejection, register_batch
from kyc_core.customers.request import FORM_FIELDS, InvalidRequest, conf_from_params, parse_request
from kyc_core.store import customers as customer_repo

#: Keys of a conf by reference.
CUSTOMER_IDS = "customer_ids"
REJECTED_FIELDS = "rejected_fields"


def carries_personal_data(conf: Mapping[str, Any] | None) -> bool:
    """Whether a trigger conf holds customers themselves (a batch, or the form's fields) rather than ids."""
    if not isinstance(conf, Mapping):
        return False
    if conf.get(CUSTOMER_IDS) or conf.get(REJECTED_FIELDS):
        return False
    return bool(conf.get("customers")) or bool(conf.get("kind")) or any(
        conf.get(f) not in (None, "", False) for f in FORM_FIELDS if f not in ("kind", "segment", "pep_declared"))


def by_reference(session: Session, conf: Mapping[str, Any], *, actor: str, run_id: str | None = None) -> dict[str, Any]:
    """Register the conf's customers and return the conf that replaces it: ids only, or the rejected fields."""
    try:
        request = parse_request(conf_from_params(dict(conf)))
    except InvalidRequest as error:
        record_rejection(session, error, actor=actor, run_id=run_id)
        return {REJECTED_FIELDS: error.errors}
    registered = register_batch(session, request, actor=actor, run_id=run_id)
    return {CUSTOMER_IDS: [r.customer_id for r in registered]}


def referenced_ids(session: Session, conf: Mapping[str, Any]) -> list[str]:
    """The customer ids of a conf by reference, each checked to be a registered customer (InvalidRequest if not)."""
    ids = conf.get(CUSTOMER_IDS)
    if not isinstance(ids, list) or not ids:
        raise InvalidRequest([{"field": CUSTOMER_IDS, "message": "a non-empty list of customer ids is required"}])
    errors = []
    for position, value in enumerate(ids):
        field = f"{CUSTOMER_IDS}.{position}"
        try:
            uuid.UUID(str(value))
        except ValueError:
            errors.append({"field": field, "message": "not a customer id"})
            continue
        if customer_repo.get(session, str(value)) is None:
            errors.append({"field": field, "message": "no such customer"})
    if errors:
        raise InvalidRequest(errors)
    return [str(v) for v in dict.fromkeys(ids)]


def intake_run_id(customer_ids: list[str], input_hashes: list[str], idempotency_key: str | None = None) -> str:
    """The run of a submission: the client's idempotency key when given, else the customers and their input, so
    that a retried submission finds the run it started (Airflow answers 409) instead of starting a second one."""
    material = idempotency_key if idempotency_key else "|".join(
        f"{c}:{h}" for c, h in sorted(zip(customer_ids, input_hashes, strict=True)))
    return f"intake__{hashlib.sha256(material.encode()).hexdigest()[:24]}"
