"""Registry clients against loopback servers that serve real recorded bodies."""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from datetime import date

import aiohttp
import pytest
from aiohttp import web
from kyc_core.errors import QuotaExceeded, RecordNotFound, SourceUnusable, UserError
from kyc_core.sources.bodacc import BodaccClient
from kyc_core.sources.http import RecordNotDiffusible, SourceTimeout
from kyc_core.sources.models import BeneficialOwnersAvailability, BodaccKind
from kyc_core.sources.recherche import RechercheEntreprisesClient
from kyc_core.sources.rne import RneClient
from kyc_core.sources.sirene import SireneClient
from sources_testkit import RecordingGuard, json_response, real_json, serve
from stdnum.fr import siren as stdnum_siren

API_KEY = "test-key"
GANYMEDE = "880878145"
LA_POSTE = "356000000"
BKMD = "980704894"
IRRIPROS = "378012603"


# --- Sirene -----------------------------------------------------------------------------------


def sirene_app(shared_data, state: dict) -> web.Application:
    """Sirene paths: /siren/{siren}, /siret/{siret}, /siret?q=siren:... paged by debut/nombre."""
    unit_body = json.dumps(real_json(shared_data, "fr_insee/siren/ganymede.json")).encode()
    siret_body = json.dumps(real_json(shared_data, "fr_insee/siret/ganymede.json")).encode()
    sample = state.get("search_sample", "la-poste")
    pool = real_json(shared_data, f"fr_insee/siret-by-siren/{sample}.json")["etablissements"]
    search_siren = state.get("search_siren", LA_POSTE)
    state.update(unit_body=unit_body, requests=[], in_flight=0, max_in_flight=0)

    def authorised(request) -> bool:
        return request.headers.get(SireneClient.API_KEY_HEADER) == API_KEY

    async def siren(request):
        state["requests"].append(request.path_qs)
        state["in_flight"] += 1
        state["max_in_flight"] = max(state["max_in_flight"], state["in_flight"])
        try:
            await asyncio.sleep(state.get("delay", 0))
            if not authorised(request):
                return json_response({"fault": {"message": "Invalid API key"}}, status=401)
            if request.match_info["siren"] != GANYMEDE:
                return json_response(
                    {"header": {"statut": 404, "message": "Aucun élément trouvé"}}, status=404
                )
            return web.Response(body=unit_body, content_type="application/json")
        finally:
            state["in_flight"] -= 1

    async def siret(request):
        state["requests"].append(request.path_qs)
        return web.Response(body=siret_body, content_type="application/json")

    async def search(request):
        state["requests"].append(request.path_qs)
        assert authorised(request)
        assert request.query["q"] == f"siren:{search_siren}"
        nombre = int(request.query["nombre"])
        if "curseur" in request.query:
            # Cursor mode: the cursor is the offset, written as an opaque token.
            cursor = request.query["curseur"]
            debut = 0 if cursor == "*" else int(cursor.removeprefix("AoE"))
        else:
            debut = int(request.query["debut"])
        page = pool[debut : debut + nombre]
        header = {"statut": 200, "message": "OK", "total": len(pool), "debut": debut, "nombre": len(page)}
        if "curseur" in request.query:
            # INSEE signals the last page by repeating the cursor it was asked with.
            last = debut + len(page) >= len(pool)
            following = request.query["curseur"] if last else f"AoE{debut + len(page)}"
            header.update(curseur=request.query["curseur"], curseurSuivant=following)
            if state.get("hide_total"):
                del header["total"]
        return json_response({"header": header, "etablissements": page})

    app = web.Application()
    app.router.add_get("/api-sirene/3.11/siren/{siren}", siren)
    app.router.add_get("/api-sirene/3.11/siret/{siret}", siret)
    app.router.add_get("/api-sirene/3.11/siret", search)
    return app


async def with_sirene(shared_data, state, work, **client_kwargs):
    """Run `work(client)` against the Sirene test server."""
    async with serve(sirene_app(shared_data, state)) as base, aiohttp.ClientSession() as session:
        kwargs = {"api_key": API_KEY, **client_kwargs}
        client = SireneClient(session, base + "/api-sirene/3.11/", **kwargs)
        return await work(client)


