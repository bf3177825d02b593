"""What a policy file and its reference data may say, checked field by field when they are loaded."""

from __future__ import annotations

import math
import re
from datetime import date
from enum import StrEnum
from typing import Annotated, Literal

import pycountry
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

#: A probability-like quantity: thresholds, weights, factor values.
Unit = Annotated[float, Field(ge=0.0, le=1.0)]

# Document and list codes end up in reason texts and e-mails: keep them to plain identifiers.
_CODE = re.compile(r"^[a-z][a-z0-9_]*$")
# NAF rev. 2 subclass as published by INSEE: "56.30Z".
_NAF = re.compile(r"^\d{2}\.\d{2}[A-Z]$")


class Segment(StrEnum):
    """Client segment: each has its own policy file."""

    CGP = "cgp"
    FINTECH = "fintech"
    ASSET_MGMT = "asset_mgmt"


class RiskLevel(StrEnum):
    """Risk level of a customer; sets the perpetual-review cadence."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class Trigger(StrEnum):
    """Facts that make enhanced due diligence mandatory whatever the score."""

    PEP = "pep"
    HIGH_RISK_COUNTRY = "high_risk_country"
    OWNERSHIP_LEVELS = "ownership_levels"
    LINKED_ENTITIES = "linked_entities"
    SENSITIVE_ACTIVITY = "sensitive_activity"
    HIGH_SCORE = "high_score"


class PepCategory(StrEnum):
    """Politically exposed person categories of art. R.561-18 CMF and Directive (EU) 2015/849 art. 3."""

    DOMESTIC = "domestic"
    FOREIGN = "foreign"
    INTERNATIONAL_ORGANISATION = "international_organisation"
    FAMILY_MEMBER = "family_member"
    CLOSE_ASSOCIATE = "close_associate"


#: Source names a policy may require: the connectors' and the sanctions lists' own keys.
KNOWN_SOURCES = frozenset(
    {"sirene", "rne", "rbe", "bodacc", "ofac_sdn", "ofac_cons", "eu_fsf", "un_sc", "uk_fcdo", "us_csl"}
)
#: Sources that cost money per request (indicative tariffs in DESIGN.md); only these obey the cost rule.
PAID_SOURCES = frozenset({"rne", "rbe", "bodacc"})
#: Triggers that fire on a count above a limit; the others fire on a fact.
COUNTED_TRIGGERS = frozenset({Trigger.OWNERSHIP_LEVELS, Trigger.LINKED_ENTITIES})


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _code(value: str) -> str:
    if not _CODE.match(value):
        raise ValueError(f"{value!r} is not a lower-case identifier")
    return value


def _country(value: str) -> str:
    if pycountry.countries.get(alpha_2=value) is None:
        raise ValueError(f"{value!r} is not an ISO 3166-1 alpha-2 country code")
    return value


class FactorWeights(_Strict):
    """Share of each factor in the score; they must add up to 1."""

    geography: Unit
    pep_sanctions: Unit
    activity: Unit
    structure: Unit

    @model_validator(mode="after")
    def _sum_to_one(self) -> FactorWeights:
        total = self.geography + self.pep_sanctions + self.activity + self.structure
        if not math.isclose(total, 1.0, abs_tol=1e-9):
            raise ValueError(f"weights must sum to 1, they sum to {total:g}")
        return self


class Thresholds(_Strict):
    """Score cut-offs of the decision."""

    edd: Unit
    review: Unit

    @model_validator(mode="after")
    def _ordered(self) -> Thresholds:
        if self.review > self.edd:
            raise ValueError("review threshold must not exceed the EDD threshold")
        return self


class RiskBands(_Strict):
    """Score from which a customer is medium or high risk."""

    medium_from: Unit
    high_from: Unit

    @model_validator(mode="after")
    def _ordered(self) -> RiskBands:
        if self.medium_from >= self.high_from:
            raise ValueError("medium_from must be below high_from")
        return self


class SanctionsPolicy(_Strict):
    """Screening cut-offs; zero tolerance is a legal obligation (asset freezing, art. L.562-4 CMF), not a choice."""

    zero_tolerance: Literal[True]
    review_threshold: Unit
    match_threshold: Unit
    calibrated_for_matcher: str = Field(min_length=1)

    @model_validator(mode="after")
    def _ordered(self) -> SanctionsPolicy:
        if self.review_threshold >= self.match_threshold:
            raise ValueError("review_threshold must be below match_threshold")
        return self


class TriggerRule(_Strict):
    """One row of the trigger table: when it fires (counted triggers) and what it makes us ask for."""

    above: int | None = Field(default=None, ge=0)
    documents: tuple[str, ...] = Field(min_length=1)


class ReviewCadence(_Strict):
    """Months between two periodic reviews, per risk level."""

    high: int = Field(ge=1, le=60)
    medium: int = Field(ge=1, le=60)
    low: int = Field(ge=1, le=60)

    @model_validator(mode="after")
    def _riskier_is_sooner(self) -> ReviewCadence:
        if not self.high <= self.medium <= self.low:
            raise ValueError("cadence must not be longer for a riskier level (high <= medium <= low)")
        return self

    def months(self, level: RiskLevel) -> int:
        """Months until the next review at this level."""
        return getattr(self, level.value)


class MandatorySources(_Strict):
    """Sources that must have answered before a customer of this kind can be approved."""

    person: tuple[str, ...]
    entity: tuple[str, ...]


class SourcesPolicy(_Strict):
    """Which sources are mandatory and which paid ones are queried only under the cost rule."""

    mandatory: MandatorySources
    optional_paid: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _known(self) -> SourcesPolicy:
        for name in (*self.mandatory.person, *self.mandatory.entity, *self.optional_paid):
            if name not in KNOWN_SOURCES:
                raise ValueError(f"unknown source {name!r} (known: {', '.join(sorted(KNOWN_SOURCES))})")
        for name in self.optional_paid:
            if name not in PAID_SOURCES:
                raise ValueError(f"{name!r} is free: only paid sources can be optional_paid")
            if name in self.mandatory.entity or name in self.mandatory.person:
                raise ValueError(f"{name!r} is both mandatory and optional_paid")
        return self


class CostRule(_Strict):
    """When optional paid sources are worth their price."""

    initial_risk_above: Unit
    patrimony_above_eur: float = Field(ge=0)
    monthly_budget_eur: float = Field(gt=0)


class UnusualVolume(_Strict):
    """Declared amounts above which the activity factor counts the volume as unusual for the segment."""

    monthly_volume_eur_above: float = Field(gt=0)
    patrimony_eur_above: float = Field(gt=0)
    value: Unit


class DataQuality(_Strict):
    """Below this data-quality score the file is too thin to approve without an analyst."""

    review_below: Unit


class DecisionSla(_Strict):
    """Service levels of the decision (reported by monitoring, not enforced by the rules)."""

    initial_assessment_minutes: int = Field(ge=1)
    final_decision_hours: int = Field(ge=1)


class ReferenceFiles(_Strict):
    """Paths of the reference data this policy reads, relative to the policy file."""

    geography: str
    sensitive_activities: str
    pep_categories: str


class IdentityPolicy(_Strict):
    """Customer identity checks: who the customer says it is against what the register says."""

    #: A declared company name less similar than this (name matcher scale) to every registered name gives a review.
    declared_name_min_similarity: Unit = 0.60


class PolicySpec(_Strict):
    """The content of one segment's policy file."""

    segment: Segment
    version: str = Field(min_length=1, max_length=32)
    effective_from: date
    description: str = Field(min_length=1)
    reference: ReferenceFiles
    weights: FactorWeights
    thresholds: Thresholds
    risk_bands: RiskBands
    sanctions: SanctionsPolicy
    documents: dict[str, str] = Field(min_length=1)
    triggers: dict[Trigger, TriggerRule]
    review_cadence_months: ReviewCadence
    sources: SourcesPolicy
    cost: CostRule
    unusual_volume: UnusualVolume
    data_quality: DataQuality
    decision_sla: DecisionSla | None = None
    identity: IdentityPolicy = Field(default_factory=IdentityPolicy)

    @field_validator("documents")
    @classmethod
    def _document_codes(cls, value: dict[str, str]) -> dict[str, str]:
        for code in value:
            _code(code)
        return value

    @field_validator("risk_bands")
    @classmethod
    def _high_band_covers_edd(cls, value: RiskBands, info: ValidationInfo) -> RiskBands:
        thresholds = info.data.get("thresholds")
        if thresholds is not None and value.high_from > thresholds.edd:
            raise ValueError("high_from must not exceed thresholds.edd: a customer needing EDD is high risk")
        return value

    @field_validator("triggers")
    @classmethod
    def _trigger_table(
        cls, value: dict[Trigger, TriggerRule], info: ValidationInfo
    ) -> dict[Trigger, TriggerRule]:
        documents = info.data.get("documents", {})
        for trigger, rule in value.items():
            unknown = [d for d in rule.documents if d not in documents]
            if unknown:
                raise ValueError(f"trigger {trigger.value!r} asks for undeclared documents {unknown}")
            if (trigger in COUNTED_TRIGGERS) != (rule.above is not None):
                need = "needs" if trigger in COUNTED_TRIGGERS else "takes no"
                raise ValueError(f"trigger {trigger.value!r} {need} an 'above' limit")
        if Trigger.HIGH_SCORE not in value:
            raise ValueError("the table must say which documents a score above the EDD threshold requires")
        return value


