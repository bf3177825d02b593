"""INSEE Sirene 3.11: parsers for /siren, /siret and /siret?q= answers, and the async client."""

from __future__ import annotations

import json
from functools import partial
from typing import Any

import aiohttp

from kyc_core.errors import MalformedResponse, SourceError
from kyc_core.sources.base import BaseClient, Fetched, FetchedPages, SourceGuard, checked_siren, checked_siret
from kyc_core.sources.http import RecordNotDiffusible, request_json
from kyc_core.sources.labels import legal_category_label
from kyc_core.sources.models import Address, AdministrativeStatus, Company, Establishment, Page
from kyc_core.sources.parsing import as_dict, as_list, naf_dotted, parse_date, text

SOURCE = "sirene"

#: Legal units answer A/C, establishments A/F ("fermé").
_STATUS = {
    "A": AdministrativeStatus.ACTIVE,
    "C": AdministrativeStatus.CEASED,
    "F": AdministrativeStatus.CEASED,
}


def current_period(periods: list[dict[str, Any]]) -> dict[str, Any]:
    """The period without an end date (the current state); the latest one if the source omits it."""
    if not periods:
        return {}
    for period in periods:
        if period.get("dateFin") is None:
            return period
    return max(periods, key=lambda p: p.get("dateDebut") or "")


def _cessation_date(periods: list[dict[str, Any]], state_field: str, ceased_codes: tuple[str, ...]) -> Any:
    """Start of the unbroken run of ceased periods that ends today, i.e. when the unit ceased."""
    ordered = sorted(periods, key=lambda p: p.get("dateDebut") or "", reverse=True)
    start = None
    for period in ordered:
        if period.get(state_field) not in ceased_codes:
            break
        start = period.get("dateDebut")
    return parse_date(start)


def _person_name(first: Any, usage_last: Any, last: Any) -> str | None:
    """Display name of a sole trader: usual first name then usage (or birth) last name."""
    parts = [p for p in (text(first), text(usage_last) or text(last)) if p]
    return " ".join(parts) or None


def parse_address(block: dict[str, Any], suffix: str = "Etablissement") -> Address | None:
    """Address from an `adresseEtablissement` block (field names end with `suffix`)."""
    if not block:
        return None
    foreign_city = text(block.get(f"libelleCommuneEtranger{suffix}"))
    address = Address(
        street_number=" ".join(
            p
            for p in (text(block.get(f"numeroVoie{suffix}")), text(block.get(f"indiceRepetition{suffix}")))
            if p
        )
        or None,
        street_type=text(block.get(f"typeVoie{suffix}")),
        street_name=text(block.get(f"libelleVoie{suffix}")),
        complement=text(block.get(f"complementAdresse{suffix}")),
        postal_code=text(block.get(f"codePostal{suffix}")),
        city=text(block.get(f"libelleCommune{suffix}")) or foreign_city,
        city_code=text(block.get(f"codeCommune{suffix}")),
        country_code=text(block.get(f"codePaysEtranger{suffix}")),
        country=text(block.get(f"libellePaysEtranger{suffix}")),
    )
    return address if address.one_line() else None


def parse_establishment(etab: dict[str, Any]) -> Establishment:
    """One `etablissement` object (from /siret/{siret} or a /siret search page)."""
    periods = as_list(etab.get("periodesEtablissement"))
    current = current_period(periods)
    trade_name = text(current.get("enseigne1Etablissement")) or text(
        current.get("denominationUsuelleEtablissement")
    )
    return Establishment(
        siret=str(etab.get("siret") or f"{etab.get('siren', '')}{etab.get('nic', '')}"),
        is_head_office=bool(etab.get("etablissementSiege")),
        status=_STATUS.get(str(current.get("etatAdministratifEtablissement"))),
        creation_date=parse_date(etab.get("dateCreationEtablissement")),
        naf_code=naf_dotted(current.get("activitePrincipaleEtablissement")),
        trade_name=trade_name,
        address=parse_address(as_dict(etab.get("adresseEtablissement"))),
    )


