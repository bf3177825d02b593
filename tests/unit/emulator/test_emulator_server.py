"""The emulator behaves like the real services: auth, paging, quotas, 404s, and one story across sources."""

from __future__ import annotations

import json
import time
import urllib.request

import pytest
from emulator_http import SIRENE_KEY, call, get, rne_token
from kyc_dev.emulator import formats, lists
from kyc_dev.emulator.server import BODACC_RECORDS, EmulatorConfig, start_emulator_in_thread


def _records(emulator, **params):
    return get(emulator.root + BODACC_RECORDS, **params)


# -- Sirene ------------------------------------------------------------------------------------------


def test_sirene_requires_the_api_key(emulator, dataset):
    url = f"{emulator.urls['sirene']}/siren/{dataset.siren(1)}"
    assert get(url).status == 401
    assert get(url, {"X-INSEE-Api-Key-Integration": "wrong"}).status == 401
    reply = get(url, SIRENE_KEY)
    assert reply.status == 200
    assert reply.json()["uniteLegale"]["siren"] == dataset.siren(1)


def test_sirene_unknown_siren_is_a_real_looking_404(emulator, dataset):
    outside = type(dataset)(dataset.size + 10, dataset.seed).siren(dataset.size + 5)
    reply = get(f"{emulator.urls['sirene']}/siren/{outside}", SIRENE_KEY)
    assert reply.status == 404
    assert reply.json() == {"header": {"statut": 404, "message": f"Aucun élément trouvé pour le siren {outside}"}}
    assert get(f"{emulator.urls['sirene']}/siren/12AB", SIRENE_KEY).status == 400


def test_sirene_ceased_company_has_state_c_in_the_open_period(emulator, dataset):
    company = dataset.company_at(13)
    body = get(f"{emulator.urls['sirene']}/siren/{company.siren}", SIRENE_KEY).json()
    current = [p for p in body["uniteLegale"]["periodesUniteLegale"] if p["dateFin"] is None]
    assert len(current) == 1
    assert current[0]["etatAdministratifUniteLegale"] == "C"
    assert current[0]["dateDebut"] == company.ceased.isoformat()


def test_sirene_siret_lookup_and_paging(emulator, dataset):
    company = dataset.company_at(30)
    base = emulator.urls["sirene"]
    seen = []
    debut = 0
    while True:
        body = get(f"{base}/siret", SIRENE_KEY, q=f"siren:{company.siren}", nombre=20, debut=debut).json()
        assert body["header"]["total"] == 45
        assert body["header"]["debut"] == debut
        seen += [e["siret"] for e in body["etablissements"]]
        debut += body["header"]["nombre"]
        if debut >= body["header"]["total"]:
            break
    assert seen == [e.siret for e in company.establishments]
    assert get(f"{base}/siret", SIRENE_KEY, q=f"siren:{company.siren}", debut=45).status == 404
    single = get(f"{base}/siret/{seen[3]}", SIRENE_KEY).json()
    assert single["etablissement"]["siret"] == seen[3]
    assert single["etablissement"]["etablissementSiege"] is False


def test_sirene_cursor_paging_ends_when_the_cursor_stops_moving(emulator, dataset):
    company = dataset.company_at(30)
    cursor, seen = "*", []
    for _ in range(10):
        header_body = get(f"{emulator.urls['sirene']}/siret", SIRENE_KEY, q=f"siren:{company.siren}",
                          nombre=20, curseur=cursor).json()
        seen += [e["siret"] for e in header_body["etablissements"]]
        if header_body["header"]["curseurSuivant"] == header_body["header"]["curseur"]:
            break
        cursor = header_body["header"]["curseurSuivant"]
    assert len(seen) == 45 and len(set(seen)) == 45


