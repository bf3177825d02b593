"""OFAC's CSV trio (sdn/add/alt + comments) and legacy `sdnList` XML, including facts hidden in Remarks."""

from __future__ import annotations

import csv
import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from kyc_core.errors import UserError
from kyc_core.lists.fields import (
    clean,
    country_value,
    identifier_kind,
    parse_birth_date,
    split_identifier_label,
)
from kyc_core.lists.model import (
    Address,
    BirthDate,
    Identifier,
    Name,
    PackedEntries,
    ParsedList,
    SanctionsEntry,
)
from kyc_core.lists.xmlstream import child, items, stream, text

# OFAC ends every CSV of the trio with a lone SUB byte; a primary file without it was cut short.
_EOF_MARKER = b"\x1a"
_SDN_COLUMNS = 12
_TYPES = {"individual": "person", "vessel": "vessel", "aircraft": "aircraft", "entity": "organization"}


@dataclass(slots=True)
class RemarkFacts:
    """What OFAC's Remarks text says beyond the structured columns."""

    birth_dates: list[BirthDate] = field(default_factory=list)
    places_of_birth: list[str] = field(default_factory=list)
    nationalities: list[str] = field(default_factory=list)
    citizenships: list[str] = field(default_factory=list)
    countries: list[str] = field(default_factory=list)
    identifiers: list[Identifier] = field(default_factory=list)
    weak_aliases: list[Name] = field(default_factory=list)
    gender: str | None = None


_ALIAS_PREFIXES = {"a.k.a.": "aka", "f.k.a.": "fka", "n.k.a.": "nka"}
_COUNTRY_SUFFIX = re.compile(r"^(?P<number>.*?)\s*\((?P<country>[^()]*)\)(?P<tail>.*)$")


def split_remarks(remarks: str) -> list[str]:
    """Split Remarks into its `; `-separated statements, without the closing full stop."""
    parts = [p.strip() for p in re.split(r";\s+", remarks.strip())]
    if parts:
        parts[-1] = parts[-1].rstrip(".").strip()
    return [p for p in parts if p]


def parse_remarks(remarks: str | None) -> RemarkFacts:
    """Extract DOBs, places of birth, nationalities, documents, weak aliases and gender from Remarks."""
    facts = RemarkFacts()
    if not remarks:
        return facts
    for statement in split_remarks(remarks):
        body = statement[5:] if statement.startswith("alt. ") else statement
        _apply_statement(facts, body.strip())
    return facts


def _apply_statement(facts: RemarkFacts, body: str) -> None:
    lowered = body.lower()
    for prefix, kind in _ALIAS_PREFIXES.items():
        if lowered.startswith(prefix + " "):
            alias = _unquote(body[len(prefix) + 1 :])
            if alias:
                facts.weak_aliases.append(Name(full=alias, quality="weak", kind=kind))
            return
    if lowered.startswith("dob "):
        facts.birth_dates.append(parse_birth_date(body[4:]))
    elif lowered.startswith("pob "):
        facts.places_of_birth.append(body[4:].strip())
    elif lowered.startswith("nationality of registration "):
        if value := country_value(body[28:]):
            facts.countries.append(value)
    elif lowered.startswith("nationality "):
        if value := country_value(body[12:]):
            facts.nationalities.append(value)
    elif lowered.startswith("citizen "):
        if value := country_value(body[8:]):
            facts.citizenships.append(value)
    elif lowered.startswith("gender "):
        facts.gender = body[7:].strip().lower() or None
    elif ident := remark_identifier(body):
        facts.identifiers.append(ident)


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == "'" and value[-1] == "'":
        value = value[1:-1]
    return " ".join(value.split())


