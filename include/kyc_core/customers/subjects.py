"""Who is screened for a customer: the one builder used by onboarding, delta screening and periodic review.

Per customer:

- the customer itself: a person under their name (birth date, nationality and residence country); a
  company under every name it is known by (the registered legal name, the declared name and the
  acronym), with country FR: a designation may name the registered company and not the trade name the
  customer declared;
- every officer and beneficial owner, declared or found in the registers, under each of their names.

A subject's key is `<role>:<digest>`; the digest hashes the folded name and birth date, so the same
person keeps the same key across runs (analyst judgements are keyed on it) and a person both declared
and registered is screened once. Whole-book screening prefixes it with the customer id
(`<customer id>|<role>:<digest>`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from kyc_core.countries import iso2
from kyc_core.screening.model import Subject

CUSTOMER, OFFICER, OWNER = "customer", "officer", "owner"
ROLES = (CUSTOMER, OFFICER, OWNER)
_SEPARATOR = "|"
#: French register: a company onboarded here is screened as a French company.
_REGISTER_COUNTRY = "FR"


@dataclass(frozen=True)
class Party:
    """An officer or beneficial owner as the registers or the customer's declaration name them."""

    names: tuple[str, ...]
    kind: str = "person"  # person | entity
    birth: str | None = None  # YYYY or YYYY-MM or YYYY-MM-DD
    nationality: str | None = None


@dataclass(frozen=True)
class RegisteredFacts:
    """What the registers say of a company: its names and its people (empty for a person customer)."""

    legal_name: str | None = None
    acronym: str | None = None
    officers: tuple[Party, ...] = ()
    owners: tuple[Party, ...] = ()


def subject_key(role: str, name: str, birth: str | None = None) -> str:
    """Stable key of a person or entity within one customer: role plus a digest of folded name and birth."""
    folded = " ".join(name.casefold().split())
    digest = hashlib.sha256(f"{folded}\x1f{birth or ''}".encode()).hexdigest()[:16]
    return f"{role}:{digest}"


def book_key(customer_id: str, key: str) -> str:
    """A subject's key in whole-book screening: the customer id, then the key within the customer."""
    return f"{customer_id}{_SEPARATOR}{key}"


def split_subject(key: str) -> tuple[str, str, str]:
    """(customer id, subject key within the customer, role) of a whole-book subject key."""
    customer_id, _, inner = key.partition(_SEPARATOR)
    return customer_id, inner, inner.split(":", 1)[0]


def birth_text(year: int | None, month: int | None) -> str | None:
    """YYYY-MM, YYYY, or None: the birth precision the registers give."""
    if not year:
        return None
    return f"{year:04d}-{month:02d}" if month else f"{year:04d}"


def _names(values: Iterable[str | None]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(v.strip() for v in values if v and v.strip()))


def declared_parties(profile: Mapping[str, Any]) -> RegisteredFacts:
    """The officers and owners the customer declared at onboarding (`Customer.profile`)."""
    subject = profile.get("customer") or {}
    groups: dict[str, list[Party]] = {OFFICER: [], OWNER: []}
    for role, field in ((OFFICER, "declared_officers"), (OWNER, "declared_beneficial_owners")):
        for person in subject.get(field) or ():
            if person.get("name"):
                groups[role].append(Party(names=(person["name"],), birth=person.get("birth_month"),
                                          nationality=person.get("nationality")))
    return RegisteredFacts(officers=tuple(groups[OFFICER]), owners=tuple(groups[OWNER]))


def merge_facts(*facts: RegisteredFacts) -> RegisteredFacts:
    """Several sources of facts as one: the first legal name and acronym found, every party."""
    return RegisteredFacts(
        legal_name=next((f.legal_name for f in facts if f.legal_name), None),
        acronym=next((f.acronym for f in facts if f.acronym), None),
        officers=tuple(p for f in facts for p in f.officers),
        owners=tuple(p for f in facts for p in f.owners),
    )


def _party_subject(role: str, party: Party) -> Subject | None:
    names = _names(party.names)
    if not names:
        return None
    country = iso2(party.nationality)
    return Subject(
        key=subject_key(role, names[0], party.birth),
        names=names,
        subject_type="person" if party.kind == "person" else "organization",
        birth_dates=(party.birth,) if party.birth else (),
        countries=(country,) if country else (),
    )


def customer_subjects(profile: Mapping[str, Any], facts: RegisteredFacts | None = None) -> list[tuple[str, Subject]]:
    """Every party to screen for one customer, with its role; `profile` is the validated onboarding input."""
    customer = profile.get("customer") or {}
    facts = facts or RegisteredFacts()
    out: list[tuple[str, Subject]] = []
    if customer.get("kind") == "person":
        if not customer.get("name"):
            return out
        birth = customer.get("birth_date")
        countries = tuple(dict.fromkeys(c for c in (iso2(customer.get("nationality")), iso2(customer.get("residence_country"))) if c))
        out.append((CUSTOMER, Subject(key=subject_key(CUSTOMER, customer["name"], birth), names=(customer["name"],),
                                      subject_type="person", birth_dates=(birth,) if birth else (), countries=countries)))
        return out
    declared = customer.get("declared_name")
    names = _names((facts.legal_name, declared, facts.acronym))
    if names:
        out.append((CUSTOMER, Subject(key=subject_key(CUSTOMER, declared or names[0]), names=names,
                                      subject_type="organization", countries=(_REGISTER_COUNTRY,))))
    seen: set[str] = set()
    for role, parties in ((OFFICER, facts.officers), (OWNER, facts.owners)):
        for party in parties:
            subject = _party_subject(role, party)
            if subject is not None and subject.key not in seen:
                seen.add(subject.key)
                out.append((role, subject))
    return out


def in_book(customer_id: str, subjects: Iterable[tuple[str, Subject]]) -> list[Subject]:
    """Subjects keyed for whole-book screening (`<customer id>|<role>:<digest>`)."""
    return [replace(s, key=book_key(customer_id, s.key)) for _, s in subjects]