def test_sirene_quota_answers_429_with_retry_after():
    config = EmulatorConfig(companies=50, seed=1, quotas={"sirene": (3, 60.0)})
    with start_emulator_in_thread(config=config) as emu:
        url = f"{emu.urls['sirene']}/siren/{emu.state.dataset.siren(2)}"
        statuses = [get(url, SIRENE_KEY).status for _ in range(5)]
        assert statuses == [200, 200, 200, 429, 429]
        reply = get(url, SIRENE_KEY)
        assert 1 <= int(reply.headers["retry-after"]) <= 60
        assert reply.json()["header"]["statut"] == 429
        assert emu.state.stats.snapshot()["sirene"]["by_status"] == {"200": 3, "429": 3}


def test_quota_window_reopens():
    config = EmulatorConfig(companies=50, seed=1, quotas={"recherche": (2, 0.3)})
    with start_emulator_in_thread(config=config) as emu:
        url = emu.urls["recherche"] + "/search"
        siren = emu.state.dataset.siren(4)
        assert [get(url, q=siren).status for _ in range(3)] == [200, 200, 429]
        time.sleep(0.35)
        assert get(url, q=siren).status == 200


def test_quota_switched_at_runtime_on_an_open_source(emulator, dataset):
    admin = emulator.urls["admin"] + "/quotas"
    url = emulator.root + BODACC_RECORDS
    assert call("POST", admin, payload={"source": "bodacc", "limit": 2, "window_s": 60}).json()["bodacc"] == [2, 60.0]
    try:
        replies = [get(url, where=f'registre like "{dataset.siren(1)}"') for _ in range(3)]
        assert [r.status for r in replies] == [200, 200, 429]
        assert replies[2].json()["errorcode"] == 10002
        assert int(replies[2].headers["retry-after"]) >= 1
    finally:
        assert call("POST", admin, payload={"source": "bodacc", "limit": None}).json()["bodacc"] is None
    assert get(url, where=f'registre like "{dataset.siren(1)}"').status == 200
    assert call("POST", admin, payload={"source": "bodacc", "limit": -3}).status == 400


# -- RNE ---------------------------------------------------------------------------------------------


def test_rne_login_and_bearer_token(emulator, dataset):
    base = emulator.urls["rne"]
    url = f"{base}/api/companies/{dataset.siren(4)}"
    missing = get(url)
    assert missing.status == 401 and missing.json()["message"] == "JWT Token not found"
    assert get(url, {"Authorization": "Bearer nope"}).status == 401
    bad = call("POST", base + "/api/sso/login", payload={"username": "kyc@emulator.test", "password": "x"})
    assert bad.status == 401
    token = rne_token(base)
    body = get(url, {"Authorization": f"Bearer {token}"}).json()
    assert body["siren"] == dataset.siren(4)
    assert body["formality"]["content"]["personneMorale"]["identite"]["entreprise"]["denomination"] == \
        dataset.company_at(4).name


def test_rne_token_expires():
    config = EmulatorConfig(companies=20, seed=1, quotas={}, rne_token_ttl_s=0.3)
    with start_emulator_in_thread(config=config) as emu:
        token = rne_token(emu.urls["rne"])
        url = f"{emu.urls['rne']}/api/companies/{emu.state.dataset.siren(4)}"
        assert get(url, {"Authorization": f"Bearer {token}"}).status == 200
        time.sleep(0.35)
        expired = get(url, {"Authorization": f"Bearer {token}"})
        assert expired.status == 401
        assert expired.json() == {"code": 401, "message": "Expired JWT Token"}
        assert get(url, {"Authorization": f"Bearer {rne_token(emu.urls['rne'])}"}).status == 200


def test_admin_can_expire_every_token(emulator, dataset):
    token = rne_token(emulator.urls["rne"])
    url = f"{emulator.urls['rne']}/api/companies/{dataset.siren(4)}"
    assert call("POST", emulator.urls["admin"] + "/rne/expire-tokens").json()["expired"] >= 1
    assert get(url, {"Authorization": f"Bearer {token}"}).status == 401


def _pm(body: dict) -> dict:
    return body["formality"]["content"]["personneMorale"]


