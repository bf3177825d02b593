"""Every list parser against the real published files: exact counts and specific records."""

from __future__ import annotations

from pathlib import Path

import pytest
from kyc_core.lists.detect import detect, parse_path
from kyc_core.lists.model import SanctionsEntry


def _by_id(entries: list[SanctionsEntry]) -> dict[str, SanctionsEntry]:
    return {e.native_id: e for e in entries}


@pytest.fixture(scope="module")
def real(shared_data: Path) -> Path:
    return shared_data / "real"


@pytest.fixture(scope="module")
def ofac_2021(real: Path):
    return parse_path(real / "ofac")


def test_ofac_csv_trio_2021_counts(ofac_2021) -> None:
    assert ofac_2021.list_key == "ofac_sdn"
    assert ofac_2021.source_format == "ofac_csv"
    assert len(ofac_2021.entries) == 8976
    counts = ofac_2021.counts()
    assert counts["by_type"] == {"aircraft": 277, "organization": 3673, "person": 4620, "vessel": 406}
    strong_aliases = sum(
        1 for e in ofac_2021.entries for n in e.names if n.kind != "primary" and n.quality == "strong"
    )
    # alt.csv has 11,910 rows; two of them repeat an alias of the same entry word for word (ent_num 8407, 16448).
    assert strong_aliases == 11_908
    assert [n.full for n in _by_id(ofac_2021.entries)["8407"].names].count(
        "AMIN ABU SHANAB AND SONS CO."
    ) == 1


def test_ofac_csv_joins_aliases_addresses_and_weak_akas(ofac_2021) -> None:
    bank = _by_id(ofac_2021.entries)["306"]
    assert bank.primary_name == "BANCO NACIONAL DE CUBA"
    assert bank.entry_type == "organization"
    assert bank.programmes == ("CUBA",)
    assert [(n.full, n.quality) for n in bank.names[1:]] == [
        ("NATIONAL BANK OF CUBA", "strong"),
        ("BNC", "weak"),
    ]
    assert [a.country for a in bank.addresses] == ["CH", "ES", "JP", "PA"]
    assert bank.addresses[0].street == "Zweierstrasse 35"


def test_ofac_csv_extracts_facts_from_remarks(ofac_2021) -> None:
    zawahiri = _by_id(ofac_2021.entries)["2676"]
    assert zawahiri.entry_type == "person"
    assert zawahiri.names[0].last == "AL ZAWAHIRI"
    assert "SALIM, Ahmad Fuad" in [n.full for n in zawahiri.names]
    dob = zawahiri.birth_dates[0]
    assert (dob.year, dob.month, dob.day, dob.precision) == (1951, 6, 19, "day")
    assert zawahiri.places_of_birth == ("Giza, Egypt",)
    assert [(i.kind, i.number, i.country) for i in zawahiri.identifiers] == [
        ("passport", "1084010", "EG"),
        ("passport", "19820215", None),
    ]


def test_ofac_csv_crypto_vessel_and_multi_programme(ofac_2021) -> None:
    entries = _by_id(ofac_2021.entries)
    yan = entries["25308"]
    crypto = [i.number for i in yan.identifiers if i.kind == "crypto"]
    assert len(crypto) == 6 and crypto[0] == "12QtD5BFwRsdNsAZY76UVE1xyCGNTojH9h"
    assert yan.citizenships == ("CN",) and yan.gender == "male"
    hermann = entries["4234"]
    assert hermann.entry_type == "vessel" and hermann.countries == ("CU",)
    assert [(i.kind, i.number) for i in hermann.identifiers] == [("call_sign", "CL2685")]
    multi = [e for e in ofac_2021.entries if len(e.programmes) > 1]
    assert all("]" not in p and "[" not in p for e in multi for p in e.programmes)
    assert _by_id(ofac_2021.entries)["13106"].programmes == ("SDGT", "IRGC", "IFSR")


def test_ofac_comment_continuation_is_appended(ofac_2021) -> None:
    entry = _by_id(ofac_2021.entries)["28264"]
    assert entry.remarks.endswith("Linked To: LAZARUS GROUP.")
    assert ("national_id", "210302198701102136", "CN") in [
        (i.kind, i.number, i.country) for i in entry.identifiers
    ]


def test_ofac_history_files_without_alt_and_add(real: Path) -> None:
    assert len(parse_path(real / "ofac/history/2024-05-01").entries) == 14966
    assert len(parse_path(real / "ofac/history/2024-05-02/sdn.csv").entries) == 14973


