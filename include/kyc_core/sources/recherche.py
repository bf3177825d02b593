"""recherche-entreprises.api.gouv.fr (free, no login): find a company by name, SIREN or SIRET."""

from __future__ import annotations

import hashlib
from functools import partial
from typing import Any

import aiohttp

from kyc_core.errors import MalformedResponse, UserError
from kyc_core.sources.base import BaseClient, Fetched, FetchedPages, SourceGuard
from kyc_core.sources.http import request_json
from kyc_core.sources.labels import legal_category_label
from kyc_core.sources.models import (
    Address,
    AdministrativeStatus,
    Company,
    Establishment,
    LegalEntityOfficer,
    NaturalPersonOfficer,
    Officer,
    Page,
    SearchHit,
)
from kyc_core.sources.parsing import as_dict, as_float, as_list, naf_dotted, parse_date, text, year_month

SOURCE = "recherche"

_STATUS = {
    "A": AdministrativeStatus.ACTIVE,
    "C": AdministrativeStatus.CEASED,
    "F": AdministrativeStatus.CEASED,
}


def _address(block: dict[str, Any]) -> Address | None:
    """Address from a `siege` / `matching_etablissements[]` entry."""
    address = Address(
        street_number=" ".join(
            p for p in (text(block.get("numero_voie")), text(block.get("indice_repetition"))) if p
        )
        or None,
        street_type=text(block.get("type_voie")),
        street_name=text(block.get("libelle_voie")),
        complement=text(block.get("complement_adresse")),
        postal_code=text(block.get("code_postal")),
        city=text(block.get("libelle_commune")) or text(block.get("libelle_commune_etranger")),
        city_code=text(block.get("commune")),
        country_code=text(block.get("code_pays_etranger")),
        country=text(block.get("libelle_pays_etranger")),
    )
    return address if address.one_line() else None


def parse_establishment(block: dict[str, Any]) -> Establishment | None:
    """One `siege` or `matching_etablissements[]` entry."""
    siret = text(block.get("siret"))
    if not siret:
        return None
    return Establishment(
        siret=siret,
        is_head_office=bool(block.get("est_siege")),
        status=_STATUS.get(text(block.get("etat_administratif")) or ""),
        creation_date=parse_date(block.get("date_creation")),
        naf_code=naf_dotted(block.get("activite_principale")),
        trade_name=text(block.get("nom_commercial")),
        address=_address(block),
    )


def parse_dirigeant(item: dict[str, Any]) -> Officer | None:
    """One `dirigeants[]` entry; the API gives role labels (`qualite`), not RNE role codes."""
    if item.get("type_dirigeant") == "personne morale":
        name = text(item.get("denomination"))
        if not name:
            return None
        return LegalEntityOfficer(
            name=name, siren=text(item.get("siren")), role_label=text(item.get("qualite"))
        )
    last = text(item.get("nom"))
    if not last:
        return None
    year, month = year_month(item.get("date_de_naissance") or item.get("annee_de_naissance"))
    return NaturalPersonOfficer(
        last_name=last,
        first_names=tuple((text(item.get("prenoms")) or "").split()),
        birth_year=year,
        birth_month=month,
        nationality=text(item.get("nationalite")),
        role_label=text(item.get("qualite")),
    )


def parse_hit(result: dict[str, Any]) -> SearchHit:
    """One search result as a company (head office + matching establishments) and its officers."""
    siren = text(result.get("siren"))
    if not siren:
        raise MalformedResponse(SOURCE, "result without siren", operation="search")
    head = parse_establishment(as_dict(result.get("siege")))
    others = [parse_establishment(as_dict(e)) for e in as_list(result.get("matching_etablissements"))]
    establishments = [e for e in others if e is not None]
    if head is not None and all(e.siret != head.siret for e in establishments):
        establishments.insert(0, head)
    category = text(result.get("nature_juridique"))
    registration = as_dict(result.get("immatriculation"))
    complements = as_dict(result.get("complements"))
    company = Company(
        source="recherche_entreprises",
        siren=siren,
        legal_name=text(result.get("nom_raison_sociale")) or text(result.get("nom_complet")) or "",
        acronym=text(result.get("sigle")),
        legal_category_code=category,
        legal_category_label=legal_category_label(category),
        naf_code=naf_dotted(result.get("activite_principale")),
        status=_STATUS.get(text(result.get("etat_administratif")) or ""),
        creation_date=parse_date(result.get("date_creation")),
        cessation_date=parse_date(result.get("date_fermeture")),
        is_sole_trader=bool(complements.get("est_entrepreneur_individuel")) or category == "1000",
        publicly_diffusible=result.get("statut_diffusion", "O") == "O",
        capital_amount=as_float(registration.get("capital_social")),
        capital_currency=text(registration.get("devise_capital")),
        head_office=head,
        establishments=tuple(establishments),
    )
    officers = [parse_dirigeant(as_dict(d)) for d in as_list(result.get("dirigeants"))]
    return SearchHit(company=company, officers=tuple(o for o in officers if o is not None))


