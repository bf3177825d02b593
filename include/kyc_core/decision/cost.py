"""The cost rule: optional paid sources are bought only when the free ones show risk or wealth."""

from __future__ import annotations

from kyc_core.decision.reasons import CostReason
from kyc_core.policy import Policy


def should_query_paid_sources(
    initial_risk: float,
    patrimony: float | None,
    spent_this_month: float,
    policy: Policy,
    *,
    expected_cost_eur: float = 0.0,
) -> tuple[bool, CostReason]:
    """Whether to query the policy's optional paid sources, and why (budget in EUR, patrimony unknown = 0)."""
    rule = policy.spec.cost
    if not policy.spec.sources.optional_paid:
        return False, CostReason.NO_OPTIONAL_PAID_SOURCES
    risky = initial_risk > rule.initial_risk_above
    wealthy = (patrimony or 0.0) > rule.patrimony_above_eur
    if not (risky or wealthy):
        return False, CostReason.BELOW_THRESHOLDS
    if spent_this_month + expected_cost_eur > rule.monthly_budget_eur:
        return False, CostReason.MONTHLY_BUDGET_EXHAUSTED
    return True, CostReason.INITIAL_RISK_ABOVE_THRESHOLD if risky else CostReason.PATRIMONY_ABOVE_THRESHOLD
