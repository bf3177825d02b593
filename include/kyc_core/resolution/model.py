"""The consolidated customer: every field carries the sources that attest it and when they said so."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from kyc_core.customers.request import PepCategory
from kyc_core.sources.models import Address, BeneficialOwnersAvailability, BodaccKind, ControlMode

T = TypeVar("T")


class _Frozen(BaseModel):
    """Immutable base: a resolution is evidence for a decision and is never edited afterwards."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class SourceName(StrEnum):
    """Where a value came from."""

    SIRENE = "sirene"
    RNE = "rne"
    RBE = "rbe"
    BODACC = "bodacc"
    DECLARED = "declared"


#: Public registers, as opposed to what the customer declared.
REGISTER_SOURCES = (SourceName.SIRENE, SourceName.RNE, SourceName.RBE, SourceName.BODACC)


class Provenance(_Frozen):
    """One source's testimony: which answer (snapshot hash), the source's own date and when we fetched it."""

    source: SourceName
    #: SHA-256 of the stored raw answer (registry snapshot), when the caller kept one.
    snapshot_hash: str | None = None
    #: The source's own date for the record (Sirene dateDernierTraitement, RNE updatedAt, BODACC dateparution).
    source_timestamp: datetime | None = None
    fetched_at: datetime | None = None
    #: Identifier of the record inside the source when one answer holds several (a BODACC notice id).
    record_id: str | None = None


class Sourced(_Frozen, Generic[T]):
    """A value and every source that gives this same value."""

    value: T
    provenance: tuple[Provenance, ...] = Field(min_length=1)

    @property
    def sources(self) -> tuple[SourceName, ...]:
        """Distinct sources attesting the value, in provenance order."""
        return tuple(dict.fromkeys(p.source for p in self.provenance))


class EntityStatus(StrEnum):
    """Legal existence of the company as the registers and BODACC show it."""

    ACTIVE = "active"
    CEASED = "ceased"
    #: Removed from the trade register (BODACC "radiation" notice).
    STRUCK_OFF = "struck_off"


class Activity(_Frozen):
    """Main activity: NAF rev. 2 code (dotted) and its label when the source gives one."""

    code: str
    label: str | None = None


class LegalCategory(_Frozen):
    """INSEE legal category code (e.g. 5710) and its label."""

    code: str
    label: str | None = None


class ConflictCode(StrEnum):
    """Typed disagreements and alerts found while consolidating; codes never carry personal data."""

    DECLARED_NAME_MISMATCH = "declared_name_mismatch"
    REGISTER_NAMES_DISAGREE = "register_names_disagree"
    SIREN_MISMATCH = "siren_mismatch"
    DECLARED_OFFICER_NOT_IN_REGISTER = "declared_officer_not_in_register"
    DECLARED_OWNER_NOT_IN_REGISTER = "declared_owner_not_in_register"
    OWNER_PERCENTAGE_MISMATCH = "owner_percentage_mismatch"
    REGISTER_OWNER_NOT_DECLARED = "register_owner_not_declared"
    REGISTER_OWNER_DUPLICATED = "register_owner_duplicated"
    COMPANY_CEASED = "company_ceased"
    COMPANY_STRUCK_OFF = "company_struck_off"
    COLLECTIVE_PROCEEDING_OPEN = "collective_proceeding_open"


class Conflict(_Frozen):
    """One flagged disagreement: a code, a sentence without personal data, and the structured facts."""

    code: ConflictCode
    explanation: str
    sources: tuple[SourceName, ...] = ()
    #: Key of the officer or owner concerned (see ResolvedParty.key), None for company-level conflicts.
    party_key: str | None = None
    #: The values compared (names and percentages allowed here; never copied into logs).
    details: dict[str, Any] = Field(default_factory=dict)


class ResolvedParty(_Frozen):
    """A person or company linked to the customer, consolidated across sources."""

    #: Stable within one resolution; the same human has the same key as officer and as owner.
    key: str
    kind: Literal["person", "entity"]
    name: Sourced[str]
    #: The customer's own spelling when it differs from the register's.
    declared_name: Sourced[str] | None = None
    birth_year: Sourced[int] | None = None
    birth_month: Sourced[int] | None = None
    nationality: Sourced[str] | None = None
    #: Companies acting as officers carry their SIREN so the ownership chain can be followed.
    siren: Sourced[str] | None = None
    #: Name similarity between the declared and register records when they were matched.
    match_score: float | None = None

    @property
    def sources(self) -> tuple[SourceName, ...]:
        """Every source that mentions this party."""
        fields = (
            self.name,
            self.declared_name,
            self.birth_year,
            self.birth_month,
            self.nationality,
            self.siren,
        )
        return tuple(dict.fromkeys(s for f in fields if f is not None for s in f.sources))

    @property
    def in_register(self) -> bool:
        """True when a public register lists this party."""
        return any(s is not SourceName.DECLARED for s in self.sources)


