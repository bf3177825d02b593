"""Each register event read from real recorded answers (../shared/data/real): BODACC v1 records, INSEE Sirene
units and establishment pages, INPI RNE company records; a change is the real answer against the same answer
at an earlier date (Sirene periods) or with one realistic edit (an officer resigning, an owner leaving)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from kyc_core.policy import load_policy
from kyc_core.sources.bodacc import parse_notices
from kyc_core.watch.changes import compare, country_code, rne_view, sirene_view
from kyc_core.watch.events import EventKind, notice_events

GANYMEDE = "880878145"


def _load(shared: Path, relative: str):
    data = json.loads((shared / "real" / relative).read_text(encoding="utf-8"))
    return data["response"] if isinstance(data, dict) and "response" in data else data


def _as_of(unit: dict, index: int) -> dict:
    """The `/siren` answer as INSEE gave it when period `index` was current (the `date=` parameter)."""
    earlier = copy.deepcopy(unit)
    periods = earlier["uniteLegale"]["periodesUniteLegale"][index:]
    periods[0]["dateFin"] = None
    earlier["uniteLegale"]["periodesUniteLegale"] = periods
    return earlier


def _sensitive() -> set[str]:
    return set(load_policy("cgp").activities.codes)


def test_bodacc_striking_off_notice_of_a_monitored_company(shared_data):
    notices, total = parse_notices(_load(shared_data, "fr_bodacc/bodacc.json"))
    assert total == 3 and len(notices) == 3
    [event] = notice_events(notices, {GANYMEDE})
    assert (event.kind, event.evidence_key, event.notice_id, event.source) == (
        EventKind.STRIKING_OFF, "B20220227446", "B20220227446", "bodacc")
    assert event.event_date.isoformat() == "2022-11-23" and event.severe
    # Accounts filings (`dpc`) are not watched; a company outside the book raises nothing.
    assert notice_events(notices, {"356000000"}) == []


def test_bodacc_collective_proceedings_and_sales_from_real_records(shared_data):
    payload = _load(shared_data, "fr_bodacc/bodacc.json")
    record = next(r for r in payload["records"] if r["fields"]["familleavis"] == "radiation")
    kinds = {}
    for family, label, nature, notice_id in (
        ("collective", "Procédures collectives", "Jugement d'ouverture de liquidation judiciaire", "A1"),
        ("collective", "Procédures collectives", "Jugement d'ouverture d'une procédure de redressement judiciaire", "A2"),
        ("collective", "Procédures collectives", "Jugement d'ouverture d'une procédure de sauvegarde", "A3"),
        ("vente", "Ventes et cessions", None, "A4"),
    ):
        fields = dict(record["fields"], id=notice_id, familleavis=family, familleavis_lib=label)
        fields.pop("radiationaurcs", None)
        if nature:
            fields["jugement"] = json.dumps({"famille": "Jugement d'ouverture", "nature": nature, "date": "2022-11-20"})
        [event] = notice_events(parse_notices({"records": [{"fields": fields}]})[0], {GANYMEDE})
        kinds[notice_id] = (event.kind, event.severe)
    assert kinds == {"A1": (EventKind.LIQUIDATION, True), "A2": (EventKind.RECEIVERSHIP, False),
                     "A3": (EventKind.SAFEGUARD, False), "A4": (EventKind.SALE, False)}


def test_bodacc_cancelled_notice_raises_nothing(shared_data):
    payload = _load(shared_data, "fr_bodacc/bodacc.json")
    record = next(r for r in payload["records"] if r["fields"]["familleavis"] == "radiation")["fields"]
    cancellation = dict(record, id="B20220230001", typeavis="annulation", typeavis_lib="Avis d'annulation",
                        parutionavisprecedent=json.dumps({"nomPublication": "BODACC B", "numeroParution": "20220227",
                                                          "numeroAnnonce": "446"}))
    notices, _total = parse_notices({"records": [{"fields": record}, {"fields": cancellation}]})
    assert notice_events(notices, {GANYMEDE}) == []


@pytest.mark.parametrize("name", ["ganymede", "raphael", "red-needles"])
def test_sirene_cessation_from_real_periods(shared_data, name):
    unit = _load(shared_data, f"fr_insee/siren/{name}.json")
    before, after = sirene_view(_as_of(unit, 1)), sirene_view(unit)
    assert (before.status, after.status) == ("active", "ceased")
    [change] = compare(before, after, _sensitive())
    assert change.kind is EventKind.CEASED and change.detail == {"from": "active", "to": "ceased"}
    assert compare(after, after, _sensitive()) == []


def test_sirene_naf_change_is_an_event_only_into_a_sensitive_activity(shared_data):
    # Solution Energie moved from 43.22B (plumbing) to 71.12B (engineering) in 2021: not a sensitive activity.
    unit = _load(shared_data, "fr_insee/siren/solution-energie.json")
    before, after = sirene_view(_as_of(unit, 1)), sirene_view(unit)
    assert (before.naf, after.naf) == ("43.22B", "71.12B")
    assert "71.12B" not in _sensitive() and compare(before, after, _sensitive()) == []
    [change] = compare(before, after, _sensitive() | {"71.12B"})
    assert change.kind is EventKind.NAF_SENSITIVE and change.detail == {"from": "43.22B", "to": "71.12B"}


def test_sirene_head_office_moved_abroad(shared_data):
    unit = _load(shared_data, "fr_insee/siren/ganymede.json")
    page = _load(shared_data, "fr_insee/siret-by-siren/ganymede.json")
    moved = copy.deepcopy(page)
    head = next(e for e in moved["etablissements"] if e["etablissementSiege"])
    head["adresseEtablissement"].update({"codePostalEtablissement": None, "codeCommuneEtablissement": None,
                                         "libelleCommuneEtablissement": None,
                                         "libelleCommuneEtrangerEtablissement": "1000 BRUXELLES",
                                         "codePaysEtrangerEtablissement": "99131",
                                         "libellePaysEtrangerEtablissement": "BELGIQUE"})
    before, after = sirene_view(unit, page), sirene_view(unit, moved)
    assert (before.office_country, after.office_country) == ("FR", "BE")
    [change] = compare(before, after, _sensitive())
    assert change.kind is EventKind.OFFICE_ABROAD and change.detail == {"from": "FR", "to": "BE"}


def test_rne_same_company_through_three_routes_shows_no_change(shared_data):
    base = "fr_inpi/kanta/SearchCompanies/"
    views = [rne_view(_load(shared_data, base + "searchOldStateBySiren.json")),
             rne_view(_load(shared_data, base + "searchByNationalDepositNumber.json")),
             rne_view(_load(shared_data, base + "searchByMultipleSiren.json")[0])]
    assert len(views[0].officers or {}) == 3 and len(views[0].owners or {}) == 2
    assert all(compare(views[0], other, _sensitive()) == [] for other in views[1:])


def test_rne_officers_and_owners_in_and_out(shared_data):
    record = _load(shared_data, "fr_inpi/kanta/SearchCompanies/searchByNationalDepositNumber.json")
    other = _load(shared_data, "fr_inpi/neolegal/company.json")
    after = copy.deepcopy(record)
    block = after["formality"]["content"]["personneMorale"]
    block["composition"]["pouvoirs"][0]["actif"] = False  # an officer resigns
    block["composition"]["pouvoirs"].append(other["formality"]["content"]["personneMorale"]["composition"]["pouvoirs"][0])
    gone_owner = block["beneficiairesEffectifs"].pop()  # an owner leaves
    block["beneficiairesEffectifs"].append(other["formality"]["content"]["personneMorale"]["beneficiairesEffectifs"][0])
    changes = {c.kind: c for c in compare(rne_view(record), rne_view(after), _sensitive())}
    assert set(changes) == {EventKind.OFFICER_IN, EventKind.OFFICER_OUT, EventKind.OWNER_IN, EventKind.OWNER_OUT}
    assert [r for r, _ in changes[EventKind.OFFICER_IN].persons] == ["officer"]
    assert [p.names for _, p in changes[EventKind.OWNER_IN].persons] == [("Bruno ALVES",)]
    assert len(changes[EventKind.OFFICER_OUT].detail["subject_keys"]) == 1
    assert gone_owner["beneficiaire"]["descriptionPersonne"]["nom"]
    assert all(k.startswith(("officer:", "owner:")) for c in changes.values() for k in c.detail["subject_keys"])


def test_rne_owners_not_visible_are_never_read_as_left(shared_data):
    record = _load(shared_data, "fr_inpi/kanta/SearchCompanies/searchByNationalDepositNumber.json")
    hidden = copy.deepcopy(record)
    del hidden["formality"]["content"]["personneMorale"]["beneficiairesEffectifs"]
    assert rne_view(hidden).owners is None
    assert compare(rne_view(record), rne_view(hidden), _sensitive()) == []


def test_rne_registered_office_moved_abroad(shared_data):
    record = _load(shared_data, "fr_inpi/neolegal/company.json")
    after = copy.deepcopy(record)
    after["formality"]["content"]["personneMorale"]["adresseEntreprise"]["adresse"].update(
        {"pays": "LUXEMBOURG", "codePays": "LUX", "codePostal": "L-1150", "commune": "Luxembourg"})
    [change] = compare(rne_view(record), rne_view(after), _sensitive())
    assert change.kind is EventKind.OFFICE_ABROAD and change.detail == {"from": "FR", "to": "LU"}


def test_country_labels_as_registers_publish_them():
    assert [country_code(v) for v in ("BELGIQUE", "ROYAUME-UNI", "EMIRATS ARABES UNIS", "FRA", "BEL", "FRANCE")] == [
        "BE", "GB", "AE", "FR", "BE", "FR"]
    assert country_code("99131") is None and country_code(None) is None