def remark_identifier(statement: str) -> Identifier | None:
    """`Passport 1084010 (Egypt) issued ...` -> Identifier(passport, 1084010, EG); None when not a document."""
    split = split_identifier_label(statement)
    if split is None:
        return None
    label, rest = split
    kind = identifier_kind(label)
    country = None
    if m := _COUNTRY_SUFFIX.match(rest):
        rest, country = m.group("number"), country_value(m.group("country"))
    else:
        rest = re.split(r"\s+(?:issued|expires)\s", rest, maxsplit=1)[0]
    number = rest.strip()
    if kind == "imo" and number.upper().startswith("IMO "):
        number = number[4:].strip()
    if not number:
        return None
    return Identifier(kind=kind, number=number, country=country, label=label)


def ofac_entry_type(value: str | None) -> str:
    """OFAC's SDN type (`individual`, `vessel`, `aircraft`, empty for entities) as an entry type."""
    return _TYPES.get((clean(value) or "entity").lower(), "organization")


def split_programmes(value: str | None) -> list[str]:
    """`IRAN] [SDGT` -> ["IRAN", "SDGT"]: OFAC joins several programmes inside one cell."""
    raw = clean(value)
    if not raw:
        return []
    return [p.strip(" []") for p in raw.split("] [") if p.strip(" []")]


def split_person_name(full: str) -> tuple[str | None, str | None]:
    """OFAC writes individuals as `LAST, First`: return (first, last)."""
    if "," in full:
        last, first = full.split(",", 1)
        return first.strip() or None, last.strip() or None
    return None, full


# --- CSV trio ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CsvTrio:
    """The files of one OFAC CSV publication (only the primary file is mandatory)."""

    primary: Path
    addresses: Path | None = None
    aliases: Path | None = None
    comments: Path | None = None

    @property
    def list_key(self) -> str:
        """`cons_prim.csv` is the consolidated (non-SDN) list; anything else is the SDN list."""
        return "ofac_cons" if self.primary.name.lower().startswith("cons") else "ofac_sdn"


def trio_beside(primary: Path) -> CsvTrio:
    """Find add/alt/comments files next to a primary CSV (`sdn.csv` or `cons_prim.csv`), any case."""
    by_name = {p.name.lower(): p for p in primary.parent.iterdir() if p.is_file()}
    prefix = "cons_" if primary.name.lower().startswith("cons") else ""
    comments = "cons_comments.csv" if prefix else "sdn_comments.csv"
    return CsvTrio(
        primary=primary,
        addresses=by_name.get(f"{prefix}add.csv"),
        aliases=by_name.get(f"{prefix}alt.csv"),
        comments=by_name.get(comments),
    )


def _encoding(path: Path) -> str:
    """UTF-8, or Windows-1252 for older OFAC files; decided in chunks so the file never sits in memory."""
    import codecs

    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return "cp1252"
    except OSError as exc:
        raise UserError(f"{path.name}: cannot read ({exc.strerror or exc})") from None
    return "utf-8"


def _ends_with_eof_marker(path: Path) -> bool:
    with path.open("rb") as handle:
        handle.seek(0, 2)
        handle.seek(max(0, handle.tell() - 64))
        return handle.read().rstrip(b"\r\n ").endswith(_EOF_MARKER)


#: No line of a real OFAC CSV comes near this; a longer one is garbage and is not read into memory.
_MAX_LINE = 1 << 20


def _lines(handle, name: str) -> Iterator[str]:
    # The SUB byte closing the file is not data; anywhere else it is left to the CSV reader.
    for line in iter(lambda: handle.readline(_MAX_LINE), ""):
        if len(line) >= _MAX_LINE and not line.endswith("\n"):
            raise UserError(f"{name}: a line is longer than {_MAX_LINE // 1024} KB: file corrupted")
        stripped = line.rstrip("\r\n ")
        if stripped.endswith("\x1a"):
            line = stripped.rstrip("\x1a") + "\n"
        yield line