def test_beneficial_owners_not_available_differs_from_none_declared(emulator, dataset):
    auth = {"Authorization": f"Bearer {rne_token(emulator.urls['rne'])}"}
    base = emulator.urls["rne"] + "/api/companies/"
    declared = get(base + dataset.siren(4), auth).json()
    not_available = get(base + dataset.siren(5), auth).json()
    none_declared = get(base + dataset.siren(7), auth).json()
    assert len(_pm(declared)["beneficiairesEffectifs"]) == len(dataset.company_at(4).beneficial_owners) > 0
    assert "beneficiairesEffectifs" not in _pm(not_available)
    assert "nombreBeneficiairesEffectifsActifs" not in not_available
    assert _pm(none_declared)["beneficiairesEffectifs"] == []
    assert none_declared["nombreBeneficiairesEffectifsActifs"] == 0
    public = {"Authorization": "Bearer " + rne_token(emulator.urls["rne"], "public@emulator.test", "public-password")}
    assert "beneficiairesEffectifs" not in _pm(get(base + dataset.siren(4), public).json())


def test_rne_chain_member_names_its_parent_and_indirect_owners(emulator, dataset):
    auth = {"Authorization": f"Bearer {rne_token(emulator.urls['rne'])}"}
    body = get(emulator.urls["rne"] + "/api/companies/" + dataset.siren(0), auth).json()
    legal = [p for p in _pm(body)["composition"]["pouvoirs"] if p["typeDePersonne"] == "ENTREPRISE"]
    assert [p["entreprise"]["siren"] for p in legal] == [dataset.siren(1)]
    owners = _pm(body)["beneficiairesEffectifs"]
    assert owners and all(o["modalite"]["detentionPartIndirecte"] for o in owners)
    top_names = {b.person.last_name for b in dataset.company_at(3).beneficial_owners}
    assert {o["beneficiaire"]["descriptionPersonne"]["nom"] for o in owners} == top_names


def test_rne_search_by_several_sirens_returns_an_array(emulator, dataset):
    auth = {"Authorization": f"Bearer {rne_token(emulator.urls['rne'])}"}
    reply = get(emulator.urls["rne"] + "/api/companies", auth, **{"siren[]": [dataset.siren(1), dataset.siren(2)]})
    assert [r["siren"] for r in reply.json()] == [dataset.siren(1), dataset.siren(2)]
    assert get(emulator.urls["rne"] + "/api/companies", auth, pageSize=500).status == 400


# -- BODACC ------------------------------------------------------------------------------------------


def test_bodacc_collective_proceeding_notice_with_json_text_fields(emulator, dataset):
    company = dataset.company_at(17)
    body = _records(emulator, where=f'registre like "{company.siren}"', order_by="dateparution desc").json()
    assert body["total_count"] == len(body["results"]) >= 2
    dates = [r["dateparution"] for r in body["results"]]
    assert dates == sorted(dates, reverse=True)
    collective = [r for r in body["results"] if r["familleavis"] == "collective"]
    assert len(collective) == 1
    notice = collective[0]
    assert notice["familleavis_lib"] == "Procédures collectives"
    assert isinstance(notice["jugement"], str)
    judgment = json.loads(notice["jugement"])
    assert "redressement judiciaire" in judgment["nature"]
    assert judgment["date"] == company.proceeding.opened.isoformat()
    assert notice["registre"] == [company.siren, f"{company.siren[:3]} {company.siren[3:6]} {company.siren[6:]}"]
    person = json.loads(notice["listepersonnes"])["personne"]
    assert person["denomination"] == company.name


def test_bodacc_struck_off_company_has_a_radiation_notice(emulator, dataset):
    company = dataset.company_at(13)
    body = _records(emulator, where=f'registre = "{company.siren}" and familleavis = "radiation"').json()
    assert body["total_count"] == 1
    assert json.loads(body["results"][0]["radiationaurcs"])["dateCessationActivitePM"] == company.ceased.isoformat()
    assert _records(emulator, where=f'registre = "{dataset.siren(12)}" and familleavis = "radiation"').json()[
        "total_count"] == 0


def test_bodacc_rectified_notice_points_at_the_original(emulator, dataset):
    company = dataset.company_at(19)
    results = _records(emulator, where=f'registre like "{company.siren}" and familleavis = "modification"').json()[
        "results"]
    original, rectification = results
    assert rectification["typeavis"] == "rectificatif"
    assert json.loads(rectification["parutionavisprecedent"])["numeroAnnonce"] == original["numeroannonce"]


