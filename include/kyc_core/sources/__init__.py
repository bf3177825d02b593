"""French registry connectors: INSEE Sirene, INPI RNE (with the RBE block), BODACC, recherche-entreprises.

Parsers are pure functions from a decoded JSON body to typed models; clients perform one HTTP attempt
per call of their `fetch_*_once` methods and hand it to an optional resilience guard.
"""

from kyc_core.sources.base import Fetched, FetchedPages, SourceGuard
from kyc_core.sources.bodacc import BodaccClient
from kyc_core.sources.http import RecordNotDiffusible, SourceTimeout
from kyc_core.sources.recherche import RechercheEntreprisesClient
from kyc_core.sources.rne import RneClient
from kyc_core.sources.sirene import SireneClient

__all__ = [
    "BodaccClient",
    "Fetched",
    "FetchedPages",
    "RechercheEntreprisesClient",
    "RecordNotDiffusible",
    "RneClient",
    "SireneClient",
    "SourceGuard",
    "SourceTimeout",
]