def parse_search(payload: dict[str, Any]) -> tuple[list[SearchHit], Page]:
    """One /search answer: its hits and the paging state (total capped at 10,000 by the API)."""
    if "results" not in payload:
        raise MalformedResponse(SOURCE, "answer without results", operation="search")
    hits = [parse_hit(as_dict(r)) for r in as_list(payload.get("results"))]
    page_number = int(payload.get("page") or 1)
    per_page = int(payload.get("per_page") or len(hits))
    page = Page(total=payload.get("total_results"), offset=(page_number - 1) * per_page, size=per_page)
    return hits, page


class RechercheEntreprisesClient(BaseClient):
    """The Annuaire des Entreprises search API (about 7 requests/s per IP, 25 results per page at most)."""

    source = SOURCE
    DEFAULT_BASE_URL = "https://recherche-entreprises.api.gouv.fr"
    MAX_PER_PAGE = 25

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str = DEFAULT_BASE_URL,
        *,
        guard: SourceGuard | None = None,
        **kwargs: Any,
    ):
        super().__init__(session, base_url, guard=guard, **kwargs)

    async def fetch_search_page_once(
        self, query: str, page: int, per_page: int, filters: dict[str, str]
    ) -> Fetched[tuple[list[SearchHit], Page]]:
        """One attempt at one page of /search."""
        params: dict[str, Any] = {"q": query, "page": page, "per_page": per_page, **filters}
        resp = await request_json(
            self._session,
            "GET",
            self.url("search"),
            source=self.source,
            operation="search",
            params=params,
            timeout=self._timeout,
            semaphore=self._semaphore,
        )
        if not isinstance(resp.data, dict):
            raise MalformedResponse(self.source, "answer is not an object", operation="search")
        return Fetched(parse_search(resp.data), resp.body, resp.status, resp.url)

    async def search(
        self, query: str, *, max_results: int = 25, per_page: int = MAX_PER_PAGE, **filters: str
    ) -> FetchedPages[list[SearchHit]]:
        """Companies matching a name (or SIREN/SIRET), best first, following pages up to `max_results`.

        :param query: free text, SIREN or SIRET (at least 3 characters, as the API requires).
        :param max_results: stop once this many hits are collected.
        :param per_page: page size, capped at the API's 25.
        :param filters: extra API filters (`code_postal`, `etat_administratif`, `nature_juridique`...).
        """
        if len(query.strip()) < 3:
            raise UserError("search text must have at least 3 characters")
        per_page = max(1, min(self.MAX_PER_PAGE, per_page, max_results))
        pages: list[Fetched[Any]] = []
        hits: list[SearchHit] = []
        total: int | None = None
        page_number = 1
        while len(hits) < max_results:
            # The query may be a person's name: the key (seen by cache and ledger) carries only its hash.
            digest = hashlib.sha256(repr((query, sorted(filters.items()))).encode()).hexdigest()[:32]
            key = f"search:{digest}:page:{page_number}:per_page:{per_page}"
            fetched = await self._guarded(
                "search",
                key,
                partial(self.fetch_search_page_once, query, page_number, per_page, filters),
                parse_search,
            )
            pages.append(fetched)
            items, page = fetched.model
            total = page.total if page.total is not None else total
            hits.extend(items)
            if len(items) < per_page or (total is not None and len(hits) >= total):
                break
            page_number += 1
        return FetchedPages(hits[:max_results], tuple(pages), total)