class ResolvedOfficer(ResolvedParty):
    """A legal representative (RNE `composition.pouvoirs`) or a declared one."""

    role_code: Sourced[str] | None = None
    role: Sourced[str] | None = None


class ResolvedOwner(ResolvedParty):
    """A beneficial owner with the extent and nature of control."""

    ownership_pct: Sourced[float] | None = None
    voting_pct: Sourced[float] | None = None
    #: True when part of the holding goes through an interposed legal entity.
    indirect: Sourced[bool] | None = None
    control_types: Sourced[tuple[ControlMode, ...]] | None = None
    residence_country: Sourced[str] | None = None


class LegalEvent(_Frozen):
    """A BODACC notice still in force that matters for KYC (proceedings, striking-off, sale)."""

    notice_id: str
    kind: BodaccKind
    publication_date: date | None = None
    judgment_nature: str | None = None
    judgment_date: date | None = None
    court: str | None = None
    url: str | None = None
    provenance: tuple[Provenance, ...] = Field(min_length=1)


class ResolvedEntity(_Frozen):
    """One legal entity consolidated from Sirene, RNE, RBE, BODACC and the declaration."""

    kind: Literal["entity"] = "entity"
    siren: Sourced[str]
    head_office_siret: Sourced[str] | None = None
    sirets: Sourced[tuple[str, ...]] | None = None
    legal_name: Sourced[str] | None = None
    declared_name: Sourced[str]
    acronym: Sourced[str] | None = None
    legal_category: Sourced[LegalCategory] | None = None
    head_office_address: Sourced[Address] | None = None
    #: Whether the head-office establishment is still open (None when no source says).
    head_office_active: Sourced[bool] | None = None
    activity: Sourced[Activity] | None = None
    status: Sourced[EntityStatus] | None = None
    cessation_date: Sourced[date] | None = None
    creation_date: Sourced[date] | None = None
    officers: tuple[ResolvedOfficer, ...] = ()
    beneficial_owners: tuple[ResolvedOwner, ...] = ()
    #: None only when no beneficial-owner source was consulted at all (see `missing_sources`).
    beneficial_owners_availability: Sourced[BeneficialOwnersAvailability] | None = None
    #: Levels between the company and its ultimate natural-person owners (see resolve.ownership_depth).
    ownership_depth: Sourced[int] | None = None
    legal_events: tuple[LegalEvent, ...] = ()
    #: None when BODACC was not consulted.
    collective_proceeding_open: Sourced[bool] | None = None
    conflicts: tuple[Conflict, ...] = ()
    #: The testimony of each consulted source, for lineage and freshness.
    source_provenance: dict[SourceName, Provenance] = Field(default_factory=dict)
    missing_sources: tuple[SourceName, ...] = ()
    resolved_at: datetime

    @property
    def conflict_codes(self) -> tuple[ConflictCode, ...]:
        """Distinct conflict codes in the order found."""
        return tuple(dict.fromkeys(c.code for c in self.conflicts))

    @property
    def linked_entities(self) -> tuple[ResolvedOfficer, ...]:
        """Companies acting as officers (holdings), each with its SIREN when the register gives it."""
        return tuple(o for o in self.officers if o.kind == "entity")


class ResolvedPerson(_Frozen):
    """A natural-person customer: declared data only (no public register of persons to consult)."""

    kind: Literal["person"] = "person"
    name: Sourced[str]
    birth_date: Sourced[date]
    nationality: Sourced[str]
    residence_country: Sourced[str]
    occupation: Sourced[str] | None = None
    pep_declared: Sourced[bool]
    pep_category: Sourced[PepCategory] | None = None
    expected_patrimony_eur: Sourced[float] | None = None
    monthly_volume_eur: Sourced[float] | None = None
    resolved_at: datetime
