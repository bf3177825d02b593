"""Remarks extraction, date shapes, country names, identifier kinds, entry hashing, format detection."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from kyc_core.errors import UserError
from kyc_core.lists.active import birth_date_text, to_listed_party
from kyc_core.lists.detect import detect, parse_path
from kyc_core.lists.fields import country_code, parse_birth_date
from kyc_core.lists.model import Name, SanctionsEntry
from kyc_core.lists.ofac import parse_remarks, split_programmes


def test_remarks_facts() -> None:
    facts = parse_remarks(
        "DOB 06 Jun 1956; alt. DOB circa 1958; POB Beirut, Lebanon; nationality Lebanon; citizen Korea, North; "
        "Passport A123 (Egypt) issued 01 Jan 2001; SWIFT/BIC HAVIGB2L; Vessel Registration Identification IMO 7406784; "
        "Digital Currency Address - ETH 0xabc; Gender Female; a.k.a. 'YUSUF, Adnan'; Linked To: HIZBALLAH."
    )
    assert [(d.year, d.month, d.day, d.approximate) for d in facts.birth_dates] == [
        (1956, 6, 6, False),
        (1958, None, None, True),
    ]
    assert facts.places_of_birth == ["Beirut, Lebanon"]
    assert facts.nationalities == ["LB"] and facts.citizenships == ["KP"]
    assert [(i.kind, i.number, i.country) for i in facts.identifiers] == [
        ("passport", "A123", "EG"),
        ("bic", "HAVIGB2L", None),
        ("imo", "7406784", None),
        ("crypto", "0xabc", None),
    ]
    assert facts.gender == "female"
    assert facts.weak_aliases == [Name(full="YUSUF, Adnan", quality="weak", kind="aka")]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1962", (1962, None, None, "year", None)),
        ("Jun 1956", (1956, 6, None, "month", None)),
        ("06 Jun 1956", (1956, 6, 6, "day", None)),
        ("1952-10-07", (1952, 10, 7, "day", None)),
        ("14/03/1968", (1968, 3, 14, "day", None)),
        ("1960 to 1962", (1960, None, None, "range", 1962)),
        ("01 Jan 1960 to 31 Dec 1962", (1960, None, None, "range", 1962)),
        ("unknown", (None, None, None, "unknown", None)),
    ],
)
def test_birth_date_shapes(text: str, expected: tuple) -> None:
    parsed = parse_birth_date(text)
    assert (parsed.year, parsed.month, parsed.day, parsed.precision, parsed.year_to) == expected


def test_birth_date_bounds_and_engine_form() -> None:
    month = parse_birth_date("Feb 1964")
    assert (month.earliest, month.latest) == (date(1964, 2, 1), date(1964, 2, 29))
    assert birth_date_text(month) == "1964-02"
    assert birth_date_text(parse_birth_date("1960 to 1962")) == "1960..1962"
    assert birth_date_text(parse_birth_date("circa 1960")) == "1959..1961"
    assert birth_date_text(parse_birth_date("06 Jun 1956")) == "1956-06-06"


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Russia", "RU"),
        ("Korea, North", "KP"),
        ("Burma", "MM"),
        ("Palestinian", "PS"),
        ("IRAQ", "IQ"),
        ("Democratic Republic of the Congo", "CD"),
        ("Côte d'Ivoire", "CI"),
        ("fr", "FR"),
        ("00", None),
        ("Atlantis", None),
    ],
)
def test_country_codes(text: str, code: str | None) -> None:
    assert country_code(text) == code


def test_programmes_split_on_ofac_separator() -> None:
    assert split_programmes("IRAN] [SDGT] [IRGC] [IFSR") == ["IRAN", "SDGT", "IRGC", "IFSR"]
    assert split_programmes("-0- ") == []


def _entry(**changes) -> SanctionsEntry:
    base = dict(
        list_key="un_sc",
        native_id="1",
        entry_type="person",
        names=(Name(full="John Doe"), Name(full="JD", quality="weak", kind="aka")),
    )
    base.update(changes)
    return SanctionsEntry(**base)


def test_entry_hash_changes_with_content_only() -> None:
    entry = _entry()
    assert entry.entry_hash() == _entry().entry_hash()
    assert entry.entry_hash() != _entry(programmes=("DRC",)).entry_hash()
    assert SanctionsEntry.from_dict(entry.to_dict()) == entry


def test_listed_party_leaves_weak_aliases_out() -> None:
    party = to_listed_party(_entry(nationalities=("CD", "Atlantis"), birth_dates=(parse_birth_date("1971"),)))
    assert party.names == ("John Doe",)
    assert party.countries == ("CD",) and party.birth_dates == ("1971",)
    assert to_listed_party(_entry(), include_weak=True).names == ("John Doe", "JD")


def test_detect_rejects_empty_lfs_and_unknown(tmp_path: Path) -> None:
    empty = tmp_path / "sdn.csv"
    empty.write_bytes(b"")
    with pytest.raises(UserError, match="empty"):
        detect(empty)
    pointer = tmp_path / "SDN_ADVANCED.XML"
    pointer.write_text("version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 118000000\n")
    with pytest.raises(UserError, match="Git LFS pointer"):
        detect(pointer)
    other = tmp_path / "list.xml"
    other.write_text("<?xml version='1.0'?><catalog><item/></catalog>")
    with pytest.raises(UserError, match="unknown XML list format"):
        detect(other)
    (tmp_path / "dir").mkdir()
    with pytest.raises(UserError, match="no OFAC sdn.csv"):
        detect(tmp_path / "dir")


def test_truncated_xml_raises_instead_of_partial_list(shared_data: Path, tmp_path: Path) -> None:
    data = (shared_data / "real/un/UN_consolidated.xml").read_bytes()
    cut = tmp_path / "UN_consolidated.xml"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(UserError, match="truncated or corrupted"):
        parse_path(cut)


def test_truncated_ofac_csv_raises(shared_data: Path, tmp_path: Path) -> None:
    data = (shared_data / "real/ofac/sdn.csv").read_bytes()
    lines = data.split(b"\r\n")
    (tmp_path / "sdn.csv").write_bytes(b"\r\n".join(lines[:5000]) + b"\r\n")
    with pytest.raises(UserError, match="end-of-file marker"):
        parse_path(tmp_path / "sdn.csv")
    (tmp_path / "sdn.csv").write_bytes(data[:1000] + b"\x1a")
    with pytest.raises(UserError, match="sdn.csv"):
        parse_path(tmp_path / "sdn.csv")


def test_legacy_record_count_mismatch_is_corruption(shared_data: Path, tmp_path: Path) -> None:
    text = (shared_data / "real/ofac/legacy_xml/ofac_non_sdn.xml").read_text(encoding="utf-8")
    broken = tmp_path / "consolidated.xml"
    broken.write_text(
        text.replace("<Record_Count>445</Record_Count>", "<Record_Count>446</Record_Count>"), encoding="utf-8"
    )
    with pytest.raises(UserError, match="declares 446 records but 445"):
        parse_path(broken)


def test_internal_list_csv(tmp_path: Path) -> None:
    path = tmp_path / "watch.csv"
    path.write_text(
        "id,name,type,aliases,dob,country,identifiers,programme,notes\n"
        "W-1,Jean Dupont,person,J. Dupont;Jean Dupond,1970-05;1971,FR,AB123456,fraud,ignored\n"
        "W-2,Acme Trading SARL,company,,,be,,,\n",
        encoding="utf-8",
    )
    assert detect(path) == "internal_csv"
    parsed = parse_path(path)
    assert parsed.list_key == "internal"
    first, second = parsed.entries
    assert [n.full for n in first.names] == ["Jean Dupont", "J. Dupont", "Jean Dupond"]
    assert [(b.year, b.month) for b in first.birth_dates] == [(1970, 5), (1971, None)]
    assert first.nationalities == ("FR",) and first.identifiers[0].number == "AB123456"
    assert (second.entry_type, second.nationalities) == ("organization", ("BE",))
    path.write_text("id,name,type\nW-1,X,robot\n", encoding="utf-8")
    with pytest.raises(UserError, match="line 2 type 'robot'"):
        parse_path(path)


def test_remarks_registration_country_and_year_span() -> None:
    facts = parse_remarks("Nationality of Registration Korea, North; DOB circa 1979-1982; nationality The Gambia")
    assert facts.countries == ["KP"] and facts.nationalities == ["GM"]
    dob = facts.birth_dates[0]
    assert (dob.year, dob.year_to, dob.precision, dob.approximate) == (1979, 1982, "range", True)
