"""Parsed entries are kept packed: what comes back out is exactly what went in, hashes and counts included."""

from __future__ import annotations

from pathlib import Path

import pytest
from kyc_core.lists.detect import parse_path
from kyc_core.lists.model import (
    Address,
    BirthDate,
    Identifier,
    Name,
    PackedEntries,
    ParsedList,
    SanctionsEntry,
    content_digest,
    primary_name_of,
)


def _entry(n: int) -> SanctionsEntry:
    names = (
        ()
        if n % 97 == 5
        else (
            Name(full=f"DOE {n}, Jane", first="Jane", last=f"DOE {n}"),
            Name(full=f"Жанна {n}\nالاسم", quality="weak", kind="aka", lang="Cyrillic"),
        )
    )
    return SanctionsEntry(
        list_key="un_sc",
        native_id=f"QDi.{n}",
        entry_type=("person", "organization", "vessel")[n % 3],
        names=names,
        birth_dates=(BirthDate(text="circa 1970", year=1970, precision="year", approximate=bool(n % 2)),),
        places_of_birth=("Kaboul",) if n % 4 else (),
        nationalities=("AF",),
        addresses=(Address(street="1 rue \u2028X", country="FR"),) if n % 5 else (),
        identifiers=tuple(Identifier(kind="passport", number=f"P{n}-{i}", country="AF") for i in range(n % 3)),
        programmes=("SDGT", "IRGC"),
        listed_on="2001-09-11",
        remarks='line one\r\nline "two"\t\x00end' if n % 7 == 0 else "",
        gender="female" if n % 2 else None,
        reference=f"REF.{n}" if n % 3 else None,
    )


def _counts(entries: list[SanctionsEntry]) -> dict:
    by_type: dict[str, int] = {}
    for entry in entries:
        by_type[entry.entry_type] = by_type.get(entry.entry_type, 0) + 1
    return {
        "entries": len(entries),
        "by_type": dict(sorted(by_type.items())),
        "names": sum(len(e.names) for e in entries),
        "aliases": sum(1 for e in entries for n in e.names if n.kind != "primary"),
        "birth_dates": sum(len(e.birth_dates) for e in entries),
        "identifiers": sum(len(e.identifiers) for e in entries),
    }


@pytest.mark.parametrize("count", [0, 1, 255, 256, 257, 700])
def test_packed_entries_give_back_exactly_what_was_appended(count: int) -> None:
    entries = [_entry(n) for n in range(count)]
    packed = PackedEntries(iter(entries))
    assert len(packed) == count
    assert list(packed) == entries
    assert [e.native_id for e in packed] == list(packed.native_ids) == [e.native_id for e in entries]
    assert [SanctionsEntry.from_dict(d) for d in packed.dicts()] == entries
    assert packed.entry_hashes() == {e.native_id: e.entry_hash() for e in entries}
    assert packed.counts() == _counts(entries)
    assert packed.unnamed_ids == [e.native_id for e in entries if not e.names]
    for position in {0, 255, 256, count // 2, count - 1} & set(range(count)):
        assert packed[position] == entries[position]
        assert packed[position - count] == entries[position]
        assert packed.entry_hash(position) == entries[position].entry_hash() == content_digest(entries[position].to_dict())
    assert packed[250:260] == entries[250:260]
    assert packed[::-97] == entries[::-97]
    with pytest.raises(IndexError):
        packed[count]
    with pytest.raises(IndexError):
        packed[-count - 1]


def test_a_parsed_list_packs_whatever_entries_it_is_given() -> None:
    entries = [_entry(n) for n in range(300)]
    parsed = ParsedList(list_key="un_sc", source_format="un_xml", entries=entries, warnings=["QDi.5: no name"])
    assert isinstance(parsed.entries, PackedEntries)
    assert list(parsed.entries) == entries
    assert parsed.counts() == {**_counts(entries), "warnings": 1}
    first, *_ = parsed.entries
    assert primary_name_of(first.to_dict()) == first.primary_name == "DOE 0, Jane"
    assert primary_name_of(_entry(5).to_dict()) == _entry(5).primary_name == ""


@pytest.mark.parametrize(
    "sample", ["un/UN_consolidated.xml", "ofac/consolidated_csv", "ofac/advanced_xml/cons_advanced.xml"]
)
def test_real_lists_keep_hashes_and_counts_of_what_reads_back(shared_data: Path, sample: str) -> None:
    parsed = parse_path(shared_data / "real" / sample)
    entries = list(parsed.entries)
    assert parsed.entries.entry_hashes() == {e.native_id: e.entry_hash() for e in entries}
    assert parsed.counts() == {**_counts(entries), "warnings": len(parsed.warnings)}
    assert [primary_name_of(d) for d in parsed.entries.dicts()] == [e.primary_name for e in entries]
