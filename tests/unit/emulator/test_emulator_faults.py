"""Every injected fault is what an HTTP client actually observes, and only on the source it was set for."""

from __future__ import annotations

import http.client
import json
import time

import pytest
from emulator_http import SIRENE_KEY, call, get


def _set(emulator, **spec):
    reply = call("POST", emulator.urls["admin"] + "/faults", payload=spec)
    assert reply.status == 200, reply.body
    return reply.json()


def _siren_url(emulator, dataset, index: int = 1) -> str:
    return f"{emulator.urls['sirene']}/siren/{dataset.siren(index)}"


def test_uniform_latency_delays_answers(emulator, dataset):
    _set(emulator, source="sirene", latency={"dist": "uniform", "min_ms": 300, "max_ms": 320})
    started = time.perf_counter()
    assert get(_siren_url(emulator, dataset), SIRENE_KEY).status == 200
    assert time.perf_counter() - started >= 0.3
    started = time.perf_counter()
    get(f"{emulator.urls['recherche']}/search", q=dataset.siren(1))
    assert time.perf_counter() - started < 0.25


def test_normal_latency_is_accepted_and_applied(emulator, dataset):
    _set(emulator, source="bodacc", latency={"dist": "normal", "mean_ms": 150, "sd_ms": 1})
    started = time.perf_counter()
    get(emulator.root + "/bodacc/api/explore/v2.1/catalog/datasets/annonces-commerciales/records",
        where=f'registre like "{dataset.siren(1)}"')
    assert time.perf_counter() - started >= 0.13


def test_error_rate_one_answers_5xx_in_the_source_style(emulator, dataset):
    _set(emulator, source="sirene", error_rate=1.0, error_status=502)
    reply = get(_siren_url(emulator, dataset), SIRENE_KEY)
    assert reply.status == 502
    assert reply.json()["header"]["statut"] == 502


def test_error_rate_half_fails_about_half_the_calls(emulator, dataset):
    _set(emulator, source="sirene", error_rate=0.5)
    statuses = [get(_siren_url(emulator, dataset), SIRENE_KEY).status for _ in range(60)]
    assert 15 <= statuses.count(500) <= 45
    assert statuses.count(500) + statuses.count(200) == 60


def test_burst_of_429_then_recovery(emulator, dataset):
    _set(emulator, source="sirene", burst_429=2, retry_after_s=7)
    replies = [get(_siren_url(emulator, dataset), SIRENE_KEY) for _ in range(3)]
    assert [r.status for r in replies] == [429, 429, 200]
    assert replies[0].headers["retry-after"] == "7"


def test_outage_503_is_an_html_gateway_page(emulator, dataset):
    _set(emulator, source="rne", outage="503")
    reply = call("POST", emulator.urls["rne"] + "/api/sso/login",
                 payload={"username": "kyc@emulator.test", "password": "kyc-password"})
    assert reply.status == 503
    assert reply.content_type.startswith("text/html")
    assert get(_siren_url(emulator, dataset), SIRENE_KEY).status == 200


def test_outage_reset_drops_the_connection(emulator, dataset):
    _set(emulator, source="sirene", outage="reset")
    with pytest.raises((ConnectionResetError, http.client.RemoteDisconnected)):
        get(_siren_url(emulator, dataset), SIRENE_KEY)
    assert emulator.state.stats.snapshot()["sirene"]["by_status"] == {"0": 1}


def test_timed_outage_ends_by_itself(emulator, dataset):
    _set(emulator, source="sirene", outage="503", outage_seconds=0.3)
    assert get(_siren_url(emulator, dataset), SIRENE_KEY).status == 503
    time.sleep(0.35)
    assert get(_siren_url(emulator, dataset), SIRENE_KEY).status == 200
    assert "outage" not in get(emulator.urls["admin"] + "/faults").json()["sirene"]


def test_slow_response_drips_a_complete_body(emulator, dataset):
    _set(emulator, source="sirene", slow_ms=300)
    started = time.perf_counter()
    reply = get(_siren_url(emulator, dataset), SIRENE_KEY)
    assert time.perf_counter() - started >= 0.25
    assert reply.json()["uniteLegale"]["siren"] == dataset.siren(1)


