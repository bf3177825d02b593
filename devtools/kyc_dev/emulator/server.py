"""The local source emulator: one aiohttp app serving every source on its real paths under a prefix.

Base URLs (append the real API paths to them):

- Sirene 3.11:        ``{root}/sirene``      (``/siren/{siren}``, ``/siret/{siret}``, ``/siret?q=siren:...``)
- INPI RNE:           ``{root}/rne``         (``/api/sso/login``, ``/api/companies/{siren}``, ``/api/companies``)
- BODACC (ODS):       ``{root}/bodacc``      (``/api/explore/v2.1/catalog/datasets/annonces-commerciales/records``,
                                              legacy ``/api/records/1.0/search/``)
- recherche-entreprises: ``{root}/recherche`` (``/search``)
- OFAC:               ``{root}/lists/ofac``  (``/api/PublicationPreview/exports/SDN.CSV`` | ``ADD.CSV`` | ``ALT.CSV``)
- UN SC:              ``{root}/lists/un``    (``/resources/xml/en/consolidated.xml``)
- EU FSF:             ``{root}/lists/eu``    (``/fsd/fsf/public/files/xmlFullSanctionsList_1_1/content?token=...``)

Administration (never subject to faults or quotas) lives under ``{root}/_admin``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import math
import re
import secrets
import socket
import struct
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime

from aiohttp import web
from anyascii import anyascii
from pydantic import ValidationError

from kyc_dev.emulator import formats, lists
from kyc_dev.emulator.dataset import Company, Dataset
from kyc_dev.emulator.events import EventBook, EventSpec
from kyc_dev.emulator.faults import SOURCES, FaultBook, FaultSpec

SIRENE_KEY_HEADER = "X-INSEE-Api-Key-Integration"
BODACC_RECORDS = "/bodacc/api/explore/v2.1/catalog/datasets/annonces-commerciales/records"
_SCAN_CACHE_LIMIT = 200_000
# Gateways count quota per credential, so these sources check it once the caller is authenticated.
_QUOTA_AFTER_AUTH = {"sirene", "rne"}


@dataclass(frozen=True)
class RneAccount:
    """An RNE login; only AML-obliged accounts see beneficial owners since July 2024."""

    username: str
    password: str
    beneficial_owners: bool


@dataclass
class EmulatorConfig:
    """Everything that shapes an emulator instance; defaults mirror the real services' limits."""

    companies: int = 1000
    seed: int = 42
    sirene_api_key: str = "emulator-sirene-key"
    rne_accounts: tuple[RneAccount, ...] = (
        RneAccount("kyc@emulator.test", "kyc-password", True),
        RneAccount("public@emulator.test", "public-password", False),
    )
    rne_token_ttl_s: float = 3600.0
    # (requests, window seconds) per source; None = unlimited. Sirene: 30/min public plan; RNE: daily quota.
    quotas: dict[str, tuple[int, float] | None] = field(default_factory=lambda: {
        "sirene": (30, 60.0), "rne": (10_000, 86_400.0), "recherche": (7, 1.0),
    })
    list_version: int = 1
    search_scan_limit: int = 200_000


class Stats:
    """Requests that reached the emulator, per source and HTTP status (0 = connection reset)."""

    def __init__(self) -> None:
        self.requests: dict[str, int] = defaultdict(int)
        self.statuses: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        # Answers the handlers gave, per route ("GET /rne/api/companies/{siren}") and status: what a register bills.
        self.routes: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))

    def arrive(self, source: str) -> None:
        """Count a request as it arrives, before any fault or check."""
        self.requests[source] += 1

    def answer(self, source: str, status: int) -> None:
        """Count the status the request was answered with."""
        self.statuses[source][str(status)] += 1

    def handled(self, route: str, status: int) -> None:
        """Count an answer a route's handler gave (faults injected before the handler are not counted here)."""
        self.routes[route][str(status)] += 1

    def snapshot(self) -> dict:
        """JSON view: requests and statuses per source."""
        return {s: {"requests": self.requests[s], "by_status": dict(self.statuses[s])} for s in self.requests}

    def route_snapshot(self) -> dict:
        """JSON view: the handlers' answers per route and status."""
        return {r: dict(c) for r, c in self.routes.items()}

    def reset(self) -> None:
        """Forget every count."""
        self.requests.clear()
        self.statuses.clear()
        self.routes.clear()


