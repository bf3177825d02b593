"""INPI RNE: parsers for company records (identity, officers, beneficial owners) and the async client.

Handles both record vintages: the current one (role in `pouvoirs[].roleEntreprise`) and the 2023 one
(role in `individu.descriptionPersonne.role`, `xxxPresent` flags beside every field).
"""

from __future__ import annotations

import asyncio
import hashlib
from functools import partial
from typing import Any

import aiohttp

from kyc_core.errors import MalformedResponse, SourceUnusable
from kyc_core.sources.base import BaseClient, Fetched, FetchedPages, SourceGuard, checked_siren
from kyc_core.sources.http import RawResponse, request_json
from kyc_core.sources.labels import control_mode_label, legal_category_label, role_label
from kyc_core.sources.models import (
    Address,
    AdministrativeStatus,
    BeneficialOwner,
    BeneficialOwnersResult,
    Company,
    ControlMode,
    Establishment,
    LegalEntityOfficer,
    NaturalPersonOfficer,
    Officer,
    RneRecord,
)
from kyc_core.sources.parsing import as_dict, as_float, as_list, naf_dotted, parse_date, text, year_month

SOURCE = "rne"

#: Role given to the natural person behind a sole-trader record, who is screened like an officer.
ENTREPRENEUR_ROLE = "101"

_PERSON_BLOCKS = ("personneMorale", "personnePhysique", "exploitation")


def _main_block(content: dict[str, Any]) -> dict[str, Any]:
    """The `personneMorale` / `personnePhysique` / `exploitation` block that holds the company."""
    for key in _PERSON_BLOCKS:
        if isinstance(content.get(key), dict):
            return content[key]
    return {}


def _first_names(value: Any) -> tuple[str, ...]:
    """First names from a list (RNE) or a space-separated string."""
    if isinstance(value, list):
        return tuple(n for n in (text(v) for v in value) if n)
    raw = text(value)
    return tuple(raw.split()) if raw else ()


def parse_rne_address(block: dict[str, Any]) -> Address | None:
    """Address from an RNE `adresse` / `adresseDomicile` block."""
    if not block:
        return None
    address = Address(
        street_number=" ".join(
            p for p in (text(block.get("numVoie")), text(block.get("indiceRepetition"))) if p
        )
        or None,
        street_type=text(block.get("typeVoie")),
        street_name=text(block.get("voie")),
        complement=text(block.get("complementLocalisation")),
        postal_code=text(block.get("codePostal")),
        city=text(block.get("commune")),
        city_code=text(block.get("codeInseeCommune")),
        country_code=text(block.get("codePays")),
        country=text(block.get("pays")),
    )
    return address if address.one_line() else None


def _person_legal_name(description: dict[str, Any]) -> str | None:
    """Sole trader's name: first names then usage (or birth) name."""
    names = _first_names(description.get("prenoms"))
    last = text(description.get("nomUsage")) or text(description.get("nom"))
    parts = [*names[:1], last] if last else list(names[:1])
    return " ".join(p for p in parts if p) or None


def _cessation(content: dict[str, Any], block: dict[str, Any]) -> tuple[bool, Any]:
    """(ceased?, striking-off date) from the cessation details the record carries, if any."""
    for holder in (block, content, as_dict(block.get("identite"))):
        detail = as_dict(holder.get("detailCessationEntreprise"))
        if detail.get("dateRadiation") or detail.get("dateCessationTotaleActivite"):
            return True, parse_date(detail.get("dateRadiation") or detail.get("dateCessationTotaleActivite"))
    if text(content.get("natureCessation")):
        return True, None
    return False, None


def _establishment(item: dict[str, Any], head_siret: str | None) -> Establishment | None:
    """One `etablissementPrincipal` / `autresEtablissements[]` entry."""
    desc = as_dict(item.get("descriptionEtablissement"))
    siret = text(desc.get("siret"))
    if not siret:
        return None
    activities = as_list(item.get("activites"))
    main = next((a for a in activities if a.get("indicateurPrincipal")), activities[0] if activities else {})
    return Establishment(
        siret=siret,
        is_head_office=siret == head_siret,
        naf_code=naf_dotted(main.get("codeApe")) if isinstance(main, dict) else None,
        trade_name=text(desc.get("enseigne")) or text(desc.get("nomCommercial")),
        creation_date=parse_date(main.get("dateDebut")) if isinstance(main, dict) else None,
        address=parse_rne_address(as_dict(item.get("adresse"))),
    )