def _rows(path: Path, width: int, *, require_eof_marker: bool) -> Iterator[list[str]]:
    """The rows of one CSV of the trio, read as a stream (memory stays flat whatever the file size)."""
    try:
        if require_eof_marker and not _ends_with_eof_marker(path):
            raise UserError(f"{path.name}: no end-of-file marker (0x1A): the download is truncated")
        encoding = _encoding(path)
        handle = path.open(encoding=encoding, errors="replace", newline="")
    except OSError as exc:
        raise UserError(f"{path.name}: cannot read ({exc.strerror or exc})") from None
    with handle:
        try:
            for line_no, row in enumerate(csv.reader(_lines(handle, path.name), strict=True), 1):
                if not row or all(not cell.strip() for cell in row):
                    continue
                if len(row) != width:
                    raise UserError(
                        f"{path.name}: line {line_no} has {len(row)} columns, expected {width}: file corrupted"
                    )
                yield row
        except csv.Error as exc:
            raise UserError(f"{path.name}: CSV is truncated or corrupted ({exc})") from None


def parse_csv_trio(trio: CsvTrio) -> ParsedList:
    """Parse an OFAC CSV publication; every alias, address and remark continuation is joined by ent_num."""
    primary = _rows(trio.primary, _SDN_COLUMNS, require_eof_marker=True)
    # The primary file is checked for its end marker before the others are read.
    first = next(primary, None)
    if first is None:
        raise UserError(f"{trio.primary.name}: no entries")
    continuations: dict[str, str] = {}
    if trio.comments:
        for row in _rows(trio.comments, 2, require_eof_marker=False):
            continuations[row[0].strip()] = continuations.get(row[0].strip(), "") + row[1]
    aliases: dict[str, str] = {}
    if trio.aliases:
        for row in _rows(trio.aliases, 5, require_eof_marker=False):
            if name := clean(row[3]):
                _add_record(aliases, row[0].strip(), (clean(row[2]) or "aka", name))
    addresses: dict[str, str] = {}
    if trio.addresses:
        for row in _rows(trio.addresses, 6, require_eof_marker=False):
            street, city, country = clean(row[2]), clean(row[3]), country_value(clean(row[4]))
            if street or city or country:
                _add_record(addresses, row[0].strip(), (street or "", city or "", country or ""))
    entries = PackedEntries()
    seen: set[str] = set()
    for row in itertools.chain((first,), primary):
        ent_num = row[0].strip()
        if not ent_num.isdigit():
            raise UserError(f"{trio.primary.name}: ent_num {ent_num[:20]!r} is not a number: file corrupted")
        if ent_num in seen:
            raise UserError(f"{trio.primary.name}: ent_num {ent_num} appears twice: file corrupted")
        seen.add(ent_num)
        entries.append(_csv_entry(trio.list_key, row, continuations, aliases, addresses))
    return ParsedList(
        list_key=trio.list_key, source_format="ofac_csv", entries=entries, source_uri=str(trio.primary)
    )


# Alias and address rows wait for their primary row as one string per ent_num (rows joined by RS, fields
# by US), not as objects, and are dropped once used: the join costs about what the side files weigh. Both
# separators are whitespace to `clean`, so no cleaned value holds one.
_RECORD_SEP, _FIELD_SEP = "\x1e", "\x1f"


def _add_record(table: dict[str, str], ent_num: str, fields: tuple[str, ...]) -> None:
    record = _FIELD_SEP.join(fields)
    table[ent_num] = table[ent_num] + _RECORD_SEP + record if ent_num in table else record


def _take_records(table: dict[str, str], ent_num: str) -> list[list[str]]:
    joined = table.pop(ent_num, None)
    return [record.split(_FIELD_SEP) for record in joined.split(_RECORD_SEP)] if joined else []