def test_sirene_legal_unit_keeps_raw_bytes_and_status(shared_data):
    state: dict = {}
    fetched = asyncio.run(with_sirene(shared_data, state, lambda c: c.legal_unit(GANYMEDE)))
    assert fetched.model.status.value == "ceased"
    assert fetched.http_status == 200
    assert fetched.raw == state["unit_body"]
    assert fetched.content_hash == hashlib.sha256(state["unit_body"]).hexdigest()
    assert fetched.url.endswith(f"/api-sirene/3.11/siren/{GANYMEDE}")
    assert fetched.from_cache is False and fetched.cached().from_cache is True


def test_sirene_establishments_follow_pages(shared_data):
    state: dict = {}
    fetched = asyncio.run(with_sirene(shared_data, state, lambda c: c.establishments(LA_POSTE), page_size=7))
    assert [r.split("debut=")[1] for r in state["requests"]] == ["0", "7", "14"]
    assert len(fetched.model) == 20 and fetched.total == 20
    assert len(fetched.pages) == 3
    assert len({p.content_hash for p in fetched.pages}) == 3
    expected = [
        e["siret"] for e in real_json(shared_data, "fr_insee/siret-by-siren/la-poste.json")["etablissements"]
    ]
    assert [e.siret for e in fetched.model] == expected


def test_sirene_cursor_paging_follows_next_cursor(shared_data):
    state: dict = {}
    fetched = asyncio.run(
        with_sirene(shared_data, state, lambda c: c.establishments(LA_POSTE, use_cursor=True), page_size=8)
    )
    cursors = [r.split("curseur=")[1].split("&")[0] for r in state["requests"]]
    assert cursors == ["*", "AoE8", "AoE16"]
    assert all("debut=" not in r for r in state["requests"])
    assert len(fetched.model) == 20 and len({e.siret for e in fetched.model}) == 20
    # Without a total, the repeated cursor alone ends the paging.
    hidden: dict = {"hide_total": True}
    fetched = asyncio.run(
        with_sirene(shared_data, hidden, lambda c: c.establishments(LA_POSTE, use_cursor=True), page_size=8)
    )
    assert len(hidden["requests"]) == 3 and len(fetched.model) == 20 and fetched.total is None


def test_sirene_paging_stops_at_max_results(shared_data):
    state: dict = {}
    fetched = asyncio.run(
        with_sirene(shared_data, state, lambda c: c.establishments(LA_POSTE, max_results=10), page_size=7)
    )
    assert len(fetched.model) == 10
    assert ["nombre=7" in r for r in state["requests"]] == [True, False]
    assert "nombre=3" in state["requests"][1]


def test_sirene_company_merges_head_office_address(shared_data):
    state: dict = {"search_sample": "ganymede", "search_siren": GANYMEDE}
    company, raws = asyncio.run(with_sirene(shared_data, state, lambda c: c.company(GANYMEDE)))
    assert company.head_office.address.postal_code == "75008"
    assert company.head_office.status.value == "ceased"
    assert len(company.establishments) == 1
    assert [r.http_status for r in raws] == [200, 200]


def test_sirene_unknown_siren_is_not_found_and_invalid_siren_makes_no_call(shared_data):
    state: dict = {}
    with pytest.raises(RecordNotFound) as info:
        asyncio.run(with_sirene(shared_data, state, lambda c: c.legal_unit("552032534")))
    assert info.value.http_status == 404 and not info.value.counts_as_failure
    assert state["requests"] == ["/api-sirene/3.11/siren/552032534"]
    refused: dict = {}
    with pytest.raises(UserError):
        asyncio.run(with_sirene(shared_data, refused, lambda c: c.legal_unit("880878146")))
    assert refused["requests"] == []


def test_sirene_non_diffusible_unit_is_an_answer_not_a_credentials_problem():
    async def run(body: dict):
        async def siren(request):
            return json_response(body, status=403)

        app = web.Application()
        app.router.add_get("/siren/{siren}", siren)
        async with serve(app) as base, aiohttp.ClientSession() as session:
            await SireneClient(session, base, api_key=API_KEY).legal_unit(GANYMEDE)

    with pytest.raises(RecordNotDiffusible) as info:
        asyncio.run(run({"header": {"statut": 403, "message": "Unité légale non diffusable"}}))
    assert isinstance(info.value, RecordNotFound) and not info.value.counts_as_failure
    # The API gateway's own 403 (no INSEE envelope) is a subscription problem.
    with pytest.raises(SourceUnusable):
        asyncio.run(run({"fault": {"code": 900908, "message": "Resource forbidden"}}))