def parse_company(record: dict[str, Any]) -> Company:
    """Company identity, legal form, capital and addresses from one RNE company record."""
    formality = as_dict(record.get("formality"))
    content = as_dict(formality.get("content"))
    block = _main_block(content)
    identite = as_dict(block.get("identite"))
    entreprise = as_dict(identite.get("entreprise"))
    description = as_dict(identite.get("description"))
    creation = as_dict(content.get("natureCreation"))
    siren = text(record.get("siren")) or text(formality.get("siren")) or text(entreprise.get("siren"))
    if not siren:
        raise MalformedResponse(SOURCE, "company record without siren", operation="company")
    legal_form = (
        text(formality.get("formeJuridique"))
        or text(entreprise.get("formeJuridique"))
        or text(creation.get("formeJuridique"))
    )
    entrepreneur = as_dict(as_dict(identite.get("entrepreneur")).get("descriptionPersonne"))
    is_person = formality.get("typePersonne") == "P"
    name = text(entreprise.get("denomination")) or (
        _person_legal_name(entrepreneur) if entrepreneur else None
    )
    ceased, cessation_date = _cessation(content, block)
    nic = text(entreprise.get("nicSiege"))
    head_siret = f"{siren}{nic}" if nic else None
    establishments = [
        e
        for e in (
            _establishment(item, head_siret)
            for item in [
                as_dict(block.get("etablissementPrincipal")),
                *as_list(block.get("autresEtablissements")),
            ]
        )
        if e is not None
    ]
    seat_address = parse_rne_address(as_dict(as_dict(block.get("adresseEntreprise")).get("adresse")))
    head = next((e for e in establishments if e.is_head_office), None)
    if head is not None and head.address is None:
        head = head.model_copy(update={"address": seat_address})
    elif head is None and head_siret:
        head = Establishment(siret=head_siret, is_head_office=True, address=seat_address)
    return Company(
        source="rne",
        siren=siren,
        legal_name=name or "",
        legal_category_code=legal_form,
        legal_category_label=legal_category_label(legal_form),
        naf_code=naf_dotted(entreprise.get("codeApe")),
        # RNE has no status field: only recorded cessation details mark a company as ceased.
        status=AdministrativeStatus.CEASED if ceased else AdministrativeStatus.ACTIVE,
        creation_date=parse_date(creation.get("dateCreation")) or parse_date(entreprise.get("dateImmat")),
        cessation_date=cessation_date,
        is_sole_trader=is_person,
        publicly_diffusible=formality.get("diffusionINSEE", "O") == "O",
        capital_amount=as_float(description.get("montantCapital")),
        capital_currency=text(description.get("deviseCapital")),
        head_office=head,
        establishments=tuple(establishments),
    )


def _role(pouvoir: dict[str, Any], nested: dict[str, Any]) -> tuple[str | None, str | None]:
    """(role code, label) wherever the vintage put the code; the payload's own label as fallback."""
    code = (
        text(pouvoir.get("roleEntreprise")) or text(nested.get("role")) or text(nested.get("roleEntreprise"))
    )
    return code, role_label(code) or text(pouvoir.get("libelleRoleEntreprise"))