def _csv_entry(
    list_key: str,
    row: list[str],
    continuations: dict[str, str],
    aliases: dict[str, str],
    addresses: dict[str, str],
) -> SanctionsEntry:
    ent_num = row[0].strip()
    entry_type = ofac_entry_type(row[2])
    primary_name = clean(row[1]) or ""
    first, last = split_person_name(primary_name) if entry_type == "person" else (None, None)
    remarks_raw = row[11] if clean(row[11]) else ""
    remarks = " ".join((remarks_raw + continuations.pop(ent_num, "")).split())
    facts = parse_remarks(remarks)
    names = [Name(full=primary_name, first=first, last=last)]
    for alias_type, alias in _take_records(aliases, ent_num):
        a_first, a_last = split_person_name(alias) if entry_type == "person" else (None, None)
        kind = alias_type.lower().replace(".", "")
        names.append(Name(full=alias, quality="strong", kind=kind, first=a_first, last=a_last))
    names.extend(facts.weak_aliases)
    identifiers = list(facts.identifiers)
    if call_sign := clean(row[5]):
        identifiers.append(Identifier(kind="call_sign", number=call_sign, label="Call Sign"))
    countries = [c for c in (country_value(clean(row[9])), *facts.countries) if c]
    return SanctionsEntry(
        list_key=list_key,
        native_id=ent_num,
        entry_type=entry_type,
        names=tuple(dedupe_names(names)),
        birth_dates=tuple(facts.birth_dates),
        places_of_birth=tuple(facts.places_of_birth),
        nationalities=tuple(dict.fromkeys(facts.nationalities)),
        citizenships=tuple(dict.fromkeys(facts.citizenships)),
        countries=tuple(dict.fromkeys(countries)),
        addresses=tuple(
            Address(street=street or None, city=city or None, country=country or None)
            for street, city, country in _take_records(addresses, ent_num)
        ),
        identifiers=tuple(identifiers),
        programmes=tuple(split_programmes(row[3])),
        remarks=remarks,
        gender=facts.gender,
    )


def dedupe_names(names: list[Name]) -> list[Name]:
    """Drop blank names and repeats of an already published spelling (case-insensitive)."""
    seen: set[tuple[str, str]] = set()
    out = []
    for name in names:
        key = (name.full.casefold(), name.kind if name.kind == "primary" else "alias")
        if name.full and key not in seen:
            seen.add(key)
            out.append(name)
    return out


# --- legacy sdnList XML -----------------------------------------------------------------------------------


def legacy_list_key(path: Path) -> str:
    """SDN.XML and CONSOLIDATED.XML share one schema; only the file name tells them apart."""
    lowered = path.name.lower()
    return "ofac_cons" if ("cons" in lowered or "non_sdn" in lowered or "nonsdn" in lowered) else "ofac_sdn"


def parse_legacy_xml(path: Path, list_key: str | None = None) -> ParsedList:
    """Parse OFAC's `sdnList` XML (SDN.XML / CONSOLIDATED.XML), any namespace vintage."""
    key = list_key or legacy_list_key(path)
    entries = PackedEntries()
    published_at: datetime | None = None
    declared: int | None = None
    for name, element in stream(path, ("publshInformation", "sdnEntry"), root="sdnList"):
        if name == "publshInformation":
            published_at = _us_date(text(element, "Publish_Date"))
            count = text(element, "Record_Count")
            declared = int(count) if count and count.isdigit() else None
        else:
            entries.append(_legacy_entry(key, element))
    if not entries:
        raise UserError(f"{path.name}: no sdnEntry records")
    if declared is not None and declared != len(entries):
        raise UserError(
            f"{path.name}: header declares {declared} records but {len(entries)} were read: file corrupted"
        )
    return ParsedList(
        list_key=key,
        source_format="ofac_legacy_xml",
        entries=entries,
        published_at=published_at,
        source_uri=str(path),
    )


def _us_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.strptime(value, "%m/%d/%Y").replace(tzinfo=UTC)
    except ValueError:
        return None