def test_bodacc_notices_since_a_date_with_paging(emulator, dataset):
    since = "2025-06-01"
    everything = [n for i in range(dataset.size)
                  for n in formats.bodacc_notices(dataset.company_at(i), dataset.as_of) if n["dateparution"] >= since]
    seen, offset = [], 0
    while True:
        body = _records(emulator, where=f"dateparution >= date'{since}'", limit=100, offset=offset,
                        order_by="dateparution asc").json()
        assert body["total_count"] == len(everything)
        seen += [r["id"] for r in body["results"]]
        offset += 100
        if offset >= body["total_count"]:
            break
    assert sorted(seen) == sorted(n["id"] for n in everything)
    assert len(seen) == len(set(seen)) > 100


def test_bodacc_rejects_what_the_real_api_rejects(emulator, dataset):
    assert _records(emulator, limit=101).status == 400
    assert _records(emulator, limit=100, offset=9950).status == 400
    bad = _records(emulator, where="registre ilike 'x' or 1=1")
    assert bad.status == 400 and bad.json()["error_code"] == "ODSQLError"


def test_bodacc_legacy_v1_search_matches_the_sample_envelope(emulator, dataset):
    company = dataset.company_at(13)
    body = get(emulator.urls["bodacc"] + "/api/records/1.0/search/", dataset="annonces-commerciales",
               q=f"registre:{company.siren}", rows=10, start=0, sort="dateparution").json()
    assert set(body) == {"nhits", "parameters", "records", "facet_groups"}
    dates = [r["fields"]["dateparution"] for r in body["records"]]
    assert dates == sorted(dates, reverse=True)
    assert body["records"][0]["fields"]["registre"] == f"{company.siren},{company.siren[:3]} {company.siren[3:6]} {company.siren[6:]}"


# -- recherche-entreprises ---------------------------------------------------------------------------


def test_recherche_by_siren_and_by_name(emulator, dataset):
    company = dataset.company_at(0)
    body = get(emulator.urls["recherche"] + "/search", q=company.siren).json()
    assert body["total_results"] == 1
    result = body["results"][0]
    assert result["nom_complet"] == company.name
    assert {d.get("siren") for d in result["dirigeants"] if d["type_dirigeant"] == "personne morale"} == {
        dataset.siren(1)}
    by_name = get(emulator.urls["recherche"] + "/search", q=dataset.company_at(3).name.lower(), per_page=25).json()
    assert dataset.siren(3) in [r["siren"] for r in by_name["results"]]
    assert get(emulator.urls["recherche"] + "/search", q="x", per_page=26).status == 400
    assert get(emulator.urls["recherche"] + "/search").json() == {
        "erreur": "Veuillez indiquer au moins un paramètre de recherche."}


# -- one company, every source ----------------------------------------------------------------------


@pytest.mark.parametrize("index", [0, 4, 13, 17, 30, 44])
def test_same_company_same_story_across_sources(emulator, dataset, index):
    company = dataset.company_at(index)
    siren = company.siren
    auth = {"Authorization": f"Bearer {rne_token(emulator.urls['rne'])}"}
    sirene = get(f"{emulator.urls['sirene']}/siren/{siren}", SIRENE_KEY).json()["uniteLegale"]
    rne = get(f"{emulator.urls['rne']}/api/companies/{siren}", auth).json()
    search = get(emulator.urls["recherche"] + "/search", q=siren).json()["results"][0]
    notices = _records(emulator, where=f'registre like "{siren}"').json()["results"]
    names = {sirene["periodesUniteLegale"][0]["denominationUniteLegale"],
             _pm(rne)["identite"]["entreprise"]["denomination"], search["nom_complet"]}
    assert names == {company.name}
    assert {n["commercant"] for n in notices} == {company.name}
    assert sirene["periodesUniteLegale"][0]["categorieJuridiqueUniteLegale"] == rne["formality"]["formeJuridique"] \
        == search["nature_juridique"]
    assert sirene["periodesUniteLegale"][0]["etatAdministratifUniteLegale"] == search["etat_administratif"]
    rne_people = sorted(p["individu"]["descriptionPersonne"]["nom"] for p in _pm(rne)["composition"]["pouvoirs"]
                        if p["typeDePersonne"] == "INDIVIDU")
    search_people = sorted(d["nom"] for d in search["dirigeants"] if d["type_dirigeant"] == "personne physique")
    assert rne_people == search_people == sorted(o.person.last_name for o in company.officers if o.person)
    assert ("collective" in {n["familleavis"] for n in notices}) == (company.proceeding is not None)


