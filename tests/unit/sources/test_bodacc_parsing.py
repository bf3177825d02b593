"""BODACC parsers: the real v1 recording, and v2.1-shaped records built from it."""

from __future__ import annotations

import json
from datetime import date

import pytest
from kyc_core.errors import MalformedResponse
from kyc_core.sources.bodacc import (
    collective_kind,
    effective_notices,
    fix_mojibake,
    judgment_date,
    parse_notice,
    parse_notices,
    previous_notice_id,
)
from kyc_core.sources.models import BodaccKind, BodaccNoticeType
from sources_testkit import real_json


def v21_record(shared_data, index: int = 0, **overrides) -> dict:
    """A flat v2.1 record: a real v1 `fields` object with `registre` as the v2.1 array."""
    fields = dict(real_json(shared_data, "fr_bodacc/bodacc.json")["records"][index]["fields"])
    fields["registre"] = [s.strip() for s in fields["registre"].split(",")]
    fields.update(overrides)
    return fields


def judgment(nature: str, day: str = "2023-01-10") -> str:
    """A `jugement` field as Opendatasoft serves it: JSON serialised into a string."""
    return json.dumps({"type": "initial", "famille": "Jugement d'ouverture", "nature": nature, "date": day})


def test_real_recording_decodes_kinds_dates_and_nested_json(shared_data):
    notices, total = parse_notices(real_json(shared_data, "fr_bodacc/bodacc.json"))
    assert total == 3
    assert [n.id for n in notices] == ["B20220227446", "C202200902528", "C202101554392"]
    striking_off, accounts, _ = notices
    assert striking_off.kind is BodaccKind.STRIKING_OFF
    assert striking_off.family_label == "Radiations"
    assert striking_off.publication_date == date(2022, 11, 23)
    assert striking_off.bulletin == "B"
    assert striking_off.notice_type is BodaccNoticeType.INITIAL
    assert striking_off.sirens == ("880878145",)
    person = striking_off.decoded["listepersonnes"]["personne"]
    assert person["denomination"] == "Ganymède"
    assert person["numeroImmatriculation"]["numeroIdentification"] == "880 878 145"
    assert person["adresseSiegeSocial"]["codePostal"] == "75008"
    assert accounts.kind is BodaccKind.ACCOUNTS_FILING
    assert accounts.decoded["depot"]["dateCloture"] == "2021-12-31"
    assert accounts.decoded["depot"]["typeDepot"] == "Comptes annuels et rapports"


def test_v21_envelope_and_array_registre(shared_data):
    payload = {"total_count": 1, "results": [v21_record(shared_data)]}
    notices, total = parse_notices(payload)
    assert total == 1
    assert notices[0].sirens == ("880878145",)
    assert notices[0].url.endswith("id:B20220227446")


@pytest.mark.parametrize(
    ("nature", "kind"),
    [
        ("Jugement d'ouverture d'une procédure de sauvegarde", BodaccKind.SAFEGUARD),
        ("Jugement d'ouverture d'une procédure de redressement judiciaire", BodaccKind.RECEIVERSHIP),
        ("Jugement arrêtant le plan de redressement", BodaccKind.RECEIVERSHIP),
        ("Jugement d'ouverture de liquidation judiciaire", BodaccKind.LIQUIDATION),
        (
            "Jugement prononçant la résolution du plan de sauvegarde et la liquidation judiciaire",
            BodaccKind.LIQUIDATION,
        ),
        ("Jugement d'extension de procédure", BodaccKind.COLLECTIVE_OTHER),
    ],
)
def test_collective_proceeding_kind_comes_from_the_decoded_judgment(shared_data, nature, kind):
    fields = v21_record(
        shared_data,
        familleavis="collective",
        familleavis_lib="Procédures collectives",
        publicationavis="A",
        jugement=judgment(nature),
    )
    notice = parse_notice(fields)
    assert notice.kind is kind
    assert notice.kind.is_collective_proceeding
    assert notice.judgment_nature == nature
    assert notice.judgment_date == date(2023, 1, 10)