def parse_officer(pouvoir: dict[str, Any]) -> Officer | None:
    """One `composition.pouvoirs[]` entry as a natural-person or legal-entity officer."""
    active = pouvoir.get("actif") is not False
    if pouvoir.get("typeDePersonne") == "INDIVIDU" or "individu" in pouvoir:
        person = as_dict(as_dict(pouvoir.get("individu")).get("descriptionPersonne"))
        last = text(person.get("nom")) or text(person.get("nomUsage"))
        if not last:
            return None
        code, label = _role(pouvoir, person)
        year, month = year_month(person.get("dateDeNaissance"))
        return NaturalPersonOfficer(
            last_name=last,
            usage_name=text(person.get("nomUsage")),
            first_names=_first_names(person.get("prenoms")),
            birth_year=year,
            birth_month=month,
            nationality=text(person.get("nationalite")),
            nationality_code=text(person.get("codeNationalite")),
            role_code=code,
            role_label=label,
            active=active,
        )
    entity = as_dict(pouvoir.get("entreprise"))
    name = text(entity.get("denomination"))
    if not name:
        return None
    code, label = _role(pouvoir, entity)
    return LegalEntityOfficer(
        name=name,
        siren=text(entity.get("siren")),
        legal_form=text(entity.get("formeJuridique")),
        role_code=code,
        role_label=label,
        active=active,
    )


def parse_officers(record: dict[str, Any], *, include_inactive: bool = False) -> list[Officer]:
    """Officers of the company (active ones unless asked), plus the person behind a sole-trader record."""
    content = as_dict(as_dict(record.get("formality")).get("content"))
    block = _main_block(content)
    officers: list[Officer] = []
    for pouvoir in as_list(as_dict(block.get("composition")).get("pouvoirs")):
        officer = parse_officer(as_dict(pouvoir))
        if officer is not None and (officer.active or include_inactive):
            officers.append(officer)
    entrepreneur = as_dict(
        as_dict(as_dict(block.get("identite")).get("entrepreneur")).get("descriptionPersonne")
    )
    if entrepreneur and text(entrepreneur.get("nom")):
        year, month = year_month(entrepreneur.get("dateDeNaissance"))
        officers.append(
            NaturalPersonOfficer(
                last_name=text(entrepreneur.get("nom")) or "",
                usage_name=text(entrepreneur.get("nomUsage")),
                first_names=_first_names(entrepreneur.get("prenoms")),
                birth_year=year,
                birth_month=month,
                nationality=text(entrepreneur.get("nationalite")),
                nationality_code=text(entrepreneur.get("codeNationalite")),
                role_code=ENTREPRENEUR_ROLE,
                role_label=role_label(ENTREPRENEUR_ROLE),
            )
        )
    return officers


def _sum_pct(modalite: dict[str, Any], *keys: str) -> float | None:
    """Sum of the percentage fields present, None when none is present."""
    values = [v for v in (as_float(modalite.get(k)) for k in keys) if v is not None]
    return sum(values) if values else None


def parse_beneficial_owner(item: dict[str, Any]) -> BeneficialOwner | None:
    """One `beneficiairesEffectifs[]` entry."""
    holder = as_dict(item.get("beneficiaire"))
    person = as_dict(holder.get("descriptionPersonne"))
    last = text(person.get("nom")) or text(person.get("nomUsage"))
    if not last:
        return None
    modalite = as_dict(item.get("modalite"))
    year, month = year_month(person.get("dateDeNaissance"))
    codes = [text(c) for c in as_list(modalite.get("modalitesDeControle"))]
    return BeneficialOwner(
        last_name=last,
        usage_name=text(person.get("nomUsage")),
        first_names=_first_names(person.get("prenoms")),
        birth_year=year,
        birth_month=month,
        nationality=text(person.get("nationalite")),
        nationality_code=text(person.get("codeNationalite")),
        residence_country_code=text(as_dict(holder.get("adresseDomicile")).get("codePays")),
        ownership_pct=as_float(modalite.get("detentionPartTotale")),
        direct_ownership_pct=_sum_pct(modalite, "partsDirectesPleinePropriete", "partsDirectesNuePropriete"),
        indirect_ownership_pct=_sum_pct(
            modalite, "partsIndirectesIndivision", "partsIndirectesPersonnesMorales"
        ),
        voting_pct=as_float(modalite.get("detentionVoteTotal")),
        control_modes=tuple(ControlMode(code=c, label=control_mode_label(c)) for c in codes if c),
        active=item.get("actif") is not False,
    )


