"""Outcomes and the reason codes a decision states; stored with every decision and shown to analysts."""

from __future__ import annotations

from enum import StrEnum


class Outcome(StrEnum):
    """What happens to the customer, from the mildest to the strictest."""

    APPROVE = "approve"
    REVIEW = "review"
    EDD_REQUIRED = "edd_required"
    REJECT = "reject"

    @property
    def severity(self) -> int:
        """Rank used to keep the strictest outcome any reason calls for."""
        return list(Outcome).index(self)


class ReasonCode(StrEnum):
    """Why a decision came out as it did."""

    NO_ADVERSE_FINDING = "no_adverse_finding"
    SANCTIONS_MATCH = "sanctions_match"
    SANCTIONS_POSSIBLE_MATCH = "sanctions_possible_match"
    SOURCE_UNAVAILABLE = "source_unavailable"
    #: A register not consulted because Redis or the KYC database failed: our fault, not the register's.
    INFRASTRUCTURE_UNAVAILABLE = "infrastructure_unavailable"
    SUBJECT_NOT_FOUND = "subject_not_found"
    EDD_SCORE = "edd_score"
    PEP = "pep"
    HIGH_RISK_COUNTRY = "high_risk_country"
    OWNERSHIP_LEVELS = "ownership_levels"
    LINKED_ENTITIES = "linked_entities"
    SENSITIVE_ACTIVITY = "sensitive_activity"
    COMPANY_STRUCK_OFF = "company_struck_off"
    COMPANY_CEASED = "company_ceased"
    COMPANY_STATUS_UNKNOWN = "company_status_unknown"
    INSOLVENCY_PROCEEDINGS = "insolvency_proceedings"
    UBO_UNAVAILABLE = "ubo_unavailable"
    REVIEW_SCORE = "review_score"
    DECLARED_NAME_MISMATCH = "declared_name_mismatch"
    LOW_DATA_QUALITY = "low_data_quality"


class CostReason(StrEnum):
    """Why optional paid sources are or are not queried for a customer."""

    INITIAL_RISK_ABOVE_THRESHOLD = "initial_risk_above_threshold"
    PATRIMONY_ABOVE_THRESHOLD = "patrimony_above_threshold"
    BELOW_THRESHOLDS = "below_thresholds"
    MONTHLY_BUDGET_EXHAUSTED = "monthly_budget_exhausted"
    NO_OPTIONAL_PAID_SOURCES = "no_optional_paid_sources"
