"""A company's registry data (Sirene, RNE, RBE, BODACC) fetched behind the resilience layer and snapshotted."""

from kyc_core.registry.endpoints import RegistryEndpoints, SourceAccess
from kyc_core.registry.fetch import (
    SOURCES,
    CompanyFetchResult,
    RegistryFetcher,
    SourceOutcome,
    SourceState,
    Unavailability,
    classify,
    fetch_companies,
    fetch_company,
)

__all__ = [
    "SOURCES",
    "CompanyFetchResult",
    "RegistryEndpoints",
    "RegistryFetcher",
    "SourceAccess",
    "SourceOutcome",
    "SourceState",
    "Unavailability",
    "classify",
    "fetch_companies",
    "fetch_company",
]