def _legacy_entry(list_key: str, el) -> SanctionsEntry:
    uid = text(el, "uid") or ""
    entry_type = ofac_entry_type(text(el, "sdnType"))
    first, last = text(el, "firstName"), text(el, "lastName")
    names = [Name(full=_join_name(first, last), first=first, last=last)]
    for aka in items(el, "akaList", "aka"):
        a_first, a_last = text(aka, "firstName"), text(aka, "lastName")
        full = _join_name(a_first, a_last)
        if full:
            kind = (text(aka, "type") or "a.k.a.").lower().replace(".", "")
            quality = "weak" if (text(aka, "category") or "").lower() == "weak" else "strong"
            names.append(Name(full=full, quality=quality, kind=kind, first=a_first, last=a_last))
    birth_dates = [
        parse_birth_date(v)
        for item in items(el, "dateOfBirthList", "dateOfBirthItem")
        if (v := text(item, "dateOfBirth"))
    ]
    places = [
        v for item in items(el, "placeOfBirthList", "placeOfBirthItem") if (v := text(item, "placeOfBirth"))
    ]
    nationalities = [
        v
        for item in items(el, "nationalityList", "nationality")
        if (v := country_value(text(item, "country")))
    ]
    citizenships = [
        v
        for item in items(el, "citizenshipList", "citizenship")
        if (v := country_value(text(item, "country")))
    ]
    addresses = []
    for item in items(el, "addressList", "address"):
        street = ", ".join(v for k in ("address1", "address2", "address3") if (v := text(item, k)))
        address = Address(
            street=street or None,
            city=text(item, "city"),
            region=text(item, "stateOrProvince"),
            postal_code=text(item, "postalCode"),
            country=country_value(text(item, "country")),
        )
        if any((address.street, address.city, address.region, address.postal_code, address.country)):
            addresses.append(address)
    identifiers = []
    countries: list[str] = []
    gender: str | None = None
    for item in items(el, "idList", "id"):
        label, number = text(item, "idType") or "", text(item, "idNumber")
        if not number:
            continue
        # OFAC files the registration country and the gender in idList; they are not documents.
        if label.lower().startswith("nationality of registration"):
            if code := country_value(number):
                countries.append(code)
            continue
        if label.lower() == "gender":
            gender = number.lower()
            continue
        if number:
            kind = identifier_kind(label)
            if kind == "imo" and number.upper().startswith("IMO "):
                number = number[4:].strip()
            identifiers.append(
                Identifier(
                    kind=kind,
                    number=number,
                    country=country_value(text(item, "idCountry")),
                    label=label or None,
                )
            )
    vessel = child(el, "vesselInfo")
    if vessel is not None:
        if call_sign := text(vessel, "callSign"):
            identifiers.append(Identifier(kind="call_sign", number=call_sign, label="Call Sign"))
        if flag := country_value(text(vessel, "vesselFlag")):
            countries.append(flag)
    programmes = [v for item in items(el, "programList", "program") if (v := text(item))]
    remarks = text(el, "remarks") or ""
    facts = parse_remarks(remarks)
    names.extend(facts.weak_aliases)
    return SanctionsEntry(
        list_key=list_key,
        native_id=uid,
        entry_type=entry_type,
        names=tuple(dedupe_names(names)),
        birth_dates=tuple(birth_dates or facts.birth_dates),
        places_of_birth=tuple(places or facts.places_of_birth),
        nationalities=tuple(dict.fromkeys(nationalities or facts.nationalities)),
        citizenships=tuple(dict.fromkeys(citizenships or facts.citizenships)),
        countries=tuple(countries),
        addresses=tuple(addresses),
        identifiers=tuple(identifiers or facts.identifiers),
        programmes=tuple(programmes),
        remarks=remarks,
        gender=gender or facts.gender,
    )


def _join_name(first: str | None, last: str | None) -> str:
    """Legacy XML splits names; rebuild OFAC's `LAST, First` for persons, the bare name otherwise."""
    if first and last:
        return f"{last}, {first}"
    return last or first or ""
