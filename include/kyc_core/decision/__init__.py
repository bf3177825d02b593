"""Decisions: outcome, reasons, documents, risk level and next review date under a segment policy."""

from kyc_core.decision.cost import should_query_paid_sources
from kyc_core.decision.reasons import CostReason, Outcome, ReasonCode
from kyc_core.decision.rules import (
    DECISION_RULES_VERSION,
    FOUR_EYES_APPROVALS,
    FOUR_EYES_OUTCOMES,
    DecisionReason,
    DecisionResult,
    DocumentRequest,
    FiredTrigger,
    add_months,
    decide,
    documents_for,
    fired_triggers,
    next_review_date,
    retry_time,
    risk_level_for,
    unavailable_sources,
)

__all__ = [
    "DECISION_RULES_VERSION",
    "FOUR_EYES_APPROVALS",
    "FOUR_EYES_OUTCOMES",
    "CostReason",
    "DecisionReason",
    "DecisionResult",
    "DocumentRequest",
    "FiredTrigger",
    "Outcome",
    "ReasonCode",
    "add_months",
    "decide",
    "documents_for",
    "fired_triggers",
    "next_review_date",
    "retry_time",
    "risk_level_for",
    "should_query_paid_sources",
    "unavailable_sources",
]
