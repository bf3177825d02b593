"""Register events published on a running emulator through `/_admin/events`, read back in the real wire formats."""

from __future__ import annotations

import urllib.parse

import pytest
from emulator_http import SIRENE_KEY, call
from kyc_core.sources.bodacc import parse_notices
from kyc_core.sources.models import BodaccKind
from kyc_core.sources.rne import parse_record
from kyc_core.sources.sirene import parse_legal_unit, parse_siret_search

RECORDS = "/bodacc/api/explore/v2.1/catalog/datasets/annonces-commerciales/records"


@pytest.fixture(autouse=True)
def _no_leftover_events(emulator):
    yield
    call("DELETE", emulator.root + "/_admin/events")


def _publish(emulator, **event):
    return call("POST", emulator.root + "/_admin/events", payload=event)


def _notices(emulator, where: str):
    reply = call("GET", emulator.root + RECORDS + "?" + urllib.parse.urlencode(
        {"where": where, "order_by": "dateparution asc", "limit": 100}))
    assert reply.status == 200, reply.body
    return parse_notices(reply.json())[0]


def _rne(emulator, siren: str):
    login = call("POST", emulator.root + "/rne/api/sso/login",
                 payload={"username": "kyc@emulator.test", "password": "kyc-password"}).json()
    reply = call("GET", f"{emulator.root}/rne/api/companies/{siren}", headers={"Authorization": f"Bearer {login['token']}"})
    return parse_record(reply.json(), rbe_entitled=True)


def test_a_published_liquidation_joins_the_company_and_the_dated_feeds(emulator, dataset):
    siren = dataset.siren(6)
    done = _publish(emulator, event="bodacc", siren=siren, family="collective", proceeding="liquidation",
                    date="2026-12-08")
    assert done.status == 200 and done.json()["notice_id"].startswith("A")
    notice_id = done.json()["notice_id"]
    by_siren = _notices(emulator, f'registre like "{siren}"')
    assert [n.kind for n in by_siren if n.id == notice_id] == [BodaccKind.LIQUIDATION]
    batch = _notices(emulator, f'(registre like "{siren}" or registre like "{dataset.siren(7)}") and '
                               "dateparution >= date'2026-12-01' and (familleavis = \"collective\" or "
                               'familleavis = "radiation")')
    assert [(n.id, n.publication_date.isoformat(), n.sirens) for n in batch] == [(notice_id, "2026-12-08", (siren,))]
    assert [n.id for n in _notices(emulator, "dateparution >= date'2026-12-01'")] == [notice_id]
    assert call("GET", emulator.root + "/_admin/events").json()["events"][0]["notice_id"] == notice_id
    call("DELETE", emulator.root + "/_admin/events")
    assert _notices(emulator, "dateparution >= date'2026-12-01'") == []


def test_register_changes_are_served_by_sirene_and_the_rne(emulator, dataset):
    siren = dataset.siren(12)
    before = _rne(emulator, siren)
    for event in ({"event": "officer_in", "listed": True}, {"event": "owner_out"}, {"event": "cessation"},
                  {"event": "naf_change", "naf": "66.19B"}, {"event": "office_abroad", "country": "CH"}):
        assert _publish(emulator, siren=siren, **event).status == 200
    after = _rne(emulator, siren)
    assert len(after.officers) == len(before.officers) + 1
    assert len(after.beneficial_owners.owners) == len(before.beneficial_owners.owners) - 1
    listed = dataset.known_positives()[0]
    assert after.company.head_office.address.country_code == "CHE" and listed
    unit = parse_legal_unit(call("GET", f"{emulator.root}/sirene/siren/{siren}", headers=SIRENE_KEY).json())
    assert (unit.status.value, unit.naf_code) == ("ceased", "66.19B")
    page = call("GET", f"{emulator.root}/sirene/siret?q=siren:{siren}", headers=SIRENE_KEY).json()
    head = next(e for e in parse_siret_search(page)[0] if e.is_head_office)
    assert (head.address.country_code, head.address.country) == ("99140", "SUISSE")


@pytest.mark.parametrize("event, status", [
    ({"event": "bodacc", "siren": "123"}, 400),
    ({"event": "explode", "siren": "000000000"}, 400),
    ({"event": "owner_in", "siren": "SLOT5"}, 400),
])
def test_bad_events_are_refused_and_change_nothing(emulator, dataset, event, status):
    if event["siren"] == "SLOT5":
        event = {**event, "siren": dataset.siren(5)}  # beneficial owners not available for this company
    reply = _publish(emulator, **event)
    assert reply.status == status and "error" in reply.json()
    assert call("GET", emulator.root + "/_admin/events").json() == {"events": []}