def _company_fields(unit: dict[str, Any], state: dict[str, Any]) -> dict[str, Any]:
    """Company fields common to /siren (unit + current period) and /siret (flat embedded unit)."""
    category = text(state.get("categorieJuridiqueUniteLegale"))
    name = text(state.get("denominationUniteLegale")) or _person_name(
        unit.get("prenomUsuelUniteLegale") or unit.get("prenom1UniteLegale"),
        state.get("nomUsageUniteLegale"),
        state.get("nomUniteLegale"),
    )
    return {
        "legal_name": name or "",
        "acronym": text(unit.get("sigleUniteLegale")),
        "legal_category_code": category,
        "legal_category_label": legal_category_label(category),
        "naf_code": naf_dotted(state.get("activitePrincipaleUniteLegale")),
        "status": _STATUS.get(str(state.get("etatAdministratifUniteLegale"))),
        "creation_date": parse_date(unit.get("dateCreationUniteLegale")),
        "is_sole_trader": category == "1000"
        or (not text(state.get("denominationUniteLegale")) and bool(name)),
        # "P" (partial diffusion, since 2023) and legacy "N" both mean masked personal fields.
        "publicly_diffusible": unit.get("statutDiffusionUniteLegale", "O") == "O",
    }


def parse_legal_unit(payload: dict[str, Any]) -> Company:
    """The /siren/{siren} answer as a Company in its current state (head office known by SIRET only)."""
    unit = as_dict(payload.get("uniteLegale"))
    if not unit.get("siren"):
        raise MalformedResponse(SOURCE, "no uniteLegale.siren in answer", operation="legal_unit")
    periods = as_list(unit.get("periodesUniteLegale"))
    state = current_period(periods)
    fields = _company_fields(unit, state)
    siren = str(unit["siren"])
    nic = text(state.get("nicSiegeUniteLegale"))
    head_office = Establishment(siret=f"{siren}{nic}", is_head_office=True) if nic else None
    cessation = None
    if fields["status"] is AdministrativeStatus.CEASED:
        cessation = _cessation_date(periods, "etatAdministratifUniteLegale", ("C",))
    return Company(source="sirene", siren=siren, head_office=head_office, cessation_date=cessation, **fields)


def parse_siret(payload: dict[str, Any]) -> Establishment:
    """The /siret/{siret} answer as one Establishment."""
    etab = as_dict(payload.get("etablissement"))
    if not etab.get("siret"):
        raise MalformedResponse(SOURCE, "no etablissement.siret in answer", operation="establishment")
    return parse_establishment(etab)


def company_from_siret(payload: dict[str, Any]) -> Company:
    """The legal unit embedded (flat, current values) in a /siret/{siret} answer, with that establishment."""
    etab = as_dict(payload.get("etablissement"))
    unit = as_dict(etab.get("uniteLegale"))
    establishment = parse_establishment(etab)
    fields = _company_fields(unit, unit)
    head = establishment if establishment.is_head_office else None
    return Company(
        source="sirene",
        siren=str(etab.get("siren")),
        head_office=head,
        establishments=(establishment,),
        **fields,
    )


def parse_siret_search(payload: dict[str, Any]) -> tuple[list[Establishment], Page]:
    """One page of /siret?q=... : its establishments and the paging header."""
    header = as_dict(payload.get("header"))
    items = [parse_establishment(e) for e in as_list(payload.get("etablissements"))]
    page = Page(
        total=header.get("total"),
        offset=int(header.get("debut") or 0),
        size=int(header.get("nombre") or len(items)),
        cursor=text(header.get("curseur")),
        next_cursor=text(header.get("curseurSuivant")),
    )
    return items, page


def with_establishments(
    company: Company, establishments: list[Establishment] | tuple[Establishment, ...]
) -> Company:
    """The company with its establishments attached and its head office filled from them."""
    head = next((e for e in establishments if e.is_head_office), None)
    if head is None and company.head_office is not None:
        head = next((e for e in establishments if e.siret == company.head_office.siret), company.head_office)
    return company.model_copy(
        update={"establishments": tuple(establishments), "head_office": head or company.head_office}
    )


def refine_error(status: int, body: bytes) -> SourceError | None:
    """Sirene's own 403 (INSEE `header` envelope, unlike the gateway's) means a non-diffusible unit."""
    if status != 403:
        return None
    try:
        header = as_dict(as_dict(json.loads(body)).get("header"))
    except (ValueError, UnicodeDecodeError):
        return None
    if header.get("statut") != 403:
        return None
    return RecordNotDiffusible(SOURCE, "unit not diffusible", http_status=403)