# -- lists -------------------------------------------------------------------------------------------


def test_lists_served_with_etag_and_versions(emulator, dataset):
    url = emulator.urls["ofac"] + "/api/PublicationPreview/exports/SDN.CSV"
    first = get(url)
    assert first.status == 200
    assert first.body == lists.ofac_csv(dataset)["sdn.csv"]
    assert get(url, {"If-None-Match": first.headers["etag"]}).status == 304
    v2 = get(url, version=2)
    assert v2.body == lists.ofac_csv(dataset, 2)["sdn.csv"] != first.body
    call("POST", emulator.urls["admin"] + "/lists", payload={"version": 2})
    try:
        assert get(url).body == v2.body
        assert get(url, {"If-None-Match": first.headers["etag"]}).status == 200
    finally:
        call("POST", emulator.urls["admin"] + "/lists", payload={"version": 1})
    assert get(emulator.urls["ofac"] + "/api/PublicationPreview/exports/ALT.CSV").body.endswith(b"\x1a")
    assert get(emulator.urls["un"] + "/resources/xml/en/consolidated.xml").body == lists.un_xml(dataset)
    eu = emulator.urls["eu"] + "/fsd/fsf/public/files/xmlFullSanctionsList_1_1/content"
    assert get(eu, token=lists.EU_TOKEN).body == lists.eu_xml(dataset)
    assert get(eu).status == 403


def test_admin_health_config_and_stats(emulator, dataset):
    health = get(emulator.urls["admin"] + "/health").json()
    assert health["companies"] == dataset.size and health["status"] == "ok"
    config = get(emulator.urls["admin"] + "/config").json()
    assert config["base_urls"]["sirene"] == emulator.urls["sirene"]
    get(f"{emulator.urls['sirene']}/siren/{dataset.siren(1)}")
    get(f"{emulator.urls['sirene']}/siren/{dataset.siren(1)}", SIRENE_KEY)
    stats = get(emulator.urls["admin"] + "/stats").json()
    assert stats["sirene"] == {"requests": 2, "by_status": {"401": 1, "200": 1}}
    assert "rne" not in stats


def test_route_counts_hold_the_answers_handlers_gave_not_the_faults():
    with start_emulator_in_thread(config=EmulatorConfig(companies=50, seed=1)) as emu:
        url = f"{emu.urls['sirene']}/siren/{emu.state.dataset.siren(2)}"
        assert [get(url, SIRENE_KEY).status for _ in range(2)] == [200, 200]
        outage = urllib.request.Request(f"{emu.root}/_admin/faults", method="POST", headers={"Content-Type": "application/json"},
                                        data=json.dumps({"source": "sirene", "outage": "503"}).encode())
        urllib.request.urlopen(outage).close()
        assert get(url, SIRENE_KEY).status == 503
        routes = json.loads(urllib.request.urlopen(f"{emu.root}/_admin/stats?by=route").read())
        # The outage answered before any handler: per route, only what the register itself answered (and bills).
        assert routes == {"GET /sirene/siren/{siren}": {"200": 2}}
        assert emu.state.stats.snapshot()["sirene"]["by_status"] == {"200": 2, "503": 1}
        urllib.request.urlopen(urllib.request.Request(f"{emu.root}/_admin/stats", method="DELETE")).close()
        assert json.loads(urllib.request.urlopen(f"{emu.root}/_admin/stats?by=route").read()) == {}
