"""The EDD risk score: a weighted sum of the four factors, stored with its contributions and versions."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kyc_core.policy import Policy
from kyc_core.scoring.factors import (
    FactorReason,
    FactorValue,
    Reason,
    activity_factor,
    geography_factor,
    pep_sanctions_factor,
    structure_factor,
)
from kyc_core.scoring.profile import RiskProfile

#: Changes whenever a change to the factors or their combination can change a score.
SCORING_VERSION = "kyc-scoring-1.0"

# Stored values are rounded so that a score recomputed from its JSON lineage is bit-for-bit equal.
_DIGITS = 6

#: Factor name -> function, in the order they are stored and explained.
FACTORS: dict[str, Callable[[RiskProfile, Policy], FactorValue]] = {
    "geography": geography_factor,
    "pep_sanctions": pep_sanctions_factor,
    "activity": activity_factor,
    "structure": structure_factor,
}


@dataclass(frozen=True, slots=True)
class FactorContribution:
    """One factor's share of the score."""

    name: str
    value: float
    weight: float
    contribution: float
    reasons: tuple[Reason, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "name": self.name,
            "value": self.value,
            "weight": self.weight,
            "contribution": self.contribution,
            "reasons": [r.to_dict() for r in self.reasons],
        }


@dataclass(frozen=True, slots=True)
class ScoreResult:
    """A score with everything that produced it."""

    score: float
    factors: tuple[FactorContribution, ...]
    scoring_version: str
    policy_segment: str
    policy_version: str
    policy_hash: str

    def factor(self, name: str) -> FactorContribution:
        """The contribution of one factor by name."""
        for item in self.factors:
            if item.name == name:
                return item
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready lineage of the score."""
        return {
            "score": self.score,
            "scoring_version": self.scoring_version,
            "policy": {
                "segment": self.policy_segment,
                "version": self.policy_version,
                "content_hash": self.policy_hash,
            },
            "factors": [f.to_dict() for f in self.factors],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ScoreResult:
        """Rebuild a stored score (inverse of :meth:`to_dict`)."""
        factors = tuple(
            FactorContribution(
                name=f["name"],
                value=f["value"],
                weight=f["weight"],
                contribution=f["contribution"],
                reasons=tuple(Reason(FactorReason(r["code"]), r["text"], r["value"]) for r in f["reasons"]),
            )
            for f in data["factors"]
        )
        policy = data["policy"]
        return cls(
            score=data["score"],
            factors=factors,
            scoring_version=data["scoring_version"],
            policy_segment=policy["segment"],
            policy_version=policy["version"],
            policy_hash=policy["content_hash"],
        )

    def explain(self) -> str:
        """Human-readable account of the score, reproducible from the stored contributions alone."""
        lines = [
            f"EDD risk score {self.score:.3f} ({self.scoring_version}, policy {self.policy_segment} "
            f"{self.policy_version} {self.policy_hash[:12]})"
        ]
        for f in self.factors:
            lines.append(f"  {f.name}: {f.value:.2f} x {f.weight:.2f} = {f.contribution:.3f}")
            lines.extend(f"    - [{r.code.value}] {r.text} ({r.value:.2f})" for r in f.reasons)
        return "\n".join(lines)


def contribution(value: float, weight: float) -> float:
    """A factor's contribution as stored."""
    return round(value * weight, _DIGITS)


def combine(contributions: list[float] | tuple[float, ...]) -> float:
    """The score from contributions: their sum, capped at 1."""
    return round(min(1.0, math.fsum(contributions)), _DIGITS)


def recompute_score(stored: dict[str, Any]) -> float:
    """The score recomputed from a stored lineage's factor values and weights."""
    return combine([contribution(f["value"], f["weight"]) for f in stored["factors"]])


def compute_score(profile: RiskProfile, policy: Policy) -> ScoreResult:
    """Score one customer under one policy; same input and policy always give the same result."""
    weights = policy.spec.weights
    factors = []
    for name, function in FACTORS.items():
        result = function(profile, policy)
        weight = getattr(weights, name)
        factors.append(
            FactorContribution(name, result.value, weight, contribution(result.value, weight), result.reasons)
        )
    return ScoreResult(
        score=combine([f.contribution for f in factors]),
        factors=tuple(factors),
        scoring_version=SCORING_VERSION,
        policy_segment=policy.segment.value,
        policy_version=policy.version,
        policy_hash=policy.content_hash,
    )