def test_sirene_wrong_api_key_is_unusable(shared_data):
    with pytest.raises(SourceUnusable) as info:
        asyncio.run(with_sirene(shared_data, {}, lambda c: c.legal_unit(GANYMEDE), api_key="wrong"))
    assert info.value.http_status == 401


def test_guard_receives_one_attempt_factory_per_request(shared_data):
    state: dict = {}
    guard = RecordingGuard(attempts=2)
    fetched = asyncio.run(with_sirene(shared_data, state, lambda c: c.legal_unit(GANYMEDE), guard=guard))
    assert guard.calls == [("legal_unit", f"siren:{GANYMEDE}")]
    # A guard that retries invokes the factory again: each invocation is exactly one HTTP request.
    assert len(state["requests"]) == 2
    assert fetched.model.siren == GANYMEDE


def test_concurrency_is_bounded_by_the_client_semaphore(shared_data):
    state: dict = {"delay": 0.05}

    async def work(client):
        return await asyncio.gather(*(client.legal_unit(GANYMEDE) for _ in range(6)))

    results = asyncio.run(with_sirene(shared_data, state, work, max_concurrency=2))
    assert len(results) == 6
    assert state["max_in_flight"] == 2


# --- RNE --------------------------------------------------------------------------------------


def rne_app(shared_data, state: dict) -> web.Application:
    """RNE paths: SSO login issuing numbered tokens, company records behind the bearer token."""
    records = {
        BKMD: json.dumps(real_json(shared_data, "fr_inpi/neolegal/company.json")).encode(),
        IRRIPROS: json.dumps(real_json(shared_data, "fr_inpi/neolegal/company-IRRIPROS.json")).encode(),
    }
    state.update(logins=0, company_requests=0, valid=set(), records=records)

    async def login(request):
        body = await request.json()
        if body != {"username": "analyst@example.org", "password": "secret"}:
            return json_response({"message": "Bad credentials"}, status=401)
        state["logins"] += 1
        token = f"token-{state['logins']}"
        state["valid"].add(token)
        return json_response({"token": token, "user": {"id": 1}})

    async def company(request):
        state["company_requests"] += 1
        await asyncio.sleep(state.get("delay", 0))
        forced = state.get("force_status")
        if forced:
            return json_response({"message": "forced"}, status=forced, headers=state.get("force_headers"))
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if token not in state["valid"]:
            return json_response(
                {"code": 401, "message": "Expired JWT Token"}, status=state.get("expiry_status", 401)
            )
        body = records.get(request.match_info["siren"])
        if body is None:
            return json_response({"message": "Not found"}, status=404)
        return web.Response(body=body, content_type="application/json")

    async def companies(request):
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if token not in state["valid"]:
            return json_response({"code": 401, "message": "Expired JWT Token"}, status=401)
        state.setdefault("searches", []).append(request.query.getall("siren[]"))
        assert int(request.query["pageSize"]) <= 100
        found = [records[s] for s in request.query.getall("siren[]") if s in records]
        return web.Response(body=b"[" + b",".join(found) + b"]", content_type="application/json")

    app = web.Application()
    app.router.add_post("/api/sso/login", login)
    app.router.add_get("/api/companies/{siren}", company)
    app.router.add_get("/api/companies", companies)
    return app


async def with_rne(shared_data, state, work, password="secret", **client_kwargs):
    """Run `work(client)` against the RNE test server."""
    async with serve(rne_app(shared_data, state)) as base, aiohttp.ClientSession() as session:
        client = RneClient(session, base, username="analyst@example.org", password=password, **client_kwargs)
        state["client"] = client
        return await work(client)


def test_rne_logs_in_once_and_reuses_the_token(shared_data):
    state: dict = {}

    async def work(client):
        first = await client.company(BKMD)
        officers = await client.officers(BKMD)
        return first, officers

    company, officers = asyncio.run(with_rne(shared_data, state, work))
    assert state["logins"] == 1 and state["company_requests"] == 2
    assert company.model.legal_name == "BKMD CAPITAL"
    assert company.raw == state["records"][BKMD]
    assert [o.role_label for o in officers.model] == ["Président de SAS", "Directeur Général"]


