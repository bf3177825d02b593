"""Versioned segment policies and their dated reference data (countries, activities, PEP categories)."""

from kyc_core.policy.loader import (
    Policy,
    canonical_json,
    content_hash,
    load_policy,
    load_policy_by_hash,
    load_policy_file,
    policy_from_snapshot,
    screening_thresholds,
)
from kyc_core.policy.model import (
    KNOWN_SOURCES,
    PAID_SOURCES,
    PepCategory,
    PolicySpec,
    RiskLevel,
    Segment,
    Trigger,
)

__all__ = [
    "KNOWN_SOURCES",
    "PAID_SOURCES",
    "PepCategory",
    "Policy",
    "PolicySpec",
    "RiskLevel",
    "Segment",
    "Trigger",
    "canonical_json",
    "content_hash",
    "screening_thresholds",
    "load_policy",
    "load_policy_by_hash",
    "load_policy_file",
    "policy_from_snapshot",
]
