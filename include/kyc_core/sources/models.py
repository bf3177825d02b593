"""Typed records produced by the French registry connectors (Sirene, RNE, RBE, BODACC, search)."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Record(BaseModel):
    """Immutable base: connector output is evidence and must not be edited after parsing."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class AdministrativeStatus(StrEnum):
    """Whether the legal unit or establishment still exists administratively."""

    ACTIVE = "active"
    CEASED = "ceased"


class Address(_Record):
    """A postal address as the registers give it (French or foreign)."""

    street_number: str | None = None
    street_type: str | None = None
    street_name: str | None = None
    complement: str | None = None
    postal_code: str | None = None
    city: str | None = None
    #: INSEE commune code (COG), the stable key for French places.
    city_code: str | None = None
    #: ISO 3166-1 alpha-3 when the source gives it (RNE), else None for France-by-default sources.
    country_code: str | None = None
    country: str | None = None

    def one_line(self) -> str:
        """The address as a single display line."""
        street = " ".join(p for p in (self.street_number, self.street_type, self.street_name) if p)
        place = " ".join(p for p in (self.postal_code, self.city) if p)
        parts = [p for p in (self.complement, street, place, self.country) if p]
        return ", ".join(parts)


class Establishment(_Record):
    """One establishment (SIRET) of a company."""

    siret: str
    is_head_office: bool
    status: AdministrativeStatus | None = None
    creation_date: date | None = None
    naf_code: str | None = None
    trade_name: str | None = None
    address: Address | None = None


class Company(_Record):
    """A legal unit (SIREN) in its current state, as one source describes it."""

    source: Literal["sirene", "rne", "recherche_entreprises"]
    siren: str
    legal_name: str
    acronym: str | None = None
    legal_category_code: str | None = None
    legal_category_label: str | None = None
    #: NAF rev. 2 code in INSEE's dotted form, e.g. "62.02A".
    naf_code: str | None = None
    #: None when the source cannot tell (RNE has no status field and may lack cessation data).
    status: AdministrativeStatus | None = None
    creation_date: date | None = None
    cessation_date: date | None = None
    is_sole_trader: bool = False
    #: False when the unit opted out of public distribution (Sirene "P"): fields may be masked.
    publicly_diffusible: bool = True
    capital_amount: float | None = None
    capital_currency: str | None = None
    head_office: Establishment | None = None
    establishments: tuple[Establishment, ...] = ()


class NaturalPersonOfficer(_Record):
    """An officer who is a natural person; birth date kept to month precision as the register publishes it."""

    kind: Literal["person"] = "person"
    last_name: str
    usage_name: str | None = None
    first_names: tuple[str, ...] = ()
    birth_year: int | None = None
    birth_month: int | None = None
    nationality: str | None = None
    nationality_code: str | None = None
    role_code: str | None = None
    role_label: str | None = None
    active: bool = True


class LegalEntityOfficer(_Record):
    """An officer that is itself a company (e.g. a holding acting as president)."""

    kind: Literal["entity"] = "entity"
    name: str
    siren: str | None = None
    legal_form: str | None = None
    role_code: str | None = None
    role_label: str | None = None
    active: bool = True


Officer = Annotated[NaturalPersonOfficer | LegalEntityOfficer, Field(discriminator="kind")]


class ControlMode(_Record):
    """One way a beneficial owner controls the company (RBE `modalitesDeControle`)."""

    code: str
    label: str | None = None


class BeneficialOwner(_Record):
    """A declared beneficial owner (natural person) with the extent and nature of control."""

    last_name: str
    usage_name: str | None = None
    first_names: tuple[str, ...] = ()
    birth_year: int | None = None
    birth_month: int | None = None
    nationality: str | None = None
    nationality_code: str | None = None
    residence_country_code: str | None = None
    #: Total share of capital held, directly and indirectly, in percent.
    ownership_pct: float | None = None
    direct_ownership_pct: float | None = None
    indirect_ownership_pct: float | None = None
    #: Total share of voting rights, in percent.
    voting_pct: float | None = None
    control_modes: tuple[ControlMode, ...] = ()
    active: bool = True


class BeneficialOwnersAvailability(StrEnum):
    """The three answers a beneficial-owner lookup can give; they must never be conflated."""

    #: Access to the RBE is restricted (CJEU C-37/20): this account cannot see the block.
    NOT_AVAILABLE = "not_available"
    #: The register was readable and holds no active beneficial owner.
    NONE_DECLARED = "none_declared"
    DECLARED = "declared"


