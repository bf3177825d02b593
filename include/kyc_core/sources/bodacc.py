"""BODACC commercial notices (DILA on Opendatasoft): parsers and the async client.

The explore API v2.1 answers `{"total_count", "results": [flat records]}`; the legacy v1 search API
answers `{"nhits", "records": [{"fields": {...}}]}` with the same field names. Both are accepted.
"""

from __future__ import annotations

import json
import re
from datetime import date
from functools import partial
from typing import Any

import aiohttp

from kyc_core.errors import MalformedResponse, UserError
from kyc_core.sources.base import BaseClient, Fetched, FetchedPages, SourceGuard, checked_siren
from kyc_core.sources.http import request_json
from kyc_core.sources.models import BodaccKind, BodaccNotice, BodaccNoticeType
from kyc_core.sources.parsing import as_dict, as_list, digits, parse_date, text

SOURCE = "bodacc"

#: Fields that Opendatasoft serves as JSON serialised into a string: they need a second json.loads.
JSON_TEXT_FIELDS = (
    "listepersonnes",
    "listeetablissements",
    "jugement",
    "acte",
    "modificationsgenerales",
    "radiationaurcs",
    "depot",
    "listeprecedentexploitant",
    "listeprecedentproprietaire",
    "divers",
    "parutionavisprecedent",
)

_FAMILY_KINDS = {
    "radiation": BodaccKind.STRIKING_OFF,
    "vente": BodaccKind.SALE,
    "modification": BodaccKind.MODIFICATION,
    "creation": BodaccKind.REGISTRATION,
    "immatriculation": BodaccKind.REGISTRATION,
    "dpc": BodaccKind.ACCOUNTS_FILING,
    "conciliation": BodaccKind.COLLECTIVE_OTHER,
    "retablissement_professionnel": BodaccKind.COLLECTIVE_OTHER,
}

#: Family labels, for records where only `familleavis_lib` survived an export.
_FAMILY_LABEL_KINDS = (
    ("radiation", BodaccKind.STRIKING_OFF),
    ("vente", BodaccKind.SALE),
    ("cession", BodaccKind.SALE),
    ("modification", BodaccKind.MODIFICATION),
    ("création", BodaccKind.REGISTRATION),
    ("immatriculation", BodaccKind.REGISTRATION),
    ("dépôt", BodaccKind.ACCOUNTS_FILING),
    ("comptes", BodaccKind.ACCOUNTS_FILING),
)

_NOTICE_TYPES = {
    "annonce": BodaccNoticeType.INITIAL,
    "rectificatif": BodaccNoticeType.RECTIFICATION,
    "annulation": BodaccNoticeType.CANCELLATION,
}


def decode_json_text(value: Any) -> Any:
    """A JSON-as-text field decoded; values already decoded pass through, undecodable text is kept as is."""
    if not isinstance(value, str):
        return value
    stripped = value.strip()
    if not stripped or stripped[0] not in "{[":
        return value
    try:
        return json.loads(stripped)
    except json.JSONDecodeError:
        return value


_PROCEEDING_WORDS = (
    ("liquidation", BodaccKind.LIQUIDATION),
    ("redressement", BodaccKind.RECEIVERSHIP),
    ("sauvegarde", BodaccKind.SAFEGUARD),
)

_FRENCH_MONTHS = {
    "janvier": 1, "février": 2, "fevrier": 2, "mars": 3, "avril": 4, "mai": 5, "juin": 6, "juillet": 7,
    "août": 8, "aout": 8, "septembre": 9, "octobre": 10, "novembre": 11, "décembre": 12, "decembre": 12,
}  # fmt: skip
_FRENCH_DATE = re.compile(r"^(\d{1,2})(?:er)?\s+([a-zéû]+)\s+(\d{4})$")
_SLASH_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")


def fix_mojibake(value: str | None) -> str | None:
    """Undo UTF-8 read as Latin-1 ("clÃ´ture" -> "clôture"), which older BODACC records carry."""
    if not value or "Ã" not in value:
        return value
    try:
        return value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return value


def judgment_date(value: Any) -> date | None:
    """A judgment date in any shape BODACC uses: ISO, "27/11/2008", "1er janvier 2020"."""
    parsed = parse_date(value)
    raw = (text(value) or "").replace("\xa0", " ").lower()
    if parsed is not None or not raw:
        return parsed
    day = month = year = None
    if match := _SLASH_DATE.match(raw):
        day, month, year = int(match.group(1)), int(match.group(2)), int(match.group(3))
    elif (match := _FRENCH_DATE.match(raw)) and match.group(2) in _FRENCH_MONTHS:
        day, month, year = int(match.group(1)), _FRENCH_MONTHS[match.group(2)], int(match.group(3))
    if year is None or month is None or day is None:
        return None
    try:
        return date(year, month, day)
    except ValueError:
        return None


