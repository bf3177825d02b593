"""The consolidated customer the risk score and the decision rules read: facts only, no names."""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

import pycountry
from pydantic import BaseModel, ConfigDict, Field, field_validator

from kyc_core.policy.model import PepCategory

Country = Annotated[str, Field(min_length=2, max_length=2)]

_NAF_LOOSE = re.compile(r"^(\d{2})\.?(\d{2})([A-Za-z])$")


class PartyRole(StrEnum):
    """Who in the file a finding is about."""

    SUBJECT = "subject"
    OFFICER = "officer"
    BENEFICIAL_OWNER = "beneficial_owner"


class UboStatus(StrEnum):
    """What is known of the beneficial owners; the register's refusal is not an empty register."""

    DECLARED = "declared"
    NONE_DECLARED = "none_declared"
    NOT_AVAILABLE = "not_available"
    NOT_APPLICABLE = "not_applicable"


class CompanyStatus(StrEnum):
    """Registry status of a legal entity."""

    ACTIVE = "active"
    CEASED = "ceased"
    STRUCK_OFF = "struck_off"
    UNKNOWN = "unknown"


class SourceStatus(StrEnum):
    """Outcome of consulting one source for this customer."""

    OK = "ok"
    NOT_FOUND = "not_found"
    UNAVAILABLE = "unavailable"


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _country(value: str) -> str:
    code = value.strip().upper()
    if pycountry.countries.get(alpha_2=code) is None:
        raise ValueError(f"{value!r} is not an ISO 3166-1 alpha-2 country code")
    return code


class SanctionsHit(_Frozen):
    """A screening hit that survived analyst judgements: `match` is confirmed, `review` is possible."""

    role: PartyRole
    subject_key: str = Field(min_length=1)
    list_key: str = Field(min_length=1)
    entry_id: str = Field(min_length=1)
    score: float = Field(ge=0.0, le=1.0)
    verdict: Literal["match", "review"]


class PepExposure(_Frozen):
    """A politically exposed person in the file; category None when declared without one."""

    role: PartyRole
    category: PepCategory | None = None


class SourceCheck(_Frozen):
    """How one source answered; `detail` says why it is unavailable (circuit_open, quota, outage)."""

    status: SourceStatus
    detail: str | None = None
    # When the breaker's probe or the quota reset allows a new attempt, if the source said so.
    retry_at: datetime | None = None


class RiskProfile(_Frozen):
    """One consolidated customer as the scoring and decision rules see it."""

    kind: Literal["person", "entity"]
    nationality: Country | None = None
    residence_country: Country | None = None
    business_countries: tuple[Country, ...] = ()
    peps: tuple[PepExposure, ...] = ()
    sanctions_hits: tuple[SanctionsHit, ...] = ()
    naf_code: str | None = None
    cash_intensive: bool = False
    expected_patrimony_eur: float | None = Field(default=None, ge=0)
    monthly_volume_eur: float | None = Field(default=None, ge=0)
    ownership_levels: int | None = Field(default=None, ge=0)
    linked_entities: int | None = Field(default=None, ge=0)
    chain_jurisdictions: tuple[Country, ...] = ()
    ubo_status: UboStatus = UboStatus.NOT_APPLICABLE
    # False for entities exempt from declaring owners (e.g. companies listed on a regulated market).
    ubo_expected: bool = True
    company_status: CompanyStatus | None = None
    insolvency_proceedings: bool = False
    data_quality: float | None = Field(default=None, ge=0.0, le=1.0)
    #: Best similarity of the declared company name to a registered name, when they differ (None: they agree).
    declared_name_similarity: float | None = Field(default=None, ge=0.0, le=1.0)
    sources: dict[str, SourceCheck] = Field(default_factory=dict)

    @field_validator("nationality", "residence_country")
    @classmethod
    def _one_country(cls, value: str | None) -> str | None:
        return None if value is None else _country(value)

    @field_validator("business_countries", "chain_jurisdictions")
    @classmethod
    def _countries(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(_country(v) for v in value)

    @field_validator("naf_code")
    @classmethod
    def _naf(cls, value: str | None) -> str | None:
        # Sirene publishes "56.30Z", RNE and many back offices "5630Z": keep one form.
        if value is None:
            return None
        found = _NAF_LOOSE.match(value.strip())
        if not found:
            raise ValueError(f"{value!r} is not a NAF rev. 2 code")
        return f"{found.group(1)}.{found.group(2)}{found.group(3).upper()}"

    def countries(self) -> list[tuple[str, str]]:
        """(role, country) pairs the geography rules read, in a stable order."""
        pairs = [("residence", self.residence_country), ("nationality", self.nationality)]
        pairs += [("business", c) for c in self.business_countries]
        pairs += [("ownership_chain", c) for c in self.chain_jurisdictions]
        return [(role, code) for role, code in pairs if code]
