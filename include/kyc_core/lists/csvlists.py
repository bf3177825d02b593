"""Lists published as CSV with a header: the US Consolidated Screening List and a firm's internal list."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

from kyc_core.errors import UserError
from kyc_core.lists.fields import clean, country_value, identifier_kind, parse_birth_date
from kyc_core.lists.model import Address, Identifier, Name, PackedEntries, ParsedList, SanctionsEntry
from kyc_core.lists.ofac import dedupe_names, split_person_name

#: First columns of trade.gov's consolidated.csv header.
CSL_HEADER = ("_id", "source", "entity_number", "type", "programs", "name")
_CSL_TYPES = {"individual": "person", "entity": "organization", "vessel": "vessel", "aircraft": "aircraft"}
_INTERNAL_TYPES = {
    "person": "person",
    "individual": "person",
    "organization": "organization",
    "organisation": "organization",
    "company": "organization",
    "entity": "organization",
    "vessel": "vessel",
    "aircraft": "aircraft",
    "": "unknown",
}


def _rows(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle, strict=True)
            reader.fieldnames = [h.strip().lower() for h in reader.fieldnames or []]
            for line, row in enumerate(reader, start=2):
                if None in row:
                    raise UserError(
                        f"{path.name}: line {line} has more columns than the header: file corrupted"
                    )
                yield line, row
    except csv.Error as exc:
        raise UserError(f"{path.name}: CSV is truncated or corrupted ({exc})") from None
    except UnicodeDecodeError:
        raise UserError(f"{path.name}: not UTF-8 text") from None


def _split(value: str | None, sep: str = ";") -> list[str]:
    return [v for part in (value or "").split(sep) if (v := clean(part))]


# --- US Consolidated Screening List -------------------------------------------------------------------------


def _csl_identifier(item: str) -> Identifier | None:
    # trade.gov flattens each document as "CC, [issued, expires,] NUMBER, Label".
    parts = [p.strip() for p in item.split(", ")]
    if len(parts) < 2:
        return None
    label, number = parts[-1], parts[-2]
    country = parts[0] if len(parts) >= 3 and len(parts[0]) == 2 and parts[0].isupper() else None
    kind = identifier_kind(label)
    if kind == "imo" and number.upper().startswith("IMO "):
        number = number[4:].strip()
    return Identifier(kind=kind, number=number, country=country, label=label or None)


def _csl_address(item: str) -> Address:
    parts = [p.strip() for p in item.split(", ") if p.strip()]
    country = country_value(parts[-1]) if parts and len(parts[-1]) == 2 else None
    street = ", ".join(parts[:-1] if country else parts) or None
    return Address(street=street, country=country)


def parse_us_csl(path: Path) -> ParsedList:
    """Parse trade.gov's consolidated.csv; a party on several US lists is one entry with every source."""
    # Every row is packed as it is read, its source in `reference`; a party's rows are merged at the end.
    rows = PackedEntries()
    first: dict[str, int] = {}
    later: dict[str, list[int]] = {}
    for line, row in _rows(path):
        native_id = clean(row.get("_id"))
        if not native_id:
            raise UserError(f"{path.name}: line {line} has no _id: file corrupted")
        if native_id in first:
            later.setdefault(native_id, []).append(len(rows))
        else:
            first[native_id] = len(rows)
        rows.append(_csl_entry(native_id, row))
    if not first:
        raise UserError(f"{path.name}: no rows")
    entries = PackedEntries(
        _csl_party([rows[i] for i in (position, *later.get(native_id, ()))])
        for native_id, position in first.items()
    )
    return ParsedList(list_key="us_csl", source_format="us_csl_csv", entries=entries, source_uri=str(path))


def _csl_party(rows: list[SanctionsEntry]) -> SanctionsEntry:
    """One party from its rows (one per US list it is on), `reference` naming every source."""
    if len(rows) == 1:
        return rows[0]
    party = rows[0]
    for other in rows[1:]:
        party = _merge(party, other)
    sources = "; ".join(dict.fromkeys(row.reference for row in rows if row.reference))
    return SanctionsEntry(**{**_fields(party), "reference": sources or None})


def _fields(entry: SanctionsEntry) -> dict:
    return {name: getattr(entry, name) for name in SanctionsEntry.__slots__}