def test_ofac_consolidated_csv_is_the_cons_list(real: Path) -> None:
    parsed = parse_path(real / "ofac/consolidated_csv")
    assert parsed.list_key == "ofac_cons"
    assert len(parsed.entries) == 442
    assert _by_id(parsed.entries)["9639"].names[0].full == "HANIYA, Ismail Abdul Salah"


def test_ofac_legacy_xml(real: Path) -> None:
    path = real / "ofac/legacy_xml/ofac_non_sdn.xml"
    assert detect(path) == "ofac_legacy_xml"
    parsed = parse_path(path)
    assert parsed.list_key == "ofac_cons"
    assert len(parsed.entries) == 445
    assert parsed.published_at is not None and parsed.published_at.date().isoformat() == "2023-03-08"
    haniya = _by_id(parsed.entries)["9639"]
    assert [n.full for n in haniya.names] == [
        "HANIYA, Ismail Abdul Salah",
        "HANIYA, Ismail",
        "HANIYYA, Ismaeel",
    ]
    assert (haniya.birth_dates[0].year, haniya.birth_dates[0].precision) == (1962, "year")
    assert haniya.places_of_birth == ("Shati",)
    assert haniya.programmes == ("NS-PLC",)


def test_ofac_enhanced_xml(real: Path) -> None:
    parsed = parse_path(real / "ofac/CONS_ENHANCED.XML")
    assert parsed.source_format == "ofac_enhanced_xml"
    assert parsed.list_key == "ofac_cons"
    assert len(parsed.entries) == 443
    assert parsed.counts()["by_type"] == {"organization": 363, "person": 80}
    haniya = _by_id(parsed.entries)["9639"]
    assert haniya.primary_name == "HANIYA, Ismail Abdul Salah"
    assert haniya.listed_on == "2006-04-12"
    assert (haniya.birth_dates[0].year, haniya.birth_dates[0].precision) == (1962, "year")
    assert haniya.programmes == ("NS-PLC",)
    identifiers = sum(len(e.identifiers) for e in parsed.entries if e.identifiers)
    assert identifiers > 692  # every identityDocument plus the identifying features


def test_ofac_advanced_xml(real: Path) -> None:
    parsed = parse_path(real / "ofac/advanced_xml/cons_advanced.xml")
    assert parsed.source_format == "ofac_advanced_xml"
    assert len(parsed.entries) == 375
    assert parsed.published_at is not None and parsed.published_at.date().isoformat() == "2020-03-17"
    entries = _by_id(parsed.entries)
    haniya = entries["9639"]
    assert [n.full for n in haniya.names] == [
        "HANIYA, Ismail Abdul Salah",
        "HANIYA, Ismail",
        "HANIYYA, Ismaeel",
    ]
    assert (haniya.birth_dates[0].year, haniya.birth_dates[0].precision) == (1962, "year")
    assert haniya.programmes == ("NS-PLC",)
    bektas = entries["17526"]
    assert bektas.citizenships == ("CH",)
    assert [(i.kind, i.number, i.country) for i in bektas.identifiers] == [("passport", "X0906223", "CH")]
    assert (bektas.birth_dates[0].year, bektas.birth_dates[0].month, bektas.birth_dates[0].day) == (
        1966,
        2,
        13,
    )


def test_un_consolidated(real: Path) -> None:
    parsed = parse_path(real / "un/UN_consolidated.xml")
    assert parsed.list_key == "un_sc"
    assert parsed.counts()["by_type"] == {"organization": 273, "person": 730}
    entries = _by_id(parsed.entries)
    mazidih = entries["2892251"]
    assert mazidih.reference == "QDi.276"
    assert mazidih.primary_name == "AKRAM TURKI HISHAN AL-MAZIDIH"
    assert ("Abu Jarrah", "weak") in [(n.full, n.quality) for n in mazidih.names]
    assert [b.year for b in mazidih.birth_dates] == [1974, 1975]
    taganda = entries["6908021"]
    assert (
        taganda.birth_dates[0].precision,
        taganda.birth_dates[0].year,
        taganda.birth_dates[0].year_to,
    ) == ("range", 1973, 1974)
    assert taganda.nationalities == ("CD",)
    adf = entries["6908402"]
    assert adf.entry_type == "organization"
    assert ("NALU", "fka") in [(n.full, n.kind) for n in adf.names]
    # Blank <INDIVIDUAL_ALIAS> elements are skipped, never stored as empty names.
    assert all(n.full for e in parsed.entries for n in e.names)