@pytest.mark.parametrize("expiry_status", [401, 403])
def test_rne_refreshes_an_expired_token_once(shared_data, expiry_status):
    state: dict = {"expiry_status": expiry_status}

    async def work(client):
        await client.company(BKMD)
        state["valid"].clear()
        return await client.company(BKMD)

    fetched = asyncio.run(with_rne(shared_data, state, work))
    assert fetched.model.siren == BKMD
    assert state["logins"] == 2
    assert state["company_requests"] == 3
    assert state["client"].logins == 2


def test_rne_gives_up_after_one_refresh(shared_data):
    state: dict = {"force_status": 401}
    with pytest.raises(SourceUnusable) as info:
        asyncio.run(with_rne(shared_data, state, lambda c: c.company(BKMD)))
    assert info.value.http_status == 401
    assert state["logins"] == 2 and state["company_requests"] == 2


def test_rne_bad_credentials_fail_at_login(shared_data):
    state: dict = {}
    with pytest.raises(SourceUnusable) as info:
        asyncio.run(with_rne(shared_data, state, lambda c: c.company(BKMD), password="wrong"))
    assert info.value.operation == "login"
    assert state["company_requests"] == 0


def test_rne_concurrent_expiry_triggers_a_single_login(shared_data):
    state: dict = {"delay": 0.02}

    async def work(client):
        await client.company(BKMD)
        state["valid"].clear()
        return await asyncio.gather(*(client.company(BKMD) for _ in range(5)))

    results = asyncio.run(with_rne(shared_data, state, work))
    assert len(results) == 5
    assert state["logins"] == 2


def test_rne_quota_is_not_a_token_problem(shared_data):
    state: dict = {"force_status": 429, "force_headers": {"Retry-After": "3600"}}
    with pytest.raises(QuotaExceeded) as info:
        asyncio.run(with_rne(shared_data, state, lambda c: c.company(BKMD)))
    assert info.value.reset_at is not None
    assert state["logins"] == 1 and state["company_requests"] == 1


def test_rne_slow_answer_times_out(shared_data):
    state: dict = {"delay": 1.0}
    with pytest.raises(SourceTimeout):
        asyncio.run(with_rne(shared_data, state, lambda c: c.company(BKMD), timeout_s=0.1))
    assert state["company_requests"] == 1


def test_rne_records_are_fetched_in_batches_of_one_hundred(shared_data):
    state: dict = {}
    # Luhn-valid SIRENs the server does not know: they are simply absent from the answer.
    filler = [s for s in (f"{n:09d}" for n in range(100_000_000, 100_002_000)) if stdnum_siren.is_valid(s)][
        :150
    ]
    fetched = asyncio.run(with_rne(shared_data, state, lambda c: c.records([BKMD, *filler, IRRIPROS, BKMD])))
    assert [len(batch) for batch in state["searches"]] == [100, 52]
    assert [r.company.siren for r in fetched.model] == [BKMD, IRRIPROS]
    assert len(fetched.pages) == 2 and state["logins"] == 1


def test_rne_unknown_company_is_not_found(shared_data):
    with pytest.raises(RecordNotFound):
        asyncio.run(with_rne(shared_data, {}, lambda c: c.company("552032534")))


def test_beneficial_owners_go_through_the_rbe_guard(shared_data):
    state: dict = {}
    guard, rbe_guard = RecordingGuard(), RecordingGuard()
    fetched = asyncio.run(
        with_rne(shared_data, state, lambda c: c.beneficial_owners(BKMD), guard=guard, rbe_guard=rbe_guard)
    )
    assert rbe_guard.calls == [("beneficial_owners", f"companies/{BKMD}")]
    assert guard.calls == []
    assert fetched.model.availability is BeneficialOwnersAvailability.DECLARED
    assert [o.ownership_pct for o in fetched.model.owners] == [51.0, 45.0]
    assert fetched.raw == state["records"][BKMD]


def test_beneficial_owner_answers_depend_on_the_account_entitlement(shared_data):
    plain = asyncio.run(with_rne(shared_data, {}, lambda c: c.beneficial_owners(IRRIPROS)))
    entitled = asyncio.run(
        with_rne(shared_data, {}, lambda c: c.beneficial_owners(IRRIPROS), rbe_entitled=True)
    )
    assert plain.model.availability is BeneficialOwnersAvailability.NOT_AVAILABLE
    assert entitled.model.availability is BeneficialOwnersAvailability.NONE_DECLARED


