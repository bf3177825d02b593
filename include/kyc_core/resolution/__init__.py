"""Entity resolution: one consolidated customer from the registers and the declaration, with provenance."""

from kyc_core.resolution.model import (
    Conflict,
    ConflictCode,
    EntityStatus,
    Provenance,
    ResolvedEntity,
    ResolvedOfficer,
    ResolvedOwner,
    ResolvedPerson,
    Sourced,
    SourceName,
)
from kyc_core.resolution.quality import SEED_WEIGHTS, DataQuality, data_quality
from kyc_core.resolution.resolve import resolve_entity, resolve_person, sirene_last_processed

__all__ = [
    "SEED_WEIGHTS",
    "Conflict",
    "ConflictCode",
    "DataQuality",
    "EntityStatus",
    "Provenance",
    "ResolvedEntity",
    "ResolvedOfficer",
    "ResolvedOwner",
    "ResolvedPerson",
    "SourceName",
    "Sourced",
    "data_quality",
    "resolve_entity",
    "resolve_person",
    "sirene_last_processed",
]
