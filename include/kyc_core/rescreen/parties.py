"""The screened side of delta screening: every customer, officer and beneficial owner in the KYC database.

Who is screened, per customer:

- the customer itself: a person's name (with birth date and nationality), or an entity's declared name;
- the officers and beneficial owners the customer declared at onboarding (`Customer.profile`);
- when the registers were consulted, the officers and beneficial owners of the latest RNE answer kept
  in `registry_snapshot` (operation `company` of sources `rne`/`rbe`, parsed with
  `kyc_core.sources.rne.parse_record`): the register, not the declaration, is what a regulator checks.

A subject's key is `<customer id>|<role>:<digest>`; the digest hashes the folded name and birth date,
so the same person keeps the same key across runs (analyst judgements are keyed on it) and a person
both declared and registered is screened once.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Iterator
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kyc_core.countries import iso2
from kyc_core.screening.model import Subject
from kyc_core.sources.models import LegalEntityOfficer, NaturalPersonOfficer, RneRecord
from kyc_core.sources.rne import parse_record, single_record
from kyc_core.store.models import Customer, RegistrySnapshot

log = logging.getLogger(__name__)

CUSTOMER, OFFICER, OWNER = "customer", "officer", "owner"
_SEPARATOR = "|"
#: Snapshots holding an RNE company record (officers under `composition`, owners when entitled).
_RNE_SNAPSHOTS = (("rne", "company"), ("rbe", "beneficial_owners"))
_CHUNK = 1000


def subject_key(role: str, name: str, birth: str | None = None) -> str:
    """Stable key of a person or entity within one customer: role plus a digest of folded name and birth."""
    folded = " ".join(name.casefold().split())
    digest = hashlib.sha256(f"{folded}\x1f{birth or ''}".encode()).hexdigest()[:16]
    return f"{role}:{digest}"


def split_subject(key: str) -> tuple[str, str, str]:
    """(customer id, subject key within the customer, role) of a screened subject's key."""
    customer_id, _, inner = key.partition(_SEPARATOR)
    return customer_id, inner, inner.split(":", 1)[0]


def _subject(
    customer_id: str, role: str, name: str, type_: str, birth: str | None, country: str | None
) -> Subject:
    return Subject(
        key=f"{customer_id}{_SEPARATOR}{subject_key(role, name, birth)}",
        names=(name,),
        subject_type=type_,
        birth_dates=(birth,) if birth else (),
        countries=(c,) if (c := iso2(country)) else (),
    )


def _birth_month(year: int | None, month: int | None) -> str | None:
    if not year:
        return None
    return f"{year:04d}-{month:02d}" if month else f"{year:04d}"


def profile_subjects(customer_id: str, profile: dict[str, Any]) -> list[Subject]:
    """The customer and the officers and owners it declared, from the validated onboarding input."""
    subject = profile.get("customer") or {}
    out: list[Subject] = []
    if subject.get("kind") == "person" and subject.get("name"):
        out.append(
            _subject(
                customer_id,
                CUSTOMER,
                subject["name"],
                "person",
                subject.get("birth_date"),
                subject.get("nationality"),
            )
        )
    elif subject.get("kind") == "entity" and subject.get("declared_name"):
        out.append(_subject(customer_id, CUSTOMER, subject["declared_name"], "organization", None, None))
    for role, field in ((OFFICER, "declared_officers"), (OWNER, "declared_beneficial_owners")):
        for person in subject.get(field) or ():
            if person.get("name"):
                out.append(
                    _subject(
                        customer_id,
                        role,
                        person["name"],
                        "person",
                        person.get("birth_month"),
                        person.get("nationality"),
                    )
                )
    return out


def _person_name(first_names: Iterable[str], last_name: str) -> str:
    return " ".join([*first_names, last_name]).strip()