def collective_kind(judgment_nature: str | None, complement: str | None = None) -> BodaccKind:
    """Which insolvency proceeding a judgment concerns; liquidation wins over the plan it ends.

    Generic natures ("Autre jugement prononçant") name the proceeding in `complementJugement` only.
    """
    for source_text in (judgment_nature, complement):
        lowered = (fix_mojibake(source_text) or "").lower()
        for word, kind in _PROCEEDING_WORDS:
            if word in lowered:
                return kind
    return BodaccKind.COLLECTIVE_OTHER


def notice_kind(family: str | None, family_label: str | None, judgment: dict[str, Any]) -> BodaccKind:
    """The KYC kind of a notice from its family code (or label) and, for proceedings, its judgment."""
    code = (family or "").lower()
    label = (family_label or "").lower()
    if code == "collective" or "collective" in label or (not code and judgment):
        return collective_kind(
            text(judgment.get("nature")) or text(judgment.get("famille")),
            text(judgment.get("complementJugement")),
        )
    if code in _FAMILY_KINDS:
        return _FAMILY_KINDS[code]
    for needle, kind in _FAMILY_LABEL_KINDS:
        if needle in label:
            return kind
    return BodaccKind.OTHER


def notice_type(typeavis: Any, typeavis_lib: Any) -> BodaccNoticeType:
    """Initial, rectifying or cancelling notice."""
    code = (text(typeavis) or "").lower()
    if code in _NOTICE_TYPES:
        return _NOTICE_TYPES[code]
    label = (text(typeavis_lib) or "").lower()
    if "rectific" in label:
        return BodaccNoticeType.RECTIFICATION
    if "annul" in label:
        return BodaccNoticeType.CANCELLATION
    return BodaccNoticeType.INITIAL


def previous_notice_id(previous: Any, default_bulletin: str | None = None) -> str | None:
    """Id of the notice a correction refers to: bulletin letter + parution number + notice number.

    `nomPublication` is "BODACC A|B|C"; when it lacks the letter, the correction's own bulletin is
    used, since a notice is corrected in the bulletin that published it.
    """
    block = as_dict(previous)
    letter = (text(block.get("nomPublication")) or "").upper().replace("BODACC", "").strip()
    letter = letter or (default_bulletin or "").upper()
    parution = digits(block.get("numeroParution"))
    number = digits(block.get("numeroAnnonce"))
    if len(letter) != 1 or not parution or not number:
        return None
    return f"{letter}{parution}{number}"


def _sirens(registre: Any) -> tuple[str, ...]:
    """Distinct 9-digit SIRENs from `registre` ("880878145,880 878 145" in v1, a list in v2.1)."""
    values = registre if isinstance(registre, list) else str(registre or "").split(",")
    found: list[str] = []
    for value in values:
        number = digits(value)
        if number and len(number) == 9 and number not in found:
            found.append(number)
    return tuple(found)


def parse_notice(fields: dict[str, Any]) -> BodaccNotice:
    """One flat BODACC record as a notice with its JSON-in-text fields decoded."""
    notice_id = text(fields.get("id"))
    if not notice_id:
        raise MalformedResponse(SOURCE, "notice without id", operation="notices")
    decoded = {
        name: decode_json_text(fields[name]) for name in JSON_TEXT_FIELDS if fields.get(name) is not None
    }
    judgment = as_dict(decoded.get("jugement"))
    return BodaccNotice(
        id=notice_id,
        kind=notice_kind(text(fields.get("familleavis")), text(fields.get("familleavis_lib")), judgment),
        family_code=text(fields.get("familleavis")),
        family_label=text(fields.get("familleavis_lib")),
        notice_type=notice_type(fields.get("typeavis"), fields.get("typeavis_lib")),
        publication_date=parse_date(fields.get("dateparution")),
        bulletin=text(fields.get("publicationavis")),
        notice_number=text(fields.get("numeroannonce")),
        sirens=_sirens(fields.get("registre")),
        trade_name=text(fields.get("commercant")),
        court=text(fields.get("tribunal")),
        city=text(fields.get("ville")),
        postal_code=text(fields.get("cp")),
        url=text(fields.get("url_complete")),
        judgment_nature=fix_mojibake(text(judgment.get("nature"))),
        judgment_date=judgment_date(judgment.get("date")),
        corrects_notice_id=previous_notice_id(
            decoded.get("parutionavisprecedent"), text(fields.get("publicationavis"))
        ),
        decoded=decoded,
    )


