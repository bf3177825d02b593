"""The whole book as screening subjects: every customer with its declared and registered parties.

For companies, the registered facts come from the latest RNE answer kept in `registry_snapshot`
(operation `company` of sources `rne`/`rbe`, parsed with `kyc_core.sources.rne.parse_record`): the
register, not the declaration, is what a regulator checks. Subjects are built by
`kyc_core.customers.subjects.customer_subjects`, the same builder onboarding uses.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

from sqlalchemy.orm import Session

from kyc_core.customers.subjects import (
    Party,
    RegisteredFacts,
    birth_text,
    customer_subjects,
    declared_parties,
    in_book,
    merge_facts,
)
from kyc_core.screening.model import Subject
from kyc_core.sources.models import LegalEntityOfficer, NaturalPersonOfficer, RneRecord
from kyc_core.sources.rne import parse_record, single_record
from kyc_core.store import customers as customer_repo
from kyc_core.store import snapshots

log = logging.getLogger(__name__)


def _person_name(first_names: tuple[str, ...] | list[str], last_name: str) -> str:
    return " ".join([*first_names, last_name]).strip()


def facts_from_record(record: RneRecord) -> RegisteredFacts:
    """The names, active officers (people and companies) and declared beneficial owners of one RNE record."""
    officers: list[Party] = []
    for officer in record.officers:
        if isinstance(officer, NaturalPersonOfficer) and officer.last_name:
            officers.append(Party(names=(_person_name(officer.first_names, officer.last_name),),
                                  birth=birth_text(officer.birth_year, officer.birth_month), nationality=officer.nationality_code))
        elif isinstance(officer, LegalEntityOfficer) and officer.name:
            officers.append(Party(names=(officer.name,), kind="entity"))
    owners = tuple(
        Party(names=(_person_name(o.first_names, o.last_name),), birth=birth_text(o.birth_year, o.birth_month),
              nationality=o.nationality_code)
        for o in record.beneficial_owners.owners
        if o.last_name
    )
    return RegisteredFacts(legal_name=record.company.legal_name, acronym=record.company.acronym,
                           officers=tuple(officers), owners=owners)


def _parsed(session: Session, snapshot_ids: list[int]) -> Iterator[tuple[int, RneRecord]]:
    """Snapshots parsed as RNE records; an unreadable one is skipped (logged by id)."""
    for snap_id, payload in snapshots.payloads(session, snapshot_ids):
        try:
            yield snap_id, parse_record(single_record(json.loads(payload)), rbe_entitled=True)
        except Exception as exc:  # noqa: BLE001 - one unreadable snapshot must not stop the screening
            log.warning("registry_snapshot=%s unreadable as an RNE record (%s): skipped", snap_id, type(exc).__name__)


def book_subjects(session: Session) -> list[Subject]:
    """Every customer, declared officer and owner, and registered name, officer and owner, once each."""
    profiles = {row.id: row for row in customer_repo.book(session)}
    latest = snapshots.latest_rne(session, {cid: row.siren for cid, row in profiles.items()})
    # One snapshot may serve several customers (the same company onboarded in two segments).
    owners_of: dict[int, list[str]] = {}
    for customer_id, ids in latest.items():
        for snap_id in ids:
            owners_of.setdefault(snap_id, []).append(customer_id)
    registered: dict[str, list[RegisteredFacts]] = {}
    for snap_id, record in _parsed(session, sorted(owners_of)):
        for customer_id in owners_of[snap_id]:
            registered.setdefault(customer_id, []).append(facts_from_record(record))
    subjects: dict[str, Subject] = {}
    for customer_id, row in profiles.items():
        profile = row.profile or {}
        facts = merge_facts(*registered.get(customer_id, []), declared_parties(profile))
        for subject in in_book(customer_id, customer_subjects(profile, facts)):
            subjects.setdefault(subject.key, subject)
    return list(subjects.values())