class SireneClient(BaseClient):
    """INSEE Sirene 3.11 (API-key plan, 30 requests/minute on the public plan)."""

    source = SOURCE
    DEFAULT_BASE_URL = "https://api.insee.fr/api-sirene/3.11"
    #: Header of the new INSEE API portal (2024 onwards); the legacy OAuth2 gateway is retired.
    API_KEY_HEADER = "X-INSEE-Api-Key-Integration"

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str = DEFAULT_BASE_URL,
        *,
        api_key: str | None = None,
        guard: SourceGuard | None = None,
        page_size: int = 100,
        **kwargs: Any,
    ):
        super().__init__(session, base_url, guard=guard, **kwargs)
        self._headers = {self.API_KEY_HEADER: api_key} if api_key else {}
        self.page_size = page_size

    async def _get(self, operation: str, path: str, params: dict[str, Any] | None = None):
        """One GET attempt against the API."""
        return await request_json(
            self._session,
            "GET",
            self.url(path),
            source=self.source,
            operation=operation,
            params=params,
            headers=self._headers,
            timeout=self._timeout,
            semaphore=self._semaphore,
            refine=refine_error,
        )

    async def fetch_legal_unit_once(self, siren: str) -> Fetched[Company]:
        """One attempt at /siren/{siren}."""
        resp = await self._get("legal_unit", f"siren/{siren}")
        return Fetched(parse_legal_unit(resp.data), resp.body, resp.status, resp.url)

    async def fetch_establishment_once(self, siret: str) -> Fetched[Establishment]:
        """One attempt at /siret/{siret}."""
        resp = await self._get("establishment", f"siret/{siret}")
        return Fetched(parse_siret(resp.data), resp.body, resp.status, resp.url)

    async def fetch_establishments_page_once(
        self, siren: str, offset: int, size: int, cursor: str | None = None
    ) -> Fetched[tuple[list[Establishment], Page]]:
        """One attempt at one page of /siret?q=siren:{siren} (by offset, or by cursor when given)."""
        params: dict[str, Any] = {"q": f"siren:{siren}", "nombre": size}
        if cursor is None:
            params["debut"] = offset
        else:
            params["curseur"] = cursor
        resp = await self._get("establishments", "siret", params)
        return Fetched(parse_siret_search(resp.data), resp.body, resp.status, resp.url)

    async def legal_unit(self, siren: str) -> Fetched[Company]:
        """The legal unit's current state."""
        siren = checked_siren(siren)
        return await self._guarded(
            "legal_unit", f"siren:{siren}", lambda: self.fetch_legal_unit_once(siren), parse_legal_unit
        )

    async def establishment(self, siret: str) -> Fetched[Establishment]:
        """One establishment by SIRET."""
        siret = checked_siret(siret)
        return await self._guarded(
            "establishment", f"siret:{siret}", lambda: self.fetch_establishment_once(siret), parse_siret
        )

    async def establishments(
        self, siren: str, *, max_results: int = 1000, use_cursor: bool = False
    ) -> FetchedPages[list[Establishment]]:
        """Establishments of a SIREN, following pages until the total or `max_results` is reached.

        :param siren: the legal unit.
        :param max_results: stop once this many establishments are collected (La Poste has 12,000+).
        :param use_cursor: page with `curseur` instead of `debut`; INSEE requires it for deep result sets.
        """
        siren = checked_siren(siren)
        pages: list[Fetched[Any]] = []
        found: list[Establishment] = []
        total: int | None = None
        offset = 0
        cursor: str | None = "*" if use_cursor else None
        while len(found) < max_results:
            size = min(self.page_size, max_results - len(found))
            key = f"siren:{siren}:curseur:{cursor}" if cursor else f"siren:{siren}:debut:{offset}"
            fetched = await self._guarded(
                "establishments",
                f"{key}:nombre:{size}",
                partial(self.fetch_establishments_page_once, siren, offset, size, cursor),
                parse_siret_search,
            )
            pages.append(fetched)
            items, page = fetched.model
            total = page.total if page.total is not None else total
            found.extend(items)
            offset += len(items)
            if not items or (total is not None and offset >= total):
                break
            if cursor is not None:
                # The last page is the one whose next cursor equals the cursor it was asked with.
                if not page.next_cursor or page.next_cursor == cursor:
                    break
                cursor = page.next_cursor
        return FetchedPages(found, tuple(pages), total)

    async def company(
        self, siren: str, *, max_establishments: int = 1000
    ) -> tuple[Company, list[Fetched[Any]]]:
        """The legal unit with its establishments, plus every raw answer used to build it."""
        unit = await self.legal_unit(siren)
        etabs = await self.establishments(siren, max_results=max_establishments)
        return with_establishments(unit.model, etabs.model), [unit, *etabs.pages]
