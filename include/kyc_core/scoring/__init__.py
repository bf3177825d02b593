"""The explainable EDD risk score: four weighted factors, each with its reasons."""

from kyc_core.scoring.factors import (
    FactorReason,
    FactorValue,
    Reason,
    activity_factor,
    geography_factor,
    pep_sanctions_factor,
    structure_factor,
)
from kyc_core.scoring.profile import (
    CompanyStatus,
    PartyRole,
    PepExposure,
    RiskProfile,
    SanctionsHit,
    SourceCheck,
    SourceStatus,
    UboStatus,
)
from kyc_core.scoring.score import (
    FACTORS,
    SCORING_VERSION,
    FactorContribution,
    ScoreResult,
    combine,
    compute_score,
    contribution,
    recompute_score,
)

__all__ = [
    "FACTORS",
    "SCORING_VERSION",
    "CompanyStatus",
    "FactorContribution",
    "FactorReason",
    "FactorValue",
    "PartyRole",
    "PepExposure",
    "Reason",
    "RiskProfile",
    "SanctionsHit",
    "ScoreResult",
    "SourceCheck",
    "SourceStatus",
    "UboStatus",
    "activity_factor",
    "combine",
    "compute_score",
    "contribution",
    "geography_factor",
    "pep_sanctions_factor",
    "recompute_score",
    "structure_factor",
]