class EmulatorState:
    """Dataset, lists, faults, quotas, tokens and counters of one running emulator."""

    def __init__(self, config: EmulatorConfig):
        self.config = config
        self.dataset = Dataset(config.companies, config.seed)
        self.faults = FaultBook(config.seed)
        self.stats = Stats()
        self.tokens: dict[str, tuple[RneAccount, float]] = {}
        self.windows: dict[str, tuple[float, int]] = {}
        self.list_version = config.list_version
        self._list_cache: dict[tuple[str, int], dict[str, bytes]] = {}
        self._all_notices: list[dict] | None = None
        self.events = EventBook(self.dataset)

    def company(self, siren: str) -> Company | None:
        """The company as every source describes it now (published events included)."""
        return self.events.company(siren)

    def quota_exceeded(self, source: str) -> float | None:
        """Count one call against the source's window; seconds to wait when the quota is spent."""
        quota = self.config.quotas.get(source)
        if not quota:
            return None
        limit, window = quota
        now = time.monotonic()
        start, used = self.windows.get(source, (now, 0))
        if now - start >= window:
            start, used = now, 0
        if used >= limit:
            self.windows[source] = (start, used)
            return max(0.001, start + window - now)
        self.windows[source] = (start, used + 1)
        return None

    def list_files(self, source: str, version: int) -> dict[str, bytes]:
        """Rendered files of a list version, rendered once."""
        key = (source, version)
        if key not in self._list_cache:
            if source == "ofac":
                self._list_cache[key] = lists.ofac_csv(self.dataset, version)
            elif source == "un":
                self._list_cache[key] = {"consolidated.xml": lists.un_xml(self.dataset, version)}
            else:
                self._list_cache[key] = {"content": lists.eu_xml(self.dataset, version)}
        return self._list_cache[key]

    def all_notices(self) -> list[dict]:
        """Every BODACC notice: the dataset's (scanned; kept in memory up to 200k companies) and the published."""
        return self._dataset_notices() + self.events.notices

    def notices_of(self, siren: str) -> list[dict]:
        """Every BODACC notice naming one company."""
        company = self.company(siren)
        generated = formats.bodacc_notices(company, self.dataset.as_of) if company else []
        return generated + self.events.notices_of(siren)

    def _dataset_notices(self) -> list[dict]:
        if self._all_notices is not None:
            return self._all_notices
        notices = []
        for index in range(self.dataset.size):
            notices.extend(formats.bodacc_notices(self.dataset.company_at(index), self.dataset.as_of))
        if self.dataset.size <= _SCAN_CACHE_LIMIT:
            self._all_notices = notices
        return notices


# -- responses ----------------------------------------------------------------------------------------


def _json(body, status: int = 200, headers: dict | None = None) -> web.Response:
    return web.Response(text=json.dumps(body, ensure_ascii=False), status=status, headers=headers,
                        content_type="application/json", charset="utf-8")


def source_of(path: str) -> str | None:
    """Which emulated source a request path belongs to."""
    parts = path.strip("/").split("/")
    if parts[0] == "lists" and len(parts) > 1:
        return parts[1] if parts[1] in SOURCES else None
    return parts[0] if parts[0] in SOURCES else None


def _error_body(source: str, status: int, message: str):
    """An error body in the source's own style."""
    if source == "sirene":
        return formats.sirene_error(status, message)
    if source == "rne":
        return {"code": status, "message": message}
    if source == "recherche":
        return {"erreur": message}
    if source == "bodacc":
        return {"error_code": "InternalServerError" if status >= 500 else "ODSQLError", "message": message}
    return None


def _error(source: str, status: int, message: str, headers: dict | None = None) -> web.Response:
    body = _error_body(source, status, message)
    if body is None:
        return web.Response(text=message, status=status, headers=headers)
    return _json(body, status, headers)


def _too_many(source: str, retry_after: float) -> web.Response:
    headers = {"Retry-After": str(max(1, math.ceil(retry_after)))}
    if source == "bodacc":
        body = {"errorcode": 10002, "reset_time": "", "limit_time_unit": "minute", "call_limit": 0,
                "error": "Too many requests on the domain. Please contact the domain administrator."}
        return _json(body, 429, headers)
    if source == "sirene":
        return _json(formats.sirene_error(429, "Too Many Requests"), 429, headers)
    if source == "rne":
        return _json({"code": 429, "message": "Quota de téléchargement journalier atteint"}, 429, headers)
    return _error(source, 429, "Trop de requêtes, veuillez réessayer plus tard", headers)


_HTML_PAGE = ("<!DOCTYPE html><html><head><title>{status} Service indisponible</title></head><body>"
              "<h1>Service temporairement indisponible</h1><p>Le service est en maintenance. "
              "Veuillez réessayer ultérieurement.</p><hr><address>nginx</address></body></html>")


def _reset(request: web.Request) -> None:
    """Abort the TCP connection with an RST, as a crashed upstream or a dropping firewall does."""
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


def _body_of(response: web.StreamResponse) -> bytes | None:
    """The bytes of a buffered response (handlers here never stream)."""
    if isinstance(response, web.Response) and isinstance(response.body, bytes | bytearray):
        return bytes(response.body)
    return None