# --- BODACC -----------------------------------------------------------------------------------

_LIKE = re.compile(r'^registre like "(\d{9})"$')
_SINCE = re.compile(r"^dateparution >= date'(\d{4}-\d{2}-\d{2})'$")


def bodacc_app(shared_data, state: dict) -> web.Application:
    """The explore v2.1 records route over the real notices, re-shaped to v2.1 (flat, registre array)."""
    notices = []
    for record in real_json(shared_data, "fr_bodacc/bodacc.json")["records"]:
        fields = dict(record["fields"])
        fields["registre"] = [s.strip() for s in fields["registre"].split(",")]
        notices.append(fields)
    state.update(requests=[])

    async def records(request):
        query = request.query
        state["requests"].append(dict(query))
        if match := _LIKE.match(query["where"]):
            rows = [n for n in notices if match.group(1) in n["registre"]]
        elif match := _SINCE.match(query["where"]):
            rows = [n for n in notices if n["dateparution"] >= match.group(1)]
        else:
            return json_response({"error_code": "ODSQLError"}, status=400)
        rows.sort(key=lambda n: n["dateparution"], reverse=query["order_by"].endswith("desc"))
        offset, limit = int(query["offset"]), int(query["limit"])
        return json_response({"total_count": len(rows), "results": rows[offset : offset + limit]})

    app = web.Application()
    app.router.add_get("/api/explore/v2.1/catalog/datasets/annonces-commerciales/records", records)
    return app


async def with_bodacc(shared_data, state, work, **client_kwargs):
    """Run `work(client)` against the BODACC test server."""
    async with serve(bodacc_app(shared_data, state)) as base, aiohttp.ClientSession() as session:
        return await work(BodaccClient(session, base, **client_kwargs))


def test_bodacc_notices_for_siren_follow_pages(shared_data):
    state: dict = {}
    fetched = asyncio.run(
        with_bodacc(shared_data, state, lambda c: c.notices_for_siren(GANYMEDE), page_size=2)
    )
    assert [(r["offset"], r["limit"]) for r in state["requests"]] == [("0", "2"), ("2", "2")]
    assert state["requests"][0]["where"] == f'registre like "{GANYMEDE}"'
    assert [n.id for n in fetched.model] == ["B20220227446", "C202200902528", "C202101554392"]
    assert fetched.model[0].kind is BodaccKind.STRIKING_OFF
    assert fetched.model[0].decoded["listepersonnes"]["personne"]["denomination"] == "Ganymède"
    assert fetched.total == 3 and len(fetched.pages) == 2


def test_bodacc_notices_since_a_date_oldest_first(shared_data):
    state: dict = {}
    guard = RecordingGuard()
    fetched = asyncio.run(
        with_bodacc(shared_data, state, lambda c: c.notices_since(date(2022, 1, 1)), guard=guard)
    )
    assert [n.publication_date for n in fetched.model] == [date(2022, 5, 8), date(2022, 11, 23)]
    assert [op for op, _ in guard.calls] == ["notices_since"]
    assert state["requests"][0]["limit"] == "100"


def test_bodacc_page_size_is_capped_by_the_source_limit(shared_data):
    async def run():
        async with aiohttp.ClientSession() as session:
            return BodaccClient(session, "http://127.0.0.1:9", page_size=500).page_size

    assert asyncio.run(run()) == 100


def test_bodacc_family_filter_refuses_injection(shared_data):
    with pytest.raises(UserError):
        asyncio.run(
            with_bodacc(shared_data, {}, lambda c: c.notices_since(date(2022, 1, 1), family='x" or 1=1'))
        )


# --- recherche-entreprises --------------------------------------------------------------------