def record_subjects(customer_id: str, record: RneRecord) -> list[Subject]:
    """Active officers (people and companies) and declared beneficial owners of one RNE record."""
    out: list[Subject] = []
    for officer in record.officers:
        if isinstance(officer, NaturalPersonOfficer) and officer.last_name:
            out.append(
                _subject(
                    customer_id,
                    OFFICER,
                    _person_name(officer.first_names, officer.last_name),
                    "person",
                    _birth_month(officer.birth_year, officer.birth_month),
                    officer.nationality_code,
                )
            )
        elif isinstance(officer, LegalEntityOfficer) and officer.name:
            out.append(_subject(customer_id, OFFICER, officer.name, "organization", None, None))
    for owner in record.beneficial_owners.owners:
        if owner.last_name:
            out.append(
                _subject(
                    customer_id,
                    OWNER,
                    _person_name(owner.first_names, owner.last_name),
                    "person",
                    _birth_month(owner.birth_year, owner.birth_month),
                    owner.nationality_code,
                )
            )
    return out


def _latest_snapshot_ids(
    session: Session, customers: dict[str, tuple[str, str | None]]
) -> dict[str, list[int]]:
    """Customer id -> ids of its latest RNE/RBE record snapshots (one per source and operation)."""
    by_siren: dict[str, list[str]] = {}
    for customer_id, (_kind, siren) in customers.items():
        if siren:
            by_siren.setdefault(f"companies/{siren}", []).append(customer_id)
    latest: dict[tuple[str, str, str], tuple[Any, int]] = {}
    for source, operation in _RNE_SNAPSHOTS:
        rows = session.execute(
            select(
                RegistrySnapshot.id,
                RegistrySnapshot.customer_id,
                RegistrySnapshot.request_key,
                RegistrySnapshot.fetched_at,
            ).where(RegistrySnapshot.source == source, RegistrySnapshot.operation == operation)
        )
        for snap_id, customer_id, request_key, fetched_at in rows:
            owners = [customer_id] if customer_id in customers else by_siren.get(request_key, [])
            for owner in owners:
                key = (owner, source, operation)
                if key not in latest or (fetched_at, snap_id) > latest[key]:
                    latest[key] = (fetched_at, snap_id)
    out: dict[str, list[int]] = {}
    for (customer_id, _source, _operation), (_at, snap_id) in latest.items():
        out.setdefault(customer_id, []).append(snap_id)
    return out


def _parsed_snapshots(session: Session, ids: list[int]) -> Iterator[tuple[int, RneRecord]]:
    """Snapshots parsed as RNE records; an unreadable one is skipped (logged by id)."""
    for start in range(0, len(ids), _CHUNK):
        rows = session.execute(
            select(RegistrySnapshot.id, RegistrySnapshot.payload).where(
                RegistrySnapshot.id.in_(ids[start : start + _CHUNK])
            )
        )
        for snap_id, payload in rows:
            try:
                yield snap_id, parse_record(single_record(json.loads(payload)), rbe_entitled=True)
            except Exception as exc:  # noqa: BLE001 - one unreadable snapshot must not stop the screening
                log.warning(
                    "registry_snapshot=%s unreadable as an RNE record (%s): skipped",
                    snap_id,
                    type(exc).__name__,
                )


def _dedupe(subjects: Iterable[Subject]) -> list[Subject]:
    seen: dict[str, Subject] = {}
    for subject in subjects:
        seen.setdefault(subject.key, subject)
    return list(seen.values())


def customer_parties(session: Session) -> list[Subject]:
    """Every customer, declared officer and owner, and registered officer and owner, once each."""
    customers: dict[str, tuple[str, str | None]] = {}
    subjects: list[Subject] = []
    for customer_id, kind, siren, profile in session.execute(
        select(Customer.id, Customer.kind, Customer.siren, Customer.profile).order_by(Customer.id)
    ):
        customers[customer_id] = (kind, siren)
        subjects.extend(profile_subjects(customer_id, profile or {}))
    snapshots = _latest_snapshot_ids(session, customers)
    # One snapshot may serve several customers (the same company onboarded in two segments).
    owners_of: dict[int, list[str]] = {}
    for customer_id, ids in snapshots.items():
        for snap_id in ids:
            owners_of.setdefault(snap_id, []).append(customer_id)
    for snap_id, record in _parsed_snapshots(session, sorted(owners_of)):
        for customer_id in owners_of[snap_id]:
            subjects.extend(record_subjects(customer_id, record))
    return _dedupe(subjects)