def parse_beneficial_owners(record: dict[str, Any], *, rbe_entitled: bool = False) -> BeneficialOwnersResult:
    """Beneficial owners, keeping "not available to this account" apart from "none declared".

    Since 31 July 2024 (CJEU C-37/20) the RNE only shows the block to entitled accounts, so an absent
    or empty block means "not available" unless the account is known to be entitled to the RBE.
    """
    formality = as_dict(record.get("formality"))
    siren = text(record.get("siren")) or text(formality.get("siren")) or ""
    block = _main_block(as_dict(formality.get("content")))
    items = as_list(block.get("beneficiairesEffectifs"))
    if not items:
        if rbe_entitled:
            return BeneficialOwnersResult.none_declared(siren)
        return BeneficialOwnersResult.not_available(siren)
    owners: list[BeneficialOwner] = []
    for item in items:
        owner = parse_beneficial_owner(as_dict(item))
        # Registers re-list the same declaration under two ids after some filings; one entry each.
        if owner is not None and owner.active and owner not in owners:
            owners.append(owner)
    if not owners:
        return BeneficialOwnersResult.none_declared(siren)
    return BeneficialOwnersResult.declared(siren, owners)


def parse_record(record: dict[str, Any], *, rbe_entitled: bool = False) -> RneRecord:
    """Everything a KYC file needs from one RNE company record."""
    formality = as_dict(record.get("formality"))
    return RneRecord(
        company=parse_company(record),
        officers=tuple(parse_officers(record)),
        beneficial_owners=parse_beneficial_owners(record, rbe_entitled=rbe_entitled),
        commercial_reuse_allowed=formality.get("diffusionCommerciale") is not False,
        updated_at=text(record.get("updatedAt")),
    )


def single_record(data: Any) -> dict[str, Any]:
    """The company object of an answer; the search route (and some proxies) wrap it in an array."""
    if isinstance(data, list) and data:
        data = data[0]
    if not isinstance(data, dict):
        raise MalformedResponse(SOURCE, "company record is not an object", operation="company")
    return data