def test_eu_sample(real: Path) -> None:
    parsed = parse_path(real / "eu/eu_sample.xml")
    assert parsed.list_key == "eu_fsf"
    assert sorted(e.native_id for e in parsed.entries) == ["13", "191", "330", "980"]
    entries = _by_id(parsed.entries)
    saddam = entries["13"]
    assert saddam.primary_name == "Saddam Hussein Al-Tikriti"
    assert saddam.citizenships == ("IQ",) and saddam.programmes == ("IRQ",)
    assert saddam.birth_dates[0].text == "1937-04-28" and saddam.reference == "EU.27.28"
    ksm = entries["191"]
    assert ksm.primary_name == "Khalid Sheikh MOHAMMED"
    assert [(i.kind, i.number) for i in ksm.identifiers] == [("passport", "488555")]
    trust = entries["330"]
    assert trust.entry_type == "organization" and trust.listed_on == "2001-10-06"
    assert ("Организация за подпомагане на Ulema, Пакистан", "BG") in [(n.full, n.lang) for n in trust.names]


def test_same_party_same_facts_across_ofac_formats(real: Path) -> None:
    legacy = _by_id(parse_path(real / "ofac/legacy_xml/ofac_non_sdn.xml").entries)["9639"]
    enhanced = _by_id(parse_path(real / "ofac/CONS_ENHANCED.XML").entries)["9639"]
    advanced = _by_id(parse_path(real / "ofac/advanced_xml/cons_advanced.xml").entries)["9639"]
    assert legacy.names == enhanced.names == advanced.names
    assert legacy.programmes == enhanced.programmes == advanced.programmes


def test_uk_fcdo_sample(real: Path) -> None:
    parsed = parse_path(real / "uk/uk_sample.xml")
    assert parsed.list_key == "uk_fcdo"
    assert parsed.counts()["by_type"] == {"organization": 1, "person": 2, "vessel": 1}
    entries = _by_id(parsed.entries)
    mansur = entries["AFG0011"]
    assert mansur.primary_name == "ABDUL LATIF MANSUR"
    # "dd/mm/1968" keeps its year; the twice-published 12/11/1967 is stored once.
    assert [(b.year, b.month, b.day) for b in mansur.birth_dates] == [(1968, None, None), (1967, 11, 12)]
    assert [i.number for i in mansur.identifiers] == ["D0009720", "D0010442"]
    assert mansur.nationalities == ("AF",) and mansur.listed_on == "2001-01-31"
    assert ("Abu Akram", "weak") in [(n.full, n.quality) for n in entries["AQD0128"].names]
    assert entries["AQD0128"].identifiers[0].number == "0075258"
    ship = entries["DPR0075"]
    assert ship.entry_type == "vessel" and ship.countries == ("KM",)
    assert [(i.kind, i.number) for i in ship.identifiers] == [("imo", "9562233")]


def test_us_consolidated_screening_list(real: Path) -> None:
    parsed = parse_path(real / "us_csl/consolidated.csv")
    assert (parsed.list_key, parsed.source_format) == ("us_csl", "us_csl_csv")
    # 14,160 rows; 71 parties appear on several US lists (112 extra rows) and become one entry each.
    assert len(parsed.entries) == 14048
    assert parsed.counts()["by_type"] == {
        "aircraft": 283,
        "organization": 4423,
        "person": 5284,
        "unknown": 3625,
        "vessel": 433,
    }
    entries = _by_id(parsed.entries)
    arimero = entries["34616"]
    assert (
        arimero.reference
        == "Capta List (CAP) - Treasury Department; Specially Designated Nationals (SDN) - Treasury Department"
    )
    assert ("registration", "C146742", "CY") in [(i.kind, i.number, i.country) for i in arimero.identifiers]
    assert arimero.addresses[0].country == "CY"
    vessel = entries["26636"]
    assert vessel.entry_type == "vessel" and vessel.countries == ("VE",)
    assert [(i.kind, i.number) for i in vessel.identifiers] == [("imo", "9542518")]
    asadi = entries["26860"]
    assert asadi.programmes == ("IFSR", "IRGC", "SDGT")
    assert (asadi.birth_dates[0].year, asadi.birth_dates[0].month, asadi.birth_dates[0].day) == (1957, 10, 10)