def _merge(first: SanctionsEntry, other: SanctionsEntry) -> SanctionsEntry:
    values = _fields(first)
    for name in (
        "names",
        "birth_dates",
        "places_of_birth",
        "nationalities",
        "citizenships",
        "countries",
        "addresses",
        "identifiers",
        "programmes",
    ):
        values[name] = tuple(dict.fromkeys(getattr(first, name) + getattr(other, name)))
    values["names"] = tuple(dedupe_names(list(values["names"])))
    return SanctionsEntry(**values)


def _csl_entry(native_id: str, row: dict[str, str]) -> SanctionsEntry:
    entry_type = _CSL_TYPES.get((clean(row.get("type")) or "").lower(), "unknown")
    primary = clean(row.get("name")) or ""
    first, last = split_person_name(primary) if entry_type == "person" else (None, None)
    names = [Name(full=primary, first=first, last=last)]
    names += [Name(full=alias, kind="aka") for alias in _split(row.get("alt_names"))]
    identifiers, gender = [], None
    for item in _split(row.get("ids")):
        ident = _csl_identifier(item)
        if ident is None:
            continue
        if (ident.label or "").lower() == "gender":
            gender = ident.number.lower()
        else:
            identifiers.append(ident)
    if call_sign := clean(row.get("call_sign")):
        identifiers.append(Identifier(kind="call_sign", number=call_sign, label="Call Sign"))
    return SanctionsEntry(
        list_key="us_csl",
        native_id=native_id,
        entry_type=entry_type,
        names=tuple(dedupe_names(names)),
        birth_dates=tuple(parse_birth_date(d) for d in _split(row.get("dates_of_birth"))),
        places_of_birth=tuple(_split(row.get("places_of_birth"))),
        nationalities=tuple(c for v in _split(row.get("nationalities")) if (c := country_value(v))),
        citizenships=tuple(c for v in _split(row.get("citizenships")) if (c := country_value(v))),
        countries=tuple(c for v in (clean(row.get("vessel_flag")),) if (c := country_value(v))),
        addresses=tuple(_csl_address(a) for a in _split(row.get("addresses"))),
        identifiers=tuple(identifiers),
        programmes=tuple(_split(row.get("programs"))),
        listed_on=clean(row.get("start_date")),
        remarks=clean(row.get("remarks")) or "",
        gender=gender,
        reference=clean(row.get("source")),
    )


# --- internal list -------------------------------------------------------------------------------------------

#: Columns of a firm's own list; only id and name are required, multi-valued cells are `;`-separated.
INTERNAL_COLUMNS = (
    "id",
    "name",
    "type",
    "aliases",
    "dob",
    "country",
    "identifiers",
    "programme",
    "listed_on",
    "remarks",
)


def parse_internal_csv(path: Path) -> ParsedList:
    """Parse a firm's internal watch list (header with at least id,name)."""
    entries = PackedEntries()
    for line, row in _rows(path):
        if "id" not in row or "name" not in row:
            raise UserError(f"{path.name}: header lacks id and name columns")
        native_id, name = clean(row.get("id")), clean(row.get("name"))
        if not native_id or not name:
            raise UserError(f"{path.name}: line {line} needs both id and name")
        type_text = (clean(row.get("type")) or "").lower()
        if type_text not in _INTERNAL_TYPES:
            raise UserError(
                f"{path.name}: line {line} type {type_text!r} is not person, organization, vessel or aircraft"
            )
        dates = [parse_birth_date(d) for d in _split(row.get("dob"))]
        if any(d.year is None for d in dates):
            raise UserError(
                f"{path.name}: line {line} has a birth date that is not YYYY, YYYY-MM or YYYY-MM-DD"
            )
        entries.append(
            SanctionsEntry(
                list_key="internal",
                native_id=native_id,
                entry_type=_INTERNAL_TYPES[type_text],
                names=tuple(
                    dedupe_names(
                        [Name(full=name)] + [Name(full=a, kind="aka") for a in _split(row.get("aliases"))]
                    )
                ),
                birth_dates=tuple(dates),
                nationalities=tuple(c for v in _split(row.get("country")) if (c := country_value(v))),
                identifiers=tuple(Identifier(kind="other", number=v) for v in _split(row.get("identifiers"))),
                programmes=tuple(_split(row.get("programme"))),
                listed_on=clean(row.get("listed_on")),
                remarks=clean(row.get("remarks")) or "",
            )
        )
    if not entries:
        raise UserError(f"{path.name}: no rows")
    return ParsedList(
        list_key="internal", source_format="internal_csv", entries=entries, source_uri=str(path)
    )