class CountryList(_Strict):
    """One published list of high-risk jurisdictions, as of a date."""

    title: str = Field(min_length=1)
    source: str = Field(min_length=1)
    as_of: date
    risk: Unit
    triggers_edd: bool
    countries: tuple[str, ...] = Field(min_length=1)

    @field_validator("countries")
    @classmethod
    def _iso(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for code in value:
            _country(code)
        if len(set(value)) != len(value):
            raise ValueError("a country is listed twice")
        return value


class GeographyData(_Strict):
    """Dated high-risk country lists the geography factor and the country trigger read."""

    version: str = Field(min_length=1)
    as_of: date
    maintenance: str = Field(min_length=1)
    lists: dict[str, CountryList] = Field(min_length=1)

    @field_validator("lists")
    @classmethod
    def _list_keys(cls, value: dict[str, CountryList]) -> dict[str, CountryList]:
        for key in value:
            _code(key)
        return value

    def listings(self, country: str) -> list[tuple[str, CountryList]]:
        """The lists naming a country, riskiest first, then by key."""
        hits = [(key, item) for key, item in self.lists.items() if country in item.countries]
        return sorted(hits, key=lambda kv: (-kv[1].risk, kv[0]))


class SensitiveActivity(_Strict):
    """Why one NAF code carries money-laundering risk, and how much."""

    label: str = Field(min_length=1)
    risk: Unit
    cash_intensive: bool = False
    triggers_edd: bool
    why: str = Field(min_length=1)


class SensitiveActivities(_Strict):
    """NAF rev. 2 codes the activity factor and the sensitive-activity trigger read."""

    version: str = Field(min_length=1)
    as_of: date
    source: str = Field(min_length=1)
    maintenance: str = Field(min_length=1)
    codes: dict[str, SensitiveActivity] = Field(min_length=1)

    @field_validator("codes")
    @classmethod
    def _naf_codes(cls, value: dict[str, SensitiveActivity]) -> dict[str, SensitiveActivity]:
        for code in value:
            if not _NAF.match(code):
                raise ValueError(f"{code!r} is not a NAF rev. 2 code like '56.30Z'")
        return value


class PepCategoryRisk(_Strict):
    """How exposed one PEP category is."""

    label: str = Field(min_length=1)
    risk: Unit


class PepCategories(_Strict):
    """Risk of each PEP category; every category of the regulation must be present."""

    version: str = Field(min_length=1)
    as_of: date
    source: str = Field(min_length=1)
    categories: dict[PepCategory, PepCategoryRisk]
    unspecified_category_risk: Unit

    @field_validator("categories")
    @classmethod
    def _complete(cls, value: dict[PepCategory, PepCategoryRisk]) -> dict[PepCategory, PepCategoryRisk]:
        missing = sorted(c.value for c in PepCategory if c not in value)
        if missing:
            raise ValueError(f"missing PEP categories {missing}")
        return value

    def risk(self, category: PepCategory | None) -> float:
        """Risk of a category; a PEP who did not say which kind is assumed the most exposed."""
        if category is None:
            return self.unspecified_category_risk
        return self.categories[category].risk