def records_of(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """Flat records from a v2.1 (`results`) or v1 (`records[].fields`) answer."""
    if "results" in payload:
        return [as_dict(r) for r in as_list(payload.get("results"))]
    if "records" in payload:
        return [as_dict(as_dict(r).get("fields")) for r in as_list(payload.get("records"))]
    raise MalformedResponse(SOURCE, "answer has neither results nor records", operation="notices")


def parse_notices(payload: dict[str, Any]) -> tuple[list[BodaccNotice], int | None]:
    """Notices of one answer page and the total count the source reports."""
    total = payload.get("total_count", payload.get("nhits"))
    return [parse_notice(r) for r in records_of(payload)], total if isinstance(total, int) else None


def effective_notices(notices: list[BodaccNotice]) -> list[BodaccNotice]:
    """Notices still in force: cancelled ones and their cancellations dropped, rectified ones replaced."""
    cancelled = {n.corrects_notice_id for n in notices if n.notice_type is BodaccNoticeType.CANCELLATION}
    rectified = {n.corrects_notice_id for n in notices if n.notice_type is BodaccNoticeType.RECTIFICATION}
    return [
        n
        for n in notices
        if n.id not in cancelled
        and n.id not in rectified
        and n.notice_type is not BodaccNoticeType.CANCELLATION
    ]


class BodaccClient(BaseClient):
    """Opendatasoft explore API v2.1 on the `annonces-commerciales` dataset (no authentication)."""

    source = SOURCE
    DEFAULT_BASE_URL = "https://bodacc-datadila.opendatasoft.com"
    RECORDS_PATH = "api/explore/v2.1/catalog/datasets/annonces-commerciales/records"
    #: Opendatasoft caps `limit` at 100 and `offset + limit` at 10,000 (bulk needs the exports route).
    MAX_PAGE = 100
    MAX_WINDOW = 10_000

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str = DEFAULT_BASE_URL,
        *,
        guard: SourceGuard | None = None,
        page_size: int = 100,
        **kwargs: Any,
    ):
        super().__init__(session, base_url, guard=guard, **kwargs)
        self.page_size = min(page_size, self.MAX_PAGE)

    async def fetch_page_once(
        self, operation: str, where: str, order_by: str, offset: int, limit: int
    ) -> Fetched[tuple[list[BodaccNotice], int | None]]:
        """One attempt at one page of records matching an ODSQL `where`."""
        params: dict[str, Any] = {"where": where, "order_by": order_by, "limit": limit, "offset": offset}
        resp = await request_json(
            self._session,
            "GET",
            self.url(self.RECORDS_PATH),
            source=self.source,
            operation=operation,
            params=params,
            timeout=self._timeout,
            semaphore=self._semaphore,
        )
        if not isinstance(resp.data, dict):
            raise MalformedResponse(self.source, "answer is not an object", operation=operation)
        return Fetched(parse_notices(resp.data), resp.body, resp.status, resp.url)

    async def _paged(
        self, operation: str, where: str, order_by: str, max_results: int
    ) -> FetchedPages[list[BodaccNotice]]:
        """Follow offset paging within the source's 10,000-record window."""
        pages: list[Fetched[Any]] = []
        found: list[BodaccNotice] = []
        total: int | None = None
        offset = 0
        while len(found) < max_results:
            limit = min(self.page_size, max_results - len(found), self.MAX_WINDOW - offset)
            if limit <= 0:
                break
            fetched = await self._guarded(
                operation,
                f"where:{where}:order:{order_by}:offset:{offset}:limit:{limit}",
                partial(self.fetch_page_once, operation, where, order_by, offset, limit),
                parse_notices,
            )
            pages.append(fetched)
            items, page_total = fetched.model
            total = page_total if page_total is not None else total
            found.extend(items)
            offset += len(items)
            if len(items) < limit or (total is not None and offset >= total):
                break
        return FetchedPages(found, tuple(pages), total)

    async def notices_for_siren(
        self, siren: str, *, max_results: int = 500
    ) -> FetchedPages[list[BodaccNotice]]:
        """Every notice naming this SIREN, newest first."""
        siren = checked_siren(siren)
        return await self._paged(
            "notices_for_siren", f'registre like "{siren}"', "dateparution desc", max_results
        )

    async def notices_since(
        self, since: date, *, family: str | None = None, max_results: int = 10_000
    ) -> FetchedPages[list[BodaccNotice]]:
        """Notices published on or after `since` (optionally one `familleavis`), oldest first."""
        where = f"dateparution >= date'{since.isoformat()}'"
        if family is not None and not family.replace("_", "").isalnum():
            raise UserError(f"invalid BODACC family code {family!r}")
        if family:
            where += f' and familleavis = "{family}"'
        return await self._paged("notices_since", where, "dateparution asc", max_results)

    async def notices_for_sirens(
        self, sirens: list[str], since: date, *, families: tuple[str, ...] = (), max_results: int = 10_000
    ) -> FetchedPages[list[BodaccNotice]]:
        """Notices published on or after `since` naming any of these SIRENs (one ODSQL where), oldest first."""
        checked = sorted({checked_siren(s) for s in sirens})
        if not checked:
            raise UserError("no SIREN to look up in BODACC")
        if any(not family.replace("_", "").isalnum() for family in families):
            raise UserError(f"invalid BODACC family code in {families!r}")
        where = "(" + " or ".join(f'registre like "{siren}"' for siren in checked) + ")"
        where += f" and dateparution >= date'{since.isoformat()}'"
        if families:
            where += " and (" + " or ".join(f'familleavis = "{family}"' for family in families) + ")"
        return await self._paged("notices_for_sirens", where, "dateparution asc", max_results)