class RneClient(BaseClient):
    """INPI RNE API: SSO login to a bearer token, company record by SIREN."""

    source = SOURCE
    DEFAULT_BASE_URL = "https://registre-national-entreprises.inpi.fr"
    LOGIN_PATH = "api/sso/login"
    #: `pageSize` of the search route is 1 to 100.
    MAX_PAGE_SIZE = 100

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str = DEFAULT_BASE_URL,
        *,
        username: str,
        password: str,
        guard: SourceGuard | None = None,
        rbe_guard: SourceGuard | None = None,
        rbe_entitled: bool = False,
        **kwargs: Any,
    ):
        super().__init__(session, base_url, guard=guard, **kwargs)
        self._username = username
        self._password = password
        self._rbe_guard = rbe_guard
        self.rbe_entitled = rbe_entitled
        self._token: str | None = None
        self._token_lock = asyncio.Lock()
        #: How many times a token was obtained (first login included); visible to monitoring and tests.
        self.logins = 0

    async def _login(self) -> str:
        """Exchange the account's username/password for a bearer token."""
        resp = await request_json(
            self._session,
            "POST",
            self.url(self.LOGIN_PATH),
            source=self.source,
            operation="login",
            json_body={"username": self._username, "password": self._password},
            timeout=self._timeout,
            semaphore=self._semaphore,
        )
        token = text(as_dict(resp.data).get("token"))
        if not token:
            raise MalformedResponse(self.source, "login answer without token", operation="login")
        self.logins += 1
        return token

    async def _current_token(self, stale: str | None = None) -> str:
        """The token, logging in when there is none or when `stale` is still the one in use."""
        async with self._token_lock:
            # Concurrent calls that all saw the same expired token trigger a single login.
            if self._token is None or (stale is not None and self._token == stale):
                self._token = await self._login()
            return self._token

    async def _get_with_token(self, operation: str, path: str, params: Any = None) -> RawResponse:
        """GET with the bearer token; on 401/403 refresh the token once and try again."""
        token = await self._current_token()
        try:
            return await self._bearer_get(operation, path, token, params)
        except SourceUnusable as exc:
            if exc.http_status not in (401, 403):
                raise
        # RNE tokens expire silently and the API then answers 401 or 403: one fresh login, one retry.
        token = await self._current_token(stale=token)
        return await self._bearer_get(operation, path, token, params)

    async def _bearer_get(self, operation: str, path: str, token: str, params: Any = None) -> RawResponse:
        """One authenticated GET."""
        return await request_json(
            self._session,
            "GET",
            self.url(path),
            source=self.source,
            operation=operation,
            params=params,
            headers={"Authorization": f"Bearer {token}"},
            timeout=self._timeout,
            semaphore=self._semaphore,
        )

    async def fetch_record_once(self, siren: str, operation: str = "company") -> Fetched[RneRecord]:
        """One attempt at /api/companies/{siren} (login and one token refresh included)."""
        resp = await self._get_with_token(operation, f"api/companies/{siren}")
        return Fetched(self._parse(resp.data), resp.body, resp.status, resp.url)

    def _parse(self, data: Any) -> RneRecord:
        """Parse one company answer with this account's RBE entitlement."""
        return parse_record(single_record(data), rbe_entitled=self.rbe_entitled)

    def _parse_many(self, data: Any) -> list[RneRecord]:
        """Parse a search answer (a JSON array of company records)."""
        if not isinstance(data, list):
            raise MalformedResponse(
                self.source, "company search answer is not an array", operation="companies"
            )
        return [parse_record(as_dict(item), rbe_entitled=self.rbe_entitled) for item in data]

    async def fetch_records_once(self, sirens: list[str]) -> Fetched[list[RneRecord]]:
        """One attempt at /api/companies?siren[]=... for at most one page of SIRENs."""
        params = [("siren[]", s) for s in sirens] + [("pageSize", len(sirens)), ("page", 1)]
        resp = await self._get_with_token("companies", "api/companies", params)
        return Fetched(self._parse_many(resp.data), resp.body, resp.status, resp.url)

    async def records(self, sirens: list[str]) -> FetchedPages[list[RneRecord]]:
        """Many company records in batches of 100 (one request each); unknown SIRENs are simply absent."""
        checked = list(dict.fromkeys(checked_siren(s) for s in sirens))
        pages: list[Fetched[Any]] = []
        found: list[RneRecord] = []
        for start in range(0, len(checked), self.MAX_PAGE_SIZE):
            batch = checked[start : start + self.MAX_PAGE_SIZE]
            digest = hashlib.sha256(",".join(batch).encode()).hexdigest()[:32]
            fetched = await self._guarded(
                "companies",
                f"companies?sirens={digest}",
                partial(self.fetch_records_once, batch),
                self._parse_many,
            )
            pages.append(fetched)
            found.extend(fetched.model)
        return FetchedPages(found, tuple(pages), len(found))

    async def record(self, siren: str) -> Fetched[RneRecord]:
        """The whole parsed company record (company, officers, beneficial owners)."""
        siren = checked_siren(siren)
        return await self._guarded(
            "company", f"companies/{siren}", lambda: self.fetch_record_once(siren), self._parse
        )

    async def company(self, siren: str) -> Fetched[Company]:
        """Company identity, legal form, capital, addresses."""
        fetched = await self.record(siren)
        return _project(fetched, fetched.model.company)

    async def officers(self, siren: str) -> Fetched[tuple[Officer, ...]]:
        """Active officers."""
        fetched = await self.record(siren)
        return _project(fetched, fetched.model.officers)

    async def beneficial_owners(self, siren: str) -> Fetched[BeneficialOwnersResult]:
        """Beneficial owners, through the RBE guard when one is configured (own cost, own cache TTL)."""
        siren = checked_siren(siren)
        fetched = await self._guarded(
            "beneficial_owners",
            f"companies/{siren}",
            lambda: self.fetch_record_once(siren, "beneficial_owners"),
            self._parse,
            guard=self._rbe_guard,
        )
        return _project(fetched, fetched.model.beneficial_owners)


def _project(fetched: Fetched[RneRecord], model: Any) -> Fetched[Any]:
    """The same answer (raw bytes, status, cache flag) carrying one part of the record."""
    return Fetched(model, fetched.raw, fetched.http_status, fetched.url, fetched.from_cache)