def recherche_app(shared_data, state: dict) -> web.Application:
    """/search over the ten real hits of the recorded "Ganymede" text search."""
    pool = real_json(shared_data, "fr_recherche_entreprises/2026/search-Ganymede.json")["results"]
    state.update(requests=[])

    async def search(request):
        state["requests"].append(dict(request.query))
        page, per_page = int(request.query["page"]), int(request.query["per_page"])
        rows = pool[(page - 1) * per_page : page * per_page]
        total_pages = -(-len(pool) // per_page)
        return json_response(
            {
                "results": rows,
                "total_results": len(pool),
                "page": page,
                "per_page": per_page,
                "total_pages": total_pages,
            }
        )

    app = web.Application()
    app.router.add_get("/search", search)
    return app


async def with_recherche(shared_data, state, work, **client_kwargs):
    """Run `work(client)` against the search test server."""
    async with serve(recherche_app(shared_data, state)) as base, aiohttp.ClientSession() as session:
        return await work(RechercheEntreprisesClient(session, base, **client_kwargs))


def test_search_follows_pages_up_to_max_results(shared_data):
    state: dict = {}
    guard = RecordingGuard()
    fetched = asyncio.run(
        with_recherche(shared_data, state, lambda c: c.search("Ganymede", max_results=6), guard=guard)
    )
    assert [(r["page"], r["per_page"]) for r in state["requests"]] == [("1", "6")]
    assert len(fetched.model) == 6
    paged = asyncio.run(with_recherche(shared_data, {}, lambda c: c.search("Ganymede", max_results=100)))
    assert len(paged.model) == 10 and paged.total == 10
    assert paged.model[0].company.siren == "901723403"
    # The search text can be a person's name: it must not appear in the key seen by cache and ledger.
    assert all("Ganymede" not in key for _, key in guard.calls)


def test_search_pages_when_results_exceed_one_page(shared_data):
    state: dict = {}
    fetched = asyncio.run(
        with_recherche(shared_data, state, lambda c: c.search("Ganymede", max_results=60, per_page=4))
    )
    assert [(r["page"], r["per_page"]) for r in state["requests"]] == [("1", "4"), ("2", "4"), ("3", "4")]
    assert len(fetched.model) == 10 and len(fetched.pages) == 3
    assert len({h.company.siren for h in fetched.model}) == 10


def test_search_refuses_too_short_text(shared_data):
    with pytest.raises(UserError):
        asyncio.run(with_recherche(shared_data, {}, lambda c: c.search("ab")))


# --- with the resilience layer ----------------------------------------------------------------


def test_guard_decoder_rebuilds_the_same_answer_from_raw_bytes(shared_data):
    guard = RecordingGuard()
    fetched = asyncio.run(with_rne(shared_data, {}, lambda c: c.record(BKMD), guard=guard))
    (decode,) = guard.decoders
    rebuilt = decode(fetched.raw, 200)
    assert rebuilt.model == fetched.model
    assert rebuilt.content_hash == fetched.content_hash


def test_real_source_guard_serves_the_second_call_from_cache(shared_data):
    from kyc_core.resilience.backend import MemoryBackend
    from kyc_core.resilience.config import SourceConfig
    from kyc_core.resilience.guard import SourceGuard

    guard = SourceGuard(
        "sirene", backend=MemoryBackend(), config=SourceConfig(rate_limit=None, retry_attempts=1)
    )
    state: dict = {}

    async def work(client):
        return await client.legal_unit(GANYMEDE), await client.legal_unit(GANYMEDE)

    live, cached = asyncio.run(with_sirene(shared_data, state, work, guard=guard))
    assert len(state["requests"]) == 1
    assert live.from_cache is False and cached.from_cache is True
    assert cached.model == live.model and cached.raw == live.raw


def test_real_source_guard_never_caches_a_malformed_answer(shared_data):
    from kyc_core.errors import MalformedResponse
    from kyc_core.resilience.backend import MemoryBackend
    from kyc_core.resilience.config import SourceConfig
    from kyc_core.resilience.guard import SourceGuard

    guard = SourceGuard(
        "sirene", backend=MemoryBackend(), config=SourceConfig(rate_limit=None, retry_attempts=1)
    )
    state: dict = {}

    async def run():
        app = web.Application()
        calls = []

        async def siren(request):
            calls.append(request.path)
            if len(calls) == 1:
                return web.Response(text="<html>maintenance</html>", content_type="text/html")
            return web.Response(body=state["body"], content_type="application/json")

        state["body"] = json.dumps(real_json(shared_data, "fr_insee/siren/ganymede.json")).encode()
        app.router.add_get("/siren/{siren}", siren)
        async with serve(app) as base, aiohttp.ClientSession() as session:
            client = SireneClient(session, base, guard=guard)
            with pytest.raises(MalformedResponse):
                await client.legal_unit(GANYMEDE)
            second = await client.legal_unit(GANYMEDE)
            return calls, second

    calls, second = asyncio.run(run())
    assert len(calls) == 2
    assert second.from_cache is False and second.model.siren == GANYMEDE