class BeneficialOwnersResult(_Record):
    """Beneficial owners of one company, or why there is no list."""

    siren: str
    availability: BeneficialOwnersAvailability
    owners: tuple[BeneficialOwner, ...] = ()

    @model_validator(mode="after")
    def _owners_match_availability(self) -> BeneficialOwnersResult:
        """A list only comes with DECLARED, and DECLARED always has a list."""
        declared = self.availability is BeneficialOwnersAvailability.DECLARED
        if declared != bool(self.owners):
            raise ValueError(f"availability {self.availability} does not match {len(self.owners)} owners")
        return self

    @classmethod
    def not_available(cls, siren: str) -> BeneficialOwnersResult:
        """This account may not see the beneficial owners."""
        return cls(siren=siren, availability=BeneficialOwnersAvailability.NOT_AVAILABLE)

    @classmethod
    def none_declared(cls, siren: str) -> BeneficialOwnersResult:
        """The register was readable and lists nobody."""
        return cls(siren=siren, availability=BeneficialOwnersAvailability.NONE_DECLARED)

    @classmethod
    def declared(
        cls, siren: str, owners: list[BeneficialOwner] | tuple[BeneficialOwner, ...]
    ) -> BeneficialOwnersResult:
        """The register lists these owners."""
        return cls(siren=siren, availability=BeneficialOwnersAvailability.DECLARED, owners=tuple(owners))


class RneRecord(_Record):
    """Everything one RNE company record yields: the company, its officers and its beneficial owners."""

    company: Company
    officers: tuple[Officer, ...] = ()
    beneficial_owners: BeneficialOwnersResult
    #: False when the company refused commercial reuse (`diffusionCommerciale`): do not re-publish.
    commercial_reuse_allowed: bool = True
    updated_at: str | None = None


class BodaccKind(StrEnum):
    """What a BODACC notice announces, as a KYC reviewer groups them."""

    SAFEGUARD = "safeguard"
    RECEIVERSHIP = "receivership"
    LIQUIDATION = "liquidation"
    COLLECTIVE_OTHER = "collective_other"
    STRIKING_OFF = "striking_off"
    SALE = "sale"
    MODIFICATION = "modification"
    REGISTRATION = "registration"
    ACCOUNTS_FILING = "accounts_filing"
    OTHER = "other"

    @property
    def is_collective_proceeding(self) -> bool:
        """Insolvency proceedings (safeguard, receivership, liquidation and the rest of the family)."""
        return self in _COLLECTIVE_KINDS


_COLLECTIVE_KINDS = frozenset(
    {BodaccKind.SAFEGUARD, BodaccKind.RECEIVERSHIP, BodaccKind.LIQUIDATION, BodaccKind.COLLECTIVE_OTHER}
)


class BodaccNoticeType(StrEnum):
    """Initial notice, or a later notice that corrects or cancels an earlier one."""

    INITIAL = "initial"
    RECTIFICATION = "rectification"
    CANCELLATION = "cancellation"


class BodaccNotice(_Record):
    """One BODACC commercial notice with its JSON-in-text fields decoded."""

    id: str
    kind: BodaccKind
    family_code: str | None = None
    family_label: str | None = None
    notice_type: BodaccNoticeType = BodaccNoticeType.INITIAL
    publication_date: date | None = None
    #: Bulletin letter: A (sales, registrations, proceedings), B (modifications, striking-off), C (accounts).
    bulletin: str | None = None
    notice_number: str | None = None
    sirens: tuple[str, ...] = ()
    trade_name: str | None = None
    court: str | None = None
    city: str | None = None
    postal_code: str | None = None
    url: str | None = None
    judgment_nature: str | None = None
    judgment_date: date | None = None
    #: Id of the notice this one rectifies or cancels, rebuilt from `parutionavisprecedent`.
    corrects_notice_id: str | None = None
    #: Every JSON-as-text field decoded (listepersonnes, jugement, acte, depot, ...), keyed by field name.
    decoded: dict[str, Any] = Field(default_factory=dict)

    @property
    def is_correction(self) -> bool:
        """True when this notice rectifies or cancels an earlier one."""
        return self.notice_type is not BodaccNoticeType.INITIAL


class SearchHit(_Record):
    """One company found by the recherche-entreprises search."""

    company: Company
    officers: tuple[Officer, ...] = ()


class Page(_Record):
    """Paging state reported by a source alongside one page of results."""

    total: int | None = None
    offset: int = 0
    size: int = 0
    #: Cursor this page was requested with, and the one for the next page (Sirene `curseur` mode).
    cursor: str | None = None
    next_cursor: str | None = None