def test_truncated_body_is_short_json(emulator, dataset):
    whole = get(_siren_url(emulator, dataset), SIRENE_KEY).body
    _set(emulator, source="sirene", truncate_rate=1.0)
    reply = get(_siren_url(emulator, dataset), SIRENE_KEY)
    assert reply.status == 200
    assert len(reply.body) == len(whole) // 2
    with pytest.raises(json.JSONDecodeError):
        reply.json()


def test_truncated_connection_is_an_incomplete_read(emulator, dataset):
    _set(emulator, source="sirene", truncate_rate=1.0, truncate_mode="connection")
    with pytest.raises((http.client.IncompleteRead, ConnectionResetError)):
        get(_siren_url(emulator, dataset), SIRENE_KEY)


def test_malformed_json(emulator, dataset):
    _set(emulator, source="recherche", malformed_rate=1.0)
    reply = get(f"{emulator.urls['recherche']}/search", q=dataset.siren(1))
    assert reply.status == 200 and reply.content_type.startswith("application/json")
    with pytest.raises(json.JSONDecodeError):
        reply.json()


def test_html_page_instead_of_json(emulator, dataset):
    _set(emulator, source="sirene", html_rate=1.0)
    reply = get(_siren_url(emulator, dataset), SIRENE_KEY)
    assert reply.status == 200
    assert reply.content_type.startswith("text/html")
    assert reply.body.startswith(b"<!DOCTYPE html>")


def test_wrong_content_type_keeps_a_valid_body(emulator, dataset):
    _set(emulator, source="sirene", wrong_content_type_rate=1.0)
    reply = get(_siren_url(emulator, dataset), SIRENE_KEY)
    assert reply.content_type.startswith("text/plain")
    assert reply.json()["uniteLegale"]["siren"] == dataset.siren(1)


def test_list_download_faults(emulator, dataset):
    _set(emulator, source="ofac", truncate_rate=1.0)
    reply = get(emulator.urls["ofac"] + "/api/PublicationPreview/exports/SDN.CSV")
    assert reply.status == 200 and not reply.body.endswith(b"\x1a")


def test_faults_on_every_source_show_and_clear(emulator, dataset):
    _set(emulator, source="*", error_rate=1.0)
    shown = get(emulator.urls["admin"] + "/faults").json()
    assert set(shown) == {"sirene", "rne", "bodacc", "recherche", "ofac", "un", "eu"}
    assert get(f"{emulator.urls['recherche']}/search", q="x").status == 500
    call("DELETE", emulator.urls["admin"] + "/faults?source=recherche")
    assert "recherche" not in get(emulator.urls["admin"] + "/faults").json()
    assert get(f"{emulator.urls['recherche']}/search", q=dataset.siren(1)).status == 200
    assert get(_siren_url(emulator, dataset), SIRENE_KEY).status == 500
    call("DELETE", emulator.urls["admin"] + "/faults")
    assert get(emulator.urls["admin"] + "/faults").json() == {}
    assert get(_siren_url(emulator, dataset), SIRENE_KEY).status == 200


def test_bad_fault_specs_are_refused(emulator):
    assert call("POST", emulator.urls["admin"] + "/faults", payload={"source": "nope"}).status == 400
    assert call("POST", emulator.urls["admin"] + "/faults",
                payload={"source": "sirene", "error_rate": 2}).status == 400
    assert call("POST", emulator.urls["admin"] + "/faults",
                payload={"source": "sirene", "explode": True}).status == 400
    assert call("POST", emulator.urls["admin"] + "/faults",
                payload={"source": "sirene", "latency": {"min_ms": 10, "max_ms": 5}}).status == 400
    assert get(emulator.urls["admin"] + "/faults").json() == {}


def test_stats_count_every_request_that_arrived(emulator, dataset):
    _set(emulator, source="sirene", burst_429=1)
    for _ in range(3):
        get(_siren_url(emulator, dataset), SIRENE_KEY)
    get(_siren_url(emulator, dataset))
    stats = get(emulator.urls["admin"] + "/stats").json()
    assert stats["sirene"] == {"requests": 4, "by_status": {"429": 1, "200": 2, "401": 1}}
    call("DELETE", emulator.urls["admin"] + "/stats")
    assert get(emulator.urls["admin"] + "/stats").json() == {}