async def _json_object(request: web.Request) -> dict | None:
    """The request body as a JSON object, or None when it is not one."""
    try:
        payload = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    return payload if isinstance(payload, dict) else None


async def _drip(request: web.Request, status: int, headers: dict, body: bytes, total_ms: int,
                cut_connection_at: int | None = None) -> web.StreamResponse:
    """Send a body slowly in chunks, or stop half-way and drop the connection."""
    response = web.StreamResponse(status=status, headers=headers)
    response.content_length = len(body)
    await response.prepare(request)
    chunks = 5
    size = max(1, math.ceil(len(body) / chunks))
    for start in range(0, len(body), size):
        if cut_connection_at is not None and start >= cut_connection_at:
            # A clean close before Content-Length bytes: the client sees an incomplete payload, not a reset.
            if request.transport is not None:
                request.transport.close()
            return response
        if total_ms:
            await asyncio.sleep(total_ms / chunks / 1000)
        await response.write(body[start:start + size])
    await response.write_eof()
    return response


async def _apply_output_faults(request: web.Request, source: str, spec: FaultSpec,
                               state: EmulatorState, response: web.StreamResponse) -> web.StreamResponse:
    """Damage a good answer the ways real gateways do: HTML, truncation, bad JSON, wrong type, slowness."""
    rng = state.faults.rng(source)
    body = _body_of(response)
    if body is None:
        return response
    headers = {k: v for k, v in response.headers.items() if k.lower() not in ("content-length", "content-type")}
    content_type = response.headers.get("Content-Type", "application/octet-stream")
    if spec.html_rate and rng.random() < spec.html_rate:
        return web.Response(text=_HTML_PAGE.format(status=spec.html_status), status=spec.html_status,
                            content_type="text/html", charset="utf-8")
    if spec.truncate_rate and rng.random() < spec.truncate_rate:
        if spec.truncate_mode == "connection":
            return await _drip(request, response.status, {**headers, "Content-Type": content_type}, body, 0,
                               cut_connection_at=max(1, len(body) // 2))
        body = body[: max(1, len(body) // 2)]
    elif spec.malformed_rate and rng.random() < spec.malformed_rate:
        body = body.replace(b":", b"", 1) + b"}\n<"
    if spec.wrong_content_type_rate and rng.random() < spec.wrong_content_type_rate:
        content_type = "text/plain; charset=utf-8"
    if spec.slow_ms:
        return await _drip(request, response.status, {**headers, "Content-Type": content_type}, body, spec.slow_ms)
    return web.Response(body=body, status=response.status, headers={**headers, "Content-Type": content_type})


def _make_middleware(state: EmulatorState):
    @web.middleware
    async def faults_and_counts(request: web.Request, handler):
        source = source_of(request.path)
        if source is None:
            return await handler(request)
        state.stats.arrive(source)
        spec = state.faults.get(source)
        if spec is not None:
            outage = state.faults.outage(source)
            if outage == "reset":
                state.stats.answer(source, 0)
                _reset(request)
                return web.Response(status=503)
            if outage == "503":
                state.stats.answer(source, 503)
                return web.Response(text=_HTML_PAGE.format(status=503), status=503, content_type="text/html")
            if spec.latency is not None:
                await asyncio.sleep(spec.latency.sample_ms(state.faults.rng(source)) / 1000)
            if state.faults.take_429(source):
                state.stats.answer(source, 429)
                return _too_many(source, spec.retry_after_s)
            if spec.error_rate and state.faults.rng(source).random() < spec.error_rate:
                state.stats.answer(source, spec.error_status)
                return _error(source, spec.error_status, "Erreur interne du serveur")
        if source not in _QUOTA_AFTER_AUTH and (wait := state.quota_exceeded(source)):
            state.stats.answer(source, 429)
            return _too_many(source, wait)
        response = await handler(request)
        resource = request.match_info.route.resource
        if resource is not None:
            state.stats.handled(f"{request.method} {resource.canonical}", response.status)
        if spec is not None and 200 <= response.status < 300:
            response = await _apply_output_faults(request, source, spec, state, response)
        state.stats.answer(source, response.status)
        return response

    return faults_and_counts


# -- Sirene -------------------------------------------------------------------------------------------


class Handlers:
    """Route handlers bound to one emulator state."""

    def __init__(self, state: EmulatorState):
        self.state = state

    def _sirene_guard(self, request: web.Request) -> web.Response | None:
        if request.headers.get(SIRENE_KEY_HEADER) != self.state.config.sirene_api_key:
            return _json(formats.sirene_error(401, "Jeton d'accès manquant ou invalide"), 401)
        wait = self.state.quota_exceeded("sirene")
        return _too_many("sirene", wait) if wait else None

    async def sirene_siren(self, request: web.Request) -> web.Response:
        if (denied := self._sirene_guard(request)) is not None:
            return denied
        siren = request.match_info["siren"]
        if not re.fullmatch(r"\d{9}", siren):
            return _json(formats.sirene_error(400, f"Erreur de syntaxe dans le paramètre siren={siren}"), 400)
        company = self.state.company(siren)
        if company is None:
            return _json(formats.sirene_error(404, f"Aucun élément trouvé pour le siren {siren}"), 404)
        return _json(formats.sirene_unit(company))

    async def sirene_siret(self, request: web.Request) -> web.Response:
        if (denied := self._sirene_guard(request)) is not None:
            return denied
        siret = request.match_info["siret"]
        if not re.fullmatch(r"\d{14}", siret):
            return _json(formats.sirene_error(400, f"Erreur de syntaxe dans le paramètre siret={siret}"), 400)
        company = self.state.company(siret[:9])
        establishment = next((e for e in company.establishments if e.siret == siret), None) if company else None
        if establishment is None:
            return _json(formats.sirene_error(404, f"Aucun élément trouvé pour le siret {siret}"), 404)
        return _json(formats.sirene_siret(company, establishment))

    async def sirene_search(self, request: web.Request) -> web.Response:
        if (denied := self._sirene_guard(request)) is not None:
            return denied
        query = request.query.get("q", "")
        match = re.fullmatch(r"\s*siren:\s*(\d{9})\s*", query)
        if not match:
            return _json(formats.sirene_error(400, f"Erreur de syntaxe dans le paramètre q={query}"), 400)
        try:
            nombre = int(request.query.get("nombre", "20"))
            cursor = request.query.get("curseur")
            debut = 0 if cursor in (None, "*") else int(cursor)
            debut = int(request.query.get("debut", debut))
        except ValueError:
            return _json(formats.sirene_error(400, "Paramètre nombre, debut ou curseur invalide"), 400)
        if not 0 <= nombre <= 1000 or debut < 0:
            return _json(formats.sirene_error(400, "Le paramètre nombre doit être compris entre 0 et 1000"), 400)
        company = self.state.company(match.group(1))
        if company is None or debut >= len(company.establishments):
            return _json(formats.sirene_error(404, f"Aucun élément trouvé pour q={query}"), 404)
        body = formats.sirene_siret_page(company, debut, nombre)
        if cursor is not None:
            following = min(debut + nombre, len(company.establishments))
            body["header"]["curseur"] = cursor
            body["header"]["curseurSuivant"] = str(following) if following < len(company.establishments) else cursor
        return _json(body)

    # -- RNE ----------------------------------------------------------------------------------------

    async def rne_login(self, request: web.Request) -> web.Response:
        payload = await _json_object(request)
        if payload is None:
            return _json({"code": 400, "message": "Invalid JSON."}, 400)
        username, password = payload.get("username"), payload.get("password")
        account = next((a for a in self.state.config.rne_accounts
                        if a.username == username and secrets.compare_digest(a.password, str(password))), None)
        if account is None:
            return _json({"code": 401, "message": "Invalid credentials."}, 401)
        token = secrets.token_urlsafe(32)
        self.state.tokens[token] = (account, time.monotonic() + self.state.config.rne_token_ttl_s)
        return _json({"token": token, "user": {"email": account.username, "roles": ["ROLE_USER"],
                                              "hasBeneficiairesEffectifsAccess": account.beneficial_owners}})

    def _rne_account(self, request: web.Request) -> RneAccount | web.Response:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            return _json({"code": 401, "message": "JWT Token not found"}, 401)
        entry = self.state.tokens.get(header[7:].strip())
        if entry is None:
            return _json({"code": 401, "message": "Invalid JWT Token"}, 401)
        account, expires = entry
        if time.monotonic() >= expires:
            return _json({"code": 401, "message": "Expired JWT Token"}, 401)
        wait = self.state.quota_exceeded("rne")
        return _too_many("rne", wait) if wait else account

    async def rne_company(self, request: web.Request) -> web.Response:
        account = self._rne_account(request)
        if isinstance(account, web.Response):
            return account
        company = self.state.company(request.match_info["siren"])
        if company is None:
            return _json({"code": 404, "message": "Not Found"}, 404)
        return _json(formats.rne_company(company, account.beneficial_owners))

    async def rne_companies(self, request: web.Request) -> web.Response:
        account = self._rne_account(request)
        if isinstance(account, web.Response):
            return account
        sirens = request.query.getall("siren[]", [])
        try:
            page_size = int(request.query.get("pageSize", "20"))
            page = int(request.query.get("page", "1"))
        except ValueError:
            return _json({"code": 400, "message": "Bad Request"}, 400)
        if not 1 <= page_size <= 100 or page < 1:
            return _json({"code": 400, "message": "pageSize must be between 1 and 100"}, 400)
        found = [c for c in (self.state.company(s) for s in sirens) if c is not None]
        chunk = found[(page - 1) * page_size: page * page_size]
        return _json([formats.rne_company(c, account.beneficial_owners) for c in chunk])

    # -- BODACC -------------------------------------------------------------------------------------

    def _notices_where(self, where: str) -> list[dict] | str:
        """Notices matching a small ODSQL subset: `and` of clauses, each a clause or a parenthesised `or` of
        clauses on one field (registre, dateparution, familleavis, typeavis, id, publicationavis)."""
        registres: set[str] | None = None
        filters = []
        for group in [c.strip() for c in re.split(r"\s+and\s+", where.strip(), flags=re.I) if c.strip()]:
            inner = group[1:-1].strip() if group.startswith("(") and group.endswith(")") else group
            alternatives = [a.strip() for a in re.split(r"\s+or\s+", inner, flags=re.I) if a.strip()]
            sirens, tests = set(), []
            for clause in alternatives:
                if m := re.fullmatch(r'registre\s*(?:like|=|:)\s*["\']?([\d ]{9,11})["\']?', clause, re.I):
                    sirens.add(m.group(1).replace(" ", ""))
                elif m := re.fullmatch(r'dateparution\s*(>=|<=|>|<|=)\s*(?:date)?\s*["\'](\d{4}-\d{2}-\d{2})["\']',
                                       clause, re.I):
                    op, value = m.groups()
                    tests.append(lambda n, op=op, v=value: _compare(n["dateparution"], op, v))
                elif m := re.fullmatch(r'(familleavis|typeavis|id|publicationavis)\s*=\s*["\']([^"\']+)["\']', clause,
                                       re.I):
                    name, value = m.group(1).lower(), m.group(2)
                    tests.append(lambda n, k=name, v=value: n[k] == v)
                else:
                    return f"Query malformed: unsupported clause {clause!r}"
            if sirens and tests:
                return f"Query malformed: cannot mix registre with other fields in {group!r}"
            if sirens:
                registres = sirens if registres is None else registres & sirens
            else:
                filters.append(lambda n, tests=tests: any(t(n) for t in tests))
        if registres is not None:
            candidates = [n for siren in sorted(registres) for n in self.state.notices_of(siren)]
        else:
            candidates = self.state.all_notices()
        return [n for n in candidates if all(f(n) for f in filters)]

    async def bodacc_records(self, request: web.Request) -> web.Response:
        query = request.query
        try:
            limit = int(query.get("limit", "10"))
            offset = int(query.get("offset", "0"))
        except ValueError:
            return _json({"error_code": "InvalidRESTParameterError", "message": "limit and offset must be integers"},
                         400)
        if not -1 <= limit <= 100:
            return _json({"error_code": "InvalidRESTParameterError",
                          "message": f"Invalid value for limit API parameter: {limit} was found but -1 <= limit <= "
                                     "100 is expected."}, 400)
        if offset < 0 or offset + max(limit, 0) > 10000:
            return _json({"error_code": "InvalidRESTParameterError",
                          "message": "Invalid value for offset API parameter: offset + limit must be <= 10000. "
                                     "Use the exports endpoint for bulk downloads."}, 400)
        # A query without a SIREN scans the dataset: off the event loop so other sources keep answering.
        notices = await asyncio.to_thread(self._notices_where, query.get("where", ""))
        if isinstance(notices, str):
            return _json({"error_code": "ODSQLError", "message": notices}, 400)
        order = query.get("order_by", "dateparution asc").strip().split()
        key = order[0] if order else "dateparution"
        if key not in ("dateparution", "id", "numeroannonce"):
            return _json({"error_code": "ODSQLError", "message": f"Unknown field in order_by: {key}"}, 400)
        notices = sorted(notices, key=lambda n: (n[key], n["id"]), reverse=len(order) > 1 and order[1].lower() == "desc")
        page = notices[offset: offset + (limit if limit >= 0 else 100)]
        if select := query.get("select"):
            wanted = [f.strip() for f in select.split(",")]
            page = [{k: n.get(k) for k in wanted} for n in page]
        return _json({"total_count": len(notices), "results": page})

    async def bodacc_v1_search(self, request: web.Request) -> web.Response:
        query = request.query
        q = query.get("q", "")
        match = re.fullmatch(r"\s*registre:\s*\"?([\d ]{9,11})\"?\s*", q)
        if query.get("dataset") != "annonces-commerciales" or (q and not match):
            return _json({"errorcode": 10001, "error": "Unknown dataset or unsupported query"}, 400)
        try:
            rows = int(query.get("rows", "10"))
            start = int(query.get("start", "0"))
        except ValueError:
            return _json({"errorcode": 10001, "error": "rows and start must be integers"}, 400)
        sort = query.get("sort", "")
        if sort.lstrip("-") not in ("", "dateparution", "id", "numeroannonce"):
            return _json({"errorcode": 10001, "error": f"Unknown sort field {sort}"}, 400)
        notices = self._notices_where(f'registre = "{match.group(1)}"' if match else "")
        # Legacy API sorts descending by default; a leading minus means ascending.
        if sort:
            notices = sorted(notices, key=lambda n: (n[sort.lstrip("-")], n["id"]), reverse=not sort.startswith("-"))
        records = [formats.bodacc_v1_record(n) for n in notices[start:start + rows]]
        facets = defaultdict(lambda: defaultdict(int))
        for notice in notices:
            for name in ("publicationavis", "familleavis", "typeavis"):
                facets[name][notice[name]] += 1
        return _json({
            "nhits": len(notices),
            "parameters": {"dataset": ["annonces-commerciales"], "q": q, "rows": rows, "start": start,
                           "sort": [sort] if sort else [], "format": "json", "timezone": "UTC"},
            "records": records,
            "facet_groups": [{"name": name, "facets": [{"name": k, "count": v, "state": "displayed", "path": k}
                                                       for k, v in sorted(values.items(), key=lambda kv: -kv[1])]}
                             for name, values in facets.items()],
        })

    # -- recherche-entreprises ----------------------------------------------------------------------

    async def recherche_search(self, request: web.Request) -> web.Response:
        q = request.query.get("q", "").strip()
        if not q:
            return _json({"erreur": "Veuillez indiquer au moins un paramètre de recherche."}, 400)
        try:
            page = int(request.query.get("page", "1"))
            per_page = int(request.query.get("per_page", "10"))
        except ValueError:
            return _json({"erreur": "Les paramètres page et per_page doivent être des entiers."}, 400)
        if not 1 <= per_page <= 25 or page < 1:
            return _json({"erreur": "Veuillez indiquer un paramètre `per_page` entre 1 et 25."}, 400)
        digits = q.replace(" ", "")
        if digits.isdigit() and len(digits) in (9, 14):
            company = self.state.company(digits[:9])
            matches = [company.index] if company else []
        else:
            matches = await asyncio.to_thread(self._match_names, _normalise(q).split())
        total = min(len(matches), 10000)
        chunk = matches[(page - 1) * per_page: page * per_page]
        return _json({
            "results": [formats.recherche_result(self.state.dataset.company_at(i)) for i in chunk],
            "total_results": total, "page": page, "per_page": per_page,
            "total_pages": math.ceil(total / per_page) if total else 0,
        })

    def _match_names(self, tokens: list[str]) -> list[int]:
        """Indexes of companies whose name holds every token (scans up to `search_scan_limit` companies)."""
        limit = min(self.state.dataset.size, self.state.config.search_scan_limit)
        return [i for i in range(limit) if all(t in _normalise(self.state.dataset.ref(i).name).split() for t in tokens)]

    # -- sanctions lists ----------------------------------------------------------------------------

    def _list_response(self, request: web.Request, source: str, name: str, content_type: str) -> web.Response:
        try:
            version = int(request.query.get("version", self.state.list_version))
        except ValueError:
            return web.Response(text="Bad version", status=400)
        if version not in (1, 2):
            return web.Response(text="Unknown version", status=404)
        files = self.state.list_files(source, version)
        if name not in files:
            return web.Response(text="Not Found", status=404)
        body = files[name]
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        published = datetime.combine(lists.publish_date(self.state.dataset, version), datetime.min.time(), UTC)
        headers = {"ETag": etag, "Last-Modified": format_datetime(published, usegmt=True)}
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers=headers)
        return web.Response(body=body, headers={**headers, "Content-Type": content_type})

    async def ofac_file(self, request: web.Request) -> web.Response:
        return self._list_response(request, "ofac", request.match_info["name"].lower(), "text/csv")

    async def un_file(self, request: web.Request) -> web.Response:
        return self._list_response(request, "un", "consolidated.xml", "application/xml")

    async def eu_file(self, request: web.Request) -> web.Response:
        if request.query.get("token") != lists.EU_TOKEN:
            return web.Response(text="Forbidden", status=403)
        return self._list_response(request, "eu", "content", "application/xml")

    # -- administration -----------------------------------------------------------------------------

    async def admin_health(self, request: web.Request) -> web.Response:
        return _json({"status": "ok", "companies": self.state.dataset.size, "seed": self.state.dataset.seed,
                      "list_version": self.state.list_version, "sources": list(SOURCES)})

    async def admin_config(self, request: web.Request) -> web.Response:
        root = f"{request.scheme}://{request.host}"
        return _json({"base_urls": base_urls(root), "credentials": credentials(self.state.config)})

    async def admin_faults_get(self, request: web.Request) -> web.Response:
        return _json(self.state.faults.snapshot())

    async def admin_faults_set(self, request: web.Request) -> web.Response:
        payload = await _json_object(request)
        if payload is None:
            return _json({"error": "body must be a JSON object"}, 400)
        source = payload.pop("source", None)
        targets = list(SOURCES) if source == "*" else [source]
        if any(t not in SOURCES for t in targets):
            return _json({"error": f"source must be one of {', '.join(SOURCES)} or *"}, 400)
        try:
            spec = FaultSpec.model_validate(payload)
        except ValidationError as exc:
            return _json({"error": exc.errors(include_url=False, include_context=False)}, 400)
        for target in targets:
            self.state.faults.set(target, spec)
        return _json(self.state.faults.snapshot())

    async def admin_faults_clear(self, request: web.Request) -> web.Response:
        source = request.query.get("source")
        if source and source not in SOURCES:
            return _json({"error": f"unknown source {source}"}, 400)
        self.state.faults.clear(source)
        return _json(self.state.faults.snapshot())

    async def admin_stats(self, request: web.Request) -> web.Response:
        # ?by=route: the answers each route's handler gave (what a register bills), not the per-source arrivals.
        if request.query.get("by") == "route":
            return _json(self.state.stats.route_snapshot())
        return _json(self.state.stats.snapshot())

    async def admin_stats_reset(self, request: web.Request) -> web.Response:
        self.state.stats.reset()
        return _json({})

    async def admin_lists(self, request: web.Request) -> web.Response:
        if request.method == "POST":
            payload = await _json_object(request) or {}
            version = payload.get("version")
            if version not in (1, 2):
                return _json({"error": "version must be 1 or 2"}, 400)
            self.state.list_version = version
        return _json({"version": self.state.list_version})

    async def admin_quotas(self, request: web.Request) -> web.Response:
        if request.method == "POST":
            payload = await _json_object(request) or {}
            source, limit, window = payload.get("source"), payload.get("limit"), payload.get("window_s", 60)
            if source not in SOURCES:
                return _json({"error": f"source must be one of {', '.join(SOURCES)}"}, 400)
            if limit is not None and (not isinstance(limit, int) or limit < 1 or not isinstance(window, int | float)
                                      or window <= 0):
                return _json({"error": "limit must be a positive integer (null = unlimited), window_s > 0"}, 400)
            self.state.config.quotas[source] = (limit, float(window)) if limit else None
            self.state.windows.pop(source, None)
        return _json({s: list(q) if q else None for s, q in self.state.config.quotas.items()})

    async def admin_events_get(self, request: web.Request) -> web.Response:
        return _json({"events": self.state.events.log})

    async def admin_events_publish(self, request: web.Request) -> web.Response:
        payload = await _json_object(request)
        if payload is None:
            return _json({"error": "body must be a JSON object"}, 400)
        try:
            spec = EventSpec.model_validate(payload)
            done = self.state.events.publish(spec)
        except ValidationError as exc:
            return _json({"error": exc.errors(include_url=False, include_context=False)}, 400)
        except ValueError as exc:
            return _json({"error": str(exc)}, 400)
        return _json(done)

    async def admin_events_clear(self, request: web.Request) -> web.Response:
        self.state.events.reset()
        return _json({"events": []})

    async def admin_expire_tokens(self, request: web.Request) -> web.Response:
        now = time.monotonic()
        self.state.tokens = {t: (account, now) for t, (account, _exp) in self.state.tokens.items()}
        return _json({"expired": len(self.state.tokens)})


def _compare(left: str, op: str, right: str) -> bool:
    return {">=": left >= right, "<=": left <= right, ">": left > right, "<": left < right, "=": left == right}[op]


def _normalise(text: str) -> str:
    return re.sub(r"[^a-z0-9 ]", " ", anyascii(text).lower())


def base_urls(root: str) -> dict[str, str]:
    """Base URL of every emulated source under a server root such as ``http://127.0.0.1:8090``."""
    root = root.rstrip("/")
    return {"sirene": f"{root}/sirene", "rne": f"{root}/rne", "bodacc": f"{root}/bodacc",
            "recherche": f"{root}/recherche", "ofac": f"{root}/lists/ofac", "un": f"{root}/lists/un",
            "eu": f"{root}/lists/eu", "admin": f"{root}/_admin"}


def credentials(config: EmulatorConfig) -> dict:
    """The emulator's fixed credentials (not secrets: they only open the local emulator)."""
    return {
        "sirene": {"header": SIRENE_KEY_HEADER, "api_key": config.sirene_api_key},
        "rne": [{"username": a.username, "password": a.password, "beneficial_owners": a.beneficial_owners}
                for a in config.rne_accounts],
        "eu": {"token": lists.EU_TOKEN},
    }


STATE_KEY = web.AppKey("state", EmulatorState)


def create_app(config: EmulatorConfig | None = None) -> web.Application:
    """The aiohttp application; its state is at ``app[STATE_KEY]``."""
    state = EmulatorState(config or EmulatorConfig())
    h = Handlers(state)
    app = web.Application(middlewares=[_make_middleware(state)])
    app[STATE_KEY] = state
    app.router.add_get("/sirene/siren/{siren}", h.sirene_siren)
    app.router.add_get("/sirene/siret/{siret}", h.sirene_siret)
    app.router.add_get("/sirene/siret", h.sirene_search)
    app.router.add_post("/rne/api/sso/login", h.rne_login)
    app.router.add_get("/rne/api/companies/{siren}", h.rne_company)
    app.router.add_get("/rne/api/companies", h.rne_companies)
    app.router.add_get(BODACC_RECORDS, h.bodacc_records)
    app.router.add_get("/bodacc/api/records/1.0/search/", h.bodacc_v1_search)
    app.router.add_get("/recherche/search", h.recherche_search)
    app.router.add_get("/lists/ofac/api/PublicationPreview/exports/{name}", h.ofac_file)
    app.router.add_get("/lists/ofac/downloads/{name}", h.ofac_file)
    app.router.add_get("/lists/un/resources/xml/en/consolidated.xml", h.un_file)
    app.router.add_get("/lists/eu/fsd/fsf/public/files/xmlFullSanctionsList_1_1/content", h.eu_file)
    app.router.add_get("/_admin/health", h.admin_health)
    app.router.add_get("/_admin/config", h.admin_config)
    app.router.add_get("/_admin/faults", h.admin_faults_get)
    app.router.add_post("/_admin/faults", h.admin_faults_set)
    app.router.add_delete("/_admin/faults", h.admin_faults_clear)
    app.router.add_get("/_admin/stats", h.admin_stats)
    app.router.add_delete("/_admin/stats", h.admin_stats_reset)
    app.router.add_route("*", "/_admin/lists", h.admin_lists)
    app.router.add_route("*", "/_admin/quotas", h.admin_quotas)
    app.router.add_post("/_admin/rne/expire-tokens", h.admin_expire_tokens)
    app.router.add_get("/_admin/events", h.admin_events_get)
    app.router.add_post("/_admin/events", h.admin_events_publish)
    app.router.add_delete("/_admin/events", h.admin_events_clear)
    return app


# -- running ------------------------------------------------------------------------------------------


@dataclass
class RunningEmulator:
    """A started emulator: its root URL, per-source base URLs and state; ``stop()`` shuts it down."""

    root: str
    app: web.Application
    _stop: object = None

    @property
    def urls(self) -> dict[str, str]:
        return base_urls(self.root)

    @property
    def state(self) -> EmulatorState:
        return self.app[STATE_KEY]

    def stop(self) -> None:
        if callable(self._stop):
            self._stop()

    def __enter__(self) -> RunningEmulator:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


@contextlib.asynccontextmanager
async def run_emulator(host: str = "127.0.0.1", port: int = 0, config: EmulatorConfig | None = None, **opts):
    """Serve on the running event loop (port 0 = ephemeral) and yield a :class:`RunningEmulator`."""
    app = create_app(config or EmulatorConfig(**opts))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = runner.addresses[0][1]
    try:
        yield RunningEmulator(f"http://{host}:{bound}", app)
    finally:
        await runner.cleanup()


def start_emulator_in_thread(host: str = "127.0.0.1", port: int = 0, config: EmulatorConfig | None = None,
                             **opts) -> RunningEmulator:
    """Start an emulator on its own thread and loop; returns once it accepts connections."""
    ready = threading.Event()
    holder: dict = {}
    loop = asyncio.new_event_loop()

    async def main() -> None:
        stop = asyncio.Event()
        holder["stop"] = stop
        try:
            async with run_emulator(host, port, config, **opts) as running:
                holder["running"] = running
                ready.set()
                await stop.wait()
        except BaseException as exc:  # noqa: BLE001 - reported to the starting thread below
            holder["error"] = exc
            ready.set()

    thread = threading.Thread(target=lambda: loop.run_until_complete(main()), name="kyc-emulator", daemon=True)
    thread.start()
    ready.wait(30)
    if "error" in holder or "running" not in holder:
        raise RuntimeError(f"emulator did not start: {holder.get('error')!r}")
    running: RunningEmulator = holder["running"]

    def stop() -> None:
        if loop.is_closed():
            return
        loop.call_soon_threadsafe(holder["stop"].set)
        thread.join(10)
        if not thread.is_alive():
            loop.close()

    running._stop = stop
    return running


def serve_forever(host: str, port: int, config: EmulatorConfig, on_start=None) -> None:
    """Run the emulator in the foreground until interrupted."""

    async def main() -> None:
        async with run_emulator(host, port, config) as running:
            if on_start:
                on_start(running)
            await asyncio.Event().wait()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