@pytest.mark.parametrize(
    ("family", "kind"),
    [
        ("vente", BodaccKind.SALE),
        ("modification", BodaccKind.MODIFICATION),
        ("creation", BodaccKind.REGISTRATION),
        ("immatriculation", BodaccKind.REGISTRATION),
        ("inconnue", BodaccKind.OTHER),
    ],
)
def test_family_codes_map_to_kinds(shared_data, family, kind):
    assert parse_notice(v21_record(shared_data, familleavis=family, familleavis_lib=None)).kind is kind


def test_striking_off_is_not_a_collective_proceeding():
    assert not BodaccKind.STRIKING_OFF.is_collective_proceeding
    assert collective_kind(None) is BodaccKind.COLLECTIVE_OTHER


def test_rectification_and_cancellation_point_at_the_original(shared_data):
    original = parse_notice(v21_record(shared_data, 0))
    previous = json.dumps(
        {
            "nomPublication": "BODACC B",
            "numeroParution": "20220227",
            "dateParution": "2022-11-23",
            "numeroAnnonce": "446",
        }
    )
    rectified = parse_notice(
        v21_record(
            shared_data,
            0,
            id="B20220230101",
            typeavis="rectificatif",
            typeavis_lib="Avis rectificatif",
            parutionavisprecedent=previous,
        )
    )
    assert rectified.notice_type is BodaccNoticeType.RECTIFICATION
    assert rectified.is_correction
    assert rectified.corrects_notice_id == original.id == "B20220227446"
    assert effective_notices([original, rectified]) == [rectified]
    cancelled = parse_notice(
        v21_record(
            shared_data,
            0,
            id="B20220230102",
            typeavis="annulation",
            typeavis_lib="Avis d'annulation",
            parutionavisprecedent=previous,
        )
    )
    assert cancelled.notice_type is BodaccNoticeType.CANCELLATION
    others = [parse_notice(v21_record(shared_data, 1))]
    assert effective_notices([original, cancelled, *others]) == others


def test_previous_notice_without_bulletin_letter_uses_the_correction_bulletin():
    reference = {"nomPublication": "BODACC", "numeroParution": "20200157", "numeroAnnonce": 2195}
    assert previous_notice_id(reference, "B") == "B202001572195"
    assert previous_notice_id(reference) is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2024-07-24", date(2024, 7, 24)),
        ("27/11/2008", date(2008, 11, 27)),
        ("27 novembre 2008", date(2008, 11, 27)),
        ("1er janvier 2020", date(2020, 1, 1)),
        ("27\xa0novembre\xa02008", date(2008, 11, 27)),
        ("31/02/2020", None),
        ("not a date", None),
        (None, None),
    ],
)
def test_judgment_dates_in_every_bodacc_shape(raw, expected):
    assert judgment_date(raw) == expected


def test_generic_judgment_names_the_proceeding_in_its_complement(shared_data):
    fields = v21_record(
        shared_data,
        familleavis="collective",
        jugement=json.dumps(
            {
                "nature": "Autre jugement prononÃ§ant",
                "complementJugement": "l'ouverture d'une procédure de liquidation judiciaire",
                "date": "15/01/2024",
            }
        ),
    )
    notice = parse_notice(fields)
    assert notice.kind is BodaccKind.LIQUIDATION
    assert notice.judgment_nature == "Autre jugement prononçant"
    assert notice.judgment_date == date(2024, 1, 15)
    assert fix_mojibake("Jugement de clÃ´ture") == "Jugement de clôture"
    assert fix_mojibake("Jugement de clôture") == "Jugement de clôture"


def test_previous_notice_reference_needs_all_parts():
    assert previous_notice_id(
        {"nomPublication": "BODACC A", "numeroParution": "20230012", "numeroAnnonce": "7"}
    ) == ("A202300127")
    assert previous_notice_id({"nomPublication": "BODACC A", "numeroParution": "20230012"}) is None
    assert previous_notice_id(None) is None


def test_undecodable_json_text_is_kept_verbatim(shared_data):
    notice = parse_notice(v21_record(shared_data, 1, depot='{"dateCloture": "2021-'))
    assert notice.decoded["depot"] == '{"dateCloture": "2021-'
    assert notice.kind is BodaccKind.ACCOUNTS_FILING


def test_answer_without_records_is_malformed():
    with pytest.raises(MalformedResponse):
        parse_notices({"error": "boom"})
    with pytest.raises(MalformedResponse):
        parse_notice({"familleavis": "radiation"})
